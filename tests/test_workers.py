"""One search across many processes: ``n_workers``, ``greenauto worker``, shared budgets, crash
recovery and Ctrl-C, on real storages (journal file, SQLite, PostgreSQL) and real processes.

The PostgreSQL cases need a server (``make postgres``, or ``GREENAUTO_TEST_POSTGRES``); they
skip, saying why, when none is reachable, except under ``GREENAUTO_REQUIRE_POSTGRES=1`` (CI),
where they fail.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest

from greenauto import GreenAutoClassifier
from greenauto.cli import main
from greenauto.datasets import load_dataset
from greenauto.results import WORKER_LOST, TrialRecord, completed_attrs, worker_attrs
from greenauto.search import resolve_storage
from greenauto.search._budget import (
    STOP_ENERGY,
    STOP_INTERRUPTED,
    RunTally,
    StudyRun,
    read_run,
    record_run,
)
from greenauto.search._pool import _fail_and_retry
from greenauto.search._study import GRACE_FACTOR, heartbeat_of
from greenauto.search._workers import STUDY_RUN_ENDED

from ._workers import (
    QUIET_MODEL,
    ctrl_c_after,
    finish,
    front_from_storage,
    kill_mid_trial,
    load,
    poll_storage,
    pool_workers,
    records,
    running_trial,
    start_worker,
    stop_leftovers,
    storage_for,
    wait_for,
    worker_of,
)

OBJECTIVES = [("score", True), ("inference_energy_j_per_1k", False)]
FINISHED = ("COMPLETE", "PRUNED", "FAIL")
FAST = ["decision_tree", "gaussian_nb"]


def auto(**kw) -> GreenAutoClassifier:
    """The settings ``greenauto worker ... --energy-meter model`` joins with (CLI defaults)."""
    params = {"time_budget": None, "energy_meter": "model", "random_state": 0}
    return GreenAutoClassifier(**{**params, **kw})


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_dataset("breast_cancer_wisconsin")


@pytest.fixture(scope="module")
def spam() -> tuple[pd.DataFrame, pd.Series]:
    return load_dataset("spambase")


@pytest.fixture(autouse=True)
def no_leftover_workers():
    yield
    stop_leftovers()


def ran(found) -> list[TrialRecord]:
    """The finished trials a process ran (not the cheaper variants a trial adds)."""
    return [r for r in found if r.state in FINISHED and r.sampled]


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"  # PostgreSQL's database is shared by runs


def check_numbers(found: list[TrialRecord]) -> None:
    """Every trial recorded once: numbers 0..n-1, each once."""
    numbers = [r.number for r in found]
    assert numbers == list(range(len(found)))


# --------------------------------------------------------------------------- two workers
@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_two_worker_processes_share_one_study(kind, tmp_path, cancer) -> None:
    storage, name = storage_for(kind, tmp_path), unique_name("two")
    X, y = cancer
    auto(n_trials=2, storage=storage, study_name=name).fit(X, y)  # the fit that starts it
    workers = [start_worker(storage, name, "--n-trials", "4", "--energy-meter", "model",
                            cwd=tmp_path) for _ in range(2)]  # fmt: skip
    ids = [worker_of(w) for w in workers]
    for w in workers:
        code, out, err = finish(w)
        assert code == 0, err
        assert "ran 4 trial(s)" in out
    resumed = auto(n_trials=1, storage=storage, study_name=name).fit(X, y)

    found = records(storage, name)
    check_numbers(found)
    finished = ran(found)
    assert not [r for r in found if r.state == "RUNNING"]
    for wid in ids:  # both contributed, each trial once
        assert sum(r.worker == wid for r in finished) == 4
    assert len(finished) == 2 + 4 + 4 + 1
    assert {r.host for r in finished} == {socket.gethostname()}
    # the resumed fit's front is the front of every worker's trials, recomputed here
    expected = front_from_storage(found, OBJECTIVES)
    assert {p.trial for p in resumed.pareto_front_} == expected
    by_number = {r.number: r for r in found}
    for p in resumed.pareto_front_:
        for metric, _ in OBJECTIVES:
            assert p[metric] == by_number[p.trial].metrics[metric]
    assert {r.number for r in resumed.search_result_.trials} == {r.number for r in found}


def test_n_workers_without_storage_use_a_temporary_journal(tmp_path, monkeypatch, cancer):
    X, y = cancer
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pinned: list[dict[str, str]] = []

    def look_at_workers(record, progress) -> None:  # runs in this (the calling) process
        for _, environ in pool_workers():
            pinned.append({k: v for k, v in environ.items() if "THREADS" in k})

    est = auto(n_trials=8, learners=FAST, n_workers=2, callbacks=[look_at_workers]).fit(X, y)
    assert list(tmp_path.iterdir()) == []  # the temporary journal is gone
    result = est.search_result_
    done = ran(result.trials)
    assert 8 <= len(done) <= 9  # two workers may both start the last trial
    workers = {r.worker for r in done}  # this process and one worker process
    assert len(workers) == 2
    assert f"{socket.gethostname()}:{os.getpid()}" in workers
    assert pinned
    assert all(env.get("OMP_NUM_THREADS") == "1" for env in pinned)
    assert all(env.get("OPENBLAS_NUM_THREADS") == "1" for env in pinned)
    assert len(est.study_.trials) == len(result.trials)  # kept in memory
    assert est.score(X, y) > 0.85
    # the search's energy counts the workers' processes, not only this one
    spent = sum(r.spent_j or 0 for r in done)  # summed in another order than the total
    assert result.totals.energy_j >= spent * (1 - 1e-12)
    assert "1 worker process(es) on this machine" in result.totals.energy_detail


def test_temporary_journal_and_workers_are_gone_after_an_error(tmp_path, monkeypatch, cancer):
    X, y = cancer
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def fail_after_two(record, progress) -> None:
        if progress.finished >= 2:
            raise RuntimeError("a callback gave up")

    with pytest.raises(RuntimeError, match="a callback gave up"):
        auto(n_trials=30, learners=FAST, n_workers=2, callbacks=[fail_after_two]).fit(X, y)
    assert list(tmp_path.iterdir()) == []
    assert not pool_workers()


# --------------------------------------------------------------------------- crash recovery
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_killed_worker_trial_fails_is_retried_once_and_counted_once(kind, tmp_path) -> None:
    storage, name = storage_for(kind, tmp_path), unique_name("kill")
    poll = poll_storage(storage)
    first = start_worker(storage, name, "--n-trials", "60", "--heartbeat", "1",
                         *QUIET_MODEL, cwd=tmp_path)  # fmt: skip
    victim = kill_mid_trial(first.pid, poll, name)
    first.wait()
    before = {r.number: r for r in records(poll, name)}
    assert before[victim].state == "RUNNING"  # left so by its dead worker
    assert before[victim].spent_j is None  # it died before it could record its energy
    time.sleep(GRACE_FACTOR * 1 + 1.5)  # the heartbeat expires
    waiting = sum(r.state == "WAITING" for r in before.values())
    second = start_worker(storage, name, "--n-trials", str(waiting + 1), "--heartbeat", "1",
                          *QUIET_MODEL, cwd=tmp_path)  # fmt: skip
    code, _, err = finish(second)
    assert code == 0, err

    after = records(poll, name)
    check_numbers(after)
    now = {r.number: r for r in after}
    assert now[victim].state == "FAIL"
    assert now[victim].error == WORKER_LOST
    retries = [r for r in after if r.retry_of == victim]
    assert len(retries) == 1  # retried once
    retry = retries[0]
    assert retry.state == "COMPLETE"
    # the retry starts from what the dead trial had drawn (Optuna's retry copies it)
    assert before[victim].params.items() <= retry.params.items()
    assert retry.worker == worker_of(second)
    for number, r in before.items():  # no finished trial lost or changed
        if r.state in ("COMPLETE", "PRUNED"):
            assert now[number] == r
    same_config = [r for r in after if r.complete and r.params == retry.params]
    assert same_config == [retry]  # the killed candidate completed once, as its retry
    # counted once: not in the dead worker's run (it was retried), once in the second's
    study = load(poll, name)
    first_run = RunTally.read(study, before[victim].run)
    assert first_run.counted == sum(
        r.number != victim for r in ran(after) if r.run == before[victim].run
    )
    assert RunTally.read(study, retry.run).counted == waiting + 1


def test_a_killed_pool_worker_trial_is_failed_and_retried_by_the_fit(
    tmp_path, monkeypatch, cancer
) -> None:
    X, y = cancer
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # to find the temporary journal
    killed: dict[str, int] = {}

    def kill_one_mid_trial() -> None:
        def a_worker():
            return next((child for child, _ in pool_workers()), None)

        child = wait_for(a_worker, what="a pool worker")
        journal = wait_for(lambda: next(tmp_path.glob("greenauto-study-*/study.journal"), None))
        number = kill_mid_trial(child.pid, resolve_storage(str(journal)), "greenauto")
        killed.update(pid=child.pid, trial=number)

    killer = threading.Thread(target=kill_one_mid_trial, daemon=True)
    killer.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = auto(n_trials=10, learners=FAST, n_workers=2).fit(X, y)
    killer.join(timeout=1)
    died = [str(w.message) for w in caught if "died (signal 9)" in str(w.message)]
    assert len(died) == 1
    assert str(killed["pid"]) in died[0]
    found = list(est.search_result_.trials)  # the fit's copy of the study
    check_numbers(found)
    victim = {r.number: r for r in found}[killed["trial"]]
    assert victim.state == "FAIL"
    assert victim.error == WORKER_LOST
    retries = [r for r in found if r.retry_of == victim.number]
    assert len(retries) == 1
    assert retries[0].state == "COMPLETE"
    counted = RunTally.read(est.study_, victim.run).counted
    assert 10 <= counted <= 11  # the killed trial counts once, by its retry
    assert victim.number not in {p.trial for p in est.pareto_front_}


def test_a_dead_workers_trial_is_queued_once_not_twice(tmp_path) -> None:
    study = optuna.create_study(storage=resolve_storage(str(tmp_path / "j.journal")))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    again = _fail_and_retry(study, trial.number)
    assert again is not None
    retry = study.ask()  # the queued copy comes first
    assert retry.number == again
    assert retry.params == trial.params
    assert _fail_and_retry(study, retry.number) is None  # max_retry=1
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "FAIL"]


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_in_a_worker_loses_no_finished_trial(tmp_path, cancer) -> None:
    storage, name = str(tmp_path / "int.journal"), "int"
    poll = resolve_storage(storage)
    worker = start_worker(storage, name, "--n-trials", "80", *QUIET_MODEL, cwd=tmp_path)
    wid = worker_of(worker)
    wait_for(lambda: running_trial(poll, name, wid, done_before=3), what="a running trial")
    done = [r for r in records(poll, name) if r.state == "COMPLETE"]
    worker.send_signal(signal.SIGINT)
    code, _, err = finish(worker)
    assert code == 130
    assert "interrupted" in err
    after = {r.number: r for r in records(poll, name)}
    assert all(after[r.number] == r for r in done)
    assert not [r for r in after.values() if r.state == "RUNNING"]
    X, y = cancer  # the search resumes, with every finished trial
    resumed = auto(n_trials=1, storage=storage, study_name=name).fit(X, y)
    assert {r.number for r in done} <= {r.number for r in resumed.search_result_.trials}


def test_ctrl_c_in_fit_without_storage_keeps_the_partial_front(cancer) -> None:
    X, y = cancer

    def ctrl_c_after_three(record, progress) -> None:
        if progress.finished == 3:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted"):
        est = auto(n_trials=20, learners=FAST, callbacks=[ctrl_c_after_three]).fit(X, y)
    assert est.search_result_.totals.stop_reason == STOP_INTERRUPTED
    assert len(ran(est.search_result_.trials)) == 3
    assert len(est.pareto_front_) >= 1
    assert est.score(X, y) > 0.85


def test_ctrl_c_in_fit_with_a_storage_goes_up_and_the_search_resumes(tmp_path, cancer) -> None:
    X, y = cancer
    storage = str(tmp_path / "resume.journal")

    def ctrl_c_after_three(record, progress) -> None:
        if progress.finished == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        auto(n_trials=20, learners=FAST, storage=storage, study_name="r",
             callbacks=[ctrl_c_after_three]).fit(X, y)  # fmt: skip
    study = load(storage, "r")
    assert read_run(study).stop_reason.startswith(STUDY_RUN_ENDED)  # workers stop too
    assert len(ran(records(storage, "r"))) == 3
    again = auto(n_trials=2, learners=FAST, storage=storage, study_name="r").fit(X, y)
    assert len(ran(again.search_result_.trials)) == 5


def test_ctrl_c_in_a_fit_with_workers_keeps_the_partial_front(tmp_path) -> None:
    script = textwrap.dedent(
        """
        import warnings
        from greenauto import GreenAutoClassifier
        from greenauto.datasets import load_dataset
        X, y = load_dataset("spambase")
        def progress(record, p):
            print("trial", p.finished, flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = GreenAutoClassifier(time_budget=None, n_trials=500, energy_meter="model",
                                      random_state=0, n_workers=2, validation="holdout",
                                      callbacks=[progress]).fit(X, y)
        print("STOP", est.search_result_.totals.stop_reason)
        print("DONE", sum(r.state == "COMPLETE" for r in est.search_result_.trials))
        print("WARNED", any("interrupted" in str(w.message) for w in caught))
        """
    )
    code, out, err = ctrl_c_after([sys.executable, "-c", script], "trial 3", cwd=tmp_path)
    assert code == 0, err
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines["STOP"].strip() == STOP_INTERRUPTED
    assert int(lines["DONE"]) >= 3
    assert lines["WARNED"].strip() == "True"


# --------------------------------------------------------------------------- budgets
def test_the_energy_budget_is_the_sum_over_all_workers(cancer) -> None:
    X, y = cancer
    free = auto(n_trials=6, learners=FAST).fit(X, y)
    per_trial = np.mean([r.spent_j for r in ran(free.search_result_.trials)])
    budget = 6 * per_trial
    capped = auto(n_trials=200, learners=FAST, n_workers=2, energy_budget=budget).fit(X, y)
    result = capped.search_result_
    assert result.totals.stop_reason == STOP_ENERGY
    run = ran(result.trials)
    workers = {r.worker for r in run}
    assert len(workers) == 2
    spent = sum(r.spent_j for r in run)
    last = {w: max((r for r in run if r.worker == w), key=lambda r: r.number) for w in workers}
    assert spent >= budget  # it stopped because both workers together spent it
    assert spent - sum(r.spent_j for r in last.values()) < budget  # and not before


def test_a_worker_follows_the_time_budget_the_study_recorded(tmp_path, cancer) -> None:
    X, y = cancer
    storage = str(tmp_path / "time.journal")
    auto(n_trials=1, storage=storage, study_name="t").fit(X, y)
    study = load(storage, "t")
    assert read_run(study).stop_reason.startswith(STUDY_RUN_ENDED)
    # a worker joining a study whose search has ended has nothing to do
    assert main(["worker", "breast_cancer_wisconsin", "--storage", storage, "--study", "t",
                 *QUIET_MODEL]) == 0  # fmt: skip
    assert len(load(storage, "t").trials) == len(study.trials)
    # a fit's run whose search lasts 4 s from its recorded start: the worker stops with it
    run = StudyRun.start(seconds=4.0)
    record_run(study, run)
    started = time.perf_counter()
    assert main(["worker", "breast_cancer_wisconsin", "--storage", storage, "--study", "t",
                 *QUIET_MODEL]) == 0  # fmt: skip
    assert time.perf_counter() - started < 4.0 + 3.0  # the deadline, plus one slow trial
    mine = [r for r in records(storage, "t") if r.run == run.run_id]
    assert mine
    assert all(r.state in FINISHED for r in mine)


# --------------------------------------------------------------------------- refusals
def test_a_worker_refuses_a_study_with_other_data_or_settings(tmp_path, cancer, capsys):
    X, y = cancer
    storage = str(tmp_path / "refuse.journal")
    auto(n_trials=1, storage=storage, study_name="s").fit(X, y)
    other = tmp_path / "other.csv"
    X.assign(diagnosis=y).head(300).to_csv(other, index=False)
    cases = [
        ([str(other), "--target", "diagnosis"], "other data (data fingerprint"),
        (["breast_cancer_wisconsin", "--seed", "1"], "seed: study 0, here 1"),
        (["breast_cancer_wisconsin", "--objectives", "score", "fit_energy"], "objectives: "),
    ]
    for data, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["worker", *data, "--storage", storage, "--study", "s", "--n-trials", "1",
                  *QUIET_MODEL])  # fmt: skip
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert len(load(storage, "s").trials) >= 1  # nothing was added


# --------------------------------------------------------------------------- machines
def test_each_trial_records_its_machine_and_several_machines_are_shown(tmp_path, cancer):
    X, y = cancer
    storage = str(tmp_path / "hosts.journal")
    est = auto(n_trials=3, learners=FAST, storage=storage, study_name="h").fit(X, y)
    host = socket.gethostname()
    for r in est.search_result_.trials:  # a variant is its parent's process's
        assert (r.host, r.worker) == (host, f"{host}:{os.getpid()}")
        assert r.cpu_model
        assert r.run
    for r in ran(est.search_result_.trials):
        assert r.spent_j > 0
        assert r.metrics["trial_energy_j"] == r.spent_j
    assert len(est.search_result_.machines) == 1
    assert all(" on " not in p.energy_source for p in est.pareto_front_)
    # a trial measured on another machine joins the study (as a remote worker writes it)
    study = load(storage, "h")
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.values[0])
    record = TrialRecord.from_trial(best)
    cheaper = {**record.metrics, "inference_energy_j_per_1k": record.metrics[
        "inference_energy_j_per_1k"] / 10}  # fmt: skip
    attrs = {
        **completed_attrs(cheaper, record.description, "operation-count model"),
        **worker_attrs(host="far-away", cpu_model="Other CPU 9000", worker="far-away:1", run="x"),
    }
    study.add_trial(optuna.create_trial(params=best.params, distributions=best.distributions,
                                        values=best.values, user_attrs=attrs))  # fmt: skip
    again = auto(n_trials=1, learners=FAST, storage=storage, study_name="h").fit(X, y)
    assert set(again.search_result_.machines) == {
        f"{host} ({record.cpu_model})",
        "far-away (Other CPU 9000)",
    }
    sources = {p.energy_source for p in again.pareto_front_}
    assert "operation-count model on far-away (Other CPU 9000)" in sources
    assert all(" on " in s for s in sources)
    report = (again.export_report(tmp_path / "r.md")).read_text()
    assert "2 machines: " in report
    assert "far-away (Other CPU 9000)" in report


# --------------------------------------------------------------------------- storages
def test_storages_heartbeat_and_bad_settings(tmp_path, cancer) -> None:
    rdb = resolve_storage(f"sqlite:///{tmp_path / 'h.db'}")
    assert isinstance(rdb, optuna.storages.RDBStorage)
    assert heartbeat_of(rdb) == 20
    assert rdb.grace_period == GRACE_FACTOR * 20
    assert rdb.heartbeat_stale_trial_callback is not None
    journal = resolve_storage(str(tmp_path / "j.journal"))
    assert isinstance(journal, optuna.storages.JournalStorage)
    assert heartbeat_of(journal) is None  # Optuna's journal storage has no heartbeat
    with pytest.raises(ValueError, match="is an SQLite database"):
        resolve_storage(str(tmp_path / "h.db"))
    X, y = cancer
    with pytest.raises(ValueError, match="in-memory storage"):
        auto(n_trials=2, n_workers=2, storage=optuna.storages.InMemoryStorage()).fit(X, y)
    with pytest.raises(ValueError, match="rapl"):
        auto(n_trials=2, n_workers=2, energy_meter="rapl").fit(X, y)
    with pytest.raises(ValueError, match="n_workers"):
        auto(n_trials=2, n_workers=0).fit(X, y)
