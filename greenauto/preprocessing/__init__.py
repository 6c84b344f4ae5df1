"""Transformers that prepare tabular data for the compiled kernels."""

from greenauto.preprocessing._binner import Binner

__all__ = ["Binner"]
