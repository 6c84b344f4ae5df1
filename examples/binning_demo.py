"""Binning demo (the main job until the search lands): bin a bundled dataset through the
compiled kernel and show what it costs and what it keeps.

Run: ``make demo`` (sets everything up), or ``python examples/binning_demo.py [DATASET]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import KBinsDiscretizer
from sklearn.tree import DecisionTreeClassifier

from greenauto import Binner
from greenauto.datasets import list_datasets, load_dataset


def best_of(fn, repeat: int = 5) -> float:
    """Shortest wall time of ``repeat`` calls (a demo, not a benchmark: see benchmarks/)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(name: str = "magic") -> None:
    info = list_datasets().loc[name]
    X_frame, y = load_dataset(name)
    X = X_frame.select_dtypes("number").to_numpy(dtype=np.float32)
    print(
        f"dataset {name}: {X.shape[0]:,} rows, {X.shape[1]} numeric features, "
        f"{info['classes']} classes  (source: {info['source'][:60]}...)"
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )

    print(f"uint8 bins take {np.uint8().nbytes / np.float32().nbytes:.0%} of the float32 bytes")
    for n_bins in (255, 32, 8):
        binner = Binner(n_bins=n_bins, random_state=0).fit(X_train)
        tree = DecisionTreeClassifier(max_depth=10, random_state=0)
        tree.fit(binner.transform(X_train), y_train)
        acc = tree.score(binner.transform(X_test), y_test)
        print(f"  n_bins={n_bins:3d}:  depth-10 tree test accuracy {acc:.4f}")
    raw = DecisionTreeClassifier(max_depth=10, random_state=0).fit(X_train, y_train)
    print(f"  raw float32:  depth-10 tree test accuracy {raw.score(X_test, y_test):.4f}")

    binner = Binner(n_bins=255, random_state=0).fit(X)
    kb = KBinsDiscretizer(n_bins=255, encode="ordinal", quantile_method="averaged_inverted_cdf")
    kb.bin_edges_, kb.n_bins_, kb.n_features_in_, kb.dtype = (
        binner.bin_edges_,
        binner.n_bins_,
        X.shape[1],
        None,
    )
    assert np.array_equal(binner.transform(X), kb.transform(X)), "kernel != KBinsDiscretizer"
    t_ours, t_kb = best_of(lambda: binner.transform(X)), best_of(lambda: kb.transform(X))
    per_value = 1e9 / X.size
    print(
        f"transform of all {X.shape[0]:,} rows, same edges, identical output: greenauto "
        f"{t_ours * per_value:.1f} ns/value, KBinsDiscretizer {t_kb * per_value:.1f} ns/value "
        f"({t_kb / t_ours:.0f}x)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:2])
