"""Exceptions raised by the energy meters."""

from __future__ import annotations

__all__ = ["CodecarbonError", "EnergyMeterError", "RaplUnavailableError"]


class EnergyMeterError(RuntimeError):
    """An energy meter cannot give a figure (the reason is in the message)."""


class RaplUnavailableError(EnergyMeterError):
    """No readable RAPL package counter (absent, unreadable, or not a number)."""


class CodecarbonError(EnergyMeterError):
    """codecarbon failed to start, measure or stop (its methods return None on failure)."""
