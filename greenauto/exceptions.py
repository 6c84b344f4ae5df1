"""Warnings and exceptions raised by greenauto."""

from __future__ import annotations

__all__ = ["ConstantFeatureWarning", "TrialTimeoutError"]


class ConstantFeatureWarning(UserWarning):
    """A feature has a single value (or only missing values) in the data it was fitted on.

    Such a feature gets one bin; it carries no information for the models downstream.
    """


class TrialTimeoutError(Exception):
    """A trial of the search ran past ``trial_timeout``: it is recorded failed, with this
    error, and the search goes on."""
