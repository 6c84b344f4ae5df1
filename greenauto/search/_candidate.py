"""One candidate pipeline: fit Binner -> FeatureSelector -> MajorityVoteClassifier, compile it,
and count what it costs (model bytes, operations per row).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from greenauto.compiled import CompiledPipeline
from greenauto.compiled._flatten import FlatForest, flatten_knn, flatten_nb, flatten_trees
from greenauto.compiled._pipeline import member_kind
from greenauto.ensemble import MajorityVoteClassifier, make_ensemble
from greenauto.exceptions import ConstantFeatureWarning
from greenauto.preprocessing import Binner, FeatureSelector
from greenauto.search._space import PipelineConfig

__all__ = ["Candidate", "fit_candidate"]

#: Operations charged per selected feature for binning (two 16-wide compare stages).
_BIN_OPS_PER_FEATURE = 2


@dataclass
class Candidate:
    """A fitted candidate and its compiled form."""

    config: PipelineConfig
    binner: Binner
    columns: np.ndarray
    ensemble: MajorityVoteClassifier
    compiled: CompiledPipeline

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
        """Share of member votes per class (the ensemble's own, in Python)."""
        return self.ensemble.predict_proba(self.member_input(X))

    def model_bytes(self) -> int:
        """Bytes of the compiled model: bin edges of the selected columns and every member's
        arrays (tree nodes, NB tables, KNN training codes)."""
        total = int(sum(self.binner.n_bins_[self.columns] - 1)) * 8
        for model in self.ensemble._compiled_parts()["members"]:
            total += sum(a.nbytes for a in _arrays_of(model, self._n_codes()))
        return total

    def ops_per_row(self, X: np.ndarray) -> float:
        """Operations per row on ``X``: bin compares, tree node visits (counted on ``X``), NB
        table look-ups and KNN distance terms."""
        codes = self.member_input(X)
        ops = float(_BIN_OPS_PER_FEATURE * self.n_selected)
        for model in self.ensemble._compiled_parts()["members"]:
            kind = member_kind(model)
            if kind == "trees":
                ops += node_visits(flatten_trees(model), codes) / codes.shape[0]
            elif kind == "nb":
                ops += self.n_selected * len(model.classes_)
            else:
                ops += flatten_knn(model).train.size
        return ops

    def _n_codes(self) -> np.ndarray:
        return self.binner.n_bins_[self.columns] + 1


def member_input(codes: np.ndarray) -> np.ndarray:
    """Members are fitted on float64 codes: every library takes them, and GaussianNB's
    parameters stay float64 like the compiled tables."""
    return codes.astype(np.float64)


def node_visits(flat: FlatForest, X: np.ndarray) -> int:
    """Tree nodes visited (internal nodes and leaves) by all rows of ``X`` in all trees,
    traversed exactly as the compiled kernel does (``x <= threshold`` goes left, NaN by
    ``missing_left``)."""
    n = X.shape[0]
    rows = np.arange(n)
    visits = 0
    for t in range(flat.n_trees):
        node = np.full(n, flat.tree_starts[t], dtype=np.int64)
        active = np.ones(n, dtype=bool)
        while active.any():
            visits += int(active.sum())
            x = X[rows, flat.feature[node]].astype(np.float64)
            go_left = np.where(
                np.isnan(x), flat.missing_left[node] == 1, x <= flat.threshold[node]
            )
            nxt = np.where(go_left, flat.left[node], flat.right[node])
            active &= flat.left[node] != -1
            node = np.where(active, nxt, node)
    return visits


def _arrays_of(model: object, n_codes: np.ndarray) -> list[np.ndarray]:
    kind = member_kind(model)
    if kind == "trees":
        flat = flatten_trees(model)
        return [flat.feature, flat.threshold, flat.left, flat.right, flat.values]
    if kind == "nb":
        nb = flatten_nb(model, n_codes)
        return [nb.table, nb.prior]
    knn = flatten_knn(model)
    return [knn.train, knn.labels]


def fit_candidate(
    config: PipelineConfig,
    X: np.ndarray,
    y: np.ndarray,
    *,
    random_state: int,
    n_threads: int = 1,
) -> Candidate:
    """Fit and compile one candidate on float features ``X`` and class indices ``y``."""
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
    ).fit(member_input(codes[:, columns]), y)
    parts = ensemble._compiled_parts()
    compiled = CompiledPipeline(
        parts["members"],
        classes=parts["classes"],
        binner=binner,
        columns=columns,
        n_threads=n_threads,
    )
    return Candidate(config, binner, columns, ensemble, compiled)
