"""One test suite that every energy meter backend runs (like optuna/testing)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from greenauto.energy import (
    Calibration,
    CodecarbonMeter,
    CpuTimeMeter,
    EnergyMeter,
    EnergyMeterError,
    EnergySource,
    Measurement,
    OperationCounter,
    OperationCountMeter,
    RaplMeter,
    default_meter,
    measure_fit,
    measure_predict,
)

COUNTER = OperationCounter()
RNG = np.random.default_rng(0)
X = RNG.random((3000, 8))
Y = (X[:, 0] + X[:, 1] > 1).astype(int)


def work() -> None:
    """At least 10 ms of CPU work, on any machine (longer than the fake RAPL counter's 2 ms
    update period), that also counts its operations (for the model meter)."""
    t0 = time.process_time()
    while time.process_time() - t0 < 0.01:
        np.sort(RNG.random(200_000))
        COUNTER.add(200_000)


@dataclass
class Backend:
    meter: EnergyMeter
    source: EnergySource


@pytest.fixture(
    params=["cpu-time default", "cpu-time user watts", "rapl", "codecarbon", "operation-count"]
)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, make_powercap: Any, counter_driver: Any
) -> Iterator[Backend]:
    name = request.param
    if name == "cpu-time default":
        meter = default_meter()  # calibrated on this machine: RAPL if readable, else codecarbon
        yield Backend(meter, meter.source)
    elif name == "cpu-time user watts":
        yield Backend(CpuTimeMeter(Calibration.from_watts(6.0)), EnergySource.USER_WATTS_CPU_TIME)
    elif name == "rapl":
        fake = make_powercap(tmp_path / "powercap", sockets=2)
        with counter_driver(fake, idle_watts=8.0, watts_per_cpu_second=20.0):
            yield Backend(RaplMeter(fake.root), EnergySource.RAPL)
    elif name == "codecarbon":
        with CodecarbonMeter("FRA", measure_power_secs=5.0) as meter:
            yield Backend(meter, EnergySource.CODECARBON_TRACKER)
    else:
        meter = OperationCountMeter(COUNTER, joules_per_operation=5e-8)
        yield Backend(meter, EnergySource.OPERATION_COUNT_MODEL)


def _check(m: Measurement, backend: Backend) -> None:
    assert isinstance(m, Measurement)
    assert m.source is backend.source
    assert m.source is backend.meter.source
    assert math.isfinite(m.joules)
    assert m.joules > 0  # real work never measures as a silent zero
    assert m.cpu_seconds > 0
    assert m.wall_seconds > 0
    assert backend.source.value in str(m)
    assert m.detail


def test_measure_returns_a_labelled_measurement(backend: Backend) -> None:
    m = backend.meter.measure(work)
    _check(m, backend)
    assert m.calls == 1
    assert m.rows is None


def test_calls_are_counted(backend: Backend) -> None:
    seen: list[int] = []
    m = backend.meter.measure(lambda: (seen.append(1), work()), calls=3)
    _check(m, backend)
    assert m.calls == 3
    assert len(seen) == 3


@pytest.mark.parametrize("calls", [0, -1, 1.5])
def test_bad_calls_are_rejected(backend: Backend, calls: Any) -> None:
    with pytest.raises(ValueError, match="calls must be an int >= 1"):
        backend.meter.measure(work, calls=calls)


def test_error_in_the_function_propagates_and_meter_still_works(backend: Backend) -> None:
    def boom() -> None:
        work()
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        backend.meter.measure(boom)
    _check(backend.meter.measure(work), backend)


def test_measure_predict_with_each_meter(backend: Backend) -> None:
    tree = DecisionTreeClassifier(max_depth=8, random_state=0).fit(X, Y)

    def predict(batch: np.ndarray) -> np.ndarray:
        work()
        return tree.predict(batch)

    m = measure_predict(predict, X[:1000], meter=backend.meter)
    _check(m, backend)
    assert m.calls >= 5
    assert m.rows == 1000
    assert m.joules_per_1k_rows == pytest.approx(m.joules)


def test_measure_fit_with_each_meter(backend: Backend) -> None:
    fits: list[int] = []

    def fit() -> None:
        fits.append(1)
        work()
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[:300], Y[:300])

    m = measure_fit(fit, meter=backend.meter, min_cpu_seconds=10.0, repeats=3)
    _check(m, backend)
    assert m.calls == 3  # shorter than min_cpu_seconds: repeated, median kept
    assert len(fits) == 3


def test_tally_keeps_a_running_total_or_says_it_cannot(backend: Backend) -> None:
    if isinstance(backend.meter, CodecarbonMeter):
        with pytest.raises(EnergyMeterError, match="cannot keep a running total"):
            backend.meter.tally()
        return
    tally = backend.meter.tally()
    assert tally.source is backend.source
    work()
    first = tally.joules
    assert first > 0
    work()
    second = tally.joules
    assert second >= first  # reading it stops nothing (a RAPL counter may not have ticked)
    m = backend.meter.measure(work)  # an interval inside a tally is counted by both
    assert m.joules > 0
    assert tally.joules >= second + 0.5 * m.joules
    assert tally.joules > first
