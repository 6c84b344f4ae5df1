"""Fitted models to plain arrays: one node format for every tree source, tables for NB, KNN.

Tree format (:class:`FlatForest`): tree ``t`` owns nodes ``tree_starts[t]:tree_starts[t + 1]``,
its root first; a node is a leaf when ``left == right == -1``; otherwise a row goes left when
``x[feature] <= threshold`` and a NaN goes left when ``missing_left``. Leaf ``i`` adds
``values[i]`` to outputs ``out_offset[t]:out_offset[t] + width``; ``output`` turns the summed
outputs into probabilities: ``"mean"`` (scikit-learn: every leaf row divided by its sum, as
``DecisionTreeClassifier.predict_proba`` does, then the mean over trees; ``values`` keeps the
library's ``tree_.value`` rows), ``"sigmoid"`` or ``"softmax"`` (LightGBM binary / multiclass).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "FlatForest",
    "KnnArrays",
    "TableNBArrays",
    "flatten_knn",
    "flatten_nb",
    "flatten_trees",
    "leaf_distributions",
    "model_classes",
]

_OUTPUTS = {"mean": 0, "sigmoid": 1, "softmax": 2}
# LightGBM reads |x| <= kZeroThreshold (the float 1e-35f) as 0.0 before any split.
_LGB_ZERO = float(np.float32(1e-35))
_BELOW_NEG_ZERO = float(np.nextafter(np.float32(-_LGB_ZERO), np.float32(-np.inf)))


@dataclass(frozen=True)
class FlatForest:
    """A tree ensemble as parallel node arrays (see the module docstring)."""

    tree_starts: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    values: np.ndarray
    out_offset: np.ndarray
    n_outputs: int
    output: str
    sigmoid: float = 1.0

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return self.tree_starts.size - 1

    @property
    def output_code(self) -> int:
        """The output transform as the kernel's integer code."""
        return _OUTPUTS[self.output]

    def remap_features(self, mapping: np.ndarray) -> FlatForest:
        """Return a copy whose split features are ``mapping[feature]`` (leaves untouched)."""
        mapping = np.asarray(mapping, dtype=np.int64)
        internal = self.left != -1
        used = self.feature[internal]
        if used.size and (used.min() < 0 or used.max() >= mapping.size):
            raise ValueError(
                f"The model splits on feature {int(used.max())} but only {mapping.size} "
                "member columns were given."
            )
        feature = self.feature.copy()
        feature[internal] = mapping[used]
        return replace(self, feature=feature.astype(np.int32))


@dataclass(frozen=True)
class TableNBArrays:
    """Naive Bayes as per-feature per-code score tables plus a per-class constant."""

    features: np.ndarray  # int32, member column of each table
    n_codes: np.ndarray  # int64, rows of each feature's table
    table: np.ndarray  # float64, (sum(n_codes), n_classes)
    prior: np.ndarray  # float64, (n_classes,)


@dataclass(frozen=True)
class KnnArrays:
    """Brute-force KNN on codes: training codes, class indices, k and the Minkowski p."""

    features: np.ndarray  # int32
    train: np.ndarray  # uint8, (n_train, n_features)
    labels: np.ndarray  # int32
    k: int
    p: int


def leaf_distributions(values: np.ndarray) -> np.ndarray:
    """Rows divided by their sum (a zero row stays zero): scikit-learn's ``predict_proba`` of a
    tree from its ``tree_.value`` rows, operation for operation."""
    values = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite rows: refused later
        normalizer = values.sum(axis=1)[:, np.newaxis]
        normalizer[normalizer == 0.0] = 1.0
        values /= normalizer
    return values


