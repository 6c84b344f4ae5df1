"""One trial of the search: suggest a configuration, fit it (measured), compile it, score it on
validation data and measure its inference energy; record every metric on the trial.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin

from greenauto.energy import (
    EnergyMeter,
    Measurement,
    OperationCounter,
    measure_fit,
    measure_predict,
)
from greenauto.search._candidate import Candidate, fit_candidate
from greenauto.search._space import suggest_config

__all__ = [
    "OBJECTIVE_METRICS",
    "SearchData",
    "TrialObjective",
    "score_candidate",
    "subsample_stratified",
]

#: objective name -> (metric recorded on every trial, maximise?)
OBJECTIVE_METRICS: dict[str, tuple[str, bool]] = {
    "score": ("score", True),
    "inference_energy": ("inference_energy_j_per_1k", False),
    "fit_energy": ("fit_energy_j", False),
    "lifetime_energy": ("lifetime_energy_j", False),
    "latency": ("latency_s_per_row", False),
    "model_size": ("model_bytes", False),
}


@dataclass
class SearchData:
    """Encoded data of a search: training folds, validation folds and the reference batch.

    ``folds`` holds ``(train_index, val_index)`` pairs: one for a holdout split, k for CV.
    """

    X: np.ndarray
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    X_ref: np.ndarray
    n_classes: int


def subsample_stratified(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about ``n`` rows drawn per class in proportion, at least one each."""
    if n >= y.size:
        return np.arange(y.size)
    picked = []
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        take = max(1, round(n * rows.size / y.size))
        picked.append(rng.choice(rows, size=min(take, rows.size), replace=False))
    return np.sort(np.concatenate(picked))


