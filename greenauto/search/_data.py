"""The data of a search: validation folds (holdout or stratified k-fold, rare classes kept for
training only) and the fixed reference batch inference energy is measured on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

__all__ = [
    "CV_BELOW_ROWS",
    "OPS_ROWS",
    "REFERENCE_ROWS",
    "SearchData",
    "is_splitter",
    "make_search_data",
    "stratified_folds",
]

#: Rows of the fixed reference batch inference energy is measured on.
REFERENCE_ROWS = 1000
#: Rows of the reference batch operations per row are counted on (a mean: the numpy count of
#: node visits costs far more than the kernel, and 200 rows give it to about a percent).
OPS_ROWS = 200
#: Below this many rows ``validation="auto"`` validates by stratified k-fold, not a holdout.
CV_BELOW_ROWS = 1000

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class SearchData:
    """Encoded data of a search: training folds, validation folds and the reference batch.

    ``folds`` holds ``(train_index, val_index)`` pairs: one for a holdout split, k for CV.
    ``raw_ref`` is the reference batch as the user gave it (a DataFrame slice, say) and
    ``encode`` turns such rows into ``X``'s columns: inference energy is measured on
    ``encode`` then the compiled model, the path a user's ``predict`` takes. Without them it
    is measured on the encoded ``X_ref``.
    """

    X: np.ndarray
    y: np.ndarray
    folds: Folds
    X_ref: np.ndarray
    n_classes: int
    raw_ref: Any = None
    encode: Callable[[Any], np.ndarray] | None = None


def stratified_folds(y: np.ndarray, n_splits: int | str, seed: int) -> tuple[Folds, np.ndarray]:
    """Stratified validation folds of class indices ``y``, and the classes left out of them.

    Parameters
    ----------
    y : ndarray of int
        Class indices ``0 .. n_classes - 1``.
    n_splits : int or "holdout"
        ``k`` for stratified k-fold; ``"holdout"`` for one 25 % stratified validation split.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    folds : list of (train, val) index arrays, sorted
        Rows of a class with fewer rows than the split needs (``k``, or 2 for a holdout) are in
        every training fold and in no validation fold.
    rare : ndarray of int
        Those classes.

    Raises
    ------
    ValueError
        When every class is that rare.
    """
    k = 2 if n_splits == "holdout" else int(n_splits)
    counts = np.bincount(y)
    rare = np.flatnonzero(counts < k)
    if rare.size == counts.size:
        raise ValueError(
            f"Too few rows to validate: every class has fewer than {k} rows (counts "
            f"{counts.tolist()}); the {n_splits!r} split needs {k} rows of at least one class."
        )
    is_rare = np.isin(y, rare)
    always_train, rows = np.flatnonzero(is_rare), np.flatnonzero(~is_rare)
    if n_splits == "holdout":
        test_size = max(0.25, (counts.size - rare.size) / rows.size)
        train, val = train_test_split(
            rows, test_size=test_size, stratify=y[rows], random_state=seed
        )
        splits = [(train, val)]
    else:
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        splits = [(rows[tr], rows[va]) for tr, va in cv.split(rows, y[rows])]
    folds = [(np.sort(np.concatenate([tr, always_train])), np.sort(va)) for tr, va in splits]
    return folds, rare


def make_search_data(
    X: np.ndarray,
    y: np.ndarray,
    *,
    validation: Any,
    seed: int,
    labels: Sequence[object],
    split_params: dict[str, Any] | None = None,
    raw: Any = None,
    encode: Callable[[Any], np.ndarray] | None = None,
) -> SearchData:
    """Split the encoded data for a search.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
        Class indices.
    validation : "auto", "holdout", int or CV splitter
        ``"auto"``: 3-fold below ``CV_BELOW_ROWS`` rows, else a holdout. A splitter's folds
        are used as they are (every training fold must hold every class).
    seed : int
    labels : sequence
        Class labels, to name rare classes in the warning.
    split_params : dict, optional
        Passed to a splitter's ``split`` (``groups``).
    raw, encode : optional
        The data as the user gave it (rows aligned with ``X``) and the function that encodes
        it: the reference batch is then measured end to end (see `SearchData`).

    Returns
    -------
    data : SearchData
        The reference batch is the first ``REFERENCE_ROWS`` validation rows of the first fold.
    """
    if is_splitter(validation):
        folds = _splitter_folds(validation, X, y, labels, split_params or {})
    else:
        folds = _stratified(y, validation, seed, labels)
    ref = folds[0][1][:REFERENCE_ROWS]
    raw_ref = None if raw is None or encode is None else _rows(raw, ref)
    return SearchData(
        X,
        y,
        folds,
        np.ascontiguousarray(X[ref]),
        len(labels),
        raw_ref,
        encode if raw_ref is not None else None,
    )


def _rows(data: Any, rows: np.ndarray) -> Any:
    """Rows of the user's data, in its own container (DataFrame rows by position)."""
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    return np.asarray(data)[rows] if not isinstance(data, np.ndarray) else data[rows]


def _stratified(y: np.ndarray, validation: str | int, seed: int, labels: Sequence[object]
                ) -> Folds:  # fmt: skip
    """The search's own stratified folds (holdout or k-fold), rare classes named."""
    if validation == "auto":
        validation = 3 if y.shape[0] < CV_BELOW_ROWS else "holdout"
    folds, rare = stratified_folds(y, validation, seed)
    if rare.size:
        names = ", ".join(_label(labels[c]) for c in rare[:5])
        k = 2 if validation == "holdout" else validation
        warnings.warn(
            f"Class(es) {names} have fewer than {k} rows: they are used for training only, "
            "never for validation.",
            UserWarning,
            stacklevel=6,
        )
    return folds


def is_splitter(validation: Any) -> bool:
    """Whether ``validation`` is a scikit-learn CV splitter (not a name or a fold count)."""
    return hasattr(validation, "split") and hasattr(validation, "get_n_splits")


def _splitter_folds(
    splitter: Any, X: np.ndarray, y: np.ndarray, labels: Sequence[object], params: dict
) -> Folds:
    """A user splitter's folds, checked: each has validation rows, and every class among its
    training rows (each candidate predicts every class)."""
    folds = [(np.sort(tr), np.sort(va)) for tr, va in splitter.split(X, y, **params)]
    if not folds:
        raise ValueError(f"The validation splitter {splitter!r} gave no fold.")
    n_classes = len(labels)
    for i, (train, val) in enumerate(folds):
        if val.size == 0:
            raise ValueError(f"Fold {i} of {splitter!r} has no validation row.")
        missing = np.setdiff1d(np.arange(n_classes), np.unique(y[train]))
        if missing.size:
            names = ", ".join(_label(labels[c]) for c in missing[:5])
            raise ValueError(
                f"Fold {i} of {splitter!r} has no training row of class(es) {names}: every "
                "training fold must hold every class."
            )
    return folds


def _label(value: object) -> str:
    """A class label as users wrote it (numpy scalars unwrapped)."""
    return repr(value.item() if isinstance(value, np.generic) else value)
