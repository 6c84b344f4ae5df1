"""Shared helpers for the benchmark scripts: timing medians and the results file header.

Every benchmark prints its table and writes it to ``benchmarks/results/NAME.md`` together with
the date, the machine (CPU model, cores) and the library versions, so that the README can quote
it and anyone can rerun it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """CPU model name as the kernel reports it, with the x86 family and model numbers (a VM
    may name only the vendor's line: "AMD EPYC" family 25 is Zen 3 / Zen 4, 26 is Zen 5)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
            if not line.strip():
                break  # the first processor is enough
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


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


#: Seconds between two runtimes' rounds: thread pools (OpenMP, ONNX Runtime) spin a while after
#: a call, and would take the cores of the next runtime's 2-thread round.
PAUSE = 0.05


def interleaved_seconds(
    calls: dict[str, Callable[[], object]], repeat: int = 7, min_time: float = 0.3
) -> dict[str, float]:
    """Median seconds per call of each runtime, the runtimes timed in alternation (round k of
    every runtime before round k + 1 of any), so that a machine whose speed drifts over a
    run (a shared VM) shifts all of them alike and their ratio holds; a pause of ``PAUSE``
    s before each round. A round lasts about ``min_time / repeat`` s (several calls for fast
    ones); a call slower than 50 ms is one round of one call, in ``max(3, repeat // 2)``
    rounds."""
    number: dict[str, int] = {}
    slow = False
    for runtime, call in calls.items():
        call()  # warm-up
        t0 = time.perf_counter()
        call()
        once = max(time.perf_counter() - t0, 1e-9)
        number[runtime] = max(1, int(min_time / repeat / once))
        slow |= once > 0.05
    rounds: dict[str, list[float]] = {runtime: [] for runtime in calls}
    for _ in range(max(3, repeat // 2) if slow else repeat):
        for runtime, call in calls.items():
            time.sleep(PAUSE)  # the previous runtime's pool threads stop spinning first
            t0 = time.perf_counter()
            for _ in range(number[runtime]):
                call()
            rounds[runtime].append((time.perf_counter() - t0) / number[runtime])
    return {runtime: statistics.median(r) for runtime, r in rounds.items()}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"0.12 0.30 0.41"`` (``"unknown"`` if the
    system does not say)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def run_info(packages: Iterable[str]) -> dict[str, object]:
    """When, where and with what a benchmark runs: date, machine, library versions and load.

    Kept beside raw results (JSON), so that tables regenerated later still say where the
    figures were taken.
    """
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} "
        f"{platform.release()}",
        "versions": versions(packages),
        "load_average": load_average(),
    }


#: Environment variables a benchmark's command line shows when they are set.
_RUN_SETTINGS = frozenset({"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"})


def write_results(
    name: str,
    title: str,
    body: str,
    packages: Iterable[str],
    *,
    path: Path | None = None,
    command: str | None = None,
    info: dict[str, object] | None = None,
) -> Path:
    """Write ``benchmarks/results/NAME.md`` (or ``path``) with the standard header and return
    its path.

    ``info`` (from `run_info`) says when and where the figures were taken; by default, now and
    here. ``command`` is the command line that produced them (default ``python
    benchmarks/NAME.py``).
    """
    info = run_info(packages) if info is None else info
    vers = dict(info["versions"])  # type: ignore[call-overload]
    if command is None:  # the settings that change what runs or how fast, as they were set
        env = [f"{k}={os.environ[k]}" for k in sorted(os.environ) if k in _RUN_SETTINGS
               or k.startswith("GREENAUTO_")]  # fmt: skip
        command = " ".join([*env, f"python benchmarks/{name}.py"])
    header = [
        f"# {title}",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['machine']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- load average (1, 5, 15 min) when written: {info['load_average']}",
        f"- command: `{command}`",
        "",
        "",
    ]
    path = RESULTS / f"{name}.md" if path is None else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + body.rstrip() + "\n", encoding="utf-8")
    return path


def save_raw(path: Path, meta: dict[str, object], runs: list[dict]) -> None:
    """Write a benchmark's raw rows and run information as JSON (atomically: a run stopped
    midway leaves the previous complete file)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1, default=float))
    tmp.replace(path)


def load_raw(path: Path) -> tuple[dict, list[dict]]:
    """The run information and raw rows `save_raw` wrote."""
    data = json.loads(Path(path).read_text())
    return data["meta"], data["runs"]


def write_from_raw(name: str, title: str, body: str, meta: dict, path: Path) -> Path:
    """`write_results` with the header of the run that produced the raw rows (its date,
    machine, versions, load and command), whenever the tables are written."""
    info = {k: meta[k] for k in ("date", "machine", "versions", "load_average")}
    return write_results(name, title, body, (), path=path, command=meta["command"], info=info)
