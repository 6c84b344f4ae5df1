"""greenauto's search against the models a user would pick instead, on real datasets.

For each dataset (stratified 75/25 split, seed 0, one thread): GreenAutoClassifier with a time
budget, FLAML with the same budget, and plain baselines fitted in the same run (LightGBM
default, RandomForest default, scikit-learn hard VotingClassifier of DT + GaussianNB + KNN).
Every model is measured with the same meter (process CPU time x calibrated watts, labelled with
its source): test accuracy, fit energy, inference energy per 1,000 predictions on the same
1,000 test rows (end-to-end ``predict`` from the DataFrame), model bytes and search energy.
Then every point of greenauto's front is refitted on the training split and measured the same
way, to say which baselines some front point dominates or matches.

Run: ``python benchmarks/bench_search.py [--budget 60] [--datasets adult magic ...]``;
needs ``pip install flaml`` (the ``bench`` extra). Writes benchmarks/results/bench_search.md.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import warnings
from pathlib import Path

from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_csv
from greenauto.energy import default_meter, measure_fit, measure_predict
from greenauto.preprocessing import TabularEncoder
from greenauto.search import fit_candidate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = ["adult", "magic", "spambase", "letter", "wisdm_activity"]
REF_ROWS = 1000


def measured(name, fit, predict, X_ref, meter) -> dict:
    """Fit energy (one measured fit) and inference energy on the reference batch."""
    fit_m = measure_fit(fit, meter=meter)
    return {
        "model": name,
        "fit_j": fit_m.joules,
        "fit_s": fit_m.wall_seconds,
        "infer_j_per_1k": inference_j(predict, X_ref, meter),
        "source": meter.source.value,
    }


def baselines(X_tr, y_tr, X_te, y_te, X_ref, meter) -> list[dict]:
    def encoded(model):
        return make_pipeline(TabularEncoder(handle_unknown="missing"), model)

    import lightgbm as lgb

    models = {
        "LightGBM default": encoded(lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=0)),
        "RandomForest default": encoded(RandomForestClassifier(n_jobs=1, random_state=0)),
        "Voting DT+GaussianNB+KNN": encoded(make_pipeline(
            SimpleImputer(),
            VotingClassifier([("dt", DecisionTreeClassifier(random_state=0)),
                              ("nb", GaussianNB()), ("knn", KNeighborsClassifier())],
                             voting="hard"),
        )),
    }  # fmt: skip
    rows = []
    for name, model in models.items():
        row = measured(name, lambda m=model: m.fit(X_tr, y_tr), model.predict, X_ref, meter)
        row.update(
            acc=float((model.predict(X_te) == y_te).mean()),
            bytes=len(pickle.dumps(model)),
            search_j=row["fit_j"],
        )
        rows.append(row)
    return rows


def flaml_row(X_tr, y_tr, X_te, y_te, X_ref, meter, budget) -> dict:
    from flaml import AutoML

    automl = AutoML()
    settings = {
        "time_budget": budget,
        "metric": "accuracy",
        "task": "classification",
        "n_jobs": 1,
        "seed": 0,
        "verbose": 0,
    }
    search = meter.measure(lambda: automl.fit(X_tr, y_tr, **settings))
    return {
        "model": f"FLAML ({automl.best_estimator})",
        "fit_j": float("nan"),  # not separable from FLAML's search
        "infer_j_per_1k": inference_j(automl.predict, X_ref, meter),
        "search_j": search.joules,
        "acc": float((automl.predict(X_te) == y_te).mean()),
        "bytes": len(pickle.dumps(automl.model)),
        "source": meter.source.value,
    }


def inference_j(predict, X_ref, meter) -> float:
    """J per 1,000 predictions of ``predict`` on the reference batch (median per call)."""
    return float(measure_predict(predict, X_ref, meter=meter).joules_per_1k_rows)


def greenauto_rows(X_tr, y_tr, X_te, y_te, X_ref, meter, budget) -> tuple[dict, list[dict]]:
    auto = GreenAutoClassifier(time_budget=budget, random_state=0)
    search = meter.measure(lambda: auto.fit(X_tr, y_tr))
    pick = {
        "model": f"greenauto default pick: {auto.best_point_.description}",
        "search_j": search.joules,
        "acc": float(auto.score(X_te, y_te)),
        "bytes": auto.model_.compiled.nbytes,
        "infer_j_per_1k": inference_j(auto.predict, X_ref, meter),
        "fit_j": auto.best_point_["fit_energy_j"],
        "source": meter.source.value,
        "trials": len(auto.study_.trials),
    }
    front = []
    X_enc_tr = auto._encode(X_tr)
    y_enc_tr = auto._label_encoder.transform(y_tr)
    for point in auto.pareto_front_:
        cand = fit_candidate(point.config, X_enc_tr, y_enc_tr, random_state=0)
        predict = lambda X, c=cand: auto.classes_.take(c.predict_codes(auto._encode(X)))  # noqa: E731
        front.append(
            {
                "trial": point.trial,
                "acc": float((predict(X_te) == y_te).mean()),
                "infer_j_per_1k": inference_j(predict, X_ref, meter),
            }
        )
    return pick, front


def run_dataset(name: str, budget: float, meter) -> tuple[list[dict], list[dict]]:
    X, y = load_csv(SHARED / f"{name}.csv.gz")
    # FLAML's LightGBM refuses JSON-special characters in names (spambase's "char_freq_;"):
    # every contender gets the same plain names
    X.columns = [
        f"f{j}_" + "".join(c if c.isalnum() else "_" for c in str(n))
        for j, n in enumerate(X.columns)
    ]
    for col in X.select_dtypes(exclude=["number", "bool"]).columns:
        X[col] = X[col].astype("category")  # FLAML and LightGBM want category dtype
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    X_ref = X_te.iloc[:REF_ROWS]
    rows = baselines(X_tr, y_tr, X_te, y_te, X_ref, meter)
    rows.append(flaml_row(X_tr, y_tr, X_te, y_te, X_ref, meter, budget))
    pick, front = greenauto_rows(X_tr, y_tr, X_te, y_te, X_ref, meter, budget)
    rows.append(pick)
    for r in rows:
        r["dataset"] = name
        r["dominated_by_front"] = any(
            f["acc"] >= r["acc"] - 1e-9 and f["infer_j_per_1k"] <= r["infer_j_per_1k"]
            for f in front
        )
    return rows, front


def table(rows: list[dict]) -> str:
    out = [
        "| dataset | model | test acc | fit J | J / 1k pred | model bytes | search J "
        "| matched or dominated by a front point |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['dataset']} | {r['model'][:90]} | {r['acc']:.4f} | {r['fit_j']:.3g} | "
            f"{r['infer_j_per_1k']:.3g} | {r['bytes']:,} | {r['search_j']:.3g} | "
            f"{'yes' if r['dominated_by_front'] else 'no'} |"
        )
    return "\n".join(out)


def summary(rows: list[dict]) -> str:
    by = {}
    for r in rows:
        by.setdefault(r["dataset"], {})[
            "flaml"
            if r["model"].startswith("FLAML")
            else "ga"
            if r["model"].startswith("greenauto")
            else r["model"]
        ] = r
    gaps = [100 * (d["ga"]["acc"] - d["flaml"]["acc"]) for d in by.values()]
    ratios = [d["flaml"]["infer_j_per_1k"] / d["ga"]["infer_j_per_1k"] for d in by.values()]
    base = [r for r in rows if not r["model"].startswith(("greenauto", "FLAML"))]
    lines = [
        "",
        f"- accuracy of the default pick minus FLAML's, per dataset (points): "
        f"{', '.join(f'{g:+.2f}' for g in gaps)}; median {statistics.median(gaps):+.2f} "
        "(goal: >= -0.5)",
        f"- FLAML's inference energy / the default pick's, per dataset: "
        f"{', '.join(f'{x:.1f}x' for x in ratios)}; median {statistics.median(ratios):.1f}x "
        "(goal: >= 5x)",
        f"- baselines matched or dominated by a front point: "
        f"{sum(r['dominated_by_front'] for r in base)} of {len(base)}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    args = parser.parse_args()
    meter = default_meter()
    rows = []
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        for name in args.datasets:
            got, _front = run_dataset(name, args.budget, meter)
            rows += got
            print(table(got), flush=True)
    body = (
        f"Budget {args.budget:g} s per search, 1 thread, stratified 75/25 split (seed 0). "
        f"Energy: {meter.source.value} ({meter.detail}); inference on the same "
        f"{REF_ROWS} test rows, end-to-end predict from the DataFrame, median per call. "
        "Model bytes: greenauto's compiled arrays; others: pickle size. FLAML's fit J is "
        "not separable from its search.\n\n" + table(rows) + "\n" + summary(rows)
    )
    print(summary(rows))
    path = write_results(
        "bench_search",
        "Search: greenauto vs FLAML and plain baselines",
        body,
        ["greenauto", "flaml", "lightgbm", "scikit-learn", "optuna"],
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
