"""The model file: a zip of a JSON manifest and ``.npy`` arrays, written and read without pickle.

Format (``format_version`` 1)
-----------------------------
A zip archive (stored or deflated members, no encryption) holding exactly:

- ``manifest.json``: UTF-8 JSON object with ``"format": "greenauto-model"``,
  ``"format_version"``, ``"library_version"`` (the writer's greenauto), ``"classes"``
  (``{"dtype", "values"}``), ``"n_features_in"``, ``"binned"``, ``"voting"``, ``"members"``
  (one object per member: ``kind`` and its settings), ``"schema"`` (training columns: names,
  dtypes, categories; or null), ``"metrics"`` and ``"energy_source"`` (the Pareto point's
  figures and how the energy was obtained; may be empty), and ``"arrays"``: for every array its
  ``file``, ``dtype`` and ``shape``.
- ``arrays/<name>.npy``: one numpy ``.npy`` file (format 1.0 to 3.0) per declared array,
  read with ``allow_pickle=False``: ``bin_edges`` (features x edges, NaN-padded),
  ``bin_counts``, ``columns`` (binned models) and ``m<i>.<array>`` per member (see
  :mod:`greenauto.compiled._ir`).

Loading refuses (with :class:`InvalidModelError`, never a crash and never code execution)
anything that is not such an archive: no zip signature (a pickle renamed, say), a truncated or
corrupt zip, another format or format version, a member name that is absolute, climbs out of
the root (``..``), uses backslashes or is not declared, an encrypted or oddly compressed member,
a declared array larger than the archive holds, archives larger than ``max_bytes`` when
decompressed, dtypes other than the IR's numeric ones, and then every IR check (indices, tree
structure, finite values) before the kernel is built.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from greenauto.compiled._codec import check_header, ir_from_parts, ir_to_parts
from greenauto.compiled._ir import InvalidModelError
from greenauto.compiled._pipeline import CompiledPipeline

__all__ = ["DEFAULT_MAX_BYTES", "MANIFEST", "load_model", "save_model"]

MANIFEST = "manifest.json"
#: Largest decompressed archive :func:`load_model` reads unless told otherwise (512 MiB).
DEFAULT_MAX_BYTES = 512 * 2**20
_MAX_MANIFEST = 64 * 2**20
_MAX_MEMBERS = 1000
_NPY_HEADER_MAX = 64 * 1024  # an .npy header is at most this long (numpy writes ~128 bytes)
_ALLOWED_DTYPES = {np.dtype(t).str for t in ("int64", "int32", "float64", "uint8")}
_NAME = re.compile(r"^[A-Za-z0-9_.]{1,100}$")
_ZIP_MAGIC = b"PK\x03\x04"


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a model to a versioned, pickle-free file (see the module docstring).

    Parameters
    ----------
    model : CompiledPipeline or a supported fitted model
        A :class:`~greenauto.compiled.CompiledPipeline`, an object that hands one over through
        ``compiled_model()`` (a fitted :class:`~greenauto.GreenAutoClassifier`), or anything
        :func:`~greenauto.compile_model` compiles.
    path : str or path-like
        Where to write (replaced atomically). ``.gam`` is the customary suffix.

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    pipe = as_compiled(model)
    manifest, arrays = ir_to_parts(pipe.ir)
    manifest["arrays"] = {
        name: {"file": f"arrays/{name}.npy", "dtype": a.dtype.str, "shape": list(a.shape)}
        for name, a in arrays.items()
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
                zf.writestr(f"arrays/{name}.npy", buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def as_compiled(model: Any) -> CompiledPipeline:
    """The CompiledPipeline a model stands for (compiling it when needed)."""
    if isinstance(model, CompiledPipeline):
        return model
    handover = getattr(model, "compiled_model", None)
    if callable(handover):
        pipe = handover()
        if not isinstance(pipe, CompiledPipeline):
            raise TypeError(
                f"{type(model).__name__}.compiled_model() must return a CompiledPipeline; "
                f"got {type(pipe).__name__}."
            )
        return pipe
    from greenauto.compiled._compile import compile_model

    return compile_model(model)


def load_model(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    n_threads: int | None = None,
) -> CompiledPipeline:
    """Read a model file written by :func:`save_model`, validating everything first.

    No pickle is ever read, and no scikit-learn or LightGBM object is built: the result
    predicts through the compiled kernels.

    Parameters
    ----------
    path : str or path-like
        The model file.
    max_bytes : int, default=512 MiB
        Refuse archives whose members add up to more bytes than this once decompressed.
    n_threads : int or None, default=None
        Threads of the loaded pipeline (``None``: 1, ``-1``: all cores).

    Returns
    -------
    model : CompiledPipeline
        The model, with its ``classes_``, column schema and metrics.

    Raises
    ------
    InvalidModelError
        The file is not a valid greenauto model (the message says why).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != _ZIP_MAGIC:
                raise InvalidModelError(
                    "not a greenauto model file: it is not a zip archive (greenauto model "
                    "files are zips of JSON and .npy arrays; pickles are never loaded)"
                )
            fh.seek(0)
            manifest, arrays = _read_archive(fh, max_bytes)
        ir = ir_from_parts(manifest, arrays)
        return CompiledPipeline.from_ir(ir, n_threads=n_threads)
    except InvalidModelError as exc:
        raise InvalidModelError(f"Cannot load {path}: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InvalidModelError(
            f"Cannot load {path}: the archive is truncated or corrupt ({exc})."
        ) from None


