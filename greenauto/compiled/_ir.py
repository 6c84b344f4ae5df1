"""The model IR: everything a compiled pipeline predicts with, as plain arrays and JSON values.

One :class:`ModelIR` is the model: the kernel is built from it, ``pickle`` stores it, the
artifact file (:mod:`greenauto.compiled._artifact`) writes it, and the exports read it. It holds
no library object: a member is its node or table arrays.

Layout
------
- ``classes``: the labels, in class-index order.
- ``n_features_in``; ``schema`` (optional): the training columns (names, dtypes, categories).
- binned mode: ``bin_edges`` (inner edges of every input feature; ``bin(x)`` = number of edges
  ``<= x``, NaN in bin ``len(edges) + 1``) and ``columns`` (the selected input columns, in
  member order); members read the selected columns' codes. Raw mode: ``bin_edges`` is None and
  members (trees only) read the float32 input columns.
- ``members``: 1 to 3 of :class:`TreesIR`, :class:`CategoricalNBIR`, :class:`GaussianNBIR`,
  :class:`KnnIR`; each has a ``class_map`` (pipeline class index of each of its classes).
  Feature indices of members index the rows members read (see above).
- ``voting``: ``"hard"`` or ``"soft"`` (see :class:`~greenauto.compiled.CompiledPipeline`).
- ``metrics`` (JSON values, e.g. the Pareto point's) and ``energy_source``; ``extra``: any
  other JSON the writer attaches (the command line keeps the search's report there).

:meth:`ModelIR.validate` checks every array (dtype, shape, finiteness) and every index (tree
structure, features, classes) and raises :class:`InvalidModelError` naming what is wrong; the
C++ constructors check the same again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from greenauto.compiled._flatten import FlatForest

__all__ = [
    "FORMAT_VERSION",
    "CategoricalNBIR",
    "GaussianNBIR",
    "InvalidModelError",
    "KnnIR",
    "MemberIR",
    "ModelIR",
    "TreesIR",
]

#: Version of the IR layout (bumped on any incompatible change).
FORMAT_VERSION = 1
MAX_MEMBERS = 3
_OUTPUTS = ("mean", "sigmoid", "softmax")


class InvalidModelError(ValueError):
    """A model IR or model file that is malformed, inconsistent or unsafe to load."""


def _fail(where: str, what: str) -> None:
    raise InvalidModelError(f"{where}: {what}")


def _check_array(
    where: str, name: str, a: Any, dtype: str, ndim: int, shape: tuple | None = None
) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        _fail(where, f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.dtype(dtype):
        _fail(where, f"{name} must have dtype {np.dtype(dtype)}, got {a.dtype}")
    if a.ndim != ndim:
        _fail(where, f"{name} must be {ndim}-D, got shape {a.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(a.shape, shape, strict=True)):
            if want is not None and got != want:
                _fail(where, f"{name} has {got} entries along axis {axis}; expected {want}")
    return a


def _check_finite(where: str, name: str, a: np.ndarray) -> None:
    if a.size and not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
        _fail(where, f"{name} holds a non-finite value at flat index {bad}")


def _check_index(where: str, name: str, a: np.ndarray, upper: int, lower: int = 0) -> None:
    if a.size and (int(a.min()) < lower or int(a.max()) >= upper):
        bad = a[(a < lower) | (a >= upper)][0]
        _fail(where, f"{name} holds {int(bad)}, out of range [{lower}, {upper})")


def _check_class_map(where: str, class_map: np.ndarray, n_own: int, n_classes: int) -> None:
    _check_array(where, "class_map", class_map, "int32", 1, (n_own,))
    _check_index(where, "class_map", class_map, n_classes)
    if np.unique(class_map).size != class_map.size:
        _fail(where, "class_map repeats a class")


@dataclass(frozen=True)
class TreesIR:
    """A tree ensemble (scikit-learn tree or forest, LightGBM) in the common node format.

    ``forest.feature`` indexes the member rows; ``estimator`` names the source (for exports
    and messages): ``"DecisionTreeClassifier"``, ``"RandomForestClassifier"``,
    ``"ExtraTreesClassifier"`` or ``"LightGBM"``.
    """

    forest: FlatForest
    class_map: np.ndarray
    estimator: str
    kind: ClassVar[str] = "trees"
    _ARRAYS: ClassVar[tuple[tuple[str, str, int], ...]] = (
        ("tree_starts", "int64", 1),
        ("feature", "int32", 1),
        ("threshold", "float64", 1),
        ("left", "int32", 1),
        ("right", "int32", 1),
        ("missing_left", "uint8", 1),
        ("values", "float64", 2),
        ("out_offset", "int32", 1),
    )

    @property
    def n_classes(self) -> int:
        """Number of classes the member predicts."""
        f = self.forest
        return 2 if f.output == "sigmoid" else int(f.n_outputs)

    @property
    def is_boosted(self) -> bool:
        """True for LightGBM (scores summed, then sigmoid or softmax)."""
        return self.forest.output != "mean"

    @property
    def trees_per_iteration(self) -> int:
        """Trees per boosting iteration (LightGBM: one per class output), 1 for forests."""
        return int(self.forest.n_outputs) if self.forest.output == "softmax" else 1

    @property
    def n_iterations(self) -> int:
        """Boosting iterations (LightGBM) or trees (forests)."""
        return self.forest.n_trees // self.trees_per_iteration

    def prefix(self, k: int) -> TreesIR:
        """The member made of the first ``k`` iterations (LightGBM) or trees (forests).

        Array views, no copy: equals LightGBM's ``predict(num_iteration=k)`` and a forest
        built from ``estimators_[:k]`` (so a ``k`` past the end keeps everything).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1; got {k}.")
        f = self.forest
        n_trees = min(k, self.n_iterations) * self.trees_per_iteration
        end = int(f.tree_starts[n_trees])
        forest = replace(
            f,
            tree_starts=f.tree_starts[: n_trees + 1],
            feature=f.feature[:end],
            threshold=f.threshold[:end],
            left=f.left[:end],
            right=f.right[:end],
            missing_left=f.missing_left[:end],
            values=f.values[:end],
            out_offset=f.out_offset[:n_trees],
        )
        return replace(self, forest=forest)

    def arrays(self) -> dict[str, np.ndarray]:
        """The member's arrays by name."""
        out = {name: getattr(self.forest, name) for name, _, _ in self._ARRAYS}
        out["class_map"] = self.class_map
        return out

    def meta(self) -> dict[str, Any]:
        """The member's JSON values."""
        f = self.forest
        return {
            "kind": self.kind,
            "estimator": self.estimator,
            "n_outputs": int(f.n_outputs),
            "output": f.output,
            "sigmoid": float(f.sigmoid),
        }

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TreesIR:
        """Rebuild from :meth:`meta` and :meth:`arrays` (checked by :meth:`validate`)."""
        forest = FlatForest(
            **{name: arrays[name] for name, _, _ in cls._ARRAYS},
            n_outputs=_json_int(meta, "n_outputs"),
            output=str(meta.get("output")),
            sigmoid=_json_float(meta, "sigmoid"),
        )
        return cls(forest, arrays["class_map"], str(meta.get("estimator")))

    def validate(self, where: str, n_features: int, n_classes: int) -> None:
        """Check dtypes, shapes, the tree structure and the values (see the module doc)."""
        f = self.forest
        if f.output not in _OUTPUTS:
            _fail(where, f"output must be one of {_OUTPUTS}, got {f.output!r}")
        if not isinstance(f.n_outputs, int) or not 1 <= f.n_outputs <= 65535:
            _fail(where, f"n_outputs must be an int in [1, 65535], got {f.n_outputs!r}")
        if f.output == "sigmoid" and f.n_outputs != 1:
            _fail(where, "a sigmoid (binary LightGBM) model has exactly one output")
        if f.output == "softmax" and f.n_outputs < 2:
            _fail(where, "a softmax model needs at least two outputs")
        if not np.isfinite(f.sigmoid):
            _fail(where, "the sigmoid parameter is not finite")
        starts = _check_array(where, "tree_starts", f.tree_starts, "int64", 1)
        n_nodes = f.feature.shape[0] if isinstance(f.feature, np.ndarray) else -1
        for name, dtype, ndim in self._ARRAYS[1:-1]:
            _check_array(where, name, getattr(f, name), dtype, ndim, (n_nodes, None)[:ndim])
        if starts.size < 2:
            _fail(where, "tree_starts needs at least two entries (one tree)")
        n_trees = starts.size - 1
        _check_array(where, "out_offset", f.out_offset, "int32", 1, (n_trees,))
        width = f.values.shape[1]
        if not 1 <= width <= f.n_outputs:
            _fail(where, f"leaf values have width {width}; expected 1 to {f.n_outputs}")
        if f.out_offset.size and (
            int(f.out_offset.min()) < 0 or int(f.out_offset.max()) + width > f.n_outputs
        ):
            _fail(where, "out_offset sends a tree's leaves past the outputs")
        _check_tree_structure(where, f, n_features)
        _check_class_map(where, self.class_map, self.n_classes, n_classes)


