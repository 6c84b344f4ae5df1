"""Number formatting shared by the HTML and Markdown reports."""

from __future__ import annotations

import math

__all__ = ["format_number"]


def format_number(value: float | int | None, unit: str | None = None) -> str:
    """Four significant digits (integers in full), ``"not recorded"`` for None.

    Examples
    --------
    >>> format_number(0.0034914), format_number(23296.0), format_number(None)
    ('0.003491', '23,296', 'not recorded')
    >>> format_number(1.5, "J")
    '1.5 J'
    """
    if value is None:
        return "not recorded"
    v = float(value)
    if not math.isfinite(v):
        text = str(v)
    elif v.is_integer() and abs(v) < 1e15:
        text = f"{int(v):,}"
    else:
        text = f"{v:.4g}"
    return f"{text} {unit}" if unit else text
