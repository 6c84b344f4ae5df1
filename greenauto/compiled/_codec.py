"""A model IR as a JSON manifest plus named arrays, and back (pickle and the artifact use it).

The manifest holds only JSON values (no library object); arrays are numeric numpy arrays.
:func:`ir_from_parts` checks the manifest's structure and the arrays' names, then
:meth:`ModelIR.validate` checks every array and index.
"""

from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from greenauto.compiled._ir import (
    FORMAT_VERSION,
    MEMBER_TYPES,
    InvalidModelError,
    ModelIR,
)

__all__ = ["FORMAT_NAME", "ir_from_parts", "ir_to_parts", "library_version"]

FORMAT_NAME = "greenauto-model"


def library_version() -> str:
    """greenauto's version (``0+unknown`` from a source tree)."""
    try:
        return version("greenauto")
    except PackageNotFoundError:  # pragma: no cover
        return "0+unknown"


def ir_to_parts(ir: ModelIR) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest (JSON values) and the arrays of a model IR."""
    arrays: dict[str, np.ndarray] = {}
    if ir.binned:
        n_edges = np.array([e.size for e in ir.bin_edges], dtype=np.int64)
        packed = np.full((len(ir.bin_edges), max(1, int(n_edges.max(initial=0)))), np.nan)
        for j, e in enumerate(ir.bin_edges):
            packed[j, : e.size] = e
        arrays["bin_edges"] = packed
        arrays["bin_counts"] = n_edges
        arrays["columns"] = np.asarray(ir.columns, dtype=np.int64)
    members = []
    for i, m in enumerate(ir.members):
        members.append(m.meta())
        for name, a in m.arrays().items():
            arrays[f"m{i}.{name}"] = np.ascontiguousarray(a)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": library_version(),
        "classes": _encode_classes(ir.classes),
        "n_features_in": int(ir.n_features_in),
        "binned": bool(ir.binned),
        "voting": ir.voting,
        "members": members,
        "schema": ir.schema,
        "metrics": _json_clean(ir.metrics, "metrics"),
        "energy_source": ir.energy_source,
        "extra": _json_clean(ir.extra, "extra"),
    }
    return manifest, arrays


def ir_from_parts(manifest: Any, arrays: dict[str, np.ndarray]) -> ModelIR:
    """Rebuild (and validate) a model IR from :func:`ir_to_parts`'s output."""
    if not isinstance(manifest, dict):
        raise InvalidModelError("The manifest must be a JSON object.")
    check_header(manifest)
    n_in = _get(manifest, "n_features_in", int)
    binned = _get(manifest, "binned", bool)
    voting = _get(manifest, "voting", str)
    metas = _get(manifest, "members", list)
    expected = _expected_names(binned, metas)
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise InvalidModelError(f"Arrays do not match the manifest: missing {missing}, "
                                f"unexpected {extra}.")  # fmt: skip
    edges = columns = None
    if binned:
        packed, counts = arrays["bin_edges"], arrays["bin_counts"]
        if packed.ndim != 2 or counts.shape != (packed.shape[0],) or counts.dtype != np.int64:
            raise InvalidModelError("bin_edges must be 2-D with one bin_counts entry per row.")
        if counts.size and (counts.min() < 0 or counts.max() > packed.shape[1]):
            raise InvalidModelError("bin_counts holds a count outside the bin_edges rows.")
        edges = tuple(np.ascontiguousarray(packed[j, :c]) for j, c in enumerate(counts))
        columns = arrays["columns"]
    members = []
    for i, meta in enumerate(metas):
        cls = MEMBER_TYPES[meta["kind"]]
        own = {k.split(".", 1)[1]: a for k, a in arrays.items() if k.startswith(f"m{i}.")}
        try:
            members.append(cls.from_parts(meta, own))
        except TypeError as exc:
            raise InvalidModelError(f"member {i}: {exc}") from None
    ir = ModelIR(
        classes=_decode_classes(manifest.get("classes")),
        n_features_in=n_in,
        members=tuple(members),
        bin_edges=edges,
        columns=columns,
        voting=voting,
        schema=_optional(manifest, "schema", dict),
        metrics=_optional(manifest, "metrics", dict) or {},
        energy_source=_optional(manifest, "energy_source", str),
        extra=_optional(manifest, "extra", dict) or {},
    )
    return ir.validate()


