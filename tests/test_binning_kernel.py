"""The C++ binning kernel against its numpy reference and scikit-learn's KBinsDiscretizer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.preprocessing import KBinsDiscretizer

from greenauto import Binner, ConstantFeatureWarning
from greenauto.preprocessing._binning import BinningKernel, bin_transform_reference, make_kernel

from ._data import dataset_names, load

FLOAT_TYPES = [np.float32, np.float64]


def kernel_transform(kernel: BinningKernel, X: np.ndarray, columns=None, n_threads=1):
    cols = np.arange(X.shape[1], dtype=np.int64) if columns is None else columns
    out = np.empty((X.shape[0], cols.size), dtype=np.uint8)
    kernel.transform(X, cols, out, n_threads)
    return out


def kbins_transform(bin_edges, X: np.ndarray) -> np.ndarray:
    """KBinsDiscretizer(encode="ordinal").transform with the given edges (rows without NaN)."""
    kb = KBinsDiscretizer(encode="ordinal")
    kb.bin_edges_ = np.asarray(bin_edges, dtype=object)
    kb.n_bins_ = np.array([len(e) - 1 for e in bin_edges])
    kb.n_features_in_ = X.shape[1]
    kb.dtype = None
    with np.errstate(all="ignore"):  # sklearn's finiteness check sums huge float32 values
        return kb.transform(X)


# --------------------------------------------------------------------------- real datasets


@pytest.mark.parametrize("name", dataset_names())
@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_parity_on_real_dataset(name: str, strategy: str) -> None:
    X_frame, _ = load(name)
    X = X_frame.select_dtypes("number").to_numpy(dtype=np.float64)
    assert X.shape[1] > 0 or name == "car_evaluation"  # car_evaluation is all strings
    if X.shape[1] == 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        binner = Binner(n_bins=64, strategy=strategy, random_state=0).fit(X)
    nan_rows = np.isnan(X).any(axis=1)
    for dtype in FLOAT_TYPES:
        Xd = X.astype(dtype)
        got = binner.transform(Xd)
        np.testing.assert_array_equal(got, bin_transform_reference(Xd, binner.bin_edges_))
        # KBinsDiscretizer with Binner's edges, on the rows it accepts (no NaN)
        expected = kbins_transform(binner.bin_edges_, Xd[~nan_rows])
        np.testing.assert_array_equal(got[~nan_rows], expected)
        # NaN has its own bin, n_bins_[j]
        rows, cols = np.nonzero(np.isnan(Xd))
        np.testing.assert_array_equal(got[rows, cols], binner.n_bins_[cols])


@pytest.mark.parametrize("name", dataset_names())
def test_kernel_with_kbins_own_edges(name: str) -> None:
    """Edges learned by KBinsDiscretizer itself give the same bins through our kernel."""
    X_frame, _ = load(name)
    X = X_frame.select_dtypes("number").dropna().to_numpy(dtype=np.float64)
    if X.shape[1] == 0:  # car_evaluation: no numeric column
        assert name == "car_evaluation"
        return
    X = X[:50_000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # KBins: constant / tiny bins removed
        kb = KBinsDiscretizer(
            n_bins=32, encode="ordinal", strategy="quantile", subsample=20_000, random_state=0
        ).fit(X)
    kernel = make_kernel(kb.bin_edges_)
    for dtype in FLOAT_TYPES:
        Xd = X.astype(dtype)
        np.testing.assert_array_equal(kernel_transform(kernel, Xd), kb.transform(Xd))


# --------------------------------------------------------------------------- Hypothesis

special = st.sampled_from(
    [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-45, 1.5e-45, 3.4e38, -3.4e38]
)


def float_arrays(dtype, max_rows=40, max_cols=5):
    elements = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=32 if dtype == np.float32 else 64),
        special,
        st.integers(-3, 3).map(float),  # many ties
    )
    shape = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=max_rows).filter(
        lambda s: s[1] <= max_cols
    )
    return hnp.arrays(dtype, shape, elements=elements)


@given(
    data=st.data(),
    dtype=st.sampled_from(FLOAT_TYPES),
    n_bins=st.integers(2, 255),
    strategy=st.sampled_from(["quantile", "uniform"]),
)
def test_fit_transform_matches_reference(data, dtype, n_bins, strategy) -> None:
    X = data.draw(float_arrays(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        binner = Binner(n_bins=n_bins, strategy=strategy).fit(X)
    assert np.all(binner.n_bins_ <= n_bins)
    # transform data the binner has not seen, of both dtypes
    Y = data.draw(hnp.arrays(dtype, (data.draw(st.integers(0, 30)), X.shape[1]), elements=special))
    with np.errstate(over="ignore"):  # float64 -> float32 casts of huge values give inf
        narrowed = X.astype(np.float32)
    for Z in (X, Y, X.astype(np.float64), narrowed):
        got = kernel_transform(binner._get_kernel(), Z)
        np.testing.assert_array_equal(got, bin_transform_reference(Z, binner.bin_edges_))
        finite = np.isfinite(Z).all(axis=1)
        if not finite.any():
            continue
        np.testing.assert_array_equal(
            got[finite], kbins_transform(binner.bin_edges_, Z[finite]).astype(np.uint8)
        )


@st.composite
def edge_sets(draw):
    """KBins-style edges with arbitrary non-decreasing inner edges (ties, inf, subnormals)."""
    n_features = draw(st.integers(1, 4))
    edges = []
    for _ in range(n_features):
        inner = draw(
            st.lists(
                st.one_of(st.floats(allow_nan=False), special.filter(lambda v: v == v)),
                max_size=254,
            )
        )
        edges.append(np.array([-1.0, *sorted(inner), 1.0]))
    return edges


@given(edges=edge_sets(), data=st.data(), dtype=st.sampled_from(FLOAT_TYPES))
def test_arbitrary_edges_match_reference(edges, data, dtype) -> None:
    kernel = make_kernel(edges)
    X = data.draw(
        hnp.arrays(
            dtype,
            (data.draw(st.integers(0, 20)), len(edges)),
            elements=st.one_of(st.floats(width=32 if dtype == np.float32 else 64), special),
        )
    )
    got = kernel_transform(kernel, X)
    np.testing.assert_array_equal(got, bin_transform_reference(X, edges))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
@pytest.mark.parametrize(
    "layout",
    ["C", "F", "rows_strided", "cols_strided", "reversed", "transposed_view"],
)
def test_memory_layouts_read_in_place(dtype, layout) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(301, 8)).astype(dtype)
    base[rng.random(base.shape) < 0.05] = np.nan
    binner = Binner(n_bins=17).fit(base[:, :4])
    views = {
        "C": np.ascontiguousarray(base[:, :4]),
        "F": np.asfortranarray(base[:, :4]),
        "rows_strided": base[::3, :4],
        "cols_strided": base[:, ::2],
        "reversed": base[::-1, 3::-1],
        "transposed_view": np.ascontiguousarray(base[:, :4].T).T,
    }
    X = views[layout]
    expected = bin_transform_reference(X, binner.bin_edges_)
    np.testing.assert_array_equal(binner.transform(X), expected)
    cols = np.array([3, 0, 0, 2])
    np.testing.assert_array_equal(binner.transform_columns(X, cols), expected[:, cols])


def test_fused_selection_and_threads_agree() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_cauchy(size=(20_000, 12))
    X[rng.random(X.shape) < 0.01] = np.nan
    binner = Binner(n_bins=100).fit(X)
    full = binner.transform(X)
    cols = np.array([11, 2, 2, 7, 0])
    for n_jobs in (None, 2, -1):
        binner.set_params(n_jobs=n_jobs)
        np.testing.assert_array_equal(binner.transform_columns(X, cols), full[:, cols])
    mask = np.zeros(12, dtype=bool)
    mask[[0, 5]] = True
    np.testing.assert_array_equal(binner.transform_columns(X, mask), full[:, [0, 5]])


def test_special_values_land_where_documented() -> None:
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    binner = Binner(n_bins=4).fit(X)
    Z = np.array([[-np.inf], [np.inf], [np.nan], [-0.0], [0.0], [5e-324], [1e308]])
    got = binner.transform(Z).ravel()
    assert got.tolist() == [0, 3, 4, 0, 0, 0, 3]


def test_constant_and_all_nan_features_get_one_bin_and_a_warning() -> None:
    X = np.array([[1.0, np.nan, 0.0], [1.0, np.nan, 1.0], [1.0, np.nan, 2.0]])
    with pytest.warns(ConstantFeatureWarning) as record:
        binner = Binner().fit(X)
    messages = [str(w.message) for w in record]
    assert [m.split(" has ")[0] for m in messages] == ["Feature 0", "Feature 1"]
    assert record[0].filename == __file__  # points at the caller of fit
    assert binner.n_bins_.tolist() == [1, 1, 3]
    got = binner.transform(np.array([[7.0, 3.0, 1.0], [np.nan, np.nan, np.nan]]))
    assert got.tolist() == [[0, 0, 1], [1, 1, 3]]


def test_one_row_and_empty_batches() -> None:
    binner = Binner(n_bins=8).fit(np.arange(40.0).reshape(20, 2))
    assert binner.transform(np.array([[3.0, 100.0]])).shape == (1, 2)
    kernel = binner._get_kernel()
    assert kernel_transform(kernel, np.empty((0, 2))).shape == (0, 2)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        binner.transform(np.empty((0, 2)))


def test_n_bins_per_feature() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1000, 3))
    binner = Binner(n_bins=[2, 10, 255]).fit(X)
    assert binner.n_bins_.tolist() == [2, 10, 255]
    assert binner.transform(X).max(axis=0).tolist() == [1, 9, 254]


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
@pytest.mark.parametrize("n_bins", [9, 255])
def test_few_rows_take_the_per_value_search_at_every_level(dtype, n_bins) -> None:
    """Batches of fewer than 4 rows are binned value by value (no 16-row vectors): the codes
    equal the reference, and those of the same rows in a large batch, at every kernel level;
    NaN, infinities, values on the edges and float64 values between float32 neighbours
    included."""
    import greenauto._kernels as kernels

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 21))
    binner = Binner(n_bins=n_bins).fit(X)
    edges = binner.bin_edges_
    Z = rng.normal(size=(40, 21))
    Z[0, :] = [edges[j][1 + j % max(1, len(edges[j]) - 2)] for j in range(21)]  # on edges
    Z[1, :] = np.nextafter(Z[0, :], np.inf)
    Z[2, ::3], Z[3, 1::3], Z[4, 2::3] = np.nan, np.inf, -np.inf
    Z = Z.astype(dtype)
    big = np.concatenate([Z] * 3)
    order = ["scalar", "avx2", "avx512"]
    before = kernels.isa()
    try:
        for level in order[: order.index(kernels.detected_isa()) + 1]:
            kernels.set_isa(level)
            full = binner.transform(big)[: len(Z)]
            np.testing.assert_array_equal(full, bin_transform_reference(Z, edges))
            for n in (1, 2, 3, 4, 5):
                for start in range(0, len(Z) - n, 7):
                    got = binner.transform(Z[start : start + n])
                    np.testing.assert_array_equal(got, full[start : start + n], err_msg=level)
    finally:
        kernels.set_isa(before)
