"""Fitted library models to member IRs (each flattened once), and member IRs to the kernel."""

from __future__ import annotations

from typing import Any

import numpy as np

from greenauto._native import CompiledPipelineKernel
from greenauto.compiled._flatten import (
    flatten_knn,
    flatten_trees,
    leaf_distributions,
    model_classes,
)
from greenauto.compiled._ir import (
    CategoricalNBIR,
    GaussianNBIR,
    KnnIR,
    MemberIR,
    TreesIR,
)

__all__ = ["add_member", "member_ir", "member_kind", "n_features_of"]

_NB = ("CategoricalNB", "GaussianNB")
_KNN = ("KNeighborsClassifier",)
_SKLEARN_TREES = ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")


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


def n_features_of(model: Any) -> int | None:
    """Features the model was fitted on (None when it cannot say)."""
    n = getattr(model, "n_features_in_", None)
    if n is None and hasattr(model, "num_feature"):
        n = model.num_feature()
    return None if n is None else int(n)


def class_map_of(model: Any, n_own: int, classes: np.ndarray) -> np.ndarray:
    """Index in ``classes`` of each of the model's classes (a subset is allowed)."""
    own = model_classes(model)
    if own is None:  # a bare Booster: its classes are the pipeline's first n_own
        if n_own > classes.size:
            raise ValueError(
                f"The model predicts {n_own} classes; the pipeline has {classes.size}."
            )
        return np.arange(n_own, dtype=np.int32)
    index = {c: i for i, c in enumerate(classes.tolist())}
    missing = [c for c in own.tolist() if c not in index]
    if missing:
        raise ValueError(
            f"{type(model).__name__} predicts classes {missing} that are not in classes "
            f"{classes.tolist()}."
        )
    return np.array([index[c] for c in own.tolist()], dtype=np.int32)


def member_ir(
    model: Any, mapping: np.ndarray, classes: np.ndarray, n_codes: np.ndarray | None
) -> MemberIR:
    """Flatten one fitted member.

    Parameters
    ----------
    model : estimator
        A fitted supported model (see :func:`member_kind`).
    mapping : ndarray of int
        For each feature the model was fitted on, its position in the member rows.
    classes : ndarray
        The classes the pipeline's class indices stand for (the model's classes_ must be
        among them).
    n_codes : ndarray of int or None
        Binned mode: codes each member-row column can take (bins + the NaN bin). None: raw.
    """
    kind = member_kind(model)
    name = type(model).__name__
    n_model = n_features_of(model)
    if mapping.ndim != 1 or (n_model is not None and mapping.size != n_model):
        raise ValueError(
            f"{name} was fitted on {n_model} features; its member columns give {mapping.size}."
        )
    if kind == "trees":
        flat = flatten_trees(model).remap_features(mapping)
        n_own = 2 if flat.output == "sigmoid" else flat.n_outputs
        estimator = name if name in _SKLEARN_TREES else "LightGBM"
        return TreesIR(flat, class_map_of(model, n_own, classes), estimator)
    if n_codes is None:
        raise ValueError(f"{name} needs a binner (binned mode): it reads bin codes.")
    features = mapping.astype(np.int32)
    if kind == "knn":
        knn = flatten_knn(model)
        class_map = class_map_of(model, len(model.classes_), classes)
        return KnnIR(features, knn.train, knn.labels, knn.k, knn.p, class_map)
    if name == "CategoricalNB":
        tables = [np.asarray(t, dtype=np.float64).T[:256] for t in model.feature_log_prob_]
        prior = np.ascontiguousarray(model.class_log_prior_, dtype=np.float64)
        return CategoricalNBIR(
            features,
            np.array([t.shape[0] for t in tables], dtype=np.int64),
            np.ascontiguousarray(np.concatenate(tables)),
            prior,
            class_map_of(model, prior.size, classes),
        )
    theta = np.ascontiguousarray(model.theta_, dtype=np.float64)
    return GaussianNBIR(
        features,
        np.minimum(n_codes[mapping], 256).astype(np.int64),
        theta,
        np.ascontiguousarray(model.var_, dtype=np.float64),
        np.ascontiguousarray(model.class_prior_, dtype=np.float64),
        class_map_of(model, theta.shape[0], classes),
    )


def add_member(kernel: CompiledPipelineKernel, m: MemberIR) -> None:
    """Hand a (validated) member's arrays to the kernel, which validates them again."""
    class_map = m.class_map.tolist()
    if isinstance(m, TreesIR):
        f = m.forest
        values = leaf_distributions(f.values) if f.output == "mean" else f.values
        kernel.add_trees(
            f.tree_starts, f.feature, f.threshold, f.left, f.right, f.missing_left,
            np.ascontiguousarray(values), f.out_offset, f.n_outputs, f.output_code,
            f.sigmoid, class_map,
        )  # fmt: skip
    elif isinstance(m, CategoricalNBIR):
        kernel.add_table_nb(m.features, m.n_codes, m.table, m.class_log_prior, class_map)
    elif isinstance(m, GaussianNBIR):
        table, prior = m.tables()
        kernel.add_table_nb(m.features, m.n_codes, table, prior, class_map)
    else:
        kernel.add_knn(
            m.features, np.ascontiguousarray(m.train), m.labels, m.class_map.size, m.k, m.p,
            class_map,
        )  # fmt: skip
