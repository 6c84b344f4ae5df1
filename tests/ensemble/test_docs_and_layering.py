"""The docstring examples run, and the ensemble layer imports nothing above it."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import greenauto.ensemble

MODULES = [
    "greenauto.ensemble._learners",
    "greenauto.ensemble._spec",
    "greenauto.ensemble._voting",
    "greenauto.preprocessing._selector",
]
FORBIDDEN = ("greenauto.automl", "greenauto.compiled", "greenauto.energy", "greenauto.search")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_ensemble_imports_no_higher_layer() -> None:
    package = Path(greenauto.ensemble.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert imported, "the walk found no imports at all"
    assert not [m for m in imported if m.startswith(FORBIDDEN)]


def test_public_names_are_sorted_and_importable(ruff_sorted) -> None:
    names = greenauto.ensemble.__all__
    assert names == ruff_sorted(names)
    assert all(hasattr(greenauto.ensemble, n) for n in names)
