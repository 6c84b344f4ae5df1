"""CompiledPipeline: binning, selection, 1 to 3 members and the vote in one C++ call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from greenauto._native import BinningKernel, CompiledPipelineKernel
from greenauto._threading import effective_n_threads
from greenauto.compiled._ir import CategoricalNBIR, GaussianNBIR, ModelIR, TreesIR
from greenauto.compiled._members import add_member, member_ir, member_kind, n_features_of
from greenauto.compiled._reference import tree_visits
from greenauto.preprocessing import make_binning_kernel

__all__ = ["BIN_OPS_PER_FEATURE", "CompiledPipeline", "member_kind"]

_VOTES = {"hard": 0, "soft": 1}
#: Operations charged per selected feature for binning (two 16-wide compare stages).
BIN_OPS_PER_FEATURE = 2


def _inner_edges(binner: Any) -> tuple[np.ndarray, ...]:
    """Inner edges of every feature, from a fitted Binner or a sequence of full edges."""
    if hasattr(binner, "fit"):  # a Binner (else a sequence of edges)
        check_is_fitted(binner, "bin_edges_")
    full = binner.bin_edges_ if hasattr(binner, "bin_edges_") else binner
    return tuple(np.ascontiguousarray(np.asarray(e, dtype=np.float64)[1:-1]) for e in full)


def _used_columns(ir: ModelIR) -> tuple[int, ...]:
    """The input columns whose values some member reads (a tree's split features, every
    feature of the others), in increasing order."""
    rows = set()
    for m in ir.members:
        if isinstance(m, TreesIR):
            f = m.forest
            rows.update(np.unique(f.feature[(f.left != -1) | (f.right != -1)]).tolist())
        else:
            rows.update(np.asarray(m.features).tolist())
    cols = ir.columns if ir.binned else np.arange(ir.n_features_in)
    return tuple(sorted({int(cols[r]) for r in rows}))


def binning_kernel(edges: Sequence[np.ndarray]) -> BinningKernel:
    """The C++ binning kernel for per-feature inner edges (it validates them)."""
    return make_binning_kernel([np.concatenate(([-np.inf], e, [np.inf])) for e in edges])


class CompiledPipeline:
    """Predict with binning, column selection and 1 to 3 members in one C++ call.

    Every batch goes through the extension once, with the GIL released: the selected columns
    of each block of rows are binned to uint8, every member computes its class and its own
    probabilities, and the vote combines them. :meth:`predict` and :meth:`predict_proba` are
    the same call (:meth:`predict_with_proba` returns both).

    **Combine rule** (as :class:`greenauto.ensemble.MajorityVoteClassifier`, operation for
    operation):

    - one member: its own label and probabilities (a forest's mean of leaf distributions,
      LightGBM's sigmoid or softmax, NB posteriors, KNN neighbour shares);
    - ``voting="soft"``: probabilities ``(P_0 + P_1 [+ P_2]) / n_members``; the label is the
      first class with the highest probability, so ``predict == classes_[argmax(proba)]``;
    - ``voting="hard"``: each member votes its label; with ``V`` the votes per class and
      ``S = P_0 + P_1 [+ P_2]``, the probabilities are ``(V + S / 4) / (1.25 n_members)``
      (vote shares refined by the members' probabilities) and the label is their first
      highest class: most votes wins, ties go to the highest ``S``, then the lowest index.

    In every case ``predict(X) == classes_[argmax(predict_proba(X), axis=1)]``.

    The model itself is a :class:`~greenauto.compiled._ir.ModelIR` of plain arrays (``ir``):
    ``pickle`` stores those arrays and no library object, :func:`greenauto.save_model`
    writes them to a pickle-free file.

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
        The classes members predict; a member with ``classes_`` must have them among these.
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
    voting : {"hard", "soft"}, default="hard"
        How several members combine (see above).
    labels : array-like of shape (n_classes,), default=None
        What the class indices stand for in :attr:`classes_` (default: ``classes``). A
        :class:`MajorityVoteClassifier`'s members predict ``0 .. n_classes - 1``: pass those
        as ``classes`` and its ``classes_`` as ``labels``.

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
        voting: str = "hard",
        labels: Any = None,
    ) -> None:
        ir = _compile_members(list(members), classes, binner, columns, n_features_in, voting)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != ir.classes.shape:
                raise ValueError(
                    f"labels must have one entry per class ({ir.classes.size}); got "
                    f"shape {labels.shape}."
                )
            ir = _replace_classes(ir, labels)
        self._build(ir, n_threads)

    @classmethod
    def from_ir(
        cls, ir: ModelIR, *, n_threads: int | None = None, encoder: Any = None
    ) -> CompiledPipeline:
        """Build the kernel of a model IR (validated first).

        Parameters
        ----------
        ir : ModelIR
            The model's arrays.
        n_threads : int or None, default=None
            As for the constructor.
        encoder : fitted TabularEncoder, default=None
            The encoder ``ir.schema`` was taken from, used as is (else it is rebuilt from the
            schema).

        Returns
        -------
        pipeline : CompiledPipeline
        """
        self = cls.__new__(cls)
        self._build(ir, n_threads, encoder)
        return self

    def _build(self, ir: ModelIR, n_threads: int | None, encoder: Any = None) -> None:
        ir.validate()
        self._binning = None
        if ir.binned:
            self._binning = binning_kernel(ir.bin_edges)
            kernel = CompiledPipelineKernel(
                self._binning, ir.columns.tolist(), ir.n_features_in, ir.classes.size,
                _VOTES[ir.voting],
            )  # fmt: skip
        else:
            kernel = CompiledPipelineKernel(
                None, [], ir.n_features_in, ir.classes.size, _VOTES[ir.voting]
            )
        for m in ir.members:
            add_member(kernel, m)
        self.ir = ir
        self._kernel = kernel
        self._encoder = encoder
        self._used = _used_columns(ir)
        if ir.schema is not None and encoder is None:
            from greenauto.compiled._schema import encoder_from_schema

            self._encoder = encoder_from_schema(ir.schema, ir.n_features_in)
        self.classes_ = ir.classes
        # labels the kernel writes itself (numbers, bools, fixed-width text: dtypes with a
        # buffer), else None: the class indices go through classes_.take
        classes = np.ascontiguousarray(ir.classes)
        plain = classes.ndim == 1 and classes.dtype.kind in "biufSU"
        self._label_array = classes if plain else None
        self.n_features_in_ = ir.n_features_in
        self.n_threads = effective_n_threads(n_threads)

    # ------------------------------------------------------------------ predict
    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels (from ``classes_``) and probabilities (as :meth:`predict_proba`) from one
        kernel call; ``X`` as for :meth:`predict`."""
        out = self._kernel.predict_fast(X, self.n_threads, self._label_array, 2)
        labels, proba = self._general(X, 2, self._label_array) if out is None else out
        return (labels if self._label_array is not None else self.classes_.take(labels)), proba

    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels (see the combine rule in the class docstring).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Numbers of any numeric dtype (float32 and float64 are read in place; binned mode
            reads any strides). With a column schema (a model from a
            :class:`~greenauto.GreenAutoClassifier`), also a DataFrame (or object array) with
            the training columns, encoded as in training; a numeric array is then taken as
            already encoded.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        # a float32/float64 array of the right shape: one call, labels written by the kernel
        labels = self._kernel.predict_fast(X, self.n_threads, self._label_array, 0)
        if labels is None:
            labels = self._general(X, 0, self._label_array)
        return labels if self._label_array is not None else self.classes_.take(labels)

    def predict_codes(self, X: Any) -> np.ndarray:
        """Class indices (into ``classes_``) instead of labels; see :meth:`predict`."""
        out = self._kernel.predict_fast(X, self.n_threads, None, 0)
        return self._general(X, 0, None) if out is None else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_`` (the combine rule of the
        class docstring); ``X`` as for :meth:`predict`."""
        out = self._kernel.predict_fast(X, self.n_threads, None, 1)
        return self._general(X, 1, None) if out is None else out

    def _general(self, X: Any, what: int, labels: np.ndarray | None) -> Any:
        """The kernel call for input its fast path declined (``predict_fast`` gave None): X
        encoded, converted or refused by :meth:`_check` first. ``what``: labels (0, in the
        dtype of ``labels``, else class indices), probabilities (1) or both (2)."""
        X = self._check(X)
        out = self._kernel.predict_fast(X, self.n_threads, labels, what)
        if out is None:  # strides the kernel cannot step by (e.g. a structured array's field)
            out = self._kernel.predict_fast(np.ascontiguousarray(X), self.n_threads, labels, what)
        return out

    # ------------------------------------------------------------------ model facts
    @property
    def voting(self) -> str:
        """``"hard"`` or ``"soft"``."""
        return self.ir.voting

    @property
    def nbytes(self) -> int:
        """Bytes of the model's arrays (bin edges of the selected columns and members)."""
        return self.ir.nbytes

    def with_metadata(
        self,
        *,
        labels: Any = None,
        encoder: Any = None,
        metrics: dict[str, Any] | None = None,
        energy_source: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> CompiledPipeline:
        """The same model with labels, training-column schema, metrics or other JSON attached.

        Parameters
        ----------
        labels : array-like of shape (n_classes,), default=None
            What each class index stands for (replaces ``classes_``).
        encoder : fitted TabularEncoder, default=None
            The training columns (names, categories): the model then reads what the encoder
            reads (DataFrames with text and categorical columns), and saves it as its schema.
        metrics : dict, default=None
            JSON-able figures to keep with the model (e.g. its Pareto point's).
        energy_source : str, default=None
            How the energy figures among ``metrics`` were obtained.
        extra : dict, default=None
            Any other JSON values to keep with the model (``ir.extra``).

        Returns
        -------
        pipeline : CompiledPipeline
            A new pipeline on the same arrays.
        """
        from dataclasses import replace

        from greenauto.compiled._schema import schema_from_encoder

        changes: dict[str, Any] = {}
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != self.classes_.shape:
                raise ValueError(f"labels must have {self.classes_.size} entries; got "
                                 f"shape {labels.shape}.")  # fmt: skip
            changes["classes"] = labels
        if encoder is not None:
            changes["schema"] = schema_from_encoder(encoder)
        if metrics is not None:
            changes["metrics"] = dict(metrics)
        if energy_source is not None:
            changes["energy_source"] = str(energy_source)
        if extra is not None:
            changes["extra"] = dict(extra)
        return CompiledPipeline.from_ir(
            replace(self.ir, **changes), n_threads=self.n_threads, encoder=encoder
        )

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
        if self._binning is not None:
            cols = self.ir.columns
            rows = np.empty((X.shape[0], cols.size), dtype=np.uint8)
            self._binning.transform(X, cols, rows, 1)
            ops = float(BIN_OPS_PER_FEATURE * cols.size)
        else:
            rows, ops = X, 0.0
        for m in self.ir.members:
            if isinstance(m, TreesIR):
                ops += tree_visits(m.forest, rows) / rows.shape[0]
            elif isinstance(m, (CategoricalNBIR, GaussianNBIR)):
                ops += m.features.size * m.n_classes
            else:
                ops += m.train.size
        return ops

    def prefix(self, k: int, member: int = 0) -> CompiledPipeline:
        """The pipeline whose tree member keeps its first ``k`` iterations (LightGBM) or trees.

        Predicts as LightGBM's ``predict(num_iteration=k)`` or a forest built from
        ``estimators_[:k]``; the arrays are views of this pipeline's (nothing is re-flattened).

        Parameters
        ----------
        k : int
            Boosting iterations or trees to keep.
        member : int, default=0
            Which member.

        Returns
        -------
        pipeline : CompiledPipeline
        """
        return CompiledPipeline.from_ir(self.ir.with_prefix(k, member), n_threads=self.n_threads)

    def to_sklearn(self) -> Any:
        """The model as a fitted scikit-learn ``Pipeline`` that needs no greenauto import.

        Same labels; probabilities within 1e-6. Binning becomes one ``np.digitize`` per
        selected column, members are rebuilt from their arrays (LightGBM as a
        ``GradientBoostingClassifier``). A hard vote that can tie has no scikit-learn
        equivalent and raises :class:`~greenauto.exceptions.ExportError`.

        Returns
        -------
        pipeline : sklearn.pipeline.Pipeline
        """
        from greenauto.compiled._export_sklearn import to_sklearn

        return to_sklearn(self.ir)

    def to_onnx(self) -> Any:
        """The model as an ONNX model (needs the extra ``greenauto[onnx]``).

        Input ``X`` (double, ``(n, n_features_in_)``), outputs ``label`` and
        ``probabilities``; see :mod:`greenauto.compiled._export_onnx` for what ONNX Runtime
        can compute differently (float32 tree sums, KNN distance ties).

        Returns
        -------
        model : onnx.ModelProto
        """
        from greenauto.compiled._export_onnx import to_onnx

        return to_onnx(self.ir)

    def _check(self, X: Any) -> np.ndarray:
        """X as the kernel's fast path takes it (a float32/float64 array of the right shape;
        C-contiguous float32 in raw mode), or a clear error."""
        if self._encoder is not None and not (
            isinstance(X, np.ndarray) and X.dtype.kind in "biuf"
        ):
            # names, categories: as in training; values of the columns the members read
            X = self._encoder.encode(X, columns=self._used)
        if not isinstance(X, np.ndarray):
            X = np.asarray(X)
        if X.dtype.kind in "biu" or X.dtype == np.float16:
            X = X.astype(np.float64)
        if X.dtype != np.float32 and X.dtype != np.float64:
            raise TypeError(
                f"X must hold numbers; got dtype {X.dtype}. Encode categorical columns and "
                "convert X with X.astype(np.float32) first."
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

    # ------------------------------------------------------------------ pickling: arrays only
    def __getstate__(self) -> dict[str, Any]:
        from greenauto.compiled._codec import ir_to_parts

        manifest, arrays = ir_to_parts(self.ir)
        return {"manifest": manifest, "arrays": arrays, "n_threads": self.n_threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from greenauto.compiled._codec import ir_from_parts

        self._build(ir_from_parts(state["manifest"], state["arrays"]), state["n_threads"])


def _replace_classes(ir: ModelIR, labels: np.ndarray) -> ModelIR:
    from dataclasses import replace

    return replace(ir, classes=labels)


def _compile_members(
    members: list[Any],
    classes: Any,
    binner: Any,
    columns: Any,
    n_features_in: int | None,
    voting: str,
) -> ModelIR:
    """Flatten every member once into a model IR."""
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size < 1:
        raise ValueError("classes must be a non-empty 1-D array of labels.")
    if not 1 <= len(members) <= 3:
        raise ValueError(f"CompiledPipeline takes 1 to 3 members; got {len(members)}.")
    if voting not in _VOTES:
        raise ValueError(f"voting must be 'hard' or 'soft'; got {voting!r}.")
    pairs = [m if isinstance(m, tuple) else (m, None) for m in members]
    for model, _ in pairs:
        member_kind(model)
    edges = None
    if binner is not None:
        edges = _inner_edges(binner)
        n_in = len(edges)
        if n_features_in is not None and n_features_in != n_in:
            raise ValueError(f"n_features_in={n_features_in} but the binner has {n_in}.")
    elif n_features_in is not None:
        n_in = int(n_features_in)
    else:
        n_in = n_features_of(pairs[0][0])
        if n_in is None:
            raise ValueError("Give n_features_in: it cannot be read from the first member.")
    cols = np.arange(n_in) if columns is None else np.asarray(columns, dtype=np.int64)
    bad = cols[(cols < 0) | (cols >= n_in)] if cols.ndim == 1 else cols.ravel()
    if bad.size:
        raise ValueError(
            f"columns must be a 1-D list of input columns in [0, {n_in}); got {bad[0]}."
        )
    n_codes = None if edges is None else np.array([edges[c].size + 2 for c in cols])
    irs = []
    for model, member_cols in pairs:
        if edges is not None:
            mapping = np.arange(cols.size) if member_cols is None else member_cols
        else:
            mapping = cols if member_cols is None else cols[member_cols]
        irs.append(member_ir(model, np.asarray(mapping, dtype=np.int64), classes, n_codes))
    return ModelIR(
        classes=classes,
        n_features_in=n_in,
        members=tuple(irs),
        bin_edges=edges,
        columns=None if edges is None else np.ascontiguousarray(cols, dtype=np.int64),
        voting=voting,
    )
