"""Real datasets for parametrised tests: every shared dataset, else every bundled one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from greenauto.datasets import list_datasets, load_csv, load_dataset

from .conftest import shared_datasets_dir


def dataset_names() -> list[str]:
    """Names of the datasets the parity tests run on."""
    shared = shared_datasets_dir()
    if shared is not None:
        return sorted(p.name.removesuffix(".csv.gz") for p in shared.glob("*.csv.gz"))
    return sorted(list_datasets().index)


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Load ``name`` from the shared folder if present, else from the bundled copies."""
    shared = shared_datasets_dir()
    if shared is not None:
        return load_csv(Path(shared) / f"{name}.csv.gz")
    return load_dataset(name)
