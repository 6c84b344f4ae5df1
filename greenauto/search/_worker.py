"""One worker's loop: the trials a process runs for a search run, each tagged with where it
ran and what it spent.

`work` runs Optuna's ``study.optimize`` with `WorkerObjective`, which tags every trial, when
it starts, with this machine (host, CPU model), this process and the run, and records the
energy the whole trial spent by this process's trial meter; and with `TrialCallback`, which
enforces the run's study-wide budgets after every trial. A fit runs it in its own process
(``n_workers=1``) or in worker processes (``_pool.py``); ``greenauto worker`` runs it to join
a study from any machine (``_workers.py``).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import optuna

from greenauto.energy import EnergyMeter, EnergyMeterError, EnergyTally, Measurement
from greenauto.results import SearchProgress, spent_attrs, worker_attrs
from greenauto.search._budget import STOP_N_TRIALS, STOP_TIMEOUT
from greenauto.search._data import SearchData
from greenauto.search._study import TrialCallback

__all__ = [
    "INTERRUPTED_WARNING",
    "Job",
    "MakeObjective",
    "StudyOutcome",
    "WorkerObjective",
    "interruptible",
    "measure_search",
    "open_tally",
    "outcome_of",
    "this_machine",
    "with_others",
    "work",
    "worker_id",
]

#: Builds a trial's objective: ``make_objective(data, settings, meter, deadline)``. It must be
#: a module-level function: worker processes receive it by reference.
MakeObjective = Callable[[SearchData, Any, EnergyMeter, float], Callable[[optuna.Trial], Any]]

INTERRUPTED_WARNING = (
    "The search was interrupted (Ctrl-C): the front holds the trials finished before it; "
    "pass storage= and study_name= to resume an interrupted search."
)


@dataclass(frozen=True)
class StudyOutcome:
    """What the study part of a search leaves: the study, why it stopped, and the energy
    spent by processes other than this one (its worker processes and other workers' trials),
    with a sentence saying how it was counted."""

    study: optuna.Study
    stop_reason: str
    other_joules: float = 0.0
    other_detail: str = ""
    trials_here: int = 0
    trials_run: int = 0  # the run's trials, over every worker (a retry counted once)
    progress: SearchProgress | None = None


@dataclass(frozen=True)
class Job:
    """What the calling process of a fit hands to whatever runs the trials (itself, or a
    pool of workers): the study, the data, the settings, its meter, the run's callback, the
    objective's builder, and whether the study is in the user's storage (``persistent``)."""

    study: optuna.Study
    data: SearchData
    settings: Any
    meter: EnergyMeter
    callback: TrialCallback
    make_objective: MakeObjective
    persistent: bool

    def objective(self) -> Callable[[optuna.Trial], Any]:
        """This process's objective, built for the run's deadline."""
        return self.make_objective(self.data, self.settings, self.meter, self.callback.deadline)


def this_machine() -> tuple[str, str]:
    """This machine's host name and CPU model (``/proc/cpuinfo``'s model name on Linux)."""
    cpu = ""
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh,
    ):
        for line in fh:
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return socket.gethostname(), cpu or platform.processor() or platform.machine() or "unknown"


def worker_id() -> str:
    """This process as a worker: ``"host:pid"``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def open_tally(meter: EnergyMeter) -> EnergyTally | None:
    """A running total of ``meter`` from now on, or None when the meter cannot keep one."""
    try:
        return meter.tally()
    except EnergyMeterError:
        return None


def measure_search(
    meter: EnergyMeter, fn: Callable[[], object], *, n_workers: int = 1
) -> Measurement:
    """The energy of this process running ``fn`` (a whole search) by the trial meter.

    With worker processes this process may run no trial itself (an operation-count meter
    then counts nothing, which ``meter.measure`` refuses): its running tally is read instead.
    Add the workers' energy with `with_others`.
    """
    tally = open_tally(meter) if n_workers > 1 else None
    if tally is None:
        return meter.measure(fn)
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return Measurement(
        joules=tally.joules,
        cpu_seconds=time.process_time() - c0,
        wall_seconds=time.perf_counter() - w0,
        calls=1,
        source=meter.source,
        detail=meter.detail,
    )


def with_others(energy: Measurement, outcome: StudyOutcome) -> Measurement:
    """The search's energy: this process's plus its workers' and other workers' trials."""
    detail = "; ".join(d for d in (energy.detail, outcome.other_detail) if d)
    return replace(energy, joules=energy.joules + outcome.other_joules, detail=detail)


