"""Repeatability and overhead of the energy-measurement protocol (issue 3).

- Repeatability: coefficient of variation of `measure_predict` (J per 1,000 rows) on a fitted
  scikit-learn RandomForest (100 trees, depth 10) over 10 repetitions. Goal: <= 3 % on a
  quiet machine.
- Overhead: time spent by `measure_fit` + `measure_predict` beyond the work itself (one fit
  and one prediction of the reference batch), per trial. Goal: <= 60 ms.

Run: ``python benchmarks/bench_energy.py`` (under a minute). Writes
``benchmarks/results/bench_energy.md``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from _common import RESULTS, write_results
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from greenauto.datasets import load_dataset
from greenauto.energy import (
    CpuTimeMeter,
    Measurement,
    default_meter,
    measure_fit,
    measure_predict,
)

REPETITIONS = 10
FIT_REPETITIONS = 3  # a fit takes seconds: three are enough for the overhead figure
REF_ROWS = 1000


@dataclass
class Runs:
    """Measurements of one helper and the time it took beyond the work it measured."""

    measurements: list[Measurement] = field(default_factory=list)
    wall_overhead: list[float] = field(default_factory=list)
    cpu_overhead: list[float] = field(default_factory=list)

    def add(self, helper: Callable[[], Measurement]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        m = helper()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.measurements.append(m)
        # the work itself is one call (one prediction, one fit); the rest is the protocol
        self.wall_overhead.append(wall - m.wall_seconds)
        self.cpu_overhead.append(cpu - m.cpu_seconds)

    def median_ms(self, which: str) -> float:
        return 1000 * statistics.median(getattr(self, f"{which}_overhead"))


def _forest() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1)


def run(meter: CpuTimeMeter) -> tuple[Runs, Runs]:
    """Run the protocol on the forest: `REPETITIONS` predictions, `FIT_REPETITIONS` fits."""
    X, y = load_dataset("magic")
    X_train, X_val, y_train, _ = train_test_split(
        X.to_numpy(np.float64), y.to_numpy(), test_size=0.25, random_state=0
    )
    X_ref = np.ascontiguousarray(X_val[:REF_ROWS])
    forest = _forest().fit(X_train, y_train)
    predict, fit = Runs(), Runs()
    for _ in range(REPETITIONS):
        predict.add(lambda: measure_predict(forest.predict, X_ref, meter=meter))
    for _ in range(FIT_REPETITIONS):
        model = _forest()
        fit.add(lambda model=model: measure_fit(lambda: model.fit(X_train, y_train), meter=meter))
    return predict, fit


def report(meter: CpuTimeMeter, predict: Runs, fit: Runs, load: tuple[float, float]) -> str:
    """The Markdown body of the results file."""
    per_1k = [m.joules_per_1k_rows or 0.0 for m in predict.measurements]
    mean = statistics.mean(per_1k)
    cv = statistics.stdev(per_1k) / mean
    one_predict, one_fit = predict.measurements[-1], fit.measurements[-1]
    wall_ms = predict.median_ms("wall") + fit.median_ms("wall")
    cpu_ms = predict.median_ms("cpu") + fit.median_ms("cpu")
    trial_s = one_fit.wall_seconds + one_predict.wall_seconds
    shared = max(load) > 1.2  # the benchmark itself keeps about one core busy
    calls = statistics.median(m.calls for m in predict.measurements)
    source = one_predict.source.value
    lines = [
        "## Setup",
        "",
        f"- data: bundled `magic` dataset, 75 % train; reference batch of {REF_ROWS} "
        "validation rows",
        "- model: scikit-learn RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=1)",
        f"- meter: `default_meter()` = {meter.calibration}",
        "- protocol: BLAS/OpenMP pinned to 1 thread; predict: 1 warm-up, then calls until "
        ">= 50 ms CPU and >= 5 calls, median per call; fit: measured once (it is > 20 ms)",
        f"- load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}"
        + (
            ". **Other jobs shared the machine (2 cores) while this ran**: wall times are "
            "stretched; CPU-time figures are less affected."
            if shared
            else ""
        ),
        "",
        "## Results",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        f"| `measure_predict`, J per 1k rows, mean of {REPETITIONS} | {mean:.4g} J ({source}) | |",
        f"| coefficient of variation over {REPETITIONS} repetitions | {100 * cv:.2f} % "
        "| <= 3 % (quiet machine) |",
        f"| min / max J per 1k rows | {min(per_1k):.4g} / {max(per_1k):.4g} J | |",
        f"| the {REPETITIONS} values, in run order (J per 1k rows) | "
        + ", ".join(f"{v:.4g}" for v in per_1k)
        + " | |",
        f"| timed prediction calls per measurement (median) | {calls:g} | >= 5 |",
        f"| one prediction call: CPU / wall (median) | {1000 * one_predict.cpu_seconds:.2f} / "
        f"{1000 * one_predict.wall_seconds:.2f} ms | |",
        f"| protocol overhead per trial, wall (predict {predict.median_ms('wall'):.1f} + fit "
        f"{fit.median_ms('wall'):.2f}) | {wall_ms:.1f} ms | <= 60 ms |",
        f"| protocol overhead per trial, CPU (predict {predict.median_ms('cpu'):.1f} + fit "
        f"{fit.median_ms('cpu'):.2f}) | {cpu_ms:.1f} ms | (= wall on a quiet machine) |",
        f"| wall overhead / trial time (fit {one_fit.wall_seconds:.2f} s + one prediction) | "
        f"{100 * wall_ms / 1000 / trial_s:.2f} % | <= 5 % |",
        f"| fit energy (last of {FIT_REPETITIONS}) | {one_fit.joules:.4g} J ({source}) | |",
        "",
        "Overhead = time of the helper minus the one call of the work it measures: the warm-up "
        "call, the repeated calls, thread pinning and the meter's own cost. All joule figures "
        "here are estimates labelled with their source, not measurements.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    meter = default_meter()
    load_before = os.getloadavg()[0]
    predict, fit = run(meter)
    body = report(meter, predict, fit, (load_before, os.getloadavg()[0]))
    print(body)
    title = "Energy measurement protocol: repeatability and overhead"
    path = write_results(
        "bench_energy", title, body, ["numpy", "scikit-learn", "codecarbon", "threadpoolctl"]
    )
    print(f"written: {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
