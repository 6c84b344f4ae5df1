"""Class labels of a classification target: checked (missing values, a single class) and
encoded as indices ``0 .. n_classes - 1``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

__all__ = ["encode_labels"]


def encode_labels(y: Any, *, estimator: str = "GreenAutoClassifier") -> LabelEncoder:
    """A `LabelEncoder` fitted on ``y`` after checking it is a usable target.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    estimator : str
        Named in the messages.

    Returns
    -------
    encoder : LabelEncoder
        ``encoder.classes_`` holds the labels; ``encoder.transform(y)`` the indices.

    Raises
    ------
    ValueError
        When ``y`` is None, holds missing labels, is not a classification target or has a
        single class.

    Examples
    --------
    >>> encode_labels(["b", "a", "b"]).classes_.tolist()
    ['a', 'b']
    """
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target y is None.")
    y_arr = column_or_1d(y, warn=True)
    n_missing = int(_missing_mask(y_arr).sum())
    if n_missing:
        raise ValueError(f"y has {n_missing} missing label(s); drop those rows.")
    check_classification_targets(y_arr)
    encoder = LabelEncoder().fit(y_arr)
    if encoder.classes_.size < 2:
        only = encoder.classes_[0]
        only = only.item() if isinstance(only, np.generic) else only
        raise ValueError(f"y has 1 class ({only!r}); a classifier needs at least 2.")
    return encoder


def _missing_mask(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype == object:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in y])
    return np.zeros(y.shape, dtype=bool)
