"""The `EnergyMeter` interface and the meters that need no external tracker.

- `CpuTimeMeter` (default): process CPU time x calibrated watts per CPU-second.
- `RaplMeter`: package energy counters read directly (opt-in, quiet bare-metal machines).
- `OperationCountMeter`: counted operations x joules per operation, a deterministic model.

The codecarbon-backed meter lives in ``_codecarbon.py``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType

from greenauto.energy._calibration import calibrate
from greenauto.energy._errors import EnergyMeterError
from greenauto.energy._measurement import Calibration, EnergySource, Measurement
from greenauto.energy._rapl import DEFAULT_POWERCAP_ROOT, RaplReader

__all__ = [
    "CpuTimeMeter",
    "EnergyMeter",
    "EnergyTally",
    "OperationCountMeter",
    "OperationCounter",
    "RaplMeter",
]


class EnergyTally:
    """A running total of what a meter measures from the moment it was opened.

    Made by :meth:`EnergyMeter.tally`; :attr:`joules` reads the total so far without
    stopping anything (a search's energy budget reads it after every trial).

    Parameters
    ----------
    read : callable
        Returns the joules spent since the tally was opened.
    source : EnergySource
        How those joules are obtained.
    """

    def __init__(self, read: Callable[[], float], source: EnergySource) -> None:
        self._read = read
        self.source = source

    @property
    def joules(self) -> float:
        """Joules spent since the tally was opened, as the meter reports them."""
        return float(self._read())


class EnergyMeter(ABC):
    """Interface of every energy meter: `measure` runs a function and returns a `Measurement`.

    A subclass implements `source`, `_begin` (state at the start of an interval) and `_end`
    (joules of the interval). Meters that hold a resource (a tracker) also override
    `start` and `close`; every meter can be used as a context manager.
    """

    @property
    @abstractmethod
    def source(self) -> EnergySource:
        """How this meter's joule figures are obtained."""

    @property
    def detail(self) -> str:
        """Text copied into every `Measurement.detail` (calibration, domains, ...)."""
        return ""

    def start(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Acquire what the meter needs (no-op unless overridden)."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release what `start` acquired (no-op unless overridden)."""

    def __enter__(self) -> EnergyMeter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def _begin(self) -> object:
        """State at the start of an interval (counter values, a task name, ...)."""

    @abstractmethod
    def _end(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        """Joules spent since `_begin` returned `state`."""

    def _abort(self, state: object) -> None:  # noqa: B027 - optional hook
        """Clean up an interval whose function raised (no-op unless overridden)."""

    def tally(self) -> EnergyTally:
        """Open a running total of this meter's joules (read with ``.joules``).

        Returns
        -------
        EnergyTally

        Raises
        ------
        EnergyMeterError
            When the meter cannot be read while it runs (codecarbon's tracker).

        Examples
        --------
        >>> from greenauto.energy import Calibration, CpuTimeMeter
        >>> tally = CpuTimeMeter(Calibration.from_watts(4.0)).tally()
        >>> _ = sum(range(100_000))
        >>> tally.joules > 0, tally.source.value
        (True, 'user-given watts cpu-time')
        """
        state = self._begin_tally()
        c0, w0 = time.process_time(), time.perf_counter()

        def read() -> float:
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            return self._read_tally(state, cpu, wall)

        return EnergyTally(read, self.source)

    def _begin_tally(self) -> object:
        """State at the opening of a tally (the interval's start, by default)."""
        return self._begin()

    def _read_tally(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        """Joules since `_begin_tally` returned `state`, without closing anything."""
        return self._end(state, cpu_seconds, wall_seconds)

    def measure(self, fn: Callable[[], object], *, calls: int = 1) -> Measurement:
        """Run ``fn()`` `calls` times in one interval; figures are per call (mean).

        Parameters
        ----------
        fn : callable
            Function of no argument; its result is discarded.
        calls : int, default=1
            Times `fn` is called inside the interval.

        Returns
        -------
        Measurement
            Joules, CPU and wall seconds of one call, with ``calls=calls``.
        """
        if not isinstance(calls, int) or calls < 1:
            raise ValueError(f"measure's calls must be an int >= 1. Got {calls!r} instead.")
        state = self._begin()
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            for _ in range(calls):
                fn()
        except BaseException:
            self._abort(state)
            raise
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        joules = self._end(state, cpu, wall)
        if not math.isfinite(joules) or joules < 0:
            raise EnergyMeterError(
                f"{type(self).__name__} produced an invalid energy figure: {joules!r} J."
            )
        return Measurement(
            joules=joules / calls,
            cpu_seconds=cpu / calls,
            wall_seconds=wall / calls,
            calls=calls,
            source=self.source,
            detail=self.detail,
        )


class CpuTimeMeter(EnergyMeter):
    """Process CPU time x a calibrated watts-per-CPU-second figure (the default meter).

    CPU time counts every thread of this process and nothing of other processes, so the
    figure is stable on a shared machine (1-2 % spread for >= 50 ms of work).

    Parameters
    ----------
    calibration : Calibration
        Watts per CPU-second and where the figure came from; see `calibrate` and
        `CpuTimeMeter.calibrated`.

    Examples
    --------
    >>> from greenauto.energy import Calibration, CpuTimeMeter
    >>> meter = CpuTimeMeter(Calibration.from_watts(4.0))
    >>> m = meter.measure(lambda: sum(range(100_000)))
    >>> m.source.value, m.joules == 4.0 * m.cpu_seconds
    ('user-given watts cpu-time', True)
    """

    def __init__(self, calibration: Calibration) -> None:
        if not isinstance(calibration, Calibration):
            raise TypeError(
                "CpuTimeMeter's calibration must be a Calibration (see calibrate()). "
                f"Got {type(calibration).__name__} instead."
            )
        self.calibration = calibration

    @classmethod
    def calibrated(cls, watts: float | None = None, **calibrate_kwargs: object) -> CpuTimeMeter:
        """A meter calibrated now with `calibrate` (same arguments)."""
        return cls(calibrate(watts, **calibrate_kwargs))  # type: ignore[arg-type]

    @property
    def source(self) -> EnergySource:
        return self.calibration.source

    @property
    def detail(self) -> str:
        return str(self.calibration)

    def _begin(self) -> object:
        return None

    def _end(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        return cpu_seconds * self.calibration.watts_per_cpu_second


class RaplMeter(EnergyMeter):
    """Package energy read from RAPL counters around each call (a hardware measurement).

    The counters cover the whole CPU package: other processes' energy is included. Use it
    on a quiet bare-metal machine; elsewhere prefer the cpu-time meter.

    Parameters
    ----------
    root : path, default="/sys/class/powercap"
        Powercap folder (see `RaplReader`).

    Raises
    ------
    RaplUnavailableError
        When no package counter can be read under `root`.
    """

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT) -> None:
        self.root = root
        self.reader = RaplReader(root)

    @property
    def source(self) -> EnergySource:
        return EnergySource.RAPL

    @property
    def detail(self) -> str:
        return self.reader.describe()

    def _begin(self) -> object:
        return self.reader.read_uj()

    def _end(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        return self.reader.joules_between(state, self.reader.read_uj())  # type: ignore[arg-type]


class OperationCounter:
    """A thread-safe running count of operations (node visits, multiply-adds, ...).

    Code under measurement calls `add`; an `OperationCountMeter` reads the count before
    and after each call.
    """

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        """Count `n` more operations (``n >= 0``)."""
        if n < 0:
            raise ValueError(f"OperationCounter.add needs n >= 0. Got {n!r} instead.")
        with self._lock:
            self._count += int(n)

    @property
    def count(self) -> int:
        """Operations counted so far."""
        return self._count


class OperationCountMeter(EnergyMeter):
    """Deterministic energy model: operations counted during a call x joules per operation.

    The same code and data always give the same joules, which makes runs reproducible;
    the figures are labelled ``"operation-count model"``, never a measurement.

    Parameters
    ----------
    counter : OperationCounter
        Counter that the measured code advances.
    joules_per_operation : float
        Energy charged per operation (> 0), e.g. seconds per operation x watts.

    Raises
    ------
    EnergyMeterError
        At `measure` time, when the call counted no operation (a silent zero otherwise).

    Examples
    --------
    >>> from greenauto.energy import OperationCounter, OperationCountMeter
    >>> counter = OperationCounter()
    >>> meter = OperationCountMeter(counter, joules_per_operation=2e-8)
    >>> meter.measure(lambda: counter.add(1_000_000)).joules
    0.02
    """

    def __init__(self, counter: OperationCounter, joules_per_operation: float) -> None:
        if not isinstance(counter, OperationCounter):
            raise TypeError(
                "OperationCountMeter's counter must be an OperationCounter. "
                f"Got {type(counter).__name__} instead."
            )
        jpo = joules_per_operation
        if not isinstance(jpo, (int, float)) or not math.isfinite(jpo) or jpo <= 0:
            raise ValueError(
                "OperationCountMeter's joules_per_operation must be a finite number > 0. "
                f"Got {jpo!r} instead."
            )
        self.counter = counter
        self.joules_per_operation = float(jpo)

    @property
    def source(self) -> EnergySource:
        return EnergySource.OPERATION_COUNT_MODEL

    @property
    def detail(self) -> str:
        return f"{self.joules_per_operation:.4g} J per counted operation"

    def _begin(self) -> object:
        return self.counter.count

    def _read_tally(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        return (self.counter.count - state) * self.joules_per_operation  # type: ignore[operator]

    def _end(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        operations = self.counter.count - state  # type: ignore[operator]
        if operations <= 0:
            raise EnergyMeterError(
                "OperationCountMeter counted no operation during the call: does the "
                "measured code call counter.add()?"
            )
        return operations * self.joules_per_operation
