"""greenauto: green AutoML for tabular classification.

Searches feature selection, binning and small voting ensembles for models that are as accurate
as the usual AutoML result while spending a fraction of the energy, and measures that energy.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from greenauto import datasets
from greenauto.exceptions import ConstantFeatureWarning
from greenauto.preprocessing import Binner

try:
    __version__ = version("greenauto")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["Binner", "ConstantFeatureWarning", "__version__", "datasets"]
