"""The fast path of CompiledPipeline.predict / predict_proba (one extension call for numpy
float32/float64 input, labels written by the kernel in the classes' dtype, buffers reused from
call to call) gives exactly what the general path gives, and falls back for anything else."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import greenauto._kernels as kernels
from greenauto import Binner
from greenauto.compiled import CompiledPipeline

RNG = np.random.default_rng(0)
X = RNG.normal(size=(1500, 5))
Y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
LABELS = {
    "int64": np.array([3, 7, 11]),
    "int8": np.array([-1, 0, 5], dtype=np.int8),
    "float32": np.array([0.5, 1.5, -2.0], dtype=np.float32),
    "bool-like uint16": np.array([10, 20, 30], dtype=np.uint16),
    "fixed-width text": np.array(["cat", "dog", "a longer label"]),
    "objects": np.array(["x", 2, None], dtype=object),
}


def general(pipe: CompiledPipeline, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities through the general path (a list is never taken fast)."""
    idx, proba = pipe._kernel.predict(pipe._check(X.tolist()), True, pipe.n_threads)
    return pipe.classes_.take(idx), proba


@pytest.fixture(scope="module")
def binned() -> tuple[Binner, list]:
    binner = Binner(n_bins=16).fit(X)
    codes = binner.transform(X).astype(float)
    members = [
        DecisionTreeClassifier(max_depth=6, random_state=0).fit(codes, Y),
        GaussianNB().fit(codes, Y),
        KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(codes, Y),
    ]
    return binner, members


@pytest.fixture(params=[True, False], ids=["numpy C API", "numpy.empty"])
def outputs_by(request):
    """The outputs made through numpy's C API (where found), then through numpy.empty."""
    if request.param and not kernels._numpy_c_api():
        pytest.fail("numpy's C API capsule (_ARRAY_API) was not found")
    before = kernels._set_numpy_c_api(request.param)
    yield request.param
    kernels._set_numpy_c_api(before)


@pytest.mark.parametrize("kind", list(LABELS))
@pytest.mark.parametrize("n_members", [1, 3])
def test_labels_in_the_classes_dtype_equal_the_general_path(binned, kind, n_members, outputs_by):
    binner, members = binned
    pipe = CompiledPipeline(members[:n_members], classes=[0, 1, 2], binner=binner,
                            labels=LABELS[kind])  # fmt: skip
    want, want_p = general(pipe, X)
    for Xin in (X, X.astype(np.float32), np.asfortranarray(X), X[::2], X[:1], X[:300]):
        rows = slice(None, None, 2) if Xin.shape[0] == 750 else slice(0, Xin.shape[0])
        got = pipe.predict(Xin)
        assert got.dtype == pipe.classes_.dtype
        assert got.flags.owndata
        assert got.flags.writeable
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, want[rows])
        np.testing.assert_array_equal(pipe.predict_proba(Xin), want_p[rows])
        lab, proba = pipe.predict_with_proba(Xin)
        np.testing.assert_array_equal(lab, want[rows])
        np.testing.assert_array_equal(proba, want_p[rows])
        np.testing.assert_array_equal(pipe.classes_[pipe.predict_codes(Xin)], want[rows])


def test_buffers_reused_across_batch_sizes_and_outputs_give_the_same_results(binned):
    binner, members = binned
    pipe = CompiledPipeline(members, classes=[0, 1, 2], binner=binner, voting="hard")
    fresh = {n: general(pipe, X[:n]) for n in (1, 7, 513, 1500)}
    for n in (1500, 1, 513, 7, 1, 1500, 7):  # shrinking and growing the kept buffers
        np.testing.assert_array_equal(pipe.predict(X[:n]), fresh[n][0])
        np.testing.assert_array_equal(pipe.predict_proba(X[:n]), fresh[n][1])


def test_concurrent_calls_each_get_their_own_buffers(binned):
    """Calls from several Python threads: one uses the kept buffers, the others their own
    (large batches release the GIL, so they overlap)."""
    binner, members = binned
    pipe = CompiledPipeline(members, classes=[0, 1, 2], binner=binner, voting="soft")
    big = np.tile(X, (4, 1))
    want = general(pipe, big)
    errors: list[str] = []

    def run() -> None:
        for _ in range(5):
            lab, proba = pipe.predict_with_proba(big)
            if not (np.array_equal(lab, want[0]) and np.array_equal(proba, want[1])):
                errors.append("differs")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_raw_mode_takes_float32_fast_and_converts_the_rest():
    Xf = X.astype(np.float32)
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(Xf, Y)
    pipe = CompiledPipeline([tree], classes=[0, 1, 2], labels=["a", "b", "c"])
    assert pipe._kernel.predict_fast(Xf, 1, pipe.classes_, 0) is not None
    for other in (Xf, X, np.asfortranarray(Xf), (X * 3).astype(np.int64), Xf[::3]):
        want = np.array(["a", "b", "c"])[tree.predict(other.astype(np.float32))]
        np.testing.assert_array_equal(pipe.predict(other), want)
    assert pipe._kernel.predict_fast(X, 1, pipe.classes_, 0) is None  # float64: converted


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((3, 4)), r"shape \(n_samples, 5\); got \(3, 4\)"),
        (np.zeros((0, 5)), "empty batch"),
        (np.zeros(5), r"shape \(n_samples, 5\); got \(5,\)"),
        (np.zeros((2, 5), dtype=np.complex128), "must hold numbers"),
        (np.array([["a"] * 5]), "must hold numbers"),
    ],
)
def test_bad_input_still_gets_the_general_paths_errors(binned, bad, match):
    binner, members = binned
    pipe = CompiledPipeline(members[:1], classes=[0, 1, 2], binner=binner)
    assert pipe._kernel.predict_fast(bad, 1, pipe.classes_, 0) is None
    for fn in (pipe.predict, pipe.predict_proba, pipe.predict_with_proba):
        with pytest.raises((TypeError, ValueError), match=match):
            fn(bad)


def test_subclasses_odd_strides_and_byte_order(binned, tmp_path):
    binner, members = binned
    pipe = CompiledPipeline(members[:1], classes=[0, 1, 2], binner=binner)
    want = pipe.predict(X)
    swapped = X.astype(X.dtype.newbyteorder())
    assert pipe._kernel.predict_fast(swapped, 1, None, 0) is None  # the general path decides
    mapped = np.memmap(tmp_path / "x.bin", dtype=np.float64, mode="w+", shape=X.shape)
    mapped[:] = X
    assert pipe._kernel.predict_fast(mapped, 1, None, 0) is not None  # a subclass: read
    np.testing.assert_array_equal(pipe.predict(mapped), want)
    # a field of a packed structured array: strides not a multiple of 8, copied once
    packed = np.zeros(X.shape[0], dtype=[("a", np.uint8), ("x", np.float64, 5)])
    packed["x"] = X
    assert packed["x"].strides[0] % 8 != 0
    np.testing.assert_array_equal(pipe.predict(packed["x"]), want)
