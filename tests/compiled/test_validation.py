"""A corrupted or hostile model raises ValueError on construction; it never crashes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.tree import DecisionTreeClassifier

from greenauto._kernels import CompiledPipelineKernel
from greenauto.compiled import FlatForest, flatten_trees
from greenauto.compiled._flatten import leaf_distributions
from greenauto.compiled._reference import tree_reference

N_FEATURES = 4


def small_forest() -> FlatForest:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return flatten_trees(DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y))


def add(flat: FlatForest, binned: bool = False, class_map=(0, 1)) -> CompiledPipelineKernel:
    if binned:
        from greenauto._kernels import BinningKernel

        edges = np.zeros((N_FEATURES, 1))
        kernel = CompiledPipelineKernel(
            BinningKernel(edges, np.full(N_FEATURES, 2, dtype=np.int64)),
            list(range(N_FEATURES)),
            N_FEATURES,
            2,
        )
    else:
        kernel = CompiledPipelineKernel(None, [], N_FEATURES, 2)
    kernel.add_trees(
        flat.tree_starts, flat.feature, flat.threshold, flat.left, flat.right,
        flat.missing_left, leaf_distributions(flat.values) if flat.output == "mean"
        else flat.values, flat.out_offset, flat.n_outputs, flat.output_code,
        flat.sigmoid, list(class_map),
    )  # fmt: skip
    return kernel


def with_node(flat: FlatForest, field: str, i: int, value) -> FlatForest:
    array = getattr(flat, field).copy()
    array[i] = value
    return replace(flat, **{field: array})


def test_valid_forest_is_accepted():
    kernel = add(small_forest())
    assert kernel.n_members == 1


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("left", 0, "not after its parent"),  # a cycle to itself
        ("left", 10**6, "not after its parent"),
        ("right", -5, "not after its parent"),
        ("feature", N_FEATURES, "feature 4 out of range"),
        ("feature", -3, "out of range"),
        ("threshold", np.nan, "threshold is NaN"),
    ],
)
def test_corrupted_root_raises(field, value, match):
    with pytest.raises(ValueError, match=match):
        add(with_node(small_forest(), field, 0, value))


def test_shared_child_raises():
    flat = small_forest()
    flat = with_node(flat, "right", 0, flat.left[0])
    with pytest.raises(ValueError, match="two parents"):
        add(flat)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_leaf_value_raises(value):
    flat = small_forest()
    leaf = int(np.flatnonzero(flat.left == -1)[0])
    values = flat.values.copy()
    values[leaf, 1] = value
    with pytest.raises(ValueError, match="leaf value is not finite"):
        add(replace(flat, values=values))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"tree_starts": np.array([1, 15], dtype=np.int64)}, "tree_starts"),
        (
            {"tree_starts": np.array([0, 0, 15], np.int64), "out_offset": np.zeros(2, np.int32)},
            "empty",
        ),
        ({"out_offset": np.array([1], dtype=np.int32)}, "outputs out of range"),
        ({"out_offset": np.array([0, 0], dtype=np.int32)}, "one entry per tree"),
        ({"n_outputs": 1}, "leaf width"),
        ({"output": "sigmoid"}, "exactly one output"),
    ],
)
def test_inconsistent_shapes_raise(changes, match):
    flat = small_forest()
    changes = dict(changes)
    if "tree_starts" in changes and changes["tree_starts"][-1] == 15:
        changes["tree_starts"] = changes["tree_starts"].copy()
        changes["tree_starts"][-1] = flat.feature.size
    with pytest.raises(ValueError, match=match):
        add(replace(flat, **changes))


def test_short_node_array_raises():
    flat = small_forest()
    with pytest.raises(ValueError, match="node arrays"):
        add(replace(flat, threshold=flat.threshold[:-1]))


def test_wrong_array_dtype_is_refused():
    flat = small_forest()
    with pytest.raises(TypeError):
        add(replace(flat, threshold=flat.threshold.astype(np.float32)))


@pytest.mark.parametrize(("class_map", "match"), [((0,), "class map has 1"), ((0, 5), "5 out")])
def test_bad_class_map_raises(class_map, match):
    with pytest.raises(ValueError, match=match):
        add(small_forest(), class_map=class_map)


def knn_kernel(train, labels, k=1, p=2, n_classes=2):
    kernel = CompiledPipelineKernel(
        __import__("greenauto._kernels", fromlist=["BinningKernel"]).BinningKernel(
            np.zeros((2, 1)), np.full(2, 2, dtype=np.int64)
        ),
        [0, 1],
        2,
        2,
    )
    kernel.add_knn(
        np.array([0, 1], np.int32), train, labels, n_classes, k, p, list(range(n_classes))
    )
    return kernel


@pytest.mark.parametrize(
    ("k", "p", "labels", "match"),
    [
        (3, 2, [0, 1], r"k=3 must be in \[1, 2\]"),
        (0, 2, [0, 1], "k=0"),
        (1, 3, [0, 1], "L1"),
        (1, 2, [0, 2], "label of training row 1"),
    ],
)
def test_bad_knn_raises(k, p, labels, match):
    train = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    with pytest.raises(ValueError, match=match):
        knn_kernel(train, np.array(labels, np.int32), k=k, p=p)


@pytest.mark.parametrize(
    ("n_codes", "table", "match"),
    [
        ([2, 2], np.zeros((3, 2)), "per-feature sizes add up to 4"),
        ([2, 300], np.zeros((302, 2)), "1 to 256 rows"),
        ([2, 2], np.full((4, 2), np.inf), "not finite"),
    ],
)
def test_bad_nb_table_raises(n_codes, table, match):
    from greenauto._kernels import BinningKernel

    kernel = CompiledPipelineKernel(
        BinningKernel(np.zeros((2, 1)), np.full(2, 2, dtype=np.int64)), [0, 1], 2, 2
    )
    with pytest.raises(ValueError, match=match):
        kernel.add_table_nb(
            np.array([0, 1], np.int32), np.array(n_codes, np.int64), table, np.zeros(2), [0, 1]
        )


@st.composite
def hostile_forests(draw) -> FlatForest:
    n = draw(st.integers(1, 12))
    ints = st.integers(-2, n + 2)
    left = np.array(draw(st.lists(ints, min_size=n, max_size=n)), np.int32)
    right = np.array(draw(st.lists(ints, min_size=n, max_size=n)), np.int32)
    leafy = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    left[leafy], right[leafy] = -1, -1
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    values = np.array(draw(st.lists(floats, min_size=2 * n, max_size=2 * n))).reshape(n, 2)
    if draw(st.booleans()):
        values = np.nan_to_num(values, nan=0.5, posinf=1.0, neginf=0.0)
    return FlatForest(
        tree_starts=np.array([0, n], dtype=np.int64),
        feature=np.array(draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n)), np.int32),
        threshold=np.array(draw(st.lists(floats, min_size=n, max_size=n))),
        left=left,
        right=right,
        missing_left=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.uint8),
        values=values,
        out_offset=np.zeros(1, dtype=np.int32),
        n_outputs=2,
        output="mean",
    )


@settings(max_examples=300, deadline=None)
@given(flat=hostile_forests(), binned=st.booleans(), seed=st.integers(0, 2**16))
def test_hostile_forest_raises_or_matches_reference(flat, binned, seed):
    try:
        kernel = add(flat, binned=binned)
    except ValueError:
        return
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, N_FEATURES)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    labels, proba = kernel.predict(X, True, 1)
    codes = np.where(np.isnan(X), 2, X > 0).astype(np.uint8) if binned else X
    expected_labels, expected_proba = tree_reference(flat, codes)
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, expected_labels)
