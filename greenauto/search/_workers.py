"""The study part of a search, on one process or many: `optimize_study` (a fit) and
`join_study` (a worker joining from any machine).

- `optimize_study` opens (or resumes) the study, records the run and its budgets on it, and
  runs the trials here (``n_workers=1``) or in a pool of worker processes (``_pool.py``);
  with several workers and no storage, the study lives in a temporary JournalStorage file,
  removed afterwards whatever happens (error, Ctrl-C), and the study is kept in memory.
- `join_study` checks that the worker's data and settings are the study's, then runs trials
  until the study's run (or the worker's own limit) is spent.

Ctrl-C loses no finished trial: every trial is in the storage once it ends. With a storage
given by the user the interruption goes on up (fit again to resume); without one, ``fit``
keeps the trials finished so far, warns, and says so in its stop reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import optuna

from greenauto.energy import EnergyMeter
from greenauto.search._budget import (
    STOP_INTERRUPTED,
    STOP_TIMEOUT,
    StudyRun,
    read_run,
    record_run,
    stop_run,
)
from greenauto.search._data import SearchData
from greenauto.search._pool import run_pool
from greenauto.search._study import (
    StopRule,
    TrialCallback,
    data_fingerprint,
    make_sampler,
    open_study,
    resolve_storage,
)
from greenauto.search._worker import (
    Job,
    MakeObjective,
    StudyOutcome,
    interruptible,
    open_tally,
    outcome_of,
    work,
    worker_id,
)

__all__ = ["STUDY_RUN_ENDED", "join_study", "optimize_study"]

#: Recorded on the study when a fit's search ends: workers still on its run stop.
STUDY_RUN_ENDED = "the fit's search ended"


def _directions(settings: Any) -> list[str]:
    return ["maximize" if o.maximize else "minimize" for o in settings.objective_list()]


def _open(
    data: SearchData,
    settings: Any,
    storage: optuna.storages.BaseStorage | None,
    study_name: str | None,
    sampler: Any,
    first_trials: Sequence[Mapping[str, Any]],
) -> optuna.Study:
    """Open (create, resume or join) the study and queue its first trials if it has none."""
    study = open_study(
        directions=_directions(settings),
        sampler=sampler,
        storage=storage,
        study_name=study_name,
        fingerprint=data_fingerprint(data.X, data.y),
        settings=settings.study_settings(),
    )
    if not study.trials:
        for params in first_trials:
            study.enqueue_trial(dict(params), skip_if_exists=True)
    return study


def optimize_study(
    data: SearchData,
    settings: Any,
    meter: EnergyMeter,
    deadline: float,
    *,
    make_objective: MakeObjective,
    first_trials: Sequence[Mapping[str, Any]] = (),
    rules: Sequence[StopRule] = (),
) -> StudyOutcome:
    """The study part of a fit: open or resume the study, record the run, run the trials.

    Parameters
    ----------
    data : SearchData
    settings : SearchSettings
        ``n_workers``, ``storage``, ``study_name``, the budgets and the callbacks are used
        here.
    meter : EnergyMeter
        This process's trial meter.
    deadline : float
        ``time.perf_counter()`` time at which the search must end (inf: none).
    make_objective : callable
        Builds the objective (module-level: worker processes receive it by reference).
    first_trials : sequence of dict
        Parameters the study evaluates first when it is new.
    rules : sequence of StopRule
        Stop rules fed every finished trial of the run (by this process, for every worker).

    Returns
    -------
    outcome : StudyOutcome
    """
    if settings.energy_budget is not None and open_tally(meter) is None:
        raise ValueError(
            f"energy_budget cannot be enforced: the {type(meter).__name__} cannot keep a "
            "running total of each trial's energy."
        )
    with contextlib.ExitStack() as stack:
        storage = resolve_storage(settings.storage)
        name = settings.study_name
        if storage is None and settings.n_workers > 1:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="greenauto-study-"))
            # a worker killed while writing leaves the lock: ours is broken after 5 s
            storage = resolve_storage(os.path.join(folder, "study.journal"), lock_grace_seconds=5)
            name = name or "greenauto"
        if settings.n_workers > 1 and isinstance(storage, optuna.storages.InMemoryStorage):
            raise ValueError(
                "n_workers > 1 needs a storage the worker processes can share (a URL or a "
                "journal file path, or None for a temporary journal file); got an in-memory "
                "storage."
            )
        sampler = make_sampler(settings.sampler, settings.seed, parallel=settings.n_workers > 1)
        study = _open(data, settings, storage, name, sampler, first_trials)
        seconds = None if not math.isfinite(deadline) else deadline - time.perf_counter()
        run = StudyRun.start(
            seconds=seconds, energy_budget=settings.energy_budget, n_trials=settings.n_trials
        )
        record_run(study, run)
        callback = TrialCallback(
            objectives=settings.objectives,
            run=run,
            deadline=deadline,
            energy_source=meter.source.value,
            callbacks=settings.callbacks,
            rules=rules,
        )
        persistent = settings.storage is not None
        # when the fit's search ends, however it ends, workers still on its run stop
        stack.callback(_end_run, study, run, callback)
        job = Job(study, data, settings, meter, callback, make_objective, persistent)
        outcome = _here(job) if settings.n_workers == 1 else run_pool(job, storage)
        callback.stop_reason = outcome.stop_reason
        if settings.storage is None and settings.n_workers > 1:  # the journal goes away
            outcome = replace(outcome, study=_in_memory(study.study_name, storage))
        return outcome


def _end_run(study: optuna.Study, run: StudyRun, callback: TrialCallback) -> None:
    """Mark the fit's run as ended on the study (workers that join later do not follow it)."""
    with contextlib.suppress(Exception):  # never hide the error that ended the search
        stop_run(study, run, f"{STUDY_RUN_ENDED}: {callback.stop_reason or 'stopped by an error'}")


