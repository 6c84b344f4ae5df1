"""Inference speed: greenauto's compiled pipeline against every runtime a user could pick.

One run, same data (the ``magic`` dataset, 10 features, tiled to 200,000 rows), same thread
count for everyone: scikit-learn ``predict``, LightGBM ``Booster.predict``, ONNX Runtime
(skl2onnx / onnxmltools), and tl2cgen and lleaves where they install. Models: RF(100 trees,
depth 10), LightGBM(100 trees, 31 leaves), DT(depth 10), and the hard vote DT + NB + KNN.
Batches of 1, 1,000 and 200,000 rows; 1 and 2 threads. Prints rows/s, node visits/s (tree
models: internal nodes actually visited per row, counted on the data) and ratios of medians,
and writes ``benchmarks/results/bench_inference.md``.

Models come in two forms: ``raw`` (trained on float32 features; greenauto's raw path) and
``binned`` (trained on Binner codes; greenauto bins inside its call, from float input, while
the peers get the codes precomputed, i.e. binning is free for them).

Run ``python benchmarks/bench_inference.py [--quick] [--no-tl2cgen] [--no-lleaves]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_seconds, write_results

from greenauto import Binner
from greenauto.compiled import CompiledPipeline, flatten_trees
from greenauto.datasets import load_dataset

BATCHES = (1, 1_000, 200_000)
THREADS = (1, 2)
PACKAGES = [
    "greenauto",
    "numpy",
    "scikit-learn",
    "lightgbm",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
    "tl2cgen",
    "treelite",
    "lleaves",
    "llvmlite",
]
Predict = Callable[[np.ndarray, int], object]  # (X, n_threads) -> predictions


def visits_per_row(model: object, X: np.ndarray) -> float:
    """Mean internal nodes visited per row over all trees (comparisons actually made)."""
    flat = flatten_trees(model)
    rows = np.arange(X.shape[0])
    total = 0
    for t in range(flat.n_trees):
        node = np.full(X.shape[0], flat.tree_starts[t])
        while True:
            inner = flat.left[node] != -1
            if not inner.any():
                break
            total += int(inner.sum())
            x = X[rows, flat.feature[node]].astype(np.float64)
            go_left = np.where(
                np.isnan(x), flat.missing_left[node] == 1, x <= flat.threshold[node]
            )
            node = np.where(inner, np.where(go_left, flat.left[node], flat.right[node]), node)
    return total / X.shape[0]


def onnx_session(model: object, n_features: int, threads: int, lightgbm: bool = False):
    """An ONNX Runtime session for the model (labels output), or None if conversion fails."""
    try:
        import onnxruntime as ort

        if lightgbm:
            import onnxmltools
            from onnxmltools.convert.common.data_types import FloatTensorType

            types = [("X", FloatTensorType([None, n_features]))]
            onx = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
        else:
            from skl2onnx import to_onnx
            from skl2onnx.common.data_types import FloatTensorType

            types = [("X", FloatTensorType([None, n_features]))]
            onx = to_onnx(model, initial_types=types, options={"zipmap": False})
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        return ort.InferenceSession(
            onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # a peer that cannot convert is reported, not fatal
        print(f"  ONNX conversion failed: {exc!r}")
        return None


def onnx_predict(session) -> Predict:
    name = session.get_inputs()[0].name
    label = session.get_outputs()[0].name
    return lambda X, _t: session.run([label], {name: X})[0]


def tl2cgen_predict(model: object, workdir: Path, tag: str) -> Predict | None:
    """Compile the model with tl2cgen (gcc) and return its predictor, or None."""
    try:
        import tl2cgen
        import treelite

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(model, lgb.Booster):
                tl_model = treelite.frontend.from_lightgbm(model)
            else:
                tl_model = treelite.sklearn.import_model(model)
            lib = workdir / f"{tag}.so"
            t0 = time.perf_counter()
            tl2cgen.export_lib(
                tl_model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 8}, nthread=2
            )
            print(f"  tl2cgen build {tag}: {time.perf_counter() - t0:.0f} s")
            predictors = {t: tl2cgen.Predictor(str(lib), nthread=t) for t in THREADS}
        return lambda X, t: predictors[t].predict(tl2cgen.DMatrix(X))
    except Exception as exc:
        print(f"  tl2cgen failed: {exc!r}")
        return None


def lleaves_predict(booster: lgb.Booster, workdir: Path) -> Predict | None:
    try:
        import lleaves

        path = workdir / "lgbm.txt"
        booster.save_model(str(path))
        model = lleaves.Model(model_file=str(path))
        t0 = time.perf_counter()
        model.compile(cache=str(workdir / "lleaves.o"))
        print(f"  lleaves compile: {time.perf_counter() - t0:.0f} s")
        return lambda X, t: model.predict(X, n_jobs=t)
    except Exception as exc:
        print(f"  lleaves failed: {exc!r}")
        return None


def greenauto_predict(pipe: CompiledPipeline) -> Predict:
    def run(X: np.ndarray, threads: int) -> np.ndarray:
        pipe.n_threads = threads
        return pipe.predict(X)

    return run


def sklearn_predict(model: object) -> Predict:
    def run(X: np.ndarray, threads: int) -> np.ndarray:
        if hasattr(model, "n_jobs"):
            model.n_jobs = threads
        with threadpool_limits(threads):
            return model.predict(X)

    return run


def time_call(fn: Predict, X: np.ndarray, threads: int, slow: bool) -> float:
    if slow:  # one warm-up and three timed calls: the 200k-row vote takes seconds per call
        return median_seconds(lambda: fn(X, threads), repeat=3, min_time=0.0)
    return median_seconds(lambda: fn(X, threads), repeat=7, min_time=0.3)


def run_case(
    name: str,
    runners: dict[str, tuple[Predict, bool]],
    inputs: dict[str, np.ndarray],
    visits: float | None,
    batches: tuple[int, ...],
    lines: list[str],
) -> dict[tuple[str, int, int], float]:
    """Time every runner on every batch and thread count; append a markdown table.

    Returns the medians (seconds per call) by (runtime, threads, batch).
    """
    head = "| runtime | threads | " + " | ".join(f"{b:,} rows" for b in batches) + " |"
    lines += [
        f"### {name}",
        "",
        f"node visits per row: {visits:.0f}" if visits else "",
        "",
        head,
        "|---|---|" + "---|" * len(batches),
    ]
    medians: dict[tuple[str, int, int], float] = {}
    for runtime, (fn, uses_binned) in runners.items():
        for threads in THREADS:
            cells = []
            for b in batches:
                X = inputs["codes" if uses_binned else "raw"][:b]
                slow = b >= 100_000 and "vote" in name
                sec = time_call(fn, X, threads, slow)
                medians[runtime, threads, b] = sec
                rate = f"{b / sec:,.0f} rows/s"
                if b == 1:
                    rate = f"{sec * 1e6:,.1f} µs ({rate})"
                if visits and b > 1:
                    rate += f", {b * visits / sec / 1e6:,.0f} M visits/s"
                cells.append(rate)
            lines.append(f"| {runtime} | {threads} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    lines += [
        "",
        "ratio of medians (peer time / greenauto time; > 1: greenauto faster):",
        "",
        head,
        "|---|---|" + "---|" * len(batches),
    ]
    for runtime in runners:
        if runtime == "greenauto":
            continue
        for threads in THREADS:
            cells = [
                f"{medians[runtime, threads, b] / medians['greenauto', threads, b]:.1f}x"
                for b in batches
            ]
            lines.append(f"| {runtime} | {threads} | " + " | ".join(cells) + " |")
    lines.append("")
    return medians


def goals(results: dict[str, tuple[dict[tuple[str, int, int], float], float | None]],
          big: int) -> list[str]:  # fmt: skip
    """The issue's three goals against what this run measured."""
    rf_b, rf_visits = results["rf_binned"]
    rf_r, _ = results["rf_raw"]
    vote, _ = results["vote"]
    per_core = big * rf_visits / rf_b["greenauto", 1, big] / 1e9
    one_row = rf_b["greenauto", 1, 1] * 1e6
    one_row_raw = rf_r["greenauto", 1, 1] * 1e6
    peer = "scikit-learn VotingClassifier (float features)"
    speedup = vote[peer, 1, big] / vote["greenauto", 1, big]
    return [
        "## Goals (1 thread)",
        "",
        "| goal | target | reached |",
        "|---|---|---|",
        f"| node visits per second per core, binned RF, {big:,} rows | >= 1.5 G | "
        f"{per_core:.2f} G |",
        f"| one row through the 100-tree RF, from Python | < 5 µs | {one_row:.1f} µs binned, "
        f"{one_row_raw:.1f} µs raw |",
        f"| DT+NB+KNN vote vs scikit-learn VotingClassifier, {big:,} rows | >= 10x | "
        f"{speedup:.1f}x |",
        "",
    ]


