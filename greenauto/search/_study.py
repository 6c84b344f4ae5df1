"""The Optuna study: sampler, storage (resumable, shared by workers), and the callback run
after every trial (typed records to the user's callbacks, progress, study-wide budgets).

Storages: a URL (``sqlite:///search.db``, ``postgresql://...``) is an RDB storage with Optuna's
heartbeat: a RUNNING trial whose worker stopped beating for ``GRACE_FACTOR`` heartbeats is
failed by the next trial any worker starts, and retried once. A plain file path is a
JournalStorage file (Optuna's recommended storage for several processes on one machine; it has
no heartbeat in Optuna 4/5, so a dead worker's trial is failed by the process that started the
worker, or stays RUNNING). An Optuna storage object is used as it is.

Budgets (see ``_budget.py``): ``n_trials``, the time budget and the energy budget hold for the
whole run, over every worker, read from the storage after every trial; the time budget is
also enforced inside a trial (low-fidelity projection) and between trials (`TrialCallback`
stops when a typical trial would end past the deadline).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import optuna

from greenauto.metrics import objective_metric
from greenauto.pareto import non_dominated_mask
from greenauto.results import SearchCallback, SearchProgress, TrialRecord
from greenauto.search._budget import (
    RunTally,
    StudyRun,
    budget_reason,
    read_run,
    stop_run,
)

__all__ = [
    "GRACE_FACTOR",
    "HEARTBEAT_SECONDS",
    "StopRule",
    "TrialCallback",
    "data_fingerprint",
    "heartbeat_of",
    "make_sampler",
    "open_study",
    "quiet_optuna",
    "resolve_storage",
    "safe_url",
    "scoring_name",
]

#: Heartbeat interval (s) of an RDB storage given as a URL.
HEARTBEAT_SECONDS = 20
#: A RUNNING trial is stale after this many missed heartbeats (Optuna's ``grace_period``).
GRACE_FACTOR = 3

SAMPLERS = ("tpe", "nsga2", "random")


def make_sampler(
    sampler: str | optuna.samplers.BaseSampler, seed: int, *, parallel: bool = False
) -> Any:
    """The study's sampler from a name, or the user's own sampler as given.

    ``"tpe"`` (default): multivariate TPE with grouped conditional spaces; it handles the
    define-by-run ensemble space and learns from the first trials on. ``"nsga2"``: NSGA-II,
    which needs a population (50 by default) before it starts to evolve. With ``parallel``
    (several workers on one study) TPE is a "constant liar": it counts running trials as bad,
    so that concurrent workers do not all sample the same region; a user's sampler gets a
    fresh random state (``reseed_rng``) so that workers do not repeat each other.
    """
    if isinstance(sampler, optuna.samplers.BaseSampler):
        if parallel:
            sampler.reseed_rng()
        return sampler
    if sampler == "tpe":
        with warnings.catch_warnings():  # multivariate/group/constant_liar are experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed,
                multivariate=True,
                group=True,
                n_startup_trials=8,
                constant_liar=parallel,
            )
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"sampler must be one of {SAMPLERS} or an Optuna sampler; got {sampler!r}.")


def data_fingerprint(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> str:
    """Short hash of the encoded data (and row weights), stored on the study so a resume uses
    the same data."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(str(X.shape).encode())
    if sample_weight is not None:
        h.update(b"weights")
        h.update(np.ascontiguousarray(sample_weight, dtype=np.float64).tobytes())
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
    if "data_fingerprint" in stored:
        if stored.get("data_fingerprint") != fingerprint:
            raise ValueError(
                f"Study {study.study_name!r} in this storage was run on other data (data "
                f"fingerprint {stored.get('data_fingerprint')}, here {fingerprint}); pass "
                "another study_name (or the same data) to resume or join it."
            )
        if stored.get("settings") != settings:
            theirs = stored.get("settings") or {}
            differ = sorted(k for k in {*theirs, *settings} if theirs.get(k) != settings.get(k))
            what = "; ".join(
                f"{k}: study {theirs.get(k)!r}, here {settings.get(k)!r}" for k in differ
            )
            raise ValueError(
                f"Study {study.study_name!r} was run with other settings ({what}); use the "
                "same settings or another study_name."
            )
    else:  # the fingerprint last: a process that sees it also sees the settings
        study.set_user_attr("settings", settings)
        with warnings.catch_warnings():  # set_metric_names is flagged experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([objective_metric(o).name for o in settings["objectives"]])
        study.set_user_attr("data_fingerprint", fingerprint)
    return study


