"""Numpy references of the compiled kernels (same semantics, no speed), for tests."""

from __future__ import annotations

import numpy as np

from greenauto.compiled._flatten import (
    FlatForest,
    KnnArrays,
    TableNBArrays,
    leaf_distributions,
)

__all__ = [
    "knn_reference",
    "table_nb_reference",
    "tree_reference",
    "tree_visits",
    "vote_reference",
]


def _leaves(flat: FlatForest, X: np.ndarray, t: int) -> tuple[np.ndarray, int]:
    """Leaf reached by every row in tree ``t``, and the nodes visited (leaves included).

    A row goes left when ``x <= threshold`` compared in float64, NaN by ``missing_left``:
    the compiled kernel's rule, one vectorised step per level.
    """
    n = X.shape[0]
    rows = np.arange(n)
    node = np.full(n, flat.tree_starts[t], dtype=np.int64)
    visits = n
    while True:
        inner = flat.left[node] != -1
        if not inner.any():
            return node, visits
        visits += int(inner.sum())
        x = X[rows, flat.feature[node]].astype(np.float64)
        go_left = np.where(np.isnan(x), flat.missing_left[node] == 1, x <= flat.threshold[node])
        node = np.where(inner, np.where(go_left, flat.left[node], flat.right[node]), node)


def tree_visits(flat: FlatForest, X: np.ndarray) -> int:
    """Tree nodes (internal nodes and leaves) visited by all rows of ``X`` in all trees."""
    X = np.asarray(X)
    return sum(_leaves(flat, X, t)[1] for t in range(flat.n_trees))


def tree_reference(flat: FlatForest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class indices and probabilities of a flat forest.

    ``X`` holds uint8 codes (binned model) or float32 values (raw model).
    """
    X = np.asarray(X)
    n = X.shape[0]
    acc = np.zeros((n, flat.n_outputs))
    width = flat.values.shape[1]
    values = leaf_distributions(flat.values) if flat.output == "mean" else flat.values
    for t in range(flat.n_trees):
        node, _ = _leaves(flat, X, t)
        off = int(flat.out_offset[t])
        acc[:, off : off + width] += values[node]
    if flat.output == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-flat.sigmoid * acc[:, 0]))
        proba = np.column_stack([1.0 - p, p])
    elif flat.output == "softmax":
        e = np.exp(acc - acc.max(axis=1, keepdims=True))
        proba = e / e.sum(axis=1, keepdims=True)
    else:
        proba = acc / flat.n_trees
    return np.argmax(proba, axis=1), proba


def table_nb_reference(nb: TableNBArrays, codes: np.ndarray) -> np.ndarray:
    """Class indices of table Naive Bayes; codes past a feature's table contribute 0."""
    codes = np.asarray(codes)
    jll = np.zeros((codes.shape[0], nb.prior.size))
    start = 0
    for j, size in zip(nb.features, nb.n_codes, strict=True):
        table = nb.table[start : start + size]
        c = codes[:, j].astype(np.int64)
        seen = c < size
        jll[seen] += table[c[seen]]
        start += size
    return np.argmax(jll + nb.prior, axis=1)


def _heap_push(values: list[float], indices: list[int], val: float, idx: int) -> None:
    """scikit-learn's max-heap push (sklearn/utils/_heap.pyx) on a full heap."""
    if val >= values[0]:
        return
    size, cur = len(values), 0
    while True:
        left, right = 2 * cur + 1, 2 * cur + 2
        if left >= size:
            break
        if right >= size:
            swap = left if values[left] > val else -1
        elif values[left] >= values[right]:
            swap = left if val < values[left] else -1
        else:
            swap = right if val < values[right] else -1
        if swap < 0:
            break
        values[cur], indices[cur] = values[swap], indices[swap]
        cur = swap
    values[cur], indices[cur] = val, idx


def knn_reference(knn: KnnArrays, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Class indices of brute-force KNN: scikit-learn's heap over training rows in order."""
    train = knn.train.astype(np.int64)
    query = np.asarray(codes)[:, knn.features].astype(np.int64)
    out = np.empty(query.shape[0], dtype=np.int64)
    for r, q in enumerate(query):
        diff = np.abs(train - q)
        dist = diff.sum(axis=1) if knn.p == 1 else (diff * diff).sum(axis=1)
        values, indices = [np.inf] * knn.k, [0] * knn.k
        for i in range(dist.size):
            _heap_push(values, indices, float(dist[i]), int(i))
        counts = np.bincount(knn.labels[indices], minlength=n_classes)
        out[r] = int(np.argmax(counts))
    return out


def vote_reference(
    votes: np.ndarray, probas: list[np.ndarray], voting: str = "hard"
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of the combine step, one row at a time.

    ``votes``: (n_members, n_rows) class indices; ``probas``: each member's (n_rows, n_classes)
    probabilities in pipeline classes. Soft: argmax of the mean (first maximum). Hard:
    ``(votes + summed / 4) / (1.25 n_members)`` and its argmax (most votes, then the highest
    summed probability, then the lowest class index).
    """
    votes = np.asarray(votes)
    n_members, n_rows = votes.shape
    summed = np.zeros_like(probas[0], dtype=np.float64)
    for p in probas:
        summed += p
    if voting == "soft":
        mean = summed / n_members
        return np.argmax(mean, axis=1), mean
    refined = np.empty_like(summed)
    for r in range(n_rows):
        for c in range(summed.shape[1]):
            n_votes = float(np.sum(votes[:, r] == c))
            refined[r, c] = (n_votes + 0.25 * summed[r, c]) / (1.25 * n_members)
    return np.argmax(refined, axis=1), refined
