"""Typed results of a search: one `TrialRecord` per trial and the `SearchResult` around them.

The search returns a `SearchResult`; the estimator keeps it (``search_result_``), and the
report and the command line read it. Trials travel through Optuna's storage as ``user_attrs``;
this module holds the one codec between the two (`TrialRecord.from_trial`,
`completed_attrs`, `failed_attrs`, `pruned_attrs`), so no other module knows the attribute
names.

Examples
--------
>>> from greenauto.results import TrialRecord, completed_attrs
>>> attrs = completed_attrs({"score": 0.9}, "DecisionTree(depth 3)", "operation-count model")
>>> sorted(attrs)
['description', 'energy_source', 'metrics']
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from greenauto.pareto import ParetoFront, ParetoPoint

__all__ = [
    "DatasetSummary",
    "HasSearchResult",
    "SearchCallback",
    "SearchProgress",
    "SearchResult",
    "SearchTotals",
    "TrialRecord",
    "completed_attrs",
    "failed_attrs",
    "machines_of",
    "pruned_attrs",
    "records_of",
    "spent_attrs",
    "student_attrs",
    "variant_attrs",
    "variant_parent",
    "worker_attrs",
]

# The user_attrs a trial carries (the codec's only spelling of them).
_METRICS, _DESCRIPTION, _SOURCE = "metrics", "description", "energy_source"
_ERROR, _TRACEBACK, _PRUNED = "error", "traceback", "pruned_because"
_WORKER, _SPENT = "worker", "trial_energy_j"
#: Optuna's system attribute naming the trial a heartbeat retry repeats
#: (``RetryHeartbeatStaleTrialCallback.retried_trial_number``).
_RETRY_OF = "failed_trial"
#: Why a trial failed when nothing recorded an error: its process stopped mid-trial.
WORKER_LOST = "its worker stopped before the trial finished (killed, crashed or interrupted)"
_VARIANT_OF = "variant_of"
_STUDENT_OF, _STUDENT_PARAMS, _TEACHER_PARAMS = "student_of", "student_params", "teacher_params"


def completed_attrs(
    metrics: Mapping[str, float], description: str, energy_source: str
) -> dict[str, Any]:
    """The ``user_attrs`` of a completed trial.

    Parameters
    ----------
    metrics : mapping of str to float
        Every recorded figure (see ``greenauto.metrics.METRICS``).
    description : str
        The candidate in words.
    energy_source : str
        How its energy figures were obtained.

    Returns
    -------
    attrs : dict
    """
    return {
        _METRICS: {k: float(v) for k, v in metrics.items()},
        _DESCRIPTION: str(description),
        _SOURCE: str(energy_source),
    }


def failed_attrs(exc: BaseException) -> dict[str, Any]:
    """The ``user_attrs`` of a trial that raised ``exc`` (its error and a short traceback)."""
    return {
        _ERROR: f"{type(exc).__name__}: {exc}",
        _TRACEBACK: "".join(traceback.format_exception(exc, limit=8)),
    }


def pruned_attrs(reason: str) -> dict[str, Any]:
    """The ``user_attrs`` of a trial the search dropped, with the reason in words."""
    return {_PRUNED: str(reason)}


def worker_attrs(*, host: str, cpu_model: str, worker: str, run: str) -> dict[str, Any]:
    """The ``user_attrs`` a trial gets when it starts: where it is measured, and by whom.

    Parameters
    ----------
    host : str
        Host name of the machine running the trial.
    cpu_model : str
        Its CPU model (energy figures from different CPUs are not interchangeable).
    worker : str
        The process running it, ``"host:pid"``.
    run : str
        Id of the search run (one fit and the workers that join it) the trial belongs to.

    Returns
    -------
    attrs : dict
    """
    return {_WORKER: {"host": str(host), "cpu": str(cpu_model), "id": str(worker), "run": run}}


def spent_attrs(joules: float | None) -> dict[str, Any]:
    """The ``user_attrs`` of the energy a whole trial spent (every stage, whatever its end),
    by the trial meter; None when the meter cannot keep a running total."""
    return {_SPENT: None if joules is None else float(joules)}


def variant_attrs(parent: int) -> dict[str, Any]:
    """The extra ``user_attrs`` of a trial that is a cheaper variant of trial ``parent``
    (e.g. the first k trees of its model), added without a fit of its own."""
    return {_VARIANT_OF: int(parent)}


def student_attrs(
    teacher: int, params: Mapping[str, Any], teacher_params: Mapping[str, Any]
) -> dict[str, Any]:
    """The extra ``user_attrs`` of a distilled student of trial ``teacher``: its own
    configuration's parameters and its teacher's (a student is added to the study without
    sampled parameters, so that the sampler's model of the space stays the space's)."""
    return {
        _STUDENT_OF: int(teacher),
        _STUDENT_PARAMS: {k: _plain(v) for k, v in params.items()},
        _TEACHER_PARAMS: {k: _plain(v) for k, v in teacher_params.items()},
    }


def variant_parent(trial: Any) -> int | None:
    """The trial a (frozen) trial is a variant of, or None (see `variant_attrs`)."""
    parent = trial.user_attrs.get(_VARIANT_OF)
    return None if parent is None else int(parent)


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars (JSON-able)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a search.

    Parameters
    ----------
    number : int
        The Optuna trial number.
    state : str
        ``"COMPLETE"``, ``"FAIL"``, ``"PRUNED"``, ``"RUNNING"`` or ``"WAITING"``.
    params : dict
        The trial's parameters (plain values).
    metrics : dict of str to float
        The recorded figures (empty unless complete).
    description : str
        The candidate in words.
    energy_source : str
        How the energy figures were obtained.
    error : str
        Why a trial failed (``"ValueError: ..."``) or was pruned (``"pruned: ..."``).
    host : str
        Host name of the machine that ran it ("" when not recorded).
    cpu_model : str
        That machine's CPU model.
    worker : str
        The process that ran it, ``"host:pid"``.
    run : str
        Id of the search run it belongs to (one fit and the workers that joined it).
    spent_j : float or None
        Energy the whole trial spent, whatever its end, by the trial meter (``energy_source``
        when complete); None when not recorded (a trial whose worker was killed).
    retry_of : int or None
        The trial this one repeats, after that trial's worker died.
    variant_of : int or None
        The trial whose fit this one is a cheaper variant of (no fit of its own).
    student_of : int or None
        The trial whose candidate taught this distilled student; ``params`` are then the
        student's own and ``teacher_params`` its teacher's.
    teacher_params : dict or None
    """

    number: int
    state: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    description: str = ""
    energy_source: str = ""
    error: str = ""
    host: str = ""
    cpu_model: str = ""
    worker: str = ""
    run: str = ""
    spent_j: float | None = None
    retry_of: int | None = None
    variant_of: int | None = None
    student_of: int | None = None
    teacher_params: Mapping[str, Any] | None = None

    @classmethod
    def from_trial(cls, trial: Any) -> TrialRecord:
        """Decode an Optuna ``FrozenTrial`` (the inverse of the ``*_attrs`` functions).

        Parameters
        ----------
        trial : optuna.trial.FrozenTrial

        Returns
        -------
        record : TrialRecord
        """
        attrs = trial.user_attrs
        error = attrs.get(_ERROR) or trial.system_attrs.get("fail_reason", "")
        if not error and attrs.get(_PRUNED):
            error = f"pruned: {attrs[_PRUNED]}"
        if not error and trial.state.name == "FAIL":
            error = WORKER_LOST
        metrics = {k: float(v) for k, v in (attrs.get(_METRICS) or {}).items()}
        spent = attrs.get(_SPENT)
        if metrics and spent is not None:
            metrics[_SPENT] = float(spent)
        worker = attrs.get(_WORKER) or {}
        retry_of = trial.system_attrs.get(_RETRY_OF)
        student_of = attrs.get(_STUDENT_OF)
        params = attrs.get(_STUDENT_PARAMS) if student_of is not None else trial.params
        return cls(
            number=int(trial.number),
            state=trial.state.name,
            params={k: _plain(v) for k, v in params.items()},
            metrics=metrics,
            description=str(attrs.get(_DESCRIPTION, "")),
            energy_source=str(attrs.get(_SOURCE, "")),
            error=str(error),
            host=str(worker.get("host", "")),
            cpu_model=str(worker.get("cpu", "")),
            worker=str(worker.get("id", "")),
            run=str(worker.get("run", "")),
            spent_j=None if spent is None else float(spent),
            retry_of=None if retry_of is None else int(retry_of),
            variant_of=variant_parent(trial),
            student_of=None if student_of is None else int(student_of),
            teacher_params=None if student_of is None else dict(attrs[_TEACHER_PARAMS]),
        )

    @property
    def sampled(self) -> bool:
        """Whether the sampler chose this trial (not a prefix variant nor a distilled student
        derived from another trial's fit)."""
        return self.variant_of is None and self.student_of is None

    @property
    def complete(self) -> bool:
        """Whether the trial finished with its metrics recorded."""
        return self.state == "COMPLETE" and bool(self.metrics)

    @property
    def machine(self) -> str:
        """Where the trial was measured: ``"host (CPU model)"`` ("" when not recorded)."""
        if not self.host:
            return ""
        return f"{self.host} ({self.cpu_model or 'CPU not recorded'})"

    def to_point(self, config: Any = None, *, with_machine: bool = False) -> ParetoPoint:
        """This (completed) trial as a candidate point, carrying its configuration.

        With ``with_machine`` (when several machines measured a study's trials) the point's
        energy source names the machine: ``"... cpu-time on host-a (AMD EPYC 7B13)"``.
        """
        source = self.energy_source or "unknown"
        if with_machine and self.machine:
            source = f"{source} on {self.machine}"
        return ParetoPoint(
            trial=self.number,
            params=dict(self.params),
            metrics=dict(self.metrics),
            description=self.description,
            energy_source=source,
            config=config,
        )


