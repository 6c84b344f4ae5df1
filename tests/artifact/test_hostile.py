"""Hostile or broken model files: each is refused with a clear error, never a crash or code run."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline

from greenauto import Binner
from greenauto.compiled import InvalidModelError, compile_model, load_model, save_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)
PIPE = make_pipeline(
    Binner(n_bins=16), RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0)
).fit(X, Y)

Archive = dict[str, bytes]


def read_archive(path: Path) -> Archive:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_archive(path: Path, members: Archive) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def edit_manifest(members: Archive, edit: Callable[[dict], None]) -> Archive:
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    return members | {"manifest.json": json.dumps(manifest).encode()}


def edit_array(members: Archive, name: str, edit: Callable[[np.ndarray], np.ndarray]) -> Archive:
    array = edit(np.load(io.BytesIO(members[f"arrays/{name}.npy"])).copy())
    buf = io.BytesIO()
    np.save(buf, array)

    def declare(manifest: dict) -> None:
        manifest["arrays"][name]["shape"] = list(array.shape)

    return edit_manifest(members, declare) | {f"arrays/{name}.npy": buf.getvalue()}


def first_inner(members: Archive) -> tuple[np.ndarray, np.ndarray]:
    left = np.load(io.BytesIO(members["arrays/m0.left.npy"]))
    return left, np.flatnonzero(left != -1)


def with_cycle(members: Archive) -> Archive:
    _, inner = first_inner(members)
    node = int(inner[1])  # an inner node below the root points back to the root

    def edit(left: np.ndarray) -> np.ndarray:
        left[node] = 0
        return left

    return edit_array(members, "m0.left", edit)


def with_nan_leaf(members: Archive) -> Archive:
    left, _ = first_inner(members)
    leaf = int(np.flatnonzero(left == -1)[0])

    def edit(values: np.ndarray) -> np.ndarray:
        values[leaf] = np.nan
        return values

    return edit_array(members, "m0.values", edit)


def with_escaping_name(members: Archive) -> Archive:
    def edit(manifest: dict) -> None:
        manifest["arrays"]["m0.left"]["file"] = "../m0.left.npy"

    edited = edit_manifest(members, edit)
    edited["../m0.left.npy"] = edited.pop("arrays/m0.left.npy")
    return edited


def with_huge_declared_size(members: Archive) -> Archive:
    def edit(manifest: dict) -> None:
        manifest["arrays"]["m0.values"]["shape"] = [4_000_000, 2]  # 64 MB, the file holds KBs

    return edit_manifest(members, edit)


def write_bomb(path: Path, members: Archive) -> Path:
    """The model with one member that decompresses to 1 GB of zeros (~1 MB on disk)."""
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            if name != "arrays/m0.values.npy":
                zf.writestr(name, data)
        with zf.open("arrays/m0.values.npy", "w", force_zip64=True) as out:
            for _ in range(1000):
                out.write(chunk)
    return path


def mutate(kind: str, good: Path, bad: Path) -> Path:
    members = read_archive(good)
    if kind == "truncated archive":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        return bad
    if kind == "pickle renamed to .gam":
        bad.write_bytes(pickle.dumps(PIPE))
        return bad
    if kind == "1 GB member when decompressed":
        return write_bomb(bad, members)
    edits: dict[str, Callable[[Archive], Archive]] = {
        "wrong format version": lambda m: edit_manifest(m, lambda d: d.update(format_version=99)),
        "node index out of range": lambda m: edit_array(
            m, "m0.right", lambda a: np.where(a == -1, a, a + 10**6).astype(np.int32)
        ),
        "cycle in a tree": with_cycle,
        "NaN leaves": with_nan_leaf,
        "mismatched array lengths": lambda m: edit_array(m, "m0.threshold", lambda a: a[:-1]),
        "member name outside the zip root": with_escaping_name,
        "declared array size far beyond the file": with_huge_declared_size,
    }
    return write_archive(bad, edits[kind](members))


CASES = {
    "truncated archive": "truncated or corrupt",
    "wrong format version": "Unsupported model format version 99",
    "node index out of range": "is not after its parent inside its tree",
    "cycle in a tree": "is not after its parent inside its tree",
    "NaN leaves": "leaf values holds a non-finite value",
    "mismatched array lengths": "threshold has .* entries along axis 0; expected",
    "pickle renamed to .gam": "not a zip archive",
    "member name outside the zip root": "outside the archive root",
    "declared array size far beyond the file": "declares 64000000 bytes of data but its member",
    "1 GB member when decompressed": "more than max_bytes",
}


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> Path:
    return save_model(compile_model(PIPE), tmp_path_factory.mktemp("good") / "model.gam")


def test_the_unmodified_file_loads(good_file):
    np.testing.assert_array_equal(load_model(good_file).predict(X), PIPE.predict(X))


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_file_is_refused(kind, good_file, tmp_path):
    bad = mutate(kind, good_file, tmp_path / "bad.gam")
    with pytest.raises(InvalidModelError, match=CASES[kind]) as info:
        load_model(bad)
    assert str(bad) in str(info.value)  # the message names the file


class _Payload:
    """Unpickling this runs a command that creates a file: a loader must never do it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.gam"
    bad.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InvalidModelError, match="not a zip archive"):
        load_model(bad)
    assert not marker.exists()


def test_a_pickle_inside_the_archive_is_refused(good_file, tmp_path):
    members = read_archive(good_file)
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    members["arrays/m0.values.npy"] = buf.getvalue()
    with pytest.raises(InvalidModelError, match=r"m0.values"):
        load_model(write_archive(tmp_path / "bad.gam", members))


def test_an_undeclared_member_is_refused(good_file, tmp_path):
    members = read_archive(good_file) | {"extra/evil.py": b"print('hi')"}
    with pytest.raises(InvalidModelError, match="undeclared members"):
        load_model(write_archive(tmp_path / "bad.gam", members))


def test_missing_file_is_a_file_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.gam")
