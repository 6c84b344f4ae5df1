"""Fixtures for the energy tests: a fake powercap (RAPL) tree and its counter driver."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Counter range of a real package domain (about 262 kJ).
MAX_UJ = 262_143_328_850


class FakePowercap:
    """A powercap folder like /sys/class/powercap, with counters the test can move.

    Built for `sockets` packages, each with a ``core`` sub-domain, plus the ``intel-rapl``
    control-type folder and one ``intel-rapl-mmio:0`` duplicate of package 0 (the reader must
    skip all three kinds).
    """

    def __init__(self, root: Path, *, sockets: int = 1, max_uj: int = MAX_UJ) -> None:
        self.root = root
        self.max_uj = max_uj
        root.mkdir(parents=True, exist_ok=True)
        (root / "intel-rapl").mkdir()
        (root / "intel-rapl" / "enabled").write_text("1\n")
        self.packages = [self._zone(f"intel-rapl:{s}", f"package-{s}") for s in range(sockets)]
        self.subdomains = [self._zone(f"intel-rapl:{s}:0", "core") for s in range(sockets)]
        self.mmio = self._zone("intel-rapl-mmio:0", "package-0")

    def _zone(self, folder: str, name: str) -> Path:
        zone = self.root / folder
        zone.mkdir()
        (zone / "name").write_text(name + "\n")
        (zone / "max_energy_range_uj").write_text(f"{self.max_uj}\n")
        (zone / "energy_uj").write_text("0\n")
        return zone

    def write(self, zone: Path, uj: int) -> None:
        """Set a counter atomically (a reader never sees a half-written file)."""
        tmp = zone / "energy_uj.tmp"
        tmp.write_text(f"{uj}\n")
        os.replace(tmp, zone / "energy_uj")


# The driver runs in its own process: a thread would share the GIL with the code under
# measurement and add its own CPU time to the process, both of which skew the figures.
_DRIVER = """
import os, sys, time
pid, idle, k, max_uj = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
zones = sys.argv[5:]
clock = ((~pid) << 3) | 2  # Linux: CPU-time clock of process `pid` (clock_getcpuclockid)
c0, w0 = time.clock_gettime(clock), time.perf_counter()
while True:
    wall, cpu = time.perf_counter() - w0, time.clock_gettime(clock) - c0
    for i, zone in enumerate(zones):
        joules = idle * wall + (k * cpu if i == 0 else 0.0)
        with open(zone + "/energy_uj.tmp", "w") as f:
            f.write(str(int(joules * 1e6) % max_uj))
        os.replace(zone + "/energy_uj.tmp", zone + "/energy_uj")
    time.sleep(0.002)
"""


class CounterDriver:
    """Separate process that advances the package counters like real hardware would.

    Package 0 gets ``idle_watts x wall time + watts_per_cpu_second x CPU time of the test
    process``; other packages get idle power only. Sub-domains and the mmio duplicate are
    set to large unrelated values, so that reading them by mistake shows in the figures.
    """

    def __init__(
        self, fake: FakePowercap, *, idle_watts: float = 10.0, watts_per_cpu_second: float = 25.0
    ) -> None:
        self.fake = fake
        self.args = [str(os.getpid()), str(idle_watts), str(watts_per_cpu_second)]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CounterDriver:
        for zone in [*self.fake.subdomains, self.fake.mmio]:
            self.fake.write(zone, self.fake.max_uj // 3)
        zones = [str(z) for z in self.fake.packages]
        self._process = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, *self.args, str(self.fake.max_uj), *zones]
        )
        first = self.fake.packages[0] / "energy_uj"
        deadline = time.perf_counter() + 10.0
        while first.read_text().strip() == "0" and time.perf_counter() < deadline:
            time.sleep(0.01)  # wait for the first write
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait()


@pytest.fixture
def fake_powercap(tmp_path: Path) -> FakePowercap:
    return FakePowercap(tmp_path / "powercap", sockets=2)


@pytest.fixture
def driven_powercap(fake_powercap: FakePowercap) -> Iterator[CounterDriver]:
    with CounterDriver(fake_powercap) as driver:
        yield driver


@pytest.fixture
def make_powercap() -> type[FakePowercap]:
    """The `FakePowercap` class (test modules cannot import conftest in importlib mode)."""
    return FakePowercap


@pytest.fixture
def counter_driver() -> type[CounterDriver]:
    """The `CounterDriver` class (test modules cannot import conftest in importlib mode)."""
    return CounterDriver
