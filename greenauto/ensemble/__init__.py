"""Small voting ensembles and the registry of learners they are built from."""

from greenauto.ensemble import _builtin_learners  # noqa: F401  (registers the built-in learners)
from greenauto.ensemble._learners import (
    Choice,
    FloatRange,
    IntRange,
    Learner,
    get_learner,
    learner_names,
    register_learner,
    unregister_learner,
)
from greenauto.ensemble._spec import (
    MemberSpec,
    describe_ensemble,
    ensemble_trial_params,
    make_ensemble,
    suggest_ensemble,
)
from greenauto.ensemble._voting import (
    CompiledParts,
    MajorityVoteClassifier,
    stratified_subset,
    subset_size,
)

__all__ = [
    "Choice",
    "CompiledParts",
    "FloatRange",
    "IntRange",
    "Learner",
    "MajorityVoteClassifier",
    "MemberSpec",
    "describe_ensemble",
    "ensemble_trial_params",
    "get_learner",
    "learner_names",
    "make_ensemble",
    "register_learner",
    "stratified_subset",
    "subset_size",
    "suggest_ensemble",
    "unregister_learner",
]
