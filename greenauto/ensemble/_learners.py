"""Learner registry: each ensemble member kind declares its search space, a low-cost start and
a cost estimate (FLAML's learner pattern, ``flaml/automl/model.py``), and builds its estimator.
The built-in learners live in ``_builtin_learners.py``; this module holds the base class, the
search-space dimensions and the registry.

A space is a plain mapping ``name -> IntRange | FloatRange | Choice``; :meth:`Learner.suggest`
asks an Optuna trial for every entry under ``prefix + name`` and returns the values under
``name``, so a learner's params and a trial's params map one-to-one (``enqueue_trial`` and
``FixedTrial`` need no translation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

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
    "unregister_learner",
]

KINDS = ("knn", "nb", "trees")


# --------------------------------------------------------------------------- dimensions


@dataclass(frozen=True)
class IntRange:
    """Integers ``low..high`` (inclusive), optionally on a log scale.

    Examples
    --------
    >>> from greenauto.ensemble import IntRange
    >>> 30 in IntRange(1, 30, log=True), 31 in IntRange(1, 30)
    (True, False)
    """

    low: int
    high: int
    log: bool = False

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> int:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def __str__(self) -> str:
        return f"an int in [{self.low}, {self.high}]" + (" (log scale)" if self.log else "")

    def __contains__(self, value: object) -> bool:
        return (
            isinstance(value, Integral)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class FloatRange:
    """Floats in ``[low, high]``, optionally on a log scale.

    Examples
    --------
    >>> from greenauto.ensemble import FloatRange
    >>> 0.05 in FloatRange(0.01, 0.3, log=True)
    True
    """

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> float:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def __str__(self) -> str:
        return f"a float in [{self.low}, {self.high}]" + (" (log scale)" if self.log else "")

    def __contains__(self, value: object) -> bool:
        return (
            isinstance(value, Real)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class Choice:
    """One of a fixed tuple of options.

    Examples
    --------
    >>> from greenauto.ensemble import Choice
    >>> "gini" in Choice(("gini", "entropy"))
    True
    """

    options: tuple[Any, ...]

    def suggest(self, trial: optuna.trial.BaseTrial, name: str) -> Any:
        """Ask ``trial`` for a value named ``name``."""
        return trial.suggest_categorical(name, self.options)

    def __str__(self) -> str:
        return f"one of {list(self.options)}"

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
                    f"The {key!r} parameter of learner {self.name!r} must be {dim}. "
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

    Raises
    ------
    ValueError
        If the name is taken (and ``replace`` is False), the kind is unknown, or a
        ``low_cost`` value lies outside ``space``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from greenauto.ensemble import (
    ...     Choice, Learner, learner_names, register_learner, unregister_learner)
    >>> @register_learner
    ... class PriorLearner(Learner):
    ...     name, kind, label = "prior", "nb", "Prior"
    ...     space = {"strategy": Choice(("prior", "most_frequent"))}
    ...     low_cost = {"strategy": "prior"}
    ...     def build(self, params, *, n_codes=None, random_state=None, n_rows=None):
    ...         return DummyClassifier(**params)
    ...     def cost_hint(self, params, n_rows, n_features, *, n_classes=2):
    ...         return float(n_classes)
    >>> "prior" in learner_names()
    True
    >>> unregister_learner("prior")  # (keep the registry clean for the other examples)
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


def unregister_learner(name: str) -> None:
    """Remove the learner called ``name`` from the registry (e.g. a plug-in after a test).

    Raises
    ------
    ValueError
        If no learner of that name is registered.
    """
    if name not in _REGISTRY:
        raise ValueError(f"No learner named {name!r} is registered; known: {sorted(_REGISTRY)}.")
    del _REGISTRY[name]


def get_learner(name: str) -> Learner:
    """The registered learner called ``name``.

    Parameters
    ----------
    name : str
        A registered name.

    Returns
    -------
    learner : Learner
        The (stateless, shared) learner instance.

    Raises
    ------
    KeyError
        If no learner has that name; the message lists the known ones.

    Examples
    --------
    >>> from greenauto.ensemble import get_learner
    >>> gbm = get_learner("lightgbm")
    >>> gbm.kind, gbm.describe(gbm.initial_params())
    ('trees', 'LightGBM(40 trees, 15 leaves)')
    >>> gbm.cost_hint(gbm.initial_params(), n_rows=10_000, n_features=20, n_classes=3)
    480.0
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown learner {name!r}; registered: {learner_names()}.") from None


def learner_names() -> list[str]:
    """Names of the registered learners, sorted.

    Returns
    -------
    names : list of str
        Sorted, so that Optuna's categorical choices never depend on registration order.

    Examples
    --------
    >>> from greenauto.ensemble import learner_names
    >>> learner_names()
    ['categorical_nb', 'decision_tree', 'extra_trees', 'gaussian_nb', 'knn', 'lightgbm', \
'random_forest']
    """
    return sorted(_REGISTRY)
