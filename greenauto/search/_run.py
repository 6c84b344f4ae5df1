"""A whole search, end to end: split the data, set up the meters, run the study within its
budgets, assemble the front, confirm the pick, refit it, and return a typed `SearchResult`.

This is the policy the estimator delegates to: how much of the time budget goes to
confirmation and refit, when to validate by cross-validation, how the study is seeded.
"""

from __future__ import annotations

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
    EnergyMeterError,
    EnergyTally,
    Measurement,
    SearchEmissions,
    make_meter,
)
from greenauto.metrics import OBJECTIVES, objective_metric
from greenauto.pareto import Objective, ParetoFront
from greenauto.results import (
    DatasetSummary,
    SearchCallback,
    SearchResult,
    SearchTotals,
    TrialRecord,
)
from greenauto.search._candidate import Candidate, fit_candidate
from greenauto.search._confirm import confirm_points
from greenauto.search._data import SearchData, make_search_data
from greenauto.search._limits import Limits
from greenauto.search._objective import TrialObjective, score_candidate
from greenauto.search._space import config_from_params, seed_params
from greenauto.search._stopping import FrontPlateau
from greenauto.search._study import (
    STOP_N_TRIALS,
    STOP_TIMEOUT,
    TrialCallback,
    data_fingerprint,
    make_sampler,
    open_study,
    quiet_optuna,
    scoring_name,
)

__all__ = ["SearchOutcome", "SearchSettings", "run_search"]

#: Share of the time budget kept for confirming the pick by CV (holdout) and the refit.
_RESERVE_HOLDOUT, _RESERVE_CV = 0.25, 0.1
#: Below this many rows the pick is confirmed by 2 x 5-fold CV (else 3-fold).
SMALL_ROWS = 2000


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
    random_state: int | None = None
    verbose: int = 0
    callbacks: Sequence[SearchCallback] = ()

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
    )
    meter = make_meter(settings.energy_meter, watts_per_cpu=settings.watts_per_cpu)
    tracker = None
    if settings.country_iso_code is not None:
        tracker = CodecarbonMeter(settings.country_iso_code, settings.region)
        tracker.start()
    holder: dict[str, Any] = {}
    try:
        energy = meter.measure(lambda: holder.update(_search(data, settings, meter, deadline)))
    finally:
        emissions = tracker.stop() if tracker is not None else None
    study, front, records, model, stop, saved = (
        holder[k] for k in ("study", "front", "records", "model", "stop", "saved")
    )
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
        stop_reason=stop,
        energy_saved_j=saved,
        variants=sum(r.variant_of is not None for r in records),
    )
    dataset = DatasetSummary.of(X.shape, labels, feature_names)
    result = SearchResult(front, records, totals, dataset, settings.study_settings())
    return SearchOutcome(result, model, study, energy, emissions)


def _search(
    data: SearchData, settings: SearchSettings, meter: EnergyMeter, deadline: float
) -> dict[str, Any]:
    """The measured part of a search: the study, the front, the confirmation and the refit."""
    previous = quiet_optuna(settings.verbose)
    try:
        study, stop, saved = _optimize(data, settings, meter, deadline)
    finally:
        optuna.logging.set_verbosity(previous)
    records = tuple(TrialRecord.from_trial(t) for t in study.trials)
    front = _front(records, settings)
    seed = settings.seed
    if len(front) > 1:  # confirm the pick on fresh folds: the best scores rode on luck
        front = _confirmed(front, data, settings, deadline)
    model = fit_candidate(
        front.default.config, data.X, data.y, random_state=seed, n_threads=settings.n_jobs
    )
    return {
        "study": study,
        "front": front,
        "records": records,
        "model": model,
        "stop": stop,
        "saved": saved,
    }