def _here(job: Job) -> StudyOutcome:
    """Run the trials in this process (``n_workers=1``)."""
    objective, callback = job.objective(), job.callback
    # the trials an objective adds itself (a candidate's cheaper variants), if it does
    callback.more_trials = getattr(objective, "take_added", callback.more_trials)
    with interruptible(job.persistent) as interrupted:
        stop = work(job.study, objective, job.meter, callback)
    if interrupted:
        stop = STOP_INTERRUPTED
    return outcome_of(job.study, callback, stop, local={worker_id()})


def _in_memory(name: str, storage: optuna.storages.BaseStorage) -> optuna.Study:
    """A copy of study ``name`` in memory (its temporary journal file is about to go)."""
    to = optuna.storages.InMemoryStorage()
    optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=to)
    return optuna.load_study(study_name=name, storage=to)


def join_study(
    data: SearchData,
    settings: Any,
    meter: EnergyMeter,
    *,
    make_objective: MakeObjective,
    first_trials: Sequence[Mapping[str, Any]] = (),
    time_budget: float | None = None,
    n_trials: int | None = None,
) -> StudyOutcome:
    """A worker joins ``settings.study_name`` in ``settings.storage`` and runs trials.

    It follows the run the study records (the fit that started it: its deadline, energy
    budget and number of trials, over every worker); ``time_budget`` and ``n_trials`` are
    this worker's own limits on top (``settings``' budgets are not used). With no run to
    follow (none recorded, or it ended) it needs an own limit and runs on its own; without
    one it stops at once.

    Raises
    ------
    ValueError
        When the study's data or settings differ from this worker's (naming what differs),
        or when no fit recorded a run and the worker has no own limit.
    """
    if settings.storage is None or settings.study_name is None:
        raise ValueError("A worker needs a storage and a study name to join.")
    storage = resolve_storage(settings.storage)
    wid = worker_id()
    seed = (settings.seed + zlib.crc32(wid.encode())) % (2**31)
    sampler = make_sampler(settings.sampler, seed, parallel=True)
    study = _open(data, settings, storage, settings.study_name, sampler, first_trials)
    own = time_budget is not None or n_trials is not None
    own_end = math.inf if time_budget is None else time.perf_counter() + time_budget
    run = read_run(study)
    live = run is not None and run.stop_reason is None and run.deadline() > time.perf_counter()
    if run is not None and not live and not own:
        return StudyOutcome(study, run.stop_reason or STOP_TIMEOUT)
    if run is None or not live:
        if not own:
            raise ValueError(
                f"Study {study.study_name!r} has no search running to join (no fit recorded "
                "its budgets): give the worker a time budget or a number of trials."
            )
        run = StudyRun.start(seconds=time_budget)
    callback = TrialCallback(
        objectives=settings.objectives,
        run=run,
        deadline=min(run.deadline(), own_end),
        energy_source=meter.source.value,
        callbacks=settings.callbacks,
        n_trials_here=n_trials,
        recorded=live,
    )
    objective = make_objective(data, settings, meter, callback.deadline)
    callback.more_trials = getattr(objective, "take_added", callback.more_trials)
    stop = work(study, objective, meter, callback)
    return StudyOutcome(study, stop, trials_here=callback.optimized)
