"""The Optuna study: sampler, storage (resumable), and the callback run after every trial
(typed records to the user's callbacks, progress, budgets).

Budgets: ``n_trials`` and ``time_budget`` are Optuna's own; the time budget is also enforced
inside a trial (low-fidelity projection) and between trials (`TrialCallback` stops the study
when a typical trial would end past the deadline). The ``energy_budget`` stops the study once
the search itself has spent that many joules, read from the trial meter's running tally (RAPL
joules under the RAPL meter, modelled joules under the model meter).
"""

from __future__ import annotations

import hashlib
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import optuna

from greenauto.energy import EnergyTally
from greenauto.metrics import objective_metric
from greenauto.pareto import non_dominated_mask
from greenauto.results import SearchCallback, SearchProgress, TrialRecord

__all__ = [
    "STOP_DEADLINE",
    "STOP_ENERGY",
    "STOP_N_TRIALS",
    "STOP_TIMEOUT",
    "StopRule",
    "TrialCallback",
    "data_fingerprint",
    "make_sampler",
    "open_study",
    "quiet_optuna",
    "scoring_name",
]

#: Why a search stopped (``SearchTotals.stop_reason``).
STOP_N_TRIALS = "ran the n_trials asked for"
STOP_TIMEOUT = "time budget spent"
STOP_DEADLINE = "time budget: a typical trial would end past the deadline"
STOP_ENERGY = "energy budget spent"

SAMPLERS = ("tpe", "nsga2", "random")


def make_sampler(sampler: str | optuna.samplers.BaseSampler, seed: int) -> Any:
    """The study's sampler from a name, or the user's own sampler as given.

    ``"tpe"`` (default): multivariate TPE with grouped conditional spaces; it handles the
    define-by-run ensemble space and learns from the first trials on. ``"nsga2"``: NSGA-II,
    which needs a population (50 by default) before it starts to evolve.
    """
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "tpe":
        with warnings.catch_warnings():  # multivariate/group are flagged experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, n_startup_trials=8
            )
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"sampler must be one of {SAMPLERS} or an Optuna sampler; got {sampler!r}.")