# --------------------------------------------------------------------------- storages
def resolve_storage(
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None,
    *,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
    lock_grace_seconds: int = 30,
) -> optuna.storages.BaseStorage | None:
    """The Optuna storage a ``storage=`` setting names.

    Parameters
    ----------
    storage : str, path, Optuna storage or None
        A URL with a scheme (``sqlite:///search.db``, ``postgresql://user@host/db``): an
        `optuna.storages.RDBStorage` with a heartbeat every ``heartbeat_seconds``, a grace
        period of ``GRACE_FACTOR`` heartbeats, and a stale trial retried once. Any other
        string or path: a JournalStorage file (created if missing). A storage object or None:
        returned as it is.
    heartbeat_seconds : int
        Heartbeat interval of an RDB storage.
    lock_grace_seconds : int
        A journal file's lock left by a process killed while writing is broken after this
        many seconds (Optuna's default, 30); the other workers wait until then.

    Returns
    -------
    storage : optuna.storages.BaseStorage or None

    Raises
    ------
    ValueError
        For a path to an SQLite database (it needs a ``sqlite:///`` URL), or a URL whose
        database driver is missing.
    """
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be a URL, a journal file path or an Optuna storage; got "
            f"{type(storage).__name__}."
        )
    text = os.fspath(storage)
    if "://" in text:
        return _rdb_storage(text, heartbeat_seconds)
    return _journal_storage(text, lock_grace_seconds)


def _rdb_storage(url: str, heartbeat_seconds: int) -> optuna.storages.BaseStorage:
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    # Optuna >= 4.9 names the callback argument after the heartbeat; 4.0-4.8 only has the
    # older name (deprecated since 4.9)
    key = "heartbeat_stale_trial_callback" if retry else "failed_trial_callback"
    retry = retry or optuna.storages.RetryFailedTrialCallback
    # SQLite: several writers wait for the lock (60 s) instead of failing at once
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():  # heartbeat and retry are flagged experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=int(heartbeat_seconds),
                grace_period=GRACE_FACTOR * int(heartbeat_seconds),
                **{key: retry(max_retry=1)},
            )
        except ImportError as exc:
            raise ValueError(
                f"No database driver for the storage {safe_url(url)} ({exc}); for "
                "PostgreSQL: pip install 'greenauto[postgres]' (psycopg)."
            ) from None


def _journal_storage(path: str, lock_grace_seconds: int) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    if os.path.isfile(path):
        with open(path, "rb") as fh:
            if fh.read(16) == b"SQLite format 3\x00":
                raise ValueError(
                    f"storage {path!r} is an SQLite database: pass it as the URL "
                    f"'sqlite:///{os.path.abspath(path)}' (a plain path is a journal file)."
                )
    path = os.path.abspath(path)
    lock = JournalFileSymlinkLock(path, grace_period=lock_grace_seconds)  # Optuna's default kind
    return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=lock))


