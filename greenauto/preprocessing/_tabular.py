"""TabularEncoder: turn a pandas frame (or any 2-D array) into float64 numbers the Binner takes.

Numeric and boolean columns pass through as float64. Text, categorical and other object
columns become ordinal codes 0, 1, 2, ... in the sorted order of their categories, with
missing values as NaN (the Binner then gives them a bin of their own). Categories never seen
in fit are an error naming the column and the values, or NaN with ``handle_unknown="missing"``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["TabularEncoder"]


def _as_frame(X: Any, estimator: BaseEstimator) -> pd.DataFrame:
    """A DataFrame view of ``X``; anything else goes through scikit-learn's ``check_array``
    (so sparse, complex, 1-D and empty input get scikit-learn's usual errors)."""
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0 or X.shape[1] == 0:
            check_array(np.empty(X.shape), estimator=estimator)  # the standard message
        return X
    arr = check_array(X, dtype=None, ensure_all_finite=False, estimator=estimator)
    if np.iscomplexobj(arr):
        raise ValueError("Complex data not supported.")
    return pd.DataFrame(arr)


def _is_numeric(col: pd.Series) -> bool:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return not pd.api.types.is_complex_dtype(col.dtype)
    if col.dtype == object:  # numbers stored as objects (e.g. from np.asarray of mixed input)
        converted = pd.to_numeric(col, errors="coerce")
        return bool((converted.notna() | col.isna()).all())
    return False


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Encode mixed-type tabular data as float64: numbers as they are, categories as codes.

    Parameters
    ----------
    handle_unknown : {"error", "missing"}, default="error"
        What to do with a category at :meth:`transform` that :meth:`fit` never saw: raise a
        ``ValueError`` naming the column and the values, or encode it as missing (NaN).

    Attributes
    ----------
    categories_ : dict of int to ndarray
        For each categorical column (by position), its categories in code order.
    n_features_in_ : int
        Number of columns seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Column names seen in :meth:`fit`, when they are all strings.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"size": [1.5, 2.0, None], "colour": ["red", "blue", None]})
    >>> TabularEncoder().fit_transform(X)
    array([[1.5, 1. ],
           [2. , 0. ],
           [nan, nan]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "handle_unknown": [StrOptions({"error", "missing"})],
    }

    def __init__(self, handle_unknown: str = "error") -> None:
        self.handle_unknown = handle_unknown

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> TabularEncoder:
        """Learn which columns are categorical and their categories.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The data, with any mix of numeric, boolean, text and categorical columns.
        y : None
            Ignored.

        Returns
        -------
        self : TabularEncoder
        """
        frame = _as_frame(X, self)
        self.n_features_in_ = frame.shape[1]
        names = [str(c) for c in frame.columns]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in frame.columns):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.categories_ = {}
        for j in range(frame.shape[1]):
            col = frame.iloc[:, j]
            if col.isna().all():
                warnings.warn(
                    f"Column {names[j]!r} has only missing values; it carries no information.",
                    UserWarning,
                    stacklevel=3,
                )
            if not _is_numeric(col):
                values = col.dropna()
                if isinstance(col.dtype, pd.CategoricalDtype):
                    cats = np.asarray(col.cat.categories, dtype=object)
                else:
                    cats = np.asarray(sorted(values.unique(), key=str), dtype=object)
                self.categories_[j] = cats
        self._names = names
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Encode ``X`` as float64 (rows x columns).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)
            Same columns as in :meth:`fit` (same names, same order for a DataFrame).

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features_in_), dtype=float64
        """
        check_is_fitted(self)
        if not self.categories_ and isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
            X = check_array(X, dtype=np.float64, ensure_all_finite=False, estimator=self)
            self._check_columns(pd.DataFrame(X[:0]), X)
            return X  # all-numeric array: nothing to encode (no copy for float64 input)
        frame = _as_frame(X, self)
        self._check_columns(frame, X)
        numeric = [j for j in range(frame.shape[1]) if j not in self.categories_]
        try:  # one block conversion for every numeric column (the per-call cost of predict)
            if not self.categories_:
                return frame.to_numpy(dtype=np.float64)
            out = np.empty(frame.shape, dtype=np.float64)
            out[:, numeric] = frame.iloc[:, numeric].to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            for j in numeric:  # find the column to name in the error
                self._numeric(j, frame.iloc[:, j])
            raise
        for j in self.categories_:
            out[:, j] = self._codes(j, frame.iloc[:, j])
        return out

    def _numeric(self, j: int, col: pd.Series) -> np.ndarray:
        try:
            return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"Column {self._names[j]!r} was numeric in fit but holds non-numeric "
                f"values now ({exc})."
            ) from None

    def _codes(self, j: int, col: pd.Series) -> np.ndarray:
        cats = self.categories_[j]
        index = pd.Index(cats)
        codes = index.get_indexer(col.astype(object).where(col.notna(), None)).astype(float)
        unknown = (codes < 0) & col.notna().to_numpy()
        if unknown.any() and self.handle_unknown == "error":
            seen = pd.unique(col[unknown].astype(str))[:5].tolist()
            raise ValueError(
                f"Column {self._names[j]!r} has categories never seen in fit: {seen}"
                f"{' ...' if unknown.sum() > 5 else ''}. Pass handle_unknown='missing' to "
                "treat them as missing values."
            )
        codes[codes < 0] = np.nan
        return codes

    def _check_columns(self, frame: pd.DataFrame, X: Any) -> None:
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but TabularEncoder is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and isinstance(X, pd.DataFrame):
            got = [str(c) for c in frame.columns]
            if got != list(fitted):
                missing = [c for c in fitted if c not in got]
                extra = [c for c in got if c not in set(fitted)]
                detail = (
                    f"missing {missing}, unexpected {extra}"
                    if missing or extra
                    else ("same names in another order")
                )
                raise ValueError(f"X's columns differ from those seen in fit: {detail}.")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names (one output column per input column)."""
        check_is_fitted(self)
        return np.asarray(self._names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
