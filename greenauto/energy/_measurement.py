"""The records every energy figure travels in: `EnergySource`, `Measurement`, `Calibration`.

Every joule figure greenauto prints or exports is attached to the way it was obtained (its
`EnergySource`), so that an estimate is never shown as a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

__all__ = ["Calibration", "EnergySource", "Measurement"]


class EnergySource(str, Enum):
    """How a joule figure was obtained.

    Each value is the label shown next to the figure. `kind` says whether the figure is a
    hardware measurement, an estimate or a model.
    """

    RAPL = "rapl"
    """Package energy counters read directly (whole CPU package, every process on it)."""
    RAPL_CALIBRATED_CPU_TIME = "rapl-calibrated cpu-time"
    """Process CPU time x watts per CPU-second calibrated from RAPL at start."""
    CODECARBON_TDP_CPU_TIME = "codecarbon TDP estimate cpu-time"
    """Process CPU time x codecarbon's TDP-table power for this CPU, per thread."""
    USER_WATTS_CPU_TIME = "user-given watts cpu-time"
    """Process CPU time x a watts-per-CPU-second figure given by the user."""
    CODECARBON_TRACKER = "codecarbon tracker estimate"
    """codecarbon's own tracker: its CPU figure (RAPL, or CPU load x TDP) plus a RAM term."""
    OPERATION_COUNT_MODEL = "operation-count model"
    """Counted operations x joules per operation: deterministic, a model, not a measurement."""

    @property
    def kind(self) -> str:
        """``"measured"``, ``"estimated"`` or ``"modelled"``."""
        if self is EnergySource.RAPL:
            return "measured"
        if self is EnergySource.OPERATION_COUNT_MODEL:
            return "modelled"
        return "estimated"

    def __str__(self) -> str:
        return self.value


def _check_finite_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Measurement.{name} must be finite and >= 0. Got {value!r} instead.")


@dataclass(frozen=True)
class Measurement:
    """Energy and time of one call of a function, with the source of the energy figure.

    When a function was run several times (see `measure_predict`), the figures are medians
    per call and `calls` says how many timed calls they come from.

    Parameters
    ----------
    joules : float
        Energy of one call, in joules.
    cpu_seconds : float
        CPU time of one call (all threads of this process), in seconds.
    wall_seconds : float
        Wall-clock time of one call, in seconds.
    calls : int
        Number of timed calls the figures were taken from (warm-up calls excluded).
    source : EnergySource
        How `joules` was obtained.
    rows : int or None, default=None
        Rows processed by one call (prediction), when it applies.
    detail : str, default=""
        Free text: calibration used, counter domains, thread count, ...

    Examples
    --------
    >>> from greenauto.energy import EnergySource, Measurement
    >>> m = Measurement(joules=0.4, cpu_seconds=0.1, wall_seconds=0.1, calls=1,
    ...                 source=EnergySource.USER_WATTS_CPU_TIME)
    >>> print(m)
    0.4 J per call (estimated, user-given watts cpu-time), 0.1 CPU-s, 0.1 s wall, 1 call
    >>> Measurement(0.4, 0.1, 0.1, 1, EnergySource.RAPL, rows=2000).joules_per_1k_rows
    0.2
    """

    joules: float
    cpu_seconds: float
    wall_seconds: float
    calls: int
    source: EnergySource
    rows: int | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", EnergySource(self.source))
        for name in ("joules", "cpu_seconds", "wall_seconds"):
            _check_finite_non_negative(name, getattr(self, name))
        if self.calls < 1:
            raise ValueError(f"Measurement.calls must be >= 1. Got {self.calls!r} instead.")
        if self.rows is not None and self.rows < 1:
            raise ValueError(f"Measurement.rows must be >= 1 or None. Got {self.rows!r} instead.")

    @property
    def kind(self) -> str:
        """``"measured"``, ``"estimated"`` or ``"modelled"`` (from `source`)."""
        return self.source.kind

    @property
    def joules_per_1k_rows(self) -> float | None:
        """Energy per 1,000 rows (``None`` when `rows` is not set)."""
        if self.rows is None:
            return None
        return self.joules / self.rows * 1000.0

    def __str__(self) -> str:
        text = (
            f"{self.joules:.4g} J per call ({self.kind}, {self.source.value}), "
            f"{self.cpu_seconds:.4g} CPU-s, {self.wall_seconds:.4g} s wall, "
            f"{self.calls} call{'s' if self.calls != 1 else ''}"
        )
        if self.rows is not None:
            text += f", {self.joules_per_1k_rows:.4g} J per 1k rows"
        return text


@dataclass(frozen=True)
class Calibration:
    """Watts per CPU-second used by the cpu-time meter, and where the figure came from.

    Parameters
    ----------
    watts_per_cpu_second : float
        Joules charged per second of process CPU time. Must be finite and > 0.
    source : EnergySource
        One of the three cpu-time sources (RAPL-calibrated, codecarbon TDP, user-given).
    detail : str, default=""
        How the figure was obtained (busy-loop figures, CPU model, ...).

    Examples
    --------
    >>> from greenauto.energy import Calibration
    >>> Calibration.from_watts(4.0)
    Calibration(watts_per_cpu_second=4.0, source=<EnergySource.USER_WATTS_CPU_TIME: \
'user-given watts cpu-time'>, detail='given by the user')
    """

    watts_per_cpu_second: float
    source: EnergySource
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", EnergySource(self.source))
        w = self.watts_per_cpu_second
        if not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise ValueError(
                "The watts per CPU-second of a Calibration must be a finite number > 0. "
                f"Got {w!r} instead."
            )
        allowed = (
            EnergySource.RAPL_CALIBRATED_CPU_TIME,
            EnergySource.CODECARBON_TDP_CPU_TIME,
            EnergySource.USER_WATTS_CPU_TIME,
        )
        if self.source not in allowed:
            raise ValueError(
                f"A Calibration's source must be one of {[s.value for s in allowed]}. "
                f"Got {self.source.value!r} instead."
            )

    @classmethod
    def from_watts(cls, watts: float) -> Calibration:
        """A calibration from a user-given watts-per-CPU-second figure (checked > 0)."""
        return cls(float(watts), EnergySource.USER_WATTS_CPU_TIME, "given by the user")

    def __str__(self) -> str:
        text = f"{self.watts_per_cpu_second:.4g} W per CPU-second ({self.source.value})"
        return f"{text}: {self.detail}" if self.detail else text