def records_of(
    trials: Sequence[Any], *, known: dict[int, TrialRecord] | None = None
) -> tuple[TrialRecord, ...]:
    """Decode a study's trials; a variant (added by its parent trial's process, see
    `variant_attrs`) takes its parent's machine, process and run.

    Parameters
    ----------
    trials : sequence of optuna.trial.FrozenTrial
        Every trial of a study, in order.
    known : dict, optional
        Finished trials decoded before, by number (a finished trial never changes): used,
        and completed with the newly finished ones.

    Returns
    -------
    records : tuple of TrialRecord
    """
    records = []
    for t in trials:
        record = None if known is None else known.get(t.number)
        if record is None:
            record = TrialRecord.from_trial(t)
            if known is not None and t.state.is_finished():
                known[t.number] = record
        records.append(record)
    by_number = {r.number: r for r in records}
    for i, r in enumerate(records):
        parent = by_number.get(r.variant_of) if r.variant_of is not None else None
        if parent is not None and not r.host:
            records[i] = replace(
                r, host=parent.host, cpu_model=parent.cpu_model, worker=parent.worker,
                run=parent.run,
            )  # fmt: skip
    return tuple(records)


def machines_of(records: Sequence[TrialRecord]) -> tuple[str, ...]:
    """The distinct machines (``"host (CPU model)"``) that measured these trials, sorted."""
    return tuple(sorted({r.machine for r in records if r.machine}))


