"""``n_workers`` processes on this machine sharing one study (``fit(n_workers=k)``): the
calling process and ``k - 1`` worker processes.

Each worker is a fresh Python interpreter (``subprocess``, like the ``spawn`` start method of
multiprocessing, never ``fork``): forking a process whose OpenMP pool (LightGBM, scikit-learn)
or BLAS threads have started can deadlock the child, and a fresh interpreter also never
re-imports the user's ``__main__`` (so scripts need no ``if __name__ == "__main__"`` guard).
Every worker gets ``OMP_NUM_THREADS=1`` and the BLAS equivalents before anything is imported,
and measures its own trials with its own meter: CPU time is per process, so parallel workers
never contaminate each other's figures.

The calling process writes the work (data, settings, storage, run) to a pickle in a private
temporary folder, starts the workers, and runs trials itself while they start (a worker
process needs seconds to import its libraries). After each of its trials, and then until the
workers have stopped, it watches the storage: it hands every finished trial to the user's
callbacks and the stop rules, stops the run when a rule says so, and when a worker dies
mid-trial (killed, out of memory) it fails that worker's RUNNING trial and queues it once more
(Optuna's ``RetryHeartbeatStaleTrialCallback`` with ``max_retry=1``): the journal storage has
no heartbeat to do it. Only the calling process refits the pick afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from greenauto.energy import make_meter
from greenauto.ensemble import get_learner, learner_names, register_learner
from greenauto.results import TrialRecord
from greenauto.search._budget import STOP_INTERRUPTED, STOP_TIMEOUT, StudyRun
from greenauto.search._data import SearchData
from greenauto.search._study import (
    TrialCallback,
    make_sampler,
)
from greenauto.search._worker import (
    INTERRUPTED_WARNING,
    Job,
    MakeObjective,
    StudyOutcome,
    open_tally,
    outcome_of,
    work,
    worker_id,
)

__all__ = ["run_pool", "worker_main"]

#: Seconds between two looks at the storage and the workers.
POLL_SECONDS = 0.25
#: Seconds a worker gets to finish after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 10.0
#: Seconds past the search's deadline after which the workers are asked to stop (a trial
#: ends when it ends; one still starting up is not waited for).
OVERRUN_SECONDS = 2.0
#: Thread-count variables every worker starts with (BLAS and OpenMP pinned to 1).
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
ONE_THREAD = dict.fromkeys(_THREAD_VARIABLES, "1")
# run by each worker: import the very greenauto this process runs, then work
_BOOT = (
    "import sys; sys.path[0] = {root!r}; "
    "from greenauto.search._pool import worker_main; "
    "sys.exit(worker_main(sys.argv[1], int(sys.argv[2])))"
)


@dataclass(frozen=True)
class _Work:
    """What a worker process receives (pickled): everything but the user's callbacks."""

    data: SearchData
    settings: Any
    storage: optuna.storages.BaseStorage
    study_name: str
    run: StudyRun
    make_objective: MakeObjective
    learners: bytes  # the registered learners, pickled apart (see _register_learners)


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    log: Path
    returncode: int | None = None
    reaped: bool = False


