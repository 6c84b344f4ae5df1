"""CompiledPipeline: binning, selection, 1 to 3 members and the hard vote in one C++ call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from greenauto._native import BinningKernel, CompiledPipelineKernel
from greenauto._threading import effective_n_threads
from greenauto.compiled._flatten import (
    FlatForest,
    KnnArrays,
    TableNBArrays,
    flatten_knn,
    flatten_nb,
    flatten_trees,
    model_classes,
)
from greenauto.compiled._reference import tree_visits
from greenauto.preprocessing import make_binning_kernel

__all__ = ["CompiledPipeline"]

#: Operations charged per selected feature for binning (two 16-wide compare stages).
BIN_OPS_PER_FEATURE = 2

_NB = ("CategoricalNB", "GaussianNB")
_KNN = ("KNeighborsClassifier",)


def member_kind(model: Any) -> str:
    """What the compiler does with a fitted member: ``"trees"``, ``"nb"`` or ``"knn"``."""
    name = type(model).__name__
    if name in _NB:
        return "nb"
    if name in _KNN:
        return "knn"
    if name == "Booster" or any(hasattr(model, a) for a in ("tree_", "estimators_", "booster_")):
        return "trees"
    raise TypeError(
        f"{name} is not a supported member: use a fitted scikit-learn tree, forest, "
        "CategoricalNB, GaussianNB, KNeighborsClassifier or a LightGBM model."
    )


def _binning_kernel(binner: Any) -> tuple[BinningKernel, np.ndarray]:
    """A kernel for the binner's edges (a fitted Binner's ``bin_edges_``, or the edges
    themselves) and the per-feature bin counts (without the NaN bin)."""
    edges = getattr(binner, "bin_edges_", binner)
    n_bins = np.array([len(e) - 1 for e in edges], dtype=np.int64)
    return make_binning_kernel(edges), n_bins


class CompiledPipeline:
    """Predict with binning, column selection and 1 to 3 voting members in one C++ call.

    Every batch goes through the extension once, with the GIL released: the selected columns
    of each block of rows are binned to uint8, every member predicts a class, and the class
    with most votes wins. **Tie-break**: the lowest class index among the most voted (as
    ``VotingClassifier(voting="hard")``); with two members that disagree, the lower class.

    Parameters
    ----------
    members : sequence of estimators or of (estimator, member_columns) pairs
        1 to 3 fitted members: ``DecisionTreeClassifier``, ``RandomForestClassifier``,
        ``ExtraTreesClassifier``, LightGBM ``Booster`` / ``LGBMClassifier`` (binary or
        multiclass), ``CategoricalNB``, ``GaussianNB`` or ``KNeighborsClassifier`` (uniform
        weights, L1 or L2; exact when fitted with ``algorithm="brute"`` on float codes).
        ``member_columns`` lists, for each feature the member was fitted on, its position in
        the selected columns (default: all selected columns in order).
    classes : array-like of shape (n_classes,)
        Class labels; a member with ``classes_`` must have exactly these.
    binner : fitted Binner, sequence of bin edges or None, default=None
        Binned mode: members were fitted on the Binner's codes of the selected columns (NB and
        KNN members need it). ``None``: raw mode, tree members fitted on float features; input
        is read as float32 (as scikit-learn does; LightGBM is then matched on float32 data).
    columns : array-like of int, default=None
        Selected input columns, in member order. ``None``: all.
    n_features_in : int, default=None
        Input columns; taken from the binner, or in raw mode from the first member.
    n_threads : int or None, default=None
        Threads per call (``None``: 1, ``-1``: all cores). Below 4,096 rows per thread the
        call stays on the calling thread.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from greenauto.compiled import CompiledPipeline
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    >>> tree = DecisionTreeClassifier(random_state=0).fit(X, [0, 0, 1, 1])
    >>> CompiledPipeline([tree], classes=tree.classes_).predict(X)
    array([0, 0, 1, 1])
    """

    def __init__(
        self,
        members: Sequence[Any],
        *,
        classes: Any,
        binner: Any = None,
        columns: Any = None,
        n_features_in: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        self._args = {
            "members": list(members),
            "classes": classes,
            "binner": binner,
            "columns": columns,
            "n_features_in": n_features_in,
            "n_threads": n_threads,
        }
        self._build(**self._args)

    def _build(
        self,
        members: list[Any],
        classes: Any,
        binner: Any,
        columns: Any,
        n_features_in: int | None,
        n_threads: int | None,
    ) -> None:
        self.classes_ = np.asarray(classes)
        if self.classes_.ndim != 1 or self.classes_.size < 1:
            raise ValueError("classes must be a non-empty 1-D array of labels.")
        if not 1 <= len(members) <= 3:
            raise ValueError(f"CompiledPipeline takes 1 to 3 members; got {len(members)}.")
        self.n_threads = effective_n_threads(n_threads)
        pairs = [m if isinstance(m, tuple) else (m, None) for m in members]
        for model, _ in pairs:
            member_kind(model)
        if binner is not None:
            kernel, n_bins = _binning_kernel(binner)
            self._binning = kernel
            n_in = int(kernel.n_features)
            cols = np.arange(n_in) if columns is None else np.asarray(columns, dtype=np.int64)
            self._n_codes = n_bins[cols] + 1
            self._kernel = CompiledPipelineKernel(kernel, cols.tolist(), n_in, self.classes_.size)
        else:
            n_in = n_features_in if n_features_in is not None else _n_features(pairs[0][0])
            cols = np.arange(n_in) if columns is None else np.asarray(columns, dtype=np.int64)
            self._kernel = CompiledPipelineKernel(None, [], n_in, self.classes_.size)
        if n_features_in is not None and n_features_in != n_in:
            raise ValueError(f"n_features_in={n_features_in} but the binner has {n_in}.")
        self.n_features_in_ = n_in
        self._columns = cols
        self._class_map: np.ndarray | None = None
        self._flat: list[FlatForest | TableNBArrays | KnnArrays] = []
        for model, member_cols in pairs:
            self._add(model, member_cols)

    def _add(self, model: Any, member_cols: Any) -> None:
        kind = member_kind(model)
        binned = self._kernel.binned
        if binned:
            mapping = np.arange(self._columns.size) if member_cols is None else member_cols
        else:
            base = self._columns if member_cols is None else self._columns[member_cols]
            mapping = base
        mapping = np.asarray(mapping, dtype=np.int64)
        n_model = _n_features_or_none(model)
        if mapping.ndim != 1 or (n_model is not None and mapping.size != n_model):
            raise ValueError(
                f"{type(model).__name__} was fitted on {n_model} features; its member columns "
                f"give {mapping.size}."
            )
        if kind == "trees":
            flat = flatten_trees(model).remap_features(mapping)
            self._flat.append(flat)
            n_own = 2 if flat.output == "sigmoid" else flat.n_outputs
            self._class_map = self._member_class_map(model, n_own)
            self._kernel.add_trees(
                flat.tree_starts, flat.feature, flat.threshold, flat.left, flat.right,
                flat.missing_left, flat.values, flat.out_offset, flat.n_outputs,
                flat.output_code, flat.sigmoid, self._class_map.tolist(),
            )  # fmt: skip
            return
        if not binned:
            raise ValueError(f"{type(model).__name__} needs a binner (binned mode).")
        if kind == "nb":
            nb = flatten_nb(model, self._n_codes[mapping] if mapping.size else None)
            self._flat.append(nb)
            features = mapping[nb.features].astype(np.int32)
            class_map = self._member_class_map(model, nb.prior.size)
            self._kernel.add_table_nb(features, nb.n_codes, nb.table, nb.prior, class_map.tolist())
        else:
            knn = flatten_knn(model)
            self._flat.append(knn)
            features = mapping[knn.features].astype(np.int32)
            class_map = self._member_class_map(model, len(model.classes_))
            self._kernel.add_knn(
                features, knn.train, knn.labels, class_map.size, knn.k, knn.p, class_map.tolist()
            )

    def _member_class_map(self, model: Any, n_own: int) -> np.ndarray:
        """Pipeline class index of each of the member's classes (a subset is allowed)."""
        own = model_classes(model)
        if own is None:  # a bare Booster: its classes are the pipeline's first n_own
            if n_own > self.classes_.size:
                raise ValueError(
                    f"The model predicts {n_own} classes; the pipeline has {self.classes_.size}."
                )
            return np.arange(n_own, dtype=np.int32)
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        missing = [c for c in own.tolist() if c not in index]
        if missing:
            raise ValueError(
                f"{type(model).__name__} predicts classes {missing} that are not in classes "
                f"{self.classes_.tolist()}."
            )
        return np.array([index[c] for c in own.tolist()], dtype=np.int32)

    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels by hard majority vote of the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            float32 or float64 features. Binned mode reads any strides in place; raw mode
            reads float32 (float64 is rounded to float32 first).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        idx = self._kernel.predict(self._check(X), False, self.n_threads)
        return self.classes_.take(idx)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of a single tree-model member, as its library computes them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            As for :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        if self._kernel.n_members != 1 or self._class_map is None:
            raise ValueError("predict_proba needs exactly one tree-model member.")
        proba = self._kernel.predict(self._check(X), True, self.n_threads)[1]
        if proba.shape[1] == self.classes_.size:
            return proba
        full = np.zeros((proba.shape[0], self.classes_.size))
        full[:, self._class_map] = proba
        return full

    @property
    def nbytes(self) -> int:
        """Bytes of the compiled model's arrays: the selected columns' inner bin edges
        (float64) and every member's tree nodes, Naive Bayes tables or KNN training codes."""
        total = int(sum(self._n_codes - 2)) * 8 if self._kernel.binned else 0
        for part in self._flat:
            if isinstance(part, FlatForest):
                arrays = [part.feature, part.threshold, part.left, part.right, part.values]
            elif isinstance(part, TableNBArrays):
                arrays = [part.table, part.prior]
            else:
                arrays = [part.train, part.labels]
            total += sum(a.nbytes for a in arrays)
        return total

    def operations_per_row(self, X: Any) -> float:
        """Operations the kernel spends per row of ``X`` (the operation-count energy model).

        Binning costs ``BIN_OPS_PER_FEATURE`` per selected column; a tree member its node
        visits on ``X`` (internal nodes and leaves, counted by the numpy reference); a Naive
        Bayes member one table look-up per feature and class; a KNN member one distance term
        per training value.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            As for :meth:`predict`.

        Returns
        -------
        ops : float
        """
        X = self._check(X)
        if self._kernel.binned:
            rows = np.empty((X.shape[0], self._columns.size), dtype=np.uint8)
            self._binning.transform(X, self._columns, rows, 1)
            ops = float(BIN_OPS_PER_FEATURE * self._columns.size)
        else:
            rows, ops = X, 0.0
        for part in self._flat:
            if isinstance(part, FlatForest):
                ops += tree_visits(part, rows) / rows.shape[0]
            elif isinstance(part, TableNBArrays):
                ops += part.features.size * part.prior.size
            else:
                ops += part.train.size
        return ops

    def _check(self, X: Any) -> np.ndarray:
        if not isinstance(X, np.ndarray):
            X = np.asarray(X)
        if X.dtype != np.float32 and X.dtype != np.float64:
            raise TypeError(
                f"X must hold float32 or float64 values; got dtype {X.dtype}. Encode "
                "categorical columns and convert X with X.astype(np.float32) first."
            )
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must be of shape (n_samples, {self.n_features_in_}); got {X.shape}."
            )
        if X.shape[0] == 0:
            raise ValueError("X is an empty batch (0 rows); nothing to predict.")
        if not self._kernel.binned and (X.dtype != np.float32 or not X.flags.c_contiguous):
            X = np.ascontiguousarray(X, dtype=np.float32)
        return X

    def __getstate__(self) -> dict[str, Any]:
        return {"_args": self._args}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._args = state["_args"]
        self._build(**self._args)


def _n_features_or_none(model: Any) -> int | None:
    n = getattr(model, "n_features_in_", None)
    if n is None and hasattr(model, "num_feature"):
        n = model.num_feature()
    return None if n is None else int(n)


def _n_features(model: Any) -> int:
    n = _n_features_or_none(model)
    if n is None:
        raise ValueError("Give n_features_in: it cannot be read from the first member.")
    return n
