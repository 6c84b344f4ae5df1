"""FeatureSelector: keep the k best-scoring columns (ANOVA F, mutual info, tree importance)."""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.feature_selection import SelectorMixin, f_classif, mutual_info_classif
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["FeatureSelector"]

# The importance forest is deliberately small: scoring must cost far less than the search
# it feeds. 50 depth-limited trees rank features stably on the datasets we target.
_TREE_SCORER_PARAMS: dict[str, Any] = {"n_estimators": 50, "max_depth": 8, "n_jobs": 1}


class FeatureSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` columns that score best against the class labels.

    Scores are computed on a copy of ``X`` in which every NaN is replaced by its column's
    median (an all-NaN column becomes 0), so missing values never fail a scorer. Columns with
    a single value get score 0 under every method. Ties are broken by column order: among
    equal scores the lower column index is kept first, so the selection is deterministic.

    Parameters
    ----------
    method : {"none", "anova", "mutual_info", "tree_importance"}, default="anova"
        ``"none"``: keep every column (``k`` is ignored, ``scores_`` is all zeros).
        ``"anova"``: ANOVA F statistic (:func:`~sklearn.feature_selection.f_classif`).
        ``"mutual_info"``: :func:`~sklearn.feature_selection.mutual_info_classif`; columns
        are treated as discrete when ``X`` has an integer dtype (bin codes from
        :class:`~greenauto.Binner`, where NaN already has a code of its own), else as
        continuous. ``"tree_importance"``: impurity importances of a small
        :class:`~sklearn.ensemble.ExtraTreesClassifier` (50 trees of depth <= 8, one thread).
    k : int or float, default=0.5
        An int ``>= 1`` keeps that many columns (all of them, with a warning, if ``X`` has
        fewer); a float in ``(0, 1]`` keeps that fraction of the columns, rounded up, at
        least one. ``1`` keeps one column, ``1.0`` keeps them all.
    random_state : int, RandomState instance or None, default=None
        Seeds ``"mutual_info"`` (its jitter of continuous columns) and ``"tree_importance"``.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features_in_,), dtype=float64
        Score of every column (higher is better; finite or ``+inf``, never NaN).
    selected_columns_ : ndarray of shape (n_selected,), dtype=int64
        Indices of the kept columns, sorted in their original order.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.feature_selection.SelectKBest : The same idea with one score function and no NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from greenauto.preprocessing import FeatureSelector
    >>> X = np.array([[0.0, 5.0, 1.0], [1.0, 5.0, 0.0], [0.0, 5.0, 1.0], [1.0, 5.0, 0.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> selector = FeatureSelector(method="anova", k=2).fit(X, y)
    >>> selector.selected_columns_
    array([0, 2])
    >>> selector.transform(X).shape
    (4, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "method": [StrOptions({"none", "anova", "mutual_info", "tree_importance"})],
        "k": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method: str = "anova",
        *,
        k: int | float = 0.5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.method = method
        self.k = k
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> FeatureSelector:
        """Score every column and keep the best ``k``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data; NaN is allowed (+/-inf is not).
        y : array-like of shape (n_samples,) or None
            Class labels. Needed by every method except ``"none"``, which ignores it.

        Returns
        -------
        self : FeatureSelector
            The fitted selector.
        """
        if self.method == "none":  # y is not looked at
            X = validate_data(self, X, dtype="numeric", ensure_all_finite="allow-nan")
            self.scores_ = np.zeros(X.shape[1])
            self.selected_columns_ = np.arange(X.shape[1], dtype=np.int64)
            return self
        X, y = validate_data(self, X, y, dtype="numeric", ensure_all_finite="allow-nan")
        check_classification_targets(y)
        n_classes = np.unique(y).size
        if n_classes < 2:
            raise ValueError(
                f"FeatureSelector with method={self.method!r} needs y with at least 2 "
                f"classes; got {n_classes} class."
            )
        n_features = X.shape[1]
        self.scores_ = self._score(X, y)
        n_keep = self._n_to_keep(n_features)
        # lexsort: last key is primary -> highest score first, then lowest column index.
        order = np.lexsort((np.arange(n_features), -self.scores_))
        self.selected_columns_ = np.sort(order[:n_keep]).astype(np.int64)
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self)
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.selected_columns_] = True
        return mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.required = self.method != "none"
        return tags

    def _n_to_keep(self, n_features: int) -> int:
        k = self.k
        if isinstance(k, Integral):
            if k > n_features:
                warnings.warn(
                    f"k={k} of FeatureSelector is larger than the {n_features} features of X; "
                    "all features are kept.",
                    UserWarning,
                    stacklevel=4,  # the caller of fit, above sklearn's _fit_context wrapper
                )
            return min(int(k), n_features)
        # round() first: 0.3 * 10 is 3.0000000000000004 in floating point, which must be 3.
        return max(1, math.ceil(round(float(k) * n_features, 9)))

    def _score(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        discrete = np.issubdtype(X.dtype, np.integer) or X.dtype == bool
        Xf = _median_imputed(X)
        constant = np.ptp(Xf, axis=0) == 0 if Xf.shape[0] else np.ones(Xf.shape[1], bool)
        scores = np.zeros(X.shape[1])
        live = np.flatnonzero(~constant)
        if live.size == 0:
            return scores
        Xl = Xf[:, live]
        with warnings.catch_warnings():
            # f_classif divides by a zero within-class variance for perfectly separating
            # columns (-> inf, a valid "best" score); nothing else can warn here.
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.method == "anova":
                raw = f_classif(Xl, y)[0]
            elif self.method == "mutual_info":
                raw = mutual_info_classif(
                    Xl, y, discrete_features=discrete, random_state=self.random_state
                )
            else:
                forest = ExtraTreesClassifier(
                    **_TREE_SCORER_PARAMS, random_state=self.random_state
                ).fit(Xl, y)
                raw = forest.feature_importances_
        scores[live] = np.nan_to_num(np.asarray(raw, dtype=np.float64), nan=0.0, posinf=np.inf)
        return scores


def _median_imputed(X: np.ndarray) -> np.ndarray:
    """Float64 copy of ``X`` with each NaN replaced by its column's median (0 if all NaN)."""
    Xf = np.array(X, dtype=np.float64)
    missing = np.isnan(Xf)
    if not missing.any():
        return Xf
    cols = np.flatnonzero(missing.any(axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        medians = np.nanmedian(Xf[:, cols], axis=0)
    medians = np.nan_to_num(medians, nan=0.0)
    rows, where = np.nonzero(missing[:, cols])
    Xf[rows, cols[where]] = medians[where]
    return Xf
