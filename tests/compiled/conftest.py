"""Shared data for the compiled-inference tests: every dataset, encoded and subsampled."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from greenauto import Binner, ConstantFeatureWarning

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
BUNDLED = Path(__file__).resolve().parents[2] / "datasets"
MAX_ROWS = 3000  # rows per dataset: fit on the first 2/3, predict on all


def dataset_files() -> list[Path]:
    """Every dataset of ../shared/datasets (the bundled copies when that folder is absent)."""
    folder = SHARED if SHARED.is_dir() else BUNDLED
    return sorted(folder.glob("*.csv.gz"))


DATASETS = [p.name.removesuffix(".csv.gz") for p in dataset_files()]
if not DATASETS:  # parametrized parity tests would otherwise skip themselves silently
    raise RuntimeError(f"No dataset found in {SHARED} nor in {BUNDLED}.")


@cache
def encoded(name: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 features (strings as integer codes, missing as NaN) and int64 labels."""
    path = next(p for p in dataset_files() if p.name == f"{name}.csv.gz")
    frame = pd.read_csv(path)
    frame = frame.sample(min(len(frame), MAX_ROWS), random_state=0)  # shuffled
    y = pd.factorize(frame.pop("target"), sort=True)[0].astype(np.int64)
    columns = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            columns.append(values.to_numpy(np.float64))
        else:
            codes = pd.factorize(values, sort=True)[0].astype(np.float64)
            codes[codes < 0] = np.nan
            columns.append(codes)
    return np.column_stack(columns).astype(np.float32), y


@cache
def binned(name: str, n_bins: int = 32) -> tuple[Binner, np.ndarray, np.ndarray, np.ndarray]:
    """A Binner fitted on the dataset, the raw X, its codes and y."""
    X, y = encoded(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        binner = Binner(n_bins=n_bins).fit(X)
    return binner, X, binner.transform(X), y


def fit_rows(n: int) -> slice:
    """Rows to fit on: the first two thirds."""
    return slice(0, max(2, 2 * n // 3))
