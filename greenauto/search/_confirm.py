"""Confirm the default pick: re-score the front points near the best by k-fold cross-validation
on all training rows, so that the pick does not ride on one holdout's luck (the cheapest point
"within half a point" of a noisy holdout score is often the one the holdout flattered).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np

from greenauto.metrics import CONFIRMED_SCORE
from greenauto.pareto import ParetoPoint
from greenauto.search._candidate import fit_candidate
from greenauto.search._data import stratified_folds

__all__ = ["confirm_points"]

#: At most this many points are re-scored, the most accurate first.
MAX_CONFIRMED = 6


def confirm_points(
    points: Sequence[ParetoPoint],
    *,
    X: np.ndarray,
    y: np.ndarray,
    score: Callable[[object, np.ndarray, np.ndarray], float],
    max_score_drop: float,
    deadline: float,
    random_state: int,
    n_splits: int = 3,
) -> list[ParetoPoint]:
    """Points with ``metrics["confirmed_score"]`` added for those re-scored by CV.

    Candidates: points whose validation score is within ``2 x max_score_drop`` of the best,
    most accurate first, at most ``MAX_CONFIRMED``; each costs ``n_splits`` fits, and a
    candidate is skipped once its projected cost (its trial's fit time x n_splits) would pass
    ``deadline``. ``score(candidate, X_val, y_val)`` scores a fitted candidate; each point is
    rebuilt from its ``config``.
    """
    best = max(p["score"] for p in points)
    near = sorted(
        (p for p in points if p["score"] >= best - 2 * max_score_drop),
        key=lambda p: -p["score"],
    )[:MAX_CONFIRMED]
    folds, _ = stratified_folds(y, n_splits, random_state)
    confirmed: dict[int, float] = {}
    for p in near:
        if time.perf_counter() + n_splits * p.metrics.get("fit_seconds", 0.0) > deadline:
            continue
        scores = []
        for train, val in folds:
            cand = fit_candidate(p.config, X[train], y[train], random_state=random_state)
            scores.append(score(cand, X[val], y[val]))
        confirmed[p.trial] = float(np.mean(scores))
    return [
        dataclasses.replace(p, metrics={**p.metrics, CONFIRMED_SCORE: confirmed[p.trial]})
        if p.trial in confirmed
        else p
        for p in points
    ]
