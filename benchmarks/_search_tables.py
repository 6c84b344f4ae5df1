"""Tables and goals of ``bench_search.py``, computed from its raw rows (the JSON file).

Kept apart from the runner so that ``bench_search.py --from-json`` can rewrite the results
without rerunning anything.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

#: Goals of issue 14 for the default pick against the most accurate other contender.
GAP_MEDIAN, GAP_WORST = -0.5, -1.0  # accuracy points
INFER_RATIO = 0.1  # pick's J per 1,000 predictions / that contender's
SEARCH_RATIO = 0.25  # greenauto's search J / FLAML's
SPREAD = 1.0  # points: the pick's test accuracy across seeds
PICK = "greenauto default pick: "
OTHERS = ("flaml", "lightgbm", "random_forest", "vote")
NAMES = {
    "flaml": "FLAML",
    "lightgbm": "LightGBM",
    "random_forest": "RandomForest",
    "vote": "DT+GNB+KNN vote",
}


def by_contender(run: dict) -> dict[str, dict]:
    return {r["contender"]: r for r in run["rows"]}


def compare(run: dict) -> dict[str, Any]:
    """The pick against the most accurate other contender on test (a tie goes to the one
    with less inference energy: the harder opponent) and against FLAML's search."""
    rows = by_contender(run)
    ga = rows["greenauto"]
    best = min((rows[k] for k in OTHERS), key=lambda r: (-r["acc"], r["infer_j_per_1k"]))
    return {
        "dataset": run["dataset"],
        "seed": run["seed"],
        "best": best,
        "gap": 100 * (ga["acc"] - best["acc"]),
        "infer_ratio": ga["infer_j_per_1k"] / best["infer_j_per_1k"],
        "search_ratio": ga["search_j"] / rows["flaml"]["search_j"],
        "pick": ga,
    }


