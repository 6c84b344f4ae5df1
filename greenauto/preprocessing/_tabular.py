"""TabularEncoder: turn a pandas frame (or any 2-D array) into float64 numbers the Binner takes.

Numeric and boolean columns pass through as float64. Text, categorical and other object
columns become ordinal codes 0, 1, 2, ... in the sorted order of their categories, with
missing values as NaN (the Binner then gives them a bin of their own). Categories never seen
in fit are an error naming the column and the values, or NaN with ``handle_unknown="missing"``.

A DataFrame is encoded in one compiled call (``_kernels.encode_columns``): numeric columns
are converted where they lie, text columns are mapped to codes through a hash table of the
fitted categories (each distinct string object looked up once per call), pandas categorical
columns through their own codes. Anything else (numbers stored as objects, mixed objects)
takes the column-by-column pandas path below, with the same result.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from greenauto._native import FramePlan, StringCategories, encode_arrow_text, encode_columns

__all__ = ["TabularEncoder"]


#: Integers beyond this are not all exactly representable in float64.
_EXACT_INT = 2**53
#: A numeric-looking text column with at most this share of non-numbers is a typo, not text.
_STRAY_SHARE = 0.05


def _pandas(X: Any) -> Any:
    """polars and pyarrow tables as pandas DataFrames (column names kept); else ``X``."""
    if not isinstance(X, pd.DataFrame) and callable(getattr(X, "to_pandas", None)):
        return X.to_pandas()
    return X


def _as_frame(X: Any, estimator: BaseEstimator) -> pd.DataFrame:
    """A DataFrame view of ``X`` (dates and durations as int64 nanoseconds); anything else
    goes through scikit-learn's ``check_array`` (so sparse, complex and 1-D input get its
    usual errors)."""
    X = _pandas(X)
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0 or X.shape[1] == 0:
            what = "sample(s)" if X.shape[0] == 0 else "feature(s)"
            raise ValueError(
                f"X has 0 {what} (shape={X.shape}); at least 1 row and 1 column are needed."
            )
        return _dates_as_numbers(X)
    arr = check_array(X, dtype=None, ensure_all_finite=False, estimator=estimator)
    if np.iscomplexobj(arr):
        raise ValueError("Complex data not supported.")
    return pd.DataFrame(arr)


def _dates_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    kinds = [getattr(t, "kind", "O") for t in frame.dtypes]
    if "M" not in kinds and "m" not in kinds:
        return frame
    frame = frame.copy()
    for j, kind in enumerate(kinds):
        if kind in "Mm":
            col = frame.iloc[:, j]
            frame.isetitem(j, col.astype("int64").astype(np.float64).where(col.notna()))
    return frame


def _check_column(name: str, col: pd.Series) -> None:
    """Refuse a numeric column with a few stray strings; warn of integers float64 rounds."""
    if col.dtype == object:
        numbers = pd.to_numeric(col, errors="coerce")
        stray = numbers.isna() & col.notna()
        n_values = int(col.notna().sum())
        if 0 < stray.sum() <= _STRAY_SHARE * n_values:
            seen = pd.unique(col[stray].astype(str))[:5].tolist()
            raise ValueError(
                f"Column {name!r} holds numbers and {int(stray.sum())} non-numeric value(s) "
                f"{seen} (first at row {int(np.flatnonzero(stray)[0])}): replace them with "
                'NaN if they mean missing, or convert the column with .astype("category") to '
                "treat it as categories."
            )
    elif col.dtype.kind in "iu" and col.size:
        big = col[(col > _EXACT_INT) | (col < -_EXACT_INT)]
        if big.size:
            exact = col.nunique()
            rounded = col.astype(np.float64).nunique()
            warnings.warn(
                f"Column {name!r} holds integers beyond 2**53 (e.g. {int(big.iloc[0])}) that "
                f"float64 cannot all represent: its {exact} distinct values become {rounded}. "
                "Convert it to text if it is an identifier.",
                UserWarning,
                stacklevel=4,
            )


def _is_numeric(col: pd.Series) -> bool:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return not pd.api.types.is_complex_dtype(col.dtype)
    if col.dtype == object:  # numbers stored as objects (e.g. from np.asarray of mixed input)
        converted = pd.to_numeric(col, errors="coerce")
        return bool((converted.notna() | col.isna()).all())
    return False


def _column_arrays(frame: pd.DataFrame, n_columns: int) -> list[Any]:
    """The frame's columns as arrays, without building a Series per column where pandas
    allows: from its blocks (``DataFrame._mgr``: column j is row ``blklocs[j]`` of block
    ``blknos[j]``, or that whole block when it is 1-D), else ``DataFrame._iter_column_arrays``
    (pandas 1.3 to 3.x), else the public path."""
    mgr = getattr(frame, "_mgr", None)
    try:
        blocks = mgr.blocks
        out = []
        for k, i in zip(mgr.blknos.tolist(), mgr.blklocs.tolist(), strict=True):
            values = blocks[k].values
            out.append(values[i] if values.ndim == 2 else values)
        if len(out) == n_columns:
            return out
    except (AttributeError, IndexError, TypeError, ValueError):
        pass  # another pandas layout: the paths below
    iterate = getattr(frame, "_iter_column_arrays", None)
    if iterate is not None:
        return list(iterate())
    return [frame.iloc[:, j].array for j in range(frame.shape[1])]


def _frame_layout(frame: pd.DataFrame) -> tuple[list[Any], Any, Any]:
    """Where each column of the frame lies, for FramePlan.encode: pandas' blocks and, per
    column, its block and row (``DataFrame._mgr``: no public accessor is as cheap: a column
    through ``items()`` costs ~15 us in pandas 3, the block manager ~0.1 us); else the column
    arrays themselves, one per "block"."""
    mgr = getattr(frame, "_mgr", None)
    try:
        return [b.values for b in mgr.blocks], mgr.blknos, mgr.blklocs
    except AttributeError:
        p = frame.shape[1]
        return _column_arrays(frame, p), np.arange(p, dtype=np.intp), np.zeros(p, np.intp)


def _is_arrow_text(a: Any) -> bool:
    """Whether a column is one of pandas' text arrays stored in pyarrow."""
    return hasattr(a, "__arrow_array__") and getattr(a.dtype, "storage", "") == "pyarrow"


