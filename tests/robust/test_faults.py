"""Fault injection: members that raise or hang, Ctrl-C during fit, writes that fail half-way.

The faulty member is a real plug-in learner (the registry's public API) whose decision tree
raises ``ValueError`` or ``MemoryError``, sleeps, spins in Python or is interrupted, on
trials chosen by its seed: the search around it is the real one (Optuna study, meters,
storages, the CLI in a subprocess).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn import tree

from greenauto import GreenAutoClassifier, load_model, save_model
from greenauto._files import atomic_write
from greenauto.datasets import load_dataset
from greenauto.ensemble import IntRange, Learner, register_learner, unregister_learner
from greenauto.search._timeout import time_limit

from .._workers import ctrl_c_after

#: The fault of trial n is FAULTS[n % 6] (the member's seed is the search's seed + n).
FAULTS = ("none", "value_error", "memory_error", "sleep", "none", "spin")
TIMEOUT = 1.0


class DecisionTreeClassifier(tree.DecisionTreeClassifier):
    """scikit-learn's tree (same name: it compiles as one) with a ``fault`` to inject."""

    def __init__(self, *, fault="none", max_depth=None, random_state=None):
        super().__init__(max_depth=max_depth, random_state=random_state)
        self.fault = fault

    def fit(self, X, y, sample_weight=None, check_input=True):
        if self.fault == "value_error":
            raise ValueError("injected: a member's fit raised ValueError")
        if self.fault == "memory_error":
            raise MemoryError("injected: a member ran out of memory")
        if self.fault == "sleep":
            time.sleep(3600)
        if self.fault == "spin":
            while True:
                pass
        if self.fault == "ctrl_c":
            raise KeyboardInterrupt
        return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)


class FaultyLearner(Learner):
    name = "test_faulty_tree"
    kind = "trees"
    label = "FaultyTree"
    space: ClassVar = {"max_depth": IntRange(2, 6)}
    low_cost: ClassVar = {"max_depth": 3}
    faults: ClassVar[tuple[str, ...]] = FAULTS

    def build(self, params, *, n_codes=None, random_state=None, n_rows=None):
        fault = self.faults[(random_state or 0) % len(self.faults)]
        return DecisionTreeClassifier(
            fault=fault, max_depth=params["max_depth"], random_state=random_state
        )

    def cost_hint(self, params, n_rows, n_features, *, n_classes=2) -> float:
        return float(params["max_depth"])


class CtrlCLearner(FaultyLearner):
    """Trials 0-2 finish; trial 3's member fit is interrupted (Ctrl-C)."""

    name = "test_ctrl_c_tree"
    faults: ClassVar = ("none", "none", "none", "ctrl_c") + ("none",) * 20


class SpinLearner(FaultyLearner):
    """Every other trial's member spins in Python."""

    name = "test_spin_tree"
    faults: ClassVar = ("none", "spin")


LEARNERS = (FaultyLearner, CtrlCLearner, SpinLearner)


@pytest.fixture
def faulty():
    for learner in LEARNERS:
        register_learner(learner)
    yield
    for learner in LEARNERS:
        unregister_learner(learner.name)


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_dataset("breast_cancer_wisconsin")


def auto(learner: str, **kw) -> GreenAutoClassifier:
    params = {"time_budget": None, "energy_meter": "model", "random_state": 0,
              "learners": [learner], "max_members": 1, "n_iter_no_change": None}  # fmt: skip
    return GreenAutoClassifier(**{**params, **kw})


def errors_by_trial(est: GreenAutoClassifier) -> dict[int, str | None]:
    return {r.number: r.error for r in est.search_result_.trials if r.variant_of is None}


