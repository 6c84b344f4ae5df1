"""Binner: quantise each feature to at most 255 ordinal bins, stored as uint8."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from greenauto._threading import effective_n_threads
from greenauto.exceptions import ConstantFeatureWarning
from greenauto.preprocessing._binning import (
    MAX_BINS,
    BinningKernel,
    full_edges,
    inner_edges,
    make_kernel,
)

__all__ = ["Binner"]


class Binner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Quantise each feature into at most 255 ordinal bins, stored as uint8.

    Edges are learned per feature; :meth:`transform` runs in one compiled call (GIL released)
    that can also pick a subset of columns, so that binning and feature selection cost one
    pass over the data.

    A value ``x`` of feature ``j`` goes to bin ``k`` where ``k`` is the number of inner edges
    ``<= x`` (exactly ``KBinsDiscretizer(encode="ordinal")`` for the same edges). ``-inf``
    goes to bin 0, ``+inf`` to the last bin, and NaN to bin ``n_bins_[j]``, a bin of its own.

    Parameters
    ----------
    n_bins : int or array-like of shape (n_features,), default=255
        Largest number of bins per feature, from 2 to 255 (NaN gets one more code). A feature
        with fewer distinct values gets fewer bins.
    strategy : {"quantile", "uniform"}, default="quantile"
        ``"quantile"``: bins hold about equal numbers of samples; a feature with at most
        ``n_bins`` distinct values gets one bin per value; edges lie halfway between
        neighbouring distinct values. ``"uniform"``: equal-width bins between the smallest and
        largest finite value.
    subsample : int or None, default=200_000
        Fit the edges on at most this many rows, drawn without replacement. ``None`` uses all.
    n_jobs : int or None, default=None
        Threads used by :meth:`transform`. ``None`` means 1, ``-1`` all cores.
    random_state : int, RandomState instance or None, default=None
        Seeds the row subsample.

    Attributes
    ----------
    bin_edges_ : ndarray of shape (n_features,), dtype=object
        Per feature, the edges in ``KBinsDiscretizer.bin_edges_`` form: smallest finite value,
        inner edges, largest finite value; ``[-inf, inf]`` for a constant feature.
    n_bins_ : ndarray of shape (n_features,), dtype=int64
        Number of bins per feature, not counting the NaN bin.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.preprocessing.KBinsDiscretizer : The float64, Python-per-column equivalent.

    Examples
    --------
    >>> import numpy as np
    >>> from greenauto import Binner
    >>> X = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 3.0], [3.0, 5.0]])
    >>> binner = Binner(n_bins=2).fit(X)
    >>> binner.n_bins_
    array([2, 2])
    >>> binner.transform(X)
    array([[0, 0],
           [0, 2],
           [1, 0],
           [1, 1]], dtype=uint8)
    >>> binner.transform_columns(X, [1])
    array([[0],
           [2],
           [0],
           [1]], dtype=uint8)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_bins": [Interval(Integral, 2, MAX_BINS, closed="both"), "array-like"],
        "strategy": [StrOptions({"quantile", "uniform"})],
        "subsample": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_bins: int | np.ndarray = 255,
        *,
        strategy: str = "quantile",
        subsample: int | None = 200_000,
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_bins = n_bins
        self.strategy = strategy
        self.subsample = subsample
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> Binner:
        """Learn the bin edges of every feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data; NaN and +/-inf are allowed.
        y : None
            Ignored.

        Returns
        -------
        self : Binner
            The fitted binner.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite=False)
        n_bins = self._validated_n_bins(X.shape[1])
        if self.subsample is not None and X.shape[0] > self.subsample:
            rng = check_random_state(self.random_state)
            X = X[rng.choice(X.shape[0], self.subsample, replace=False)]

        edges = np.empty(X.shape[1], dtype=object)
        for j in range(X.shape[1]):
            column = np.asarray(X[:, j], dtype=np.float64)
            inner = inner_edges(column, int(n_bins[j]), self.strategy)
            if inner.size == 0:
                warnings.warn(
                    f"Feature {self._feature_label(j)} has fewer than two distinct finite "
                    "values; it gets a single bin.",
                    ConstantFeatureWarning,
                    stacklevel=3,  # the caller of fit, above sklearn's _fit_context wrapper
                )
            edges[j] = full_edges(inner, column)
        self.bin_edges_ = edges
        self.n_bins_ = np.array([e.size - 1 for e in edges], dtype=np.int64)
        self._kernel = make_kernel(edges)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Bin every feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 or float64 data (other numeric types are converted to float64). C- or
            Fortran-ordered and strided arrays are read in place, without a copy.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features), dtype=uint8
            Bin indices; NaN becomes ``n_bins_[j]``.
        """
        return self.transform_columns(X, None)

    def transform_columns(self, X: Any, columns: Any = None) -> np.ndarray:
        """Bin the chosen columns only, in the same compiled pass (fused selection).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            As for :meth:`transform`: all ``n_features_in_`` columns.
        columns : array-like of int or of bool, default=None
            Indices into the columns of ``X`` (any order, repeats allowed), or a boolean mask
            of length ``n_features_in_``. ``None`` bins every column.

        Returns
        -------
        Xt : ndarray of shape (n_samples, len(columns)), dtype=uint8
            ``Xt[:, i]`` holds the bins of column ``columns[i]``.
        """
        if not hasattr(self, "bin_edges_"):
            check_is_fitted(self)
        if not (
            type(X) is np.ndarray
            and X.dtype in (np.float32, np.float64)
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        ):  # validate_data would check nothing more of such an array (at ~80 us a call)
            X = validate_data(
                self, X, dtype=[np.float64, np.float32], ensure_all_finite=False, reset=False
            )
        cols = self._validated_columns(columns)
        out = np.empty((X.shape[0], cols.size), dtype=np.uint8)
        self._get_kernel().transform(X, cols, out, effective_n_threads(self.n_jobs))
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_kernel", None)  # rebuilt from bin_edges_ on first use
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []  # output is uint8
        return tags

    def _get_kernel(self) -> BinningKernel:
        kernel = self.__dict__.get("_kernel")
        if kernel is None:
            kernel = self._kernel = make_kernel(self.bin_edges_)
        return kernel

    def _feature_label(self, j: int) -> str:
        names = getattr(self, "feature_names_in_", None)
        return f"{j} ({names[j]!r})" if names is not None else str(j)

    def _validated_n_bins(self, n_features: int) -> np.ndarray:
        if isinstance(self.n_bins, Integral):
            return np.full(n_features, int(self.n_bins), dtype=np.int64)
        n_bins = np.asarray(self.n_bins)
        if n_bins.shape != (n_features,):
            raise ValueError(
                f"n_bins of Binner must be an int or have shape ({n_features},) to match X; "
                f"got shape {n_bins.shape}."
            )
        if not np.issubdtype(n_bins.dtype, np.integer):
            raise ValueError(f"n_bins of Binner must hold integers; got dtype {n_bins.dtype}.")
        bad = np.flatnonzero((n_bins < 2) | (n_bins > MAX_BINS))
        if bad.size:
            j = int(bad[0])
            raise ValueError(
                f"n_bins of Binner must be in [2, {MAX_BINS}] for every feature; "
                f"feature {self._feature_label(j)} asks for {n_bins[j]}."
            )
        return n_bins.astype(np.int64)

    def _validated_columns(self, columns: Any) -> np.ndarray:
        n = self.n_features_in_
        if columns is None:
            return np.arange(n, dtype=np.int64)
        cols = np.asarray(columns)
        if cols.ndim != 1:
            raise ValueError(f"columns must be 1-D; got shape {cols.shape}.")
        if cols.dtype == bool:
            if cols.size != n:
                raise ValueError(
                    f"A boolean columns mask must have length n_features_in_={n}; got {cols.size}."
                )
            return np.flatnonzero(cols).astype(np.int64)
        if cols.size and not np.issubdtype(cols.dtype, np.integer):
            raise ValueError(f"columns must hold integer indices; got dtype {cols.dtype}.")
        cols = cols.astype(np.int64)
        bad = np.flatnonzero((cols < 0) | (cols >= n))
        if bad.size:
            raise ValueError(
                f"columns[{bad[0]}] = {cols[bad[0]]} is out of range for {n} features."
            )
        return np.ascontiguousarray(cols)
