"""Every instruction-set level (scalar, AVX2, AVX-512) gives identical results, on every path.

The level is switched with ``greenauto._kernels.set_isa`` (levels this CPU lacks are not
listed by ``available_levels``: the test ids name the levels that ran). Shapes are chosen so
that each kernel path runs: Quickscorer trees of <= 16, <= 32 and <= 64 leaves, walked trees
(deep, > 255 nodes; their top levels by Quickscorer), row-major accumulators (many classes),
the few-row latency path, KNN with L1 / L2 / the dot-product L2 on codes < 128, and binning of
float32 / float64.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

import greenauto._kernels as kernels
from greenauto import Binner
from greenauto.compiled import CompiledPipeline

from .conftest import binned, fit_rows

ORDER = ["scalar", "avx2", "avx512"]
LEVELS = ORDER[: ORDER.index(kernels.detected_isa()) + 1]


# AVX-512 runs: (name, fast_gathers, few-row path); each CPU takes one binning path by default
# and each forest times its few-row paths, so every one is forced in turn.
AVX512_RUNS = [("avx512", True, "gather"), ("avx512 without gathers", False, "top"),
               ("avx512 walk", False, "walk")]  # fmt: skip


def run_at_levels(fn) -> dict[str, object]:
    """fn() at every level this CPU has, AVX-512 with its gather paths, without them (the
    few-row path across trees), and walking; the settings are restored."""
    before, gathers, path = kernels.isa(), kernels.fast_gathers(), kernels.row_path()
    out = {}
    try:
        for level in LEVELS:
            kernels.set_isa(level)
            runs = AVX512_RUNS if level == "avx512" else [(level, gathers, "walk")]
            for name, fast, row_path in runs:
                kernels.set_fast_gathers(fast)
                kernels.set_row_path(row_path)
                out[name] = fn()
    finally:
        kernels.set_isa(before)
        kernels.set_fast_gathers(gathers)
        kernels.set_row_path(path)
    return out


def assert_all_equal(results: dict[str, object]) -> None:
    """Bit-identical arrays (or tuples of arrays) at every level."""
    first, *rest = results
    for level in rest:
        a, b = results[first], results[level]
        pairs = zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]
        for x, z in pairs:
            np.testing.assert_array_equal(x, z, err_msg=f"{first} vs {level}")


TREES = {
    "qs16_lgbm": lambda: lgb.LGBMClassifier(n_estimators=12, num_leaves=16, n_jobs=1, verbose=-1),
    "qs32_lgbm": lambda: lgb.LGBMClassifier(n_estimators=12, num_leaves=31, n_jobs=1, verbose=-1),
    "qs64_lgbm": lambda: lgb.LGBMClassifier(n_estimators=8, num_leaves=64, n_jobs=1, verbose=-1),
    "walk_deep_dt": lambda: DecisionTreeClassifier(random_state=0),  # hundreds of nodes
    "walk_rf": lambda: RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0),
    "mixed_et": lambda: ExtraTreesClassifier(n_estimators=10, max_depth=6, random_state=0),
}


@pytest.mark.parametrize("name", ["magic", "letter", "wisdm_activity", "spambase"])
@pytest.mark.parametrize("kind", sorted(TREES))
def test_tree_levels_agree_and_match_the_model(name, kind):
    binner, X, codes, y = binned(name)
    rows = fit_rows(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TREES[kind]().fit(codes[rows], y[rows])
    pipe = CompiledPipeline([model], classes=model.classes_, binner=binner)
    for batch in (X, X[:5], X[:77]):  # blocks, the row path, a partial block
        results = run_at_levels(lambda b=batch: (pipe.predict(b), pipe.predict_proba(b)))
        assert_all_equal(results)
        expected = model.predict(binner.transform(batch))
        np.testing.assert_array_equal(results["scalar"][0], expected)


@pytest.mark.parametrize("depth", [8, 10, 14])
def test_walked_trees_with_a_quickscorer_top_match_the_model(depth):
    """Trees of > 64 leaves run their top 5 levels by Quickscorer and walk the rest from the
    exit node: leaves above the top's depth (a pure region), exits at depth 5 and trees just
    deeper than the top, with many classes (integer sums) and probabilities (float64)."""
    rng = np.random.default_rng(depth)
    codes = rng.integers(0, 64, size=(4000, 6)).astype(np.float64)
    y = rng.integers(0, 7, size=4000)
    y[codes[:, 0] < 6] = 0  # a pure region: a leaf at depth 1 or 2
    model = RandomForestClassifier(n_estimators=6, max_depth=depth, random_state=0)
    model.fit(codes, y)
    assert min(e.get_n_leaves() for e in model.estimators_) > 64  # all walked
    edges = [np.r_[-1.0, np.arange(63) + 0.5, 64.0]] * codes.shape[1]
    pipe = CompiledPipeline([model], classes=model.classes_, binner=edges)
    for batch in (codes, codes[:77], codes[:5]):
        results = run_at_levels(lambda b=batch: (pipe.predict(b), pipe.predict_proba(b)))
        assert_all_equal(results)
        np.testing.assert_array_equal(results[LEVELS[-1]][0], model.predict(batch))
        np.testing.assert_allclose(
            results[LEVELS[-1]][1], model.predict_proba(batch), rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("n_features", [5, 64, 65, 128, 129])
@pytest.mark.parametrize("with_qs64", [False, True])
def test_few_rows_through_a_forest_of_deep_and_small_trees(n_features, with_qs64):
    """The few-row "top" path of AVX-512 runs the tops of 64 trees at a time by
    Quickscorer across the trees (the row's codes looked up in one or, past 64 features, two
    register pairs; the small trees whole) and walks the rest: 70 trees (a partial second
    group) mixing deep trees (a top, then a walk) with trees of at most 32 leaves. Past 128
    features, or with a tree of 33-64 leaves, the rows take the plain walk. Every level gives
    the model's labels and probabilities."""
    rng = np.random.default_rng(n_features)
    codes = rng.integers(0, 64, size=(3000, n_features)).astype(np.float64)
    y = (codes[:, 0] + codes[:, -1] + rng.integers(0, 40, size=3000)) // 30  # 5 classes
    model = RandomForestClassifier(n_estimators=70, max_depth=10, random_state=0).fit(codes, y)
    for i in range(0, 70, 3):  # small trees among the deep ones
        leaves = 40 if with_qs64 and i == 33 else 4 + i % 29
        small = DecisionTreeClassifier(max_leaf_nodes=leaves, max_features=3, random_state=i)
        model.estimators_[i] = small.fit(codes, y)  # every class: the forest's leaf rows
    sizes = [e.get_n_leaves() for e in model.estimators_]
    assert min(sizes) <= 32
    assert max(sizes) > 64
    assert (max(s for s in sizes if s <= 64) > 32) == with_qs64
    edges = [np.r_[-1.0, np.arange(63) + 0.5, 64.0]] * n_features
    pipe = CompiledPipeline([model], classes=model.classes_, binner=edges)
    for batch in (codes[:1], codes[5:12]):
        results = run_at_levels(lambda b=batch: (pipe.predict(b), pipe.predict_proba(b)))
        assert_all_equal(results)
        np.testing.assert_array_equal(results[LEVELS[-1]][0], model.predict(batch))
        np.testing.assert_allclose(
            results[LEVELS[-1]][1], model.predict_proba(batch), rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("limit", [1, 700])
def test_forests_of_several_walk_segments(limit):
    """Walk nodes are indexed from the first node of their segment (24-bit indices); nearly
    every forest is one segment. Built with a small segment limit (1: a segment per tree; 700:
    a few trees per segment), a forest of deep trees (Quickscorer tops) and small ones gives
    the model's labels and probabilities in batches and through every few-row path."""
    rng = np.random.default_rng(limit)
    codes = rng.integers(0, 64, size=(3000, 8)).astype(np.float64)
    y = (codes[:, 0] + codes[:, -1] + rng.integers(0, 40, size=3000)) // 30  # 5 classes
    # 36 trees: the few-row walk steps groups of 16, 16 and 4 trees
    model = RandomForestClassifier(n_estimators=36, max_depth=9, random_state=0).fit(codes, y)
    for i in range(0, 36, 4):  # small trees among the deep ones
        small = DecisionTreeClassifier(max_leaf_nodes=4 + i % 29, random_state=i)
        model.estimators_[i] = small.fit(codes, y)
    edges = [np.r_[-1.0, np.arange(63) + 0.5, 64.0]] * codes.shape[1]
    before = kernels._set_walk_segment_limit(limit)
    try:
        pipe = CompiledPipeline([model], classes=model.classes_, binner=edges)
    finally:
        kernels._set_walk_segment_limit(before)
    for batch in (codes, codes[:77], codes[:1], codes[5:12]):
        results = run_at_levels(lambda b=batch: (pipe.predict(b), pipe.predict_proba(b)))
        assert_all_equal(results)
        np.testing.assert_array_equal(results[LEVELS[-1]][0], model.predict(batch))
        np.testing.assert_allclose(
            results[LEVELS[-1]][1], model.predict_proba(batch), rtol=0, atol=1e-12
        )


def test_raw_trees_with_nan_agree_across_levels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 7)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=31, n_jobs=1, verbose=-1).fit(X, y)
    pipe = CompiledPipeline([model], classes=model.classes_)
    results = run_at_levels(lambda: (pipe.predict(X), pipe.predict_proba(X)))
    assert_all_equal(results)
    np.testing.assert_array_equal(results["scalar"][0], model.predict(X))


