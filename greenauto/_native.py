"""The compiled kernels: the nanobind extension ``greenauto._kernels``, imported in one place.

import-linter (grimp) reads Python sources only: it cannot see inside an extension module and
takes ``from greenauto._kernels import ...`` for an import of the root package, which imports
every layer. Every use of the extension goes through this module instead, so the layer
contracts in ``pyproject.toml`` need one ignored import (``greenauto._native -> greenauto``)
and stay exact everywhere else. Any name of the extension is available here.
"""

from __future__ import annotations

from typing import Any

from greenauto import _kernels
from greenauto._kernels import BinningKernel, CompiledPipelineKernel

__all__ = ["BinningKernel", "CompiledPipelineKernel"]


def __getattr__(name: str) -> Any:
    return getattr(_kernels, name)
