"""codecarbon's `OfflineEmissionsTracker` as a search-level meter: total energy and CO2.

One tracker per search (codecarbon trackers cannot be restarted), always the offline one
(the country is given, no geolocation request), with no output method unless an output
folder is asked for, no lock file (``allow_multiple_runs=True``) and a warm-up task.
codecarbon's ``__init__``, ``start`` and ``stop`` swallow every exception and return None;
this module checks their effect and raises `CodecarbonError` instead of reporting a zero.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

from greenauto.energy._co2 import JOULES_PER_KWH, _check_country, _check_region
from greenauto.energy._errors import CodecarbonError
from greenauto.energy._measurement import EnergySource
from greenauto.energy._meters import EnergyMeter

__all__ = ["CodecarbonMeter", "SearchEmissions"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_task_ids = itertools.count()


@dataclass(frozen=True)
class SearchEmissions:
    """Total energy and CO2 of a tracked search, as codecarbon estimated them.

    Parameters
    ----------
    joules : float
        Energy over the whole tracking period (CPU + RAM estimate, times the PUE).
    grams_co2eq : float
        Emissions, grams CO2-equivalent, with codecarbon's offline data for the country.
    duration_seconds : float
        Length of the tracking period.
    country_iso_code, region
        Where the grid intensity comes from.
    detail : str
        codecarbon version, tracking mode and hardware it used.
    source : EnergySource
        Always ``EnergySource.CODECARBON_TRACKER``.
    """

    joules: float
    grams_co2eq: float
    duration_seconds: float
    country_iso_code: str
    region: str | None
    detail: str
    source: EnergySource = EnergySource.CODECARBON_TRACKER

    def __str__(self) -> str:
        where = f"{self.country_iso_code}/{self.region}" if self.region else self.country_iso_code
        return (
            f"{self.joules:.4g} J, {self.grams_co2eq:.4g} g CO2eq ({where}) over "
            f"{self.duration_seconds:.3g} s ({self.source.kind}, {self.source.value})"
        )


class CodecarbonMeter(EnergyMeter):
    """codecarbon's offline tracker over a whole search; `measure` runs a codecarbon task.

    Per-call figures from codecarbon vary by 17-68 % on a VM and include a constant RAM
    term, so use this meter for the search total (`stop`), and the cpu-time meter per trial.

    Parameters
    ----------
    country_iso_code : str
        3-letter ISO code of the country whose grid powers the machine (e.g. ``"FRA"``).
    region : str or None, default=None
        Region where codecarbon has data (US state, Canadian/Chinese province, Nordic zone).
    pue : float, default=1.0
        Power usage effectiveness of the data centre (>= 1); codecarbon multiplies energy.
    tracking_mode : {"process", "machine"}, default="process"
        codecarbon's mode: this process's CPU load, or the whole machine's.
    measure_power_secs : float, default=15.0
        Interval of codecarbon's background power sampling.
    log_level : str, default="error"
        Level of the ``codecarbon`` logger while tracking.
    output_dir : path or None, default=None
        If given, codecarbon also writes its ``emissions.csv`` there; otherwise no file.
    warm_up : bool, default=True
        Run one short codecarbon task at `start` (its first task carries set-up costs).

    Raises
    ------
    ValueError
        For an unknown country or region, a bad `pue`, mode or log level.
    CodecarbonError
        When codecarbon fails to start, measure or stop.

    Examples
    --------
    >>> from greenauto.energy import CodecarbonMeter
    >>> with CodecarbonMeter("FRA") as meter:  # doctest: +SKIP
    ...     m = meter.measure(lambda: sum(range(10**6)))
    >>> meter.emissions.grams_co2eq > 0  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        country_iso_code: str,
        region: str | None = None,
        *,
        pue: float = 1.0,
        tracking_mode: str = "process",
        measure_power_secs: float = 15.0,
        log_level: str = "error",
        output_dir: str | os.PathLike[str] | None = None,
        warm_up: bool = True,
    ) -> None:
        self.country_iso_code = _check_country(country_iso_code)
        self.region = _check_region(self.country_iso_code, region)
        if not isinstance(pue, (int, float)) or not math.isfinite(pue) or pue < 1.0:
            raise ValueError(f"CodecarbonMeter's pue must be a number >= 1. Got {pue!r}.")
        if tracking_mode not in ("process", "machine"):
            raise ValueError(
                "CodecarbonMeter's tracking_mode must be 'process' or 'machine'. "
                f"Got {tracking_mode!r} instead."
            )
        if log_level not in _LOG_LEVELS:
            raise ValueError(f"CodecarbonMeter's log_level must be one of {_LOG_LEVELS}.")
        if output_dir is not None and not os.path.isdir(output_dir):
            raise ValueError(f"CodecarbonMeter's output_dir {output_dir!r} is not a folder.")
        self.pue = float(pue)
        self.tracking_mode = tracking_mode
        self.measure_power_secs = float(measure_power_secs)
        self.log_level = log_level
        self.output_dir = output_dir
        self.warm_up = warm_up
        self.emissions: SearchEmissions | None = None
        self._tracker: Any = None
        self._saved_log_level = logging.NOTSET
        self._started_at = 0.0
        self._stopped = False

    @property
    def source(self) -> EnergySource:
        return EnergySource.CODECARBON_TRACKER

    @property
    def detail(self) -> str:
        import codecarbon

        hardware = getattr(self._tracker, "_conf", {}).get("hardware", "not started")
        return (
            f"codecarbon {codecarbon.__version__} OfflineEmissionsTracker, "
            f"tracking_mode={self.tracking_mode}, pue={self.pue:g}, hardware: {hardware}"
        )

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`."""
        return self._tracker is not None and not self._stopped

    def _tracker_options(self) -> dict[str, Any]:
        """Keyword arguments for the tracker, adapted to the installed codecarbon version.

        Every option that could open a socket or write a file is set explicitly, so that a
        ``~/.codecarbon.config`` or a ``CODECARBON_*`` variable cannot turn it back on.
        """
        from codecarbon.emissions_tracker import BaseEmissionsTracker

        accepted = inspect.signature(BaseEmissionsTracker.__init__).parameters
        options: dict[str, Any] = {
            "emissions_endpoint": None,
            "electricitymaps_api_token": None,
            "co2_signal_api_token": None,
            "allow_multiple_runs": True,  # False would write /tmp/.codecarbon.lock
            "tracking_mode": self.tracking_mode,
            "measure_power_secs": self.measure_power_secs,
            "log_level": self.log_level,
            "pue": self.pue,
        }
        if self.output_dir is not None:
            options["output_dir"] = os.fspath(self.output_dir)
        if "output_methods" in accepted:  # codecarbon >= 3.3; save_to_* are deprecated
            from codecarbon import OutputMethod  # type: ignore[attr-defined]

            csv = self.output_dir is not None
            options["output_methods"] = [OutputMethod.CSV] if csv else []
        else:
            options["save_to_file"] = self.output_dir is not None
            for flag in ("save_to_api", "save_to_logger", "save_to_prometheus"):
                options[flag] = False
            options.pop("electricitymaps_api_token")  # only co2_signal_api_token before 3.x
        # the deprecated token name stays only where the new one does not exist
        if "electricitymaps_api_token" in options:
            options.pop("co2_signal_api_token")
        return {k: v for k, v in options.items() if k in accepted}

    def _make_tracker(self) -> Any:
        from codecarbon import OfflineEmissionsTracker

        return OfflineEmissionsTracker(
            country_iso_code=self.country_iso_code,
            region=self.region,
            cloud_provider=None,
            cloud_region=None,
            **self._tracker_options(),
        )

    def start(self) -> None:
        """Create and start the tracker, then run the warm-up task."""
        if self._tracker is not None:
            raise CodecarbonError(
                "This CodecarbonMeter was already started: codecarbon trackers cannot be "
                "restarted; create a new CodecarbonMeter for a new search."
            )
        # codecarbon logs before it applies log_level, and its level is global: set it for
        # the tracking period and restore it at stop().
        logger = logging.getLogger("codecarbon")
        self._saved_log_level = logger.level
        logger.setLevel(self.log_level.upper())
        self._started_at = time.perf_counter()
        try:
            tracker = self._make_tracker()
        except BaseException:
            logger.setLevel(self._saved_log_level)
            raise
        if "_start_time" not in vars(tracker):  # set at the end of a successful __init__
            logger.setLevel(self._saved_log_level)
            raise CodecarbonError(
                "codecarbon's OfflineEmissionsTracker failed to initialise (it swallows the "
                "exception; run with log_level='debug' to see it)."
            )
        if getattr(tracker, "_electricitymaps_api_token", None):
            # a config file or CODECARBON_* variable set a token: it would query the network
            warnings.warn(
                "Ignoring the Electricity Maps token found in codecarbon's configuration: "
                "greenauto tracks offline, with codecarbon's bundled carbon-intensity data.",
                UserWarning,
                stacklevel=2,
            )
            # codecarbon has no public switch for this; its private field is the one it reads
            tracker._electricitymaps_api_token = None  # noqa: SLF001
        tracker.start()
        if getattr(tracker, "_start_time", None) is None:
            logger.setLevel(self._saved_log_level)
            raise CodecarbonError("codecarbon's tracker.start() failed (it returned None).")
        self._tracker = tracker
        if self.warm_up:
            try:
                self.measure(lambda: sum(i * i for i in range(20_000)))
            except BaseException:
                self._stopped = True
                tracker.stop()
                logger.setLevel(self._saved_log_level)
                raise

    def _begin(self) -> object:
        if not self.running:
            raise CodecarbonError(
                "CodecarbonMeter is not running: call start() or use it in a `with` block."
            )
        name = f"greenauto-task-{next(_task_ids)}"
        self._tracker.start_task(name)
        # codecarbon's start_task returns nothing: its active task is the only check there is
        if self._tracker._active_task != name:  # noqa: SLF001
            raise CodecarbonError(f"codecarbon could not start the task {name!r}.")
        return name

    def _end(self, state: object, cpu_seconds: float, wall_seconds: float) -> float:
        data = self._tracker.stop_task(state)
        if data is None:
            raise CodecarbonError(f"codecarbon's stop_task({state!r}) returned None.")
        joules = float(data.energy_consumed) * JOULES_PER_KWH
        if not math.isfinite(joules) or joules <= 0:
            raise CodecarbonError(
                f"codecarbon reported {joules!r} J for a task of {wall_seconds:.3g} s."
            )
        return joules

    def _abort(self, state: object) -> None:
        self._tracker.stop_task(state)

    def _begin_tally(self) -> object:
        raise CodecarbonError(
            "codecarbon's tracker cannot be read while it runs, so it cannot keep a running "
            "total (an energy budget or a progress figure): use the cpu-time, rapl or model "
            "meter per trial."
        )

    def stop(self) -> SearchEmissions:
        """Stop the tracker and return the search's total energy and CO2 (also `emissions`)."""
        if not self.running:
            raise CodecarbonError("CodecarbonMeter.stop() called on a meter that is not running.")
        tracker = self._tracker
        detail = self.detail
        self._stopped = True  # codecarbon trackers stop once, whatever the outcome
        try:
            kg = tracker.stop()
        finally:
            logging.getLogger("codecarbon").setLevel(self._saved_log_level)
        duration = time.perf_counter() - self._started_at
        data = getattr(tracker, "final_emissions_data", None)
        if kg is None or data is None:
            raise CodecarbonError("codecarbon's tracker.stop() failed (it returned None).")
        joules = float(data.energy_consumed) * JOULES_PER_KWH
        grams = float(kg) * 1000.0
        if not (math.isfinite(joules) and joules > 0 and math.isfinite(grams) and grams >= 0):
            raise CodecarbonError(
                f"codecarbon's totals are not usable: {joules!r} J, {grams!r} g CO2eq."
            )
        self.emissions = SearchEmissions(
            joules=joules,
            grams_co2eq=grams,
            duration_seconds=duration,
            country_iso_code=self.country_iso_code,
            region=self.region,
            detail=detail,
        )
        return self.emissions

    def close(self) -> None:
        """Stop the tracker if it is running (the totals go to `emissions`)."""
        if self.running:
            self.stop()
