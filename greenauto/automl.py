"""GreenAutoClassifier: the multi-objective search as a scikit-learn classifier.

Thin: it validates and encodes the data, chooses the split and the meter, runs the study
(`greenauto.search`), builds the Pareto front, refits the default pick on all the data and
predicts through the compiled kernels.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from greenauto.energy import (
    Calibration,
    CodecarbonMeter,
    CpuTimeMeter,
    EnergyMeter,
    Measurement,
    OperationCounter,
    OperationCountMeter,
    RaplMeter,
    SearchEmissions,
    default_meter,
)
from greenauto.pareto import Objective, ParetoFront, ParetoPoint
from greenauto.preprocessing._tabular import TabularEncoder
from greenauto.report import export_report as _export_report
from greenauto.search import (
    OBJECTIVE_METRICS,
    Candidate,
    DeadlineStop,
    EnergyBudget,
    SearchData,
    TrialObjective,
    config_from_params,
    confirm_points,
    data_fingerprint,
    fit_candidate,
    make_sampler,
    open_study,
    quiet_optuna,
    score_candidate,
    seed_params,
)

__all__ = ["GreenAutoClassifier"]

#: Joules per counted operation of the deterministic meter: 4.2 ns per tree-node visit
#: (scikit-learn's forest on these machines) x 4 W per thread (codecarbon's EPYC default).
MODEL_JOULES_PER_OP = 4.2e-9 * 4.0
#: Rows of the fixed reference batch inference energy is measured on.
REFERENCE_ROWS = 1000
#: Below this many rows the search validates by stratified k-fold instead of a holdout.
CV_BELOW_ROWS = 1000


class GreenAutoClassifier(ClassifierMixin, BaseEstimator):
    """Find accurate classifiers that spend little energy: a multi-objective AutoML search.

    ``fit`` runs an Optuna study over binning x feature selection x small voting ensembles
    (decision trees, small forests, LightGBM, Naive Bayes, KNN), scores every candidate on
    validation ``scoring`` and on measured energy, and returns a Pareto front. The default pick
    (the lowest-energy point within ``max_score_drop`` of the best score) is refitted on all
    the data and predicts through compiled C++ kernels.

    Parameters
    ----------
    time_budget : float or None, default=60
        Seconds for the whole fit (search and refit). ``None``: no time limit (then give
        ``n_trials`` or ``energy_budget``).
    n_trials : int or None, default=None
        Number of trials to run (in this call, on top of a resumed study's).
    energy_budget : float or None, default=None
        Joules the search itself may spend, as the trial meter measures them.
    objectives : tuple of str, default=("score", "inference_energy")
        What the study optimises: ``"score"`` and one or more of ``"inference_energy"`` (J per
        1,000 predictions), ``"fit_energy"`` (J), ``"lifetime_energy"`` (fit J +
        ``expected_predictions`` x J per prediction), ``"latency"``, ``"model_size"``.
    expected_predictions : int, default=1_000_000
        Predictions the model will make in its life, for ``"lifetime_energy"``.
    scoring : str or callable, default="accuracy"
        Validation score, any scikit-learn scorer.
    max_score_drop : float, default=0.005
        The default pick may score this much below the best point (0.005 = half a point of
        accuracy).
    learners : list of str or None, default=None
        Member kinds the ensembles may use (``greenauto.ensemble.learner_names()``); all if
        None.
    max_members : int, default=3
        Largest ensemble (1 to 3).
    validation : "auto", "holdout" or int, default="auto"
        ``"holdout"``: 25 % stratified validation split; an int k: stratified k-fold;
        ``"auto"``: 3-fold below 1,000 rows, holdout above.
    sampler : {"tpe", "nsga2", "random"} or optuna sampler, default="tpe"
    storage : str, optuna storage or None, default=None
        Optuna storage (e.g. ``"sqlite:///search.db"``) to keep every trial; with
        ``study_name`` a later ``fit`` on the same data resumes the study.
    study_name : str or None, default=None
    energy_meter : {"cpu-time", "rapl", "model"} or EnergyMeter, default="cpu-time"
        Per-trial meter. ``"cpu-time"``: process CPU time x calibrated watts (RAPL, else
        codecarbon's TDP estimate, else ``watts_per_cpu``). ``"model"``: counted operations x
        a fixed J per operation, deterministic (reproducible searches), labelled a model.
    watts_per_cpu : float or None, default=None
        Watts per busy CPU for the cpu-time meter, overriding calibration.
    country_iso_code : str or None, default=None
        Country (3-letter ISO code) whose grid powers the machine. When given, codecarbon's
        offline tracker measures the whole search and its CO2 (``search_emissions_``).
    region : str or None, default=None
        Region within the country, where codecarbon has data.
    handle_unknown : {"error", "missing"}, default="error"
        A category at predict time that fit never saw: an error, or a missing value.
    n_jobs : int or None, default=None
        Threads of the compiled kernels at predict (``None``: 1). Energy is measured on 1.
    random_state : int or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    pareto_front_ : ParetoFront
        Non-dominated candidates (score and every measured cost), with their descriptions.
    best_point_ : ParetoPoint
        The default pick, refitted on all the data.
    study_ : optuna.Study
        The study, every trial's parameters and metrics in ``user_attrs``.
    search_energy_ : Measurement
        Energy of the search (all trials and the refit) by the trial meter, with its source.
    search_emissions_ : SearchEmissions or None
        codecarbon's totals and CO2 when ``country_iso_code`` was given.
    classes_ : ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray

    Examples
    --------
    >>> from greenauto import GreenAutoClassifier
    >>> from greenauto.datasets import load_dataset
    >>> X, y = load_dataset("breast_cancer_wisconsin")
    >>> auto = GreenAutoClassifier(n_trials=6, time_budget=None, energy_meter="model",
    ...                            random_state=0).fit(X, y)
    >>> len(auto.pareto_front_) >= 1 and auto.score(X, y) > 0.9
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "energy_budget": [Interval(Real, 0, None, closed="neither"), None],
        "objectives": [tuple, list],
        "expected_predictions": [Interval(Integral, 0, None, closed="left")],
        "scoring": [str, callable],
        "max_score_drop": [Interval(Real, 0, 1, closed="both")],
        "learners": [list, tuple, None],
        "max_members": [Interval(Integral, 1, 3, closed="both")],
        "validation": [
            StrOptions({"auto", "holdout"}),
            Interval(Integral, 2, None, closed="left"),
        ],
        "sampler": [StrOptions({"tpe", "nsga2", "random"}), optuna.samplers.BaseSampler],
        "storage": [str, optuna.storages.BaseStorage, None],
        "study_name": [str, None],
        "energy_meter": [StrOptions({"cpu-time", "rapl", "model"}), EnergyMeter],
        "watts_per_cpu": [Interval(Real, 0, None, closed="neither"), None],
        "country_iso_code": [str, None],
        "region": [str, None],
        "handle_unknown": [StrOptions({"error", "missing"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        time_budget: float | None = 60.0,
        *,
        n_trials: int | None = None,
        energy_budget: float | None = None,
        objectives: tuple[str, ...] = ("score", "inference_energy"),
        expected_predictions: int = 1_000_000,
        scoring: str | Any = "accuracy",
        max_score_drop: float = 0.005,
        learners: list[str] | None = None,
        max_members: int = 3,
        validation: str | int = "auto",
        sampler: str | optuna.samplers.BaseSampler = "tpe",
        storage: str | optuna.storages.BaseStorage | None = None,
        study_name: str | None = None,
        energy_meter: str | EnergyMeter = "cpu-time",
        watts_per_cpu: float | None = None,
        country_iso_code: str | None = None,
        region: str | None = None,
        handle_unknown: str = "error",
        n_jobs: int | None = None,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.energy_budget = energy_budget
        self.objectives = objectives
        self.expected_predictions = expected_predictions
        self.scoring = scoring
        self.max_score_drop = max_score_drop
        self.learners = learners
        self.max_members = max_members
        self.validation = validation
        self.sampler = sampler
        self.storage = storage
        self.study_name = study_name
        self.energy_meter = energy_meter
        self.watts_per_cpu = watts_per_cpu
        self.country_iso_code = country_iso_code
        self.region = region
        self.handle_unknown = handle_unknown
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    # members are built from search parameters: let them validate their own
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any) -> GreenAutoClassifier:
        """Search, build the Pareto front, refit the default pick on all the data.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean, text or categorical columns; NaN allowed.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).

        Returns
        -------
        self : GreenAutoClassifier
        """
        started = time.perf_counter()
        objectives = self._check_objectives()
        if self.time_budget is None and self.n_trials is None and self.energy_budget is None:
            raise ValueError(
                "GreenAutoClassifier needs a budget: time_budget, n_trials or energy_budget."
            )
        Xf, y_enc = self._encode_training_data(X, y)
        seed = 0 if self.random_state is None else int(self.random_state) % (2**31)
        data = self._split(Xf, y_enc, seed)
        meter, counter = self._make_meter()
        tracker = self._start_tracker()
        deadline = math.inf if self.time_budget is None else started + float(self.time_budget)
        try:
            search_m = meter.measure(
                lambda: self._search(data, objectives, meter, counter, seed, deadline)
            )
        finally:
            emissions = tracker.stop() if tracker is not None else None
        self.search_energy_: Measurement = search_m
        self.search_emissions_: SearchEmissions | None = emissions
        self.search_seconds_ = time.perf_counter() - started
        return self

    def _search(self, data, objectives, meter, counter, seed, deadline) -> None:
        """Run the study, build the front and refit the pick (the measured part of fit)."""
        previous = quiet_optuna(self.verbose)
        try:
            self._optimize(data, objectives, meter, counter, seed, deadline)
        finally:
            optuna.logging.set_verbosity(previous)
        study = self.study_
        front = self._front(study, objectives)
        if len(data.folds) == 1 and len(front) > 1:  # holdout: confirm the pick by CV
            points = confirm_points(
                front.points,
                X=data.X,
                y=data.y,
                score=lambda c, X, y: score_candidate(self._scorer(), c, X, y, data.n_classes),
                max_score_drop=self.max_score_drop,
                deadline=deadline - 0.05 * float(self.time_budget or 0),
                random_state=seed,
                config_kwargs={"learners": self.learners, "max_members": self.max_members},
            )
            front = ParetoFront(tuple(points), front.objectives, front.max_score_drop)
        self.pareto_front_ = front
        self.best_point_ = self.pareto_front_.default
        config = config_from_params(
            dict(self.best_point_.params), learners=self.learners, max_members=self.max_members
        )
        self.model_: Candidate = fit_candidate(
            config, data.X, data.y, random_state=seed, n_threads=self.n_jobs
        )

    def _optimize(self, data, objectives, meter, counter, seed, deadline) -> None:
        """Open (or resume) the study and run the trials within the budgets."""
        directions = ["maximize" if OBJECTIVE_METRICS[o][1] else "minimize" for o in objectives]
        settings = {
            "objectives": list(objectives),
            "learners": None if self.learners is None else list(self.learners),
            "max_members": self.max_members,
            "scoring": str(self.scoring),
            "validation": str(self.validation),
        }
        study = open_study(
            directions=directions,
            sampler=make_sampler(self.sampler, seed),
            storage=self.storage,
            study_name=self.study_name,
            fingerprint=data_fingerprint(data.X, data.y),
            settings=settings,
        )
        if not study.trials:
            for params in seed_params(self.learners, self.max_members):
                study.enqueue_trial(params, skip_if_exists=True)
        # keep part of the budget to confirm the pick by cross-validation (holdout only) and
        # to refit it on all the data
        search_deadline = deadline
        if math.isfinite(deadline):
            share = 0.25 if len(data.folds) == 1 else 0.1
            search_deadline = deadline - share * float(self.time_budget)
        objective = TrialObjective(
            data=data,
            objectives=objectives,
            scorer=self._scorer(),
            meter=meter,
            counter=counter,
            learners=self.learners,
            max_members=self.max_members,
            random_state=seed,
            expected_predictions=self.expected_predictions,
            deadline=search_deadline,
        )
        spent0 = _spent_reader(meter, counter)
        callbacks = [
            EnergyBudget(spent0, self.energy_budget),
            DeadlineStop(search_deadline, objective._durations),
        ]
        timeout = None
        if math.isfinite(search_deadline):
            timeout = max(search_deadline - time.perf_counter(), 0.0)
        study.optimize(
            objective,
            n_trials=self.n_trials,
            timeout=timeout,
            catch=(Exception,),
            callbacks=callbacks,
            gc_after_trial=False,
        )
        self.study_ = study

    def _front(self, study: optuna.Study, objectives: list[str]) -> ParetoFront:
        points = []
        failed = []
        for t in study.trials:
            metrics = t.user_attrs.get("metrics")
            if t.state == optuna.trial.TrialState.COMPLETE and metrics:
                points.append(
                    ParetoPoint(
                        trial=t.number,
                        params=dict(t.params),
                        metrics=dict(metrics),
                        description=str(t.user_attrs.get("description", "")),
                        energy_source=str(t.user_attrs.get("energy_source", "unknown")),
                    )
                )
            elif t.state == optuna.trial.TrialState.FAIL:
                failed.append(f"trial {t.number}: {t.user_attrs.get('error', 'failed')}")
        objs = [Objective(OBJECTIVE_METRICS[o][0], OBJECTIVE_METRICS[o][1]) for o in objectives]
        if not points:
            budget = (
                f"time_budget={self.time_budget} s" if self.time_budget is not None else "budget"
            )
            why = f" Failed trials: {failed[:3]}" if failed else ""
            raise RuntimeError(
                f"No trial completed within {budget}: it was too small for a single trial "
                f"on this data (or every trial failed).{why}"
            )
        return ParetoFront.from_candidates(points, objs, max_score_drop=self.max_score_drop)

    def use_point(self, point: ParetoPoint, X: Any, y: Any) -> GreenAutoClassifier:
        """Switch to another point of the front: refit its pipeline on ``X, y`` and predict
        with it from now on.

        Parameters
        ----------
        point : ParetoPoint
            A point of ``pareto_front_``, e.g. ``pareto_front_.select(rule="knee")``.
        X, y : the data to refit on (same columns as in :meth:`fit`).

        Returns
        -------
        self : GreenAutoClassifier
        """
        check_is_fitted(self)
        if point not in self.pareto_front_:
            raise ValueError(f"Trial {point.trial} is not a point of this estimator's front.")
        Xf = self._encode(X)
        y_enc = self._label_encoder.transform(column_or_1d(y))
        config = config_from_params(
            dict(point.params), learners=self.learners, max_members=self.max_members
        )
        seed = 0 if self.random_state is None else int(self.random_state) % (2**31)
        self.model_ = fit_candidate(config, Xf, y_enc, random_state=seed, n_threads=self.n_jobs)
        self.best_point_ = point
        return self

    def export_report(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write the Pareto report of the search; the format follows the suffix.

        Parameters
        ----------
        path : str or path-like
            ``.html`` (one self-contained file), ``.json`` (versioned, units and sources),
            ``.csv`` (one row per trial) or ``.md``.
        title : str, optional
            Heading of the report.

        Returns
        -------
        path : pathlib.Path
            The file written. See :func:`greenauto.report.export_report`.
        """
        check_is_fitted(self)
        return _export_report(self, path, title=title)

    # ------------------------------------------------------------------ predict
    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels with the default pick, through the compiled kernels.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Same columns as in fit.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_.take(self.model_.predict_codes(self._encode(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Share of the ensemble's member votes per class (one member: its probabilities).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.model_.predict_proba(self._encode(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.energy_meter != "model"
        return tags

    # ------------------------------------------------------------------ helpers
    def _check_objectives(self) -> list[str]:
        objectives = list(self.objectives)
        unknown = [o for o in objectives if o not in OBJECTIVE_METRICS]
        if unknown:
            raise ValueError(
                f"Unknown objective(s) {unknown}; choose from {sorted(OBJECTIVE_METRICS)}."
            )
        if (
            "score" not in objectives
            or len(objectives) < 2
            or len(set(objectives)) != len(objectives)
        ):
            raise ValueError(
                "objectives must hold 'score' and at least one cost, each once; got "
                f"{tuple(objectives)}."
            )
        return ["score"] + [o for o in objectives if o != "score"]

    def _encode_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError(
                "GreenAutoClassifier requires y to be passed, but the target y is None."
            )
        self._encoder = TabularEncoder(handle_unknown=self.handle_unknown)
        Xf = self._encoder.fit_transform(X)
        self.n_features_in_ = self._encoder.n_features_in_
        self.n_samples_fit_ = Xf.shape[0]
        if hasattr(self._encoder, "feature_names_in_"):
            self.feature_names_in_ = self._encoder.feature_names_in_
        y_arr = column_or_1d(y, warn=True)
        check_consistent_length(Xf, y_arr)
        if _has_missing(y_arr):
            raise ValueError(
                f"y has {int(_missing_mask(y_arr).sum())} missing label(s); drop those rows."
            )
        check_classification_targets(y_arr)
        self._label_encoder = LabelEncoder().fit(y_arr)
        self.classes_ = self._label_encoder.classes_
        if self.classes_.size < 2:
            raise ValueError(
                f"y has 1 class ({_label(self.classes_[0])}); a classifier needs at least 2."
            )
        return Xf, self._label_encoder.transform(y_arr).astype(np.int64)

    def _encode(self, X: Any) -> np.ndarray:
        return self._encoder.transform(X)

    def _split(self, X: np.ndarray, y: np.ndarray, seed: int) -> SearchData:
        validation = self.validation
        if validation == "auto":
            validation = 3 if X.shape[0] < CV_BELOW_ROWS else "holdout"
        n_splits = 2 if validation == "holdout" else int(validation)
        counts = np.bincount(y)
        rare = np.flatnonzero(counts < n_splits)
        if rare.size == counts.size:
            raise ValueError(
                f"Too few rows to validate: every class has fewer than {n_splits} rows "
                f"(counts {counts.tolist()}); the {validation!r} split needs {n_splits} rows of "
                "at least one class."
            )
        if rare.size:
            names = ", ".join(_label(self.classes_[c]) for c in rare[:5])
            warnings.warn(
                f"Class(es) {names} have fewer than {n_splits} rows: they are used for "
                "training only, never for validation.",
                UserWarning,
                stacklevel=4,
            )
        always_train = np.flatnonzero(np.isin(y, rare))
        rows = np.flatnonzero(~np.isin(y, rare))
        if validation == "holdout":
            test_size = max(0.25, (counts.size - rare.size) / rows.size)
            train, val = train_test_split(
                rows, test_size=test_size, stratify=y[rows], random_state=seed
            )
            splits = [(train, val)]
        else:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            splits = [(rows[tr], rows[va]) for tr, va in cv.split(rows, y[rows])]
        folds = [(np.sort(np.concatenate([tr, always_train])), np.sort(va)) for tr, va in splits]
        ref = folds[0][1][:REFERENCE_ROWS]
        return SearchData(X, y, folds, np.ascontiguousarray(X[ref]), self.classes_.size)

    def _scorer(self):
        if callable(self.scoring):
            return self.scoring
        return check_scoring(None, scoring=self.scoring)

    def _make_meter(self) -> tuple[EnergyMeter, OperationCounter | None]:
        if isinstance(self.energy_meter, EnergyMeter):
            return self.energy_meter, None
        if self.energy_meter == "model":
            counter = OperationCounter()
            return OperationCountMeter(counter, MODEL_JOULES_PER_OP), counter
        if self.energy_meter == "rapl":
            return RaplMeter(), None
        if self.watts_per_cpu is not None:
            return CpuTimeMeter(Calibration.from_watts(self.watts_per_cpu)), None
        return default_meter(), None

    def _start_tracker(self) -> CodecarbonMeter | None:
        if self.country_iso_code is None:
            return None
        tracker = CodecarbonMeter(self.country_iso_code, self.region)
        tracker.start()
        return tracker


def _spent_reader(meter: EnergyMeter, counter: OperationCounter | None):
    """Joules the search has spent so far, as the trial meter would report them."""
    if counter is not None:
        start = counter.count
        jpo = meter.joules_per_operation  # type: ignore[attr-defined]
        return lambda: (counter.count - start) * jpo
    if isinstance(meter, CpuTimeMeter):
        t0 = time.process_time()
        watts = meter.calibration.watts_per_cpu_second
        return lambda: (time.process_time() - t0) * watts
    t0 = time.process_time()
    return lambda: (time.process_time() - t0) * default_meter().calibration.watts_per_cpu_second


def _label(value: Any) -> str:
    """A class label as users wrote it (numpy scalars unwrapped)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _missing_mask(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype == object:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in y])
    return np.zeros(y.shape, dtype=bool)


def _has_missing(y: np.ndarray) -> bool:
    return bool(_missing_mask(y).any())
