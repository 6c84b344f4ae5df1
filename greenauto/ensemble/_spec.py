"""MemberSpec records, the ensemble search space, and building a vote from specs.

The ensemble space, define-by-run (``prefix`` is prepended to every name)::

    n_members                 int 1..max_members
    m{i}_learner              categorical over the (sorted) learner names
    m{i}_{learner}_{param}    the learner's own space (see ``Learner.space``)
    m{i}_row_fraction         float 0.1..1.0, log scale

A learner's parameters carry the learner's name (``m0_lightgbm_num_leaves``, not
``m0_num_leaves``): two learners may both have ``max_depth`` with different ranges, and a
shared name would pool their observations in the sampler's model of that parameter.

A finished trial's ensemble is rebuilt exactly with
``suggest_ensemble(optuna.trial.FixedTrial(frozen_trial.params))``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenauto.ensemble._learners import Learner, get_learner, learner_names
from greenauto.ensemble._voting import MAX_MEMBERS, MajorityVoteClassifier, subset_size

if TYPE_CHECKING:
    import optuna

__all__ = [
    "ROW_FRACTION_RANGE",
    "MemberSpec",
    "describe_ensemble",
    "ensemble_trial_params",
    "make_ensemble",
    "suggest_ensemble",
]

# Log scale: accuracy grows roughly linearly in log(rows) (learning curves), and Omar et al.
# (2024) find small subsets often as good as all rows. A log scale gives the sampler as much
# room between 10 % and 32 % as between 32 % and 100 %, where a uniform scale would spend
# three quarters of its draws above 32 % and rarely try the cheap subsets that save energy.
ROW_FRACTION_RANGE = (0.1, 1.0)


@dataclass(frozen=True)
class MemberSpec:
    """One ensemble member: which learner, its parameters, and its share of the rows.

    Parameters
    ----------
    learner : str
        A registered learner name (see :func:`learner_names`).
    params : dict
        A point of that learner's space.
    row_fraction : float, default=1.0
        Share of the training rows the member is fitted on, in ``(0, 1]``.

    Examples
    --------
    >>> from greenauto.ensemble import MemberSpec
    >>> spec = MemberSpec(
    ...     "lightgbm",
    ...     {"n_estimators": 40, "num_leaves": 15, "learning_rate": 0.1,
    ...      "min_child_samples": 20, "colsample_bytree": 1.0, "reg_lambda": 1.0,
    ...      "max_depth": -1},
    ...     row_fraction=0.6,
    ... )
    >>> spec.describe()
    'LightGBM(40 trees, 15 leaves) on 60% of rows'
    """

    learner: str
    params: dict[str, Any] = field(default_factory=dict)
    row_fraction: float = 1.0

    def __post_init__(self) -> None:
        get_learner(self.learner).check_params(self.params)
        if not 0.0 < self.row_fraction <= 1.0:
            raise ValueError(
                f"The row_fraction of a MemberSpec must be in (0, 1]. "
                f"Got {self.row_fraction!r} instead."
            )

    def get_learner(self) -> Learner:
        """The registered :class:`Learner` this spec refers to."""
        return get_learner(self.learner)

    @property
    def kind(self) -> str:
        """The learner's kind: ``"trees"``, ``"nb"`` or ``"knn"``."""
        return self.get_learner().kind

    def describe(self, *, short: bool = False) -> str:
        """E.g. ``"LightGBM(40 trees, 15 leaves) on 60% of rows"`` (short: no details)."""
        text = self.get_learner().describe(self.params, short=short)
        if self.row_fraction < 1.0 and not short:
            text += f" on {100 * self.row_fraction:.0f}% of rows"
        return text

    def build(
        self,
        *,
        n_codes: int | None = None,
        random_state: int | None = None,
        n_rows: int | None = None,
    ) -> Any:
        """The unfitted estimator (see :meth:`Learner.build`; ``n_rows`` = this member's)."""
        return self.get_learner().build(
            self.params, n_codes=n_codes, random_state=random_state, n_rows=n_rows
        )

    def cost_hint(self, n_rows: int, n_features: int, *, n_classes: int = 2) -> float:
        """Operations per predicted row, for ``n_rows`` ensemble training rows."""
        member_rows = max(n_classes, round(self.row_fraction * n_rows))
        learner = self.get_learner()
        return learner.cost_hint(self.params, member_rows, n_features, n_classes=n_classes)


