"""Wrong input and unsupported models get clear errors from the Python side."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.naive_bayes import CategoricalNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from greenauto import Binner
from greenauto.compiled import CompiledPipeline

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int)
TREE = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, Y)
BINNER = Binner(n_bins=8).fit(X)
CODES = BINNER.transform(X)


@pytest.fixture
def pipe() -> CompiledPipeline:
    return CompiledPipeline([TREE], classes=[0, 1])


def test_wrong_column_count(pipe):
    with pytest.raises(ValueError, match=r"shape \(n_samples, 3\); got \(5, 2\)"):
        pipe.predict(np.zeros((5, 2), np.float32))


def test_one_dimensional_input(pipe):
    with pytest.raises(ValueError, match="n_samples, 3"):
        pipe.predict(np.zeros(3, np.float32))


@pytest.mark.parametrize("dtype", [object, np.complex64, "U3"])
def test_wrong_dtype(pipe, dtype):
    with pytest.raises(TypeError, match="must hold numbers"):
        pipe.predict(np.zeros((5, 3), dtype=dtype))


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int8, np.float16, bool])
def test_every_numeric_dtype_is_read(pipe, dtype):
    Xd = (X * 3).astype(dtype)
    np.testing.assert_array_equal(pipe.predict(Xd), TREE.predict(Xd))


def test_empty_batch(pipe):
    with pytest.raises(ValueError, match="empty batch"):
        pipe.predict(np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("n", [0, 4])
def test_member_count(n):
    with pytest.raises(ValueError, match="1 to 3 members"):
        CompiledPipeline([TREE] * n, classes=[0, 1])


def test_member_class_not_in_classes():
    with pytest.raises(ValueError, match=r"classes \[0\] that are not in classes \[1, 2\]"):
        CompiledPipeline([TREE], classes=[1, 2])


def test_nb_needs_binner():
    nb = CategoricalNB().fit(CODES, Y)
    with pytest.raises(ValueError, match="needs a binner"):
        CompiledPipeline([nb], classes=[0, 1])


def test_unknown_voting():
    with pytest.raises(ValueError, match="voting must be 'hard' or 'soft'"):
        CompiledPipeline([TREE], classes=[0, 1], voting="max")


@pytest.mark.parametrize(
    ("knn", "data", "match"),
    [
        (KNeighborsClassifier(weights="distance"), CODES, "weights='uniform'"),
        (KNeighborsClassifier(metric="chebyshev"), CODES, "metric 'chebyshev'"),
        (KNeighborsClassifier(algorithm="brute"), X, "fitted on bin codes"),
    ],
)
def test_unsupported_knn(knn, data, match):
    knn.fit(data, Y)
    with pytest.raises(ValueError, match=match):
        CompiledPipeline([knn], classes=[0, 1], binner=BINNER)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"objective": "regression"}, "objective 'regression'"),
        ({"objective": "binary", "zero_as_missing": True}, "missing_type 'Zero'"),
    ],
)
def test_unsupported_lightgbm(params, match):
    booster = lgb.train(
        params | {"verbose": -1, "num_threads": 1}, lgb.Dataset(X, Y), num_boost_round=3
    )
    with pytest.raises(ValueError, match=match):
        CompiledPipeline([booster], classes=[0, 1])


def test_lightgbm_categorical_split():
    Xc = np.column_stack([RNG.integers(0, 5, 300), X[:, 1]]).astype(np.float32)
    yc = (Xc[:, 0] % 2 == 0).astype(int)
    data = lgb.Dataset(Xc, yc, categorical_feature=[0])
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, data, num_boost_round=3
    )
    with pytest.raises(ValueError, match="categorical splits"):
        CompiledPipeline([booster], classes=[0, 1])


def test_multi_output_tree():
    tree = DecisionTreeClassifier(max_depth=2).fit(X, np.column_stack([Y, Y]))
    with pytest.raises(ValueError, match="Multi-output"):
        CompiledPipeline([tree], classes=[0, 1])


def test_not_a_model():
    with pytest.raises(TypeError, match="not a supported member"):
        CompiledPipeline([object()], classes=[0, 1])


def test_pickle_round_trip(pipe):
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), TREE.predict(X))


def test_float64_and_strided_input_are_read():
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(CODES, Y)
    pipe = CompiledPipeline([tree], classes=[0, 1], binner=BINNER)
    wide = np.asfortranarray(np.repeat(X.astype(np.float64), 2, axis=1))
    np.testing.assert_array_equal(pipe.predict(wide[:, ::2]), tree.predict(CODES))
    raw = CompiledPipeline([TREE], classes=[0, 1])
    np.testing.assert_array_equal(raw.predict(X.astype(np.float64).T.copy().T), TREE.predict(X))


def test_knn_outside_the_exact_contract_warns():
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(CODES.astype(np.float64), Y)
    with pytest.warns(UserWarning, match="algorithm='kd_tree'"):
        CompiledPipeline([knn], classes=[0, 1], binner=BINNER)


def test_member_columns_of_the_wrong_length():
    tree = DecisionTreeClassifier(max_depth=2).fit(CODES[:, :2], Y)
    with pytest.raises(ValueError, match="fitted on 2 features; its member columns give 3"):
        CompiledPipeline([(tree, [0, 1, 2])], classes=[0, 1], binner=BINNER)
