"""Main job: a green AutoML search on a bundled dataset; prints the Pareto front of accuracy
against measured energy and the default pick.

Run: ``make demo`` (sets everything up), or
``python examples/search_demo.py [DATASET] [TIME_BUDGET_SECONDS]``.
"""

from __future__ import annotations

import sys

from sklearn.model_selection import train_test_split

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset


def main(name: str = "spambase", budget: str = "60") -> None:
    X, y = load_dataset(name)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    print(
        f"{name}: {len(X_train):,} training rows, {X.shape[1]} columns, "
        f"{y.nunique()} classes; searching for {budget} s ...",
        flush=True,
    )
    auto = GreenAutoClassifier(time_budget=float(budget), random_state=0).fit(X_train, y_train)

    front = auto.pareto_front_
    source = front.default.energy_source
    print(f"\nPareto front ({len(front)} of {len(auto.study_.trials)} trials; energy: {source})")
    print(f"{'trial':>5}  {'val acc':>7}  {'J / 1k pred':>11}  {'fit J':>8}  pipeline")
    for p in front:
        mark = "*" if p == auto.best_point_ else " "
        print(
            f"{p.trial:>5}{mark} {p['score']:7.4f}  {p['inference_energy_j_per_1k']:11.3g}  "
            f"{p['fit_energy_j']:8.3g}  {p.description}"
        )
    best, pick = front.best, auto.best_point_
    ratio = best["inference_energy_j_per_1k"] / pick["inference_energy_j_per_1k"]
    print(
        f"\n* default pick: {ratio:.1f}x less energy per prediction than the most accurate "
        f"point for {100 * (best['score'] - pick['score']):.2f} points of validation accuracy"
    )
    print(
        f"  test accuracy of the pick (refitted on all training rows): "
        f"{auto.score(X_test, y_test):.4f}"
    )
    print(
        f"  search: {auto.search_seconds_:.0f} s, {auto.search_energy_.joules:.3g} J "
        f"({auto.search_energy_.source.value})"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
