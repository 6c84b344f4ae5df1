"""The multi-objective search: space, one trial's objective, the study, and `run_search`
which runs a whole search and returns a typed `greenauto.results.SearchResult`."""

from greenauto.search._candidate import Candidate, fit_candidate
from greenauto.search._data import SearchData, is_splitter, make_search_data, stratified_folds
from greenauto.search._limits import Limits
from greenauto.search._objective import TrialObjective, score_candidate
from greenauto.search._run import SearchOutcome, SearchSettings, run_search, run_worker
from greenauto.search._space import PipelineConfig, config_from_params, seed_params, suggest_config
from greenauto.search._study import make_sampler, open_study, resolve_storage, scoring_name
from greenauto.search._worker import StudyOutcome

__all__ = [
    "Candidate",
    "Limits",
    "PipelineConfig",
    "SearchData",
    "SearchOutcome",
    "SearchSettings",
    "StudyOutcome",
    "TrialObjective",
    "config_from_params",
    "fit_candidate",
    "is_splitter",
    "make_sampler",
    "make_search_data",
    "open_study",
    "resolve_storage",
    "run_search",
    "run_worker",
    "score_candidate",
    "scoring_name",
    "seed_params",
    "stratified_folds",
    "suggest_config",
]
