"""The `Measurement` record and `EnergySource` labels."""

from __future__ import annotations

import dataclasses
import math

import pytest

from greenauto.energy import EnergySource, Measurement


def _m(**changes: object) -> Measurement:
    base = Measurement(1.0, 0.25, 0.3, 4, EnergySource.CODECARBON_TDP_CPU_TIME, rows=500)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("source", list(EnergySource))
def test_str_always_shows_source_and_kind(source: EnergySource) -> None:
    text = str(_m(source=source))
    assert source.value in text
    assert f"({source.kind}, " in text


def test_kinds() -> None:
    assert EnergySource.RAPL.kind == "measured"
    assert EnergySource.OPERATION_COUNT_MODEL.kind == "modelled"
    estimated = set(EnergySource) - {EnergySource.RAPL, EnergySource.OPERATION_COUNT_MODEL}
    assert {s.kind for s in estimated} == {"estimated"}


def test_per_1k_rows_and_source_from_string() -> None:
    m = _m(source="rapl")
    assert m.source is EnergySource.RAPL
    assert m.joules_per_1k_rows == pytest.approx(2.0)
    assert _m(rows=None).joules_per_1k_rows is None
    assert "2 J per 1k rows" in str(m)


def test_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _m().joules = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"joules": -1.0}, "joules must be finite"),
        ({"joules": math.nan}, "joules must be finite"),
        ({"cpu_seconds": math.inf}, "cpu_seconds must be finite"),
        ({"calls": 0}, "calls must be >= 1"),
        ({"rows": 0}, "rows must be >= 1"),
    ],
)
def test_invalid_figures_are_rejected(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _m(**changes)


def test_unknown_source_is_rejected() -> None:
    with pytest.raises(ValueError, match="'guess' is not a valid EnergySource"):
        _m(source="guess")
