"""greenauto's default search against the models a user would pick instead, on real datasets.

For every dataset and seed (on one stratified 75/25 split drawn with ``--split-seed``, the
same for every seed, so that the seeds measure how much the search varies from run to run;
one thread), in ONE run: ``GreenAutoClassifier(random_state=seed, handle_unknown="missing")``
with its default settings (time budget 60 s, and its own early stop), FLAML with the same time
budget, and plain baselines: LightGBM defaults, RandomForest defaults and scikit-learn's hard
VotingClassifier of DT + GaussianNB + KNN. Every model is measured with the same meter
(``greenauto.energy.default_meter``: process CPU time x calibrated watts, labelled with its
source): test accuracy; fit energy (one fit on the training split); inference energy per
1,000 predictions on the same 1,000 test rows (end-to-end ``predict`` from the DataFrame,
median per call); model bytes; search energy (what the whole ``fit`` measured). Every point
of greenauto's front is refitted on the training split (``use_point``) and measured the same
way, to say which contenders some front point matches or dominates on test.

Per dataset, the default pick is compared with the most accurate other contender on test
(accuracy gap in points, inference-energy ratio) and with FLAML's search energy; the goals of
issue 14 are printed with the medians and the worst dataset. With several seeds, the spread
of the pick's test accuracy and gap across seeds, and the kind of model picked each time.

Run: ``python benchmarks/bench_search.py --seeds 0 1 2`` (the full benchmark), or e.g.
``--datasets spambase magic --seeds 0 --budget 20`` for a quick check. Needs the ``bench``
extra (FLAML). Raw rows go to the JSON file beside the Markdown (``--out`` with ``.json``),
written after every dataset; ``--resume`` skips the (dataset, seed) pairs it already holds;
``--from-json`` rewrites the Markdown from it without rerunning.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, load_raw, run_info, save_raw, write_from_raw
from _search_tables import render

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_csv
from greenauto.energy import default_meter, measure_fit, measure_predict
from greenauto.preprocessing import TabularEncoder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
#: The full benchmark: binary and many classes, narrow and wide, 569 to 67,557 rows.
DATASETS = [
    "adult",
    "magic",
    "spambase",
    "letter",
    "wisdm_activity",
    "connect_4",
    "car_evaluation",
    "breast_cancer_wisconsin",
]
SEEDS = [0, 1, 2]
BUDGET = 60.0
REF_ROWS = 1000
PACKAGES = ["greenauto", "flaml", "xgboost", "lightgbm", "scikit-learn", "optuna", "numpy"]
DEFAULT_OUT = RESULTS / "bench_search.md"
#: Attributes by which a record or point may name the model it was distilled from.
STUDENT_ATTRS = ("student_of", "distilled_from", "teacher")


# ----------------------------------------------------------------------------- data


def load_split(name: str, seed: int) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The dataset's stratified 75/25 split drawn with ``seed``; plain column names."""
    X, y = load_csv(SHARED / f"{name}.csv.gz")
    # FLAML's LightGBM refuses JSON-special characters in names (spambase's "char_freq_;"):
    # every contender gets the same plain names
    X.columns = [
        f"f{j}_" + "".join(c if c.isalnum() else "_" for c in str(n))
        for j, n in enumerate(X.columns)
    ]
    for col in X.select_dtypes(exclude=["number", "bool"]).columns:
        X[col] = X[col].astype("category")  # FLAML and LightGBM want category dtype
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, np.asarray(y), test_size=0.25, stratify=np.asarray(y), random_state=seed
    )
    return X_tr, X_te, y_tr, y_te


def reference_rows(X_te: Any) -> Any:
    """The first ``REF_ROWS`` test rows; a smaller test split is repeated in order up to
    ``REF_ROWS`` rows (so every dataset's figure is for the same batch size)."""
    return X_te.iloc[np.resize(np.arange(len(X_te)), REF_ROWS)]


def accuracy(pred: Any, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == y))


def inference_j(predict, X_ref, meter) -> float:
    """J per 1,000 predictions of ``predict`` on the reference batch (median per call)."""
    return float(measure_predict(predict, X_ref, meter=meter).joules_per_1k_rows)


# ----------------------------------------------------------------------------- contenders


