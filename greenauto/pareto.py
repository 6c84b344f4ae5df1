"""Pareto fronts of candidate models: score against energy (or any objectives), with rules to
pick one point and a versioned JSON form.

The dominance logic is plain numpy on arrays in which every objective has first been turned
into "minimise" (as in Optuna's ``study/_multi_objective.py``); `ParetoFront` is a thin,
immutable sequence of `ParetoPoint` on top.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from greenauto._schema import check_schema
from greenauto.metrics import CONFIRMED_SCORE, METRICS

__all__ = [
    "Objective",
    "ParetoFront",
    "ParetoPoint",
    "hypervolume_2d",
    "non_dominated_mask",
    "register_report_writer",
]

SCHEMA = "greenauto.ParetoFront"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Objective:
    """One objective of the search: a metric name and whether it is maximised.

    Examples
    --------
    >>> Objective("score", maximize=True).sign
    -1.0
    """

    metric: str
    maximize: bool = False

    @property
    def sign(self) -> float:
        """Factor turning the metric into a quantity to minimise."""
        return -1.0 if self.maximize else 1.0


@dataclass(frozen=True)
class ParetoPoint:
    """One candidate model: its parameters, its measured metrics and how energy was measured.

    Parameters
    ----------
    trial : int
        Number of the Optuna trial that produced it.
    params : mapping
        The trial's parameters (plain JSON-able values).
    metrics : mapping of str to float
        Validation score and costs, named with their unit (see ``greenauto.metrics.METRICS``).
    description : str
        Human-readable pipeline, e.g. ``"LightGBM(40 trees) + CategoricalNB on 12 of 57
        columns, 16 bins"``.
    energy_source : str
        How the energy figures were obtained (e.g. ``"codecarbon TDP estimate cpu-time"``).
    config : object, optional
        The search's configuration of this candidate (``greenauto.search.PipelineConfig``);
        None for a point read back from JSON. Not part of equality or of the JSON form. Its
        protocol here: ``config.to_sklearn(X, y, *, random_state)`` returns the candidate
        fitted on ``X, y`` as a plain scikit-learn ``Pipeline`` (see :meth:`to_sklearn`).
    """

    trial: int
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    description: str = ""
    energy_source: str = "unknown"
    config: Any = field(default=None, compare=False, repr=False)

    def __getitem__(self, metric: str) -> float:
        return float(self.metrics[metric])

    def to_sklearn(self, X: Any, y: Any, *, random_state: int = 0) -> Any:
        """This candidate fitted on ``X, y``, as a scikit-learn ``Pipeline`` that needs no
        greenauto import (delegated to ``config.to_sklearn``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training data, as given to ``GreenAutoClassifier.fit``.
        y : array-like of shape (n_samples,)
            Labels.
        random_state : int, default=0
            Seed of the candidate's fit.

        Returns
        -------
        pipeline : sklearn.pipeline.Pipeline
            Predicts what greenauto's compiled model of the same fit predicts.
        """
        if self.config is None or not hasattr(self.config, "to_sklearn"):
            raise ValueError(
                f"Point of trial {self.trial} carries no pipeline configuration (a point read "
                "back from JSON): take it from the estimator's pareto_front_."
            )
        return self.config.to_sklearn(X, y, random_state=random_state)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-able; non-finite numbers become strings)."""
        return {
            "trial": self.trial,
            "params": dict(self.params),
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "description": self.description,
            "energy_source": self.energy_source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoPoint:
        """Inverse of :meth:`to_dict`."""
        return cls(
            trial=int(data["trial"]),
            params=dict(data["params"]),
            metrics={k: _from_json_number(v) for k, v in data["metrics"].items()},
            description=str(data.get("description", "")),
            energy_source=str(data.get("energy_source", "unknown")),
        )


def _json_number(v: float) -> float | str:
    v = float(v)
    return v if math.isfinite(v) else repr(v)  # 'nan', 'inf', '-inf'


def _from_json_number(v: float | str) -> float:
    return float(v)


def non_dominated_mask(values: np.ndarray) -> np.ndarray:
    """Which rows are not dominated, all objectives minimised.

    Row ``a`` dominates row ``b`` when it is no worse in every column and better in one.
    Duplicated rows do not dominate each other: all copies stay.

    Parameters
    ----------
    values : ndarray of shape (n_points, n_objectives)
        Objective values to minimise; rows containing NaN are never on the front.

    Returns
    -------
    mask : ndarray of shape (n_points,), dtype=bool

    Examples
    --------
    >>> non_dominated_mask(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0]])).tolist()
    [True, True, False]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D (points x objectives); got shape {values.shape}.")
    valid = ~np.isnan(values).any(axis=1)
    mask = valid.copy()
    for i in np.flatnonzero(valid):
        others = values[valid]
        no_worse = (others <= values[i]).all(axis=1)
        better = (others < values[i]).any(axis=1)
        mask[i] = not (no_worse & better).any()
    return mask


def hypervolume_2d(values: np.ndarray, reference: Sequence[float]) -> float:
    """Area dominated by 2-D points (both minimised) and bounded by ``reference``.

    Examples
    --------
    >>> hypervolume_2d(np.array([[1.0, 2.0], [2.0, 1.0]]), reference=(3.0, 3.0))
    3.0
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 2:
        raise ValueError(f"hypervolume_2d takes shape (n, 2); got {values.shape}.")
    ref = np.asarray(reference, dtype=np.float64)
    inside = values[(values < ref).all(axis=1)]
    if inside.size == 0:
        return 0.0
    inside = inside[np.lexsort((inside[:, 1], inside[:, 0]))]
    area, best_y = 0.0, ref[1]
    for x, y in inside:
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(area)


@dataclass(frozen=True)
class ParetoFront(Sequence[ParetoPoint]):
    """The non-dominated candidates of a search, ordered by increasing energy.

    Parameters
    ----------
    points : sequence of ParetoPoint
        The front's points (use :meth:`from_candidates` to filter dominated ones out).
    objectives : sequence of Objective
        What the search optimised; the first maximised objective is the score and the first
        minimised one the energy used by :meth:`select`.
    max_score_drop : float, default=0.005
        Tolerance of the default pick (see :attr:`default`).

    Examples
    --------
    >>> objs = [Objective("score", maximize=True), Objective("inference_energy_j_per_1k")]
    >>> cands = [ParetoPoint(0, {}, {"score": 0.90, "inference_energy_j_per_1k": 5.0}),
    ...          ParetoPoint(1, {}, {"score": 0.895, "inference_energy_j_per_1k": 0.5}),
    ...          ParetoPoint(2, {}, {"score": 0.80, "inference_energy_j_per_1k": 0.6})]
    >>> front = ParetoFront.from_candidates(cands, objs)
    >>> [p.trial for p in front], front.default.trial
    ([1, 0], 1)
    """

    points: tuple[ParetoPoint, ...]
    objectives: tuple[Objective, ...]
    max_score_drop: float = 0.005

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(self.points))
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if not any(o.maximize for o in self.objectives):
            raise ValueError("ParetoFront needs a maximised objective (the score).")
        if all(o.maximize for o in self.objectives):
            raise ValueError("ParetoFront needs a minimised objective (an energy or a cost).")
        if self.max_score_drop < 0:
            raise ValueError(f"max_score_drop must be >= 0; got {self.max_score_drop}.")
        energy = self.energy_metric
        ordered = sorted(self.points, key=lambda p: (p[energy], -p[self.score_metric], p.trial))
        object.__setattr__(self, "points", tuple(ordered))

    @classmethod
    def from_candidates(
        cls,
        candidates: Iterable[ParetoPoint],
        objectives: Sequence[Objective],
        max_score_drop: float = 0.005,
    ) -> ParetoFront:
        """Keep the non-dominated candidates under ``objectives``."""
        cands = list(candidates)
        if not cands:
            return cls((), tuple(objectives), max_score_drop)
        values = np.array([[o.sign * p[o.metric] for o in objectives] for p in cands])
        keep = non_dominated_mask(values)
        return cls(
            tuple(p for p, k in zip(cands, keep, strict=True) if k),
            tuple(objectives),
            max_score_drop,
        )

    # ----------------------------------------------------------------- sequence protocol
    def __len__(self) -> int:
        return len(self.points)

    @overload
    def __getitem__(self, i: int) -> ParetoPoint: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[ParetoPoint, ...]: ...
    def __getitem__(self, i: int | slice) -> ParetoPoint | tuple[ParetoPoint, ...]:
        return self.points[i]

    def __iter__(self) -> Iterator[ParetoPoint]:
        return iter(self.points)

    # ----------------------------------------------------------------- choosing a point
    @property
    def score_metric(self) -> str:
        """Name of the score (the first maximised objective)."""
        return next(o.metric for o in self.objectives if o.maximize)

    @property
    def energy_metric(self) -> str:
        """Name of the energy/cost used by :meth:`select` (the first minimised objective)."""
        return next(o.metric for o in self.objectives if not o.maximize)

    @property
    def best(self) -> ParetoPoint:
        """The most accurate point (ties: the cheaper one)."""
        self._require_points()
        return max(self.points, key=lambda p: (p[self.score_metric], -p[self.energy_metric]))

    @property
    def default(self) -> ParetoPoint:
        """The default pick: the lowest-energy point whose score is within ``max_score_drop``
        of the best score.

        When points carry a ``"confirmed_score"`` (the search re-scored the points near the
        best by cross-validation), the rule runs on those points and that score instead.
        """
        confirmed = [p for p in self.points if CONFIRMED_SCORE in p.metrics]
        if len(confirmed) < 2:
            return self.select(max_score_drop=self.max_score_drop)
        top = max(p[CONFIRMED_SCORE] for p in confirmed)
        floor = top - self.max_score_drop - 1e-12
        kept = [p for p in confirmed if p[CONFIRMED_SCORE] >= floor]
        return min(kept, key=lambda p: (p[self.energy_metric], -p[CONFIRMED_SCORE]))

    def select(
        self,
        *,
        max_score_drop: float | None = None,
        energy_budget: float | None = None,
        rule: str = "cheapest",
    ) -> ParetoPoint:
        """Pick one point.

        Parameters
        ----------
        max_score_drop : float, optional
            Keep points scoring at least ``best score - max_score_drop`` (absolute: 0.01 is
            one percentage point of accuracy).
        energy_budget : float, optional
            Keep points whose energy metric is at most this (same unit as the metric).
        rule : {"cheapest", "best", "knee"}, default="cheapest"
            Among the kept points: the lowest energy, the highest score, or the knee (the
            point farthest from the line through the two ends of the front, with energy on a
            log scale when positive and both axes scaled to [0, 1]).

        Returns
        -------
        point : ParetoPoint

        Raises
        ------
        ValueError
            If the front is empty, no point meets the constraints, or ``rule`` is unknown.
        """
        self._require_points()
        if rule not in {"cheapest", "best", "knee"}:
            raise ValueError(f"rule must be 'cheapest', 'best' or 'knee'; got {rule!r}.")
        s, e = self.score_metric, self.energy_metric
        kept = list(self.points)
        if max_score_drop is not None:
            if max_score_drop < 0:
                raise ValueError(f"max_score_drop must be >= 0; got {max_score_drop}.")
            floor = self.best[s] - max_score_drop - 1e-12
            kept = [p for p in kept if p[s] >= floor]
        if energy_budget is not None:
            kept = [p for p in kept if p[e] <= energy_budget]
            if not kept:
                cheapest = min(p[e] for p in self.points)
                raise ValueError(
                    f"No point of the front has {e} <= {energy_budget:g}; the cheapest "
                    f"needs {cheapest:g}."
                )
        if rule == "best":
            return max(kept, key=lambda p: (p[s], -p[e]))
        if rule == "knee":
            return _knee(kept, s, e)
        return min(kept, key=lambda p: (p[e], -p[s]))

    def hypervolume(self, reference: Sequence[float] | None = None) -> float:
        """Hypervolume of (score, energy), score as ``1 - score``; default reference: (1, the
        largest energy on the front x 1.1)."""
        self._require_points()
        s, e = self.score_metric, self.energy_metric
        vals = np.array([[1.0 - p[s], p[e]] for p in self.points])
        ref = reference if reference is not None else (1.0, float(vals[:, 1].max()) * 1.1)
        return hypervolume_2d(vals, ref)

    def _require_points(self) -> None:
        if not self.points:
            raise ValueError("The Pareto front is empty: no trial completed.")

    def export_report(self, path: Any, *, study: Any = None, title: str | None = None) -> Any:
        """Write this front's report (deprecated: use ``greenauto.export_report(front, path)``).

        .. deprecated:: 0.1
            ``report`` builds on ``pareto``, so the front does not write reports itself; this
            method will be removed in 0.2.
        """
        warnings.warn(
            "ParetoFront.export_report is deprecated and will be removed in greenauto 0.2; "
            "use greenauto.export_report(front, path) instead.",
            FutureWarning,
            stacklevel=2,
        )
        if _report_writer is None:
            raise RuntimeError("No report writer is registered: import greenauto.report.")
        return _report_writer(self, path, study=study, title=title)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Versioned plain-dict form; see :meth:`to_json`."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "objectives": [{"metric": o.metric, "maximize": o.maximize} for o in self.objectives],
            "max_score_drop": self.max_score_drop,
            "units": {name: m.unit for name, m in METRICS.items()},
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoFront:
        """Inverse of :meth:`to_dict`; refuses other schemas and newer versions."""
        check_schema(data, SCHEMA, SCHEMA_VERSION, "Pareto front")
        return cls(
            tuple(ParetoPoint.from_dict(p) for p in data["points"]),
            tuple(Objective(o["metric"], bool(o["maximize"])) for o in data["objectives"]),
            float(data.get("max_score_drop", 0.005)),
        )

    def to_json(self, **kwargs: Any) -> str:
        """JSON text; ``ParetoFront.from_json(front.to_json()) == front``."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> ParetoFront:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


#: Writes a front's report; registered by ``greenauto.report`` (which builds on this module).
_report_writer: Callable[..., Any] | None = None


def register_report_writer(writer: Callable[..., Any]) -> None:
    """Register the function behind the deprecated :meth:`ParetoFront.export_report`.

    ``greenauto.report`` registers its ``export_report`` when it is imported, so that this
    low-level module never imports the report layer.
    """
    global _report_writer
    _report_writer = writer


def _knee(points: list[ParetoPoint], s: str, e: str) -> ParetoPoint:
    if len(points) <= 2:
        return min(points, key=lambda p: (p[e], -p[s]))
    xy = np.array([[p[e], p[s]] for p in points])
    if (xy[:, 0] > 0).all():  # energies span orders of magnitude: find the knee in log scale
        xy[:, 0] = np.log10(xy[:, 0])
    span = xy.max(axis=0) - xy.min(axis=0)
    span[span == 0] = 1.0
    z = (xy - xy.min(axis=0)) / span
    a, b = z[np.argmin(z[:, 0])], z[np.argmax(z[:, 0])]
    d = b - a
    norm = np.hypot(*d) or 1.0
    dist = np.abs(d[0] * (z[:, 1] - a[1]) - d[1] * (z[:, 0] - a[0])) / norm
    return points[int(np.argmax(dist))]
