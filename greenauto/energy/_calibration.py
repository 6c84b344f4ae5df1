"""Calibrating the cpu-time meter: watts charged per second of process CPU time.

Order tried by `calibrate` (configurable): RAPL busy loop with idle power subtracted, then
codecarbon's TDP table for this CPU per thread, then a figure given by the user. The chosen
figure, its source and why earlier steps were skipped are kept in the `Calibration`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from greenauto.energy._errors import EnergyMeterError, RaplUnavailableError
from greenauto.energy._measurement import Calibration, EnergySource
from greenauto.energy._rapl import DEFAULT_POWERCAP_ROOT, RaplReader

__all__ = ["calibrate", "calibrate_from_codecarbon", "calibrate_from_rapl"]

_STEPS = ("rapl", "codecarbon", "user")


@contextlib.contextmanager
def quiet_codecarbon(level: int = logging.ERROR) -> Iterator[None]:
    """Raise the ``codecarbon`` logger's level for the duration of the block."""
    logger = logging.getLogger("codecarbon")
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def _busy_loop(seconds: float) -> None:
    """Keep one core busy for about `seconds` of wall time with typical numpy work.

    Sorting, gathering and small matrix products: a mix of branchy and vector work close to
    what tree models and their preprocessing do. numpy releases the GIL inside each
    operation, so other threads of the process are not starved meanwhile.
    """
    rng = np.random.default_rng(0)
    values = rng.random(20_000)
    index = rng.integers(0, values.size, values.size)
    square = rng.random((64, 64))
    end = time.perf_counter() + seconds
    with threadpool_limits(limits=1):
        while time.perf_counter() < end:
            np.sort(values)
            values.take(index)
            square @ square


def calibrate_from_rapl(
    reader: RaplReader, *, idle_seconds: float = 0.2, busy_seconds: float = 0.3
) -> Calibration:
    """Watts per CPU-second from RAPL: package energy of a busy loop minus idle power.

    Parameters
    ----------
    reader : RaplReader
        Reader of the package counters.
    idle_seconds, busy_seconds : float
        Length of the idle phase (sleep) and of the single-threaded busy loop.

    Raises
    ------
    EnergyMeterError
        When the busy loop shows no energy above idle (counter frozen, or a machine so busy
        that the figure is meaningless).
    """
    before, w0 = reader.read_uj(), time.perf_counter()
    time.sleep(idle_seconds)
    idle_j = reader.joules_between(before, reader.read_uj())
    idle_watts = idle_j / (time.perf_counter() - w0)

    before = reader.read_uj()
    c0, w0 = time.process_time(), time.perf_counter()
    _busy_loop(busy_seconds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    busy_j = reader.joules_between(before, reader.read_uj())

    dynamic_j = busy_j - idle_watts * wall
    if cpu <= 0 or not math.isfinite(dynamic_j) or dynamic_j <= 0:
        raise EnergyMeterError(
            f"RAPL calibration found no energy above idle: {busy_j:.3g} J during a "
            f"{wall:.3g} s busy loop against {idle_watts:.3g} W idle ({reader.root})."
        )
    watts = dynamic_j / cpu
    detail = (
        f"busy loop {cpu:.3f} CPU-s: {busy_j:.3g} J, minus idle {idle_watts:.3g} W x "
        f"{wall:.3f} s; {reader.describe()}"
    )
    return Calibration(watts, EnergySource.RAPL_CALIBRATED_CPU_TIME, detail)


@functools.lru_cache(maxsize=1)
def _codecarbon_cpu_power() -> tuple[str, float | None, int, int]:
    """(CPU model, codecarbon TDP in W, threads, sockets), looked up once per process."""
    from codecarbon.core.cpu import TDP
    from codecarbon.core.util import count_cpus, count_physical_cpus

    with quiet_codecarbon():
        tdp = TDP()
        return str(tdp.model), tdp.tdp, int(count_cpus()), int(count_physical_cpus())


def calibrate_from_codecarbon() -> Calibration:
    """Watts per CPU-second from codecarbon's TDP table, as its process mode charges it.

    codecarbon charges a process ``TDP x sockets x (process CPU load / threads)``, i.e.
    ``TDP x sockets / threads`` watts per CPU-second. For a CPU missing from its table it
    assumes 4 W per thread. This is an estimate, never a measurement.

    Raises
    ------
    EnergyMeterError
        When codecarbon has no power figure for this CPU.
    """
    try:
        model, tdp, threads, sockets = _codecarbon_cpu_power()
    except Exception as exc:  # codecarbon reads cpuinfo, lscpu and a CSV: say which failed
        raise EnergyMeterError(f"codecarbon's CPU power lookup failed: {exc!r}") from exc
    if tdp is None or not tdp > 0 or threads < 1:
        raise EnergyMeterError(
            f"codecarbon has no power figure for the CPU {model!r} (TDP {tdp!r})."
        )
    watts = float(tdp) * max(sockets, 1) / threads
    detail = (
        f"codecarbon TDP table: CPU {model!r} -> {tdp:g} W x {max(sockets, 1)} socket(s) / "
        f"{threads} threads"
    )
    return Calibration(watts, EnergySource.CODECARBON_TDP_CPU_TIME, detail)


def _user_step(user: Calibration | None) -> Calibration:
    if user is None:
        raise EnergyMeterError("no watts figure was given (watts=None)")
    return user


def calibrate(
    watts: float | None = None,
    *,
    order: Sequence[str] = _STEPS,
    rapl_root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT,
    idle_seconds: float = 0.2,
    busy_seconds: float = 0.3,
) -> Calibration:
    """Calibrate the cpu-time meter: the first step of `order` that works wins.

    Parameters
    ----------
    watts : float or None, default=None
        A watts-per-CPU-second figure from the user (step ``"user"``). Must be > 0.
    order : sequence of {"rapl", "codecarbon", "user"}, default=("rapl", "codecarbon", "user")
        Steps to try. Pass ``order=("user",)`` to force the user's figure.
    rapl_root : path, default="/sys/class/powercap"
        Powercap folder read by the ``"rapl"`` step.
    idle_seconds, busy_seconds : float
        Phases of the RAPL busy loop.

    Returns
    -------
    Calibration
        The figure and its source; its `detail` also says why earlier steps were skipped.

    Raises
    ------
    ValueError
        When `watts` is not a finite number > 0, or `order` names an unknown step.
    EnergyMeterError
        When no step worked (the message lists each reason).

    Examples
    --------
    >>> from greenauto.energy import calibrate
    >>> calibrate(3.5, order=("user",)).watts_per_cpu_second
    3.5
    """
    user = None if watts is None else Calibration.from_watts(watts)  # validates now
    unknown = [step for step in order if step not in _STEPS]
    if unknown or not order:
        raise ValueError(f"calibrate's order must name steps from {_STEPS}. Got {order!r}.")
    skipped: list[str] = []
    for step in order:
        try:
            if step == "rapl":
                reader = RaplReader(rapl_root)
                found = calibrate_from_rapl(
                    reader, idle_seconds=idle_seconds, busy_seconds=busy_seconds
                )
            else:
                found = calibrate_from_codecarbon() if step == "codecarbon" else _user_step(user)
        except (EnergyMeterError, RaplUnavailableError) as exc:
            skipped.append(f"{step}: {exc}")
            continue
        if skipped:
            note = "; ".join(skipped)
            found = Calibration(
                found.watts_per_cpu_second, found.source, f"{found.detail} [skipped {note}]"
            )
        return found
    raise EnergyMeterError("No calibration step worked: " + " | ".join(skipped))
