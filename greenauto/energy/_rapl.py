"""Reading CPU package energy from the Linux powercap (RAPL) sysfs tree.

Layout read (``root`` defaults to ``/sys/class/powercap``)::

    intel-rapl:0/            package domain of socket 0   <- read
        name                 "package-0"
        energy_uj            cumulative energy, microjoules, wraps at max_energy_range_uj
        max_energy_range_uj
    intel-rapl:0:0/          sub-domain (core, uncore, dram) <- skipped: inside the package
    intel-rapl:1/            socket 1 (or "psys" on laptops: skipped, not a package)
    intel-rapl-mmio:0/       the same package counter through MMIO <- skipped: a duplicate

AMD CPUs use the same ``intel-rapl`` names under Linux.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from greenauto.energy._errors import RaplUnavailableError

__all__ = ["DEFAULT_POWERCAP_ROOT", "RaplDomain", "RaplReader"]

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"
_PACKAGE_ZONE = re.compile(r"^intel-rapl:(\d+)$")


@dataclass(frozen=True)
class RaplDomain:
    """One package-level RAPL zone: its folder, name and counter range (microjoules)."""

    path: Path
    name: str
    max_energy_range_uj: int


def _read_int(path: Path) -> int:
    """Read an integer sysfs file; every failure becomes a `RaplUnavailableError`."""
    try:
        text = path.read_text()
    except PermissionError as exc:
        raise RaplUnavailableError(
            f"Cannot read the RAPL counter {path}: permission denied. Since Linux 5.10 the "
            "energy_uj files are readable by root only; run as root or make them readable "
            f"(e.g. `sudo chmod a+r {path}`), or use the cpu-time meter."
        ) from exc
    except OSError as exc:
        raise RaplUnavailableError(
            f"Cannot read the RAPL counter {path}: {exc.strerror or exc}."
        ) from exc
    try:
        return int(text.strip())
    except ValueError as exc:
        raise RaplUnavailableError(
            f"The RAPL file {path} does not hold an integer: {text.strip()[:40]!r}."
        ) from exc


class RaplReader:
    """Package energy (joules) summed over every CPU socket, with counter wrap-around handled.

    Parameters
    ----------
    root : str or path-like, default="/sys/class/powercap"
        The powercap folder. Package zones ``intel-rapl:N`` whose ``name`` starts with
        ``package`` are read; sub-domains ``intel-rapl:N:M``, ``psys`` and the duplicate
        ``intel-rapl-mmio:N`` zones are skipped.

    Raises
    ------
    RaplUnavailableError
        When there is no package zone under `root`, or a counter cannot be read.

    Notes
    -----
    Counters wrap at ``max_energy_range_uj`` (about 262 kJ, i.e. minutes at full load on a
    large server). A difference between two readings is corrected for one wrap; take
    readings at least every few minutes.
    """

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT) -> None:
        self.root = Path(root)
        self.domains = self._discover()
        self.read_uj()  # fail now, not in the middle of a search

    def _discover(self) -> tuple[RaplDomain, ...]:
        try:
            entries = sorted(os.listdir(self.root))
        except OSError as exc:
            raise RaplUnavailableError(
                f"No RAPL powercap tree at {self.root}: {exc.strerror or exc}. This machine "
                "(often a VM) exposes no CPU energy counters; use the cpu-time meter."
            ) from exc
        domains = []
        for entry in entries:
            if not _PACKAGE_ZONE.match(entry):
                continue  # sub-domains, mmio duplicates, the control-type folder
            zone = self.root / entry
            name_file = zone / "name"
            name = name_file.read_text().strip() if name_file.is_file() else entry
            if not name.startswith("package"):
                continue  # psys (whole platform) would double count the packages
            max_uj = _read_int(zone / "max_energy_range_uj")
            domains.append(RaplDomain(zone, name, max_uj))
        if not domains:
            raise RaplUnavailableError(
                f"No RAPL package domain (intel-rapl:N with name package-*) under {self.root}."
            )
        return tuple(domains)

    def read_uj(self) -> tuple[int, ...]:
        """Current counter of every package domain, in microjoules (one reading each)."""
        return tuple(_read_int(d.path / "energy_uj") for d in self.domains)

    def joules_between(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        """Energy in joules between two `read_uj` readings, summed over the packages."""
        total_uj = 0
        for domain, b, a in zip(self.domains, before, after, strict=True):
            delta = a - b
            if delta < 0:  # the counter wrapped once
                delta += domain.max_energy_range_uj
            total_uj += delta
        return total_uj * 1e-6

    def describe(self) -> str:
        """Short text naming the domains read, for a `Measurement.detail`."""
        names = ", ".join(f"{d.path.name} ({d.name})" for d in self.domains)
        return f"RAPL package domains under {self.root}: {names}"
