"""The bad-input matrix: what a data warehouse hands a user, fed to every entry point.

Each case is one input and one entry point (``fit``, ``predict``, ``predict_proba``, the
``Binner``, ``CompiledPipeline`` / ``compile_model``, the command line). It expects either the
correct behaviour (checked: predictions equal to those of an equivalent clean input, names
kept, the value preserved) or a clear error: ``raises(type, pattern)`` where the pattern names
the column, the value or the shape at fault. ``test_the_matrix_is_complete`` counts them.

Fits use two trials of one decision tree with the operation-count meter: the searches are
real, just small.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from greenauto import Binner, GreenAutoClassifier, compile_model, load_model, save_model
from greenauto.cli import main
from greenauto.compiled import CompiledPipeline
from greenauto.exceptions import ConstantFeatureWarning

FAST = {"time_budget": None, "energy_meter": "model", "random_state": 0, "n_trials": 2,
        "learners": ["decision_tree"], "max_members": 1}  # fmt: skip
N = 120
RNG = np.random.default_rng(0)
BASE = pd.DataFrame(
    {"a": RNG.normal(size=N), "b": RNG.integers(0, 5, N), "c": RNG.choice(list("xyz"), N)}
)
Y = (BASE["a"] + (BASE["c"] == "x") > 0.3).astype(int).to_numpy()


def fit(X, y=Y, **kw) -> GreenAutoClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        return GreenAutoClassifier(**{**FAST, **kw}).fit(X, y)


@functools.cache
def model() -> GreenAutoClassifier:
    """One search on the clean frame: the predict-time cases run on it."""
    return fit(BASE)


def same(left, right) -> None:
    np.testing.assert_array_equal(np.asarray(left), np.asarray(right))


# --------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Path], object]
    raises: tuple[type[BaseException], str] | None  # None: must behave correctly


CASES: list[Case] = []


def case(case_id: str, raises: tuple[type[BaseException], str] | None = None):
    def register(fn: Callable[[Path], object]) -> Callable[[Path], object]:
        CASES.append(Case(case_id, fn, raises))
        return fn

    return register


# --------------------------------------------------------------------------- containers
@case("container:lists")
def _(tmp):
    X = BASE[["a", "b"]].to_numpy()
    auto = fit(X.tolist(), Y.tolist())
    same(auto.predict(X[:20].tolist()), auto.predict(X[:20]))
    assert auto.predict_proba(X[:5].tolist()).shape == (5, 2)


@case("container:numpy-float32")
def _(tmp):
    X = BASE[["a", "b"]].to_numpy()
    auto = fit(X.astype(np.float32))
    same(auto.predict(X.astype(np.float32)), fit(X).predict(X))


@case("container:pandas-Int64-with-NA")
def _(tmp):
    nullable = BASE.assign(b=BASE["b"].astype("Int64").mask(np.arange(N) % 7 == 0))
    plain = BASE.assign(b=BASE["b"].astype(float).mask(np.arange(N) % 7 == 0))
    same(fit(nullable).predict(nullable), fit(plain).predict(plain))


@case("container:pandas-boolean-with-NA")
def _(tmp):
    flags = pd.array([True, False, None] * (N // 3), dtype="boolean")
    plain = np.array([1.0, 0.0, np.nan] * (N // 3))
    same(fit(BASE.assign(f=flags)).predict(BASE.assign(f=flags)),
         fit(BASE.assign(f=plain)).predict(BASE.assign(f=plain)))  # fmt: skip


@case("container:pandas-string-with-NA")
def _(tmp):
    text = BASE.assign(c=BASE["c"].astype("string").mask(np.arange(N) % 9 == 0))
    objects = BASE.assign(c=BASE["c"].astype(object).mask(np.arange(N) % 9 == 0))
    same(fit(text).predict(text), fit(objects).predict(objects))


@case("container:scipy-sparse", raises=(TypeError, r"[Ss]parse data.*toarray"))
def _(tmp):
    fit(sp.csr_matrix(BASE[["a", "b"]].to_numpy()))


@case("container:polars")
def _(tmp):
    frame = pl.from_pandas(BASE)
    auto = fit(frame)
    assert list(auto.feature_names_in_) == ["a", "b", "c"]
    same(auto.predict(frame), model().predict(BASE))
    same(auto.predict(pl.from_pandas(BASE[["a", "b", "c"]])), model().predict(BASE))


@case("container:pyarrow")
def _(tmp):
    table = pa.Table.from_pandas(BASE, preserve_index=False)
    auto = fit(table)
    assert list(auto.feature_names_in_) == ["a", "b", "c"]
    same(auto.predict(table), model().predict(BASE))


@case("container:pandas-categorical")
def _(tmp):
    cat = BASE.assign(c=BASE["c"].astype("category"))
    same(fit(cat).predict(cat), model().predict(BASE))


# --------------------------------------------------------------------------- dtypes
@case("dtype:object-mixed-numbers-and-strings")
def _(tmp):
    mixed = BASE.assign(m=pd.Series(["low", 1] * (N // 2), dtype=object))
    auto = fit(mixed)
    same(auto.predict(mixed), auto.predict(mixed.copy()))
    with pytest.raises(ValueError, match=r"Column 'm' has categories never seen in fit"):
        auto.predict(mixed.assign(m="high"))


@case("dtype:numeric-column-with-one-stray-string", raises=(ValueError, r"Column 'a'.*'\?'"))
def _(tmp):
    # 119 numbers and one "?": a typo, not 119 categories sorted as text
    fit(BASE.assign(a=BASE["a"].astype(object).where(np.arange(N) != 3, "?")))


@case("dtype:bool-numpy")
def _(tmp):
    X = np.column_stack([BASE["a"] > 0, BASE["b"] > 2])
    auto = fit(X)
    same(auto.predict(X), auto.predict(X.astype(float)))


@case("dtype:datetime")
def _(tmp):
    dated = BASE.assign(d=pd.date_range("2020-01-01", periods=N, freq="D"))
    auto = fit(dated)
    assert auto.predict(dated).shape == (N,)
    assert auto.search_result_.dataset.columns == 4


@case("dtype:int64-beyond-2**53", raises=(UserWarning, r"Column 'id'.*2\*\*53"))
def _(tmp):
    ids = BASE.assign(id=np.arange(N, dtype=np.int64) + 2**60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(ids)


@case("dtype:float16")
def _(tmp):
    half = BASE.assign(a=BASE["a"].astype(np.float16))
    auto = fit(half)
    same(auto.predict(half), auto.predict(half.assign(a=half["a"].astype(np.float64))))


@case("dtype:complex", raises=(ValueError, "[Cc]omplex"))
def _(tmp):
    fit(BASE[["a"]].to_numpy() + 1j)


# --------------------------------------------------------------------------- missing, inf
@case("missing:nan-and-inf-scattered")
def _(tmp):
    holes = BASE.assign(a=BASE["a"].mask(np.arange(N) % 5 == 0))
    holes.loc[holes.index % 11 == 0, "a"] = np.inf
    holes.loc[holes.index % 13 == 0, "a"] = -np.inf
    auto = fit(holes)
    assert np.isfinite(auto.predict_proba(holes)).all()


@case("missing:all-nan-column", raises=(UserWarning, r"Column 'e' has only missing values"))
def _(tmp):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(BASE.assign(e=np.nan))


@case("missing:nan-at-predict-only")
def _(tmp):
    proba = model().predict_proba(BASE.assign(a=np.nan, c=None))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@case("missing:inf-at-predict-only")
def _(tmp):
    same(model().predict(BASE.assign(a=np.inf)), model().predict(BASE.assign(a=1e300)))


# --------------------------------------------------------------------------- shapes
@case("shape:0-rows", raises=(ValueError, r"0 sample\(s\) \(shape=\(0, 3\)\)"))
def _(tmp):
    fit(BASE.iloc[:0], Y[:0])


@case("shape:1-row", raises=(ValueError, r"y has 1 class"))
def _(tmp):
    fit(BASE.iloc[:1], Y[:1])


@case("shape:4-rows", raises=(ValueError, r"Too few rows to validate.*counts \[2, 2\]"))
def _(tmp):
    fit(BASE.iloc[:4], [0, 1, 0, 1])


@case("shape:predict-0-rows", raises=(ValueError, r"0 sample|0 rows"))
def _(tmp):
    model().predict(BASE.iloc[:0])


@case("shape:1-column")
def _(tmp):
    auto = fit(BASE[["a"]])
    assert auto.score(BASE[["a"]], Y) > 0.6


@case("shape:all-columns-constant")
def _(tmp):
    auto = fit(pd.DataFrame({"k": np.ones(N), "z": np.zeros(N)}))
    majority = np.bincount(Y).argmax()
    assert (auto.predict(pd.DataFrame({"k": [1.0, 5.0], "z": [0.0, 0.0]})) == majority).all()


@case("shape:10000-columns")
def _(tmp):
    wide = pd.DataFrame(RNG.normal(size=(40, 10_000)), columns=[f"f{i}" for i in range(10_000)])
    wide["f9999"] = np.repeat([0.0, 1.0], 20)
    y = np.repeat([0, 1], 20)
    auto = fit(wide, y, n_trials=1, validation="holdout")
    assert auto.score(wide, y) == 1.0


# --------------------------------------------------------------------------- column names
NAMES = {
    "unicode": ["température °C", "日本語", "ёжик"],
    "json-and-punctuation": ['a"b', "{}[]:,\\", "</script><b>x"],
    "spaces-and-empty": ["", " ", "two words"],
    "very-long": ["x" * 10_000, "y" * 5000, "z"],
}


def _names_case(kind: str, names: list[str]) -> None:
    @case(f"names:{kind}")
    def _(tmp):
        framed = BASE.set_axis(names, axis=1)
        auto = fit(framed)
        same(auto.predict(framed), model().predict(BASE))
        save_model(auto, tmp / "m.gam")
        same(load_model(tmp / "m.gam").predict(framed), model().predict(BASE))
        auto.export_report(tmp / "r.html")
        auto.export_report(tmp / "r.json")


for _kind, _names in NAMES.items():
    _names_case(_kind, _names)


@case("names:integers-reordered-at-predict", raises=(ValueError, r"another order|order"))
def _(tmp):
    framed = BASE.set_axis([0, 1, 2], axis=1)
    fit(framed).predict(framed[[2, 1, 0]])


@case("names:mixed-int-and-str")
def _(tmp):
    framed = BASE.set_axis([0, "b", 2.5], axis=1)
    auto = fit(framed)
    same(auto.predict(framed), model().predict(BASE))


@case("names:tuples")
def _(tmp):
    framed = BASE.set_axis(pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", 1)]), axis=1)
    same(fit(framed).predict(framed), model().predict(BASE))


@case("names:duplicated", raises=(ValueError, r"'a'.*(twice|2 times|duplicat)"))
def _(tmp):
    fit(BASE.set_axis(["a", "a", "c"], axis=1))


# --------------------------------------------------------------------------- labels
@case("labels:strings")
def _(tmp):
    labels = np.where(Y == 1, "yes", "no")
    auto = fit(BASE, labels)
    assert set(auto.predict(BASE)) <= {"yes", "no"}
    same(auto.predict(BASE) == "yes", model().predict(BASE) == 1)


@case("labels:sparse-ints")
def _(tmp):
    auto = fit(BASE, np.where(Y == 1, 70, -3))
    same(auto.classes_, [-3, 70])
    same(auto.predict(BASE) == 70, model().predict(BASE) == 1)


@case("labels:bools")
def _(tmp):
    auto = fit(BASE, Y == 1)
    assert auto.predict(BASE).dtype == bool
    same(auto.predict(BASE), model().predict(BASE) == 1)


@case("labels:mixed-types", raises=(ValueError, r"y mixes label types \(number 1, str 'a'\)"))
def _(tmp):
    fit(BASE, np.array([1, "a"] * (N // 2), dtype=object))


@case("labels:nan", raises=(ValueError, r"y has 40 missing label\(s\)"))
def _(tmp):
    fit(BASE, np.array([0.0, 1.0, np.nan] * (N // 3)))


@case("labels:pd-NA-in-strings", raises=(ValueError, r"y has 40 missing label\(s\).*<NA>"))
def _(tmp):
    fit(BASE, pd.array(["a", "b", None] * (N // 3), dtype="string"))


@case("labels:one-class", raises=(ValueError, r"y has 1 class \(7\)"))
def _(tmp):
    fit(BASE, np.full(N, 7))


@case("labels:continuous", raises=(ValueError, r"y holds continuous values"))
def _(tmp):
    fit(BASE, RNG.normal(size=N))


@case("labels:200-classes")
def _(tmp):
    X = pd.DataFrame({"k": np.arange(1000) % 200 + RNG.normal(0, 0.01, 1000)})
    auto = fit(X, np.arange(1000) % 200)
    assert auto.classes_.size == 200
    assert auto.predict_proba(X).shape == (1000, 200)
    assert auto.score(X, np.arange(1000) % 200) > 10 / 200  # a small tree, far above chance


@case("labels:a-class-with-one-sample")
def _(tmp):
    y = Y.copy()
    y[0] = 2
    auto = fit(BASE, y)
    same(auto.classes_, [0, 1, 2])
    assert auto.predict_proba(BASE).shape == (N, 3)


@case("labels:length-mismatch", raises=(ValueError, r"\[120, 119\]"))
def _(tmp):
    fit(BASE, Y[:-1])


# --------------------------------------------------------------------------- predict schema
@case("schema:reordered", raises=(ValueError, "same names in another order"))
def _(tmp):
    model().predict(BASE[["c", "a", "b"]])


@case("schema:missing-column-named", raises=(ValueError, r"missing \['b'\]"))
def _(tmp):
    model().predict(BASE[["a", "c"]])


@case("schema:extra-column-named", raises=(ValueError, r"unexpected \['zz'\]"))
def _(tmp):
    model().predict_proba(BASE.assign(zz=1))


@case("schema:renamed", raises=(ValueError, r"missing \['c'\], unexpected \['d'\]"))
def _(tmp):
    model().predict(BASE.rename(columns={"c": "d"}))


@case("schema:new-category", raises=(ValueError, r"Column 'c'.*never seen in fit: \['w'\]"))
def _(tmp):
    model().predict(BASE.assign(c="w"))


@case("schema:new-category-as-missing")
def _(tmp):
    auto = fit(BASE, handle_unknown="missing")
    same(auto.predict(BASE.assign(c="w")), auto.predict(BASE.assign(c=None)))


@case("schema:numeric-column-now-text", raises=(ValueError, r"Column 'a' was numeric in fit"))
def _(tmp):
    model().predict(BASE.assign(a="high"))


@case("schema:numeric-column-as-numeric-strings")
def _(tmp):
    same(model().predict(BASE.assign(a=BASE["a"].astype(str))), model().predict(BASE))


@case("schema:numpy-for-a-frame-model")
def _(tmp):
    same(model().predict(BASE.to_numpy(dtype=object)), model().predict(BASE))


# --------------------------------------------------------------------------- dependencies
@case("deps:lightgbm-json-characters-in-names")
def _(tmp):
    framed = BASE.set_axis(['a"{}:,[]', "b\n", "c"], axis=1)
    auto = fit(framed, learners=["lightgbm"])
    assert auto.score(framed, Y) > 0.7


@case("deps:lightgbm-on-constant-column")
def _(tmp):
    auto = fit(BASE.assign(k=1.0), learners=["lightgbm"])
    assert auto.score(BASE.assign(k=1.0), Y) > 0.7


@case("deps:optuna-nan-score", raises=(RuntimeError, r"score is NaN"))
def _(tmp):
    fit(BASE, scoring=lambda est, X, y: float("nan"))


@case("deps:sklearn-roc-auc-on-3-classes", raises=(ValueError, r"scoring='roc_auc'.*3 classes"))
def _(tmp):
    fit(BASE, np.arange(N) % 3, scoring="roc_auc")


@case("deps:codecarbon-unknown-country", raises=(ValueError, r"Unknown country code 'XXX'"))
def _(tmp):
    fit(BASE, country_iso_code="XXX")


@case("deps:study-name-in-a-memory-storage")
def _(tmp):
    auto = fit(BASE, study_name="ünïcode / study: 1")
    assert auto.study_.study_name == "ünïcode / study: 1"


# --------------------------------------------------------------------------- Binner
@case("binner:not-fitted", raises=(NotFittedError, "Binner instance is not fitted"))
def _(tmp):
    Binner().transform(np.zeros((2, 2)))


@case("binner:wrong-width", raises=(ValueError, r"X has 4 features, but Binner is expecting 3"))
def _(tmp):
    Binner().fit(np.zeros((5, 3))).transform(np.zeros((2, 4)))


@case("binner:strings", raises=(ValueError, "could not convert string to float: .*'a'"))
def _(tmp):
    Binner().fit(np.array([["a"], ["b"]]))


@case("binner:all-nan-and-inf")
def _(tmp):
    X = np.array([[np.nan, np.inf], [np.nan, -np.inf], [np.nan, 1.0]])
    with pytest.warns(ConstantFeatureWarning, match="Feature 0"):
        binner = Binner().fit(X)
    same(binner.transform(X), [[1, 0], [1, 0], [1, 0]])  # one finite value: one bin


@case("binner:n-bins-300", raises=(ValueError, r"'n_bins' parameter of Binner.*Got 300"))
def _(tmp):
    Binner(n_bins=300).fit(np.zeros((5, 1)))


# --------------------------------------------------------------------------- compiled
XC = RNG.normal(size=(200, 3))
YC = (XC[:, 0] > 0).astype(int)


@case("compiled:unfitted-member", raises=(NotFittedError, "DecisionTreeClassifier instance"))
def _(tmp):
    CompiledPipeline([DecisionTreeClassifier()], classes=[0, 1])


@case("compiled:unfitted-binner", raises=(NotFittedError, "Binner instance is not fitted"))
def _(tmp):
    tree = DecisionTreeClassifier().fit(XC, YC)
    CompiledPipeline([tree], classes=[0, 1], binner=Binner())


@case("compiled:regressor", raises=(TypeError, r"DecisionTreeRegressor is a regressor"))
def _(tmp):
    compile_model(DecisionTreeRegressor().fit(XC, YC))


@case("compiled:lightgbm-regressor", raises=(TypeError, r"LGBMRegressor is a regressor"))
def _(tmp):
    compile_model(lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(XC, YC))


@case("compiled:unfitted-pipeline", raises=(NotFittedError, "Binner instance is not fitted"))
def _(tmp):
    compile_model(make_pipeline(Binner(), DecisionTreeClassifier()))


@case("compiled:columns-out-of-range", raises=(ValueError, r"columns .* \[0, 3\); got 7"))
def _(tmp):
    binner = Binner(n_bins=8).fit(XC)
    tree = DecisionTreeClassifier().fit(binner.transform(XC)[:, :2], YC)
    CompiledPipeline([tree], classes=[0, 1], binner=binner, columns=[0, 7])


@case("compiled:wrong-width", raises=(ValueError, r"shape \(n_samples, 3\); got \(2, 5\)"))
def _(tmp):
    compile_model(DecisionTreeClassifier().fit(XC, YC)).predict(np.zeros((2, 5)))


@case("compiled:gaussian-nb-on-float32-codes")
def _(tmp):
    binner = Binner(n_bins=8).fit(XC)
    codes = binner.transform(XC).astype(np.float32)
    nb = GaussianNB().fit(codes, YC)
    pipe = CompiledPipeline([nb], classes=[0, 1], binner=binner)
    same(pipe.predict(XC), nb.predict(codes))


@case("compiled:text-into-a-schema-less-model", raises=(TypeError, "must hold numbers"))
def _(tmp):
    compile_model(DecisionTreeClassifier().fit(XC, YC)).predict(np.full((2, 3), "a"))


# --------------------------------------------------------------------------- command line
def csv_of(tmp: Path, frame: pd.DataFrame, name: str = "d.csv", **kw) -> str:
    path = tmp / name
    frame.to_csv(path, index=False, **kw)
    return str(path)


@functools.cache
def saved_model(folder: Path) -> str:
    path = folder / "model.gam"
    save_model(model(), path)
    return str(path)


CLI_BAD = {
    # id: (args builder, pattern of the one-line error)
    "cli:latin-1-file-without-encoding": (
        lambda t: [
            "fit",
            csv_of(t, BASE.assign(c="é", target=Y), encoding="latin-1"),
            "--n-trials",
            "1",
        ],
        r"d.csv' is not utf-8 text \(byte 0xe9.*--encoding latin-1",
    ),
    "cli:missing-data-file": (lambda t: ["fit", str(t / "nope.csv")], r"No such data file"),
    "cli:unknown-target": (
        lambda t: ["fit", csv_of(t, BASE.assign(target=Y)), "--target", "label"],
        r"has no target column 'label'; its columns are 'a', 'b', 'c', 'target'",
    ),
    "cli:report-in-a-missing-folder": (
        lambda t: ["fit", "penguins", "--report", str(t / "no" / "r.html")],
        r"--report .*the folder .*no' does not exist",
    ),
    "cli:model-in-a-missing-folder": (
        lambda t: ["fit", "penguins", "--model", str(t / "no" / "m.gam")],
        r"--model .*the folder .*no' does not exist",
    ),
    "cli:report-is-a-folder": (
        lambda t: ["fit", "penguins", "--report", _folder(t / "r.html")],
        r"is a folder, not a file",
    ),
    "cli:report-bad-suffix": (
        lambda t: ["fit", "penguins", "--report", str(t / "r.pdf")],
        r"suffix must be one of",
    ),
    "cli:empty-csv": (lambda t: ["fit", _touch(t / "e.csv")], r"is empty: no header"),
    "cli:only-the-target-column": (
        lambda t: ["fit", csv_of(t, pd.DataFrame({"target": Y}))],
        r"has only the target column 'target'; no features",
    ),
    "cli:predict-missing-column": (
        lambda t: [
            "predict",
            saved_model(t),
            csv_of(t, BASE[["a", "c"]]),
            "--out",
            str(t / "p.csv"),
        ],
        r"lacks the model's column\(s\) 'b'",
    ),
    "cli:predict-new-category-hint": (
        lambda t: [
            "predict",
            saved_model(t),
            csv_of(t, BASE.assign(c="w")),
            "--out",
            str(t / "p.csv"),
        ],
        r"never seen in fit: \['w'\].*--handle-unknown missing",
    ),
    "cli:predict-out-in-a-missing-folder": (
        lambda t: ["predict", saved_model(t), csv_of(t, BASE), "--out", str(t / "no/p.csv")],
        r"--out .*does not exist",
    ),
    "cli:predict-not-a-model": (
        lambda t: [
            "predict",
            csv_of(t, BASE),
            csv_of(t, BASE, "x.csv"),
            "--out",
            str(t / "p.csv"),
        ],
        r"is not a greenauto model file",
    ),
    "cli:report-out-unwritable": (
        lambda t: ["report", saved_model(t), "--out", "/sys/r.html"],  # even root cannot
        r"'/sys' is not writable",
    ),
}


def _touch(path: Path) -> str:
    path.write_text("")
    return str(path)


def _folder(path: Path) -> str:
    path.mkdir()
    return str(path)


def _cli_case(case_id: str, build, pattern: str) -> None:
    @case(case_id)
    def _(tmp):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
            main(build(tmp))
        lines = err.getvalue().strip().splitlines()
        assert info.value.code == 2, err.getvalue()
        assert len(lines) == 1, lines
        assert lines[0].startswith("greenauto: error: ")
        assert re.search(pattern, lines[0]), lines[0]
        assert not any(p.name.startswith(".") and p.suffix == ".tmp" for p in tmp.rglob("*"))


for _id, (_build, _pattern) in CLI_BAD.items():
    _cli_case(_id, _build, _pattern)


@case("cli:latin-1-file-with-encoding")
def _(tmp):
    data = csv_of(tmp, BASE.assign(c=BASE["c"].map({"x": "é", "y": "ü", "z": "ß"}), target=Y),
                  encoding="latin-1")  # fmt: skip
    out = tmp / "r.json"
    assert main(["fit", data, "--encoding", "latin-1", "--n-trials", "2", "--energy-meter",
                 "model", "--quiet", "--report", str(out)]) == 0  # fmt: skip
    assert out.is_file()


# --------------------------------------------------------------------------- the test
@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_bad_input(c: Case, tmp_path: Path) -> None:
    if c.raises is None:
        c.run(tmp_path)
        return
    kind, pattern = c.raises
    with pytest.raises(kind, match=pattern) as info:
        c.run(tmp_path)
    assert "TabularEncoder" not in str(info.value)  # never an internal class's name


def test_the_matrix_is_complete() -> None:
    """At least 45 cases, every group of the issue present, ids unique."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 45
    groups = {i.split(":")[0] for i in ids}
    assert groups >= {"container", "dtype", "missing", "shape", "names", "labels", "schema",
                      "deps", "binner", "compiled", "cli"}  # fmt: skip
