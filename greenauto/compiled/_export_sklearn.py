"""A model IR as a plain scikit-learn Pipeline that needs no greenauto import.

- Binning: a ``ColumnTransformer`` giving, per selected column, ``np.digitize(x, edges)``
  (the number of inner edges ``<= x``; NaN sorts last, so it counts them all, as ``+inf``)
  and ``np.isnan(x)``; ``np.add.reduceat`` adds each pair, so NaN gets the bin of its own the
  Binner gives it; ``np.asarray(..., dtype="float64")`` then hands the members float64
  codes, what they were fitted on.
- Members rebuilt from their arrays: scikit-learn trees and forests (their ``tree_`` set
  through the ``Tree`` pickle state, as skops does; ``feature_importances_`` count splits,
  as the IR keeps no impurities), LightGBM as a
  ``GradientBoostingClassifier`` of regression trees (learning rate 1, zero initial score),
  ``CategoricalNB``, ``GaussianNB`` and a brute-force ``KNeighborsClassifier`` refitted on the
  stored training codes.
- The vote: one member stands alone; a soft vote is a ``VotingClassifier(voting="soft")``
  (it averages the same probabilities in the same order); a hard vote is a
  ``VotingClassifier(voting="hard")`` only where no tie can happen (three members, two
  classes): scikit-learn breaks hard-vote ties by the lowest class, greenauto by the members'
  probabilities, so other hard votes raise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from greenauto.compiled._ir import (
    CategoricalNBIR,
    GaussianNBIR,
    KnnIR,
    MemberIR,
    ModelIR,
    TreesIR,
)
from greenauto.compiled._schema import categorical_columns, synthetic_frame
from greenauto.exceptions import ExportError

__all__ = ["to_sklearn"]


def to_sklearn(ir: ModelIR) -> Any:
    """The model as a fitted scikit-learn ``Pipeline`` with the same predictions.

    Parameters
    ----------
    ir : ModelIR
        The model.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``predict`` gives the labels of the compiled model, ``predict_proba`` its
        probabilities (within 1e-12 for scikit-learn and NB members, 1e-6 for LightGBM).

    Raises
    ------
    ExportError
        A hard vote that can tie (two members, or three over three or more classes): its
        tie-break has no scikit-learn equivalent. Save the model or use ``voting="soft"``.
    """
    from sklearn.pipeline import Pipeline

    steps = []
    if ir.schema is not None and categorical_columns(ir.schema, ir.n_features_in):
        steps.append(("encode", _encoding_step(ir)))
    if ir.binned:
        steps += _binning_steps(ir)
    steps.append(("model", _final(ir)))
    return Pipeline(steps)


def _encoding_step(ir: ModelIR) -> Any:
    """Categorical columns to their codes (the training categories, in the TabularEncoder's
    order; missing values stay NaN), numeric columns passed through, in the input order."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    schema = ir.schema
    cats = categorical_columns(schema, ir.n_features_in)
    unknown = (
        {"handle_unknown": "use_encoded_value", "unknown_value": np.nan}
        if schema["handle_unknown"] == "missing"
        else {"handle_unknown": "error"}
    )
    parts = []
    for j, name in enumerate(schema["names"]):
        column = [name] if schema["named"] else [j]
        if j in cats:
            # NaN last: a missing value is a known "category" encoded as NaN, as greenauto does
            categories = [np.array([*cats[j], np.nan], dtype=object)]
            encoder = OrdinalEncoder(
                categories=categories, dtype=np.float64, encoded_missing_value=np.nan, **unknown
            )
            parts.append((f"code{j}", encoder, column))
        else:
            parts.append((f"num{j}", "passthrough", column))
    encode = ColumnTransformer(parts, remainder="drop")
    frame = synthetic_frame(schema, ir.n_features_in)
    if not schema["named"]:
        frame.columns = range(ir.n_features_in)
    encode.fit(frame if schema["named"] else frame.to_numpy(dtype=object))
    return encode


