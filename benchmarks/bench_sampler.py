"""Which Optuna sampler drives the search: multivariate TPE, NSGA-II or random.

Same datasets, same trial count, several seeds, under the deterministic operation-count meter
(so energy and scores do not depend on machine noise): hypervolume of the (1 - score, J per
1,000 predictions) front after N trials, against a reference point shared by all runs of a
dataset. Median over seeds; higher is better. Writes benchmarks/results/bench_sampler.md.

Run: ``python benchmarks/bench_sampler.py [--trials 40] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset
from greenauto.pareto import hypervolume_2d

SAMPLERS = ("tpe", "nsga2", "random")


def front_values(auto: GreenAutoClassifier) -> np.ndarray:
    """(1 - score, log10 J per 1,000 predictions) of every front point: energies span orders
    of magnitude, so the hypervolume is taken on a log energy axis."""
    return np.array(
        [[1.0 - p["score"], np.log10(p["inference_energy_j_per_1k"])] for p in auto.pareto_front_]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--datasets", nargs="+", default=["spambase", "wisdm_activity", "car_evaluation"]
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    lines = [
        f"{args.trials} trials per search, seeds 0..{args.seeds - 1}, operation-count model meter "
        '(deterministic), holdout/CV as chosen by `validation="auto"`. Hypervolume of '
        "(1 - validation accuracy, log10 J per 1,000 predictions), reference = (1, 0.1 + the "
        "largest log10 front energy of any run on that dataset). Median over seeds (min - max).",
        "",
        "| dataset | " + " | ".join(SAMPLERS) + " |",
        "|---|" + "---:|" * len(SAMPLERS),
    ]
    for name in args.datasets:
        X, y = load_dataset(name)
        fronts = {s: [] for s in SAMPLERS}
        for sampler in SAMPLERS:
            for seed in range(args.seeds):
                auto = GreenAutoClassifier(
                    time_budget=None,
                    n_trials=args.trials,
                    sampler=sampler,
                    energy_meter="model",
                    random_state=seed,
                ).fit(X, y)
                fronts[sampler].append(front_values(auto))
        ref = (1.0, 0.1 + max(f[:, 1].max() for runs in fronts.values() for f in runs))
        cells = []
        for sampler in SAMPLERS:
            hv = [hypervolume_2d(f, ref) for f in fronts[sampler]]
            cells.append(f"{statistics.median(hv):.4g} ({min(hv):.4g} - {max(hv):.4g})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    body = "\n".join(lines) + "\n"
    print(body)
    write_results(
        "bench_sampler",
        "Sampler choice: hypervolume after N trials",
        body,
        ["greenauto", "optuna", "scikit-learn", "lightgbm"],
    )


if __name__ == "__main__":
    main()
