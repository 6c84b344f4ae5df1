"""The RAPL reader and meter against fake powercap trees built in a temporary folder."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenauto.energy import EnergySource, RaplMeter, RaplReader, RaplUnavailableError


def test_reads_package_domains_only(fake_powercap: Any) -> None:
    reader = RaplReader(fake_powercap.root)
    assert [d.path.name for d in reader.domains] == ["intel-rapl:0", "intel-rapl:1"]
    assert [d.name for d in reader.domains] == ["package-0", "package-1"]
    assert all(d.max_energy_range_uj == fake_powercap.max_uj for d in reader.domains)


def test_several_sockets_are_summed_and_subdomains_ignored(fake_powercap: Any) -> None:
    reader = RaplReader(fake_powercap.root)
    before = reader.read_uj()
    fake_powercap.write(fake_powercap.packages[0], 1_500_000)  # +1.5 J
    fake_powercap.write(fake_powercap.packages[1], 2_000_000)  # +2.0 J
    for zone in [*fake_powercap.subdomains, fake_powercap.mmio]:
        fake_powercap.write(zone, 99_000_000)  # must not count
    assert reader.joules_between(before, reader.read_uj()) == pytest.approx(3.5)


def test_wrap_around_uses_max_energy_range(fake_powercap: Any) -> None:
    fake_powercap.write(fake_powercap.packages[0], fake_powercap.max_uj - 1_000_000)
    reader = RaplReader(fake_powercap.root)
    before = reader.read_uj()
    fake_powercap.write(fake_powercap.packages[0], 500_000)  # wrapped: 1.0 J + 0.5 J
    assert reader.joules_between(before, reader.read_uj()) == pytest.approx(1.5)


def test_psys_domain_is_not_a_package(tmp_path: Path, make_powercap: Any) -> None:
    fake = make_powercap(tmp_path / "pc", sockets=1)
    psys = fake._zone("intel-rapl:1", "psys")
    fake.write(psys, 10**9)
    reader = RaplReader(fake.root)
    assert [d.name for d in reader.domains] == ["package-0"]


def test_missing_tree_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RaplUnavailableError, match=r"No RAPL powercap tree at .*no_such"):
        RaplReader(tmp_path / "no_such")


def test_tree_without_package_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "intel-rapl").mkdir()
    with pytest.raises(RaplUnavailableError, match="No RAPL package domain"):
        RaplReader(tmp_path)


def test_counter_that_is_a_directory(fake_powercap: Any) -> None:
    counter = fake_powercap.packages[1] / "energy_uj"
    counter.unlink()
    counter.mkdir()
    with pytest.raises(RaplUnavailableError, match=r"Cannot read the RAPL counter .*intel-rapl:1"):
        RaplReader(fake_powercap.root)


def test_counter_that_is_a_broken_symlink(fake_powercap: Any) -> None:
    counter = fake_powercap.packages[0] / "energy_uj"
    counter.unlink()
    counter.symlink_to(fake_powercap.root / "gone")
    with pytest.raises(RaplUnavailableError, match="No such file"):
        RaplReader(fake_powercap.root)


def test_counter_that_is_not_a_number(fake_powercap: Any) -> None:
    (fake_powercap.packages[0] / "energy_uj").write_text("n/a\n")
    with pytest.raises(RaplUnavailableError, match="does not hold an integer"):
        RaplReader(fake_powercap.root)


@pytest.fixture
def world_traversable_tree(make_powercap: Any) -> Iterator[Any]:
    """A fake tree in a folder anyone may traverse (pytest's tmp folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="greenauto-rapl-"))
    os.chmod(folder, 0o755)
    fake = make_powercap(folder / "powercap", sockets=1)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    yield fake
    shutil.rmtree(folder)


def test_permission_denied_is_a_clear_error(world_traversable_tree: Any) -> None:
    """Root reads any file, so as root the read is done with the effective uid of nobody."""
    reader = RaplReader(world_traversable_tree.root)
    os.chmod(world_traversable_tree.packages[0] / "energy_uj", 0o000)
    as_root = os.geteuid() == 0
    if as_root:
        os.seteuid(65534)  # nobody; the saved uid lets us come back
    try:
        with pytest.raises(RaplUnavailableError, match=r"permission denied.*root only"):
            reader.read_uj()
    finally:
        if as_root:
            os.seteuid(0)


def test_rapl_meter_measures_package_energy(fake_powercap: Any, counter_driver: Any) -> None:
    with counter_driver(fake_powercap, idle_watts=10.0, watts_per_cpu_second=25.0):
        meter = RaplMeter(fake_powercap.root)
        m = meter.measure(lambda: (time.sleep(0.1), sum(range(3_000_000))))
    # two packages at 10 W idle each, plus 25 W per CPU-second of this process on package 0
    assert m.source is EnergySource.RAPL
    assert m.kind == "measured"
    expected = 20.0 * m.wall_seconds + 25.0 * m.cpu_seconds
    assert m.joules == pytest.approx(expected, rel=0.15)
    assert "intel-rapl:0 (package-0)" in m.detail
