"""One search on 1 or 2 worker processes, on SQLite, a journal file and PostgreSQL.

For each dataset, storage and worker count, ``GreenAutoClassifier(time_budget=B,
n_workers=k, storage=..., n_iter_no_change=None)`` runs on the whole dataset (no stopping
rule: the budget is spent, so throughput is comparable) with the default (cpu-time, calibrated)
meter, ``--repeats`` times with seeds 0, 1, ... In the same run, side by side:

- trials per minute: finished trials the search ran (not the cheaper variants a trial adds) /
  the fit's time budget (so the start-up of the worker processes and the refit count against
  the workers);
- hypervolume of the front after that fixed time: (1 - validation score, log10 J per 1,000
  predictions), reference (1, 0.1 + the largest log10 front energy of any run on the dataset);
- J per trial: median energy one trial spent by its own process's meter (parallel workers must
  not change it much: CPU time is per process).

Ratios are of medians over the repeats (2 workers / 1 worker); the worst dataset is given beside
the median. PostgreSQL: ``GREENAUTO_TEST_POSTGRES`` or the server ``make postgres`` starts;
skipped (and said so) when none is reachable. The load average is written down: on a shared
machine the figures are preliminary.

Run: ``python benchmarks/bench_workers.py [--budget 30] [--repeats 2] [--datasets ...]
[--storages sqlite journal postgresql]``. Writes benchmarks/results/bench_workers.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset
from greenauto.pareto import hypervolume_2d

POSTGRES = "postgresql://greenauto:greenauto@localhost:5432/greenauto_test"
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def postgres_url() -> str | None:
    """The PostgreSQL URL when a server answers (Optuna can open its storage), else None."""
    url = os.environ.get("GREENAUTO_TEST_POSTGRES", POSTGRES)
    try:
        optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"connect_timeout": 3}})
    except Exception as exc:
        print(f"PostgreSQL not measured: {type(exc).__name__}: {exc}", flush=True)
        return None
    return url


def storage_of(kind: str, folder: Path, pg: str | None) -> str:
    name = uuid.uuid4().hex[:8]
    if kind == "sqlite":
        return f"sqlite:///{folder / f'{name}.db'}"
    if kind == "journal":
        return str(folder / f"{name}.journal")
    assert pg is not None
    return pg


def one_run(X, y, *, storage: str, workers: int, budget: float, seed: int) -> dict:
    study = f"bench-{uuid.uuid4().hex[:10]}"
    auto = GreenAutoClassifier(
        time_budget=budget, n_workers=workers, storage=storage, study_name=study,
        random_state=seed, n_iter_no_change=None,  # throughput over the whole budget
    ).fit(X, y)  # fmt: skip
    result = auto.search_result_
    # the trials the search ran, not the cheaper variants (prefixes) a trial adds
    done = [r for r in result.trials if r.state in FINISHED and r.sampled]
    front = np.array(
        [[1.0 - p["score"], np.log10(p["inference_energy_j_per_1k"])] for p in auto.pareto_front_]
    )
    spent = [r.spent_j for r in done if r.spent_j is not None]
    if storage.startswith("postgresql"):  # keep the shared database small
        optuna.delete_study(study_name=study, storage=storage)
    return {
        "per_minute": len(done) / budget * 60.0,
        "front": front,
        "j_per_trial": statistics.median(spent) if spent else float("nan"),
        "search_j": result.totals.energy_j,
    }


def ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=["spambase", "magic", "car_evaluation"])
    parser.add_argument(
        "--storages", nargs="+", default=["sqlite", "journal", "postgresql"],
        choices=["sqlite", "journal", "postgresql"],
    )  # fmt: skip
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    pg = postgres_url() if "postgresql" in args.storages else None
    storages = [s for s in args.storages if s != "postgresql" or pg is not None]
    rows, summary = [], {s: {"tpm": [], "hv": [], "j": []} for s in storages}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            X, y = load_dataset(name)
            runs: dict[tuple[str, int], list[dict]] = {}
            for kind in storages:
                for workers in (1, 2):
                    for seed in range(args.repeats):
                        storage = storage_of(kind, Path(tmp), pg)
                        run = one_run(X, y, storage=storage, workers=workers,
                                      budget=args.budget, seed=seed)  # fmt: skip
                        runs.setdefault((kind, workers), []).append(run)
                        print(name, kind, workers, seed, f"{run['per_minute']:.1f} trials/min",
                              flush=True)  # fmt: skip
            ref = (1.0, 0.1 + max(r["front"][:, 1].max() for rs in runs.values() for r in rs))
            for kind in storages:
                one, two = runs[(kind, 1)], runs[(kind, 2)]
                tpm = [[r["per_minute"] for r in rs] for rs in (one, two)]
                hv = [[hypervolume_2d(r["front"], ref) for r in rs] for rs in (one, two)]
                jpt = [[r["j_per_trial"] for r in rs] for rs in (one, two)]
                cells = [
                    f"{statistics.median(tpm[0]):.1f}", f"{statistics.median(tpm[1]):.1f}",
                    f"{ratio(tpm[1], tpm[0]):.2f}",
                    f"{statistics.median(hv[0]):.4g}", f"{statistics.median(hv[1]):.4g}",
                    f"{ratio(hv[1], hv[0]):.3f}", f"{ratio(jpt[1], jpt[0]):.2f}",
                ]  # fmt: skip
                rows.append(f"| {name} | {kind} | " + " | ".join(cells) + " |")
                summary[kind]["tpm"].append(ratio(tpm[1], tpm[0]))
                summary[kind]["hv"].append(ratio(hv[1], hv[0]))
                summary[kind]["j"].append(ratio(jpt[1], jpt[0]))
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        f"Fit time budget {args.budget:g} s per search, seeds 0..{args.repeats - 1}, default "
        "cpu-time meter (codecarbon TDP estimate on these VMs: an estimate, not a measurement), "
        '`validation="auto"`, whole dataset. Trials per minute = finished trials / fit budget '
        "(worker start-up and refit included). Hypervolume of (1 - validation score, log10 J "
        "per 1,000 predictions), reference (1, 0.1 + the largest log10 front energy of any run "
        "on the dataset). Ratios are of medians, 2 workers / 1 worker. Load average (1, 5, 15 "
        f"min) before: {' '.join(load_before)}, after: {' '.join(load_after)} on 2 cores ("
        + (
            "a machine shared with other jobs: preliminary figures)."
            if float(load_before[0]) > 1.0
            else "quiet before the run; its own 2-worker searches load both cores)."
        ),
        "",
        "| dataset | storage | trials/min, 1 worker | 2 workers | ratio | hypervolume, 1 "
        "worker | 2 workers | ratio | J per trial ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Over datasets: median (worst) of the 2-worker / 1-worker ratios.",
        "",
        "| storage | trials/min | hypervolume | J per trial |",
        "|---|---:|---:|---:|",
    ]
    for kind in storages:
        s = summary[kind]
        lines.append(
            f"| {kind} | {statistics.median(s['tpm']):.2f} ({min(s['tpm']):.2f}) | "
            f"{statistics.median(s['hv']):.3f} ({min(s['hv']):.3f}) | "
            f"{statistics.median(s['j']):.2f} ({max(s['j']):.2f}) |"
        )
    if pg is None and "postgresql" in args.storages:
        lines += ["", "PostgreSQL: no server reachable, not measured (run `make postgres`)."]
    body = "\n".join(lines) + "\n"
    print(body)
    write_results(
        "bench_workers",
        "Workers: 1 vs 2 processes on SQLite, a journal file and PostgreSQL",
        body,
        ["greenauto", "optuna", "sqlalchemy", "psycopg", "scikit-learn", "lightgbm"],
    )


if __name__ == "__main__":
    main()
