"""Shared fixtures: where the real datasets are, and Hypothesis settings."""

from __future__ import annotations

import os

# scikit-learn's array-API estimator check (NumPy inputs with dispatch enabled) runs only when
# this is set before SciPy is first imported; without it the check skips itself.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

settings.register_profile(
    "greenauto",
    deadline=None,  # shared 2-core machines: timing-based failures would be noise
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "greenauto"))


@pytest.fixture
def ruff_sorted():
    """Sorts names in ruff's isort-style ``__all__`` order (RUF022): CONSTANTS, Classes,
    functions (a fixture: test modules cannot import conftest in importlib mode)."""
    return lambda names: sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )


def shared_datasets_dir() -> Path | None:
    """The project's shared dataset folder (``../shared/datasets`` beside the repo), if any."""
    candidates = [os.environ.get("GREENAUTO_SHARED_DATASETS"), REPO.parent / "shared/datasets"]
    for cand in candidates:
        if cand and (Path(cand) / "MANIFEST.csv").is_file():
            return Path(cand)
    return None


def pytest_report_header(config: object) -> str:
    found = shared_datasets_dir()
    where = found if found else "not found: parity runs on the bundled datasets only"
    return f"greenauto shared datasets: {where}"
