"""A whole search, end to end: split the data, set up the meters, run the study within its
budgets, assemble the front, confirm the pick, refit it, and return a typed `SearchResult`.

This is the policy the estimator delegates to: how much of the time budget goes to
confirmation and refit, when to validate by cross-validation, how the study is seeded.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import optuna
from sklearn.metrics import check_scoring

from greenauto.energy import (
    CodecarbonMeter,
    EnergyMeter,
    Measurement,
    SearchEmissions,
    make_meter,
)
from greenauto.ensemble import learner_names
from greenauto.metrics import OBJECTIVES, objective_metric
from greenauto.pareto import Objective, ParetoFront
from greenauto.results import (
    DatasetSummary,
    SearchCallback,
    SearchResult,
    SearchTotals,
    TrialRecord,
    machines_of,
    records_of,
)
from greenauto.search._candidate import Candidate, fit_candidate
from greenauto.search._confirm import confirm_points
from greenauto.search._data import SearchData, make_search_data
from greenauto.search._limits import Limits
from greenauto.search._objective import TrialObjective, score_candidate
from greenauto.search._space import PipelineConfig, config_from_params, seed_params
from greenauto.search._stopping import FrontPlateau
from greenauto.search._study import quiet_optuna, scoring_name
from greenauto.search._worker import StudyOutcome, measure_search, with_others
from greenauto.search._workers import join_study, optimize_study

__all__ = ["SearchOutcome", "SearchSettings", "run_search", "run_worker"]

#: Share of the time budget kept for confirming the pick by CV (holdout) and the refit.
_RESERVE_HOLDOUT, _RESERVE_CV = 0.25, 0.1
#: Below this many rows the pick is confirmed by 2 x 5-fold CV (else 3-fold).
SMALL_ROWS = 2000
#: A family of points is re-scored only if that costs at most this share of the search's time.
CONFIRM_SHARE = 0.5


@dataclass(frozen=True)
class SearchSettings:
    """Everything a search is run with (the estimator's parameters, checked)."""

    objectives: tuple[str, ...] = ("score", "inference_energy")
    scoring: str | Callable[..., float] = "accuracy"
    max_score_drop: float = 0.005
    learners: tuple[str, ...] | None = None
    max_members: int = 3
    validation: str | int = "auto"
    sampler: str | optuna.samplers.BaseSampler = "tpe"
    storage: str | optuna.storages.BaseStorage | None = None
    study_name: str | None = None
    energy_meter: str | EnergyMeter = "cpu-time"
    watts_per_cpu: float | None = None
    country_iso_code: str | None = None
    region: str | None = None
    time_budget: float | None = 60.0
    n_trials: int | None = None
    energy_budget: float | None = None
    n_iter_no_change: int | None = 15
    limits: Limits = field(default_factory=Limits)
    expected_predictions: int = 1_000_000
    n_jobs: int | None = None
    n_workers: int = 1
    random_state: int | None = None
    verbose: int = 0
    callbacks: Sequence[SearchCallback] = ()
    trial_timeout: float | None = None

    def __post_init__(self) -> None:
        objectives = list(self.objectives)
        unknown = [o for o in objectives if o not in OBJECTIVES]
        if unknown:
            raise ValueError(f"Unknown objective(s) {unknown}; choose from {sorted(OBJECTIVES)}.")
        if (
            "score" not in objectives
            or len(objectives) < 2
            or len(set(objectives)) != len(objectives)
        ):
            raise ValueError(
                "objectives must hold 'score' and at least one cost, each once; got "
                f"{tuple(objectives)}."
            )
        ordered = ("score", *(o for o in objectives if o != "score"))
        object.__setattr__(self, "objectives", ordered)
        if self.time_budget is None and self.n_trials is None and self.energy_budget is None:
            raise ValueError(
                "GreenAutoClassifier needs a budget: time_budget, n_trials or energy_budget."
            )
        if self.n_workers > 1 and self.energy_meter == "rapl":
            raise ValueError(
                "energy_meter='rapl' reads the whole CPU package, which n_workers > 1 worker "
                "processes share: their figures would mix. Use 'cpu-time' (per process)."
            )

    @property
    def seed(self) -> int:
        """The integer seed of the search (0 when ``random_state`` is None)."""
        return 0 if self.random_state is None else int(self.random_state) % (2**31)

    def study_settings(self) -> dict[str, Any]:
        """The settings stored on the study: a resumed study must have the same (JSON-able)."""
        return {
            "objectives": list(self.objectives),
            "learners": None if self.learners is None else list(self.learners),
            "max_members": self.max_members,
            "scoring": scoring_name(self.scoring),
            "validation": str(self.validation),
            "seed": self.seed,  # it draws the validation split
            "energy_meter": self.energy_meter
            if isinstance(self.energy_meter, str)
            else type(self.energy_meter).__name__,
        }

    def scorer(self) -> Callable[..., float]:
        """The scikit-learn scorer of ``scoring``."""
        if callable(self.scoring):
            return self.scoring
        return check_scoring(None, scoring=self.scoring)

    def objective_list(self) -> list[Objective]:
        """The objectives as the front takes them."""
        return [
            Objective(objective_metric(o).name, objective_metric(o).maximize)
            for o in self.objectives
        ]


class SearchOutcome(NamedTuple):
    """What `run_search` returns: the typed result, the refitted pick and the raw pieces the
    estimator exposes (the study, the search's energy and CO2)."""

    result: SearchResult
    model: Candidate
    study: optuna.Study
    energy: Measurement
    emissions: SearchEmissions | None


def run_search(
    X: np.ndarray,
    y: np.ndarray,
    settings: SearchSettings,
    *,
    labels: Sequence[object],
    feature_names: Sequence[str] | None = None,
    split_params: dict[str, Any] | None = None,
    raw: Any = None,
    encode: Callable[[Any], np.ndarray] | None = None,
    sample_weight: np.ndarray | None = None,
) -> SearchOutcome:
    """Search, assemble the front, confirm and refit the default pick.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Encoded features.
    y : ndarray of shape (n_samples,)
        Class indices ``0 .. len(labels) - 1``.
    settings : SearchSettings
    labels : sequence
        The class labels.
    feature_names : sequence of str, optional
    split_params : dict, optional
        What a ``validation`` splitter's ``split`` takes (``groups``).
    raw, encode : optional
        The data as the user gave it and the encoder's ``transform``: inference energy is
        then measured end to end, as a user's ``predict`` runs.
    sample_weight : ndarray, optional
        Row weights: they weight the members' training and every score. KNN cannot take
        them: it leaves the learners (an error if the learners were named with it).

    Returns
    -------
    outcome : SearchOutcome
    """
    started = time.perf_counter()
    deadline = math.inf if settings.time_budget is None else started + settings.time_budget
    data = make_search_data(
        X,
        y,
        validation=settings.validation,
        seed=settings.seed,
        labels=labels,
        split_params=split_params,
        raw=raw,
        encode=encode,
        sample_weight=sample_weight,
    )
    if sample_weight is not None:
        settings = _without_unweighted_learners(settings)
    meter = make_meter(settings.energy_meter, watts_per_cpu=settings.watts_per_cpu)
    tracker = None
    if settings.country_iso_code is not None:
        # worker processes are not this process: then track the machine (their CPU too)
        mode = "machine" if settings.n_workers > 1 else "process"
        tracker = CodecarbonMeter(settings.country_iso_code, settings.region, tracking_mode=mode)
        tracker.start()
    holder: dict[str, Any] = {}
    try:
        energy = measure_search(
            meter,
            lambda: holder.update(_search(data, settings, meter, deadline)),
            n_workers=settings.n_workers,
        )
    finally:
        emissions = tracker.stop() if tracker is not None else None
    study, front, records, model, outcome, saved = (
        holder[k] for k in ("study", "front", "records", "model", "outcome", "saved")
    )
    energy = with_others(energy, outcome)
    states: dict[str, int] = {}
    for r in records:
        states[r.state] = states.get(r.state, 0) + 1
    totals = SearchTotals(
        wall_seconds=time.perf_counter() - started,
        energy_j=energy.joules,
        energy_source=energy.source.value,
        energy_detail=energy.detail,
        co2_grams=None if emissions is None else emissions.grams_co2eq,
        co2_energy_j=None if emissions is None else emissions.joules,
        co2_country=None if emissions is None else emissions.country_iso_code,
        co2_region=None if emissions is None else emissions.region,
        co2_source=None if emissions is None else emissions.source.value,
        trial_states=states,
        stop_reason=outcome.stop_reason,
        energy_saved_j=saved,
        variants=sum(r.variant_of is not None for r in records),
        students=sum(r.student_of is not None for r in records),
    )
    dataset = DatasetSummary.of(X.shape, labels, feature_names)
    result = SearchResult(front, records, totals, dataset, settings.study_settings())
    return SearchOutcome(result, model, study, energy, emissions)


def _without_unweighted_learners(settings: SearchSettings) -> SearchSettings:
    """Settings whose learners all take sample weights (KNN does not)."""
    if settings.learners is not None and "knn" in settings.learners:
        raise ValueError(
            "learners include 'knn', which cannot take sample weights: drop it or the weights."
        )
    if settings.learners is not None:
        return settings
    learners = tuple(name for name in learner_names() if name != "knn")
    return dataclasses.replace(settings, learners=learners)


def _search(
    data: SearchData, settings: SearchSettings, meter: EnergyMeter, deadline: float
) -> dict[str, Any]:
    """The measured part of a search: the study, the front, the confirmation and the refit."""
    previous = quiet_optuna(settings.verbose)
    started = time.perf_counter()
    try:
        outcome, saved = _optimize(data, settings, meter, deadline)
    finally:
        optuna.logging.set_verbosity(previous)
    searched = time.perf_counter() - started
    study = outcome.study
    records = records_of(study.trials)
    front = _front(records, settings)
    seed = settings.seed
    if len(front) > 1:  # confirm the pick on fresh folds: the best scores rode on luck
        front = _confirmed(front, data, settings, deadline, searched)
    model = fit_candidate(
        front.default.config,
        data.X,
        data.y,
        random_state=seed,
        n_threads=settings.n_jobs,
        sample_weight=data.sample_weight,
    )
    return {
        "study": study,
        "front": front,
        "records": records,
        "model": model,
        "outcome": outcome,
        "saved": saved,
    }


def _confirmed(
    front: ParetoFront,
    data: SearchData,
    settings: SearchSettings,
    deadline: float,
    searched: float,
) -> ParetoFront:
    """The front with the points near the best re-scored by cross-validation on fresh folds.

    Below ``SMALL_ROWS`` rows, 2 x 5-fold (validation noise is largest there); else 3-fold.
    The points re-scored are those within twice the default pick's tolerance of the best, or
    within two standard errors of an accuracy measured on the search's validation rows,
    whichever is wider. A family whose re-scoring would cost more than
    ``CONFIRM_SHARE`` of the ``searched`` seconds (at least 2 s) keeps its search scores: on
    large, many-class data its fits would cost more than the search that found it.
    """
    n_val = sum(val.size for _, val in data.folds)
    best = front.best[front.score_metric]
    noise = math.sqrt(max(best * (1.0 - best), 0.0) / n_val) if 0.0 <= best <= 1.0 else 0.0
    small = data.X.shape[0] < SMALL_ROWS
    scorer = settings.scorer()
    points = confirm_points(
        front.points,
        X=data.X,
        y=data.y,
        score=lambda c, X, y, w: score_candidate(scorer, c, X, y, data.n_classes, w),
        sample_weight=data.sample_weight,
        max_score_drop=settings.max_score_drop,
        deadline=deadline - 0.05 * float(settings.time_budget or 0),
        random_state=settings.seed,
        n_splits=5 if small else 3,
        n_repeats=2 if small else 1,
        window=max(2 * settings.max_score_drop, 2 * noise),
        max_seconds=max(2.0, CONFIRM_SHARE * searched),
    )
    return ParetoFront(tuple(points), front.objectives, front.max_score_drop)


def _optimize(
    data: SearchData, settings: SearchSettings, meter: EnergyMeter, deadline: float
) -> tuple[StudyOutcome, float | None]:
    """Open (or resume) the study and run the trials within the budgets (in this process or
    in ``n_workers`` processes); also the energy an early stop saved, if it stopped so."""
    # keep part of the budget to confirm the pick by cross-validation (holdout only) and
    # to refit it on all the data
    search_deadline = deadline
    if math.isfinite(deadline):
        share = _RESERVE_HOLDOUT if len(data.folds) == 1 else _RESERVE_CV
        search_deadline = deadline - share * float(settings.time_budget or 0)
    rules = []
    if settings.n_iter_no_change is not None:
        rules.append(
            FrontPlateau(
                settings.objectives,
                patience=settings.n_iter_no_change,
                max_score_drop=settings.max_score_drop,
                allows=settings.limits.allows,
            )
        )
    outcome = optimize_study(
        data,
        settings,
        meter,
        search_deadline,
        make_objective=_trial_objective,
        first_trials=_first_trials(data, settings),
        rules=rules,
    )
    saved = None
    if rules and outcome.stop_reason == rules[0].reason():
        saved = _energy_saved(outcome, settings, search_deadline)
    return outcome, saved


def _trial_objective(
    data: SearchData, settings: SearchSettings, meter: EnergyMeter, deadline: float
) -> TrialObjective:
    """The objective of one trial (module-level: worker processes receive it by name)."""
    return TrialObjective(
        data=data,
        objectives=settings.objectives,
        scorer=settings.scorer(),
        meter=meter,
        learners=settings.learners,
        max_members=settings.max_members,
        random_state=settings.seed,
        expected_predictions=settings.expected_predictions,
        deadline=deadline,
        limits=settings.limits,
        trial_timeout=settings.trial_timeout,
        # the seeds (a new study's first trials) skip the low-fidelity check
        fidelity_after=len(_first_trials(data, settings)),
    )


def _energy_saved(
    outcome: StudyOutcome, settings: SearchSettings, deadline: float
) -> float | None:
    """Joules an early stop saved, estimated from the trial rate: what the budget that would
    have stopped the search first would still have let it spend."""
    progress, ran = outcome.progress, outcome.trials_run
    if progress is None or not math.isfinite(progress.joules) or ran == 0:
        return None
    estimates = []
    if math.isfinite(deadline) and progress.elapsed_seconds > 0:
        left = max(deadline - time.perf_counter(), 0.0)
        estimates.append(left * progress.joules / progress.elapsed_seconds)
    if settings.n_trials is not None:
        left_trials = max(settings.n_trials - ran, 0)
        estimates.append(left_trials * progress.joules / ran)
    if settings.energy_budget is not None:
        estimates.append(max(settings.energy_budget - progress.joules, 0.0))
    return min(estimates) if estimates else None


def _first_trials(data: SearchData, settings: SearchSettings) -> list[dict[str, Any]]:
    """The cheap, known-good candidates a new study evaluates first."""
    shape = (data.folds[0][0].size, data.X.shape[1])
    return seed_params(
        settings.learners, settings.max_members, shape=shape, n_classes=data.n_classes
    )


def run_worker(
    X: np.ndarray,
    y: np.ndarray,
    settings: SearchSettings,
    *,
    labels: Sequence[object],
    time_budget: float | None = None,
    n_trials: int | None = None,
) -> StudyOutcome:
    """Join the study ``settings.study_name`` in ``settings.storage`` as a worker.

    The worker runs trials until the study's current run (recorded by the fit that started
    it, with its budgets over every worker) is spent, or its own limits; it refits nothing.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Encoded features: the same data the study was started on.
    y : ndarray of shape (n_samples,)
        Class indices.
    settings : SearchSettings
        The same search settings as the study's (objectives, learners, scoring,
        validation, seed, meter); its budgets are not used.
    labels : sequence
        The class labels.
    time_budget : float, optional
        Seconds this worker may run.
    n_trials : int, optional
        Trials this worker may run.

    Returns
    -------
    outcome : StudyOutcome

    Raises
    ------
    ValueError
        When the study was started on other data or with other settings (the message names
        what differs), or when it has no run to follow and the worker no own limit.
    """
    data = make_search_data(
        X, y, validation=settings.validation, seed=settings.seed, labels=labels
    )
    meter = make_meter(settings.energy_meter, watts_per_cpu=settings.watts_per_cpu)
    previous = quiet_optuna(settings.verbose)
    try:
        return join_study(
            data,
            settings,
            meter,
            make_objective=_trial_objective,
            first_trials=_first_trials(data, settings),
            time_budget=time_budget,
            n_trials=n_trials,
        )
    finally:
        optuna.logging.set_verbosity(previous)


def record_config(record: TrialRecord, settings: SearchSettings) -> PipelineConfig:
    """A finished trial's configuration, rebuilt from its parameters (a distilled student's
    with its teacher's)."""
    kw = {"learners": settings.learners, "max_members": settings.max_members}
    config = config_from_params(dict(record.params), **kw)
    if record.teacher_params is not None:
        teacher = config_from_params(dict(record.teacher_params), **kw)
        config = dataclasses.replace(config, teacher=teacher)
    return config


def _front(records: Sequence[TrialRecord], settings: SearchSettings) -> ParetoFront:
    """The front of the completed trials, each point carrying its configuration."""
    done = [r for r in records if r.complete]
    several = len(machines_of(records)) > 1  # then each point names its machine
    points = [
        r.to_point(record_config(r, settings), with_machine=several)
        for r in done
        if settings.limits.allows(r.metrics)
    ]
    if done and not points:
        raise RuntimeError(
            f"No candidate meets the limits ({settings.limits.describe()}): the "
            f"{len(done)} completed trials all exceed one. Relax a limit or give more budget."
        )
    if not points:
        failed = [f"trial {r.number}: {r.error or 'failed'}" for r in records if r.state == "FAIL"]
        budget = (
            f"time_budget={settings.time_budget} s"
            if settings.time_budget is not None
            else "budget"
        )
        why = f" Failed trials: {failed[:3]}" if failed else ""
        raise RuntimeError(
            f"No trial completed within {budget}: it was too small for a single trial on this "
            f"data (or every trial failed).{why}"
        )
    return ParetoFront.from_candidates(
        points, settings.objective_list(), max_score_drop=settings.max_score_drop
    )