def baselines(X_tr, y_tr, X_te, y_te, X_ref, meter, seed: int) -> list[dict]:
    """LightGBM defaults, RandomForest defaults and the DT + GaussianNB + KNN hard vote."""
    import lightgbm as lgb

    def encoded(model):
        return make_pipeline(TabularEncoder(handle_unknown="missing"), model)

    models = {
        "lightgbm": ("LightGBM default",
                     encoded(lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed))),
        "random_forest": ("RandomForest default",
                          encoded(RandomForestClassifier(n_jobs=1, random_state=seed))),
        "vote": ("Voting DT+GaussianNB+KNN", encoded(make_pipeline(
            SimpleImputer(),
            VotingClassifier([("dt", DecisionTreeClassifier(random_state=seed)),
                              ("nb", GaussianNB()), ("knn", KNeighborsClassifier())],
                             voting="hard"),
        ))),
    }  # fmt: skip
    rows = []
    for key, (name, model) in models.items():
        fit = measure_fit(lambda m=model: m.fit(X_tr, y_tr), meter=meter)
        rows.append(
            {
                "contender": key,
                "model": name,
                "acc": accuracy(model.predict(X_te), y_te),
                "fit_j": fit.joules,
                "infer_j_per_1k": inference_j(model.predict, X_ref, meter),
                "bytes": len(pickle.dumps(model)),
                "search_j": fit.joules,
                "search_s": fit.wall_seconds,
            }
        )
    return rows


def flaml_row(X_tr, y_tr, X_te, y_te, X_ref, meter, budget: float, seed: int) -> dict:
    """FLAML's AutoML with the same time budget, one thread."""
    from flaml import AutoML

    automl = AutoML()
    settings = {
        "time_budget": budget,
        "metric": "accuracy",
        "task": "classification",
        "n_jobs": 1,
        "seed": seed,
        "verbose": 0,
    }
    search = meter.measure(lambda: automl.fit(X_tr, y_tr, **settings))
    return {
        "contender": "flaml",
        "model": f"FLAML ({automl.best_estimator})",
        "acc": accuracy(automl.predict(X_te), y_te),
        "fit_j": float("nan"),  # not separable from FLAML's search
        "infer_j_per_1k": inference_j(automl.predict, X_ref, meter),
        "bytes": len(pickle.dumps(automl.model)),
        "search_j": search.joules,
        "search_s": search.wall_seconds,
    }


def greenauto_run(X_tr, y_tr, X_te, y_te, X_ref, meter, budget, seed) -> dict[str, Any]:
    """The default search: its pick, its refitted front and what the search reports."""
    auto = GreenAutoClassifier(time_budget=budget, random_state=seed, handle_unknown="missing")
    search = meter.measure(lambda: auto.fit(X_tr, y_tr))
    pick = auto.best_point_
    row = {
        "contender": "greenauto",
        "model": f"greenauto default pick: {pick.description}",
        "kind": model_kind(pick.description),
        "trial": pick.trial,
        "acc": accuracy(auto.predict(X_te), y_te),
        "infer_j_per_1k": inference_j(auto.predict, X_ref, meter),
        "bytes": auto.model_.compiled.nbytes,
        "search_j": search.joules,
        "search_s": search.wall_seconds,
        "distilled": is_distilled(pick),
    }
    front = refit_front(auto, X_tr, y_tr, X_te, y_te, X_ref, meter)
    own = [f for f in front if f["trial"] == pick.trial and "acc" in f]
    row["fit_j"] = own[0]["fit_j"] if own else float("nan")  # the pick's refit, measured
    row["refit_same_acc"] = bool(own) and own[0]["acc"] == row["acc"]
    return {"pick": row, "front": front, "search": search_summary(auto)}


def refit_front(auto, X_tr, y_tr, X_te, y_te, X_ref, meter) -> list[dict]:
    """Every front point refitted on the training split and measured like the contenders.

    A point that cannot be refitted is kept with its error (it counts for nothing)."""
    rows = []
    for point in auto.pareto_front_:
        row = {
            "trial": point.trial,
            "description": point.description,
            "kind": model_kind(point.description),
            "distilled": is_distilled(point),
            "val_score": point.metrics.get("score"),
            "val_infer_j_per_1k": point.metrics.get("inference_energy_j_per_1k"),
        }
        try:
            fit = measure_fit(lambda p=point: auto.use_point(p, X_tr, y_tr), meter=meter)
        except Exception as exc:  # reported in the results, never silently dropped
            row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        row.update(
            fit_j=fit.joules,
            acc=accuracy(auto.predict(X_te), y_te),
            infer_j_per_1k=inference_j(auto.predict, X_ref, meter),
            bytes=auto.model_.compiled.nbytes,
        )
        rows.append(row)
    return rows


def search_summary(auto) -> dict[str, Any]:
    """What the search reports about itself: trials, why it stopped, what the stop saved."""
    result = auto.search_result_
    totals = result.totals
    complete = [r for r in result.trials if r.complete]
    return {
        "trials_sampled": sum(r.sampled for r in result.trials),
        "variants": totals.variants,
        "states": dict(totals.trial_states or {}),
        "stop_reason": totals.stop_reason,
        "energy_saved_j": totals.energy_saved_j,
        "own_energy_j": totals.energy_j,
        "own_energy_source": totals.energy_source,
        "wall_s": totals.wall_seconds,
        "front_size": len(result.front),
        "front_ensembles": sum("+" in model_kind(p.description) for p in result.front),
        "students_tried": sum(is_distilled(r) for r in complete),
        "students_on_front": sum(is_distilled(p) for p in result.front),
    }


