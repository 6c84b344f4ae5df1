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
from greenauto.search._candidate import SIZE_PARAM, fit_candidate, prefix_size
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
    n_repeats: int = 1,
    window: float | None = None,
    sample_weight: np.ndarray | None = None,
    max_seconds: float = float("inf"),
) -> list[ParetoPoint]:
    """Points with ``metrics["confirmed_score"]`` added for those re-scored by fresh CV.

    Candidates: points whose search score is within ``window`` (default ``2 x
    max_score_drop``) of the best, most accurate first, at most ``MAX_CONFIRMED``. They are
    re-scored on ``n_repeats`` x ``n_splits`` stratified folds drawn afresh (seeds
    ``random_state + 1, ...``: never the search's own folds, whose luck the best scores rode
    on). Prefixes of one fit (points that differ only in ``n_estimators``) share one fit per
    fold: the largest is fitted and the others are its prefixes, which are exactly the same
    models. A family is skipped when its projected cost (its largest trial's fit time x folds)
    would pass ``deadline`` or exceed ``max_seconds``; when that is the most accurate family,
    no point is re-scored (the pick is then made on the search's scores alone).
    ``score(candidate, X_val, y_val, w_val)`` scores a fitted candidate (``w_val`` None when
    ``sample_weight`` is).
    """
    best = max(p["score"] for p in points)
    window = 2 * max_score_drop if window is None else window
    near = sorted((p for p in points if p["score"] >= best - window), key=lambda p: -p["score"])[
        :MAX_CONFIRMED
    ]
    folds = [
        fold
        for r in range(n_repeats)
        for fold in stratified_folds(y, n_splits, random_state + 1 + r)[0]
    ]
    confirmed: dict[int, float] = {}
    for rank, family in enumerate(_families(near)):
        largest = max(family, key=lambda p: prefix_size(p.config) or 0)
        cost = len(folds) * largest.metrics.get("fit_seconds", 0.0)
        if cost > max_seconds or time.perf_counter() + cost > deadline:
            if rank == 0:  # the most accurate family cannot be re-scored: none is, so that
                return list(points)  # the pick is made on one kind of score
            continue
        scores: dict[int, list[float]] = {p.trial: [] for p in family}
        for train, val in folds:
            w_train, w_val = (
                (None, None)
                if sample_weight is None
                else (sample_weight[train], sample_weight[val])
            )
            cand = fit_candidate(largest.config, X[train], y[train], random_state=random_state,
                                 sample_weight=w_train)  # fmt: skip
            for p in family:
                size = prefix_size(p.config)
                member = cand if p is largest or size is None else cand.prefix(size)
                scores[p.trial].append(score(member, X[val], y[val], w_val))
        confirmed.update({trial: float(np.mean(s)) for trial, s in scores.items()})
    return [
        dataclasses.replace(p, metrics={**p.metrics, CONFIRMED_SCORE: confirmed[p.trial]})
        if p.trial in confirmed
        else p
        for p in points
    ]


def _families(points: Sequence[ParetoPoint]) -> list[list[ParetoPoint]]:
    """Points grouped by their configuration but for the tree member's size, in order."""
    groups: dict[object, list[ParetoPoint]] = {}
    for p in points:
        if prefix_size(p.config) is None:
            key: object = ("single", p.trial)
        else:
            params = p.config.trial_params()
            key = tuple(sorted((k, v) for k, v in params.items() if not k.endswith(SIZE_PARAM)))
        groups.setdefault(key, []).append(p)
    return list(groups.values())
