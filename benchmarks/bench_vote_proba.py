"""Labels and probabilities through the compiled kernel, beside scikit-learn's own, per member
kind and vote, on several dataset shapes. Writes benchmarks/results/bench_vote_proba.md.

Per case: rows/s of ``predict`` (labels only) and of ``predict_with_proba`` (labels and
probabilities from one call), and scikit-learn's ``predict_proba`` of the same fitted
pipeline, single thread, medians of CPU time. Run: ``python benchmarks/bench_vote_proba.py``
(``--quick`` for a smoke run). With ``--labels-only`` it times ``predict`` alone, which an
older greenauto (without probabilities in the kernel) can also run, for an A/B of the cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

import greenauto
from greenauto import Binner
from greenauto.compiled import CompiledPipeline

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = ["magic", "letter", "spambase", "adult"]  # 10/26/57 features; 2/26/2/2 classes


def load(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(SHARED / f"{name}.csv.gz").sample(n, replace=True, random_state=0)
    y = pd.factorize(frame.pop("target"), sort=True)[0]
    cols = [
        pd.to_numeric(frame[c]) if pd.api.types.is_numeric_dtype(frame[c])
        else pd.factorize(frame[c])[0]
        for c in frame
    ]  # fmt: skip
    return np.column_stack(cols).astype(np.float64), y


def members(codes: np.ndarray, y: np.ndarray) -> dict[str, list]:
    dt = DecisionTreeClassifier(max_depth=8, random_state=0).fit(codes, y)
    nb = GaussianNB().fit(codes, y)
    rf = RandomForestClassifier(20, max_depth=8, random_state=0).fit(codes, y)
    gbm = lgb.LGBMClassifier(n_estimators=50, num_leaves=15, n_jobs=1, verbose=-1).fit(codes, y)
    return {"GaussianNB": [nb], "RF(20)": [rf], "LightGBM(50)": [gbm], "DT+GNB+RF": [dt, nb, rf]}


def cpu_rate(fn, X: np.ndarray, repeats: int) -> float:
    """Rows per CPU second of ``fn(X)`` (median of ``repeats``, after one warm-up)."""
    fn(X)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn(X)
        times.append(time.process_time() - t0)
    return X.shape[0] / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--labels-only", action="store_true")
    args = parser.parse_args()
    n_fit, reps = (3000, 3) if args.quick else (20000, 7)
    rows_out = []
    for name in DATASETS:
        X, y = load(name, n_fit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            binner = Binner(n_bins=32).fit(X)
        codes = binner.transform(X).astype(np.float64)
        big = np.tile(X, (10, 1))
        big_codes = binner.transform(big).astype(np.float64)
        for label, ms in members(codes, y).items():
            votes = ["hard", "soft"] if len(ms) > 1 and not args.labels_only else [None]
            for voting in votes:
                kw = {} if voting is None else {"voting": voting}
                pipe = CompiledPipeline(ms, classes=np.unique(y), binner=binner, **kw)
                row = {"dataset": name, "model": label + (f" {voting}" if voting else "")}
                row["predict k rows/s"] = cpu_rate(pipe.predict, big, reps)
                if not args.labels_only:
                    row["labels+proba k rows/s"] = cpu_rate(pipe.predict_with_proba, big, reps)
                    if len(ms) == 1:
                        with threadpool_limits(1):
                            peer = cpu_rate(ms[0].predict_proba, big_codes, reps)
                        row["sklearn/LightGBM predict_proba k rows/s"] = peer
                rows_out.append(row)
                print(row, flush=True)
    table = pd.DataFrame(rows_out)
    for col in table.columns[2:]:
        table[col] = (table[col] / 1e3).round(0)
    if not args.labels_only:
        table["proba cost"] = (table["predict k rows/s"] / table["labels+proba k rows/s"]).round(2)
    write(table, args)


def write(table: pd.DataFrame, args: argparse.Namespace) -> None:
    suffix = "_labels_only" if args.labels_only else ""
    out = Path(__file__).parent / "results" / f"bench_vote_proba{suffix}.md"
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if "model name" in ln), "?")
    head = [
        f"# Labels and probabilities through the kernel ({date.today()})",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        "(shared machine: preliminary figures). Single thread, median CPU time, 10x tiled "
        f"rows of {'3,000' if args.quick else '20,000'} sampled per dataset, 32 bins.",
        f"Versions: greenauto {greenauto.__version__}, lightgbm {lgb.__version__}, numpy "
        f"{np.__version__}, Python {platform.python_version()}.",
        "",
        "`proba cost` = predict rows/s / labels+proba rows/s (1.0: probabilities are free).",
        "",
    ]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()]
    out.write_text("\n".join(head + lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