@pytest.mark.parametrize(
    ("n_codes", "p", "k", "n_features"),
    [
        (4, 1, 5, 10),  # few distinct codes: many tied distances
        (4, 2, 7, 10),
        (100, 2, 5, 23),  # codes < 128: the dot-product path, 3 feature groups
        (250, 2, 3, 23),  # codes >= 128: the absolute-difference path
        (250, 1, 30, 40),
        (2, 2, 1, 3),
    ],
)
def test_knn_levels_agree_with_scikit_learn_ties_included(n_codes, p, k, n_features):
    rng = np.random.default_rng(n_codes + k)
    train = rng.integers(0, n_codes, size=(700, n_features)).astype(np.float64)
    y = rng.integers(0, 3, size=700)
    test = rng.integers(0, n_codes, size=(301, n_features)).astype(np.float64)
    knn = KNeighborsClassifier(n_neighbors=k, p=p, algorithm="brute").fit(train, y)
    edges = [np.r_[-1.0, np.arange(n_codes - 1) + 0.5, n_codes] for _ in range(n_features)]
    pipe = CompiledPipeline([knn], classes=knn.classes_, binner=edges)
    results = run_at_levels(lambda: pipe.predict(test))
    assert_all_equal(results)
    with threadpool_limits(1):
        np.testing.assert_array_equal(results["scalar"], knn.predict(test))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_bins", [7, 64, 255])