# --------------------------------------------------------------------------- members
def test_raising_and_hanging_members_fail_their_trial_and_the_study_goes_on(faulty, cancer):
    X, y = cancer
    started = time.perf_counter()
    est = auto(FaultyLearner.name, n_trials=12, trial_timeout=TIMEOUT).fit(X, y)
    elapsed = time.perf_counter() - started
    errors = errors_by_trial(est)
    assert sorted(errors) == list(range(12))  # every trial ran: the study went on
    expected = {
        "none": None,
        "value_error": "ValueError: injected: a member's fit raised ValueError",
        "memory_error": "MemoryError: injected: a member ran out of memory",
        "sleep": f"TrialTimeoutError: the trial ran past trial_timeout={TIMEOUT:g} s",
        "spin": f"TrialTimeoutError: the trial ran past trial_timeout={TIMEOUT:g} s",
    }
    for number, error in errors.items():
        want = expected[FAULTS[number % len(FAULTS)]]
        if want is None:
            assert not error, (number, error)
        else:
            assert error
            assert error.startswith(want), (number, error)
    states = est.search_result_.totals.trial_states
    assert states["FAIL"] == 8  # 4 faulty kinds x 2 rounds
    assert est.score(X, y) > 0.85  # the pick is one of the sound trials
    assert elapsed < 4 * TIMEOUT + 60  # the four hangs cost their timeout, not an hour


def test_a_hang_in_another_thread_is_stopped_by_the_watchdog(faulty, cancer):
    X, y = cancer
    found: dict[str, object] = {}

    def run() -> None:
        found["est"] = auto(SpinLearner.name, n_trials=4, trial_timeout=TIMEOUT).fit(X, y)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive()
    errors = errors_by_trial(found["est"])
    assert [bool(errors[n]) for n in range(4)] == [False, True, False, True]
    assert errors[1].startswith("TrialTimeoutError: the trial ran past trial_timeout=1 s")


def test_the_timeout_limit_in_compiled_code_is_as_documented() -> None:
    """In-process timers stop compiled code only when it returns to Python: a 0.2 s limit
    around one long numpy call ends when the call ends, with the timeout error."""
    data = np.random.default_rng(0).random(20_000_000)
    t0 = time.perf_counter()
    np.sort(data)
    one_call = time.perf_counter() - t0
    t0 = time.perf_counter()

    def long_compiled_call_then_python() -> None:
        with time_limit(0.2):
            np.sort(data)
            time.sleep(60)  # not reached past the timer: the error comes first

    with pytest.raises(Exception, match=r"trial_timeout=0\.2 s") as info:
        long_compiled_call_then_python()
    stopped = time.perf_counter() - t0
    assert type(info.value).__name__ == "TrialTimeoutError"
    assert stopped >= min(one_call, 0.2) * 0.5
    assert stopped < one_call * 3 + 1.0


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_inside_a_member_fit_keeps_finished_trials(faulty, cancer):
    X, y = cancer
    with pytest.warns(UserWarning, match="interrupted"):
        est = auto(CtrlCLearner.name, n_trials=10).fit(X, y)
    result = est.search_result_
    assert result.totals.stop_reason.startswith("interrupted")
    done = [r for r in result.trials if r.state == "COMPLETE" and r.variant_of is None]
    assert [r.number for r in done] == [0, 1, 2]
    assert len(est.pareto_front_) >= 1
    assert est.score(X, y) > 0.85


def test_ctrl_c_inside_a_member_fit_with_a_storage_resumes(faulty, cancer, tmp_path):
    X, y = cancer
    storage = str(tmp_path / "s.journal")
    with pytest.raises(KeyboardInterrupt):
        auto(CtrlCLearner.name, n_trials=10, storage=storage, study_name="s").fit(X, y)
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage))
    kept = optuna.load_study(study_name="s", storage=journal).trials
    assert [t.state.name for t in kept[:3]] == ["COMPLETE"] * 3
    again = auto(CtrlCLearner.name, n_trials=2, storage=storage, study_name="s").fit(X, y)
    numbers = {r.number for r in again.search_result_.trials if r.state == "COMPLETE"}
    assert {0, 1, 2} <= numbers
    assert len(numbers) >= 5  # three kept + two new


def test_sigint_to_the_command_line_writes_the_partial_outputs(tmp_path):
    """A real Ctrl-C (SIGINT) during ``greenauto fit``: the report and the model hold the
    trials finished before it, and the exit code is 130."""
    command = [sys.executable, "-m", "greenauto", "fit", "spambase", "--n-trials", "400",
               "--energy-meter", "model", "--report", "r.json", "--model", "m.gam"]  # fmt: skip
    code, _, err = ctrl_c_after(command, "trial 4/", cwd=tmp_path, stream="stderr")
    assert code == 130, err
    assert "interrupted (Ctrl-C): the outputs hold the trials finished before it" in err
    report = pd.read_json(tmp_path / "r.json", typ="series")
    assert report["totals"]["stop_reason"].startswith("interrupted")
    assert 4 <= report["totals"]["trials"]["completed"] < 400
    assert load_model(tmp_path / "m.gam").predict(load_dataset("spambase")[0][:5]).shape == (5,)