def check_header(manifest: dict[str, Any]) -> None:
    """Refuse a manifest of another format or format version."""
    if manifest.get("format") != FORMAT_NAME:
        raise InvalidModelError(
            f"Not a greenauto model: format is {manifest.get('format')!r}, not {FORMAT_NAME!r}."
        )
    got = manifest.get("format_version")
    if got != FORMAT_VERSION:
        raise InvalidModelError(
            f"Unsupported model format version {got!r}: this greenauto ({library_version()}) "
            f"reads version {FORMAT_VERSION}. The file was written by greenauto "
            f"{manifest.get('library_version')!r}."
        )


def _expected_names(binned: bool, metas: list[Any]) -> set[str]:
    names = {"bin_edges", "bin_counts", "columns"} if binned else set()
    if not 1 <= len(metas) <= 3:
        raise InvalidModelError(f"A model has 1 to 3 members; the manifest lists {len(metas)}.")
    for i, meta in enumerate(metas):
        if not isinstance(meta, dict) or meta.get("kind") not in MEMBER_TYPES:
            raise InvalidModelError(f"member {i}: unknown kind {meta!r:.80}.")
        cls = MEMBER_TYPES[meta["kind"]]
        names |= {f"m{i}.{n}" for n in _array_names(cls)}
    return names


def _array_names(cls: type) -> list[str]:
    if cls.kind == "trees":
        return [n for n, _, _ in cls._ARRAYS] + ["class_map"]
    fields = cls.__dataclass_fields__
    return [n for n, f in fields.items() if f.type in ("np.ndarray",) or n == "class_map"]


def _get(manifest: dict[str, Any], key: str, kind: type) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidModelError(f"Manifest entry {key!r} must be a {kind.__name__}; "
                                f"got {value!r:.80}.")  # fmt: skip
    return value


def _optional(manifest: dict[str, Any], key: str, kind: type) -> Any:
    return None if manifest.get(key) is None else _get(manifest, key, kind)


def _encode_classes(classes: np.ndarray) -> dict[str, Any]:
    values = classes.tolist()
    if classes.dtype == object:
        kinds = {type(v) for v in values}
        if not kinds <= {str} and not kinds <= {int} and not kinds <= {bool}:
            raise ValueError(
                f"Class labels of types {sorted(k.__name__ for k in kinds)} cannot be saved; "
                "use str, int, float or bool labels."
            )
        return {"dtype": "object", "values": values}
    if classes.dtype.kind not in "biufU":
        raise ValueError(f"Class labels of dtype {classes.dtype} cannot be saved.")
    if classes.dtype.kind == "f" and not all(math.isfinite(v) for v in values):
        raise ValueError("Class labels must be finite numbers.")
    return {"dtype": classes.dtype.str, "values": values}


def _decode_classes(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
        raise InvalidModelError("Manifest entry 'classes' must hold a dtype and a value list.")
    dtype, values = spec.get("dtype"), spec["values"]
    if not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise InvalidModelError("Class labels must be strings, numbers or booleans.")
    if dtype == "object":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InvalidModelError(f"Class dtype {dtype!r} is not a numpy dtype.") from None
    if dt.kind not in "biufU":
        raise InvalidModelError(f"Class dtype {dtype!r} is not allowed.")
    try:
        return np.array(values, dtype=dt)
    except (TypeError, ValueError, OverflowError):
        raise InvalidModelError(f"Class labels do not fit dtype {dtype!r}.") from None


def _json_clean(value: Any, where: str) -> Any:
    """Metrics as plain JSON values (numpy scalars unwrapped)."""
    if isinstance(value, dict):
        return {str(k): _json_clean(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v, where) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or inf: an unknown figure
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"{where} holds a {type(value).__name__}, which is not a JSON value.")