def _check_tree_structure(where: str, f: FlatForest, n_features: int) -> None:
    """Trees inside the node array, children after their parent and inside their tree, one
    parent per node (so every path ends: no cycle), features in range, no NaN threshold,
    finite leaves."""
    starts, n_nodes = f.tree_starts, f.feature.size
    if starts[0] != 0 or starts[-1] != n_nodes or np.any(np.diff(starts) <= 0):
        _fail(where, f"tree_starts must rise strictly from 0 to the node count {n_nodes}")
    tree_of = np.repeat(np.arange(starts.size - 1), np.diff(starts))
    end = starts[1:][tree_of]
    node = np.arange(n_nodes)
    leaf = (f.left == -1) & (f.right == -1)
    inner = ~leaf
    for name in ("left", "right"):
        child = getattr(f, name)[inner].astype(np.int64)
        bad = (child <= node[inner]) | (child >= end[inner])
        if bad.any():
            i = int(node[inner][bad][0])
            _fail(where, f"node {i}: {name} child {int(child[bad][0])} is not after its "
                  "parent inside its tree (out of range, or a cycle)")  # fmt: skip
    children = np.concatenate([f.left[inner], f.right[inner]]).astype(np.int64)
    counts = np.bincount(children, minlength=n_nodes)
    if counts.size and counts.max() > 1:
        _fail(where, f"node {int(np.argmax(counts))} has two parents")
    _check_index(where, "feature", f.feature[inner], n_features)
    if np.isnan(f.threshold[inner]).any():
        _fail(where, f"node {int(node[inner][np.isnan(f.threshold[inner])][0])}: NaN threshold")
    _check_finite(where, "leaf values", f.values[leaf])


