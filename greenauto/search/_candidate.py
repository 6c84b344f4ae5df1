"""One candidate pipeline: fit Binner -> FeatureSelector -> MajorityVoteClassifier and compile
it (its size and operations per row come from the compiled model).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from greenauto.compiled import CompiledPipeline
from greenauto.ensemble import MajorityVoteClassifier, make_ensemble
from greenauto.exceptions import ConstantFeatureWarning
from greenauto.preprocessing import Binner, FeatureSelector
from greenauto.search._distill import soft_label_rows
from greenauto.search._space import PipelineConfig

__all__ = ["SIZE_PARAM", "Candidate", "fit_candidate", "prefix_size"]


#: The parameter that sizes a tree-ensemble member (trees, or boosting iterations).
SIZE_PARAM = "n_estimators"


@dataclass
class Candidate:
    """A fitted candidate and its compiled form.

    ``ensemble`` is None for a prefix (see :meth:`prefix`): it predicts through the compiled
    model alone.
    """

    config: PipelineConfig
    binner: Binner
    columns: np.ndarray
    ensemble: MajorityVoteClassifier | None
    compiled: CompiledPipeline
    n_classes: int = 2

    @property
    def n_selected(self) -> int:
        return int(self.columns.size)

    def predict_codes(self, X: np.ndarray) -> np.ndarray:
        """Class indices through the compiled kernels (one C++ call)."""
        return self.compiled.predict(X)

    def member_input(self, X: np.ndarray) -> np.ndarray:
        """What the members were fitted on: the selected columns' bin codes, as float64."""
        return member_input(self.binner.transform_columns(X, self.columns))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities through the compiled kernel: one member's own, a soft vote's
        average or a hard vote's refined shares (see ``MajorityVoteClassifier``)."""
        return self.compiled.predict_proba(X)

    def prefix_size(self) -> int | None:
        """The size of the single tree-ensemble member a prefix can be cut from, else None."""
        return prefix_size(self.config)

    def prefix(self, k: int) -> Candidate:
        """This candidate with its tree member cut to its first ``k`` estimators (boosting:
        iterations): exactly what the same member fitted with ``n_estimators=k`` predicts,
        without a new fit.

        Raises
        ------
        ValueError
            If the candidate has no single tree-ensemble member, or ``k`` is out of range.
        """
        size = self.prefix_size()
        if size is None or not 1 <= k <= size or self.ensemble is None:
            raise ValueError(f"No prefix of {k} for {self.config.describe(0, 0)!r}.")
        spec = self.config.members[0]
        params = {**spec.params, SIZE_PARAM: k}
        config = dataclasses.replace(
            self.config, members=(dataclasses.replace(spec, params=params),)
        )
        compiled = self.compiled.prefix(k)  # views of the flattened arrays: no new flattening
        return Candidate(config, self.binner, self.columns, None, compiled, self.n_classes)


def prefix_size(config: PipelineConfig) -> int | None:
    """The size (``n_estimators``) of a configuration's single tree-ensemble member, or None
    when it has no such member (then no prefix can be cut from it)."""
    members = config.members
    if len(members) != 1 or members[0].kind != "trees":
        return None
    size = members[0].params.get(SIZE_PARAM)
    return None if size is None else int(size)


def member_input(codes: np.ndarray) -> np.ndarray:
    """Members are fitted on float64 codes: every library takes them, and GaussianNB's
    parameters stay float64 like the compiled tables."""
    return codes.astype(np.float64)


def fit_candidate(
    config: PipelineConfig,
    X: np.ndarray,
    y: np.ndarray,
    *,
    random_state: int,
    n_threads: int = 1,
    sample_weight: np.ndarray | None = None,
    soft_labels: np.ndarray | None = None,
) -> Candidate:
    """Fit and compile one candidate on float features ``X`` and class indices ``y``.

    ``sample_weight`` weights the members' training (the bin edges and the column selection
    are learned unweighted). A ``config.teacher`` is fitted first, and the members then learn
    its class probabilities on ``X`` (soft labels, see ``greenauto.search._distill``), unless
    ``soft_labels`` gives them (the teacher is then already fitted on these rows).
    """
    teacher_proba = soft_labels
    if config.teacher is not None and teacher_proba is None:
        teacher = fit_candidate(
            config.teacher, X, y, random_state=random_state, sample_weight=sample_weight
        )
        teacher_proba = teacher.predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        binner = Binner(
            n_bins=config.n_bins, strategy=config.bin_strategy, random_state=random_state
        ).fit(X)
    codes = binner.transform(X)
    if config.selector == "none":
        columns = np.arange(X.shape[1])
    else:
        selector = FeatureSelector(
            method=config.selector, k=config.feature_fraction, random_state=random_state
        ).fit(codes, y)
        columns = np.asarray(selector.selected_columns_, dtype=np.int64)
    n_codes = int(binner.n_bins_[columns].max()) + 1
    ensemble = make_ensemble(
        config.members,
        n_codes=n_codes,
        random_state=random_state,
        class_counts=np.bincount(y).tolist(),
        voting=config.voting,
        subsets=config.subsets,
    )
    inputs = member_input(codes[:, columns])
    if teacher_proba is None:
        ensemble.fit(inputs, y, sample_weight=sample_weight)
    else:
        rows, classes, weights = soft_label_rows(teacher_proba)
        if sample_weight is not None:
            weights = weights * sample_weight[rows]
        ensemble.fit(inputs[rows], classes, sample_weight=weights)
    parts = ensemble.compiled_parts()
    compiled = CompiledPipeline(
        parts.members,
        classes=parts.classes,
        binner=binner,
        columns=columns,
        n_threads=n_threads,
        voting=parts.voting,
    )
    return Candidate(config, binner, columns, ensemble, compiled, int(parts.classes.size))
