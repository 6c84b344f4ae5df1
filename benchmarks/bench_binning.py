"""Binner.transform against KBinsDiscretizer.transform and numpy.searchsorted.

200,000 x 50 float32 (normal, heavy-tailed, skewed and integer-valued features) and the four
datasets of the inference benchmark tiled to 200,000 rows (float32 and float64), at 64 and 255
bins; one thread unless stated; the same edges for every contender (learned by Binner and
handed to the others), so every contender does exactly the same binning. Prints ns per value
and ratios of medians, and writes benchmarks/results/bench_binning.md.

Run: ``python benchmarks/bench_binning.py`` (``make bench`` builds first).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import KBinsDiscretizer
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_seconds, write_results

import greenauto._kernels as kernels
from greenauto import Binner
from greenauto.preprocessing import TabularEncoder

DATASETS = ("magic", "letter", "wisdm_activity", "spambase")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def make_data(n_rows: int, n_cols: int, seed: int = 0) -> np.ndarray:
    """Normal, heavy-tailed, skewed and integer-valued features (no NaN: KBins rejects it)."""
    rng = np.random.default_rng(seed)
    kinds = [
        lambda n: rng.normal(size=n),
        lambda n: rng.standard_cauchy(size=n),
        lambda n: rng.lognormal(size=n),
        lambda n: rng.integers(0, 20, size=n).astype(float),
    ]
    X = np.column_stack([kinds[j % 4](n_rows) for j in range(n_cols)]).astype(np.float32)
    return X


def dataset(data_dir: Path, name: str, n_rows: int) -> np.ndarray:
    """A dataset's features (text columns as codes) tiled to n_rows, float32."""
    frame = pd.read_csv(data_dir / f"{name}.csv.gz").drop(columns="target")
    X = TabularEncoder().fit_transform(frame).astype(np.float32)
    rows = np.random.default_rng(0).permutation(n_rows) % X.shape[0]
    return np.ascontiguousarray(X[rows])


def searchsorted_all(X: np.ndarray, inner: list[np.ndarray]) -> np.ndarray:
    out = np.empty(X.shape, dtype=np.uint8)
    for j, e in enumerate(inner):
        out[:, j] = np.searchsorted(e, X[:, j], side="right")
    return out


def time_one_setting(X: np.ndarray, n_bins: int) -> dict[str, float]:
    """Median seconds per transform of each contender, after checking they agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns of the datasets
        binner = Binner(n_bins=n_bins, random_state=0).fit(X)
        binner2 = Binner(n_bins=n_bins, n_jobs=2, random_state=0).fit(X)
    inner = [e[1:-1].astype(np.float64) for e in binner.bin_edges_]
    kb = KBinsDiscretizer(n_bins=n_bins, encode="ordinal")
    kb.bin_edges_, kb.n_bins_, kb.n_features_in_, kb.dtype = (
        binner.bin_edges_,
        binner.n_bins_,
        X.shape[1],
        None,
    )
    X64 = X.astype(np.float64)
    expected = kb.transform(X).astype(np.uint8)  # same answers first
    assert np.array_equal(binner.transform(X), expected)
    assert np.array_equal(binner2.transform(X), expected)
    assert np.array_equal(searchsorted_all(X64, inner), expected)
    contenders = {
        "KBinsDiscretizer.transform": lambda: kb.transform(X),
        "numpy.searchsorted per column (float64 input)": lambda: searchsorted_all(X64, inner),
        "greenauto Binner.transform": lambda: binner.transform(X),
        "greenauto Binner.transform, float64 input": lambda: binner.transform(X64),
        "greenauto Binner.transform, 2 threads": lambda: binner2.transform(X),
    }
    with threadpool_limits(1):
        return {
            name: median_seconds(fn, repeat=7, min_time=1.0) for name, fn in contenders.items()
        }


def run(n_rows: int, n_cols: int, n_bins_list: list[int], data_dir: Path) -> str:
    sets = {f"synthetic {n_cols} columns": make_data(n_rows, n_cols)}
    for name in DATASETS:
        X = dataset(data_dir, name, n_rows)
        sets[f"{name} ({X.shape[1]} columns)"] = np.nan_to_num(X, nan=0.0)  # KBins: no NaN
    lines = [
        f"Data: {n_rows:,} rows, float32 (C order; float64 input: the same values), no NaN; "
        "same edges for every contender; 1 thread unless stated. Median of 7 rounds; ns per "
        "value = time / (rows x columns). Kernel instruction-set level: "
        f"{kernels.isa()}. Load average at the start: "
        + ", ".join(f"{v:.1f}" for v in os.getloadavg()),
        "",
        "| data | n_bins | contender | ms per transform | ns per value | speed-up vs "
        "KBinsDiscretizer |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for label, X in sets.items():
        for n_bins in n_bins_list:
            times = time_one_setting(X, n_bins)
            base = times["KBinsDiscretizer.transform"]
            for name, t in times.items():
                lines.append(
                    f"| {label} | {n_bins} | {name} | {t * 1e3:.1f} | {t * 1e9 / X.size:.2f} | "
                    f"{base / t:.1f}x |"
                )
            print(lines[-2], lines[-1], sep="\n", flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--n-bins", type=int, nargs="+", default=[64, 255])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    body = run(args.rows, args.cols, args.n_bins, args.data_dir)
    print(body)
    path = write_results(
        "bench_binning",
        "Binning: greenauto Binner vs KBinsDiscretizer vs numpy.searchsorted",
        body,
        ["greenauto", "numpy", "scikit-learn"],
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
