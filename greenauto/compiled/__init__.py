"""Compiled inference: tree models, Naive Bayes, KNN and the vote through C++ kernels."""

from __future__ import annotations

from greenauto.compiled._flatten import FlatForest, flatten_trees
from greenauto.compiled._ir import InvalidModelError, ModelIR
from greenauto.compiled._pipeline import CompiledPipeline

__all__ = ["CompiledPipeline", "FlatForest", "InvalidModelError", "ModelIR", "flatten_trees"]