def _binning_steps(ir: ModelIR) -> list[tuple[str, Any]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer

    parts = []
    for i, c in enumerate(ir.columns.tolist()):
        digitize = FunctionTransformer(np.digitize, kw_args={"bins": ir.bin_edges[c]})
        parts.append((f"bin{i}_x{c}", digitize, [c]))
        parts.append((f"nan{i}_x{c}", FunctionTransformer(np.isnan), [c]))
    binning = ColumnTransformer(parts, remainder="drop")
    pairs = np.arange(0, 2 * ir.columns.size, 2)
    add_nan = FunctionTransformer(np.add.reduceat, kw_args={"indices": pairs, "axis": 1})
    as_float = FunctionTransformer(np.asarray, kw_args={"dtype": "float64"})
    steps = [("bin", binning), ("nan_bin", add_nan), ("float64", as_float)]
    X = np.zeros((1, ir.n_features_in))
    for _, step in steps:
        X = step.fit_transform(X)
    return steps


def _final(ir: ModelIR) -> Any:
    labels = ir.classes
    if len(ir.members) == 1:
        m = ir.members[0]
        return _member(m, labels[m.class_map], ir.n_member_features)
    identity = all(np.array_equal(m.class_map, np.arange(labels.size)) for m in ir.members)
    if not identity:
        raise ExportError("A vote of members that know different classes is not exported.")
    if ir.voting == "hard" and not (len(ir.members) == 3 and labels.size == 2):
        raise ExportError(
            "This hard vote can tie, and greenauto breaks its ties by the members' summed "
            "probabilities, which scikit-learn's VotingClassifier cannot express (it takes the "
            "lowest class). Save the model with greenauto.save_model, or vote softly."
        )
    from sklearn.ensemble import VotingClassifier
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    index = np.arange(labels.size)
    fitted = [_member(m, index, ir.n_member_features) for m in ir.members]
    names = [f"m{i}_{type(e).__name__.lower()}" for i, e in enumerate(fitted)]
    vote = VotingClassifier(
        list(zip(names, fitted, strict=True)), voting=ir.voting, flatten_transform=False
    )
    vote.estimators_ = fitted
    vote.named_estimators_ = Bunch(**dict(zip(names, fitted, strict=True)))
    vote.le_ = LabelEncoder().fit(labels)
    vote.classes_ = vote.le_.classes_
    if not np.array_equal(vote.classes_, labels):
        raise ExportError("Class labels that are not sorted cannot be exported.")
    return vote


def _member(m: MemberIR, classes: np.ndarray, n_features: int) -> Any:
    if isinstance(m, TreesIR):
        return (
            _gradient_boosting(m, classes, n_features)
            if m.is_boosted
            else _forest(m, classes, n_features)
        )
    if isinstance(m, KnnIR):
        from sklearn.neighbors import KNeighborsClassifier

        _full_width(m.features, n_features, "KNN")
        knn = KNeighborsClassifier(n_neighbors=m.k, p=m.p, algorithm="brute")
        train = np.zeros((m.train.shape[0], n_features))
        train[:, m.features] = m.train
        return knn.fit(train, classes[m.labels])
    if isinstance(m, CategoricalNBIR):
        _full_width(m.features, n_features, "CategoricalNB")
        from sklearn.naive_bayes import CategoricalNB

        nb = CategoricalNB()
        starts = np.concatenate([[0], np.cumsum(m.n_codes)])
        nb.feature_log_prob_ = [
            np.ascontiguousarray(m.table[starts[j] : starts[j + 1]].T)
            for j in np.argsort(m.features)
        ]
        nb.class_log_prior_ = m.class_log_prior
        nb.n_categories_ = m.n_codes[np.argsort(m.features)]
        nb.class_count_ = np.zeros(m.class_log_prior.size)  # read for the class count only
        return _classifier_attrs(nb, classes, n_features)
    assert isinstance(m, GaussianNBIR)
    _full_width(m.features, n_features, "GaussianNB")
    from sklearn.naive_bayes import GaussianNB

    nb = GaussianNB()
    order = np.argsort(m.features)
    nb.theta_, nb.var_ = m.theta[:, order], m.var[:, order]
    nb.class_prior_ = m.class_prior
    return _classifier_attrs(nb, classes, n_features)


def _full_width(features: np.ndarray, n_features: int, what: str) -> None:
    if not np.array_equal(np.sort(features), np.arange(n_features)):
        raise ExportError(f"A {what} member that reads a subset of the columns is not "
                                  "exported.")  # fmt: skip


def _classifier_attrs(est: Any, classes: np.ndarray, n_features: int) -> Any:
    est.classes_ = np.asarray(classes)
    est.n_features_in_ = n_features
    return est


def _tree_state(f: Any, t: int, values: np.ndarray) -> dict[str, Any]:
    """``Tree.__setstate__`` state of tree ``t`` of a flat forest (node indices made local)."""
    from sklearn.tree import DecisionTreeClassifier

    node_dtype = DecisionTreeClassifier().fit([[0.0], [1.0]], [0, 1]).tree_.__getstate__()
    node_dtype = node_dtype["nodes"].dtype
    lo, hi = int(f.tree_starts[t]), int(f.tree_starts[t + 1])
    left, right = f.left[lo:hi].astype(np.int64), f.right[lo:hi].astype(np.int64)
    leaf = left == -1
    nodes = np.zeros(hi - lo, dtype=node_dtype)
    nodes["left_child"] = np.where(leaf, -1, left - lo)
    nodes["right_child"] = np.where(leaf, -1, right - lo)
    nodes["feature"] = np.where(leaf, -2, f.feature[lo:hi])
    # the largest float32 <= threshold: the same decision for every float32 input (what
    # scikit-learn and the compiled kernel compare), and exact where thresholds are float32
    nodes["threshold"] = np.where(leaf, -2.0, _float32_below(f.threshold[lo:hi]))
    nodes["n_node_samples"] = 1
    nodes["weighted_n_node_samples"] = 1.0
    nodes["impurity"] = _splits_below(nodes)
    nodes["missing_go_to_left"] = f.missing_left[lo:hi]
    depth = _depth(nodes)
    state = {
        "max_depth": depth,
        "node_count": hi - lo,
        "nodes": nodes,
        "values": np.ascontiguousarray(values[lo:hi][:, np.newaxis, :]),
    }
    return state


def _float32_below(t: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)
    return f.astype(np.float64)


def _splits_below(nodes: np.ndarray) -> np.ndarray:
    """Impurity stand-in (the IR keeps no impurities): the splits in each node's subtree, so
    that ``feature_importances_`` of an exported tree counts each feature's splits."""
    below = np.zeros(nodes.size)
    for i in range(nodes.size - 1, -1, -1):  # children come after their parent
        left, right = nodes["left_child"][i], nodes["right_child"][i]
        if left != -1:
            below[i] = 1.0 + below[left] + below[right]
    return below


def _depth(nodes: np.ndarray) -> int:
    depth = np.zeros(nodes.size, dtype=np.int64)
    for i in range(nodes.size):  # children come after their parent
        for child in (nodes["left_child"][i], nodes["right_child"][i]):
            if child != -1:
                depth[child] = depth[i] + 1
    return int(depth.max())


def _tree(est: Any, f: Any, t: int, values: np.ndarray, n_features: int, n_classes: int) -> Any:
    from sklearn.tree._tree import Tree

    state = _tree_state(f, t, values)
    tree = Tree(n_features, np.array([n_classes], dtype=np.intp), 1)
    tree.__setstate__(state)
    est.tree_ = tree
    est.n_outputs_ = 1
    est.n_features_in_ = n_features
    est.max_features_ = n_features
    return est


def _forest(m: TreesIR, classes: np.ndarray, n_features: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    f, k = m.forest, classes.size
    tree_class = (
        ExtraTreeClassifier if m.estimator == "ExtraTreesClassifier" else (DecisionTreeClassifier)
    )
    trees = []
    for t in range(f.n_trees):
        tree = _tree(tree_class(), f, t, f.values, n_features, k)
        tree.classes_, tree.n_classes_ = np.asarray(classes), k
        trees.append(tree)
    if m.estimator == "DecisionTreeClassifier" and len(trees) == 1:
        return trees[0]
    forest_class = (
        ExtraTreesClassifier if m.estimator == "ExtraTreesClassifier" else (RandomForestClassifier)
    )
    forest = forest_class(n_estimators=len(trees))
    forest.estimators_ = trees
    forest.estimator_ = tree_class()
    forest.n_outputs_ = 1
    forest.n_classes_ = k
    return _classifier_attrs(forest, classes, n_features)


def _gradient_boosting(m: TreesIR, classes: np.ndarray, n_features: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.tree import DecisionTreeRegressor

    f = m.forest
    if f.output == "sigmoid" and f.sigmoid != 1.0:
        raise ExportError("LightGBM with sigmoid != 1 is not exported.")
    per_iter, n_iter = m.trees_per_iteration, m.n_iterations
    # a tiny fit sets the loss, the zero initial score and the bookkeeping; its trees are
    # then replaced by the member's, one per (iteration, class)
    gbc = GradientBoostingClassifier(n_estimators=1, learning_rate=1.0, init="zero", max_depth=1)
    synthetic_y = np.resize(np.asarray(classes), max(2 * classes.size, 4))
    gbc.fit(np.zeros((synthetic_y.size, n_features)), synthetic_y)
    stages = np.empty((n_iter, per_iter), dtype=object)
    for t in range(f.n_trees):
        reg = _tree(DecisionTreeRegressor(), f, t, f.values, n_features, 1)
        stages[t // per_iter, t % per_iter] = reg
    gbc.estimators_ = stages
    gbc.n_estimators = gbc.n_estimators_ = n_iter
    gbc.train_score_ = np.zeros(n_iter)
    return gbc
