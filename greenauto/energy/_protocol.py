"""The measurement protocol of a search trial: `measure_fit` and `measure_predict`.

BLAS and OpenMP pools are pinned (threadpoolctl) to the deployment's thread count while
measuring; short work is repeated and the median per call is kept; prediction energy is
reported per 1,000 rows of a fixed reference batch.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from threadpoolctl import ThreadpoolController

from greenauto.energy._measurement import Calibration, Measurement
from greenauto.energy._meters import (
    CpuTimeMeter,
    EnergyMeter,
    OperationCounter,
    OperationCountMeter,
    RaplMeter,
)

__all__ = [
    "METER_KINDS",
    "MODEL_JOULES_PER_OPERATION",
    "default_meter",
    "make_meter",
    "measure_fit",
    "measure_predict",
]

#: Joules per counted operation of the deterministic ``"model"`` meter: 4.2 ns per tree-node
#: visit (scikit-learn's forest on the project's VMs) x 4 W per thread (codecarbon's EPYC
#: default).
MODEL_JOULES_PER_OPERATION = 4.2e-9 * 4.0
#: The meters `make_meter` builds by name.
METER_KINDS = ("cpu-time", "rapl", "model")


@functools.lru_cache(maxsize=1)
def default_meter() -> CpuTimeMeter:
    """The cpu-time meter calibrated once per process with `calibrate`'s default order."""
    return CpuTimeMeter.calibrated()


def make_meter(
    kind: str | EnergyMeter = "cpu-time", *, watts_per_cpu: float | None = None
) -> EnergyMeter:
    """The per-trial meter of a search, by name.

    Parameters
    ----------
    kind : {"cpu-time", "rapl", "model"} or EnergyMeter, default="cpu-time"
        ``"cpu-time"``: process CPU time x calibrated watts (`default_meter`, or
        ``watts_per_cpu`` when given); ``"rapl"``: package energy counters (`RaplMeter`);
        ``"model"``: counted operations x `MODEL_JOULES_PER_OPERATION` (a fresh
        `OperationCounter`, read from ``meter.counter``). A meter is returned as it is.
    watts_per_cpu : float, optional
        Watts per busy CPU for the cpu-time meter, overriding calibration.

    Returns
    -------
    meter : EnergyMeter

    Examples
    --------
    >>> from greenauto.energy import make_meter
    >>> make_meter("model").source.value
    'operation-count model'
    >>> make_meter(watts_per_cpu=5.0).calibration.watts_per_cpu_second
    5.0
    """
    if isinstance(kind, EnergyMeter):
        return kind
    if kind == "model":
        return OperationCountMeter(OperationCounter(), MODEL_JOULES_PER_OPERATION)
    if kind == "rapl":
        return RaplMeter()
    if kind == "cpu-time":
        if watts_per_cpu is not None:
            return CpuTimeMeter(Calibration.from_watts(watts_per_cpu))
        return default_meter()
    raise ValueError(f"energy_meter must be one of {METER_KINDS} or an EnergyMeter; got {kind!r}.")


