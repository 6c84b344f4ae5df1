"""codecarbon's offline tracker, for real: no socket, no stray file, usable totals."""

from __future__ import annotations

import logging
import math
import os
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest

from greenauto.energy import (
    CodecarbonError,
    CodecarbonMeter,
    EnergySource,
    SearchEmissions,
    grams_co2eq,
)

LOCK_FILE = Path(tempfile.gettempdir()) / ".codecarbon.lock"


def _numpy_work() -> None:
    a = np.random.default_rng(0).random((300, 300))
    for _ in range(10):
        a = np.tanh(a @ a / 300.0)


def test_tracking_opens_no_socket_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Importing urllib3 (pulled in by codecarbon) creates a local IPv6 socket to probe for
    # IPv6 support; that is an import, not tracking, so the modules are imported first.
    import codecarbon.emissions_tracker  # noqa: F401
    import requests  # noqa: F401

    monkeypatch.chdir(tmp_path)
    attempts: list[str] = []

    class NoSocket(socket.socket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            attempts.append(f"socket{args}")
            raise OSError("greenauto test: network access is forbidden")

    def no_connection(*args: object, **kwargs: object) -> None:
        attempts.append(f"create_connection{args}")
        raise OSError("greenauto test: network access is forbidden")

    before = sorted(os.listdir(tmp_path))
    lock_existed = LOCK_FILE.exists()
    with monkeypatch.context() as patch:
        patch.setattr(socket, "socket", NoSocket)
        patch.setattr(socket, "create_connection", no_connection)
        meter = CodecarbonMeter("FRA", measure_power_secs=1.0)
        meter.start()
        assert LOCK_FILE.exists() == lock_existed  # no lock file of ours
        task = meter.measure(_numpy_work)
        totals = meter.stop()

    assert attempts == []
    assert sorted(os.listdir(tmp_path)) == before
    assert LOCK_FILE.exists() == lock_existed
    assert task.source is EnergySource.CODECARBON_TRACKER
    assert math.isfinite(task.joules)
    assert task.joules > 0
    assert isinstance(totals, SearchEmissions)
    assert math.isfinite(totals.joules)
    assert totals.joules >= task.joules
    assert math.isfinite(totals.grams_co2eq)
    assert totals.grams_co2eq > 0
    assert "codecarbon tracker estimate" in str(totals)
    # codecarbon's CO2 agrees with our conversion of its energy (same offline data)
    assert totals.grams_co2eq == pytest.approx(grams_co2eq(totals.joules, "FRA"), rel=1e-3)


def test_output_dir_is_the_only_place_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    monkeypatch.chdir(cwd)
    with CodecarbonMeter("DEU", output_dir=out, warm_up=False) as meter:
        meter.measure(_numpy_work)
    assert os.listdir(cwd) == []
    written = os.listdir(out)  # the run's emissions.csv plus one file for the tasks
    assert "emissions.csv" in written
    assert all(name.startswith("emissions") for name in written)


def test_regional_intensity_and_pue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with CodecarbonMeter("USA", "California", pue=1.5, warm_up=False) as meter:
        meter.measure(_numpy_work)
    totals = meter.emissions
    assert totals is not None
    assert totals.region == "california"
    # codecarbon multiplies the energy by the PUE; grams follow the regional intensity
    assert totals.grams_co2eq == pytest.approx(
        grams_co2eq(totals.joules, "USA", "California"), rel=1e-3
    )
    assert "pue=1.5" in totals.detail


def test_log_level_is_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("codecarbon")
    logger.setLevel(logging.WARNING)
    with CodecarbonMeter("FRA", warm_up=False) as meter:
        assert logger.level == logging.ERROR
        meter.measure(_numpy_work)
    assert logger.level == logging.WARNING


def test_a_meter_cannot_be_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    meter = CodecarbonMeter("FRA", warm_up=False)
    with pytest.raises(CodecarbonError, match="not running"):
        meter.measure(_numpy_work)
    with meter:
        pass
    with pytest.raises(CodecarbonError, match="cannot be restarted"):
        meter.start()
    with pytest.raises(CodecarbonError, match="not running"):
        meter.stop()


def test_codecarbon_failing_to_initialise_is_an_error(tmp_path: Path) -> None:
    # codecarbon's __init__ swallows its own exception (here: the output folder is gone)
    out = tmp_path / "out"
    out.mkdir()
    meter = CodecarbonMeter("FRA", output_dir=out)
    out.rmdir()
    with pytest.raises(CodecarbonError, match="failed to initialise"):
        meter.start()
    assert not meter.running


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"country_iso_code": "ZZZ"}, "Unknown country code 'ZZZ'"),
        ({"country_iso_code": "USA", "region": "Narnia"}, "Unknown region 'Narnia'"),
        ({"country_iso_code": "FRA", "pue": 0.5}, "pue must be a number >= 1"),
        ({"country_iso_code": "FRA", "tracking_mode": "gpu"}, "tracking_mode must be"),
        ({"country_iso_code": "FRA", "log_level": "loud"}, "log_level must be one of"),
        ({"country_iso_code": "FRA", "output_dir": "/no/such/dir"}, "is not a folder"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CodecarbonMeter(**kwargs)  # type: ignore[arg-type]


def test_codecarbon_configuration_cannot_turn_network_or_files_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codecarbon.emissions_tracker  # noqa: F401  (see the first test)
    import requests  # noqa: F401

    monkeypatch.chdir(tmp_path)
    for key, value in {
        "CODECARBON_OUTPUT_METHODS": "csv,api",
        "CODECARBON_SAVE_TO_FILE": "true",
        "CODECARBON_SAVE_TO_API": "true",
        "CODECARBON_ALLOW_MULTIPLE_RUNS": "false",
        "CODECARBON_ELECTRICITYMAPS_API_TOKEN": "not-a-real-token",
        # read from the configuration even when the tracker is given a token of None
        "CODECARBON_CO2_SIGNAL_API_TOKEN": "not-a-real-token",
    }.items():
        monkeypatch.setenv(key, value)
    attempts: list[str] = []

    def no_connection(*args: object, **kwargs: object) -> None:
        attempts.append(f"create_connection{args}")
        raise OSError("greenauto test: network access is forbidden")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    lock_existed = LOCK_FILE.exists()
    meter = CodecarbonMeter("FRA", warm_up=False)
    with pytest.warns(UserWarning, match="Ignoring the Electricity Maps token"):
        meter.start()
    meter.measure(_numpy_work)
    totals = meter.stop()
    assert attempts == []
    assert os.listdir(tmp_path) == []
    assert LOCK_FILE.exists() == lock_existed
    assert totals.grams_co2eq == pytest.approx(grams_co2eq(totals.joules, "FRA"), rel=1e-3)
