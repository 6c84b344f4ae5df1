"""Bin edges: how they are learned, packed for the C++ kernel, and a numpy reference.

Bin semantics everywhere in greenauto: ``bin(x)`` is the number of inner edges ``e`` with
``e <= x`` (``numpy.searchsorted(inner, x, side="right")``, as in scikit-learn's
``KBinsDiscretizer``); ``-inf`` falls in bin 0, ``+inf`` in the last bin and NaN in bin
``n_bins`` of its feature, a bin of its own.
"""

from __future__ import annotations

import numpy as np

from greenauto._native import BinningKernel

__all__ = [
    "MAX_BINS",
    "BinningKernel",
    "bin_transform_reference",
    "full_edges",
    "inner_edges",
    "make_kernel",
]

MAX_BINS = 255


def _midpoints(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Edges strictly above ``lower`` and at most ``upper`` (elementwise, ``lower < upper``)."""
    mid = lower / 2 + upper / 2  # halves first: no overflow near the float64 limits
    return np.where((mid > lower) & (mid <= upper), mid, upper)


def inner_edges(column: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """Learn the inner bin edges of one feature.

    Parameters
    ----------
    column : ndarray of shape (n_samples,), float64
        The feature's values; NaN and +/-inf are ignored for the edges.
    n_bins : int
        Upper bound on the number of bins (2 to 255).
    strategy : {"quantile", "uniform"}
        ``"quantile"``: bins of (about) equal counts; a feature with at most ``n_bins``
        distinct values gets one bin per value. Edges lie halfway between neighbouring
        distinct values, so unseen values in a gap go to the nearer side.
        ``"uniform"``: equal-width bins between the smallest and largest finite value.

    Returns
    -------
    edges : ndarray of shape (n_bins_actual - 1,), float64
        Strictly increasing, finite. Empty for a feature with fewer than two finite values.
    """
    finite = np.sort(column[np.isfinite(column)])
    if finite.size == 0 or finite[0] == finite[-1]:
        return np.empty(0, dtype=np.float64)
    lo, hi = finite[0], finite[-1]
    if strategy == "uniform":
        t = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        edges = lo * (1.0 - t) + hi * t  # no overflow for any finite lo, hi
        return np.unique(edges[(edges > lo) & (edges <= hi)])
    distinct = finite[np.r_[True, finite[1:] != finite[:-1]]]
    if distinct.size <= n_bins:
        positions = np.arange(1, distinct.size)
    else:
        # inverted-CDF quantiles q; each edge goes between q and the next distinct value,
        # so that bin k holds the values up to its quantile (equal counts without ties)
        levels = np.arange(1, n_bins) / n_bins
        ranks = np.clip(np.ceil(levels * finite.size).astype(np.int64) - 1, 0, finite.size - 1)
        positions = np.unique(np.searchsorted(distinct, finite[ranks]) + 1)
        positions = positions[positions < distinct.size]
    return _midpoints(distinct[positions - 1], distinct[positions])


def full_edges(inner: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Edges in ``KBinsDiscretizer.bin_edges_`` form: finite min, inner edges, finite max.

    A feature without two distinct finite values gets ``[-inf, inf]``, as in scikit-learn.
    """
    finite = column[np.isfinite(column)]
    if inner.size == 0:
        return np.array([-np.inf, np.inf])
    return np.concatenate(([finite.min()], inner, [finite.max()]))


def make_kernel(bin_edges: list[np.ndarray] | np.ndarray) -> BinningKernel:
    """Build the compiled kernel from ``KBinsDiscretizer``-style edges (outer edges included).

    The kernel copies and validates the edges (counts in range, inner edges non-decreasing
    and not NaN) and keeps a float32 copy rounded so that float32 input bins exactly as it
    would in float64.
    """
    inners = [np.asarray(e, dtype=np.float64)[1:-1] for e in bin_edges]
    n_bins = np.array([e.size + 1 for e in inners], dtype=np.int64)
    width = max(1, int(n_bins.max(initial=1)) - 1)
    packed = np.full((len(inners), width), np.nan)
    for j, e in enumerate(inners):
        if e.size > MAX_BINS - 1:
            raise ValueError(
                f"Feature {j} has {e.size + 1} bins; at most {MAX_BINS} fit in uint8 codes."
            )
        packed[j, : e.size] = e
    return BinningKernel(packed, n_bins)


def bin_transform_reference(
    X: np.ndarray, bin_edges: list[np.ndarray] | np.ndarray, columns: np.ndarray | None = None
) -> np.ndarray:
    """Numpy reference of the binning kernel (same semantics, no speed)."""
    X = np.asarray(X)
    cols = np.arange(X.shape[1]) if columns is None else np.asarray(columns)
    out = np.empty((X.shape[0], cols.size), dtype=np.uint8)
    for i, j in enumerate(cols):
        inner = np.asarray(bin_edges[j], dtype=np.float64)[1:-1]
        x = X[:, j].astype(np.float64)
        codes = np.searchsorted(inner, x, side="right")
        codes[np.isnan(x)] = inner.size + 1
        out[:, i] = codes
    return out