#: numpy dtypes encode_columns converts itself (native byte order).
_NUMPY_NUMBERS = frozenset(np.dtype(c) for c in "?bBhHiIlLqQfd")


def _numeric_input(a: Any) -> np.ndarray | None:
    """A numeric column as encode_columns takes it (None: pandas path)."""
    if isinstance(a, np.ndarray):
        return a if a.dtype in _NUMPY_NUMBERS else None
    dtype = getattr(a, "dtype", None)
    if isinstance(a, pd.api.extensions.ExtensionArray) and getattr(dtype, "kind", "?") in "biuf":
        return a.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable Int64, Float64, boolean
    return None


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

    #: Per-fit caches (rebuilt on use, never pickled).
    _CACHES: ClassVar[tuple[str, ...]] = ("_tables", "_remap", "_columns_index", "_plans")

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
        X = _pandas(X)
        frame = _as_frame(X, self)
        for cache in self._CACHES:  # compiled tables and plans of an earlier fit
            self.__dict__.pop(cache, None)
        self.n_features_in_ = frame.shape[1]
        names = [str(c) for c in frame.columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"X repeats column names: {repeated[:5]} (each twice or more); columns are "
                "matched by name at predict, so give every column its own name."
            )
        named = isinstance(X, pd.DataFrame)
        self._columns = list(frame.columns) if named else None
        if named and all(isinstance(c, str) for c in frame.columns):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.categories_ = {}
        for j in range(frame.shape[1]):
            col = frame.iloc[:, j]
            _check_column(names[j], col)
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
        return self.encode(X)

    def encode(self, X: Any, columns: Any = None) -> np.ndarray:
        """:meth:`transform` without scikit-learn's output wrapping (``set_output``): always
        an ndarray, one Python call less per batch (what a compiled model calls).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)
            As for :meth:`transform`.
        columns : tuple of int, default=None
            The columns whose values the caller reads (a compiled model: those its members
            use). Every column's name and type is still checked against fit; from a DataFrame,
            the values of the others may be left as NaN, unread (so a category never seen in
            fit raises only in a column that is read). ``None``: all.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features_in_), dtype=float64
        """
        if not hasattr(self, "categories_"):
            check_is_fitted(self)
        if (
            not self.categories_
            and type(X) is np.ndarray
            and X.dtype.kind == "f"
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
        ):  # what check_array checks of such an array (it costs ~80 us a call, in scikit-learn)
            return X if X.dtype == np.float64 else X.astype(np.float64)
        X = _pandas(X)
        if isinstance(X, pd.DataFrame):
            fast = self._transform_frame(X, columns)
            if fast is not None:
                return fast
        if not self.categories_ and isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
            X = check_array(X, dtype=np.float64, ensure_all_finite=False, estimator=self)
            self._check_columns(pd.DataFrame(X[:0]), X)
            return X  # all-numeric array: nothing to encode (no copy for float64 input)
        return self._transform_columns(_as_frame(X, self), X)

    def _transform_columns(self, frame: pd.DataFrame, X: Any) -> np.ndarray:
        """The pandas path: any frame, column by column where needed."""
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

    def _transform_frame(self, frame: pd.DataFrame, columns: Any = None) -> np.ndarray | None:
        """The compiled path for a DataFrame, or None where only the pandas path applies."""
        n, p = frame.shape
        if p != self.n_features_in_ or n == 0 or not self._same_columns(frame):
            return None  # the pandas path names what differs (dates: _numeric_input sends
            # them there too, where they become numbers)
        out = np.empty((n, p), dtype=np.float64, order="F")
        found = self._frame_plan(columns).encode(out, *_frame_layout(frame), pd.NA)
        if found is None:
            found = self._frame_plan(columns).encode(
                out, _column_arrays(frame, p), np.arange(p, dtype=np.intp), np.zeros(p, np.intp),
                pd.NA,
            )  # fmt: skip
        unknown, pending = found
        coded: list[int] = []  # categorical columns through their own codes (-1: unknown)
        if pending:
            more = self._encode_pending(out, _column_arrays(frame, p), pending, coded)
            if more is None:
                return None
            unknown += more
        for j in sorted(set(unknown).union(coded)):
            mask = out[:, j] == -1.0
            if mask.any():
                self._unknown(j, frame.iloc[:, j], mask)
                out[mask, j] = np.nan
        return out

    def _frame_plan(self, columns: Any) -> FramePlan:
        """The compiled reading plan of a DataFrame for these used columns (kept per set)."""
        plans = self.__dict__.setdefault("_plans", {})
        plan = plans.get(columns)
        if plan is None:
            p = self.n_features_in_
            tables = self._string_tables()
            kinds = [0 if j not in self.categories_ else 1 if j in tables else 2 for j in range(p)]
            used = set(range(p)) if columns is None else {int(j) for j in columns}
            plan = FramePlan(
                kinds, [tables.get(j) for j in range(p)], [j in used for j in range(p)],
                pd.arrays.ArrowStringArray, pd.Categorical,
            )  # fmt: skip
            plans[columns] = plan
        return plan

    def _encode_pending(
        self, out: np.ndarray, arrays: list[Any], pending: list[int], coded: list[int]
    ) -> list[int] | None:
        """Columns FramePlan left (nullable numbers, pandas categoricals, Python-stored text,
        Arrow text of another type) into out; returns the columns with unknown categories, or
        None where only the pandas path applies."""
        tables = self._string_tables()
        p = out.shape[1]
        inputs: list[Any] = [None] * p
        kinds: list[Any] = [None] * p
        unknown: list[int] = []
        for j in pending:
            a = arrays[j]
            if j not in self.categories_:
                inputs[j] = _numeric_input(a)
            elif _is_arrow_text(a) and j in tables:
                found = encode_arrow_text(out, [j], [tables[j]], [a.__arrow_array__()])
                if found is None:
                    return None  # text in another Arrow type: the pandas path
                unknown += found
                continue
            else:
                inputs[j], kinds[j] = self._categorical_input(j, a, tables.get(j))
                if kinds[j] is None:
                    coded.append(j)
            if inputs[j] is None:
                return None
        try:
            unknown += encode_columns(out, inputs, kinds, pd.NA)
        except TypeError:  # an object that is neither text nor missing
            return None
        return unknown

    def _same_columns(self, frame: pd.DataFrame) -> bool:
        """Whether the frame has fit's column names in fit's order (always, when fit saw no
        names): one comparison of the column indexes, not a list of names per call."""
        fitted = getattr(self, "_columns", None)
        if fitted is None:
            return True
        index = self.__dict__.get("_columns_index")
        if index is None:
            index = self._columns_index = pd.Index(fitted, dtype=object, tupleize_cols=False)
        columns = frame.columns
        if columns is index or columns.equals(index):  # elementwise ==, as lists compare
            self._columns_index = columns  # the next frame with these columns: one identity test
            return True
        return False

    def _categorical_input(self, j: int, a: Any, table: Any) -> tuple[Any, Any]:
        """What encode_columns takes for categorical column j (None: pandas path)."""
        if isinstance(a, pd.Categorical):
            return self._categorical_codes(j, a), None
        if table is None:
            return None, None
        if isinstance(a, np.ndarray):
            return (a, table) if a.dtype == object else (None, None)
        if isinstance(a, pd.api.extensions.ExtensionArray) and a.dtype.kind in "OSU":
            return np.asarray(a, dtype=object), table  # text arrays: no copy for python storage
        return None, None

    def _categorical_codes(self, j: int, a: pd.Categorical) -> np.ndarray:
        """Fitted codes of a pandas categorical column, from its own codes (-1: unknown)."""
        cache = self.__dict__.setdefault("_remap", {})
        key = (j, a.dtype)
        remap = cache.get(key)
        if remap is None:
            pos = pd.Index(self.categories_[j]).get_indexer(np.asarray(a.categories, object))
            remap = np.append(pos.astype(np.float64), np.nan)  # code -1 (missing) -> NaN
            cache[key] = remap
        return remap[a.codes]

    def _string_tables(self) -> dict[int, Any]:
        """Compiled lookup tables of the columns whose categories are all strings."""
        tables = self.__dict__.get("_tables")
        if tables is None:
            tables = {
                j: StringCategories(cats.tolist())
                for j, cats in self.categories_.items()
                if all(isinstance(c, str) for c in cats)
            }
            self._tables = tables
        return tables

    def _unknown(self, j: int, col: pd.Series, mask: np.ndarray) -> None:
        """Raise for categories never seen in fit (unless handle_unknown='missing')."""
        if self.handle_unknown != "error":
            return
        seen = pd.unique(col[mask].astype(str))[:5].tolist()
        raise ValueError(
            f"Column {self._names[j]!r} has categories never seen in fit: {seen}"
            f"{' ...' if mask.sum() > 5 else ''}. Pass handle_unknown='missing' to "
            "treat them as missing values."
        )

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for cache in self._CACHES:  # compiled tables and plans are rebuilt from categories_
            state.pop(cache, None)
        return state

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
        if unknown.any():
            self._unknown(j, col, unknown)
        codes[codes < 0] = np.nan
        return codes

    def _check_columns(self, frame: pd.DataFrame, X: Any) -> None:
        """Match a DataFrame's columns to fit's by name (any hashable names, compared as
        themselves, so 1 and "1" differ); anything else by count."""
        fitted = getattr(self, "_columns", None)
        if fitted is None and hasattr(self, "feature_names_in_"):
            fitted = list(self.feature_names_in_)  # a model pickled before _columns existed
        if fitted is not None and isinstance(X, pd.DataFrame):
            got = list(frame.columns)
            if got != fitted:
                missing = [c for c in fitted if c not in got]
                extra = [c for c in got if c not in fitted]
                detail = (
                    f"missing {missing}, unexpected {extra}"
                    if missing or extra
                    else "same names in another order"
                )
                raise ValueError(f"X's columns differ from those seen in fit: {detail}.")
            return
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but greenauto is expecting "
                f"{self.n_features_in_} features as input (the columns seen in fit)."
            )

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
