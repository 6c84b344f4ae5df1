"""GreenAutoClassifier: the multi-objective search as a scikit-learn classifier.

Thin: it validates and encodes the data, hands the search its settings
(`greenauto.search.run_search`), keeps the typed `SearchResult` it returns, and predicts with
the refitted pick through the compiled kernels.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._metadata_requests import _routing_enabled
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from greenauto.compiled import CompiledPipeline
from greenauto.energy import METER_KINDS, EnergyMeter
from greenauto.pareto import ParetoPoint
from greenauto.preprocessing import TabularEncoder, encode_labels
from greenauto.report import export_report as _export_report
from greenauto.results import SearchCallback
from greenauto.search import (
    Limits,
    SearchOutcome,
    SearchSettings,
    fit_candidate,
    is_splitter,
    run_search,
)

__all__ = ["GreenAutoClassifier"]

#: The default pick may score this much below the best point (half a point of accuracy).
DEFAULT_MAX_SCORE_DROP = 0.005


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
        Joules the search's trials may spend (every worker's), as their meters measure them.
    n_iter_no_change : int or None, default=15
        Stop early when neither the best score nor the default pick's energy has improved
        for this many trials (the front stopped improving where it matters); ``None``: run
        until a budget is spent. The report says how much energy the early stop saved.
    constraints : dict or None, default=None
        Hard limits no candidate may pass (Optuna constraints): ``"max_inference_energy"``
        (J per 1,000 predictions), ``"max_latency"`` (s per row), ``"max_model_bytes"``.
        A candidate above one is never on the front nor the pick.
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
    validation : "auto", "holdout", int or CV splitter, default="auto"
        ``"holdout"``: 25 % stratified validation split; an int k: stratified k-fold;
        ``"auto"``: 3-fold below 1,000 rows, holdout above; or any scikit-learn splitter
        (``GroupKFold(5)``, ``TimeSeriesSplit()``...), with ``groups`` given to ``fit``.
    sampler : {"tpe", "nsga2", "random"} or optuna sampler, default="tpe"
    storage : str, optuna storage or None, default=None
        A URL (``"sqlite:///s.db"``, ``"postgresql://..."``), a journal file path or an Optuna
        storage; with ``study_name`` a later ``fit`` resumes the study, and ``greenauto
        worker`` processes on any machine can join it.
    study_name : str or None, default=None
    n_workers : int, default=1
        Processes running trials in parallel (one thread each, each measuring its own
        energy); budgets hold for all together. Only this process refits.
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
    callbacks : list of callables or None, default=None
        Each is called after every finished trial as ``callback(record, progress)``, with the
        trial's `greenauto.results.TrialRecord` and the search's
        `greenauto.results.SearchProgress` (trials so far, best score, front size, joules
        spent). A callback may stop the search by raising an exception.
    random_state : int or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    search_result_ : SearchResult
        Everything the search found, typed: the front, every trial's record, the totals
        (energy, CO2, why it stopped) and the data's shape; the reports are written from it.
    pareto_front_ : ParetoFront
        Non-dominated candidates (score and every measured cost), with their descriptions.
    best_point_ : ParetoPoint
        The default pick, refitted on all the data.
    study_ : optuna.Study
        The study, every trial's parameters and metrics in ``user_attrs``.
    model_ : Candidate or None
        The refitted default pick: its pipeline and compiled model. None after unpickling: a
        pickle keeps :meth:`compiled_model`'s arrays only, never the library objects.
    search_energy_ : Measurement
        Energy of the search (all trials and the refit) by the trial meter, with its source.
    search_emissions_ : SearchEmissions or None
        codecarbon's totals and CO2 when ``country_iso_code`` was given.
    search_seconds_ : float
        Wall time of the fit.
    classes_ : ndarray
    n_features_in_ : int
    n_samples_fit_ : int
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
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "constraints": [dict, None],
        "objectives": [tuple, list],
        "expected_predictions": [Interval(Integral, 0, None, closed="left")],
        "scoring": [str, callable],
        "max_score_drop": [Interval(Real, 0, 1, closed="both")],
        "learners": [list, tuple, None],
        "max_members": [Interval(Integral, 1, 3, closed="both")],
        "validation": [
            StrOptions({"auto", "holdout"}),
            Interval(Integral, 2, None, closed="left"),
            HasMethods(["split", "get_n_splits"]),
        ],
        "sampler": [StrOptions({"tpe", "nsga2", "random"}), optuna.samplers.BaseSampler],
        "storage": [str, optuna.storages.BaseStorage, None],
        "study_name": [str, None],
        "n_workers": [Interval(Integral, 1, None, closed="left")],
        "energy_meter": [StrOptions(set(METER_KINDS)), EnergyMeter],
        "watts_per_cpu": [Interval(Real, 0, None, closed="neither"), None],
        "country_iso_code": [str, None],
        "region": [str, None],
        "handle_unknown": [StrOptions({"error", "missing"})],
        "n_jobs": [Integral, None],
        "callbacks": [list, tuple, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        time_budget: float | None = 60.0,
        *,
        n_trials: int | None = None,
        energy_budget: float | None = None,
        n_iter_no_change: int | None = 15,
        constraints: dict[str, float] | None = None,
        objectives: tuple[str, ...] = ("score", "inference_energy"),
        expected_predictions: int = 1_000_000,
        scoring: str | Any = "accuracy",
        max_score_drop: float = DEFAULT_MAX_SCORE_DROP,
        learners: list[str] | None = None,
        max_members: int = 3,
        validation: str | int = "auto",
        sampler: str | optuna.samplers.BaseSampler = "tpe",
        storage: str | optuna.storages.BaseStorage | None = None,
        study_name: str | None = None,
        n_workers: int = 1,
        energy_meter: str | EnergyMeter = "cpu-time",
        watts_per_cpu: float | None = None,
        country_iso_code: str | None = None,
        region: str | None = None,
        handle_unknown: str = "error",
        n_jobs: int | None = None,
        callbacks: list[SearchCallback] | None = None,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.energy_budget = energy_budget
        self.n_iter_no_change = n_iter_no_change
        self.constraints = constraints
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
        self.n_workers = n_workers
        self.energy_meter = energy_meter
        self.watts_per_cpu = watts_per_cpu
        self.country_iso_code = country_iso_code
        self.region = region
        self.handle_unknown = handle_unknown
        self.n_jobs = n_jobs
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    # members are built from search parameters: let them validate their own
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any, **params: Any) -> GreenAutoClassifier:
        """Search, build the Pareto front, refit the default pick on all the data.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean, text or categorical columns; NaN allowed.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        **params : dict
            ``groups`` for a ``validation`` splitter that needs them (e.g. ``GroupKFold``);
            with metadata routing enabled, whatever the splitter requests.

        Returns
        -------
        self : GreenAutoClassifier
        """
        settings = self._settings()
        split_params = self._split_params(params)
        Xf, y_enc = self._encode_training_data(X, y)
        names = getattr(self, "feature_names_in_", None)
        # raw/encode: inference energy is measured from the user's rows, as predict runs
        encode = self._encoder.transform
        outcome = run_search(Xf, y_enc, settings, labels=self.classes_, feature_names=names,
                             split_params=split_params, raw=X, encode=encode)  # fmt: skip
        self._keep(outcome)
        return self

    def _split_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """What the validation splitter's ``split`` gets (``groups``), routed the
        scikit-learn way."""
        if _routing_enabled():
            return dict(process_routing(self, "fit", **params).splitter.split)
        unknown = sorted(set(params) - {"groups"})
        if unknown:
            raise TypeError(f"GreenAutoClassifier.fit got unexpected arguments {unknown}.")
        return {} if params.get("groups") is None else {"groups": params["groups"]}

    def get_metadata_routing(self) -> MetadataRouter:
        """Metadata routing: ``fit``'s ``groups`` go to the ``validation`` splitter's
        ``split`` (see scikit-learn's metadata routing guide).

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=self)
        if is_splitter(self.validation):
            router.add(
                splitter=self.validation,
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        return router

    def _settings(self) -> SearchSettings:
        """The search's settings: this estimator's parameters (all but ``handle_unknown``)."""
        params = self.get_params(deep=False)
        del params["handle_unknown"]
        params["objectives"] = tuple(self.objectives)
        params["learners"] = None if self.learners is None else tuple(self.learners)
        params["callbacks"] = tuple(self.callbacks or ())
        params["limits"] = Limits.of(params.pop("constraints"))
        return SearchSettings(**params)

    def _keep(self, outcome: SearchOutcome) -> None:
        """Keep what the search returned, in one place."""
        self.search_result_ = outcome.result
        self.pareto_front_ = outcome.result.front
        self.best_point_ = outcome.result.front.default
        self.model_ = outcome.model
        self._compiled = self._compile_pick()
        self.study_ = outcome.study
        self.search_energy_ = outcome.energy
        self.search_emissions_ = outcome.emissions
        self.search_seconds_ = outcome.result.totals.wall_seconds

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
        config = self.pareto_front_[self.pareto_front_.points.index(point)].config
        Xf = self._encode(X)
        y_enc = self._label_encoder.transform(column_or_1d(y))
        seed = self._settings().seed
        self.model_ = fit_candidate(config, Xf, y_enc, random_state=seed, n_threads=self.n_jobs)
        self.best_point_ = point
        self._compiled = self._compile_pick()
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
        return _export_report(self.search_result_, path, title=title)

    # ------------------------------------------------------------------ predict
    def compiled_model(self) -> CompiledPipeline:
        """The pick as one compiled model: what :meth:`predict` runs and ``save_model`` saves.

        Its arrays carry the class labels, the training-column schema (names, categories) and
        the pick's Pareto-point metrics with their energy source.

        Returns
        -------
        model : CompiledPipeline
        """
        check_is_fitted(self)
        return self._compiled

    def _compile_pick(self) -> CompiledPipeline:
        point = self.best_point_
        return self.model_.compiled.with_metadata(
            labels=self.classes_,
            encoder=self._encoder,
            metrics={**point.metrics, "trial": point.trial, "description": point.description},
            energy_source=point.energy_source,
        )

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
        compiled = self.compiled_model()
        return compiled.predict(self._encode(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the pick, from the same kernel call as :meth:`predict`.

        One member: its own probabilities (a forest's mean of leaf distributions, LightGBM's
        sigmoid or softmax, NB posteriors, KNN neighbour shares); a soft vote: their average;
        a hard vote: vote shares refined by the members' probabilities (see
        :class:`~greenauto.ensemble.MajorityVoteClassifier`). ``classes_[argmax]`` equals
        :meth:`predict`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        compiled = self.compiled_model()
        return compiled.predict_proba(self._encode(X))

    def to_sklearn(self) -> Any:
        """The pick as a fitted scikit-learn ``Pipeline`` that needs no greenauto import.

        Categorical columns are encoded by an ``OrdinalEncoder`` with the training categories;
        see :meth:`CompiledPipeline.to_sklearn` for what can be exported.

        Returns
        -------
        pipeline : sklearn.pipeline.Pipeline
        """
        return self.compiled_model().to_sklearn()

    def to_onnx(self) -> Any:
        """The pick as an ONNX model (extra ``greenauto[onnx]``); input: the encoded numeric
        columns as double. See :meth:`CompiledPipeline.to_onnx`.

        Returns
        -------
        model : onnx.ModelProto
        """
        return self.compiled_model().to_onnx()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the compiled model's arrays, not the fitted library objects behind them."""
        state = super().__getstate__()
        if "model_" in state:
            state["model_"] = None  # the search's Candidate: Binner, the vote's members
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.energy_meter != "model"
        return tags

    # ------------------------------------------------------------------ helpers
    def _encode_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        self._encoder = TabularEncoder(handle_unknown=self.handle_unknown)
        Xf = self._encoder.fit_transform(X)
        self.n_features_in_ = self._encoder.n_features_in_
        self.n_samples_fit_ = Xf.shape[0]
        if hasattr(self._encoder, "feature_names_in_"):
            self.feature_names_in_ = self._encoder.feature_names_in_
        if y is not None:
            check_consistent_length(Xf, column_or_1d(y))
        self._label_encoder = encode_labels(y)
        self.classes_ = self._label_encoder.classes_
        return Xf, self._label_encoder.transform(column_or_1d(y)).astype(np.int64)

    def _encode(self, X: Any) -> np.ndarray:
        return self._encoder.transform(X)
