"""The search space: one candidate = binning x feature selection x a small voting ensemble.

`suggest_config` asks an Optuna trial (define-by-run) for a `PipelineConfig`; the ensemble
part comes from each learner's own declared space (`greenauto.ensemble`), FLAML-style.
`config_from_params` rebuilds a finished trial's configuration from its stored parameters, and
`seed_params` lists cheap, known-good candidates the study evaluates first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from greenauto.ensemble import (
    MemberSpec,
    describe_ensemble,
    ensemble_trial_params,
    get_learner,
    learner_names,
    suggest_ensemble,
)

__all__ = ["SELECTORS", "PipelineConfig", "config_from_params", "seed_params", "suggest_config"]

SELECTORS = ("none", "anova", "mutual_info", "tree_importance")
MIN_BINS, MAX_BINS = 4, 255


@dataclass(frozen=True)
class PipelineConfig:
    """Everything needed to build one candidate pipeline (Binner -> selection -> vote)."""

    n_bins: int
    bin_strategy: str
    selector: str
    feature_fraction: float
    members: tuple[MemberSpec, ...]

    def trial_params(self) -> dict[str, Any]:
        """The trial parameters under which `suggest_config` returns this configuration (the
        inverse of `config_from_params`)."""
        params: dict[str, Any] = {
            "n_bins": self.n_bins,
            "bin_strategy": self.bin_strategy,
            "selector": self.selector,
        }
        if self.selector != "none":
            params["feature_fraction"] = self.feature_fraction
        return {**params, **ensemble_trial_params(self.members)}

    def to_sklearn(self, X: Any, y: Any, *, random_state: int = 0) -> Any:
        """This candidate fitted on ``X, y`` (encoded as ``GreenAutoClassifier`` encodes them),
        as a plain scikit-learn ``Pipeline``: see ``CompiledPipeline.to_sklearn``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        random_state : int, default=0

        Returns
        -------
        pipeline : sklearn.pipeline.Pipeline
        """
        import numpy as np

        from greenauto.preprocessing import TabularEncoder, encode_labels
        from greenauto.search._candidate import fit_candidate

        encoder = TabularEncoder().fit(X)
        labels = encode_labels(y)
        y_enc = labels.transform(np.asarray(y)).astype(np.int64)
        candidate = fit_candidate(self, encoder.transform(X), y_enc, random_state=random_state)
        compiled = candidate.compiled.with_metadata(labels=labels.classes_, encoder=encoder)
        return compiled.to_sklearn()

    def describe(self, n_features: int, n_selected: int) -> str:
        """E.g. ``"LightGBM(40 trees) + CategoricalNB on 12 of 57 columns, 16 bins"``."""
        cols = (
            f"all {n_features} columns"
            if n_selected == n_features
            else (f"{n_selected} of {n_features} columns ({self.selector})")
        )
        return f"{describe_ensemble(self.members)} on {cols}, {self.n_bins} bins"


def suggest_config(
    trial: optuna.trial.BaseTrial,
    *,
    learners: Sequence[str] | None = None,
    max_members: int = 3,
) -> PipelineConfig:
    """Ask ``trial`` for one candidate configuration (define-by-run, conditional space)."""
    n_bins = trial.suggest_int("n_bins", MIN_BINS, MAX_BINS, log=True)
    strategy = trial.suggest_categorical("bin_strategy", ["quantile", "uniform"])
    selector = trial.suggest_categorical("selector", list(SELECTORS))
    fraction = 1.0
    if selector != "none":
        fraction = trial.suggest_float("feature_fraction", 0.1, 1.0)
    members = suggest_ensemble(trial, learners=learners, max_members=max_members)
    return PipelineConfig(n_bins, strategy, selector, fraction, tuple(members))


def config_from_params(
    params: dict[str, Any], *, learners: Sequence[str] | None = None, max_members: int = 3
) -> PipelineConfig:
    """Rebuild the configuration of a finished trial from its stored parameters."""
    return suggest_config(
        optuna.trial.FixedTrial(params), learners=learners, max_members=max_members
    )


#: A learner is seeded only if its initial parameters cost at most this many operations per
#: predicted row (its ``cost_hint``) on the search's data: KNN, whose cost grows with the
#: training rows, is then left to the sampler on all but tiny data.
SEED_MAX_OPS_PER_ROW = 10_000


def seed_params(
    learners: Sequence[str] | None,
    max_members: int = 3,
    *,
    shape: tuple[int, int] = (10_000, 20),
    n_classes: int = 2,
) -> list[dict[str, Any]]:
    """Trial parameters of cheap, known-good candidates the study evaluates first (FLAML's
    low-cost start).

    Each allowed learner alone with its declared initial parameters, on all columns with 32
    quantile bins, cheapest first by its ``cost_hint`` on data of ``shape`` (rows, columns)
    (learners above ``SEED_MAX_OPS_PER_ROW`` are left out); then LightGBM with its library
    defaults on 255 bins (the accurate anchor users compare against); then a vote of the three
    cheapest learners.
    """
    allowed = learner_names() if learners is None else sorted(set(learners))
    n_rows, n_features = shape
    costs = {
        name: get_learner(name).cost_hint(
            get_learner(name).initial_params(), n_rows, n_features, n_classes=n_classes
        )
        for name in allowed
    }
    order = sorted((n for n in allowed if costs[n] <= SEED_MAX_OPS_PER_ROW), key=costs.get)
    base = {"n_bins": 32, "bin_strategy": "quantile", "selector": "none"}
    seeds = []
    for name in order:
        spec = MemberSpec(name, get_learner(name).initial_params())
        seeds.append({**base, **ensemble_trial_params([spec])})
    if "lightgbm" in allowed:
        spec = MemberSpec("lightgbm", _LIGHTGBM_DEFAULTS)
        seeds.append({**base, "n_bins": 255, **ensemble_trial_params([spec])})
    if max_members >= 3 and len(order) >= 3:
        specs = [MemberSpec(n, get_learner(n).initial_params()) for n in order[:3]]
        seeds.append({**base, **ensemble_trial_params(specs)})
    return seeds


#: LightGBM's own defaults (reg_lambda 0 lies outside the searched log range: its floor).
_LIGHTGBM_DEFAULTS = {
    "n_estimators": 100,
    "num_leaves": 31,
    "learning_rate": 0.1,
    "min_child_samples": 20,
    "colsample_bytree": 1.0,
    "reg_lambda": 1e-3,
    "max_depth": -1,
}