def data_fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    """Short hash of the encoded data, stored on the study so a resume uses the same data."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(str(X.shape).encode())
    return h.hexdigest()[:16]


def open_study(
    *,
    directions: Sequence[str],
    sampler: Any,
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str | None,
    fingerprint: str,
    settings: dict[str, Any],
) -> optuna.Study:
    """Create the study, or load it to resume when ``storage`` already holds ``study_name``.

    A resumed study must have been run on the same data and with the same objectives and
    search settings; otherwise its trials would not be comparable and a clear error says so.
    The objectives' metric names label Optuna's plots and optuna-dashboard.
    """
    study = optuna.create_study(
        directions=list(directions),
        sampler=sampler,
        storage=storage,
        study_name=study_name,
        load_if_exists=storage is not None and study_name is not None,
    )
    stored = study.user_attrs
    if stored:
        if stored.get("data_fingerprint") != fingerprint:
            raise ValueError(
                f"Study {study.study_name!r} in this storage was run on other data; pass "
                "another study_name (or the same data) to resume."
            )
        if stored.get("settings") != settings:
            raise ValueError(
                f"Study {study.study_name!r} was run with other settings "
                f"({stored.get('settings')}); pass another study_name."
            )
    else:
        study.set_user_attr("data_fingerprint", fingerprint)
        study.set_user_attr("settings", settings)
        with warnings.catch_warnings():  # set_metric_names is flagged experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([objective_metric(o).name for o in settings["objectives"]])
    return study


def scoring_name(scoring: Any) -> str:
    """A name of a scorer that is the same in every process (stored on the study).

    A string is itself; a function its ``module.qualname``; a scikit-learn scorer its repr
    (``make_scorer(f1_score, ...)``); any other object its type's ``module.qualname``.
    """
    if isinstance(scoring, str):
        return scoring
    qualname = getattr(scoring, "__qualname__", None)
    if qualname is not None:
        return f"{getattr(scoring, '__module__', '?')}.{qualname}"
    text = repr(scoring)
    if " at 0x" in text:  # the default repr holds a memory address
        return f"{type(scoring).__module__}.{type(scoring).__qualname__}"
    return text


class StopRule(Protocol):
    """A rule that stops a search from what its trials found (beside the budgets)."""

    def update(self, record: TrialRecord) -> None:
        """Take in one more finished trial."""

    def reason(self) -> str | None:
        """Why the search should stop now, or None to go on."""


class TrialCallback:
    """Optuna callback run after every finished trial of a fit.

    It decodes the trial, and the extra trials it added to the study (a candidate's cheaper
    variants, see ``more_trials``), into `TrialRecord`s; updates the `SearchProgress`; calls
    the user's callbacks with each record; and stops the study when the energy budget is
    spent, when a typical trial (median of the last 10) would end past ``deadline``, or when
    a stop rule says so. ``stop_reason`` says which, if any.

    Parameters
    ----------
    objectives : sequence of str
        The study's objectives (for the running front size).
    tally : EnergyTally or None
        Running total of the search's energy (None when the meter cannot keep one).
    energy_budget : float or None
        Joules the search may spend.
    deadline : float
        ``time.perf_counter()`` time after which no trial should end.
    callbacks : sequence of callables
        ``callback(record, progress)`` for each finished trial.
    more_trials : callable, optional
        Returns (and forgets) the trials the last objective call added to the study.
    rules : sequence of StopRule
        Rules fed every record; the first that gives a reason stops the study.
    """

    def __init__(
        self,
        *,
        objectives: Sequence[str],
        tally: EnergyTally | None,
        energy_budget: float | None,
        deadline: float,
        callbacks: Sequence[SearchCallback] = (),
        more_trials: Callable[[], Sequence[optuna.trial.FrozenTrial]] = tuple,
        rules: Sequence[StopRule] = (),
    ) -> None:
        self.metrics = [objective_metric(o) for o in objectives]
        self.tally = tally
        self.energy_budget = math.inf if energy_budget is None else float(energy_budget)
        self.deadline = deadline
        self.callbacks = list(callbacks)
        self.more_trials = more_trials
        self.rules = list(rules)
        self.started = time.perf_counter()
        self.counts = {"COMPLETE": 0, "FAIL": 0, "PRUNED": 0}
        self.values: list[list[float]] = []
        self.durations: list[float] = []
        self.optimized = 0  # trials Optuna ran (not counting added variants)
        self.n_variants = 0
        self.stop_reason: str | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.optimized += 1
        if trial.duration is not None:
            self.durations.append(trial.duration.total_seconds())
        trials = sorted([trial, *self.more_trials()], key=lambda t: t.number)
        for t in trials:
            record = TrialRecord.from_trial(t)
            if record.variant_of is None:
                self.counts[record.state] = self.counts.get(record.state, 0) + 1
            else:
                self.n_variants += 1
            if record.complete:
                self.values.append(
                    [(-1.0 if m.maximize else 1.0) * record.metrics[m.name] for m in self.metrics]
                )
            for rule in self.rules:
                rule.update(record)
            progress = self.progress()
            for callback in self.callbacks:
                callback(record, progress)
        if self.progress().joules >= self.energy_budget:
            self._stop(study, STOP_ENERGY)
            return
        for rule in self.rules:
            reason = rule.reason()
            if reason is not None:
                self._stop(study, reason)
                return
        if self.durations:
            typical = statistics.median(self.durations[-10:])
            if time.perf_counter() + typical > self.deadline:
                self._stop(study, STOP_DEADLINE)

    def progress(self) -> SearchProgress:
        """Where the search stands now."""
        best = max((-v[0] for v in self.values), default=None)
        front = int(non_dominated_mask(np.array(self.values)).sum()) if self.values else 0
        return SearchProgress(
            finished=sum(self.counts.values()),
            complete=self.counts["COMPLETE"],
            failed=self.counts["FAIL"],
            pruned=self.counts["PRUNED"],
            variants=self.n_variants,
            best_score=best,
            front_size=front,
            joules=math.nan if self.tally is None else self.tally.joules,
            energy_source="not available" if self.tally is None else self.tally.source.value,
            elapsed_seconds=time.perf_counter() - self.started,
        )

    def _stop(self, study: optuna.Study, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        study.stop()


def quiet_optuna(verbose: int) -> int:
    """Set Optuna's log level for a fit; returns the previous level to restore."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.INFO if verbose > 1 else logging.WARNING)
    return previous