class _ArrayMember:
    """Arrays and JSON of a member whose fields are numpy arrays and ints (NB and KNN): every
    ``np.ndarray`` field is an array, every ``int`` field a JSON value."""

    kind: ClassVar[str]

    def _fields(self, kind: str) -> list[str]:
        return [f.name for f in fields(self) if f.type == kind]  # type: ignore[arg-type]

    def arrays(self) -> dict[str, np.ndarray]:
        """The member's arrays by name."""
        return {name: getattr(self, name) for name in self._fields("np.ndarray")}

    def meta(self) -> dict[str, Any]:
        """The member's JSON values."""
        return {"kind": self.kind} | {
            name: int(getattr(self, name)) for name in self._fields("int")
        }

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        """Rebuild from :meth:`meta` and :meth:`arrays` (checked by ``validate``)."""
        ints = [f.name for f in fields(cls) if f.type == "int"]  # type: ignore[arg-type]
        return cls(**arrays, **{name: _json_int(meta, name) for name in ints})


@dataclass(frozen=True)
class CategoricalNBIR(_ArrayMember):
    """CategoricalNB: per feature a (codes x classes) log-probability table, and log priors."""

    features: np.ndarray  # int32, member-row position of each table's feature
    n_codes: np.ndarray  # int64, rows of each table (at most 256)
    table: np.ndarray  # float64, (sum(n_codes), n_classes): feature_log_prob_[j].T stacked
    class_log_prior: np.ndarray  # float64, (n_classes,)
    class_map: np.ndarray
    kind: ClassVar[str] = "categorical_nb"

    @property
    def n_classes(self) -> int:
        """Number of classes the member predicts."""
        return int(self.class_log_prior.size)

    def validate(self, where: str, n_features: int, n_classes: int) -> None:
        """Check dtypes, shapes, indices and finiteness."""
        feats = _check_array(where, "features", self.features, "int32", 1)
        sizes = _check_array(where, "n_codes", self.n_codes, "int64", 1, (feats.size,))
        prior = _check_array(where, "class_log_prior", self.class_log_prior, "float64", 1)
        if prior.size < 1:
            _fail(where, "class_log_prior is empty")
        _check_index(where, "features", feats, n_features)
        _check_index(where, "n_codes", sizes, 257, lower=1)
        _check_array(where, "table", self.table, "float64", 2, (int(sizes.sum()), prior.size))
        _check_finite(where, "table", self.table)
        _check_finite(where, "class_log_prior", prior)
        _check_class_map(where, self.class_map, self.n_classes, n_classes)


