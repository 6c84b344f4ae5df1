"""Study-wide budgets: one search *run* (a fit and every worker that joins it) recorded on the
study, and the figures of that run read back from the storage.

A fit records its run on the study (`record_run`): an id, when it started, when its search
must end (wall-clock epoch seconds, so that processes on other machines can read it), its
energy budget and its number of trials. Every trial is tagged with the run it belongs to
(``greenauto.results.worker_attrs``) and records the energy it spent
(``greenauto.results.spent_attrs``). Each worker, after each trial, reads the run's trials
from the storage (`RunTally`) and stops when the run's budgets are spent: the energy budget
is the sum over every worker's trials, the time budget runs from the run's recorded start, and
``n_trials`` counts every worker's trials. Any process may stop the whole run
(`stop_run`); the others see it after their current trial.

Clocks: the deadline is an epoch time, so workers on other machines need clocks in sync
(NTP) to within a small fraction of the budget.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import optuna

from greenauto.results import TrialRecord, machines_of, records_of

__all__ = [
    "STOP_DEADLINE",
    "STOP_ENERGY",
    "STOP_INTERRUPTED",
    "STOP_N_TRIALS",
    "STOP_TIMEOUT",
    "STOP_WORKER_TRIALS",
    "RunTally",
    "StudyRun",
    "budget_reason",
    "read_run",
    "record_run",
    "stop_run",
]

#: Why a search stopped (``SearchTotals.stop_reason``).
STOP_N_TRIALS = "ran the n_trials asked for"
STOP_TIMEOUT = "time budget spent"
STOP_DEADLINE = "time budget: a typical trial would end past the deadline"
STOP_ENERGY = "energy budget spent"
STOP_INTERRUPTED = "interrupted (Ctrl-C): the front holds the trials finished before it"
STOP_WORKER_TRIALS = "this worker ran the n_trials it was given"

#: The study's user attribute holding its current run.
_RUN_ATTR = "run"
_FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class StudyRun:
    """One search run on a study, with its study-wide budgets.

    Parameters
    ----------
    run_id : str
        Tags the run's trials.
    started : float
        Epoch seconds (``time.time()``) when the run started.
    search_ends : float or None
        Epoch seconds after which no trial of the run should end; None: no time limit.
    energy_budget : float or None
        Joules every worker's trials of the run may spend together.
    n_trials : int or None
        Trials the run may run, over every worker (a trial retried after its worker died
        counts once).
    stop_reason : str or None
        Set when a process stopped the whole run.
    """

    run_id: str
    started: float
    search_ends: float | None = None
    energy_budget: float | None = None
    n_trials: int | None = None
    stop_reason: str | None = None

    @classmethod
    def start(
        cls,
        *,
        seconds: float | None,
        energy_budget: float | None = None,
        n_trials: int | None = None,
    ) -> StudyRun:
        """A new run starting now, whose search may last ``seconds`` (None: no limit)."""
        now = time.time()
        ends = None if seconds is None or not math.isfinite(seconds) else now + max(seconds, 0)
        return cls(uuid.uuid4().hex[:12], now, ends, energy_budget, n_trials)

    def deadline(self) -> float:
        """The search's end as a ``time.perf_counter()`` time of this process (inf if none)."""
        if self.search_ends is None:
            return math.inf
        return time.perf_counter() + (self.search_ends - time.time())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored on the study)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyRun:
        """Inverse of `to_dict`."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def record_run(study: optuna.Study, run: StudyRun) -> None:
    """Make ``run`` the study's current run: workers that join follow its budgets."""
    study.set_user_attr(_RUN_ATTR, run.to_dict())


def read_run(study: optuna.Study) -> StudyRun | None:
    """The study's current run, or None when no fit recorded one."""
    data = study.user_attrs.get(_RUN_ATTR)
    return None if not data else StudyRun.from_dict(data)


def stop_run(study: optuna.Study, run: StudyRun, reason: str) -> None:
    """Stop every worker of ``run`` after its current trial (if it is still the study's run
    and nobody stopped it already)."""
    current = read_run(study)
    if current is not None and current.run_id == run.run_id and current.stop_reason is None:
        record_run(study, replace(current, stop_reason=reason))


@dataclass(frozen=True)
class RunTally:
    """A run's figures, read from the storage: what every worker's trials of the run did.

    Parameters
    ----------
    records : tuple of TrialRecord
        The run's trials (every state), in trial order.
    counted : int
        Finished trials, a failed trial that was retried counted once (by its retry).
    running : int
        Trials of the run running now.
    spent_j : float
        Joules the run's trials spent, by their trial meters.
    durations : tuple of float
        Wall seconds of the run's finished trials, in trial order.
    """

    records: tuple[TrialRecord, ...]
    counted: int
    running: int
    spent_j: float
    durations: tuple[float, ...]

    @classmethod
    def read(
        cls, study: optuna.Study, run_id: str, *, known: dict[int, TrialRecord] | None = None
    ) -> RunTally:
        """The figures of run ``run_id`` of ``study``, as its storage holds them now (a
        trial's cheaper variants belong to its run, but are neither counted nor timed).
        ``known``: finished trials decoded before (see ``greenauto.results.records_of``)."""
        trials = study.get_trials(deepcopy=False)
        records = records_of(trials, known=known)
        retried = {r.retry_of for r in records if r.retry_of is not None}
        mine = [(t, r) for t, r in zip(trials, records, strict=True) if r.run == run_id]
        ran = [(t, r) for t, r in mine if r.state in _FINISHED and r.sampled]
        return cls(
            records=tuple(r for _, r in mine),
            counted=sum(1 for _, r in ran if not (r.state == "FAIL" and r.number in retried)),
            running=sum(1 for _, r in mine if r.state == "RUNNING"),
            spent_j=float(sum(r.spent_j or 0.0 for _, r in mine)),
            durations=tuple(t.duration.total_seconds() for t, _ in ran if t.duration is not None),
        )

    @property
    def machines(self) -> tuple[str, ...]:
        """The machines that ran the run's trials."""
        return machines_of(self.records)


def budget_reason(
    run: StudyRun,
    tally: RunTally,
    *,
    deadline: float,
    ran_here: int = 0,
    n_trials_here: int | None = None,
    typical_of: Sequence[float] = (),
) -> str | None:
    """Why a worker should stop now, from its run's study-wide figures, or None to go on.

    Parameters
    ----------
    run : StudyRun
        The run as the study records it now (its ``stop_reason`` wins).
    tally : RunTally
        The run's figures.
    deadline : float
        ``time.perf_counter()`` time after which no trial should end (the run's and the
        worker's own, whichever comes first).
    ran_here, n_trials_here : int
        Trials this worker ran, and how many it may run (its own limit).
    typical_of : sequence of float
        Durations of recent trials: the median of the last 10 is a typical trial.
    """
    if run.stop_reason is not None:
        return run.stop_reason
    if run.energy_budget is not None and tally.spent_j >= run.energy_budget:
        return STOP_ENERGY
    if run.n_trials is not None and tally.counted + tally.running >= run.n_trials:
        return STOP_N_TRIALS
    if n_trials_here is not None and ran_here >= n_trials_here:
        return STOP_WORKER_TRIALS
    durations = list(typical_of)[-10:]
    now = time.perf_counter()
    if now >= deadline:
        return STOP_TIMEOUT
    if durations and now + statistics.median(durations) > deadline:
        return STOP_DEADLINE
    return None
