"""Grams of CO2-equivalent from joules, with codecarbon's offline carbon-intensity data.

codecarbon ships the data inside its package (``codecarbon/data/private_infra/``: the energy
mix of 213 countries, US states, Canadian provinces, Chinese provinces and Nordic bidding
zones). It is read through codecarbon's own ``DataSource`` and ``Emissions`` classes, with no
network access (no Electricity Maps token is ever passed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from greenauto.energy._calibration import quiet_codecarbon

__all__ = ["CarbonIntensity", "carbon_intensity", "grams_co2eq"]

JOULES_PER_KWH = 3.6e6
_NORDIC_PREFIX = {"SWE": "SE", "NOR": "NO", "FIN": "FI"}
_REGIONAL = ("USA", "CAN", "CHN", *_NORDIC_PREFIX)
_CHINA_SUFFIX = re.compile(r"\s+(autonomous region|municipality|province|sheng|shi|zizhiqu)$")


@dataclass(frozen=True)
class CarbonIntensity:
    """Grid carbon intensity of a country (or region) and where it comes from.

    Parameters
    ----------
    grams_per_kwh : float
        Grams of CO2-equivalent per kWh of electricity.
    country_iso_code : str
        3-letter ISO code, upper case.
    region : str or None
        Region used, or None for the country's mix.
    source : str
        Label of the data, e.g. ``"codecarbon offline data: FRA energy mix"``.
    """

    grams_per_kwh: float
    country_iso_code: str
    region: str | None
    source: str

    def grams(self, joules: float, *, pue: float = 1.0) -> float:
        """Grams CO2eq for `joules` of IT energy, times the data centre's `pue` (>= 1)."""
        if not math.isfinite(joules) or joules < 0:
            raise ValueError(f"joules must be finite and >= 0. Got {joules!r} instead.")
        if not math.isfinite(pue) or pue < 1.0:
            raise ValueError(f"pue must be a finite number >= 1. Got {pue!r} instead.")
        return joules * pue / JOULES_PER_KWH * self.grams_per_kwh


def _check_country(country_iso_code: object) -> str:
    from codecarbon.input import DataSource

    code = country_iso_code.upper() if isinstance(country_iso_code, str) else None
    known = DataSource().get_global_energy_mix_data()
    if code is None or code not in known:
        raise ValueError(
            f"Unknown country code {country_iso_code!r}: codecarbon's offline data has no "
            "such 3-letter ISO code (e.g. 'FRA', 'USA', 'DEU', 'IND')."
        )
    return code


def _known_regions(code: str) -> set[str]:
    """Region names codecarbon has data for in country `code` (lower case)."""
    from codecarbon.input import DataSource

    data = DataSource()
    if code == "USA":
        return {k for k in data.get_country_emissions_data("usa") if not k.startswith("_")}
    if code == "CAN":
        return set(data.get_country_energy_mix_data("can"))
    if code == "CHN":
        provinces = data.get_china_provincial_emissions_data()["data"].values()
        return {name for p in provinces for name in p["names"]}
    zones = data.get_nordic_country_energy_mix_data()["data"]
    return {z.lower() for z in zones if z.startswith(_NORDIC_PREFIX[code])}


def _check_region(code: str, region: object) -> str | None:
    if region is None:
        return None
    if not isinstance(region, str) or code not in _REGIONAL:
        raise ValueError(
            f"Region {region!r} cannot be used for {code}: codecarbon has regional data only "
            f"for {', '.join(_REGIONAL)}. Pass region=None to use the country's energy mix."
        )
    name = " ".join(region.lower().split())
    lookup = _CHINA_SUFFIX.sub("", name) if code == "CHN" else name
    known = _known_regions(code)
    if lookup not in known:
        examples = ", ".join(sorted(known)[:5])
        raise ValueError(
            f"Unknown region {region!r} for {code} in codecarbon's offline data "
            f"(known regions include: {examples}, ...)."
        )
    return name


def carbon_intensity(country_iso_code: str, region: str | None = None) -> CarbonIntensity:
    """Carbon intensity of the grid of a country, or of a region where codecarbon has one.

    Parameters
    ----------
    country_iso_code : str
        3-letter ISO code (case-insensitive), e.g. ``"FRA"``.
    region : str or None, default=None
        US state, Canadian or Chinese province, or Nordic bidding zone (``"SE3"``).

    Raises
    ------
    ValueError
        For a country code or a region codecarbon has no data for.

    Examples
    --------
    >>> from greenauto.energy import carbon_intensity
    >>> ci = carbon_intensity("FRA")
    >>> ci.source
    'codecarbon offline data: FRA energy mix'
    >>> round(ci.grams(3.6e6))  # one kWh
    56
    """
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    code = _check_country(country_iso_code)
    name = _check_region(code, region)
    geo = GeoMetadata(country_iso_code=code, region=name)
    with quiet_codecarbon():
        kg_per_kwh = Emissions(DataSource()).get_private_infra_emissions(Energy(kWh=1.0), geo)
    where = f"{code} region {name}" if name else f"{code} energy mix"
    return CarbonIntensity(
        float(kg_per_kwh) * 1000.0, code, name, f"codecarbon offline data: {where}"
    )


def grams_co2eq(
    joules: float, country_iso_code: str, region: str | None = None, *, pue: float = 1.0
) -> float:
    """Grams of CO2-equivalent for `joules`, with the grid of a country (or region).

    Parameters
    ----------
    joules : float
        IT energy, in joules (>= 0).
    country_iso_code, region
        See `carbon_intensity`.
    pue : float, default=1.0
        Power usage effectiveness of the data centre (>= 1).

    Examples
    --------
    >>> from greenauto.energy import grams_co2eq
    >>> grams_co2eq(3.6e6, "FRA", pue=1.5) == 1.5 * grams_co2eq(3.6e6, "FRA")
    True
    """
    return carbon_intensity(country_iso_code, region).grams(joules, pue=pue)
