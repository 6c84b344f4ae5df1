"""Grams CO2eq from codecarbon's offline carbon-intensity data."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from greenauto.energy import carbon_intensity, grams_co2eq


def test_country_intensity_is_codecarbons_figure() -> None:
    path = files("codecarbon").joinpath("data/private_infra/global_energy_mix.json")
    mix = json.loads(path.read_text())
    ci = carbon_intensity("fra")  # case-insensitive
    assert ci.country_iso_code == "FRA"
    assert ci.region is None
    assert ci.grams_per_kwh == pytest.approx(mix["FRA"]["carbon_intensity"])
    assert ci.source == "codecarbon offline data: FRA energy mix"


def test_one_kwh_and_pue() -> None:
    g = grams_co2eq(3.6e6, "DEU")
    assert g == pytest.approx(carbon_intensity("DEU").grams_per_kwh)
    assert grams_co2eq(3.6e6, "DEU", pue=1.4) == pytest.approx(1.4 * g)
    assert grams_co2eq(0.0, "DEU") == 0.0


@pytest.mark.parametrize(
    ("country", "region"),
    [("USA", "California"), ("CAN", "ontario"), ("SWE", "SE3"), ("CHN", "Beijing")],
)
def test_regional_data_differs_from_the_country_mix(country: str, region: str) -> None:
    regional = carbon_intensity(country, region)
    assert regional.region == region.lower()
    assert "region" in regional.source
    assert regional.grams_per_kwh > 0
    assert regional.grams_per_kwh != pytest.approx(carbon_intensity(country).grams_per_kwh)


@pytest.mark.parametrize("code", ["XXX", "FR", "", None, 250])
def test_unknown_country_names_the_code(code: object) -> None:
    with pytest.raises(ValueError, match=f"Unknown country code {code!r}"):
        grams_co2eq(1.0, code)  # type: ignore[arg-type]


def test_unknown_region_names_it() -> None:
    with pytest.raises(ValueError, match="Unknown region 'Atlantis' for USA"):
        carbon_intensity("USA", "Atlantis")


def test_region_for_a_country_without_regional_data() -> None:
    with pytest.raises(ValueError, match="Region 'Bavaria' cannot be used for DEU"):
        carbon_intensity("DEU", "Bavaria")


@pytest.mark.parametrize(("joules", "pue"), [(-1.0, 1.0), (1.0, 0.9), (float("nan"), 1.0)])
def test_bad_joules_or_pue(joules: float, pue: float) -> None:
    with pytest.raises(ValueError, match=r"must be finite|pue must be"):
        grams_co2eq(joules, "FRA", pue=pue)