@dataclass
class _Pool:
    study: optuna.Study
    folder: Path
    callback: TrialCallback
    workers: list[_Worker] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    stopping: bool = False
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ watching
    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback after each trial of this process: watch, and stop this process
        when the run's budgets are spent or a rule stopped it."""
        self.callback.optimized += 1
        self.reap()
        if self.observe() is not None:
            study.stop()

    def watch(self) -> None:
        """Until every worker has exited: callbacks, stop rules, dead workers."""
        while True:
            alive = [w for w in self.workers if w.process.poll() is None]
            self.reap()
            self.observe()
            if not alive:
                return
            if (
                not self.stopping
                and time.perf_counter() > self.callback.deadline + OVERRUN_SECONDS
            ):
                self.signal_all(signal.SIGINT)  # past the deadline: each fails its trial
                self.stopping = True
            time.sleep(POLL_SECONDS)

    def observe(self) -> str | None:
        """Hand the run's newly finished trials to the callbacks and the stop rules; returns
        why the run should stop, if it should (a rule stops every worker)."""
        self.callback.refresh(self.study)
        for record in self.callback.tally.records:
            if record.state in ("COMPLETE", "PRUNED", "FAIL") and record.number not in self.seen:
                self.seen.add(record.number)
                self.callback.observe(record)
        reason = self.callback.reason(self.study)
        if reason is not None and self.callback.stop_reason is None:
            self.callback.stop_reason = reason
        return reason

    def reap(self) -> None:
        """Fail (and queue once more) the RUNNING trial of a worker that died."""
        host = socket.gethostname()
        for w in self.workers:
            code = w.process.poll()
            if code is None or w.reaped:
                continue
            w.reaped, w.returncode = True, code
            if code in (0, 130, -signal.SIGINT) or self.stopping:  # done, or Ctrl-C
                continue
            lost = [
                r
                for r in map(TrialRecord.from_trial, self.study.get_trials(deepcopy=False))
                if r.state == "RUNNING" and r.worker == f"{host}:{w.process.pid}"
            ]
            retried = [_fail_and_retry(self.study, r.number) for r in lost]
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            note = (
                f"worker process {w.process.pid} died ({how}); its running trial(s) "
                f"{[r.number for r in lost]} were failed and queued once more as "
                f"{[n for n in retried if n is not None]}. {_tail(w.log)}"
            )
            self.notes.append(note)
            warnings.warn(note, RuntimeWarning, stacklevel=2)

    def signal_all(self, sig: int) -> None:
        for w in self.workers:
            if w.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.process.send_signal(sig)

    def shut_down(self) -> None:
        """Ask the workers to stop (SIGINT: each fails its current trial), then kill any
        that does not stop within `STOP_GRACE_SECONDS`."""
        self.stopping = True
        self.signal_all(signal.SIGINT)
        end = time.perf_counter() + STOP_GRACE_SECONDS
        for w in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.process.wait(timeout=max(end - time.perf_counter(), 0.01))
        self.signal_all(signal.SIGKILL)
        for w in self.workers:
            w.process.wait()
        self.stopping = False
        self.reap()  # a killed worker's trial is failed and queued once more

    # ------------------------------------------------------------------ results
    def results(self) -> list[dict[str, Any]]:
        out = []
        for w in self.workers:
            path = self.folder / f"worker-{w.index}.json"
            if path.is_file():
                out.append(json.loads(path.read_text(encoding="utf-8")))
        return out