def heartbeat_of(storage: optuna.storages.BaseStorage | None) -> int | None:
    """The storage's heartbeat interval in seconds, or None when it has no heartbeat
    (in-memory and journal storages in Optuna 4 and 5)."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return None if interval is None else interval()


def safe_url(url: str) -> str:
    """A storage URL with its password hidden, for messages."""
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy can parse: show only its scheme
        return url.split("://", 1)[0] + "://..."


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
    """Optuna callback run after every finished trial of a worker; it also serves the
    process that watches a pool of workers (`refresh`, `observe`, `reason`).

    It decodes the trial, and the extra trials it added to the study (a candidate's cheaper
    variants, see ``more_trials``), into `TrialRecord`s; updates the `SearchProgress`; calls
    the user's callbacks with each record; and stops the study when the run's study-wide
    budgets are spent (energy and trials over every worker, read from the storage), when a
    typical trial (median of the last 10 of the run) would end past ``deadline``, or when a
    stop rule says so (a rule stops every worker of the run). ``stop_reason`` says which.

    Parameters
    ----------
    objectives : sequence of str
        The study's objectives (for the running front size).
    run : StudyRun
        The run this process works for, with its budgets.
    deadline : float
        ``time.perf_counter()`` time after which no trial should end.
    energy_source : str
        How this process's trial energies are obtained (shown with the progress).
    callbacks : sequence of callables
        ``callback(record, progress)`` for each finished trial.
    more_trials : callable, optional
        Returns (and forgets) the trials the last objective call added to the study.
    rules : sequence of StopRule
        Rules fed every record; the first that gives a reason stops the run.
    n_trials_here : int or None
        Trials this process may run (a worker's own limit), beside the run's.
    recorded : bool
        Whether ``run`` is recorded on the study (then a stop by another process is seen).
    """

    def __init__(
        self,
        *,
        objectives: Sequence[str],
        run: StudyRun,
        deadline: float,
        energy_source: str = "not available",
        callbacks: Sequence[SearchCallback] = (),
        more_trials: Callable[[], Sequence[optuna.trial.FrozenTrial]] = tuple,
        rules: Sequence[StopRule] = (),
        n_trials_here: int | None = None,
        recorded: bool = True,
    ) -> None:
        self.metrics = [objective_metric(o) for o in objectives]
        self.run = run
        self.deadline = deadline
        self.energy_source = energy_source
        self.callbacks = list(callbacks)
        self.more_trials = more_trials
        self.rules = list(rules)
        self.n_trials_here = n_trials_here
        self.recorded = recorded
        self.started = time.perf_counter()
        self.counts = {"COMPLETE": 0, "FAIL": 0, "PRUNED": 0}
        self.values: list[list[float]] = []
        self.tally = RunTally((), 0, 0, 0.0, ())
        self.known: dict[int, TrialRecord] = {}  # finished trials, decoded once
        self.optimized = 0  # trials Optuna ran here (not counting added variants)
        self.n_variants = 0
        self.stop_reason: str | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.optimized += 1
        self.refresh(study)
        for t in sorted([trial, *self.more_trials()], key=lambda t: t.number):
            self.observe(TrialRecord.from_trial(t))
        reason = self.reason(study)
        if reason is not None:
            if self.stop_reason is None:
                self.stop_reason = reason
            study.stop()

    def refresh(self, study: optuna.Study) -> None:
        """Read the run's figures (and whether another process stopped it) from the storage."""
        if self.recorded:
            current = read_run(study)
            if current is not None and current.run_id == self.run.run_id:
                self.run = current
        self.tally = RunTally.read(study, self.run.run_id, known=self.known)

    def observe(self, record: TrialRecord) -> None:
        """Take in one finished trial: progress, stop rules and the user's callbacks."""
        if record.sampled:
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

    def reason(self, study: optuna.Study | None = None) -> str | None:
        """Why this process should stop now (after `refresh`), or None to go on; a stop rule
        stops the whole run when ``study`` is given."""
        reason = budget_reason(
            self.run,
            self.tally,
            deadline=self.deadline,
            ran_here=self.optimized,
            n_trials_here=self.n_trials_here,
            typical_of=self.tally.durations,
        )
        if reason is not None:
            return reason
        for rule in self.rules:
            reason = rule.reason()
            if reason is not None:
                if study is not None and self.recorded:
                    stop_run(study, self.run, reason)
                return reason
        return None

    def progress(self) -> SearchProgress:
        """Where the search stands now (joules: the whole run's trials, every worker)."""
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
            joules=self.tally.spent_j if self.tally.records else math.nan,
            energy_source=self.energy_source,
            elapsed_seconds=time.perf_counter() - self.started,
        )


def quiet_optuna(verbose: int) -> int:
    """Set Optuna's log level for a fit; returns the previous level to restore.

    ``verbose=0`` shows errors only: a failed trial is recorded with its error (the search's
    records, the report, the message when no trial completed), not printed with its traceback.
    """
    previous = optuna.logging.get_verbosity()
    level = {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.INFO)
    optuna.logging.set_verbosity(level)
    return previous
