"""greenauto: green AutoML for tabular classification.

Searches feature selection, binning and small voting ensembles for models that are as accurate
as the usual AutoML result while spending a fraction of the energy, and measures that energy.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from greenauto import datasets, energy, report
from greenauto.automl import GreenAutoClassifier
from greenauto.compiled import (
    CompiledPipeline,
    InvalidModelError,
    compile_model,
    load_model,
    save_model,
)
from greenauto.ensemble import MajorityVoteClassifier
from greenauto.exceptions import ConstantFeatureWarning, ExportError
from greenauto.pareto import Objective, ParetoFront, ParetoPoint
from greenauto.preprocessing import Binner, FeatureSelector
from greenauto.report import export_report

try:
    __version__ = version("greenauto")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "Binner",
    "CompiledPipeline",
    "ConstantFeatureWarning",
    "ExportError",
    "FeatureSelector",
    "GreenAutoClassifier",
    "InvalidModelError",
    "MajorityVoteClassifier",
    "Objective",
    "ParetoFront",
    "ParetoPoint",
    "__version__",
    "compile_model",
    "datasets",
    "energy",
    "export_report",
    "load_model",
    "report",
    "save_model",
]