def load_data(n_rows: int) -> dict[str, np.ndarray]:
    X, y = load_dataset("magic")
    X = X.to_numpy(np.float32)
    y = np.asarray(y)
    binner = Binner(n_bins=255).fit(X)
    reps = -(-n_rows // X.shape[0])
    big = np.tile(X, (reps, 1))[:n_rows]
    rng = np.random.default_rng(0)
    big = np.ascontiguousarray(big[rng.permutation(n_rows)])
    return {
        "X": X,
        "y": y,
        "binner": binner,
        "codes": binner.transform(X),
        "big": big,
        "big_codes": binner.transform(big).astype(np.float32),
    }


def tree_runners(model, data, binned: bool, workdir: Path, args, tag: str):
    """greenauto and every peer that can run this tree model."""
    pipe = CompiledPipeline(
        [model], classes=np.unique(data["y"]), binner=data["binner"] if binned else None
    )
    is_lgbm = isinstance(model, lgb.LGBMClassifier)
    runners: dict[str, tuple[Predict, bool]] = {"greenauto": (greenauto_predict(pipe), False)}
    if is_lgbm:
        booster = model.booster_
        runners["lightgbm Booster.predict"] = (
            lambda X, t: booster.predict(X, num_threads=t),
            binned,
        )
    else:
        runners["scikit-learn predict"] = (sklearn_predict(model), binned)
        if binned:  # the same work as greenauto's call: binning from float, then the model
            binner, predict = data["binner"], sklearn_predict(model)
            runners["scikit-learn Binner.transform + predict"] = (
                lambda X, t: predict(binner.transform(X), t),
                False,
            )
    sessions = {t: onnx_session(model, data["X"].shape[1], t, lightgbm=is_lgbm) for t in THREADS}
    if all(s is not None for s in sessions.values()):
        runs = {t: onnx_predict(s) for t, s in sessions.items()}
        runners["onnxruntime"] = (lambda X, t: runs[t](X, t), binned)
    if is_lgbm and not args.no_lleaves:
        fn = lleaves_predict(model.booster_, workdir / tag)
        if fn is not None:
            runners["lleaves"] = (fn, binned)
    if not binned and not args.no_tl2cgen and tag in ("rf_raw", "lgbm_raw"):
        fn = tl2cgen_predict(model.booster_ if is_lgbm else model, workdir, tag)
        if fn is not None:
            runners["tl2cgen"] = (fn, binned)
    return runners


def vote_runners(data):
    codes, y = data["codes"], data["y"]
    binner = data["binner"]
    dt = DecisionTreeClassifier(max_depth=10, random_state=0).fit(codes, y)
    nb = GaussianNB().fit(codes.astype(np.float64), y)
    knn = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(codes.astype(np.float64), y)
    pipe = CompiledPipeline([dt, nb, knn], classes=dt.classes_, binner=binner)
    raw_vote = VotingClassifier(
        [
            ("dt", DecisionTreeClassifier(max_depth=10, random_state=0)),
            ("nb", GaussianNB()),
            ("knn", KNeighborsClassifier(n_neighbors=5)),
        ],
        voting="hard",
    ).fit(data["X"], y)

    def same_members(X: np.ndarray, threads: int) -> np.ndarray:
        with threadpool_limits(threads):
            c = binner.transform(X)
            votes = np.stack([dt.predict(c), nb.predict(c * 1.0), knn.predict(c * 1.0)])
        counts = np.stack([(votes == k).sum(axis=0) for k in dt.classes_], axis=1)
        return dt.classes_[np.argmax(counts, axis=1)]

    return {
        "greenauto": (greenauto_predict(pipe), False),
        "scikit-learn VotingClassifier (float features)": (sklearn_predict(raw_vote), False),
        "scikit-learn, same binned members (Binner + 3 predicts + vote)": (same_members, False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="largest batch 20,000 rows")
    parser.add_argument("--no-tl2cgen", action="store_true")
    parser.add_argument("--no-lleaves", action="store_true")
    args = parser.parse_args()
    batches = (1, 1_000, 20_000) if args.quick else BATCHES
    data = load_data(batches[-1])
    X, y, codes = data["X"], data["y"], data["codes"]
    inputs = {"raw": data["big"], "codes": data["big_codes"]}
    lines = [
        f"Data: `magic` ({X.shape[0]:,} rows, {X.shape[1]} features) for training; "
        f"batches cut from it tiled to {batches[-1]:,} rows (shuffled). Binned models: "
        "Binner(n_bins=255); greenauto bins inside its call from float32, peers get the "
        "codes precomputed as float32. Times are medians of repeated calls.",
        "",
    ]
    models = {
        "rf": lambda: RandomForestClassifier(
            n_estimators=100, max_depth=10, random_state=0, n_jobs=2
        ),
        "lgbm": lambda: lgb.LGBMClassifier(n_estimators=100, num_leaves=31, verbose=-1),
        "dt": lambda: DecisionTreeClassifier(max_depth=10, random_state=0),
    }
    titles = {
        "rf": "RF (100 trees, depth 10)",
        "lgbm": "LightGBM (100 trees, 31 leaves)",
        "dt": "DT (depth 10)",
    }
    results: dict[str, tuple[dict[tuple[str, int, int], float], float | None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for key, make in models.items():
            for mode in ("binned", "raw"):
                (workdir / f"{key}_{mode}").mkdir()
                train = codes if mode == "binned" else X
                model = make().fit(train, y)
                sample = (inputs["codes"] if mode == "binned" else inputs["raw"])[:5000]
                visits = visits_per_row(model, sample)
                print(f"== {titles[key]}, {mode}: {visits:.0f} node visits per row", flush=True)
                runners = tree_runners(
                    model, data, mode == "binned", workdir, args, f"{key}_{mode}"
                )
                medians = run_case(
                    f"{titles[key]}, {mode}", runners, inputs, visits, batches, lines
                )
                results[f"{key}_{mode}"] = (medians, visits)
    print("== vote DT + NB + KNN", flush=True)
    medians = run_case(
        f"vote DT(depth 10) + GaussianNB + KNN(k=5, {X.shape[0]:,} training rows), binned",
        vote_runners(data),
        inputs,
        None,
        batches,
        lines,
    )
    results["vote"] = (medians, None)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines.insert(1, f"Load average (1, 5, 15 min) at the end of the run: {load} on "
                    f"{os.cpu_count()} cores: other jobs shared the machine.")  # fmt: skip
    summary = goals(results, batches[-1])
    print("\n".join(summary))
    lines = summary + lines
    if not args.quick:
        path = write_results("bench_inference", "Compiled inference", "\n".join(lines), PACKAGES)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