class _ScoringView(ClassifierMixin, BaseEstimator):
    """A fitted candidate seen as a classifier of class indices, for scikit-learn scorers."""

    def __init__(self, candidate: Candidate | None = None, n_classes: int = 2) -> None:
        self.candidate = candidate
        self.n_classes = n_classes

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.candidate.predict_codes(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.candidate.predict_proba(X)


@dataclass
class TrialObjective:
    """Callable passed to ``study.optimize``; returns the objective values of one trial."""

    data: SearchData
    objectives: Sequence[str]
    scorer: Callable[..., float]
    meter: EnergyMeter
    counter: OperationCounter | None = None
    joules_per_op: float = 0.0
    learners: Sequence[str] | None = None
    max_members: int = 3
    random_state: int = 0
    expected_predictions: int = 1_000_000
    deadline: float = math.inf
    fidelity_rows: int = 20_000
    fidelity_margin: float = 0.03
    best_full_score: float = -math.inf
    _durations: list[float] = field(default_factory=list)

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        started = time.perf_counter()
        try:
            metrics = self._run(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # recorded on the trial; Optuna marks it failed
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            trial.set_user_attr("traceback", traceback.format_exc(limit=8))
            raise
        finally:
            self._durations.append(time.perf_counter() - started)
        metrics["trial_seconds"] = time.perf_counter() - started
        trial.set_user_attr("metrics", metrics)
        self.best_full_score = max(self.best_full_score, metrics["score"])
        return tuple(metrics[OBJECTIVE_METRICS[o][0]] for o in self.objectives)

    # ------------------------------------------------------------------ stages
    def _run(self, trial: optuna.Trial) -> dict[str, float]:
        if time.perf_counter() >= self.deadline:
            trial.set_user_attr("pruned_because", "the time budget was spent before it started")
            raise optuna.TrialPruned()
        config = suggest_config(trial, learners=self.learners, max_members=self.max_members)
        train, val = self.data.folds[0]
        seed = self.random_state + trial.number
        if train.size > self.fidelity_rows:
            self._low_fidelity_check(trial, config, train, val, seed)
        scores, fits, candidate = [], [], None
        for k, (tr, va) in enumerate(self.data.folds):
            fit_m, cand = self._measured_fit(config, tr, seed)
            scores.append(self._score(cand, va))
            fits.append(fit_m)
            if k == 0:
                candidate = cand
        assert candidate is not None
        ops = candidate.ops_per_row(self.data.X_ref)
        pred_m = self._measured_predict(candidate, ops)
        fit_j = float(np.mean([m.joules for m in fits]))
        per_1k = float(pred_m.joules_per_1k_rows)
        trial.set_user_attr("description", candidate.config.describe(
            self.data.X.shape[1], candidate.n_selected
        ))  # fmt: skip
        trial.set_user_attr("energy_source", pred_m.source.value)
        return {
            "score": float(np.mean(scores)),
            "fit_energy_j": fit_j,
            "inference_energy_j_per_1k": per_1k,
            "lifetime_energy_j": fit_j + self.expected_predictions * per_1k / 1000.0,
            "latency_s_per_row": pred_m.wall_seconds / pred_m.rows,
            "model_bytes": float(candidate.model_bytes()),
            "n_features": float(candidate.n_selected),
            "ops_per_row": float(ops),
            "fit_seconds": float(np.mean([m.wall_seconds for m in fits])),
        }

    def _low_fidelity_check(self, trial, config, train, val, seed) -> None:
        """Fit on a subsample first; drop the trial early if it is clearly worse than the best
        full-data score so far, or if the full fit would not end before the deadline."""
        rng = np.random.default_rng(seed)
        sub = train[subsample_stratified(self.data.y[train], self.fidelity_rows // 4, rng)]
        t0 = time.perf_counter()
        cand = fit_candidate(config, self.data.X[sub], self.data.y[sub], random_state=seed)
        score = self._score(cand, val)
        elapsed = time.perf_counter() - t0
        trial.set_user_attr("low_fidelity_score", score)
        if score < self.best_full_score - self.fidelity_margin:
            trial.set_user_attr("pruned_because", "low-fidelity score below the best")
            raise optuna.TrialPruned()
        projected = elapsed * train.size / sub.size * len(self.data.folds)
        if time.perf_counter() + projected > self.deadline:
            trial.set_user_attr("pruned_because", "full fit would overrun the time budget")
            raise optuna.TrialPruned()

    def _measured_fit(self, config, rows: np.ndarray, seed: int) -> tuple[Measurement, Candidate]:
        holder: dict[str, Candidate] = {}
        X, y = self.data.X[rows], self.data.y[rows]

        def fit() -> None:
            holder["c"] = fit_candidate(config, X, y, random_state=seed)
            if self.counter is not None:
                self.counter.add(_fit_ops(holder["c"], X.shape))

        return measure_fit(fit, meter=self.meter), holder["c"]

    def _measured_predict(self, candidate: Candidate, ops_per_row: float) -> Measurement:
        counter = self.counter

        def predict(X: np.ndarray) -> object:
            out = candidate.predict_codes(X)
            if counter is not None:
                counter.add(max(1, int(ops_per_row * X.shape[0])))
            return out

        return measure_predict(predict, self.data.X_ref, meter=self.meter)

    def _score(self, candidate: Candidate, rows: np.ndarray) -> float:
        return score_candidate(
            self.scorer, candidate, self.data.X[rows], self.data.y[rows], self.data.n_classes
        )


def score_candidate(
    scorer: Callable[..., float],
    candidate: Candidate,
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
) -> float:
    """A scikit-learn scorer applied to a fitted candidate (class indices in ``y``)."""
    return float(scorer(_ScoringView(candidate, n_classes), X, y))


def _fit_ops(candidate: Candidate, shape: tuple[int, int]) -> int:
    """Operation-count model of a fit: binning every value, then per member rows x selected
    columns x its size (trees or estimators; 1 for NB and KNN)."""
    n_rows, n_cols = shape
    ops = n_rows * n_cols * 8  # edges (sort) + binning
    for spec in candidate.config.members:
        size = int(spec.params.get("n_estimators", 1))
        ops += int(n_rows * spec.row_fraction) * candidate.n_selected * max(size, 1)
    return max(ops, 1)


def describe_error(trial: optuna.trial.FrozenTrial) -> str:
    """The recorded error of a failed trial (or Optuna's fail reason)."""
    return str(
        trial.user_attrs.get("error") or trial.system_attrs.get("fail_reason", "unknown error")
    )


def trial_metrics(trial: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    """Metrics recorded by a completed trial, or None."""
    if trial.state != optuna.trial.TrialState.COMPLETE:
        return None
    return trial.user_attrs.get("metrics")
