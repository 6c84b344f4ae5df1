"""The multi-objective search: space, one trial's objective, and the study around them."""

from greenauto.search._candidate import Candidate, fit_candidate
from greenauto.search._confirm import confirm_points
from greenauto.search._objective import (
    OBJECTIVE_METRICS,
    SearchData,
    TrialObjective,
    score_candidate,
)
from greenauto.search._space import PipelineConfig, config_from_params, seed_params, suggest_config
from greenauto.search._study import (
    DeadlineStop,
    EnergyBudget,
    data_fingerprint,
    make_sampler,
    open_study,
    quiet_optuna,
)

__all__ = [
    "OBJECTIVE_METRICS",
    "Candidate",
    "DeadlineStop",
    "EnergyBudget",
    "PipelineConfig",
    "SearchData",
    "TrialObjective",
    "config_from_params",
    "confirm_points",
    "data_fingerprint",
    "fit_candidate",
    "make_sampler",
    "open_study",
    "quiet_optuna",
    "score_candidate",
    "seed_params",
    "suggest_config",
]
