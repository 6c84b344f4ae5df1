"""Calibration of the cpu-time meter: RAPL (fake tree), codecarbon's TDP table, user figure."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from greenauto.energy import (
    Calibration,
    CpuTimeMeter,
    EnergyMeterError,
    EnergySource,
    RaplReader,
    calibrate,
    calibrate_from_codecarbon,
    calibrate_from_rapl,
)


def test_rapl_calibration_recovers_the_counter_slope(
    fake_powercap: Any, counter_driver: Any
) -> None:
    # package 0 charges 25 J per CPU-second of this process on top of 10 W idle per package;
    # forgetting to subtract idle power would give >= 45 W per CPU-second. The fake counters
    # are written by another process every 2 ms, hence the tolerance on a loaded machine.
    with counter_driver(fake_powercap, idle_watts=10.0, watts_per_cpu_second=25.0):
        cal = calibrate_from_rapl(RaplReader(fake_powercap.root), busy_seconds=0.25)
    assert cal.source is EnergySource.RAPL_CALIBRATED_CPU_TIME
    assert cal.watts_per_cpu_second == pytest.approx(25.0, rel=0.25)
    assert "idle" in cal.detail
    assert "intel-rapl:0" in cal.detail


def test_calibrate_prefers_rapl_when_readable(fake_powercap: Any, counter_driver: Any) -> None:
    with counter_driver(fake_powercap, idle_watts=5.0, watts_per_cpu_second=12.0):
        meter = CpuTimeMeter.calibrated(rapl_root=fake_powercap.root, busy_seconds=0.2)
    assert meter.source is EnergySource.RAPL_CALIBRATED_CPU_TIME
    assert meter.calibration.watts_per_cpu_second == pytest.approx(12.0, rel=0.25)


def test_frozen_rapl_counter_is_skipped_with_its_reason(fake_powercap: Any) -> None:
    cal = calibrate(2.0, order=("rapl", "user"), rapl_root=fake_powercap.root, busy_seconds=0.05)
    assert cal.source is EnergySource.USER_WATTS_CPU_TIME
    assert "skipped rapl: RAPL calibration found no energy above idle" in cal.detail


def test_without_rapl_codecarbon_tdp_is_next(tmp_path: Path) -> None:
    cal = calibrate(rapl_root=tmp_path / "absent")
    assert cal.source is EnergySource.CODECARBON_TDP_CPU_TIME
    assert "skipped rapl: No RAPL powercap tree" in cal.detail
    forced = calibrate(order=("codecarbon",))
    assert cal.watts_per_cpu_second == forced.watts_per_cpu_second


def test_codecarbon_tdp_per_thread_matches_its_table() -> None:
    from codecarbon.core.cpu import TDP
    from codecarbon.core.util import count_cpus, count_physical_cpus

    cal = calibrate_from_codecarbon()
    expected = TDP().tdp * count_physical_cpus() / count_cpus()
    assert cal.watts_per_cpu_second == pytest.approx(expected)
    assert cal.source is EnergySource.CODECARBON_TDP_CPU_TIME
    assert "codecarbon TDP table" in cal.detail


def test_user_figure_can_be_forced() -> None:
    cal = calibrate(7.5, order=("user",))
    assert cal == Calibration(7.5, EnergySource.USER_WATTS_CPU_TIME, "given by the user")


@pytest.mark.parametrize("watts", [0, -3.0, math.nan, math.inf])
def test_bad_watts_are_rejected(watts: float) -> None:
    with pytest.raises(ValueError, match="finite number > 0"):
        calibrate(watts, order=("user",))
    with pytest.raises(ValueError, match="finite number > 0"):
        CpuTimeMeter(Calibration.from_watts(watts))


def test_no_working_step_is_an_error_listing_reasons(tmp_path: Path) -> None:
    with pytest.raises(EnergyMeterError, match=r"No calibration step worked: rapl: .* user: no"):
        calibrate(order=("rapl", "user"), rapl_root=tmp_path / "absent")


def test_unknown_step_is_rejected() -> None:
    with pytest.raises(ValueError, match="order must name steps"):
        calibrate(1.0, order=("guess",))


def test_calibration_source_must_be_a_cpu_time_source() -> None:
    with pytest.raises(ValueError, match="source must be one of"):
        Calibration(3.0, EnergySource.RAPL)
