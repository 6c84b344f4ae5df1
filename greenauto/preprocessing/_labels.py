"""Class labels of a classification target: checked (missing values, mixed types, continuous
values, a single class) and encoded as indices ``0 .. n_classes - 1``; and a check that a
scorer can score such a target."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

__all__ = ["check_scoring_target", "encode_labels"]


def encode_labels(y: Any, *, estimator: str = "GreenAutoClassifier") -> LabelEncoder:
    """A `LabelEncoder` fitted on ``y`` after checking it is a usable target.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels: strings, integers, booleans (pandas nullable arrays included).
    estimator : str
        Named in the messages.

    Returns
    -------
    encoder : LabelEncoder
        ``encoder.classes_`` holds the labels; ``encoder.transform(y)`` the indices.

    Raises
    ------
    ValueError
        When ``y`` is None, holds missing labels (``None``, NaN, ``pd.NA``), mixes label
        types (``1`` and ``"1"``), holds continuous values, or has a single class; the
        message names the count, the types or the values.

    Examples
    --------
    >>> encode_labels(["b", "a", "b"]).classes_.tolist()
    ['a', 'b']
    """
    if y is None:
        raise ValueError(f"{estimator} requires y to be passed, but the target y is None.")
    y_arr = column_or_1d(y, warn=True)
    missing = np.asarray(pd.isna(y_arr), dtype=bool)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"y has {int(missing.sum())} missing label(s) (the first at row {first}: "
            f"{y_arr[first]!r}); drop those rows."
        )
    if y_arr.dtype == object:
        kinds = sorted({_kind(v) for v in y_arr})
        if len(kinds) > 1:
            examples = {_kind(v): v for v in y_arr}
            shown = ", ".join(f"{k} {examples[k]!r}" for k in kinds)
            raise ValueError(
                f"y mixes label types ({shown}); give every label the same type, e.g. "
                "y.astype(str)."
            )
    target = type_of_target(y_arr, input_name="y")
    if target == "continuous":
        raise ValueError(
            f"y holds continuous values (e.g. {y_arr[0]!r}); {estimator} is a classifier: "
            "give class labels (integers, strings or booleans)."
        )
    if target not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: y is a {target!r} target; {estimator} needs one class label "
            "per row."
        )
    encoder = LabelEncoder().fit(y_arr)
    if encoder.classes_.size < 2:
        only = encoder.classes_[0]
        only = only.item() if isinstance(only, np.generic) else only
        raise ValueError(f"y has 1 class ({only!r}); a classifier needs at least 2.")
    return encoder


def _kind(value: Any) -> str:
    """A label's type family: numbers of any width are one kind, and so are strings."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def check_scoring_target(
    scorer: Callable[..., float], y: np.ndarray, scoring: Any, *, rows: int = 2000
) -> None:
    """Refuse, before any search, a scorer that cannot score this target.

    The scorer is tried once on a constant-probability classifier (scikit-learn's
    ``DummyClassifier``) over at most ``rows`` rows: ``scoring="roc_auc"`` on three classes,
    say, fails there in microseconds instead of in every trial.

    Parameters
    ----------
    scorer : callable
        A scikit-learn scorer ``scorer(estimator, X, y)``.
    y : ndarray of shape (n_samples,)
        Class indices.
    scoring : str or callable
        What the user gave, named in the message.
    rows : int, default=2000
        Rows of ``y`` the scorer is tried on (every class is kept).

    Raises
    ------
    ValueError
        Naming ``scoring``, the number of classes and the scorer's own error.
    """
    y = np.asarray(y)
    keep = np.unique(y, return_index=True)[1]  # one row of every class, then the first rows
    sample = y[np.union1d(keep, np.arange(min(rows, y.size)))]
    X = np.zeros((sample.size, 1))
    dummy = DummyClassifier(strategy="prior").fit(X, sample)
    try:
        with warnings.catch_warnings():  # a constant classifier makes metrics warn
            warnings.simplefilter("ignore")
            scorer(dummy, X, sample)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"scoring={scoring!r} cannot score this target ({np.unique(y).size} classes): "
            f"{exc}. Choose a scorer for it (e.g. 'roc_auc_ovr' for several classes)."
        ) from None
