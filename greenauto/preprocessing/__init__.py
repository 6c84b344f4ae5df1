"""Transformers that prepare tabular data for the compiled kernels."""

from greenauto.preprocessing._binner import Binner
from greenauto.preprocessing._binning import make_kernel as make_binning_kernel
from greenauto.preprocessing._labels import encode_labels
from greenauto.preprocessing._selector import FeatureSelector
from greenauto.preprocessing._tabular import TabularEncoder

__all__ = ["Binner", "FeatureSelector", "TabularEncoder", "encode_labels", "make_binning_kernel"]