def _fail_and_retry(study: optuna.Study, number: int) -> int | None:
    """Fail RUNNING trial ``number`` and queue it once more, as Optuna's heartbeat would
    (``max_retry=1``: a trial that is itself a retry is not queued again); returns the number
    of the queued trial, if any."""
    study.tell(number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    failed = study.get_trials(deepcopy=False)[number]
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    with warnings.catch_warnings():  # experimental (and, in Optuna >= 4.9, renamed)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        (retry or optuna.storages.RetryFailedTrialCallback)(max_retry=1)(study, failed)
    original = TrialRecord.from_trial(failed).retry_of
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        if TrialRecord.from_trial(t).retry_of == (number if original is None else original):
            return t.number
    return None


def _tail(log: Path, lines: int = 3) -> str:
    with contextlib.suppress(OSError):
        text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if text:
            return "Its last output: " + " | ".join(text[-lines:])
    return ""


def run_pool(job: Job, storage: optuna.storages.BaseStorage) -> StudyOutcome:
    """Run the trials of the job's run in this process and ``n_workers - 1`` worker
    processes sharing ``storage``.

    Returns when every process has stopped (the run's budgets are spent, a rule stopped it,
    or Ctrl-C). When the study is in the user's storage, Ctrl-C goes on up after the workers
    stopped; else the outcome holds the trials finished so far.
    """
    study, callback, settings = job.study, job.callback, job.settings
    with tempfile.TemporaryDirectory(prefix="greenauto-workers-") as tmp:
        folder = Path(tmp)
        spec = folder / "work.pkl"
        learners = pickle.dumps([get_learner(n) for n in learner_names()])
        work_ = _Work(
            job.data,
            replace(settings, callbacks=()),  # the user's callbacks run here only
            storage,
            study.study_name,
            callback.run,
            job.make_objective,
            learners,
        )
        with open(spec, "wb") as fh:
            pickle.dump(work_, fh, protocol=pickle.HIGHEST_PROTOCOL)
        pool = _Pool(study, folder, callback)
        interrupted, here = False, STOP_TIMEOUT
        try:
            for i in range(1, settings.n_workers):
                pool.workers.append(_start(spec, i, folder))
            here = work(study, job.objective(), job.meter, callback, optuna_callback=pool)
            pool.watch()
        except KeyboardInterrupt:
            pool.shut_down()
            if job.persistent:
                raise
            interrupted = True
            warnings.warn(INTERRUPTED_WARNING, UserWarning, stacklevel=3)
        except BaseException:
            pool.shut_down()
            raise
        return _pool_outcome(pool, STOP_INTERRUPTED if interrupted else here)


def _start(spec: Path, index: int, folder: Path) -> _Worker:
    root = str(Path(__file__).resolve().parents[2])  # the folder holding this greenauto
    log = folder / f"worker-{index}.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOT.format(root=root), str(spec), str(index)],
            env={**os.environ, **ONE_THREAD},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return _Worker(index, process, log)


def _pool_outcome(pool: _Pool, here: str) -> StudyOutcome:
    """The pool's outcome: ``here`` is why this process stopped working."""
    results = pool.results()
    host = socket.gethostname()
    local = {f"{host}:{w.process.pid}" for w in pool.workers} | {worker_id()}
    joules = sum(r["joules"] for r in results if r.get("joules") is not None)
    missing = len(pool.workers) - sum(1 for r in results if r.get("joules") is not None)
    detail = (
        f"+ {len(results)} worker process(es) on this machine: {joules:.4g} J by their "
        "trial meters over their whole run"
    )
    if missing:
        detail += f" ({missing} worker(s) died or could not keep a total: not counted)"
    stop = here if here == STOP_INTERRUPTED else (pool.callback.stop_reason or here)
    outcome = outcome_of(
        pool.study, pool.callback, stop, local=local, local_joules=joules, local_detail=detail
    )
    if pool.notes:
        outcome = replace(outcome, other_detail=f"{outcome.other_detail}; " + " ".join(pool.notes))
    return outcome


# --------------------------------------------------------------------------- worker process
def worker_main(spec_path: str, index: int) -> int:
    """Entry point of a worker process: run trials of the recorded run, write what this
    process spent to ``worker-<index>.json`` beside the spec; exit 0, or 130 after Ctrl-C."""
    with open(spec_path, "rb") as fh:
        w: _Work = pickle.load(fh)
    _register_learners(w.learners)
    settings = w.settings
    meter = make_meter(settings.energy_meter, watts_per_cpu=settings.watts_per_cpu)
    life = open_tally(meter)
    result: dict[str, Any] = {"index": index, "pid": os.getpid(), "stop": None}
    code = 0
    try:
        seed = (settings.seed + 7919 * (index + 1)) % (2**31)
        study = optuna.load_study(
            study_name=w.study_name,
            storage=w.storage,
            sampler=make_sampler(settings.sampler, seed, parallel=True),
        )
        callback = TrialCallback(
            objectives=settings.objectives,
            run=w.run,
            deadline=w.run.deadline(),
            energy_source=meter.source.value,
        )
        objective = w.make_objective(w.data, settings, meter, callback.deadline)
        result["stop"] = work(study, objective, meter, callback)
        result["trials"] = callback.optimized
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        result["stop"], code = STOP_INTERRUPTED, 130
    finally:
        result["joules"] = None if life is None else life.joules
        result["source"] = meter.source.value
        out = Path(spec_path).parent / f"worker-{index}.json"
        out.write_text(json.dumps(result), encoding="utf-8")
    return code


def _register_learners(blob: bytes) -> None:
    """Register the learners the fitting process had registered and this one lacks."""
    try:
        learners = pickle.loads(blob)
    except (AttributeError, ImportError) as exc:
        raise RuntimeError(
            "A learner registered in the fitting process cannot be imported by a worker "
            f"process ({exc}): define it in an importable module, not in __main__."
        ) from None
    known = set(learner_names())
    for learner in learners:
        if learner.name not in known:
            register_learner(learner)
