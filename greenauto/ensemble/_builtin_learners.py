"""The built-in learners: decision tree, random forest, extra trees, LightGBM, categorical and
Gaussian naive Bayes, KNN. Importing this module registers them (``greenauto.ensemble`` does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from greenauto.ensemble._learners import (
    Choice,
    Dimension,
    FloatRange,
    IntRange,
    Learner,
    Params,
    register_learner,
)

__all__ = [
    "CategoricalNBLearner",
    "DecisionTreeLearner",
    "ExtraTreesLearner",
    "GaussianNBLearner",
    "KNNLearner",
    "LightGBMLearner",
    "RandomForestLearner",
]


# --------------------------------------------------------------------------- trees


def _tree_depth(max_depth: int, n_rows: int, min_leaf: int) -> int:
    """Depth a tree can reach: its cap, or the depth at which leaves run out of rows."""
    by_rows = math.ceil(math.log2(max(2.0, n_rows / max(1, min_leaf))))
    return max(1, min(max_depth, by_rows))


@register_learner
class DecisionTreeLearner(Learner):
    """A single CART tree with cost-complexity pruning (``ccp_alpha`` on a log scale)."""

    name = "decision_tree"
    kind = "trees"
    label = "DecisionTree"
    space: ClassVar[Mapping[str, Dimension]] = {
        "max_depth": IntRange(1, 20),
        "min_samples_leaf": IntRange(1, 64, log=True),
        "criterion": Choice(("gini", "entropy")),
        # Weighted impurity: a split of a 2-row node gains ~1/n_rows, so 1e-6 prunes next to
        # nothing below ~10^5 rows; 0.05 keeps only splits worth 5 % of the root's impurity.
        "ccp_alpha": FloatRange(1e-6, 0.05, log=True),
    }
    low_cost: ClassVar[Mapping[str, Any]] = {
        "max_depth": 6,
        "min_samples_leaf": 4,
        "criterion": "gini",
        "ccp_alpha": 1e-6,
    }

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        self.check_params(params)
        return DecisionTreeClassifier(**params, random_state=random_state)

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        return float(_tree_depth(params["max_depth"], n_rows, params["min_samples_leaf"]))

    def describe(self, params: Params, *, short: bool = False) -> str:
        if short:
            return f"{self.label}(depth {params['max_depth']})"
        return f"{self.label}(depth {params['max_depth']}, {params['min_samples_leaf']}+ per leaf)"


class _ForestLearner(Learner):
    kind = "trees"
    estimator_class: ClassVar[type]
    space: ClassVar[Mapping[str, Dimension]] = {
        "n_estimators": IntRange(5, 100, log=True),
        "max_depth": IntRange(2, 16),
        "max_features": FloatRange(0.1, 1.0),
        "min_samples_leaf": IntRange(1, 64, log=True),
    }
    low_cost: ClassVar[Mapping[str, Any]] = {
        "n_estimators": 10,
        "max_depth": 8,
        "max_features": 0.5,
        "min_samples_leaf": 2,
    }

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        self.check_params(params)
        return self.estimator_class(**params, n_jobs=1, random_state=random_state)

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        depth = _tree_depth(params["max_depth"], n_rows, params["min_samples_leaf"])
        return float(params["n_estimators"] * depth)

    def describe(self, params: Params, *, short: bool = False) -> str:
        if short:
            return f"{self.label}({params['n_estimators']} trees)"
        return f"{self.label}({params['n_estimators']} trees, depth {params['max_depth']})"


@register_learner
class RandomForestLearner(_ForestLearner):
    """A small random forest (5 to 100 trees, bootstrap rows, one thread)."""

    name = "random_forest"
    label = "RandomForest"
    estimator_class = RandomForestClassifier


@register_learner
class ExtraTreesLearner(_ForestLearner):
    """Small extremely randomised trees (5 to 100 trees, one thread)."""

    name = "extra_trees"
    label = "ExtraTrees"
    estimator_class = ExtraTreesClassifier


@register_learner
class LightGBMLearner(Learner):
    """LightGBM gradient boosting; deterministic, one thread, silent.

    Besides the number of trees (whose prefixes the search also scores: early stopping) the
    space holds what shrinks each tree's inference work: leaves, a depth limit (``-1``: none)
    and the rows a leaf needs.
    """

    name = "lightgbm"
    kind = "trees"
    label = "LightGBM"
    space: ClassVar[Mapping[str, Dimension]] = {
        "n_estimators": IntRange(5, 300, log=True),
        "num_leaves": IntRange(4, 64, log=True),
        "learning_rate": FloatRange(0.01, 0.3, log=True),
        "min_child_samples": IntRange(2, 100, log=True),
        "colsample_bytree": FloatRange(0.3, 1.0),
        "reg_lambda": FloatRange(1e-3, 10.0, log=True),
        "max_depth": Choice((-1, 3, 4, 6, 8)),
    }
    low_cost: ClassVar[Mapping[str, Any]] = {
        "n_estimators": 40,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_child_samples": 20,
        "colsample_bytree": 1.0,
        "reg_lambda": 1.0,
        "max_depth": -1,
    }

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        import lightgbm  # a hard dependency; imported here to keep `import greenauto` light

        self.check_params(params)
        extra: dict[str, Any] = {}
        if n_codes is not None:  # one LightGBM bin per code (up to 255 bins + the NaN code)
            extra["max_bin"] = max(255, int(n_codes))
        return lightgbm.LGBMClassifier(
            **params,
            **extra,
            n_jobs=1,
            verbose=-1,
            deterministic=True,
            force_row_wise=True,  # with deterministic=True: same model on every run
            random_state=random_state,
        )

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        leaves = min(params["num_leaves"], max(2, n_rows // params["min_child_samples"]))
        depth = math.ceil(math.log2(leaves))
        if params.get("max_depth", -1) > 0:
            depth = min(depth, params["max_depth"])
        trees_per_round = 1 if n_classes <= 2 else n_classes
        return float(params["n_estimators"] * trees_per_round * depth)

    def describe(self, params: Params, *, short: bool = False) -> str:
        if short:
            return f"{self.label}({params['n_estimators']} trees)"
        depth = params.get("max_depth", -1)
        limit = f", depth {depth}" if depth > 0 else ""
        trees, leaves = params["n_estimators"], params["num_leaves"]
        return f"{self.label}({trees} trees, {leaves} leaves{limit})"


# --------------------------------------------------------------------------- naive Bayes, KNN


@register_learner
class CategoricalNBLearner(Learner):
    """Categorical naive Bayes on bin codes; every code is a category."""

    name = "categorical_nb"
    kind = "nb"
    label = "CategoricalNB"
    space: ClassVar[Mapping[str, Dimension]] = {"alpha": FloatRange(1e-3, 10.0, log=True)}
    low_cost: ClassVar[Mapping[str, Any]] = {"alpha": 1.0}

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        self.check_params(params)
        # min_categories = every possible code, so a bin unseen in training is fine at predict.
        return CategoricalNB(**params, min_categories=n_codes)

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        return float(n_features * n_classes)  # one table lookup and add per feature and class


@register_learner
class GaussianNBLearner(Learner):
    """Gaussian naive Bayes."""

    name = "gaussian_nb"
    kind = "nb"
    label = "GaussianNB"
    space: ClassVar[Mapping[str, Dimension]] = {"var_smoothing": FloatRange(1e-12, 1e-1, log=True)}
    low_cost: ClassVar[Mapping[str, Any]] = {"var_smoothing": 1e-9}

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        self.check_params(params)
        return GaussianNB(**params)

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        return float(3 * n_features * n_classes)  # subtract, square, scale-and-add


@register_learner
class KNNLearner(Learner):
    """Brute-force k nearest neighbours, uniform weights (what the compiled KNN computes)."""

    name = "knn"
    kind = "knn"
    label = "KNN"
    space: ClassVar[Mapping[str, Dimension]] = {
        "n_neighbors": IntRange(1, 30, log=True),
        "p": Choice((1, 2)),
    }
    low_cost: ClassVar[Mapping[str, Any]] = {"n_neighbors": 5, "p": 2}

    def build(
        self,
        params: Params,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        self.check_params(params)
        k = params["n_neighbors"] if n_rows is None else max(1, min(params["n_neighbors"], n_rows))
        return KNeighborsClassifier(
            n_neighbors=k, p=params["p"], weights="uniform", algorithm="brute", n_jobs=1
        )

    def cost_hint(
        self, params: Params, n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        return float(n_rows * (n_features + 1))  # one distance per training row, then select

    def describe(self, params: Params, *, short: bool = False) -> str:
        if short:
            return f"{self.label}(k={params['n_neighbors']})"
        return f"{self.label}(k={params['n_neighbors']}, L{params['p']})"
