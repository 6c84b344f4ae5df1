"""Every KNN search path gives scikit-learn's brute-force neighbours, ties included.

Paths: L1 (byte SAD), L2 on the 8-byte layout (a training code >= 128), L2 on the
dot-product layout (codes < 128) with AMX tiles (``tdpbuud``, every feature at once, when the
CPU has AMX-INT8 and a block's query codes are below 128), with VNNI (``vpdpbusd``) and without
(``GREENAUTO_KNN_AMX=0``, ``GREENAUTO_KNN_VNNI=0``, read once at import: run in a child
process): up to 256 features,
a first filter of 16 or 32 features and the rows it leaves completed row by row, its tops
warmed from the first 32 chunks (more training rows than that: then a plain scan); past 256
features or with a query code >= 128, stages of 16 features (dot-product, then exact plain
ones).
Training sets that do not fill their last chunk of 32 rows, k from 1 to many. Each at every
instruction-set level this CPU has; labels and probabilities against scikit-learn's. And the
hard vote's labels-only path, which reuses the KNN's neighbour shares for its tied rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

import greenauto._kernels as kernels
from greenauto.compiled import CompiledPipeline

from .conftest import binned, fit_rows

ORDER = ["scalar", "avx2", "avx512"]
LEVELS = ORDER[: ORDER.index(kernels.detected_isa()) + 1]
# with AMX tiles and without, where this CPU has them (set_knn_amx)
AMX = [True, False] if kernels.knn_amx() else [True]

# (codes of the training rows, codes of the queries, p, k, features, training rows, classes)
CASES = [
    (3, 3, 2, 5, 10, 1000, 2),  # three codes: most distances tied, 1 stage
    (64, 64, 2, 5, 44, 777, 6),  # 3 stages, a partial last chunk
    (64, 64, 2, 9, 57, 500, 2),  # 4 stages
    (128, 128, 2, 3, 16, 333, 26),  # codes up to 127: the largest doubled query byte (254)
    (100, 200, 2, 5, 23, 640, 3),  # queries with codes >= 128 on the dot-product layout
    (250, 250, 2, 4, 30, 513, 4),  # training codes >= 128: the 8-byte layout
    (5, 5, 1, 5, 12, 900, 3),  # L1 with many ties
    (255, 255, 1, 7, 40, 450, 5),  # L1 on codes up to 254
    (4, 4, 2, 1, 1, 300, 2),  # one feature, k = 1
    (6, 6, 2, 64, 8, 200, 3),  # k larger than a chunk
    (3, 3, 2, 7, 17, 100, 2),  # one feature past the first stage, ties
    (3, 3, 2, 7, 33, 100, 2),  # one feature past the first filter (completed row by row), ties
    (64, 64, 2, 5, 44, 2500, 6),  # past the warm start's 1,024 rows, a row tail
    (64, 64, 2, 5, 23, 1500, 3),  # a second stage of 3 groups, past the warm start
    (3, 3, 2, 9, 12, 3000, 2),  # ties past the warm start
    (128, 128, 2, 64, 200, 300, 4),  # a 192-byte row tail, codes up to 127, large k
    (128, 128, 2, 3, 256, 257, 2),  # 256 features: the widest all-dot-product search
    (64, 64, 2, 5, 300, 400, 3),  # past 256 features: dot-product stages, then plain ones
    (64, 200, 2, 5, 40, 350, 3),  # some queries >= 128 beside the dot-product layout
]


def case_data(case):
    train_codes, query_codes, p, k, n_features, n_train, n_classes = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    train = rng.integers(0, train_codes, size=(n_train, n_features)).astype(np.float64)
    train[0] = train_codes - 1  # the largest code appears
    y = rng.integers(0, n_classes, size=n_train)
    y[:n_classes] = np.arange(n_classes)
    test = rng.integers(0, query_codes, size=(203, n_features)).astype(np.float64)
    test[:20] = train[rng.integers(0, n_train, 20)]  # distance 0 to some rows
    knn = KNeighborsClassifier(n_neighbors=k, p=p, algorithm="brute").fit(train, y)
    top = max(train_codes, query_codes)
    edges = [np.r_[-1.0, np.arange(top - 1) + 0.5, top] for _ in range(n_features)]
    return knn, edges, test


def check_case(case) -> None:
    knn, edges, test = case_data(case)
    check_levels(knn, edges, test, case)


def check_levels(knn, edges, test, case) -> None:
    """The compiled KNN's labels and probabilities against scikit-learn's, at every level."""
    pipe = CompiledPipeline([knn], classes=knn.classes_, binner=edges)
    with threadpool_limits(1):
        labels, proba = knn.predict(test), knn.predict_proba(test)
    before, amx_before = kernels.isa(), kernels.set_knn_amx(True)
    try:
        for level in LEVELS:
            kernels.set_isa(level)
            for amx in AMX:
                kernels.set_knn_amx(amx)
                where = f"{level} AMX={kernels.knn_amx()} {case}"
                for batch in (slice(None), slice(0, 3), slice(5, 6)):  # full and partial blocks
                    got = pipe.predict(test[batch])
                    np.testing.assert_array_equal(got, labels[batch], err_msg=where)
                    np.testing.assert_array_equal(
                        pipe.predict_proba(test[batch]), proba[batch], err_msg=where
                    )
    finally:
        kernels.set_isa(before)
        kernels.set_knn_amx(amx_before)


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_knn_paths_match_scikit_learn(case):
    check_case(case)


@pytest.mark.parametrize(
    "env",
    [{"GREENAUTO_KNN_AMX": "0"}, {"GREENAUTO_KNN_AMX": "0", "GREENAUTO_KNN_VNNI": "0"}],
    ids=["without AMX", "without AMX or VNNI"],
)
def test_knn_without_amx_or_vnni_matches_scikit_learn(tmp_path, env):
    """The dot-product paths without AMX tiles, and without VNNI either, on a CPU that has
    them (child process: both switches are read once)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = textwrap.dedent(
        f"""
        import sys
        import greenauto  # the installed package (cwd: not the source tree)
        sys.path.append({root!r})
        from tests.compiled.test_knn_paths import CASES, TIE_CASES, check_case, check_ties
        import greenauto._kernels as kernels
        assert not kernels.knn_amx()
        for case in CASES:
            check_case(case)
        for case in TIE_CASES:
            check_ties(case)
        print("checked", len(CASES) + len(TIE_CASES))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"checked {len(CASES) + len(TIE_CASES)}" in done.stdout


@pytest.mark.parametrize("knn_at", [0, 1, 2])
def test_hard_vote_labels_alone_reuse_the_knn_shares(knn_at):
    """A hard vote asked for labels only takes the KNN's neighbour shares from its first pass
    for the tied rows (the other members predict them again): the labels equal those of the
    path with probabilities on every row, with the KNN first, in the middle or last."""
    binner, X, codes, y = binned("letter")  # 26 classes: many three-way ties
    rows = fit_rows(len(y))
    dt = DecisionTreeClassifier(max_depth=5, random_state=0).fit(codes[rows], y[rows])
    nb = GaussianNB().fit(codes[rows] * 1.0, y[rows])
    knn_cols = np.array([0, 3, 5])
    knn = KNeighborsClassifier(n_neighbors=4, algorithm="brute")
    knn.fit(codes[rows][:, knn_cols] * 1.0, y[rows])
    members = [dt, nb]
    members.insert(knn_at, (knn, knn_cols))
    pipe = CompiledPipeline(members, classes=np.unique(y), binner=binner, voting="hard")
    with threadpool_limits(1):
        votes = np.stack(
            [dt.predict(codes), nb.predict(codes * 1.0), knn.predict(codes[:, knn_cols] * 1.0)]
        )
    three_way = (votes[0] != votes[1]) & (votes[1] != votes[2]) & (votes[0] != votes[2])
    assert three_way.mean() > 0.05  # the tied path runs on many rows
    for batch in (X, X[:1300], X[7:9]):  # several blocks of 512 rows, a partial one, two rows
        labels, _ = pipe.predict_with_proba(batch)
        np.testing.assert_array_equal(pipe.predict(batch), labels)


# Many training rows at the k-th distance D*: (code values, features, training rows, k, p,
# labels) with labels "mixed" (random: the rows at D* that fill the free slots are the heap's
# pick, replayed) or "by_code" (the first feature's code: with one feature, the rows at D* = 0
# share a label, which fixes the neighbours' labels without the heap order) or "rare_query"
# (random labels, the queries' code rare among the training rows: D* = 1 with hundreds of rows
# at it, more than a query's candidate log holds: the second scan).
TIE_CASES = [
    ((0, 1, 2, 3), 1, 3000, k, 2, labels)
    for k in (1, 5, 16, 17, 64, 400)
    for labels in ("mixed", "by_code")
] + [
    ((0, 1, 2), 2, 1000, 3, 1, "mixed"),  # L1
    ((0, 1, 2), 3, 1000, 16, 1, "mixed"),
    ((0, 1, 254), 2, 700, 5, 2, "mixed"),  # a code >= 128: the 8-byte layout
    ((0, 1, 2), 20, 600, 7, 2, "mixed"),  # rows completed past the first 16 features
    ((0, 1), 3, 2000, 9, 2, "by_code"),
    ((0, 1, 2, 3), 1, 3000, 16, 2, "rare_query"),
    ((0, 1, 2, 3), 1, 3000, 40, 2, "rare_query"),
]


def tie_data(case):
    values, n_features, n_train, k, p, kind = case
    rng = np.random.default_rng(n_train + 7 * k + len(values) + n_features + p)
    values = np.asarray(values, dtype=np.float64)
    train = values[rng.integers(0, len(values), size=(n_train, n_features))]
    test = values[rng.integers(0, len(values), size=(150, n_features))]
    if kind == "rare_query":
        train[rng.random(size=n_train) < 0.996] = values[1:2]
        train[: n_train // 2] = values[2:3]  # fewer than k rows at the queries' code
        test[:] = values[0]
    classes = 3
    if kind != "by_code":
        y = rng.integers(0, classes, size=n_train)
    else:
        y = np.searchsorted(values, train[:, 0]) % classes
    knn = KNeighborsClassifier(n_neighbors=k, p=p, algorithm="brute").fit(train, y)
    edges = [np.r_[-1.0, np.arange(values[-1]) + 0.5, values[-1] + 1] for _ in range(n_features)]
    return knn, edges, test, train, y


def ties_at_kth(knn, test, train, y):
    """Per query: whether rows at D* are more than the free slots, and whether their labels
    differ (numpy, from the distances)."""
    diff = np.abs(test[:, None, :] - train[None, :, :])
    d = (diff if knn.p == 1 else diff**2).sum(axis=2)
    kth = np.sort(d, axis=1)[:, knn.n_neighbors - 1 : knn.n_neighbors]
    over = (d == kth).sum(axis=1) > knn.n_neighbors - (d < kth).sum(axis=1)
    labels_at = np.where(d == kth, y[None, :], -1)
    lowest = np.where(d == kth, y[None, :], y.max() + 1).min(axis=1)
    return over, labels_at.max(axis=1) != lowest


def check_ties(case) -> None:
    knn, edges, test, train, y = tie_data(case)
    over, mixed = ties_at_kth(knn, test, train, y)
    if case[-1] != "by_code":
        assert (over & mixed).mean() > 0.3  # the replay runs on many queries
    else:
        assert (over & ~mixed).mean() > 0.3  # ties that the labels settle
    check_levels(knn, edges, test, case)


@pytest.mark.parametrize("case", TIE_CASES, ids=[str(c) for c in TIE_CASES])
def test_knn_ties_at_the_kth_distance(case):
    """Labels and probabilities equal scikit-learn's when more rows sit at D* than there are
    free slots: with different labels (the heap's pick: replayed on the query's candidate log
    when it holds every row offered, else by a second scan; k up to 16 and past it) and with
    one label (the labels follow from the counts)."""
    check_ties(case)