def model_kind(description: str) -> str:
    """The kind of model in a description: ``"LightGBM(60 trees) on all 14 columns, 165
    bins"`` -> ``"LightGBM"``; ensembles keep their members (``"LightGBM + KNN"``); a
    distilled student is marked ``"(distilled)"``."""
    head = description.split(" on ", 1)[0]
    kind = re.sub(r"\s*\([^)]*\)", "", head).strip()
    if "distilled" in kind.lower():
        kind = re.split(r"\s*distilled", kind, flags=re.IGNORECASE)[0] + " (distilled)"
    return kind or description


def is_distilled(obj: Any) -> bool:
    """Whether a front point or trial record is a distilled student: its description says
    "distilled" (e.g. "... distilled from trial 12"), or it carries a ``student_of`` /
    ``distilled_from`` / ``teacher`` attribute."""
    if "distilled" in str(getattr(obj, "description", "")).lower():
        return True
    return any(getattr(obj, a, None) is not None for a in STUDENT_ATTRS)


# ----------------------------------------------------------------------------- one run


def run_one(name: str, seed: int, budget: float, meter, split_seed: int = 0) -> dict[str, Any]:
    """All contenders on one dataset and seed (on the split drawn with ``split_seed``)."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    X_tr, X_te, y_tr, y_te = load_split(name, split_seed)
    X_ref = reference_rows(X_te)
    rows = baselines(X_tr, y_tr, X_te, y_te, X_ref, meter, seed)
    rows.append(flaml_row(X_tr, y_tr, X_te, y_te, X_ref, meter, budget, seed))
    ga = greenauto_run(X_tr, y_tr, X_te, y_te, X_ref, meter, budget, seed)
    rows.append(ga["pick"])
    front = [f for f in ga["front"] if "acc" in f]
    for r in rows:
        r["dominated_by_front"] = any(
            f["acc"] >= r["acc"] - 1e-9 and f["infer_j_per_1k"] <= r["infer_j_per_1k"]
            for f in front
        )
    return {
        "dataset": name,
        "seed": seed,
        "split_seed": split_seed,
        "budget": budget,
        "train_rows": len(X_tr),
        "test_rows": len(X_te),
        "features": X_tr.shape[1],
        "classes": len(np.unique(y_tr)),
        "rows": rows,
        "front": ga["front"],
        "search": ga["search"],
        "wall_s": time.perf_counter() - started,
        "load": [load_before, os.getloadavg()[0]],
    }


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds per search")
    parser.add_argument(
        "--split-seed", type=int, default=0, help="seed of the train/test split (default 0)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results Markdown file")
    parser.add_argument(
        "--from-json",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="rewrite the Markdown from raw rows (default: the JSON beside --out); no run",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the JSON's runs; run only the missing ones"
    )
    return parser.parse_args(argv)


def run_all(args: argparse.Namespace, json_path: Path) -> tuple[dict[str, Any], list[dict]]:
    """Run every (seed, dataset) pair (the whole benchmark once per seed)."""
    meter = default_meter()
    meta = {
        **run_info(PACKAGES),
        "command": "python benchmarks/bench_search.py " + shlex.join(sys.argv[1:]),
        "meter": f"{meter.source.value} ({meter.detail})",
        "full": {"datasets": DATASETS, "seeds": SEEDS, "budget": BUDGET},
        "ref_rows": REF_ROWS,
    }
    runs: list[dict] = []
    if args.resume and json_path.exists():
        old_meta, old_runs = load_raw(json_path)
        runs = [r for r in old_runs if r["budget"] == args.budget]
        meta["command"] = old_meta["command"] + " (resumed: " + meta["command"] + ")"
    done = {(r["dataset"], r["seed"]) for r in runs}
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        for seed in args.seeds:
            for name in args.datasets:
                if (name, seed) in done:
                    continue
                print(f"[{time.strftime('%H:%M:%S')}] {name}, seed {seed}", flush=True)
                runs.append(run_one(name, seed, args.budget, meter, args.split_seed))
                save_raw(json_path, meta, runs)
    meta["finished"] = run_info(PACKAGES)["date"]
    meta["load_average_end"] = run_info(PACKAGES)["load_average"]
    save_raw(json_path, meta, runs)
    return meta, runs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    json_path = args.out.with_suffix(".json")
    if args.from_json is not None:
        if args.from_json is not True:
            json_path = Path(args.from_json)
        meta, runs = load_raw(json_path)
    else:
        meta, runs = run_all(args, json_path)
    body = render(meta, runs)
    print(body)
    title = "Search: greenauto vs FLAML and plain baselines"
    path = write_from_raw("bench_search", title, body, meta, args.out)
    print(f"written to {path} (raw rows: {json_path})")


if __name__ == "__main__":
    main()
