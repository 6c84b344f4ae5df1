"""The fixed cost of small calls: one row (and 10) through the public predict paths, against
what a scikit-learn user would call instead, in one run.

Per dataset (magic: 10 numeric features; spambase: 57), models trained on the float features:

- ``GreenAutoClassifier.predict`` from a float64 array and from a DataFrame (a small search
  whose pick is whatever it finds: the call's fixed cost is what is measured), against the
  scikit-learn ``Pipeline(KBinsDiscretizer, DecisionTreeClassifier)`` of the same shape;
- ``CompiledPipeline.predict`` of a depth-1 tree (the call alone) and of RF 100 x depth 10 on
  one float32 row, against scikit-learn's ``predict`` of the same RF;
- ``Binner.transform`` against ``KBinsDiscretizer.transform`` (64 bins).

Times are medians of repeated wall-clock calls, the calls of one table timed in alternation
(``_common.interleaved_seconds``), 1 thread. A shared VM's speed drifts by tens of percent within
the hour: compare within a table. Writes ``benchmarks/results/bench_small_calls.md``.

Run ``python benchmarks/bench_small_calls.py``.
"""

from __future__ import annotations

import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_seconds, write_results

from greenauto import Binner, GreenAutoClassifier
from greenauto.compiled import CompiledPipeline

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = ("magic", "spambase")
PACKAGES = ["greenauto", "numpy", "pandas", "scikit-learn", "optuna"]


def table(title: str, calls: dict[str, object], lines: list[str]) -> None:
    """Time the calls in alternation; append a table of us per call."""
    sec = interleaved_seconds(calls, repeat=9, min_time=0.5)
    lines += [f"### {title}", "", "| call | us per call |", "|---|---|"]
    lines += [f"| {name} | {s * 1e6:,.2f} |" for name, s in sec.items()]
    lines.append("")
    print("\n".join(lines[-len(sec) - 2 :]), flush=True)


def bench(name: str, lines: list[str]) -> None:
    frame = pd.read_csv(DATA / f"{name}.csv.gz")
    y = pd.factorize(frame.pop("target"), sort=True)[0]
    X = frame.to_numpy(np.float64)
    X32 = X.astype(np.float32)
    lines += [f"## {name}: {X.shape[0]:,} rows x {X.shape[1]} features", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = GreenAutoClassifier(n_trials=6, energy_meter="model", random_state=0,
                                   time_budget=None).fit(frame, y)  # fmt: skip
        binner = Binner(n_bins=64, random_state=0).fit(X)
        kbins = KBinsDiscretizer(n_bins=64, encode="ordinal", strategy="quantile",
                                 quantile_method="averaged_inverted_cdf").fit(X)  # fmt: skip
        peer_pipe = make_pipeline(
            KBinsDiscretizer(n_bins=64, encode="ordinal", strategy="quantile",
                             quantile_method="averaged_inverted_cdf"),
            DecisionTreeClassifier(max_depth=6, random_state=0),
        ).fit(X, y)  # fmt: skip
    codes = binner.transform(X)
    rf = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1)
    rf.fit(codes, y)
    stump = DecisionTreeClassifier(max_depth=1).fit(codes, y)
    classes = np.unique(y)
    rf_c = CompiledPipeline([rf], classes=classes, binner=binner)
    stump_c = CompiledPipeline([stump], classes=classes, binner=binner)
    lines += [f"GreenAutoClassifier pick: {auto.best_point_.description}", ""]
    for rows in (1, 10):
        Xr, X32r, framer, codesr = X[:rows], X32[:rows], frame.iloc[:rows], codes[:rows]
        with threadpool_limits(1):
            table(
                f"{rows} row{'s' if rows > 1 else ''}",
                {
                    "GreenAutoClassifier.predict (float64 array)": partial(auto.predict, Xr),
                    "GreenAutoClassifier.predict (DataFrame)": partial(auto.predict, framer),
                    "scikit-learn Pipeline(KBinsDiscretizer, DT).predict": partial(
                        peer_pipe.predict, Xr
                    ),
                    "CompiledPipeline.predict, DT depth 1 (float32)": partial(
                        stump_c.predict, X32r
                    ),
                    "CompiledPipeline.predict, RF 100 x depth 10 (float32)": partial(
                        rf_c.predict, X32r
                    ),
                    "scikit-learn RF 100 x depth 10 predict (codes)": partial(rf.predict, codesr),
                    "Binner.transform (float64)": partial(binner.transform, Xr),
                    "KBinsDiscretizer.transform (float64)": partial(kbins.transform, Xr),
                },
                lines,
            )
    lines.append(f"few-row path kept by the RF (timed on its first calls): "
                 f"{rf_c._kernel.row_paths()[0]}")  # fmt: skip
    lines.append("")


def main() -> None:
    lines: list[str] = []
    for name in DATASETS:
        bench(name, lines)
    path = write_results("bench_small_calls", "Small calls: one row and 10 through the public "
                         "predict paths", "\n".join(lines), PACKAGES)  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
