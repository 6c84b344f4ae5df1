"""Hard limits on a candidate's costs, as Optuna constraints: a candidate above any limit is
never on the front and never the pick, and the sampler learns to avoid the region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenauto.metrics import objective_metric

__all__ = ["Limits"]

#: The limit's parameter name -> the objective whose metric it bounds.
_BOUNDS = (
    ("max_inference_energy", "inference_energy"),
    ("max_latency", "latency"),
    ("max_model_bytes", "model_size"),
)


@dataclass(frozen=True)
class Limits:
    """Hard limits on a candidate's measured costs (None: no limit).

    Parameters
    ----------
    max_inference_energy : float, optional
        J per 1,000 predictions.
    max_latency : float, optional
        Seconds per row.
    max_model_bytes : float, optional
        Bytes of the compiled model.

    Examples
    --------
    >>> limits = Limits(max_model_bytes=1000)
    >>> limits.violations({"model_bytes": 1500.0}), limits.allows({"model_bytes": 800.0})
    ([500.0], True)
    >>> limits.as_constraints({"model_bytes": 1500.0})
    {'model_bytes': 500.0}
    """

    max_inference_energy: float | None = None
    max_latency: float | None = None
    max_model_bytes: float | None = None

    @classmethod
    def of(cls, constraints: Mapping[str, float] | None) -> Limits:
        """Limits from a ``{"max_latency": 1e-5, ...}`` mapping (None: no limit).

        Raises
        ------
        ValueError
            For an unknown key or a limit that is not a number > 0, naming it.
        """
        constraints = dict(constraints or {})
        names = [name for name, _ in _BOUNDS]
        for key, value in constraints.items():
            if key not in names:
                raise ValueError(f"Unknown constraint {key!r}; choose from {names}.")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Constraint {key!r} must be a number > 0; got {value!r}.")
        return cls(**constraints)

    def bounds(self) -> list[tuple[str, float]]:
        """``(metric, limit)`` of every limit set."""
        out = []
        for field, objective in _BOUNDS:
            limit = getattr(self, field)
            if limit is not None:
                out.append((objective_metric(objective).name, float(limit)))
        return out

    def violations(self, metrics: Mapping[str, float]) -> list[float]:
        """``metric - limit`` for every limit (> 0: violated; a missing metric violates)."""
        return [
            float(metrics[name]) - limit if name in metrics else 1.0
            for name, limit in self.bounds()
        ]

    def allows(self, metrics: Mapping[str, float]) -> bool:
        """Whether a candidate with these metrics meets every limit."""
        return all(v <= 0.0 for v in self.violations(metrics))

    def as_constraints(self, metrics: Mapping[str, float]) -> dict[str, float] | None:
        """The violations as Optuna constraint values by metric name (what
        ``Trial.set_constraint`` records and the samplers read), or None without limits."""
        if not self.bounds():
            return None
        names = [name for name, _ in self.bounds()]
        return dict(zip(names, self.violations(metrics), strict=True))

    def describe(self) -> str:
        """The limits in words (empty without limits)."""
        return ", ".join(f"{name} <= {limit:g}" for name, limit in self.bounds())