# --------------------------------------------------------------------------- atomic writes
@pytest.fixture(scope="module")
def fitted(cancer) -> GreenAutoClassifier:
    X, y = cancer
    return GreenAutoClassifier(
        time_budget=None, n_trials=3, energy_meter="model", random_state=0
    ).fit(X, y)


def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("suffix", [".html", ".json", ".csv", ".md"])
def test_a_report_write_that_fails_leaves_the_old_file_and_no_debris(
    fitted, tmp_path, monkeypatch, suffix
):
    path = tmp_path / f"report{suffix}"
    path.write_text("the previous report")
    monkeypatch.setattr(os, "fsync", disk_full)  # the disk fills as the file is flushed
    with pytest.raises(OSError, match="No space left"):
        fitted.export_report(path)
    assert path.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_model_write_that_fails_half_way_leaves_the_old_file(fitted, tmp_path, monkeypatch):
    path = tmp_path / "m.gam"
    save_model(fitted, path)
    before = path.read_bytes()
    calls = []
    original = zipfile.ZipFile.writestr

    def fails_on_the_second_member(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fails_on_the_second_member)
    with pytest.raises(OSError, match="No space left"):
        save_model(fitted, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gam"]


def test_a_writer_killed_at_any_moment_never_leaves_a_half_written_model(tmp_path):
    """SIGKILL (no clean-up can run) while a process rewrites a model file in a loop: the
    file is always absent or a whole, loadable model. Only a hidden ``.m.gam.*.tmp`` (or the
    writability probe ``.m.gam.*.probe``) may be left by the killed writer."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        from sklearn.ensemble import RandomForestClassifier
        from greenauto import compile_model, save_model
        rng = np.random.default_rng(0)
        X = rng.normal(size=(3000, 20)); y = (X[:, 0] > 0).astype(int)
        pipe = compile_model(RandomForestClassifier(60, random_state=0).fit(X, y))
        print("ready", flush=True)
        while True:
            save_model(pipe, {str(tmp_path / "m.gam")!r})
        """
    )
    for delay in (0.05, 0.13, 0.31, 0.47):
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                  text=True, cwd=tmp_path)  # fmt: skip
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
        writer.kill()
        writer.wait()
        model = tmp_path / "m.gam"
        if model.exists():
            assert load_model(model).predict(np.zeros((2, 20))).shape == (2,)
        debris = [p.name for p in tmp_path.iterdir() if p.name != "m.gam"]
        hidden = (".tmp", ".probe")  # the write's temporary file, or its writability probe
        assert all(n.startswith(".m.gam.") and n.endswith(hidden) for n in debris), debris


def test_atomic_write_keeps_the_old_content_on_any_exception(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def interrupted_half_way() -> None:
        with atomic_write(path) as fh:
            fh.write("half of the new")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_half_way()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("missing/r.html", r"the folder '.*missing' does not exist"),
        ("a-file/r.html", r"'.*a-file' is not a folder"),
        ("/sys/r.html", r"'/sys' is not writable"),
    ],
)
def test_writing_to_a_missing_or_unwritable_folder_is_a_clear_error(
    fitted, tmp_path, where, error
):
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / where if not where.startswith("/") else Path(where)
    with pytest.raises(OSError, match=error):
        fitted.export_report(target)
    with pytest.raises(OSError, match=error):
        save_model(fitted, target.with_suffix(".gam"))


def test_fit_warns_nothing_on_clean_faults_at_verbose_0(faulty, cancer, capfd):
    """Failed trials are recorded, not printed: no traceback on the terminal."""
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto(FaultyLearner.name, n_trials=3).fit(X, y)
    _, err = capfd.readouterr()
    assert "Traceback" not in err
    assert "injected" not in err