def model_classes(model: Any) -> np.ndarray | None:
    """The model's ``classes_`` (None for a bare LightGBM Booster)."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else np.asarray(classes)


def flatten_trees(model: Any) -> FlatForest:
    """Flatten a fitted tree model.

    Parameters
    ----------
    model : estimator
        A fitted scikit-learn ``DecisionTreeClassifier``, ``RandomForestClassifier`` or
        ``ExtraTreesClassifier``, a ``lightgbm.Booster`` or a fitted ``LGBMClassifier``.

    Returns
    -------
    flat : FlatForest
        The model in the common node format.
    """
    booster = getattr(model, "booster_", None) if hasattr(model, "fit") else None
    if type(model).__name__ == "Booster" or booster is not None:
        return _flatten_lightgbm(booster if booster is not None else model)
    if hasattr(model, "tree_"):
        return _flatten_sklearn([model.tree_], model)
    estimators = getattr(model, "estimators_", None)
    if estimators is not None and all(hasattr(e, "tree_") for e in estimators):
        return _flatten_sklearn([e.tree_ for e in estimators], model)
    raise TypeError(f"Cannot flatten {type(model).__name__}: not a tree model.")


def _flatten_sklearn(trees: list[Any], model: Any) -> FlatForest:
    if getattr(model, "n_outputs_", 1) != 1:
        raise ValueError("Multi-output tree models are not supported.")
    n_classes = int(np.ravel(model.n_classes_)[0])
    parts: list[tuple[np.ndarray, ...]] = []
    starts = [0]
    for tree in trees:
        left = tree.children_left.astype(np.int32)
        right = tree.children_right.astype(np.int32)
        leaf = left == -1
        # the library's own leaf values; see leaf_distributions for what predict_proba uses
        values = np.array(tree.value[:, 0, :n_classes], dtype=np.float64)
        feature = np.where(leaf, 0, tree.feature).astype(np.int32)
        threshold = np.where(leaf, 0.0, tree.threshold).astype(np.float64)
        missing = getattr(tree, "missing_go_to_left", np.zeros(left.size, dtype=np.uint8))
        offset = starts[-1]
        left = np.where(leaf, -1, left + offset).astype(np.int32)
        right = np.where(leaf, -1, right + offset).astype(np.int32)
        parts.append((feature, threshold, left, right, np.asarray(missing, np.uint8), values))
        starts.append(offset + left.size)
    cat = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    return FlatForest(
        tree_starts=np.array(starts, dtype=np.int64),
        feature=cat[0],
        threshold=cat[1],
        left=cat[2],
        right=cat[3],
        missing_left=cat[4],
        values=np.ascontiguousarray(cat[5]),
        out_offset=np.zeros(len(trees), dtype=np.int32),
        n_outputs=n_classes,
        output="mean",
    )


def _lightgbm_output(dump: dict[str, Any]) -> tuple[str, int, float]:
    if dump.get("average_output"):
        raise ValueError("LightGBM random-forest mode (average_output) is not supported.")
    words = str(dump.get("objective", "")).split()
    name = words[0] if words else ""
    if name == "binary":
        sigmoid = 1.0
        for w in words[1:]:
            if w.startswith("sigmoid:"):
                sigmoid = float(w.split(":", 1)[1])
        return "sigmoid", 1, sigmoid
    if name in ("multiclass", "softmax"):
        return "softmax", int(dump["num_class"]), 1.0
    raise ValueError(
        f"LightGBM objective {name!r} is not supported; use 'binary' or 'multiclass'."
    )


def _flatten_lightgbm(booster: Any) -> FlatForest:
    dump = booster.dump_model()
    output, n_outputs, sigmoid = _lightgbm_output(dump)
    per_iter = int(dump.get("num_tree_per_iteration", 1))
    if per_iter != n_outputs:
        raise ValueError(f"{per_iter} trees per iteration for {n_outputs} outputs.")
    cols: list[list[Any]] = [[], [], [], [], [], []]
    starts = [0]
    for t, info in enumerate(dump["tree_info"]):
        _flatten_lightgbm_tree(info["tree_structure"], starts[-1], cols)
        starts.append(len(cols[0]))
        if starts[-1] == starts[-2]:
            raise ValueError(f"LightGBM tree {t} is empty.")
    n_trees = len(starts) - 1
    return FlatForest(
        tree_starts=np.array(starts, dtype=np.int64),
        feature=np.array(cols[0], dtype=np.int32),
        threshold=np.array(cols[1], dtype=np.float64),
        left=np.array(cols[2], dtype=np.int32),
        right=np.array(cols[3], dtype=np.int32),
        missing_left=np.array(cols[4], dtype=np.uint8),
        values=np.array(cols[5], dtype=np.float64).reshape(-1, 1),
        out_offset=(np.arange(n_trees) % per_iter).astype(np.int32),
        n_outputs=n_outputs,
        output=output,
        sigmoid=sigmoid,
    )


def _flatten_lightgbm_tree(root: dict[str, Any], offset: int, cols: list[list[Any]]) -> None:
    """Append one tree breadth first: every child lands after its parent."""
    queue = [root]
    i = 0
    while i < len(queue):
        node = queue[i]
        i += 1
        if "leaf_value" in node:
            for col, v in zip(cols, (0, 0.0, -1, -1, 0, float(node["leaf_value"])), strict=True):
                col.append(v)
            continue
        if node.get("decision_type", "<=") != "<=":
            raise ValueError("LightGBM categorical splits are not supported.")
        missing = node.get("missing_type", "None")
        threshold = _lightgbm_zero_threshold(float(node["threshold"]))
        if missing == "NaN":
            missing_left = bool(node.get("default_left", True))
        elif missing == "None":
            missing_left = threshold >= 0.0  # LightGBM turns NaN into 0.0 here
        else:
            raise ValueError(f"LightGBM missing_type {missing!r} is not supported.")
        left = offset + len(queue)
        queue.extend((node["left_child"], node["right_child"]))
        row = (int(node["split_feature"]), threshold, left, left + 1, int(missing_left), 0.0)
        for col, v in zip(cols, row, strict=True):
            col.append(v)


def _lightgbm_zero_threshold(t: float) -> float:
    """A threshold for which ``x <= t`` equals LightGBM's ``(0 if |x| <= 1e-35f else x) <= t``.

    Exact for every float32 ``x``: values in the zero band go where 0.0 goes.
    """
    if 0.0 <= t < _LGB_ZERO:
        return _LGB_ZERO
    if -_LGB_ZERO <= t < 0.0:
        return _BELOW_NEG_ZERO
    return t


def flatten_nb(model: Any, n_codes: np.ndarray | None = None) -> TableNBArrays:
    """Score tables of a CategoricalNB, or of a GaussianNB fitted on bin codes.

    ``n_codes[j]`` (GaussianNB only) is how many codes feature ``j`` can take (its bins plus
    the NaN bin); 256 by default.
    """
    name = type(model).__name__
    if name == "CategoricalNB" or hasattr(model, "feature_log_prob_"):
        tables = [np.asarray(t, dtype=np.float64).T[:256] for t in model.feature_log_prob_]
        prior = np.asarray(model.class_log_prior_, dtype=np.float64)
    elif hasattr(model, "theta_") and hasattr(model, "var_"):
        theta, var = model.theta_, model.var_
        n_features = theta.shape[1]
        sizes = np.full(n_features, 256) if n_codes is None else np.asarray(n_codes)
        tables = []
        for j in range(n_features):
            codes = np.arange(int(sizes[j]), dtype=np.float64)[:, np.newaxis]
            tables.append(-0.5 * ((codes - theta[:, j]) ** 2) / var[:, j])
        prior = np.log(model.class_prior_) - 0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
    else:
        raise TypeError(f"Cannot compile {name}: not CategoricalNB or GaussianNB.")
    return TableNBArrays(
        features=np.arange(len(tables), dtype=np.int32),
        n_codes=np.array([t.shape[0] for t in tables], dtype=np.int64),
        table=np.ascontiguousarray(np.concatenate(tables), dtype=np.float64),
        prior=np.ascontiguousarray(prior),
    )


def flatten_knn(model: Any) -> KnnArrays:
    """Training codes and settings of a KNeighborsClassifier fitted on bin codes."""
    if getattr(model, "weights", "uniform") != "uniform":
        raise ValueError("Only weights='uniform' KNN is supported.")
    metric = getattr(model, "effective_metric_", None)
    params = getattr(model, "effective_metric_params_", None) or {}
    p = {"euclidean": 2, "l2": 2, "manhattan": 1, "l1": 1, "cityblock": 1}.get(metric)
    if metric == "minkowski" and params.get("p") in (1, 2):
        p = int(params["p"])
    if p is None:
        raise ValueError(f"KNN metric {metric!r} is not supported; use L1 or L2 (p=1 or 2).")
    if getattr(model, "outputs_2d_", False):
        raise ValueError("Multi-output KNN is not supported.")
    # scikit-learn keeps a KNN's training set and search method only in private fields (no
    # public accessor exists; ONNX converters read the same fields)
    fit_x = np.asarray(model._fit_X)  # noqa: SLF001
    fit_method = getattr(model, "_fit_method", "brute")
    if fit_method != "brute" or fit_x.dtype.kind != "f":
        warnings.warn(
            "The compiled KNN reproduces scikit-learn's brute-force neighbour search "
            "(algorithm='brute' on float codes); this model was fitted with "
            f"algorithm={fit_method!r} on {fit_x.dtype} data, so rows with tied "
            "distances may get other neighbours than its own predict gives.",
            UserWarning,
            stacklevel=5,  # the CompiledPipeline(...) call
        )
    if fit_x.size and (
        not np.all(np.isfinite(fit_x))
        or fit_x.min() < 0
        or fit_x.max() > 255
        or np.any(fit_x != np.round(fit_x))
    ):
        raise ValueError("The KNN member must be fitted on bin codes (integers 0 to 255).")
    return KnnArrays(
        features=np.arange(fit_x.shape[1], dtype=np.int32),
        train=np.ascontiguousarray(fit_x, dtype=np.uint8),
        labels=np.ascontiguousarray(model._y, dtype=np.int32),  # noqa: SLF001
        k=int(model.n_neighbors),
        p=p,
    )
