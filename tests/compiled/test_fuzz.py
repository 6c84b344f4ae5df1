"""Hypothesis fuzz of the compiled paths (run under ASan + UBSan by ``make sanitize``):

- random trees: node arrays of any valid shape, depth, split feature, threshold, NaN
  direction, leaf values and output transform, built into the kernel and run on random rows
  (NaN, +/-inf, extremes): labels and probabilities equal the numpy reference;
- random corrupt model arrays: one array of a real saved model (forest, Naive Bayes and KNN
  in one vote) changed in a value, its length or its dtype: the model is refused with
  ``InvalidModelError``, or (when the change keeps it valid) it predicts, consistently. Under
  the sanitizers any read outside an array fails the run.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB
from sklearn.neighbors import KNeighborsClassifier

from greenauto import Binner
from greenauto.compiled import CompiledPipeline, FlatForest, InvalidModelError, ModelIR
from greenauto.compiled._codec import ir_from_parts, ir_to_parts
from greenauto.compiled._ir import TreesIR
from greenauto.compiled._reference import tree_reference

N_FEATURES = 4
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
extreme = st.sampled_from([0.0, -0.0, 1e-38, -1e-38, 3.4e38, -3.4e38, np.inf, -np.inf, np.nan])
values = st.one_of(st.floats(-4, 4, width=32), extreme)
rows = arrays(np.float32, st.tuples(st.integers(1, 60), st.just(N_FEATURES)), elements=values)


@st.composite
def trees(draw, max_depth: int = 6) -> list[tuple]:
    """One tree in preorder: (feature, threshold, missing_left) inner nodes, None leaves."""
    nodes: list[tuple | None] = []

    def grow(depth: int) -> None:
        if depth >= max_depth or draw(st.integers(0, 3)) == 0:
            nodes.append(None)
            return
        nodes.append(
            (
                draw(st.integers(0, N_FEATURES - 1)),
                draw(st.floats(-3, 3, width=32)),
                draw(st.integers(0, 1)),
            )
        )
        grow(depth + 1)
        grow(depth + 1)

    grow(0)
    return nodes


def flat_forest(tree_list: list[list], output: str, n_outputs: int, leaf) -> FlatForest:
    feature, threshold, left, right, missing, starts = [], [], [], [], [], [0]
    for nodes in tree_list:
        base = len(feature)

        def place(i: int, nodes=nodes, base=base) -> int:
            """Write node i and its subtree; return the index after the subtree."""
            me = base + i
            node = nodes[i]
            if node is None:
                feature.append(0)
                threshold.append(0.0)
                left.append(-1)
                right.append(-1)
                missing.append(0)
                return i + 1
            f, t, m = node
            feature.append(f)
            threshold.append(float(t))
            missing.append(m)
            left.append(-1)
            right.append(-1)
            left[me] = base + i + 1
            after_left = place(i + 1)
            right[me] = base + after_left
            return place(after_left)

        place(0)
        starts.append(len(feature))
    n = len(feature)
    width = 1 if output == "sigmoid" else n_outputs
    return FlatForest(
        tree_starts=np.array(starts, dtype=np.int64),
        feature=np.array(feature, dtype=np.int32),
        threshold=np.array(threshold, dtype=np.float64),
        left=np.array(left, dtype=np.int32),
        right=np.array(right, dtype=np.int32),
        missing_left=np.array(missing, dtype=np.uint8),
        values=np.asarray(leaf(n, width), dtype=np.float64).reshape(n, width),
        out_offset=np.zeros(len(tree_list), dtype=np.int32),
        n_outputs=n_outputs,
        output=output,
    )


@FUZZ
@given(
    forest_trees=st.lists(trees(), min_size=1, max_size=5),
    output=st.sampled_from(["mean", "sigmoid", "softmax"]),
    n_classes=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    X=rows,
)
def test_random_trees_on_random_rows_equal_the_reference(forest_trees, output, n_classes,
                                                         seed, X):  # fmt: skip
    if output == "sigmoid":
        n_classes = 2
    rng = np.random.default_rng(seed)
    n_outputs = 1 if output == "sigmoid" else n_classes

    def leaf(n: int, width: int) -> np.ndarray:
        if output == "mean":  # class counts
            return rng.integers(0, 20, (n, width)).astype(float) + (rng.random((n, 1)) > 0.5)
        return rng.normal(0, 2, (n, width))

    flat = flat_forest(forest_trees, output, n_outputs, leaf)
    member = TreesIR(flat, np.arange(n_classes, dtype=np.int32), "LightGBM")
    ir = ModelIR(classes=np.arange(n_classes), n_features_in=N_FEATURES, members=(member,))
    pipe = CompiledPipeline.from_ir(ir)
    labels, proba = pipe.predict_with_proba(X)
    ref_labels, ref_proba = tree_reference(flat, X)
    np.testing.assert_allclose(proba, ref_proba, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(pipe.predict(X), np.argmax(proba, axis=1))
    assert labels.shape == ref_labels.shape


# --------------------------------------------------------------------------- corrupt arrays
RNG = np.random.default_rng(0)
X_FIT = RNG.normal(size=(400, N_FEATURES))
Y_FIT = (X_FIT[:, 0] + X_FIT[:, 1] > 0).astype(int) + (X_FIT[:, 2] > 1)
BINNER = Binner(n_bins=12).fit(X_FIT)
CODES = BINNER.transform(X_FIT)
MEMBERS = [
    RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(CODES, Y_FIT),
    CategoricalNB(min_categories=BINNER.n_bins_ + 1).fit(CODES, Y_FIT),
    KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(CODES.astype(float), Y_FIT),
]
MODEL = CompiledPipeline(MEMBERS, classes=[0, 1, 2], binner=BINNER, voting="soft")
MANIFEST, ARRAYS = ir_to_parts(MODEL.ir)
NAMES = sorted(ARRAYS)
BAD_VALUES = [-1, 0, 1, 2, 3, 7, 255, 256, 2**31 - 1, -(2**31), 1e300, -1e300, np.nan, np.inf]


@st.composite
def corruptions(draw) -> tuple[str, np.ndarray]:
    name = draw(st.sampled_from(NAMES))
    a = np.array(ARRAYS[name], copy=True)
    how = draw(st.sampled_from(["value", "value", "value", "shorter", "longer", "dtype"]))
    if how == "value" and a.size:
        index = tuple(draw(st.integers(0, d - 1)) for d in a.shape)
        value = draw(st.sampled_from(BAD_VALUES))
        if a.dtype.kind in "iu" and not np.isfinite(value):
            value = -1
        with np.errstate(over="ignore", invalid="ignore"):
            a[index] = np.asarray(value).astype(a.dtype) if a.dtype.kind in "iu" else value
    elif how == "shorter" and a.shape[0]:
        a = a[: draw(st.integers(0, a.shape[0] - 1))]
    elif how == "longer":
        a = np.concatenate([a, a[:1] if a.shape[0] else np.zeros((1, *a.shape[1:]), a.dtype)])
    else:
        a = a.astype(draw(st.sampled_from(["int64", "int32", "float64", "uint8"])))
    return name, a


@FUZZ
@given(corruption=corruptions(), X=rows)
def test_a_corrupt_model_array_is_refused_or_predicts_consistently(corruption, X):
    name, array = corruption
    parts = dict(ARRAYS) | {name: array}
    try:
        pipe = CompiledPipeline.from_ir(ir_from_parts(MANIFEST, parts))
    except InvalidModelError:
        return
    labels, proba = pipe.predict_with_proba(X)
    assert labels.shape == (X.shape[0],)
    assert proba.shape == (X.shape[0], 3)
    np.testing.assert_array_equal(pipe.classes_[np.argmax(proba, axis=1)], labels)