@dataclass(frozen=True)
class SearchTotals:
    """Totals of a whole search; ``None`` where they were not recorded.

    ``energy_*`` is what the trial meter measured over the whole fit (every trial and the
    refit); ``co2_*`` is codecarbon's tracker when a country was given. ``variants`` counts the
    completed trials that are cheaper variants of another trial's fit (prefixes), ``students``
    the distilled students.
    ``energy_saved_j`` is what an early stop saved, estimated from the trial rate (the
    joules the first budget to bind would still have let the search spend), in the trial
    meter's unit and source.
    """

    wall_seconds: float | None = None
    energy_j: float | None = None
    energy_source: str | None = None
    energy_detail: str = ""
    co2_grams: float | None = None
    co2_energy_j: float | None = None
    co2_country: str | None = None
    co2_region: str | None = None
    co2_source: str | None = None
    trial_states: dict[str, int] | None = None
    stop_reason: str | None = None
    variants: int | None = None
    students: int | None = None
    energy_saved_j: float | None = None


@dataclass(frozen=True)
class DatasetSummary:
    """Shape of the training data; ``None`` where it was not recorded."""

    rows: int | None = None
    columns: int | None = None
    classes: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        shape: tuple[int, int],
        classes: Sequence[Any],
        feature_names: Sequence[Any] | None = None,
    ) -> DatasetSummary:
        """The summary of data of ``shape`` with these class labels and column names."""
        return cls(
            rows=int(shape[0]),
            columns=int(shape[1]),
            classes=tuple(str(_plain(c)) for c in classes),
            feature_names=None if feature_names is None else tuple(map(str, feature_names)),
        )


