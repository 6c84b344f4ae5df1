"""The Optuna study: sampler, storage (resumable), budgets (trials, time, energy), seeds.

Budgets: ``n_trials`` and ``time_budget`` are Optuna's own; the time budget is also enforced
inside a trial (low-fidelity projection) so that a long trial does not overrun it. The
``energy_budget`` stops the study once the search itself has spent that many joules, as the
trial meter reports them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna

__all__ = ["EnergyBudget", "data_fingerprint", "make_sampler", "open_study"]

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
    return study


class EnergyBudget:
    """Optuna callback that stops the study once ``spent()`` reaches ``budget_j`` joules."""

    def __init__(self, spent: Callable[[], float], budget_j: float | None) -> None:
        self.spent = spent
        self.budget_j = math.inf if budget_j is None else float(budget_j)
        self.stopped_at: float | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        used = self.spent()
        if used >= self.budget_j and self.stopped_at is None:
            self.stopped_at = used
            study.stop()


class DeadlineStop:
    """Optuna callback that stops the study when the next trial would likely end too late."""

    def __init__(self, deadline: float, durations: list[float]) -> None:
        self.deadline = deadline
        self.durations = durations

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not self.durations:
            return
        typical = float(np.median(self.durations[-10:]))
        if time.perf_counter() + typical > self.deadline:
            study.stop()


def quiet_optuna(verbose: int) -> int:
    """Set Optuna's log level for a fit; returns the previous level to restore."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.INFO if verbose > 1 else logging.WARNING)
    return previous