def _read_archive(fh: Any, max_bytes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with zipfile.ZipFile(fh) as zf:
        infos = {_checked_member(info).filename: info for info in zf.infolist()}
        if len(infos) != len(zf.infolist()):
            raise InvalidModelError("the archive repeats a member name")
        if MANIFEST not in infos:
            raise InvalidModelError(f"the archive has no {MANIFEST}")
        total = sum(info.file_size for info in infos.values())
        if total > max_bytes:
            raise InvalidModelError(
                f"the archive holds {total} bytes once decompressed, more than max_bytes="
                f"{max_bytes}"
            )
        manifest = _read_manifest(zf, infos[MANIFEST])
        specs = _array_specs(manifest, max_bytes)
        unexpected = sorted(set(infos) - {MANIFEST} - {s["file"] for s in specs.values()})
        if unexpected:
            raise InvalidModelError(f"the archive holds undeclared members {unexpected[:5]}")
        arrays = {}
        for name, spec in specs.items():
            info = infos.get(spec["file"])
            if info is None:
                raise InvalidModelError(f"array {name!r} is declared but missing")
            arrays[name] = _read_array(zf, info, name, spec)
    return manifest, arrays


def _checked_member(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    name = info.filename
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or ":" in name
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise InvalidModelError(f"member name {name!r} is outside the archive root or invalid")
    if info.flag_bits & 0x1:
        raise InvalidModelError(f"member {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InvalidModelError(f"member {name!r} uses compression {info.compress_type}")
    return info


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` (zipfile also checks size and CRC)."""
    if info.file_size > limit:
        raise InvalidModelError(f"member {info.filename!r} is larger than {limit} bytes")
    with zf.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit or len(data) != info.file_size:
        raise InvalidModelError(f"member {info.filename!r} does not hold its declared size")
    return data


def _read_manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    raw = _read_bounded(zf, info, _MAX_MANIFEST)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidModelError(f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise InvalidModelError(f"{MANIFEST} must hold a JSON object")
    check_header(manifest)
    return manifest


def _array_specs(manifest: dict[str, Any], max_bytes: int) -> dict[str, dict[str, Any]]:
    specs = manifest.get("arrays")
    if not isinstance(specs, dict) or len(specs) > _MAX_MEMBERS:
        raise InvalidModelError("manifest entry 'arrays' must map at most 1000 array names")
    declared = 0
    for name, spec in specs.items():
        if not _NAME.match(name) or not isinstance(spec, dict):
            raise InvalidModelError(f"array name {name!r:.60} is invalid")
        if spec.get("file") != f"arrays/{name}.npy":
            raise InvalidModelError(f"array {name!r} must live in arrays/{name}.npy")
        if spec.get("dtype") not in _ALLOWED_DTYPES:
            raise InvalidModelError(f"array {name!r} has dtype {spec.get('dtype')!r:.40}; "
                                    f"allowed: {sorted(_ALLOWED_DTYPES)}")  # fmt: skip
        shape = spec.get("shape")
        if (
            not isinstance(shape, list)
            or len(shape) > 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise InvalidModelError(f"array {name!r} has an invalid shape {shape!r:.60}")
        spec["nbytes"] = prod(shape) * np.dtype(spec["dtype"]).itemsize
        declared += spec["nbytes"]
        if declared > max_bytes:
            raise InvalidModelError(
                f"the arrays declare {declared} bytes or more, beyond max_bytes={max_bytes}"
            )
    return specs


def _read_array(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, spec: dict[str, Any]
) -> np.ndarray:
    nbytes = spec["nbytes"]
    if not nbytes <= info.file_size <= nbytes + _NPY_HEADER_MAX:
        raise InvalidModelError(
            f"array {name!r} declares {nbytes} bytes of data but its member holds "
            f"{info.file_size} bytes"
        )
    data = _read_bounded(zf, info, nbytes + _NPY_HEADER_MAX)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidModelError(f"array {name!r} is not a valid .npy file ({exc})") from None
    if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
        raise InvalidModelError(
            f"array {name!r} holds {array.dtype.str} {list(array.shape)}, the manifest "
            f"declares {spec['dtype']} {spec['shape']}"
        )
    return np.ascontiguousarray(array)
