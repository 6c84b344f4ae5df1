"""Learner registry: each ensemble member kind declares its search space, a low-cost start and
a cost estimate (FLAML's learner pattern, ``flaml/automl/model.py``), and builds its estimator.

A space is a plain mapping ``name -> IntRange | FloatRange | Choice``; :meth:`Learner.suggest`
asks an Optuna trial for every entry under ``prefix + name`` and returns the values under
``name``, so a learner's params and a trial's params map one-to-one (``enqueue_trial`` and
``FixedTrial`` need no translation).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

if TYPE_CHECKING:
    import optuna

__all__ = [
    "KINDS",
    "Choice",
    "FloatRange",
    "IntRange",
    "Learner",
    "get_learner",
    "learner_names",
    "register_learner",
]

KINDS = ("knn", "nb", "trees")


# --------------------------------------------------------------------------- dimensions


@dataclass(frozen=True)
class IntRange:
    """Integers ``low..high`` (inclusive), optionally on a log scale."""

    low: int
    high: int
    log: bool = False

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> int:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def __contains__(self, value: object) -> bool:
        return (
            isinstance(value, Integral)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class FloatRange:
    """Floats in ``[low, high]``, optionally on a log scale."""

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> float:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def __contains__(self, value: object) -> bool:
        return (
            isinstance(value, Real)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class Choice:
    """One of a fixed tuple of options."""

    options: tuple[Any, ...]

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_categorical(name, self.options)

    def __contains__(self, value: object) -> bool:
        return value in self.options


Dimension = IntRange | FloatRange | Choice
Params = Mapping[str, Any]


# --------------------------------------------------------------------------- base class


class Learner(ABC):
    """One kind of ensemble member: its search space, low-cost start, cost and estimator.

    Subclasses set the class attributes and implement :meth:`build` and :meth:`cost_hint`;
    :func:`register_learner` makes them available by ``name``.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"lightgbm"``.
    kind : {"trees", "nb", "knn"}
        What the compiler has to do with a fitted member of this learner.
    label : str
        Display name, e.g. ``"LightGBM"``.
    space : mapping of str to IntRange, FloatRange or Choice
        The hyper-parameters searched, by (unprefixed) name.
    low_cost : mapping of str to value
        A cheap, known-good point of ``space`` (FLAML's ``low_cost_init_value``).

    Examples
    --------
    >>> import optuna
    >>> from greenauto.ensemble import get_learner
    >>> tree = get_learner("decision_tree")
    >>> fixed = {"m0_" + key: value for key, value in tree.initial_params().items()}
    >>> tree.suggest(optuna.trial.FixedTrial(fixed), "m0_") == tree.initial_params()
    True
    >>> model = tree.build(tree.initial_params(), n_codes=None, random_state=0)
    >>> type(model).__name__, model.max_depth, tree.kind
    ('DecisionTreeClassifier', 6, 'trees')
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    label: ClassVar[str]
    space: ClassVar[Mapping[str, Dimension]]
    low_cost: ClassVar[Mapping[str, Any]]

    def suggest(self, trial: optuna.trial.BaseTrial, prefix: str = "") -> dict[str, Any]:
        """Suggest every hyper-parameter (define-by-run) under ``prefix + name``.

        Parameters
        ----------
        trial : optuna.trial.BaseTrial
            A live ``Trial`` or a ``FixedTrial``.
        prefix : str, default=""
            Prepended to every parameter name in the trial, e.g. ``"m0_lightgbm_"``.

        Returns
        -------
        params : dict
            The suggested values by unprefixed name.
        """
        return {key: dim.suggest(trial, prefix + key) for key, dim in self.space.items()}

    def initial_params(self) -> dict[str, Any]:
        """A cheap, known-good starting point inside :attr:`space` (a fresh dict)."""
        return dict(self.low_cost)

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the learner and parameter if ``params`` leave the space.

        Parameters
        ----------
        params : mapping
            Values for exactly the keys of :attr:`space`.
        """
        if set(params) != set(self.space):
            raise ValueError(
                f"Learner {self.name!r} expects the parameters {sorted(self.space)}; "
                f"got {sorted(params)}."
            )
        for key, dim in self.space.items():
            if params[key] not in dim:
                raise ValueError(
                    f"The {key!r} parameter of learner {self.name!r} must be in {dim}. "
                    f"Got {params[key]!r} instead."
                )

    @abstractmethod
    def build(
        self,
        params: Mapping[str, Any],
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        """The unfitted estimator for ``params``.

        Parameters
        ----------
        params : mapping
            A point of :attr:`space` (checked with :meth:`check_params`).
        n_codes : int or None, default=None
            Number of distinct codes per feature (``max(Binner.n_bins_) + 1``) when the
            member sees bin codes; ``None`` for raw features.
        random_state : int or None, default=None
            Seed for learners that use randomness.
        n_rows : int or None, default=None
            Rows the member will be trained on, when known (KNN caps ``n_neighbors`` to it).

        Returns
        -------
        estimator : classifier
            A scikit-learn compatible classifier, not fitted.
        """

    @abstractmethod
    def cost_hint(
        self, params: Mapping[str, Any], n_rows: int, n_features: int, *, n_classes: int = 2
    ) -> float:
        """Rough number of operations per predicted row (node visits, products, distances).

        Parameters
        ----------
        params : mapping
            A point of :attr:`space`.
        n_rows : int
            Rows the member is trained on.
        n_features : int
            Columns the member sees.
        n_classes : int, default=2
            Number of classes.

        Returns
        -------
        ops : float
            Operations per row; only the order of magnitude matters.
        """

    def describe(self, params: Mapping[str, Any], *, short: bool = False) -> str:
        """Human-readable summary, e.g. ``"LightGBM(40 trees, 15 leaves)"``."""
        return self.label

    def __repr__(self) -> str:
        return f"<Learner {self.name!r} ({self.kind})>"


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Learner] = {}


def register_learner(learner: type[Learner] | Learner, *, replace: bool = False) -> Any:
    """Add a learner to the registry under its ``name`` (usable as a class decorator).

    Parameters
    ----------
    learner : Learner subclass or instance
        Classes are instantiated without arguments.
    replace : bool, default=False
        Allow replacing a registered learner of the same name.

    Returns
    -------
    learner : Learner subclass or instance
        The argument, unchanged.
    """
    instance = learner() if isinstance(learner, type) else learner
    if not isinstance(instance, Learner):
        raise TypeError(f"register_learner expects a Learner; got {type(instance).__name__}.")
    if instance.kind not in KINDS:
        raise ValueError(
            f"Learner {instance.name!r} has kind {instance.kind!r}; expected one of {KINDS}."
        )
    if instance.name in _REGISTRY and not replace:
        raise ValueError(
            f"A learner named {instance.name!r} is already registered; pass replace=True."
        )
    for key, value in instance.low_cost.items():
        if key not in instance.space or value not in instance.space[key]:
            raise ValueError(f"Learner {instance.name!r}: low_cost {key}={value!r} not in space.")
    _REGISTRY[instance.name] = instance
    return learner


def get_learner(name: str) -> Learner:
    """The registered learner called ``name``.

    Raises
    ------
    KeyError
        If no learner has that name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown learner {name!r}; registered: {learner_names()}.") from None


def learner_names() -> list[str]:
    """Names of the registered learners, sorted."""
    return sorted(_REGISTRY)


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
        # 1e-6 prunes nothing in practice, 0.05 leaves a handful of nodes.
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
    """LightGBM gradient boosting; deterministic, one thread, silent."""

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
    }
    low_cost: ClassVar[Mapping[str, Any]] = {
        "n_estimators": 40,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_child_samples": 20,
        "colsample_bytree": 1.0,
        "reg_lambda": 1.0,
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
        trees_per_round = 1 if n_classes <= 2 else n_classes
        return float(params["n_estimators"] * trees_per_round * math.ceil(math.log2(leaves)))

    def describe(self, params: Params, *, short: bool = False) -> str:
        if short:
            return f"{self.label}({params['n_estimators']} trees)"
        return f"{self.label}({params['n_estimators']} trees, {params['num_leaves']} leaves)"


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