class WorkerObjective:
    """The objective as a worker runs it: each trial is tagged, when it starts, with this
    machine, this process and the run, and records the energy the whole trial spent (fit,
    scoring, inference measurement, whatever its end) by the trial meter.

    Parameters
    ----------
    objective : callable
        The search's objective (``trial -> objective values``).
    meter : EnergyMeter
        The trial meter (per process: parallel workers never see each other's energy).
    run_id : str
        The run the trials belong to.
    """

    def __init__(self, objective: Callable[[optuna.Trial], Any], meter: EnergyMeter, run_id: str):
        self.objective = objective
        self.meter = meter
        host, cpu = this_machine()
        self.attrs = worker_attrs(host=host, cpu_model=cpu, worker=worker_id(), run=run_id)

    def __call__(self, trial: optuna.Trial) -> Any:
        storage = trial.storage
        if getattr(storage, "get_heartbeat_interval", lambda: None)() is not None:
            # Optuna never fails a RUNNING trial that has no heartbeat yet (optuna#4026), and
            # its heartbeat thread may write the first one late: write it now, before any
            # work, so that a worker killed at any moment of the trial is recovered
            storage.record_heartbeat(trial._trial_id)  # noqa: SLF001 - Optuna has no public id
        for key, value in self.attrs.items():
            trial.set_user_attr(key, value)
        tally = open_tally(self.meter)
        try:
            return self.objective(trial)
        finally:
            for key, value in spent_attrs(None if tally is None else tally.joules).items():
                trial.set_user_attr(key, value)


def work(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], Any],
    meter: EnergyMeter,
    callback: TrialCallback,
    *,
    n_trials: int | None = None,
    optuna_callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> str:
    """Run trials of ``callback.run`` in this process until a budget is spent.

    Parameters
    ----------
    study : optuna.Study
    objective : callable
        The search's objective (wrapped in a `WorkerObjective` here).
    meter : EnergyMeter
        The trial meter.
    callback : TrialCallback
        Enforces the run's budgets after every trial.
    n_trials : int, optional
        Upper bound on the trials this process runs.
    optuna_callback : callable, optional
        Run after every trial instead of ``callback`` (which it must consult).

    Returns
    -------
    stop_reason : str
    """
    timeout = None
    if math.isfinite(callback.deadline):
        timeout = max(callback.deadline - time.perf_counter(), 0.0)
    limits = [n for n in (n_trials, callback.run.n_trials, callback.n_trials_here) if n]
    study.optimize(
        WorkerObjective(objective, meter, callback.run.run_id),
        n_trials=min(limits) if limits else None,
        timeout=timeout,
        catch=(Exception,),
        callbacks=[optuna_callback or callback],
        gc_after_trial=False,
    )
    if callback.stop_reason is not None:
        return callback.stop_reason
    return STOP_N_TRIALS if limits and callback.optimized >= min(limits) else STOP_TIMEOUT


@contextlib.contextmanager
def interruptible(persistent: bool) -> Iterator[list[bool]]:
    """Ctrl-C: re-raised when the trials are in the user's storage (resume by fitting
    again); else the fit goes on with the trials finished so far, with a warning. The
    yielded list holds True after an interruption."""
    flag: list[bool] = []
    try:
        yield flag
    except KeyboardInterrupt:
        if persistent:
            raise
        flag.append(True)
        warnings.warn(INTERRUPTED_WARNING, UserWarning, stacklevel=3)


def outcome_of(
    study: optuna.Study,
    callback: TrialCallback,
    stop: str,
    *,
    local: set[str],
    local_joules: float = 0.0,
    local_detail: str = "",
) -> StudyOutcome:
    """The outcome, counting the energy of the run's trials run by other workers."""
    callback.refresh(study)
    others = [r for r in callback.tally.records if r.worker not in local]
    other_j = sum(r.spent_j or 0.0 for r in others)
    details = [local_detail] if local_detail else []
    if others:
        hosts = sorted({r.host for r in others})
        details.append(
            f"{len(others)} trial(s) run by other workers ({', '.join(hosts)}): "
            f"{other_j:.4g} J by their trial meters"
        )
    return StudyOutcome(
        study,
        stop,
        local_joules + other_j,
        "; ".join(details),
        trials_here=callback.optimized,
        trials_run=callback.tally.counted,
        progress=callback.progress(),
    )
