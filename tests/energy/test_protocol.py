"""The trial protocol: proportional figures, repeat rules, thread pinning."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_info

from greenauto.energy import (
    Calibration,
    CpuTimeMeter,
    EnergyMeterError,
    OperationCounter,
    OperationCountMeter,
    default_meter,
    measure_fit,
    measure_predict,
)

RNG = np.random.default_rng(0)


def _matmul_work(n: int) -> Callable[[], object]:
    a = RNG.random((400, 400))

    def run() -> object:
        for _ in range(n):
            a @ a
        return a

    return run


def _forest_work(rows: int) -> Callable[[], object]:
    X = RNG.random((2000, 10))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    forest = RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0, n_jobs=1)
    forest.fit(X, y)
    X_big = RNG.random((rows, 10))
    return lambda: forest.predict_proba(X_big)


@pytest.mark.parametrize(
    ("make_work", "size"),
    [(_matmul_work, 150), (_forest_work, 300_000)],  # each well above 100 ms of CPU
    ids=["numpy matmul 400x400", "sklearn forest predict"],
)
def test_twice_the_work_measures_twice_the_energy(
    make_work: Callable[[int], Callable[[], object]], size: int
) -> None:
    """>= 100 ms of work per call, medians of 5 interleaved runs: robust on a loaded VM."""
    meter = default_meter()
    once, twice = make_work(size), make_work(2 * size)
    runs: dict[str, list[float]] = {"once": [], "twice": []}
    for _ in range(5):
        runs["once"].append(measure_fit(once, meter=meter).joules)
        runs["twice"].append(measure_fit(twice, meter=meter).joules)
    one, two = statistics.median(runs["once"]), statistics.median(runs["twice"])
    assert one >= 0.1 * meter.calibration.watts_per_cpu_second  # >= 100 ms CPU
    assert two / one == pytest.approx(2.0, rel=0.15)


def test_measure_predict_reaches_50ms_and_5_calls() -> None:
    costs: list[float] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        t0 = time.process_time()
        out = np.sort(batch, axis=0)
        costs.append(time.process_time() - t0)
        return out

    batch = RNG.random((20_000, 4))
    m = measure_predict(predict, batch, meter=CpuTimeMeter(Calibration.from_watts(4.0)))
    assert m.calls == len(costs) - 1  # one warm-up call, not counted
    assert m.calls >= 5
    assert sum(costs[1:]) >= 0.05 * 0.95  # the CPU time the protocol asks for
    assert sum(costs[1:-1]) < 0.05 or m.calls == 5  # and it stopped as soon as it had it
    assert m.rows == 20_000
    assert m.joules == pytest.approx(4.0 * m.cpu_seconds)
    assert m.joules_per_1k_rows == pytest.approx(m.joules / 20.0)


def test_measure_fit_measures_long_work_once() -> None:
    fits: list[int] = []

    def fit() -> None:
        fits.append(1)
        _matmul_work(30)()

    m = measure_fit(fit, meter=CpuTimeMeter(Calibration.from_watts(4.0)))
    assert m.cpu_seconds >= 0.02
    assert m.calls == 1
    assert fits == [1]


def test_measure_fit_repeats_short_work_and_keeps_the_median() -> None:
    counter = OperationCounter()
    sizes = iter([10, 1000, 30, 20, 10_000])
    meter = OperationCountMeter(counter, joules_per_operation=1.0)
    m = measure_fit(lambda: counter.add(next(sizes)), meter=meter)
    assert m.calls == 5
    assert m.joules == 30.0  # median of 10, 1000, 30, 20, 10000


@pytest.mark.parametrize("n_threads", [1, 2])
def test_blas_threads_are_pinned_while_measuring(n_threads: int) -> None:
    seen: list[set[int]] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append({pool["num_threads"] for pool in threadpool_info()})
        return batch @ batch.T

    meter = CpuTimeMeter(Calibration.from_watts(4.0))
    measure_predict(predict, RNG.random((200, 50)), meter=meter, n_threads=n_threads)
    measure_fit(lambda: predict(RNG.random((10, 5))), meter=meter, n_threads=n_threads)
    assert seen
    assert all(threads == {n_threads} for threads in seen)


def test_bad_protocol_arguments() -> None:
    meter = CpuTimeMeter(Calibration.from_watts(4.0))
    with pytest.raises(ValueError, match="n_threads must be an int >= 1"):
        measure_fit(lambda: None, meter=meter, n_threads=0)
    with pytest.raises(ValueError, match="at least one row"):
        measure_predict(len, np.empty((0, 3)), meter=meter)
    with pytest.raises(ValueError, match="min_calls <= max_calls"):
        measure_predict(len, np.ones((3, 3)), meter=meter, min_calls=6, max_calls=5)


def test_operation_meter_refuses_a_silent_zero() -> None:
    meter = OperationCountMeter(OperationCounter(), joules_per_operation=1e-9)
    with pytest.raises(EnergyMeterError, match="counted no operation"):
        meter.measure(lambda: None)


@pytest.mark.parametrize("jpo", [0.0, -1e-9, float("nan")])
def test_operation_meter_needs_positive_joules(jpo: float) -> None:
    with pytest.raises(ValueError, match="joules_per_operation must be a finite number > 0"):
        OperationCountMeter(OperationCounter(), joules_per_operation=jpo)