@dataclass(frozen=True)
class GaussianNBIR(_ArrayMember):
    """GaussianNB fitted on bin codes: its ``theta_``, ``var_`` and ``class_prior_``.

    ``n_codes[j]`` is how many codes feature ``j`` can take (its bins and the NaN bin); the
    kernel evaluates the Gaussian on every code once and keeps the table.
    """

    features: np.ndarray  # int32
    n_codes: np.ndarray  # int64, 1 to 256 each
    theta: np.ndarray  # float64, (n_classes, n_features)
    var: np.ndarray  # float64, (n_classes, n_features), > 0
    class_prior: np.ndarray  # float64, (n_classes,), > 0
    class_map: np.ndarray
    kind: ClassVar[str] = "gaussian_nb"

    @property
    def n_classes(self) -> int:
        """Number of classes the member predicts."""
        return int(self.class_prior.size)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's score tables ``(sum(n_codes), n_classes)`` and per-class constants."""
        parts = []
        for j in range(self.features.size):
            codes = np.arange(int(self.n_codes[j]), dtype=np.float64)[:, np.newaxis]
            parts.append(-0.5 * ((codes - self.theta[:, j]) ** 2) / self.var[:, j])
        prior = np.log(self.class_prior) - 0.5 * np.sum(np.log(2.0 * np.pi * self.var), axis=1)
        return np.ascontiguousarray(np.concatenate(parts)), np.ascontiguousarray(prior)

    def validate(self, where: str, n_features: int, n_classes: int) -> None:
        """Check dtypes, shapes, indices and values (variances and priors positive)."""
        feats = _check_array(where, "features", self.features, "int32", 1)
        sizes = _check_array(where, "n_codes", self.n_codes, "int64", 1, (feats.size,))
        prior = _check_array(where, "class_prior", self.class_prior, "float64", 1)
        k, d = prior.size, feats.size
        if k < 1 or d < 1:
            _fail(where, "GaussianNB needs at least one class and one feature")
        _check_index(where, "features", feats, n_features)
        _check_index(where, "n_codes", sizes, 257, lower=1)
        for name in ("theta", "var"):
            _check_array(where, name, getattr(self, name), "float64", 2, (k, d))
            _check_finite(where, name, getattr(self, name))
        _check_finite(where, "class_prior", prior)
        if np.any(self.var <= 0) or np.any(prior <= 0):
            _fail(where, "variances and class priors must be positive")
        _check_class_map(where, self.class_map, self.n_classes, n_classes)


@dataclass(frozen=True)
class KnnIR(_ArrayMember):
    """Brute-force KNN on codes: training codes, their class indices, ``k`` and Minkowski ``p``."""

    features: np.ndarray  # int32
    train: np.ndarray  # uint8, (n_train, n_features)
    labels: np.ndarray  # int32, member class index per training row
    k: int
    p: int
    class_map: np.ndarray
    kind: ClassVar[str] = "knn"

    @property
    def n_classes(self) -> int:
        """Number of classes the member predicts."""
        return int(self.class_map.size)

    def validate(self, where: str, n_features: int, n_classes: int) -> None:
        """Check dtypes, shapes, indices and settings."""
        feats = _check_array(where, "features", self.features, "int32", 1)
        train = _check_array(where, "train", self.train, "uint8", 2, (None, feats.size))
        labels = _check_array(where, "labels", self.labels, "int32", 1, (train.shape[0],))
        if feats.size < 1 or feats.size > 65535:
            _fail(where, f"KNN needs 1 to 65535 features, got {feats.size}")
        _check_index(where, "features", feats, n_features)
        if self.p not in (1, 2):
            _fail(where, f"p must be 1 or 2, got {self.p}")
        if not 1 <= self.k <= train.shape[0] or train.shape[0] >= 2**31:
            _fail(where, f"k={self.k} must be in [1, {train.shape[0]}] training rows")
        if self.class_map.ndim != 1 or self.class_map.size < 1:
            _fail(where, "class_map must be a non-empty 1-D array")
        _check_index(where, "labels", labels, self.class_map.size)
        _check_class_map(where, self.class_map, self.n_classes, n_classes)


