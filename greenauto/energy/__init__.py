"""Energy measurement: meters, the trial protocol, calibration and CO2 conversion.

Every figure carries its `EnergySource` (RAPL measurement, calibrated cpu-time estimate,
codecarbon estimate, or operation-count model), so an estimate is never shown as a
measurement. The default per-trial meter is `CpuTimeMeter`: process CPU time x watts per
CPU-second calibrated from RAPL, else codecarbon's TDP table, else a user figure.
"""

from __future__ import annotations

from greenauto.energy._calibration import (
    calibrate,
    calibrate_from_codecarbon,
    calibrate_from_rapl,
)
from greenauto.energy._co2 import CarbonIntensity, carbon_intensity, grams_co2eq
from greenauto.energy._codecarbon import CodecarbonMeter, SearchEmissions
from greenauto.energy._errors import CodecarbonError, EnergyMeterError, RaplUnavailableError
from greenauto.energy._measurement import Calibration, EnergySource, Measurement
from greenauto.energy._meters import (
    CpuTimeMeter,
    EnergyMeter,
    EnergyTally,
    OperationCounter,
    OperationCountMeter,
    RaplMeter,
)
from greenauto.energy._protocol import (
    METER_KINDS,
    MODEL_JOULES_PER_OPERATION,
    default_meter,
    make_meter,
    measure_fit,
    measure_predict,
)
from greenauto.energy._rapl import RaplDomain, RaplReader

__all__ = [
    "METER_KINDS",
    "MODEL_JOULES_PER_OPERATION",
    "Calibration",
    "CarbonIntensity",
    "CodecarbonError",
    "CodecarbonMeter",
    "CpuTimeMeter",
    "EnergyMeter",
    "EnergyMeterError",
    "EnergySource",
    "EnergyTally",
    "Measurement",
    "OperationCountMeter",
    "OperationCounter",
    "RaplDomain",
    "RaplMeter",
    "RaplReader",
    "RaplUnavailableError",
    "SearchEmissions",
    "calibrate",
    "calibrate_from_codecarbon",
    "calibrate_from_rapl",
    "carbon_intensity",
    "default_meter",
    "grams_co2eq",
    "make_meter",
    "measure_fit",
    "measure_predict",
]
