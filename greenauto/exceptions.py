"""Warnings and exceptions raised by greenauto."""

from __future__ import annotations

__all__ = ["ConstantFeatureWarning", "ExportError", "TrialTimeoutError"]


class ConstantFeatureWarning(UserWarning):
    """A feature has a single value (or only missing values) in the data it was fitted on.

    Such a feature gets one bin; it carries no information for the models downstream.
    """


class TrialTimeoutError(Exception):
    """A trial of the search ran past ``trial_timeout``: it is recorded failed, with this
    error, and the search goes on."""


class ExportError(NotImplementedError):
    """A compiled model cannot be exported to the asked format with the same predictions.

    A documented limit of the target format (for example a hard vote that can tie has no
    scikit-learn equivalent, and ONNX Runtime breaks KNN distance ties differently), never a
    silent approximation. A subclass of ``NotImplementedError``, which it was before.
    """