MemberIR = TreesIR | CategoricalNBIR | GaussianNBIR | KnnIR
MEMBER_TYPES: dict[str, type] = {
    cls.kind: cls for cls in (TreesIR, CategoricalNBIR, GaussianNBIR, KnnIR)
}


def _json_int(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidModelError(f"{key} must be an integer, got {value!r}")
    return value


def _json_float(meta: dict[str, Any], key: str) -> float:
    value = meta.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidModelError(f"{key} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ModelIR:
    """A compiled model as arrays (see the module docstring for the layout)."""

    classes: np.ndarray
    n_features_in: int
    members: tuple[MemberIR, ...]
    bin_edges: tuple[np.ndarray, ...] | None = None
    columns: np.ndarray | None = None
    voting: str = "hard"
    schema: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    energy_source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def binned(self) -> bool:
        """True when members read bin codes of the selected columns."""
        return self.bin_edges is not None

    @property
    def n_member_features(self) -> int:
        """Width of the rows members read."""
        return int(self.columns.size) if self.binned else int(self.n_features_in)

    @property
    def nbytes(self) -> int:
        """Bytes of every array of the model (bin edges of the selected columns, members)."""
        total = 0
        if self.binned:
            total += sum(self.bin_edges[c].nbytes for c in np.unique(self.columns))
        for m in self.members:
            total += sum(a.nbytes for a in m.arrays().values())
        return int(total)

    def with_prefix(self, k: int, member: int = 0) -> ModelIR:
        """The model whose tree member ``member`` keeps its first ``k`` iterations or trees.

        See :meth:`TreesIR.prefix`; arrays are views, nothing is re-flattened.
        """
        m = self.members[member]
        if not isinstance(m, TreesIR):
            raise ValueError(f"Member {member} is {m.kind}, not a tree model: no prefix.")
        members = list(self.members)
        members[member] = m.prefix(k)
        return replace(self, members=tuple(members))

    def validate(self) -> ModelIR:
        """Check every array and index; raise :class:`InvalidModelError` naming the problem.

        Returns
        -------
        self : ModelIR
        """
        classes = self.classes
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or classes.size < 1:
            _fail("classes", "must be a non-empty 1-D array")
        if classes.dtype.kind not in "biufUSO":
            _fail("classes", f"dtype {classes.dtype} is not supported")
        if not isinstance(self.n_features_in, int) or not 1 <= self.n_features_in < 2**31:
            _fail("n_features_in", f"must be a positive int, got {self.n_features_in!r}")
        if self.voting not in ("hard", "soft"):
            _fail("voting", f"must be 'hard' or 'soft', got {self.voting!r}")
        if not isinstance(self.members, tuple) or not 1 <= len(self.members) <= MAX_MEMBERS:
            _fail("members", f"1 to {MAX_MEMBERS} members needed")
        if self.binned:
            self._validate_binning()
        elif self.columns is not None and self.columns.size:
            _fail("columns", "a raw (unbinned) model selects no columns")
        for i, m in enumerate(self.members):
            if not isinstance(m, tuple(MEMBER_TYPES.values())):
                _fail(f"member {i}", f"unknown member type {type(m).__name__}")
            if not self.binned and not isinstance(m, TreesIR):
                _fail(f"member {i}", f"{m.kind} reads bin codes: the model needs bin edges")
            m.validate(f"member {i} ({m.kind})", self.n_member_features, classes.size)
        return self

    def _validate_binning(self) -> None:
        edges = self.bin_edges
        if not isinstance(edges, tuple) or len(edges) != self.n_features_in:
            _fail("bin_edges", f"one edge array per input feature ({self.n_features_in}) needed")
        for j, e in enumerate(edges):
            _check_array("bin_edges", f"edges of feature {j}", e, "float64", 1)
            if e.size > 254:
                _fail("bin_edges", f"feature {j} has {e.size + 1} bins; at most 255 fit uint8")
            if np.isnan(e).any() or np.any(np.diff(e) < 0):
                _fail("bin_edges", f"edges of feature {j} must be non-decreasing, without NaN")
        cols = _check_array("columns", "columns", self.columns, "int64", 1)
        if cols.size < 1:
            _fail("columns", "no column selected")
        _check_index("columns", "columns", cols, self.n_features_in)
