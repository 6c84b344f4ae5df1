"""What a fitted search estimator does with its result: predict, switch points, report, export.

`FittedSearchMixin` holds what ``GreenAutoClassifier`` does once fitted: it encodes the user's
rows with the fitted ``_encoder`` and predicts through one compiled model (``_compiled``),
which is also what it pickles, saves and exports; it refits another point of the front and
writes the search's report. Configuring and running the search lives in ``automl.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

import numpy as np
from sklearn.utils.validation import check_is_fitted, column_or_1d

from greenauto.compiled import CompiledPipeline
from greenauto.pareto import ParetoPoint
from greenauto.report import export_report as _export_report
from greenauto.search import fit_candidate

__all__ = ["FittedSearchMixin"]


class FittedSearchMixin:
    """Predict, export and pickle through a compiled model; switch points; write reports.

    The estimator using it sets ``_encoder`` (a fitted ``TabularEncoder``),
    ``_label_encoder``, ``model_`` (the search's fitted pick), ``best_point_``,
    ``pareto_front_``, ``search_result_``, ``classes_`` and, through `_compile_pick`,
    ``_compiled``; and has ``_settings()`` and ``n_jobs``.
    """

    def use_point(self, point: ParetoPoint, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """Switch to another point of the front: refit its pipeline on ``X, y`` and predict
        with it from now on.

        Parameters
        ----------
        point : ParetoPoint
            A point of ``pareto_front_``, e.g. ``pareto_front_.select(rule="knee")``.
        X, y : the data to refit on (same columns as in :meth:`fit`).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights for the refit.

        Returns
        -------
        self : estimator
        """
        check_is_fitted(self)
        if point not in self.pareto_front_:
            raise ValueError(f"Trial {point.trial} is not a point of this estimator's front.")
        config = self.pareto_front_[self.pareto_front_.points.index(point)].config
        Xf = self._encode(X)
        y_enc = self._label_encoder.transform(column_or_1d(y))
        seed = self._settings().seed
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.model_ = fit_candidate(
            config, Xf, y_enc, random_state=seed, n_threads=self.n_jobs, sample_weight=w
        )
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
        return self._predicting().predict(self._compiled_input(X))

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
        return self._predicting().predict_proba(self._compiled_input(X))

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

    def _encode(self, X: Any) -> np.ndarray:
        return self._encoder.transform(X)

    def _predicting(self) -> CompiledPipeline:
        """The compiled model predict calls; NotFittedError before fit. One attribute read
        (check_is_fitted scans the estimator: about 6 us, five times a one-row prediction)."""
        compiled = self.__dict__.get("_compiled")
        return compiled if compiled is not None else self.compiled_model()

    def _compiled_input(self, X: Any) -> Any:
        """X as the compiled model takes it. A numeric array of the training width goes as it
        is when every training column is numeric (it is its own encoding: float32 and float64
        are read in place); anything else is encoded first, every column checked against fit
        (names, categories), as ``transform`` does (without scikit-learn's output wrapping)."""
        encoder = self._encoder
        if (
            isinstance(X, np.ndarray)
            and X.dtype.kind in "f"
            and X.ndim == 2
            and X.shape[1] == encoder.n_features_in_
            and not encoder.categories_
        ):
            return X
        return encoder.encode(X)
