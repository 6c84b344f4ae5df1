"""Compiled inference: tree models, Naive Bayes, KNN and the vote through C++ kernels.

The model is its IR (:class:`ModelIR`, plain arrays): :func:`compile_model` builds it from
fitted models, :func:`save_model` / :func:`load_model` write and read it as a pickle-free
file, and :class:`CompiledPipeline` predicts labels and probabilities from it.
"""

from __future__ import annotations

from greenauto.compiled._artifact import load_model, save_model
from greenauto.compiled._compile import compile_model
from greenauto.compiled._flatten import FlatForest, flatten_trees
from greenauto.compiled._ir import InvalidModelError, ModelIR
from greenauto.compiled._pipeline import CompiledPipeline

__all__ = [
    "CompiledPipeline",
    "FlatForest",
    "InvalidModelError",
    "ModelIR",
    "compile_model",
    "flatten_trees",
    "load_model",
    "save_model",
]