def describe_ensemble(specs: Iterable[MemberSpec], *, short: bool = True) -> str:
    """Members joined by ``" + "``, e.g. ``"LightGBM(40 trees) + CategoricalNB"``.

    Parameters
    ----------
    specs : iterable of MemberSpec
        The members.
    short : bool, default=True
        Short member summaries (no row fractions); ``False`` gives every detail.

    Returns
    -------
    text : str
        The summary.

    Examples
    --------
    >>> from greenauto.ensemble import MemberSpec, describe_ensemble, get_learner
    >>> specs = [
    ...     MemberSpec("lightgbm", get_learner("lightgbm").initial_params()),
    ...     MemberSpec("categorical_nb", {"alpha": 1.0}, row_fraction=0.5),
    ... ]
    >>> describe_ensemble(specs)
    'LightGBM(40 trees) + CategoricalNB'
    >>> describe_ensemble(specs, short=False)
    'LightGBM(40 trees, 15 leaves) + CategoricalNB on 50% of rows'
    """
    return " + ".join(spec.describe(short=short) for spec in specs)


def suggest_ensemble(
    trial: optuna.trial.BaseTrial,
    learners: Sequence[str] | None = None,
    max_members: int = MAX_MEMBERS,
    *,
    prefix: str = "",
) -> list[MemberSpec]:
    """Suggest a whole ensemble: its size, and per member a learner, params and row fraction.

    Parameters
    ----------
    trial : optuna.trial.BaseTrial
        A live ``Trial`` or a ``FixedTrial``.
    learners : sequence of str, default=None
        Learner names to choose from (sorted before use, so the categorical choices are the
        same whatever the order given); ``None`` means every registered learner.
    max_members : int, default=3
        Largest ensemble, 1 to 3.
    prefix : str, default=""
        Prepended to every parameter name.

    Returns
    -------
    specs : list of MemberSpec
        One spec per member.

    Examples
    --------
    >>> import optuna
    >>> from greenauto.ensemble import describe_ensemble, suggest_ensemble
    >>> trial = optuna.trial.FixedTrial({
    ...     "n_members": 2,
    ...     "m0_learner": "knn", "m0_knn_n_neighbors": 7, "m0_knn_p": 1,
    ...     "m0_row_fraction": 0.25,
    ...     "m1_learner": "gaussian_nb", "m1_gaussian_nb_var_smoothing": 1e-9,
    ...     "m1_row_fraction": 1.0,
    ... })
    >>> describe_ensemble(suggest_ensemble(trial), short=False)
    'KNN(k=7, L1) on 25% of rows + GaussianNB'
    """
    names = _checked_learners(learners)
    if not 1 <= max_members <= MAX_MEMBERS:
        raise ValueError(f"max_members must be in [1, {MAX_MEMBERS}]; got {max_members}.")
    n_members = trial.suggest_int(f"{prefix}n_members", 1, max_members)
    specs = []
    for i in range(n_members):
        member = f"{prefix}m{i}_"
        name = trial.suggest_categorical(f"{member}learner", names)
        params = get_learner(name).suggest(trial, f"{member}{name}_")
        low, high = ROW_FRACTION_RANGE
        fraction = trial.suggest_float(f"{member}row_fraction", low, high, log=True)
        specs.append(MemberSpec(name, params, fraction))
    return specs


