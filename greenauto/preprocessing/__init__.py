"""Transformers that prepare tabular data for the compiled kernels."""

from greenauto.preprocessing._binner import Binner
from greenauto.preprocessing._selector import FeatureSelector

__all__ = ["Binner", "FeatureSelector"]
