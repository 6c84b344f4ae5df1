"""Helpers of the worker tests: real worker processes, real storages, a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import psutil
import pytest

from greenauto.results import TrialRecord
from greenauto.search import resolve_storage

#: The server `.ci/postgres.sh` (``make postgres``) starts, unless the environment names one.
DEFAULT_POSTGRES = "postgresql://greenauto:greenauto@localhost:5432/greenauto_test"
#: Worker processes started by the tests (killed after each test if still running).
STARTED: list[subprocess.Popen[str]] = []
#: Flags of the worker command every test uses: a deterministic meter, quiet output.
QUIET_MODEL = ("--energy-meter", "model", "--quiet")


def postgres_url() -> str:
    """The URL of a reachable PostgreSQL server, else a skip (a failure in CI)."""
    url = os.environ.get("GREENAUTO_TEST_POSTGRES", DEFAULT_POSTGRES)
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        shown = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        why = f"no PostgreSQL server reachable at {shown} ({type(exc).__name__}: {exc})"
        if os.environ.get("GREENAUTO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{why}; GREENAUTO_REQUIRE_POSTGRES=1 forbids skipping (CI)")
        pytest.skip(f"{why}: start one with `make postgres` (CI always runs this part)")
    return url


def storage_for(kind: str, tmp_path: Path) -> str:
    """A storage setting of ``kind``: a journal file, an SQLite URL or the PostgreSQL URL."""
    if kind == "journal":
        return str(tmp_path / "study.journal")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    assert kind == "postgresql"
    return postgres_url()


def poll_storage(storage: str) -> optuna.storages.BaseStorage:
    """The storage as the test reads it: SQLite readers give up after 2 s (a frozen worker
    may hold its lock), instead of 60."""
    if storage.startswith("sqlite"):
        return optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 2}})
    return resolve_storage(storage)


def start_worker(
    storage: str, study: str, *args: str, cwd: Path, data: str = "breast_cancer_wisconsin"
) -> subprocess.Popen[str]:
    """``greenauto worker DATA`` in its own process (the installed package: ``cwd`` is a
    temporary folder)."""
    command = ["worker", data, "--storage", storage, "--study", study]
    process = subprocess.Popen(
        [sys.executable, "-m", "greenauto", *command, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(process)
    return process


def stop_leftovers() -> None:
    """Kill the worker processes a failed test left running."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    """Wait for a worker; its exit code, stdout and stderr."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def worker_of(process: subprocess.Popen[Any]) -> str:
    """The worker id a process's trials carry."""
    return f"{socket.gethostname()}:{process.pid}"


def load(storage: str | optuna.storages.BaseStorage, study: str) -> optuna.Study:
    """The study as another process sees it (its own connection to the storage)."""
    return optuna.load_study(study_name=study, storage=resolve_storage(storage))


def records(storage: str | optuna.storages.BaseStorage, study: str) -> list[TrialRecord]:
    """Every trial of the study, decoded; [] while the study does not exist yet."""
    try:
        found = load(storage, study)
    except KeyError:
        return []
    return [TrialRecord.from_trial(t) for t in found.get_trials()]


def pool_workers() -> list[tuple[psutil.Process, dict[str, str]]]:
    """This process's live pool-worker children, each with its environment.

    A worker may end between ``children()`` and the reads of its command line and
    environment; an ended (or zombie, not yet reaped) worker is left out, not an error.
    """
    found = []
    for child in psutil.Process().children():
        try:
            if "worker_main" in " ".join(child.cmdline()):
                found.append((child, child.environ()))
        except psutil.NoSuchProcess:  # ZombieProcess is one
            continue
    return found


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 120, every: float = 0.02, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` s."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        found = condition()
        if found is not None and found is not False:
            return found
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")


def running_trial(
    storage: optuna.storages.BaseStorage, study: str, worker: str, *, done_before: int = 1
) -> int | None:
    """A RUNNING trial of ``worker`` that has drawn its parameters, once the study holds
    ``done_before`` completed trials; else None."""
    found = records(storage, study)
    if sum(r.state == "COMPLETE" for r in found) < done_before:
        return None
    for r in found:
        if r.state == "RUNNING" and r.worker == worker and r.params:
            return r.number
    return None


def kill_mid_trial(
    pid: int, storage: optuna.storages.BaseStorage, study: str, *, done_before: int = 2
) -> int:
    """SIGKILL worker process ``pid`` in the middle of a trial; returns the trial's number.

    The process is frozen (SIGSTOP) first and killed only if its trial is still RUNNING in
    the storage, so the kill cannot land between two trials; else it is thawed and the
    next trial is tried.
    """
    worker = f"{socket.gethostname()}:{pid}"

    def frozen_mid_trial() -> int | None:
        number = running_trial(storage, study, worker, done_before=done_before)
        if number is None:
            return None
        os.kill(pid, signal.SIGSTOP)
        try:
            state = {r.number: r.state for r in records(storage, study)}[number]
        except optuna.exceptions.StorageInternalError:  # frozen holding SQLite's lock
            state = "locked"
        if state == "RUNNING":
            os.kill(pid, signal.SIGKILL)
            return number
        os.kill(pid, signal.SIGCONT)
        return None

    return wait_for(frozen_mid_trial, what=f"a running trial of worker {worker}")


def front_from_storage(found: list[TrialRecord], objectives: list[tuple[str, bool]]) -> set[int]:
    """The trial numbers on the Pareto front of the completed trials, by brute force."""
    done = [r for r in found if r.complete]
    values = np.array([[(-1 if up else 1) * r.metrics[m] for m, up in objectives] for r in done])
    front = set()
    for i, r in enumerate(done):
        others = np.delete(values, i, axis=0)
        dominated = np.any(
            np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1)
        )
        if not dominated:
            front.add(r.number)
    return front


def ctrl_c_after(
    command: list[str], marker: str, *, cwd: Path, stream: str = "stdout"
) -> tuple[int, str, str]:
    """Run ``command`` in its own process group and, once a line of ``stream`` starts with
    ``marker``, send the group SIGINT (what a terminal's Ctrl-C does); wait for the end.

    Returns the exit code, stdout and stderr (the lines read before the signal included).
    """
    pipe = subprocess.PIPE
    process = subprocess.Popen(
        command, cwd=cwd, stdout=pipe, stderr=pipe, text=True, start_new_session=True
    )
    watched = process.stdout if stream == "stdout" else process.stderr
    assert watched is not None
    seen = []
    for line in watched:
        seen.append(line)
        if line.startswith(marker):
            break
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=300)
    if stream == "stdout":
        out = "".join(seen) + out
    else:
        err = "".join(seen) + err
    return process.returncode, out, err
