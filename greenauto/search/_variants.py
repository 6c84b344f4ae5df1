"""Cheaper variants of a fitted candidate from the same fit (dense fronts from few fits).

A boosted model's first ``k`` iterations, or a forest's first ``k`` trees, is exactly the model
the same learner fits with ``n_estimators=k`` (boosting is sequential; a forest draws its trees'
seeds in order), so one fit yields a whole family of candidates. The search scores a
geometric ladder of prefixes on the trial's validation folds through the compiled kernel,
keeps those that no other member of the family beats on both score and operations per row
(early stopping on the validation data is the most accurate of them), and records each kept
prefix as a trial of its own, with its own measured inference energy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from greenauto.pareto import non_dominated_mask

__all__ = ["MAX_VARIANTS", "pick_variants", "prefix_sizes"]

#: At most this many prefixes of one candidate become trials (each is measured).
MAX_VARIANTS = 3


def prefix_sizes(n: int, low: int) -> list[int]:
    """Prefix sizes below ``n`` to try: a ladder about sqrt(2) apart, none below ``low``.

    Examples
    --------
    >>> prefix_sizes(100, 5)
    [71, 50, 35, 25, 18, 12, 9, 6]
    """
    sizes: list[int] = []
    i = 1
    while True:
        k = round(n / math.sqrt(2) ** i)
        if k < max(low, 1):
            return sizes
        if k < n and (not sizes or k < sizes[-1]):
            sizes.append(k)
        i += 1


def pick_variants(
    parent: tuple[float, float],
    variants: Sequence[tuple[int, float, float]],
    *,
    max_variants: int = MAX_VARIANTS,
) -> list[int]:
    """Prefix sizes worth recording: non-dominated in (score up, operations down) among the
    family (the parent included), at most ``max_variants`` spread evenly over the cost range.

    Parameters
    ----------
    parent : (score, ops)
        The full candidate.
    variants : sequence of (k, score, ops)
    max_variants : int

    Returns
    -------
    sizes : list of int
        Chosen ``k``, cheapest first.

    Examples
    --------
    >>> pick_variants((0.90, 100.0), [(50, 0.91, 50.0), (25, 0.80, 25.0), (12, 0.79, 30.0)])
    [25, 50]
    """
    if not variants:
        return []
    rows = np.array([[-parent[0], parent[1]]] + [[-s, o] for _, s, o in variants])
    keep = non_dominated_mask(rows)[1:]
    kept = sorted((v for v, k in zip(variants, keep, strict=True) if k), key=lambda v: v[2])
    if len(kept) > max_variants:
        at = np.unique(np.linspace(0, len(kept) - 1, max_variants).round().astype(int))
        kept = [kept[i] for i in at]
    return [k for k, _, _ in kept]
