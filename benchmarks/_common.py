"""Shared helpers for the benchmark scripts: timing medians and the results file header.

Every benchmark prints its table and writes it to ``benchmarks/results/NAME.md`` together with
the date, the machine (CPU model, cores) and the library versions, so that the README can quote
it and anyone can rerun it.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """CPU model name as the kernel reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed version of each package, or ``"not installed"``."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Median wall time of one call of ``fn``: one warm-up, then ``repeat`` timed rounds.

    Each round runs ``fn`` enough times to last at least ``min_time / repeat`` seconds, so
    that short calls are not dominated by timer resolution.
    """
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-9)
    number = max(1, int(min_time / repeat / once))
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def write_results(name: str, title: str, body: str, packages: Iterable[str]) -> Path:
    """Write ``benchmarks/results/NAME.md`` with the standard header and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    vers = versions(packages)
    header = [
        f"# {title}",
        "",
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} "
        f"{platform.release()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- command: `python benchmarks/{name}.py`",
        "",
        "",
    ]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(header) + body.rstrip() + "\n", encoding="utf-8")
    return path
