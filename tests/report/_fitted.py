"""A tiny real search for the report tests (about 2 s), with hostile column and class names."""

from __future__ import annotations

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset

EVIL_COLUMN = "<script>alert(1)</script>"
EVIL_CLASS = '<img src=x onerror="alert(2)">'


def small_search(*, hostile: bool = True) -> GreenAutoClassifier:
    """A fitted estimator on breast_cancer_wisconsin (4 trials, deterministic meter).

    With ``hostile``, the first column is named ``EVIL_COLUMN`` and the class "malignant"
    becomes ``EVIL_CLASS``: the reports must show both as text, never as markup.
    """
    X, y = load_dataset("breast_cancer_wisconsin")
    if hostile:
        X = X.rename(columns={X.columns[0]: EVIL_COLUMN})
        y = y.replace({"malignant": EVIL_CLASS})
    return GreenAutoClassifier(
        n_trials=4, time_budget=None, energy_meter="model", random_state=0
    ).fit(X, y)