def ensemble_trial_params(specs: Sequence[MemberSpec], *, prefix: str = "") -> dict[str, Any]:
    """The trial parameters under which :func:`suggest_ensemble` returns ``specs``.

    Feed them to ``study.enqueue_trial`` to seed a study (e.g. with every learner's
    ``initial_params()``), or to ``optuna.trial.FixedTrial``.

    Parameters
    ----------
    specs : sequence of MemberSpec
        1 to 3 members.
    prefix : str, default=""
        As given to :func:`suggest_ensemble`.

    Returns
    -------
    params : dict
        Flat trial parameters.

    Examples
    --------
    >>> from greenauto.ensemble import MemberSpec, ensemble_trial_params
    >>> ensemble_trial_params([MemberSpec("categorical_nb", {"alpha": 0.5})])
    {'n_members': 1, 'm0_learner': 'categorical_nb', 'm0_categorical_nb_alpha': 0.5, \
'm0_row_fraction': 1.0}
    """
    if not 1 <= len(specs) <= MAX_MEMBERS:
        raise ValueError(f"An ensemble has 1 to {MAX_MEMBERS} members; got {len(specs)}.")
    out: dict[str, Any] = {f"{prefix}n_members": len(specs)}
    for i, spec in enumerate(specs):
        member = f"{prefix}m{i}_"
        out[f"{member}learner"] = spec.learner
        out.update({f"{member}{spec.learner}_{k}": v for k, v in spec.params.items()})
        out[f"{member}row_fraction"] = spec.row_fraction
    return out


def make_ensemble(
    specs: Sequence[MemberSpec],
    *,
    n_codes: int | None = None,
    random_state: int | None = None,
    class_counts: Sequence[int] | None = None,
) -> MajorityVoteClassifier:
    """An unfitted :class:`MajorityVoteClassifier` with one member per spec.

    Parameters
    ----------
    specs : sequence of MemberSpec
        1 to 3 members; named ``"m0_<learner>"``, ``"m1_<learner>"``, ...
    n_codes : int or None, default=None
        Codes per feature when members see bin codes (see :meth:`Learner.build`).
    random_state : int or None, default=None
        Seeds the ensemble's subsets; member ``i`` gets ``random_state + i`` (``None``: the
        ensemble seeds its members itself).
    class_counts : sequence of int or None, default=None
        Rows per class of the training data, when known: each member then learns the exact
        size of its subset (KNN caps ``n_neighbors`` to it).

    Returns
    -------
    ensemble : MajorityVoteClassifier
        Not fitted.

    Examples
    --------
    >>> from greenauto.ensemble import MemberSpec, make_ensemble
    >>> vote = make_ensemble([MemberSpec("knn", {"n_neighbors": 30, "p": 2}, 0.1)],
    ...                      class_counts=[50, 50], random_state=0)
    >>> vote.estimators
    [('m0_knn', KNeighborsClassifier(algorithm='brute', n_jobs=1, n_neighbors=10))]
    """
    if not 1 <= len(specs) <= MAX_MEMBERS:
        raise ValueError(f"An ensemble has 1 to {MAX_MEMBERS} members; got {len(specs)}.")
    members = []
    for i, spec in enumerate(specs):
        rows = None if class_counts is None else subset_size(class_counts, spec.row_fraction)
        seed = None if random_state is None else random_state + i
        members.append(
            (f"m{i}_{spec.learner}", spec.build(n_codes=n_codes, random_state=seed, n_rows=rows))
        )
    return MajorityVoteClassifier(
        members,
        row_fractions=[spec.row_fraction for spec in specs],
        random_state=random_state,
    )


def _checked_learners(learners: Sequence[str] | None) -> list[str]:
    if learners is None:
        return learner_names()
    names = sorted(set(learners))
    if not names:
        raise ValueError("learners must name at least one learner; got an empty sequence.")
    for name in names:
        get_learner(name)  # raises KeyError listing the registered names
    return names
