"""Checks shared by every versioned JSON form greenauto writes (fronts, reports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_schema"]


def check_schema(data: Mapping[str, Any], schema: str, version: int, what: str) -> None:
    """Refuse ``data`` unless it declares ``schema`` at a version this greenauto reads.

    Parameters
    ----------
    data : mapping
        The parsed JSON object.
    schema : str
        Expected value of ``data["schema"]``.
    version : int
        Newest ``schema_version`` this greenauto reads.
    what : str
        What the object is, for the message (``"Pareto front"``).

    Raises
    ------
    ValueError
        Naming the schema or version found.
    """
    if not isinstance(data, Mapping) or data.get("schema") != schema:
        found = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"Not a greenauto {what} (schema={found!r}).")
    found_version = data.get("schema_version")
    if not isinstance(found_version, int) or found_version > version:
        raise ValueError(
            f"{what[0].upper()}{what[1:]} schema version {found_version!r} is not supported by "
            f"this greenauto (it reads versions up to {version})."
        )
