"""The Examples sections of greenauto.energy run as doctests (codecarbon's is skipped: it
starts a tracker, which tests/energy/test_codecarbon.py does for real)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "greenauto.energy._calibration",
    "greenauto.energy._co2",
    "greenauto.energy._measurement",
    "greenauto.energy._meters",
    "greenauto.energy._protocol",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_names_are_sorted_and_exported() -> None:
    import greenauto.energy as energy

    # ruff's isort-style order (RUF022): CONSTANTS, then Classes, then functions
    def style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert energy.__all__ == sorted(energy.__all__, key=style)
    assert all(hasattr(energy, name) for name in energy.__all__)
    documented = [n for n in energy.__all__ if getattr(energy, n).__doc__]
    assert documented == energy.__all__