def _confirmed(
    front: ParetoFront, data: SearchData, settings: SearchSettings, deadline: float
) -> ParetoFront:
    """The front with the points near the best re-scored by cross-validation on fresh folds.

    Below ``SMALL_ROWS`` rows, 2 x 5-fold (validation noise is largest there); else 3-fold.
    The points re-scored are those within twice the default pick's tolerance of the best, or
    within two standard errors of an accuracy measured on the search's validation rows,
    whichever is wider.
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
        score=lambda c, X, y: score_candidate(scorer, c, X, y, data.n_classes),
        max_score_drop=settings.max_score_drop,
        deadline=deadline - 0.05 * float(settings.time_budget or 0),
        random_state=settings.seed,
        n_splits=5 if small else 3,
        n_repeats=2 if small else 1,
        window=max(2 * settings.max_score_drop, 2 * noise),
    )
    return ParetoFront(tuple(points), front.objectives, front.max_score_drop)


def _optimize(
    data: SearchData, settings: SearchSettings, meter: EnergyMeter, deadline: float
) -> tuple[optuna.Study, str, float | None]:
    """Open (or resume) the study and run the trials within the budgets."""
    seed = settings.seed
    study = open_study(
        directions=["maximize" if o.maximize else "minimize" for o in settings.objective_list()],
        sampler=make_sampler(settings.sampler, seed),
        storage=settings.storage,
        study_name=settings.study_name,
        fingerprint=data_fingerprint(data.X, data.y),
        settings=settings.study_settings(),
    )
    if not study.trials:
        shape = (data.folds[0][0].size, data.X.shape[1])
        for params in seed_params(
            settings.learners, settings.max_members, shape=shape, n_classes=data.n_classes
        ):
            study.enqueue_trial(params, skip_if_exists=True)
    # keep part of the budget to confirm the pick by cross-validation (holdout only) and
    # to refit it on all the data
    search_deadline = deadline
    if math.isfinite(deadline):
        share = _RESERVE_HOLDOUT if len(data.folds) == 1 else _RESERVE_CV
        search_deadline = deadline - share * float(settings.time_budget or 0)
    objective = TrialObjective(
        data=data,
        objectives=settings.objectives,
        scorer=settings.scorer(),
        meter=meter,
        learners=settings.learners,
        max_members=settings.max_members,
        random_state=seed,
        expected_predictions=settings.expected_predictions,
        deadline=search_deadline,
        limits=settings.limits,
        fidelity_after=len(study.trials),  # the seeds (enqueued first) skip low fidelity
    )
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
    callback = TrialCallback(
        rules=rules,
        more_trials=objective.take_added,
        objectives=settings.objectives,
        tally=_tally(meter, settings.energy_budget),
        energy_budget=settings.energy_budget,
        deadline=search_deadline,
        callbacks=settings.callbacks,
    )
    timeout = None
    if math.isfinite(search_deadline):
        timeout = max(search_deadline - time.perf_counter(), 0.0)
    study.optimize(
        objective,
        n_trials=settings.n_trials,
        timeout=timeout,
        catch=(Exception,),
        callbacks=[callback],
        gc_after_trial=False,
    )
    stop = callback.stop_reason
    saved = None
    if stop is None:
        ran, limit = callback.optimized, settings.n_trials
        stop = STOP_N_TRIALS if limit is not None and ran >= limit else STOP_TIMEOUT
    elif rules and stop == rules[0].reason():
        saved = _energy_saved(callback, settings, search_deadline)
    return study, stop, saved


def _energy_saved(
    callback: TrialCallback, settings: SearchSettings, deadline: float
) -> float | None:
    """Joules an early stop saved, estimated from the trial rate: what the budget that would
    have stopped the search first would still have let it spend."""
    progress = callback.progress()
    if not math.isfinite(progress.joules) or callback.optimized == 0:
        return None
    estimates = []
    if math.isfinite(deadline) and progress.elapsed_seconds > 0:
        left = max(deadline - time.perf_counter(), 0.0)
        estimates.append(left * progress.joules / progress.elapsed_seconds)
    if settings.n_trials is not None:
        left_trials = max(settings.n_trials - callback.optimized, 0)
        estimates.append(left_trials * progress.joules / callback.optimized)
    if settings.energy_budget is not None:
        estimates.append(max(settings.energy_budget - progress.joules, 0.0))
    return min(estimates) if estimates else None


def _tally(meter: EnergyMeter, energy_budget: float | None) -> EnergyTally | None:
    """The meter's running total (None if it cannot keep one and no budget needs it)."""
    try:
        return meter.tally()
    except EnergyMeterError as exc:
        if energy_budget is not None:
            raise ValueError(f"energy_budget cannot be enforced: {exc}") from None
        return None


def _front(records: Sequence[TrialRecord], settings: SearchSettings) -> ParetoFront:
    """The front of the completed trials, each point carrying its configuration."""
    done = [r for r in records if r.complete]
    points = [
        r.to_point(
            config_from_params(
                dict(r.params), learners=settings.learners, max_members=settings.max_members
            )
        )
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