@functools.lru_cache(maxsize=1)
def _controller(n_modules: int) -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries, rebuilt after imports.

    Building it scans every loaded shared library (about 4 ms); a search measures hundreds
    of calls, so it is cached while no module is imported (a new import may load a library).
    """
    return ThreadpoolController()


def _pinned(n_threads: int) -> contextlib.AbstractContextManager[object]:
    """Limit BLAS and OpenMP pools to `n_threads` for the duration of a `with` block."""
    if not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"n_threads must be an int >= 1. Got {n_threads!r} instead.")
    return _controller(len(sys.modules)).limit(limits=n_threads)


def _median(runs: Sequence[Measurement], rows: int | None = None) -> Measurement:
    """Field-wise median per call of single-call measurements."""
    first = runs[0]
    return Measurement(
        joules=statistics.median(m.joules for m in runs),
        cpu_seconds=statistics.median(m.cpu_seconds for m in runs),
        wall_seconds=statistics.median(m.wall_seconds for m in runs),
        calls=len(runs),
        source=first.source,
        rows=rows,
        detail=first.detail,
    )


def measure_fit(
    fn: Callable[[], object],
    *,
    meter: EnergyMeter | None = None,
    n_threads: int = 1,
    min_cpu_seconds: float = 0.02,
    repeats: int = 5,
) -> Measurement:
    """Energy of a training call: measured once, or the median of `repeats` if it is short.

    Parameters
    ----------
    fn : callable
        Function of no argument that trains (e.g. ``lambda: model.fit(X, y)``); it must be
        safe to call again, because short calls are repeated.
    meter : EnergyMeter or None, default=None
        Meter to use; None means `default_meter()` (the calibrated cpu-time meter).
    n_threads : int, default=1
        BLAS/OpenMP threads allowed while measuring.
    min_cpu_seconds : float, default=0.02
        Below this CPU time the call is repeated and the median kept.
    repeats : int, default=5
        Number of timed calls (the first included) when repeating.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from greenauto.energy import Calibration, CpuTimeMeter, measure_fit
    >>> X, y = np.random.default_rng(0).random((500, 4)), np.arange(500) % 2
    >>> tree = DecisionTreeClassifier(random_state=0)
    >>> m = measure_fit(lambda: tree.fit(X, y), meter=CpuTimeMeter(Calibration.from_watts(4)))
    >>> m.calls >= 1 and m.source.value == "user-given watts cpu-time"
    True
    """
    meter = default_meter() if meter is None else meter
    with _pinned(n_threads):
        runs = [meter.measure(fn)]
        if runs[0].cpu_seconds < min_cpu_seconds:
            runs += [meter.measure(fn) for _ in range(max(repeats, 1) - 1)]
    return _median(runs)


def measure_predict(
    fn: Callable[[Any], object],
    X_ref: Any,
    *,
    meter: EnergyMeter | None = None,
    n_threads: int = 1,
    min_cpu_seconds: float = 0.05,
    min_calls: int = 5,
    max_calls: int = 10_000,
) -> Measurement:
    """Energy of a prediction call on a reference batch: median per call, J per 1,000 rows.

    One warm-up call, then calls of ``fn(X_ref)`` until at least `min_calls` calls and
    `min_cpu_seconds` of CPU time (or `max_calls`), each measured on its own.

    Parameters
    ----------
    fn : callable
        Prediction function taking the batch, e.g. ``model.predict``.
    X_ref : array-like
        Fixed reference batch; its length sets `Measurement.rows`.
    meter : EnergyMeter or None, default=None
        Meter to use; None means `default_meter()`.
    n_threads : int, default=1
        BLAS/OpenMP threads allowed while measuring.
    min_cpu_seconds : float, default=0.05
        CPU time to accumulate over the timed calls.
    min_calls, max_calls : int, default=5, 10000
        Bounds on the number of timed calls.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from greenauto.energy import Calibration, CpuTimeMeter, measure_predict
    >>> X, y = np.random.default_rng(0).random((500, 4)), np.arange(500) % 2
    >>> tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    >>> meter = CpuTimeMeter(Calibration.from_watts(4))
    >>> m = measure_predict(tree.predict, X[:200], meter=meter)
    >>> import math
    >>> m.rows, m.calls >= 5, math.isclose(m.joules_per_1k_rows, m.joules * 5)
    (200, True, True)
    """
    meter = default_meter() if meter is None else meter
    rows = len(X_ref)
    if rows < 1:
        raise ValueError("measure_predict's X_ref must hold at least one row.")
    if not 1 <= min_calls <= max_calls:
        raise ValueError(f"Need 1 <= min_calls <= max_calls. Got {min_calls}, {max_calls}.")

    def call() -> object:
        return fn(X_ref)

    with _pinned(n_threads):
        call()  # warm-up: caches, lazy imports, first-touch allocations
        runs: list[Measurement] = []
        cpu = 0.0
        while len(runs) < max_calls and (len(runs) < min_calls or cpu < min_cpu_seconds):
            runs.append(meter.measure(call))
            cpu += runs[-1].cpu_seconds
    return _median(runs, rows=rows)
