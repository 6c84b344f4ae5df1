"""Knowledge distillation: small students trained on a strong candidate's probabilities.

A teacher (the most accurate candidate so far) gives class probabilities for its training
rows; a student learns those soft labels instead of the hard ones. Trees and Naive Bayes take
soft labels through sample weights: each row appears once per class it may belong to, weighted
by the teacher's probability of that class (probabilities below ``MIN_WEIGHT`` are dropped),
so that a leaf's class shares are the teacher's mean probabilities over the rows that reach it
(Hinton et al. 2015's soft targets, for learners without a soft-target loss).

Students are cheap by design: a single tree of limited depth, a few shallow LightGBM trees,
Gaussian Naive Bayes on bins; each is a candidate like any other, recorded with the teacher it
learned from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from greenauto.ensemble import MemberSpec, get_learner, learner_names
from greenauto.search._space import PipelineConfig

__all__ = ["MIN_WEIGHT", "soft_label_rows", "student_configs"]

#: Teacher probabilities below this are not turned into weighted rows.
MIN_WEIGHT = 0.01


def soft_label_rows(proba: np.ndarray, min_weight: float = MIN_WEIGHT
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Rows, classes and weights that encode soft labels for a weighted fit.

    Parameters
    ----------
    proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities.
    min_weight : float
        Smaller probabilities are dropped; each row keeps at least its top class, and each
        class at least its most probable row (so the student knows every class).

    Returns
    -------
    rows, classes, weights : ndarrays of the same length
        Fit on ``X[rows]``, ``classes`` with ``sample_weight=weights``.

    Examples
    --------
    >>> rows, classes, weights = soft_label_rows(np.array([[0.9, 0.1], [0.005, 0.995]]))
    >>> rows.tolist(), classes.tolist(), weights.round(3).tolist()
    ([0, 0, 1], [0, 1, 1], [0.9, 0.1, 0.995])
    """
    proba = np.asarray(proba, dtype=np.float64)
    keep = proba >= min_weight
    keep[np.arange(proba.shape[0]), np.argmax(proba, axis=1)] = True
    keep[np.argmax(proba, axis=0), np.arange(proba.shape[1])] = True
    rows, classes = np.nonzero(keep)
    return rows, classes, np.maximum(proba[rows, classes], 1e-9)


def student_configs(
    teacher: PipelineConfig, learners: Sequence[str] | None = None
) -> list[PipelineConfig]:
    """The students tried for a teacher: its binning and column selection, with one small
    member each (trees of depth 4, 6 and 8; 10 LightGBM trees of depth 3; Gaussian NB), of
    the ``learners`` allowed (all when None)."""
    tree = get_learner("decision_tree").initial_params()
    gbm = get_learner("lightgbm").initial_params()
    specs = [
        MemberSpec("decision_tree", {**tree, "max_depth": depth, "min_samples_leaf": 8})
        for depth in (4, 6, 8)
    ]
    specs.append(MemberSpec("lightgbm", {**gbm, "n_estimators": 10, "num_leaves": 8,
                                         "max_depth": 3, "learning_rate": 0.3}))  # fmt: skip
    specs.append(MemberSpec("gaussian_nb", get_learner("gaussian_nb").initial_params()))
    allowed = set(learner_names() if learners is None else learners)
    base = dataclasses.replace(teacher, voting="hard", subsets="stratified", teacher=None)
    return [
        dataclasses.replace(base, members=(spec,), teacher=teacher)
        for spec in specs
        if spec.learner in allowed
    ]
