"""The training-column schema of a model: names, kinds and categories, as JSON values.

``{"names": [...], "named": bool, "kinds": ["numeric" | "categorical", ...],
"categories": {"<column position>": [category, ...]}, "handle_unknown": "error" | "missing"}``

It is the state of a fitted :class:`TabularEncoder` (``named``: the encoder was fitted on a
DataFrame with string column names, so a DataFrame must bring those columns). A model with a
schema accepts what its encoder accepts (DataFrames with text and categorical columns); the
encoder is rebuilt from the schema through its public ``fit``, never unpickled.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from greenauto.compiled._ir import InvalidModelError
from greenauto.preprocessing._tabular import TabularEncoder

__all__ = [
    "categorical_columns",
    "encoder_from_schema",
    "schema_from_encoder",
    "schema_from_names",
    "synthetic_frame",
]


def schema_from_encoder(encoder: TabularEncoder) -> dict[str, Any]:
    """The schema of a fitted :class:`TabularEncoder`."""
    names = [str(n) for n in encoder.get_feature_names_out()]
    categories = {}
    for j, cats in encoder.categories_.items():
        values = [v.item() if isinstance(v, np.generic) else v for v in cats]
        bad = [v for v in values if not isinstance(v, (str, int, float, bool))]
        if bad:
            raise ValueError(
                f"Column {names[j]!r} has categories of type {type(bad[0]).__name__}; a saved "
                "model stores str, int, float or bool categories only."
            )
        categories[str(j)] = values
    return {
        "names": names,
        "named": hasattr(encoder, "feature_names_in_"),
        "kinds": [
            "categorical" if j in encoder.categories_ else "numeric" for j in range(len(names))
        ],
        "categories": categories,
        "handle_unknown": encoder.handle_unknown,
    }


def schema_from_names(names: Any, n_features: int) -> dict[str, Any] | None:
    """A numeric schema for a model fitted on a DataFrame with these column names."""
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features.")
    return {
        "names": names,
        "named": True,
        "kinds": ["numeric"] * n_features,
        "categories": {},
        "handle_unknown": "error",
    }


def encoder_from_schema(schema: dict[str, Any], n_features: int) -> TabularEncoder:
    """A fitted :class:`TabularEncoder` with exactly the schema's columns and categories."""
    encoder = TabularEncoder(handle_unknown=schema["handle_unknown"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a category-free column is all missing
        encoder.fit(synthetic_frame(schema, n_features))
    return encoder


def categorical_columns(schema: dict[str, Any], n_features: int) -> dict[int, list]:
    """Categories of every categorical column, by position (the schema checked)."""
    _, kinds, cats = _checked(schema, n_features)
    return {j: cats.get(j, []) for j in range(n_features) if kinds[j] == "categorical"}


def synthetic_frame(schema: dict[str, Any], n_features: int) -> pd.DataFrame:
    """A small DataFrame with the schema's columns, every category present (for fitting
    encoders that must learn exactly these categories)."""
    names, kinds, cats = _checked(schema, n_features)
    n_rows = max([1] + [len(c) for c in cats.values()])
    columns = {}
    for j in range(n_features):
        if kinds[j] == "categorical":
            values = cats.get(j, [])
            codes = np.arange(n_rows) % len(values) if values else np.full(n_rows, -1)
            columns[j] = pd.Categorical.from_codes(
                codes, categories=pd.Index(values, dtype=object)
            )
        else:
            columns[j] = np.zeros(n_rows)
    frame = pd.DataFrame(columns)
    if schema["named"]:
        frame.columns = names
    return frame


def _checked(schema: Any, n_features: int) -> tuple[list[str], list[str], dict[int, list]]:
    if not isinstance(schema, dict):
        raise InvalidModelError("schema must be a JSON object")
    names, kinds, cats = schema.get("names"), schema.get("kinds"), schema.get("categories")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise InvalidModelError("schema names must be a list of strings")
    if len(names) != n_features or not isinstance(kinds, list) or len(kinds) != n_features:
        raise InvalidModelError(f"schema must describe {n_features} columns")
    if any(k not in ("numeric", "categorical") for k in kinds):
        raise InvalidModelError("schema kinds must be 'numeric' or 'categorical'")
    if not isinstance(schema.get("named"), bool):
        raise InvalidModelError("schema 'named' must be true or false")
    if schema.get("handle_unknown") not in ("error", "missing"):
        raise InvalidModelError("schema handle_unknown must be 'error' or 'missing'")
    if not isinstance(cats, dict):
        raise InvalidModelError("schema categories must be an object")
    out: dict[int, list] = {}
    for key, values in cats.items():
        if not (key.isdigit() and int(key) < n_features and kinds[int(key)] == "categorical"):
            raise InvalidModelError(f"schema categories name column {key!r:.20}, not categorical")
        if not isinstance(values, list) or not all(
            isinstance(v, (str, int, float, bool)) for v in values
        ):
            raise InvalidModelError(f"categories of column {key} must be a list of values")
        if len(set(map(repr, values))) != len(values):
            raise InvalidModelError(f"categories of column {key} repeat a value")
        out[int(key)] = values
    return names, kinds, out