@pytest.mark.parametrize("width", [3, 37])
def test_binning_levels_agree(dtype, n_bins, width):
    """Row-major and column-major input; 37 columns: row blocks of 16 features transposed
    (three of them, the last partial) where gathers are not used; rows past a multiple of 16;
    a few columns read, in ascending and in scattered order."""
    rng = np.random.default_rng(n_bins)
    kinds = [
        lambda: rng.normal(size=5000),
        lambda: rng.standard_cauchy(5000),
        lambda: rng.integers(0, 9, 5000).astype(float),
    ]
    X = np.column_stack([kinds[j % 3]() for j in range(width)])
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:3, :3] = [[np.inf, -np.inf, 0.0]] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binner = Binner(n_bins=n_bins).fit(X)
    X = X.astype(dtype)
    assert_all_equal(run_at_levels(lambda: binner.transform(X)))
    assert_all_equal(run_at_levels(lambda: binner.transform(np.asfortranarray(X))))
    kernel = binner._get_kernel()
    for cols in ([0, width - 1], [width - 1, 1, width // 2, 0, 2]):
        columns = np.array(cols, dtype=np.int64)

        def some_columns(columns=columns):
            out = np.empty((X.shape[0], columns.size), dtype=np.uint8)
            kernel.transform(X, columns, out, 1)
            return out

        results = run_at_levels(some_columns)
        assert_all_equal(results)
        np.testing.assert_array_equal(results["scalar"], binner.transform(X)[:, columns])


@pytest.mark.parametrize("n_bins", [9, 255])
def test_float64_next_to_float32_edges_at_every_level(n_bins):
    """Edges that are float32 values (integer data: midpoints like 2.5) let the AVX-512 level
    bin float64 input by its float32 rounding down, without the float64 correction: values a
    hair below, on and above every edge, and far from any float32, land as numpy's
    searchsorted puts them, at every level."""
    rng = np.random.default_rng(n_bins)
    fit = np.column_stack([rng.integers(0, 300, 4000), rng.integers(-50, 50, 4000)]).astype(float)
    binner = Binner(n_bins=n_bins).fit(fit)
    inner = [e[1:-1] for e in binner.bin_edges_]
    assert all((e.astype(np.float32) == e).all() for e in inner)  # the case under test
    cols = []
    for e in inner:
        near = np.concatenate([e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf),
                               e - 1e-9, e + 1e-9, e + 0.1])  # fmt: skip
        cols.append(np.resize(near, 3001))
    X = np.column_stack(cols)
    X[::7, 0] = rng.uniform(-10, 310, X[::7, 0].shape)  # doubles between float32 values
    expected = np.column_stack(
        [np.searchsorted(e, X[:, j], side="right") for j, e in enumerate(inner)]
    )
    for layout in (X, np.asfortranarray(X)):
        results = run_at_levels(lambda a=layout: binner.transform(a))
        assert_all_equal(results)
        np.testing.assert_array_equal(results["scalar"], expected)


def test_each_forest_times_its_few_row_paths_then_keeps_the_fastest():
    """Left to itself (row path "auto"), a binned forest goes round the paths its level has on
    its first few-row calls and then keeps one; every call, timed or not, gives the model's
    labels. A forest reading more than 128 features has no Quickscorer top across trees, so
    it never takes that path."""
    rng = np.random.default_rng(1)
    for n_features, paths in ((6, {"walk", "top", "gather"}), (200, {"walk", "gather"})):
        codes = rng.integers(0, 64, size=(3000, n_features)).astype(np.float64)
        y = (codes[:, 0] + codes[:, -1] + rng.integers(0, 40, size=3000)) // 30
        model = RandomForestClassifier(n_estimators=20, max_depth=9, random_state=0)
        model.fit(codes, y)
        edges = [np.r_[-1.0, np.arange(63) + 0.5, 64.0]] * n_features
        pipe = CompiledPipeline([model], classes=model.classes_, binner=edges)
        expected = model.predict(codes[:42])
        before = kernels.row_path()
        kernels.set_row_path("auto")
        try:
            assert pipe._kernel.row_paths() == [None]
            got = [pipe.predict(codes[i : i + 1 + i % 3]) for i in range(40)]
            chosen = pipe._kernel.row_paths()
        finally:
            kernels.set_row_path(before)
        for i, labels in enumerate(got):
            np.testing.assert_array_equal(labels, expected[i : i + 1 + i % 3])
        if kernels.isa() == "avx512":
            assert chosen[0] in paths
        else:  # one path: nothing to time
            assert chosen == [None]


def test_set_row_path_names_the_problem():
    with pytest.raises(ValueError, match="unknown row path 'fast'; expected 'auto', 'walk'"):
        kernels.set_row_path("fast")
    assert kernels.row_path() in {"auto", "walk", "top", "gather"}


def test_set_isa_names_the_problem():
    with pytest.raises(ValueError, match="unknown instruction-set level 'neon'"):
        kernels.set_isa("neon")
    assert kernels.isa() in LEVELS


def run_python(code: str, cwd, **env: str) -> subprocess.CompletedProcess:
    """code in a fresh interpreter (OpenMP reads its variables once), importing the installed
    greenauto (cwd: not the source tree)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bad_isa_environment_is_a_clear_import_error(tmp_path):
    done = run_python("import greenauto._kernels", tmp_path, GREENAUTO_ISA="avx3")
    assert done.returncode != 0
    assert "GREENAUTO_ISA: unknown instruction-set level 'avx3'" in done.stderr


def test_row_path_environment(tmp_path):
    done = run_python("import greenauto._kernels as k; print(k.row_path())", tmp_path,
                      GREENAUTO_ROW_PATH="walk")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "walk"
    done = run_python("import greenauto._kernels", tmp_path, GREENAUTO_ROW_PATH="quick")
    assert done.returncode != 0
    assert "GREENAUTO_ROW_PATH: unknown row path 'quick'" in done.stderr


@pytest.mark.parametrize("n_classes", [2, 3, 7, 26])
def test_tied_and_nearly_tied_forests_give_the_library_labels(n_classes):
    """Labels come from integer leaf sums only where the top two classes are far apart; exact
    and near ties (every row here) are recomputed in float64 as scikit-learn adds them."""
    rng = np.random.default_rng(n_classes)
    X = rng.integers(0, 5, size=(600, 3)).astype(np.float64)
    # every row once per class: leaves split evenly, then a few extra rows break some ties
    Xt = np.vstack([X] * n_classes + [X[:7]])
    yt = np.concatenate([np.full(len(X), c) for c in range(n_classes)] + [np.ones(7, int)])
    edges = [np.r_[-1.0, np.arange(4) + 0.5, 5.0]] * 3
    for model in (
        RandomForestClassifier(n_estimators=9, max_depth=4, random_state=0),
        DecisionTreeClassifier(max_depth=3, random_state=0),
    ):
        model.fit(Xt, yt)
        pipe = CompiledPipeline([model], classes=model.classes_, binner=edges)
        for batch in (X, X[:3]):
            results = run_at_levels(lambda b=batch, p=pipe: p.predict(b))
            assert_all_equal(results)
            np.testing.assert_array_equal(results["scalar"], model.predict(batch))


@pytest.mark.parametrize("n_classes", [3, 9])  # 16-bit leaves, uint32 sums; byte leaves
def test_values_too_close_for_integers_are_decided_exactly(n_classes):
    """Leaf values whose integer images (round(v * 65535), or round(v * 255) for many classes)
    are equal, or in the other order, while the float64 values are not: the label must follow
    the float64 sums."""
    from greenauto._kernels import CompiledPipelineKernel

    # one leaf per tree; class 1 beats class 0 by 1e-6 per tree, invisible to the integers
    rest = np.full(n_classes - 2, (0.1 if n_classes == 3 else 0.05))
    rest[-1] -= 7e-6
    top = 0.45 if n_classes == 3 else 0.3
    values = np.tile(np.r_[top + 3e-6, top + 4e-6, rest], (3, 1))
    kernel = CompiledPipelineKernel(None, [], 1, n_classes)
    kernel.add_trees(
        np.array([0, 1, 2, 3], np.int64), np.zeros(3, np.int32), np.zeros(3),
        np.full(3, -1, np.int32), np.full(3, -1, np.int32), np.zeros(3, np.uint8), values,
        np.zeros(3, np.int32), n_classes, 0, 1.0, list(range(n_classes)),
    )  # fmt: skip
    X = np.zeros((70, 1), np.float32)  # blocks and the few-row path
    results = run_at_levels(lambda: (kernel.predict(X, False, 1), kernel.predict(X[:2], False, 1)))
    assert_all_equal(results)
    assert (results["scalar"][0] == 1).all()
    assert (results["scalar"][1] == 1).all()


def test_knn_queries_beyond_the_training_codes():
    """Training codes below 128 (the dot-product layout) but queries up to 200: those query
    blocks take the exact plain stages; every level still gives scikit-learn's labels."""
    rng = np.random.default_rng(5)
    n_features = 37
    train = rng.integers(0, 120, size=(500, n_features)).astype(np.float64)
    y = rng.integers(0, 4, size=500)
    test = rng.integers(0, 120, size=(203, n_features)).astype(np.float64)
    test[::3, rng.integers(0, n_features)] = 200.0  # a third of the rows
    knn = KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(train, y)
    edges = [np.r_[-1.0, np.arange(254) + 0.5, 255.0] for _ in range(n_features)]
    pipe = CompiledPipeline([knn], classes=knn.classes_, binner=edges)
    results = run_at_levels(lambda: pipe.predict(test))
    assert_all_equal(results)
    with threadpool_limits(1):
        np.testing.assert_array_equal(results["scalar"], knn.predict(test))
