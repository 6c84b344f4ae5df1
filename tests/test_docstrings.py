"""Every Examples section in the installed package runs as a doctest."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import greenauto

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _doctests() -> list[doctest.DocTest]:
    tests = []
    for info in pkgutil.walk_packages(greenauto.__path__, prefix="greenauto."):
        module = importlib.import_module(info.name)
        found = doctest.DocTestFinder().find(module, module=module)
        tests += [t for t in found if t.examples]
    return sorted(tests, key=lambda t: t.name)


DOCTESTS = _doctests()


def test_public_objects_have_examples() -> None:
    names = {t.name for t in DOCTESTS}
    assert "greenauto.preprocessing._binner.Binner" in names
    assert "greenauto.pareto.ParetoFront" in names


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda t: t.name)
def test_doctest(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) failed in {test.name}"