@dataclass(frozen=True)
class SearchProgress:
    """Where a running search stands, passed to callbacks after each trial.

    Parameters
    ----------
    finished, complete, failed, pruned : int
        Trials the sampler ran in this fit so far, and how they ended.
    variants : int
        Candidates derived from those trials' fits so far: prefix variants (no fit of their
        own) and distilled students.
    best_score : float or None
        Best validation score so far (None before the first completed trial).
    front_size : int
        Points on the Pareto front of the completed trials so far.
    joules : float
        Energy the search has spent so far, by its trial meter.
    energy_source : str
        How ``joules`` was obtained.
    elapsed_seconds : float
        Wall time since the fit started.
    """

    finished: int
    complete: int
    failed: int
    pruned: int
    variants: int
    best_score: float | None
    front_size: int
    joules: float
    energy_source: str
    elapsed_seconds: float


@dataclass(frozen=True)
class SearchResult:
    """What a search returns: its front, every trial, totals, the data's shape and settings.

    Parameters
    ----------
    front : ParetoFront
        Non-dominated candidates (each point carries its configuration).
    trials : tuple of TrialRecord
        Every trial of the study, in order (the front's points alone when no study is known).
    totals : SearchTotals
    dataset : DatasetSummary
    settings : dict
        The search settings the study was run with (JSON-able; stored on the study).
    """

    front: ParetoFront
    trials: tuple[TrialRecord, ...]
    totals: SearchTotals = field(default_factory=SearchTotals)
    dataset: DatasetSummary = field(default_factory=DatasetSummary)
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_front(cls, front: ParetoFront, *, study: Any = None) -> SearchResult:
        """A result holding a front alone (and the trials of ``study``, when given)."""
        if study is not None:
            trials = tuple(TrialRecord.from_trial(t) for t in study.trials)
            states: dict[str, int] = {}
            for r in trials:
                states[r.state] = states.get(r.state, 0) + 1
            settings = dict(study.user_attrs.get("settings", {}))
            return cls(front, trials, SearchTotals(trial_states=states), settings=settings)
        records = tuple(
            TrialRecord(
                p.trial,
                "COMPLETE",
                dict(p.params),
                dict(p.metrics),
                p.description,
                p.energy_source,
            )
            for p in sorted(front, key=lambda p: p.trial)
        )
        return cls(front, records)

    @property
    def has_study(self) -> bool:
        """Whether the trials come from a study (else only the front's points are known)."""
        return self.totals.trial_states is not None

    @property
    def machines(self) -> tuple[str, ...]:
        """The machines (``"host (CPU model)"``) whose processes ran the trials."""
        return machines_of(self.trials)


#: A search callback: called after every finished trial with its record and the progress.
SearchCallback = Callable[[TrialRecord, SearchProgress], object]


class HasSearchResult(Protocol):
    """Anything that keeps a search's result (a fitted ``GreenAutoClassifier``)."""

    search_result_: SearchResult
