"""Inference speed on four data shapes: greenauto's compiled kernels against the runtimes a user
could pick, in one run, and the goals of issue 13 (median over the datasets and the worst one).

Datasets (``--data-dir``, default ../shared/datasets): magic (10 features, 2 classes), letter
(16, 26), wisdm_activity (44, 6, NaN) and spambase (57, 2), each tiled to 200,000 rows and
shuffled. Every model is trained on 64-bin ``Binner`` codes; greenauto bins inside its own call
(from float32 features), the peers get the codes precomputed (binning is free for them).

- RF (100 trees, depth 10): scikit-learn ``predict``, ONNX Runtime; node visits/s per core.
- LightGBM (100 trees, 31 leaves): ``Booster.predict``, lleaves, ONNX Runtime.
- The vote DT(depth 10) + GaussianNB + KNN(k=5) fitted on 5,000 rows: scikit-learn's
  ``VotingClassifier`` on the float features (median-imputed where there is NaN), and the same
  binned members called one by one. Batches of 20,000 rows (the KNN dominates). Where the CPU
  has AMX tiles, greenauto is also timed without them (``set_knn_amx(False)``: the path of
  CPUs without AMX).
- One row through the RF from Python.
- ``Binner.transform`` at 64 and 255 bins (float32, ns per value).
- ``predict`` from a pandas DataFrame (adult, 8 text columns; magic, numeric) with a one-tree
  model (DT depth 6): the compiled model carrying its encoder (``with_metadata(encoder=...)``,
  what users call) on the DataFrame, against the compiled call on the already-encoded array,
  1,000 rows; and the categorical encoding per value.

Times are medians of repeated wall-clock calls, the runtimes compared in one table cell timed
in alternation (a drifting machine shifts them alike); 1 thread unless stated, 2-thread scaling
at the largest batch. Where gathers are slow (AMD), the AVX-512 binning takes its gather-free
path (``fast_gathers``); each forest times its few-row paths on its first calls and keeps the
fastest (the one kept is printed: ``row_paths``). Writes ``benchmarks/results/bench_inference.md``.

Run ``python benchmarks/bench_inference.py [--quick] [--no-lleaves] [--no-onnx]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_seconds, median_seconds, write_results
from _peers import lleaves_predict, onnx_predict, sklearn_predict, visits_per_row

import greenauto._kernels as kernels
from greenauto import Binner
from greenauto.compiled import CompiledPipeline
from greenauto.preprocessing import TabularEncoder

DATASETS = ("magic", "letter", "wisdm_activity", "spambase")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
N_BINS = 64
PACKAGES = ["greenauto", "numpy", "pandas", "scikit-learn", "lightgbm", "onnxruntime",
            "skl2onnx", "onnxmltools", "lleaves", "llvmlite"]  # fmt: skip
Predict = Callable[[np.ndarray, int], object]  # (X, n_threads) -> predictions
NO_AMX = "greenauto, KNN without AMX tiles"


@dataclass
class Data:
    name: str
    X: np.ndarray  # float32 training features
    y: np.ndarray
    binner: Binner
    codes: np.ndarray  # uint8 codes of X
    big: np.ndarray  # float32, n_rows tiled and shuffled
    big_codes: np.ndarray  # float32 codes of big (what the peers get)


def read_frame(data_dir: Path, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(data_dir / f"{name}.csv.gz")
    y = pd.factorize(frame.pop("target"), sort=True)[0]
    return frame, y


def load(data_dir: Path, name: str, n_rows: int) -> Data:
    frame, y = read_frame(data_dir, name)
    X = TabularEncoder().fit_transform(frame).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns
        binner = Binner(n_bins=N_BINS, random_state=0).fit(X)
    rng = np.random.default_rng(0)
    big = np.tile(X, (-(-n_rows // X.shape[0]), 1))[:n_rows]
    big = np.ascontiguousarray(big[rng.permutation(n_rows)])
    codes = binner.transform(X)
    return Data(name, X, y, binner, codes, big, binner.transform(big).astype(np.float32))


def greenauto_predict(pipe: CompiledPipeline, amx: bool = True) -> Predict:
    """The compiled call; amx=False: the KNN without AMX tiles (as on a CPU without them)."""

    def run(X: np.ndarray, threads: int) -> np.ndarray:
        pipe.n_threads = threads
        if amx:
            return pipe.predict(X)
        before = kernels.set_knn_amx(False)
        try:
            return pipe.predict(X)
        finally:
            kernels.set_knn_amx(before)

    return run


# runtime name -> (predict, whether it reads the precomputed codes)
Runners = dict[str, tuple[Predict, bool]]


def run_model(
    title: str,
    runners: Runners,
    inputs: dict[bool, np.ndarray],
    batches: tuple[int, ...],
    visits: float | None,
    lines: list[str],
) -> dict:
    """Time every runner; append a table. Returns seconds by (runtime, threads, batch)."""
    big = batches[-1]
    cols = [f"{b:,} rows" for b in batches] + [f"{big:,} rows, 2 threads"]
    lines += [f"### {title}", ""]
    if visits:
        lines += [f"node visits per row (internal nodes on the data path): {visits:.0f}", ""]
    lines += ["| runtime | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    sec: dict[tuple[str, int, int], float] = {}
    settings = [(1, b) for b in batches] + [(2, big)]
    for threads, b in settings:  # the runtimes of one cell timed in alternation
        calls = {rt: partial(fn, inputs[c][:b], threads) for rt, (fn, c) in runners.items()}
        for runtime, s in interleaved_seconds(calls).items():
            sec[runtime, threads, b] = s
    for runtime in runners:
        cells = []
        for threads, b in settings:
            s = sec[runtime, threads, b]
            cell = f"{s * 1e6:,.1f} µs" if b == 1 else f"{b / s:,.0f} rows/s"
            if visits and b > 1:
                cell += f", {b * visits / s / 1e9:.2f} G visits/s"
            cells.append(cell)
        lines.append(f"| {runtime} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "peer time / greenauto time (> 1: greenauto faster):", ""]
    lines += ["| runtime | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for runtime in runners:
        if runtime != "greenauto":
            cells = [f"{sec[runtime, t, b] / sec['greenauto', t, b]:.2f}x"
                     for t, b in [(1, b) for b in batches] + [(2, big)]]  # fmt: skip
            lines.append(f"| {runtime} | " + " | ".join(cells) + " |")
    lines.append("")
    return sec


def tree_runners(model, data: Data, args, workdir: Path) -> tuple[Runners, CompiledPipeline]:
    pipe = CompiledPipeline([model], classes=np.unique(data.y), binner=data.binner)
    runners: dict[str, tuple[Predict, bool]] = {"greenauto": (greenauto_predict(pipe), False)}
    if isinstance(model, lgb.LGBMClassifier):
        booster = model.booster_
        runners["lightgbm Booster.predict"] = (
            lambda X, t: booster.predict(X, num_threads=t),
            True,
        )
        if not args.no_lleaves:
            fn = lleaves_predict(booster, workdir)
            if fn is not None:
                runners["lleaves"] = (fn, True)
    else:
        runners["scikit-learn predict"] = (sklearn_predict(model), True)
    if not args.no_onnx:
        fn = onnx_predict(model, data.X.shape[1])
        if fn is not None:
            runners["onnxruntime"] = (fn, True)
    return runners, pipe


def row_path_line(pipe: CompiledPipeline) -> str:
    """The few-row path the forest kept after timing its paths on its first calls."""
    return f"few-row path kept by timing (1 to 7 rows): {pipe._kernel.row_paths()[0]}"


def vote_runners(data: Data, n_train: int) -> dict[str, tuple[Predict, bool]]:
    rng = np.random.default_rng(0)
    rows = rng.permutation(data.X.shape[0])[:n_train]
    X, y, codes = data.X[rows], data.y[rows], data.codes[rows].astype(np.float64)
    dt = DecisionTreeClassifier(max_depth=10, random_state=0).fit(codes, y)
    nb = GaussianNB().fit(codes, y)
    knn = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(codes, y)
    pipe = CompiledPipeline([dt, nb, knn], classes=np.unique(y), binner=data.binner)
    members = [("dt", DecisionTreeClassifier(max_depth=10, random_state=0)),
               ("nb", GaussianNB()), ("knn", KNeighborsClassifier(n_neighbors=5))]  # fmt: skip
    vote = VotingClassifier(members, voting="hard")
    if np.isnan(X).any():
        vote = make_pipeline(SimpleImputer(strategy="median"), vote)
    vote.fit(X, y)
    binner = data.binner

    def same_members(Xb: np.ndarray, threads: int) -> np.ndarray:
        with threadpool_limits(threads):
            c = binner.transform(Xb).astype(np.float64)
            votes = np.stack([dt.predict(c), nb.predict(c), knn.predict(c)])
        counts = np.stack([(votes == k).sum(axis=0) for k in dt.classes_], axis=1)
        return dt.classes_[np.argmax(counts, axis=1)]

    runners = {"greenauto": (greenauto_predict(pipe), False)}
    if kernels.knn_amx():  # the path of a CPU without AMX tiles, in the same run
        runners[NO_AMX] = (greenauto_predict(pipe, amx=False), False)
    runners["scikit-learn VotingClassifier (float features)"] = (sklearn_predict(vote), False)
    runners["scikit-learn, same binned members"] = (same_members, False)
    return runners


def binning_ns(data: Data) -> dict[int, float]:
    """ns per value of Binner.transform (float32, 1 thread) at 64 and 255 bins."""
    out = {}
    for n_bins in (64, 255):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            binner = Binner(n_bins=n_bins, random_state=0).fit(data.X)
        s = median_seconds(lambda b=binner: b.transform(data.big), repeat=7, min_time=0.5)
        out[n_bins] = s * 1e9 / data.big.size
    return out


def dataframe_predict(data_dir: Path, name: str, lines: list[str]) -> dict[str, float]:
    """DataFrame -> labels with a one-tree model against the compiled call on encoded arrays.

    The numerator is the path users call: a CompiledPipeline carrying its encoder
    (``with_metadata(encoder=...)``, as GreenAutoClassifier's compiled model and a loaded model
    are) called on the DataFrame. The denominator is the same model's compiled call on the
    already-encoded array."""
    frame, y = read_frame(data_dir, name)
    enc = TabularEncoder().fit(frame)
    X = enc.transform(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binner = Binner(n_bins=N_BINS, random_state=0).fit(X)
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(binner.transform(X), y)
    pipe = CompiledPipeline([tree], classes=np.unique(y), binner=binner)
    user = pipe.with_metadata(encoder=enc)
    batch = frame.sample(1_000, random_state=0)
    encoded = enc.transform(batch)
    assert np.array_equal(pipe.predict(encoded), user.predict(batch))
    timed = interleaved_seconds(
        {"encode": lambda: enc.transform(batch), "model": lambda: pipe.predict(encoded),
         "all": lambda: user.predict(batch)}, repeat=9, min_time=0.5,
    )  # fmt: skip
    t_enc, t_model, t_all = timed["encode"], timed["model"], timed["all"]
    n_cat = len(enc.categories_)
    res = {"ratio": t_all / t_model, "model": t_model, "all": t_all, "encode": t_enc,
           "cat_ns": np.nan}  # fmt: skip
    if n_cat:  # the text columns alone, through the same compiled path
        text = batch[[batch.columns[j] for j in sorted(enc.categories_)]]
        enc_text = TabularEncoder().fit(frame[text.columns])
        t_text = median_seconds(lambda: enc_text.transform(text), repeat=9, min_time=0.5)
        res["cat_ns"] = t_text * 1e9 / text.size
    lines.append(
        f"| {name} | {n_cat} of {frame.shape[1]} | {t_enc * 1e6:,.0f} | {t_model * 1e6:,.0f} | "
        f"{t_all * 1e6:,.0f} | {res['ratio']:.2f}x | "
        + (f"{res['cat_ns']:.1f} |" if n_cat else "- |")
    )
    print(lines[-1], flush=True)
    return res


def summary(rows: list[tuple[str, str, list[float], str, bool]]) -> list[str]:
    """Goals table: per goal the median over the datasets and the worst one."""
    out = [
        "## Goals (1 thread)",
        "",
        "| goal | target | median over datasets | worst dataset |",
        "|---|---|---|---|",
    ]
    for goal, target, values, unit, higher in rows:
        worst = min(values) if higher else max(values)
        median = statistics.median(values)
        out.append(f"| {goal} | {target} | {median:.2f}{unit} | {worst:.2f}{unit} |")
    return [*out, ""]


def bench_dataset(data: Data, args, workdir: Path, goals: dict[str, list[float]],
                  lines: list[str]) -> None:  # fmt: skip
    """RF, LightGBM, the vote and binning on one dataset."""
    n_rows = data.big.shape[0]
    batches = (1, 1_000, n_rows)
    inputs = {False: data.big, True: data.big_codes}
    rf = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=2)
    rf.fit(data.codes, data.y)
    visits = visits_per_row(rf, data.big_codes[:3000])
    runners, pipe = tree_runners(rf, data, args, workdir)
    sec = run_model("RF (100 trees, depth 10)", runners, inputs, batches, visits, lines)
    lines += [row_path_line(pipe), ""]
    goals["rf"].append(n_rows * visits / sec["greenauto", 1, n_rows] / 1e9)
    goals["row"].append(sec["greenauto", 1, 1] * 1e6)
    gbm = lgb.LGBMClassifier(n_estimators=100, num_leaves=31, verbose=-1, n_jobs=2)
    gbm.fit(data.codes, data.y)
    visits = visits_per_row(gbm, data.big_codes[:3000])
    runners, pipe = tree_runners(gbm, data, args, workdir)
    sec = run_model("LightGBM (100 trees, 31 leaves)", runners, inputs, batches, visits, lines)
    lines += [row_path_line(pipe), ""]
    if ("lleaves", 1, n_rows) in sec:
        goals["lgbm"].append(sec["lleaves", 1, n_rows] / sec["greenauto", 1, n_rows])
    small = (1, 1_000, min(n_rows, 20_000))
    title = "vote DT(depth 10) + GaussianNB + KNN(k=5), fitted on 5,000 rows"
    sec = run_model(title, vote_runners(data, 5_000), inputs, small, None, lines)
    peer = "scikit-learn VotingClassifier (float features)"
    goals["vote"].append(sec[peer, 1, small[-1]] / sec["greenauto", 1, small[-1]])
    if (NO_AMX, 1, small[-1]) in sec:
        goals["vote_no_amx"].append(sec[peer, 1, small[-1]] / sec[NO_AMX, 1, small[-1]])
    ns = binning_ns(data)
    goals["bin64"].append(ns[64])
    goals["bin255"].append(ns[255])
    lines += [
        f"Binner.transform, float32, 1 thread: {ns[64]:.2f} ns/value at 64 bins, "
        f"{ns[255]:.2f} at 255 bins",
        "",
    ]


def goal_rows(goals: dict[str, list[float]], e2e: dict[str, dict[str, float]]) -> list:
    rows = [
        ("binned RF 100 x depth 10, G node visits/s/core", ">= 1.5 (worst)", goals["rf"],
         " G", True),
        ("LightGBM 100 x 31, lleaves time / greenauto time", ">= 1.3x (median)",
         goals["lgbm"], "x", True),
        ("one row through RF 100 from Python, µs", "< 2", goals["row"], " µs", False),
        ("Binner.transform at 64 bins, ns/value", "<= 2", goals["bin64"], " ns", False),
        ("Binner.transform at 255 bins, ns/value", "<= 2", goals["bin255"], " ns", False),
        ("vote vs VotingClassifier, 20,000 rows", ">= 10x", goals["vote"], "x", True),
        ("the same, KNN without AMX tiles (CPUs without them)", "-", goals["vote_no_amx"], "x",
         True),
        ("DataFrame predict / compiled call (adult, magic)", "<= 1.5x",
         [e2e[n]["ratio"] for n in e2e], "x", False),
        ("categorical encoding (adult), ns/value", "<= 20", [e2e["adult"]["cat_ns"]],
         " ns", False),
    ]  # fmt: skip
    return [r for r in rows if r[2]]  # no lleaves: no LightGBM goal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, results not written")
    parser.add_argument("--no-lleaves", action="store_true")
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()
    n_rows = 20_000 if args.quick else 200_000
    lines: list[str] = []
    goals: dict[str, list[float]] = {
        k: [] for k in ("rf", "lgbm", "row", "bin64", "bin255", "vote", "vote_no_amx")
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in DATASETS:
            data = load(args.data_dir, name, n_rows)
            n_classes = np.unique(data.y).size
            lines += [f"## {name}: {data.X.shape[0]:,} rows x {data.X.shape[1]} features, "
                      f"{n_classes} classes", ""]  # fmt: skip
            print(lines[-2], flush=True)
            workdir = Path(tmp) / name
            workdir.mkdir()
            bench_dataset(data, args, workdir, goals, lines)
    lines += [
        "## predict from a pandas DataFrame, one tree (DT depth 6), 1,000 rows",
        "",
        "| dataset | text columns | encode µs | compiled call on encoded µs | "
        "DataFrame -> labels µs (model with its encoder) | ratio | "
        "categorical encoding ns/value |",
        "|---|---|---|---|---|---|---|",
    ]
    e2e = {name: dataframe_predict(args.data_dir, name, lines) for name in ("adult", "magic")}
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    amx = ("uses AMX tiles (the vote is also timed without them)" if kernels.knn_amx()
           else "has no AMX tiles on this CPU")  # fmt: skip
    head = [
        *summary(goal_rows(goals, e2e)),
        f"Kernel instruction-set level: {kernels.isa()} (best this CPU supports: "
        f"{kernels.detected_isa()}); the KNN's L2 search {amx}. "
        f"Load average (1, 5, 15 min) at the end: {load_avg} on "
        f"{os.cpu_count()} cores. Times are medians of wall-clock calls.",
        "",
    ]
    print("\n".join(head))
    if not args.quick:
        title = "Compiled inference on four data shapes"
        path = write_results("bench_inference", title, "\n".join(head + lines), PACKAGES)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
