"""MajorityVoteClassifier: 1 to 3 members, each trained on its own stratified row subset."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "MAX_MEMBERS",
    "CompiledParts",
    "MajorityVoteClassifier",
    "stratified_subset",
    "subset_size",
]

MAX_MEMBERS = 3
_SEED_BOUND = np.iinfo(np.int32).max


class CompiledParts(NamedTuple):
    """What a compiler needs from a fitted vote (see
    :meth:`MajorityVoteClassifier.compiled_parts`)."""

    members: list[Any]
    """The fitted members, trained on class indices."""
    classes: np.ndarray
    """``np.arange(n_classes)``: the indices every member predicts."""
    labels: np.ndarray
    """``classes_``: the label of each index."""
    voting: str = "hard"
    """``"hard"`` or ``"soft"``: how the members combine."""


class MajorityVoteClassifier(ClassifierMixin, _BaseComposition):
    """Vote of 1 to 3 classifiers, each fitted on its own subset of the rows.

    ``fit`` encodes the labels as ``0 .. n_classes - 1`` (``classes_`` holds the labels, any
    type) and fits a clone of every member on a row subset drawn per class, so that every
    class appears at least once in every member's subset: every fitted member's ``classes_``
    is exactly ``0 .. n_classes - 1``. Subset-based training saves fit energy at little cost
    in accuracy (Omar et al. 2024).

    **The vote.** With one member, :meth:`predict` and :meth:`predict_proba` are the member's
    own. With several, let ``S = P_0 + P_1 [+ P_2]`` be the sum of the members'
    ``predict_proba``, added in member order:

    - ``voting="soft"``: ``predict_proba`` is ``S / n_members``; :meth:`predict` is the first
      class with the highest probability, so ``classes_[argmax(predict_proba(X))]`` always
      equals ``predict(X)``.
    - ``voting="hard"``: every member votes its own ``predict``; with ``V`` the votes per
      class, ``predict_proba`` is ``(V + S / 4) / (1.25 * n_members)`` (vote shares refined
      by the members' probabilities; rows sum to 1) and :meth:`predict` is its first highest
      class. As ``S <= 3``, the class with the most votes wins; **ties** (two members that
      disagree, three that all disagree) go to the tied class with the highest summed
      probability ``S`` (to rounding in the last bits), then to the lowest class index: when
      two members disagree, the one more sure of its class decides.

    In every case ``classes_[argmax(predict_proba(X))]`` equals ``predict(X)``.

    greenauto's compiled kernel computes the same numbers in the same order, so compiled and
    Python labels are identical.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples, default=None
        The members, 1 to 3 scikit-learn classifiers (as for
        :class:`~sklearn.ensemble.VotingClassifier`; names must be unique and free of
        ``"__"``). ``None`` means one ``DecisionTreeClassifier()``, which makes the class
        default-constructible. A member whose ``random_state`` parameter is ``None`` gets a
        seed drawn from this ensemble's ``random_state`` and its index. With several members,
        every member needs ``predict_proba``.
    voting : {"hard", "soft"}, default="hard"
        How several members combine (see above).
    row_fractions : list of float, default=None
        One fraction in ``(0, 1]`` per member: the share of the rows it is trained on,
        stratified by class (each class contributes ``round(fraction * n_class_rows)`` rows,
        at least one). ``None`` trains every member on all rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the row subsets and the members without a seed of their own. Member ``i``'s
        subset depends only on ``random_state`` and ``i``.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted member clones, trained on the integer-encoded labels.
    named_estimators_ : dict
        The fitted members by name.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    row_indices_ : list of ndarray of int64
        The rows (sorted, into the training ``X``) each member was fitted on (stored as
        bit masks: a pickle grows by one bit per training row and member, not 8 bytes).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : A vote of members trained on all rows; its hard vote
        breaks ties by the lowest class index.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from greenauto.ensemble import MajorityVoteClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    >>> y = np.array(["a", "a", "a", "b", "b", "b"])
    >>> vote = MajorityVoteClassifier(
    ...     [("tree", DecisionTreeClassifier(random_state=0)), ("nb", GaussianNB())],
    ...     random_state=0,
    ... ).fit(X, y)
    >>> vote.predict([[0.5], [4.5]])
    array(['a', 'b'], dtype='<U1')
    >>> vote.predict_proba([[0.5]]).round(3)
    array([[1., 0.]])
    >>> soft = MajorityVoteClassifier(
    ...     [("tree", DecisionTreeClassifier(random_state=0)), ("nb", GaussianNB())],
    ...     voting="soft", random_state=0,
    ... ).fit(X, y)
    >>> soft.predict_proba([[2.4]]).round(3)
    array([[0.805, 0.195]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimators": [list, None],
        "row_fractions": ["array-like", None],
        "voting": [StrOptions({"hard", "soft"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimators: list[tuple[str, Any]] | None = None,
        *,
        row_fractions: Sequence[float] | None = None,
        voting: str = "hard",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.estimators = estimators
        self.row_fractions = row_fractions
        self.voting = voting
        self.random_state = random_state

    # ------------------------------------------------------------------ params (nested)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get parameters, including ``<member name>__<param>`` when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the members and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params: Any) -> MajorityVoteClassifier:
        """Set parameters, including ``<member name>__<param>``.

        Parameters
        ----------
        **params : keyword arguments
            Parameter names mapped to their new values.

        Returns
        -------
        self : MajorityVoteClassifier
            This estimator.
        """
        self._set_params("estimators", **params)
        return self

    # ------------------------------------------------------------------ fit / predict

    @_fit_context(prefer_skip_nested_validation=False)  # members validate their own params
    def fit(self, X: Any, y: Any) -> MajorityVoteClassifier:
        """Fit every member on its own stratified row subset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data, given to the members as float64 (bin codes too: a KNN
            member then finds exactly the neighbours the compiled kernel finds). NaN is passed
            on to the members, which may or may not accept it.
        y : array-like of shape (n_samples,)
            Class labels, at least two distinct ones.

        Returns
        -------
        self : MajorityVoteClassifier
            The fitted ensemble.
        """
        members = self._validated_members()
        fractions = self._validated_fractions(len(members))
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        n_classes = encoder.classes_.size
        if n_classes < 2:
            raise ValueError(
                "MajorityVoteClassifier needs y with at least 2 classes; got 1 class: "
                f"{encoder.classes_.tolist()}."
            )
        y_enc = encoder.transform(y)
        base_seed = int(check_random_state(self.random_state).randint(_SEED_BOUND))

        fitted, rows = [], []
        for i, ((name, member), fraction) in enumerate(zip(members, fractions, strict=True)):
            idx = stratified_subset(y_enc, fraction, seed=(base_seed, i))
            est = _seeded_clone(member, (base_seed, i))
            if idx.size == y_enc.size:  # all rows: no copy
                est.fit(X, y_enc)
            else:
                est.fit(X[idx], y_enc[idx])
            if not np.array_equal(getattr(est, "classes_", None), np.arange(n_classes)):
                raise ValueError(
                    f"Member {name!r} of MajorityVoteClassifier must expose classes_ equal to "
                    f"0..{n_classes - 1} after fitting; got "
                    f"{getattr(est, 'classes_', 'no classes_ attribute')}."
                )
            fitted.append(est)
            mask = np.zeros(y_enc.size, dtype=bool)
            mask[idx] = True
            rows.append(np.packbits(mask))  # n/8 bytes, not 8n: keeps pickles model-sized
        self.classes_ = encoder.classes_
        self.estimators_ = fitted
        self.named_estimators_ = {
            name: est for (name, _), est in zip(members, fitted, strict=True)
        }
        self._row_masks = rows
        self._n_fit_rows = int(y_enc.size)
        return self

    @property
    def row_indices_(self) -> list[np.ndarray]:
        """The rows (sorted, into the training ``X``) each member was fitted on.

        Stored as packed bit masks (one bit per training row), unpacked on access.
        """
        check_is_fitted(self)
        n = self._n_fit_rows
        return [
            np.flatnonzero(np.unpackbits(m, count=n)).astype(np.int64) for m in self._row_masks
        ]

    def predict(self, X: Any) -> np.ndarray:
        """The vote's labels (see the class docstring for the rule and the tie-break).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels (from ``classes_``).
        """
        labels = self._vote(X, with_proba=False)[0]
        return self.classes_[labels]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the member's own, the soft average, or hard-vote shares.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            One member: its ``predict_proba``. ``voting="soft"``: the members' average.
            ``voting="hard"``: refined vote shares (see the class docstring).
        """
        return self._vote(X, with_proba=True)[1]

    def _vote(self, X: Any, *, with_proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Class indices and (when asked, or needed by the vote) probabilities."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        members = self.estimators_
        if len(members) == 1:
            labels = np.asarray(members[0].predict(X), dtype=np.int64)
            return labels, (members[0].predict_proba(X) if with_proba else None)
        summed = np.zeros((X.shape[0], self.classes_.size))
        for est in members:  # in member order, as the compiled kernel adds them
            summed += est.predict_proba(X)
        if self.voting == "soft":
            proba = summed / len(members)
            return np.argmax(proba, axis=1), proba
        votes = np.stack([np.asarray(est.predict(X), dtype=np.int64) for est in members])
        counts = _vote_counts(votes, self.classes_.size)
        proba = (counts + 0.25 * summed) / (1.25 * len(members))  # one vote outweighs S <= 3
        return np.argmax(proba, axis=1), proba

    def member_votes(self, X: Any) -> np.ndarray:
        """Class index predicted by every member.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        votes : ndarray of shape (n_members, n_samples), dtype=int64
            ``votes[m, i]`` is member ``m``'s class index for row ``i``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        return np.stack([np.asarray(est.predict(X), dtype=np.int64) for est in self.estimators_])

    def compiled_parts(self) -> CompiledParts:
        """The fitted vote as plain parts, for a compiler (which never imports this package).

        Returns
        -------
        parts : CompiledParts
            The members (trained on class indices), the class indices, their labels and the
            vote (``voting``: the rule of the class docstring).
        """
        check_is_fitted(self)
        return CompiledParts(
            members=list(self.estimators_),
            classes=np.arange(self.classes_.size),
            labels=self.classes_,
            voting=self.voting,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            members = self._validated_members()
        except (TypeError, ValueError):  # invalid params: fit will say so
            return tags
        tags.input_tags.allow_nan = all(get_tags(est).input_tags.allow_nan for _, est in members)
        return tags

    # ------------------------------------------------------------------ validation

    def _validated_members(self) -> list[tuple[str, Any]]:
        if self.estimators is None:
            return [("decision_tree", DecisionTreeClassifier())]
        members = list(self.estimators)
        if not 1 <= len(members) <= MAX_MEMBERS:
            raise ValueError(
                f"The 'estimators' parameter of MajorityVoteClassifier must hold 1 to "
                f"{MAX_MEMBERS} (name, estimator) pairs. Got {len(members)} instead."
            )
        for item in members:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError(
                    "The 'estimators' parameter of MajorityVoteClassifier must hold "
                    f"(name, estimator) tuples with a str name. Got {item!r} instead."
                )
            needs = ("fit", "predict") + (("predict_proba",) if len(members) > 1 else ())
            if not all(hasattr(item[1], a) for a in needs):
                raise TypeError(
                    f"Member {item[0]!r} of MajorityVoteClassifier must be a classifier with "
                    f"{', '.join(needs)}. Got {type(item[1]).__name__} instead."
                )
        names = [name for name, _ in members]
        if len(set(names)) != len(names) or any("__" in n for n in names):
            raise ValueError(
                "The member names of MajorityVoteClassifier must be unique and contain no "
                f"'__'. Got {names} instead."
            )
        return members

    def _validated_fractions(self, n_members: int) -> list[float]:
        if self.row_fractions is None:
            return [1.0] * n_members
        fractions = list(np.asarray(self.row_fractions, dtype=object).ravel())
        if len(fractions) != n_members:
            raise ValueError(
                "The 'row_fractions' parameter of MajorityVoteClassifier must hold one "
                f"fraction per member ({n_members}). Got {len(fractions)} instead."
            )
        for f in fractions:
            if not isinstance(f, Real) or isinstance(f, bool) or not 0.0 < float(f) <= 1.0:
                raise ValueError(
                    "The 'row_fractions' parameter of MajorityVoteClassifier must hold floats "
                    f"in the range (0, 1]. Got {f!r} instead."
                )
        return [float(f) for f in fractions]


def _vote_counts(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Votes per (row, class) from (n_members, n_rows) class indices."""
    n_rows = votes.shape[1]
    cells = np.arange(n_rows) * n_classes + votes  # (row, class) -> flat cell, per member
    counts = np.bincount(cells.ravel(), minlength=n_rows * n_classes)
    return counts.reshape(n_rows, n_classes)


def stratified_subset(
    y_encoded: np.ndarray, fraction: float, *, seed: int | tuple[int, ...]
) -> np.ndarray:
    """Sorted row indices: ``round(fraction * n_c)`` rows of each class ``c``, at least one.

    Parameters
    ----------
    y_encoded : ndarray of shape (n_samples,)
        Class indices.
    fraction : float
        Share of the rows to keep, in ``(0, 1]``; ``1.0`` returns every row.
    seed : int or tuple of int
        Seed of the draw (for :func:`numpy.random.default_rng`).

    Returns
    -------
    indices : ndarray of int64
        The chosen rows, in increasing order.

    Examples
    --------
    >>> import numpy as np
    >>> from greenauto.ensemble import stratified_subset
    >>> y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    >>> rows = stratified_subset(y, 0.2, seed=0)
    >>> np.bincount(y[rows]).tolist()
    [2, 1]
    """
    n = y_encoded.shape[0]
    if fraction >= 1.0:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y_encoded):
        rows_c = np.flatnonzero(y_encoded == c)
        take = _class_take(rows_c.size, fraction)
        chosen.append(rng.choice(rows_c, size=take, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def subset_size(class_counts: Sequence[int], fraction: float) -> int:
    """Number of rows :func:`stratified_subset` keeps for these class sizes and fraction.

    Parameters
    ----------
    class_counts : sequence of int
        Rows per class (every class present).
    fraction : float
        Share of the rows to keep, in ``(0, 1]``.

    Returns
    -------
    n_rows : int
        ``sum(max(1, round(fraction * n_c)))`` over the classes (all rows if ``fraction`` is 1).

    Examples
    --------
    >>> from greenauto.ensemble import subset_size
    >>> subset_size([8, 2], 0.2)
    3
    """
    return sum(_class_take(int(n_c), fraction) for n_c in class_counts)


def _class_take(n_class_rows: int, fraction: float) -> int:
    if fraction >= 1.0:
        return n_class_rows
    return min(n_class_rows, max(1, round(fraction * n_class_rows)))


def _seeded_clone(estimator: Any, seed: tuple[int, int]) -> Any:
    """Clone ``estimator``; give it a seed from ``seed`` if its ``random_state`` is None."""
    est = clone(estimator)
    params = est.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        member_seed = int(np.random.default_rng((*seed, 1)).integers(_SEED_BOUND))
        est.set_params(random_state=member_seed)
    return est