def _fmt(x: float | None, spec: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def contender_table(runs: list[dict]) -> str:
    out = [
        "| dataset | seed | model | test acc | fit J | J / 1k pred | model bytes | search J "
        "| matched or dominated by a front point |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for r in run["rows"]:
            out.append(
                f"| {run['dataset']} | {run['seed']} | {r['model'][:90]} | {r['acc']:.4f} | "
                f"{_fmt(r['fit_j'])} | {r['infer_j_per_1k']:.3g} | {r['bytes']:,} | "
                f"{r['search_j']:.3g} | {_dominated(r)} |"
            )
    return "\n".join(out)


def _dominated(row: dict) -> str:
    if row["contender"] == "greenauto":
        return "(the pick is a front point)"
    return "yes" if row["dominated_by_front"] else "no"


def comparison_table(comps: list[dict]) -> str:
    out = [
        "| dataset | seed | most accurate other contender (acc) | pick acc | gap (points) "
        "| inference J ratio | search J: greenauto / FLAML | ratio |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for c in comps:
        out.append(
            f"| {c['dataset']} | {c['seed']} | {c['best']['model']} ({c['best']['acc']:.4f}) | "
            f"{c['pick']['acc']:.4f} | {c['gap']:+.2f} | {c['infer_ratio']:.3f} | "
            f"{c['pick']['search_j']:.0f} / {c['search_flaml']:.0f} | {c['search_ratio']:.2f} |"
        )
    return "\n".join(out)


def _goal_line(comps: list[dict], label: str) -> list[str]:
    """The three goals over ``comps`` (one entry per dataset), median and worst dataset."""
    gaps = [(c["gap"], c["dataset"]) for c in comps]
    infer = [(c["infer_ratio"], c["dataset"]) for c in comps]
    search = [(c["search_ratio"], c["dataset"]) for c in comps]
    med_gap = statistics.median(g for g, _ in gaps)
    worst_gap = min(gaps)
    med_inf, worst_inf = statistics.median(x for x, _ in infer), max(infer)
    med_s, worst_s = statistics.median(x for x, _ in search), max(search)

    def state(ok: bool) -> str:
        return "reached" if ok else "**not reached**"

    return [
        f"| {label} | gap median {med_gap:+.2f} (>= {GAP_MEDIAN}: "
        f"{state(med_gap >= GAP_MEDIAN)}); worst {worst_gap[0]:+.2f} on {worst_gap[1]} "
        f"(>= {GAP_WORST}: {state(worst_gap[0] >= GAP_WORST)}) "
        f"| median {med_inf:.3f}x (<= {INFER_RATIO}: {state(med_inf <= INFER_RATIO)}); "
        f"worst {worst_inf[0]:.3f}x on {worst_inf[1]} "
        f"| median {med_s:.2f}x (<= {SEARCH_RATIO}: {state(med_s <= SEARCH_RATIO)}); "
        f"worst {worst_s[0]:.2f}x on {worst_s[1]} |"
    ]


def goals(comps: list[dict]) -> str:
    """Per seed (one whole benchmark each), and over seeds (per dataset, the median)."""
    out = [
        "| run | accuracy gap to the most accurate contender (points) "
        "| inference energy / that contender's | search energy / FLAML's |",
        "|---|---|---|---|",
    ]
    seeds = sorted({c["seed"] for c in comps})
    for seed in seeds:
        out += _goal_line([c for c in comps if c["seed"] == seed], f"seed {seed}")
    if len(seeds) > 1:
        per: dict[str, list[dict]] = defaultdict(list)
        for c in comps:
            per[c["dataset"]].append(c)
        pooled = [
            {
                "dataset": name,
                **{
                    k: statistics.median(c[k] for c in cs)
                    for k in ("gap", "infer_ratio", "search_ratio")
                },
            }
            for name, cs in per.items()
        ]
        out += _goal_line(pooled, "all seeds (per dataset: median over seeds)")
    return "\n".join(out)


def search_table(runs: list[dict]) -> str:
    out = [
        "| dataset | seed | trials sampled | + prefix variants | failed / pruned "
        "| stopped because | energy the stop saved (J) | search s | front points (ensembles) "
        "| students tried / on front | pick |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        s, pick = run["search"], by_contender(run)["greenauto"]
        states = s["states"]
        out.append(
            f"| {run['dataset']} | {run['seed']} | {s['trials_sampled']} | {s['variants']} | "
            f"{states.get('FAIL', 0)} / {states.get('PRUNED', 0)} | {s['stop_reason']} | "
            f"{_fmt(s['energy_saved_j'], '.0f')} | {_fmt(s['wall_s'], '.0f')} | "
            f"{s['front_size']} ({s['front_ensembles']}) | {s['students_tried']} / "
            f"{s['students_on_front']} | {pick['model'].removeprefix(PICK)} |"
        )
    return "\n".join(out)


def dominance_table(runs: list[dict]) -> tuple[str, str]:
    """Which contenders some refitted front point matches or dominates on test (accuracy >=
    and inference energy <=), and the count."""
    out = [
        "| dataset | seed | " + " | ".join(NAMES[k] for k in OTHERS) + " | front points not "
        "refitted |",
        "|---|---:|" + "---|" * len(OTHERS) + "---|",
    ]
    hit = total = 0
    for run in runs:
        rows = by_contender(run)
        cells = []
        for k in OTHERS:
            cells.append("yes" if rows[k]["dominated_by_front"] else "no")
            hit, total = hit + rows[k]["dominated_by_front"], total + 1
        failed = [f"trial {f['trial']}: {f['error'][:60]}" for f in run["front"] if "error" in f]
        out.append(
            f"| {run['dataset']} | {run['seed']} | " + " | ".join(cells) + f" | "
            f"{'; '.join(failed) or 'none'} |"
        )
    return "\n".join(out), f"{hit} of {total}"


def stability(comps: list[dict], runs: list[dict]) -> str:
    """Per dataset across seeds: the pick's test accuracy and gap, their spreads, the kinds."""
    per: dict[str, list[dict]] = defaultdict(list)
    for c in comps:
        per[c["dataset"]].append(c)
    if max(len(cs) for cs in per.values()) < 2:
        return "One seed only: run with `--seeds 0 1 2` for the spread across seeds."
    test_rows = {r["dataset"]: r["test_rows"] for r in runs}
    out = [
        "| dataset | test rows (1 row = points) | pick acc per seed | spread (points) "
        f"| <= {SPREAD}? | gap per seed | gap spread | pick kind per seed |",
        "|---|---:|---|---:|---|---|---:|---|",
    ]
    spreads = []
    for name, cs in per.items():
        cs = sorted(cs, key=lambda c: c["seed"])
        accs = [100 * c["pick"]["acc"] for c in cs]
        gaps = [c["gap"] for c in cs]
        spread = max(accs) - min(accs)
        spreads.append((spread, name))
        n = test_rows[name]
        out.append(
            f"| {name} | {n} ({100 / n:.2f}) | {', '.join(f'{a:.2f}' for a in accs)} | "
            f"{spread:.2f} | {'yes' if spread <= SPREAD else '**no**'} | "
            f"{', '.join(f'{g:+.2f}' for g in gaps)} | {max(gaps) - min(gaps):.2f} | "
            f"{'; '.join(c['pick'].get('kind', '?') for c in cs)} |"
        )
    ok = sum(s <= SPREAD for s, _ in spreads)
    worst = max(spreads)
    out += [
        "",
        f"- the pick's test accuracy varies by <= {SPREAD} point across seeds on {ok} of "
        f"{len(spreads)} datasets (goal: all); median spread "
        f"{statistics.median(s for s, _ in spreads):.2f}, worst {worst[0]:.2f} on {worst[1]}.",
        "- each seed draws its own 75/25 split, so part of the spread is the split's: "
        "the gap's spread (the pick against the best contender on the same split) "
        "removes most of it.",
    ]
    return "\n".join(out)


def students(runs: list[dict]) -> str:
    on_front = sum(r["search"]["students_on_front"] for r in runs)
    points = sum(r["search"]["front_size"] for r in runs)
    tried = sum(r["search"]["students_tried"] for r in runs)
    picked = sum(bool(by_contender(r)["greenauto"].get("distilled")) for r in runs)
    return (
        f'- distilled students (a description with "distilled", or a `student_of`-style '
        f"attribute): {tried} completed trials; {on_front} of {points} front points over "
        f"{len(runs)} runs; the default pick {picked} times."
    )


def header(meta: dict, runs: list[dict]) -> str:
    full = meta["full"]
    datasets = sorted({r["dataset"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    budgets = sorted({r["budget"] for r in runs})
    loads = [x for r in runs for x in r["load"]]
    partial = (
        set(datasets) != set(full["datasets"])
        or seeds != sorted(full["seeds"])
        or budgets != [full["budget"]]
    )
    note = (
        "**Preliminary: not the full configuration** "
        f"({len(full['datasets'])} datasets x seeds {full['seeds']}, {full['budget']:g} s); "
        if partial
        else ""
    )
    if max(loads, default=0.0) > 1.5:
        note += (
            f"**taken on a loaded machine** (1-min load average {min(loads):.1f} to "
            f"{max(loads):.1f} on 2 cores during the runs: CPU-time energy is inflated by "
            "contention, time budgets buy fewer trials). "
        )
    hours = sum(r["wall_s"] for r in runs) / 3600
    split_seeds = sorted({r.get("split_seed", 0) for r in runs})
    return (
        f"{note}\n\nDatasets: {', '.join(datasets)}; seeds {seeds}; time budget "
        f"{', '.join(f'{b:g}' for b in budgets)} s per search (greenauto and FLAML), 1 thread; "
        f"one stratified 75/25 split for every seed (split seed "
        f"{', '.join(str(k) for k in split_seeds)}): the seeds vary the searches (greenauto's "
        "`random_state`, FLAML's `seed`), so the spread below is run-to-run. Energy: "
        f"{meta['meter']}, the same meter for every contender. Inference: the same "
        f"{meta['ref_rows']} test rows for every model (a smaller test split is repeated in "
        "order to that size), end-to-end predict from the DataFrame, median per call. Fit J: "
        "one fit on the training split (greenauto: its pick refitted with `use_point`); "
        "FLAML's fit is not separable from its search. Search J: what the whole `fit` "
        "measured. Model bytes: greenauto's compiled arrays; others: pickle size. Front "
        "points are refitted on the training split and measured the same way. Wall time of "
        f"all runs: {hours:.2f} h ({len(runs)} dataset x seed runs)."
    )


def render(meta: dict, runs: list[dict]) -> str:
    """The whole results body (below the standard header)."""
    comps = []
    for run in runs:
        c = compare(run)
        c["search_flaml"] = by_contender(run)["flaml"]["search_j"]
        comps.append(c)
    dom, dom_count = dominance_table(runs)
    parts = [
        header(meta, runs),
        "## Goals (issue 14)",
        goals(comps),
        "Goals not reached are reported as reached so far.",
        "## Per dataset: the default pick against the most accurate other contender",
        comparison_table(comps),
        "## The searches: trials, why they stopped, what the stop saved",
        "`energy the stop saved` is greenauto's own estimate from its trial rate "
        "(`search_result_.totals.energy_saved_j`; '-' when the search did not stop early).",
        search_table(runs),
        students(runs),
        "## Does a front point match or dominate each contender on test?",
        dom,
        f"- contenders matched or dominated by a front point: {dom_count}",
        "## Stability across seeds",
        stability(comps, runs),
        "## Every contender",
        contender_table(runs),
    ]
    return "\n\n".join(parts)
