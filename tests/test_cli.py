"""The ``greenauto`` command, run for real in a subprocess (``python -m greenauto``)."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from greenauto import GreenAutoClassifier, ParetoFront, load_model
from greenauto.cli import main
from greenauto.datasets import load_dataset


def greenauto(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd is a temporary folder, so the installed package is imported, not the source tree
    return subprocess.run(
        [sys.executable, "-m", "greenauto", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def fitted(work: Path) -> subprocess.CompletedProcess[str]:
    """One real search on a bundled dataset, writing two reports and the model."""
    done = greenauto(
        "fit", "breast_cancer_wisconsin", "--n-trials", "4", "--energy-meter", "model",
        "--report", "report.html", "--report", "report.json", "--model", "model.gam",
        cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def small_csv(work: Path) -> Path:
    X, y = load_dataset("breast_cancer_wisconsin")
    path = work / "cancer.csv"
    X.assign(diagnosis=y).head(60).to_csv(path, index=False)
    return path


def test_fit_on_a_bundled_dataset_writes_reports_model_and_progress(
    fitted: subprocess.CompletedProcess[str], work: Path
) -> None:
    assert "default pick trial" in fitted.stdout
    assert "wrote report.html" in fitted.stdout
    progress = [line for line in fitted.stderr.splitlines() if line.startswith("trial ")]
    assert len(progress) == 4, fitted.stderr
    assert re.match(r"trial 4/4: 4 ok, 0 failed, 0 pruned( \(\+\d+ derived\))?; "
                    r"best score 0\.9", progress[-1])  # fmt: skip
    assert "Traceback" not in fitted.stderr
    assert (work / "report.html").stat().st_size > 10_000
    report = json.loads((work / "report.json").read_text())
    model = load_model(work / "model.gam")  # pickle-free, validated
    assert ParetoFront.from_dict(report["front"]) == ParetoFront.from_dict(
        model.ir.extra["report"]["front"]
    )
    pick = model.ir.metrics
    assert pick["description"]
    assert "score" in pick
    assert model.ir.energy_source


def test_quiet_fit_on_a_csv_prints_nothing(small_csv: Path, work: Path) -> None:
    done = greenauto(
        "fit", str(small_csv), "--target", "diagnosis", "--n-trials", "2",
        "--energy-meter", "model", "--quiet", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""


def test_report_from_a_model_file_and_from_a_json_front(fitted, work: Path) -> None:
    done = greenauto("report", "model.gam", "--out", "again.md", "--out", "again.csv", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "| Trial | Score |" in (work / "again.md").read_text()
    done = greenauto("report", "report.json", "--out", "from-json.html", cwd=work)
    assert done.returncode == 0, done.stderr
    html = (work / "from-json.html").read_text()
    # 4 sampled trials, and the candidates their fits gave (prefix variants, students)
    trials = re.search(r"(\d+) completed( \([^)]*\))?, 0 failed, 0 pruned", html)
    assert trials
    derived = re.findall(r"(\d+) (?:of them prefix variants|distilled student)", html)
    assert int(trials.group(1)) - sum(map(int, derived)) == 4
    front = ParetoFront.from_dict(load_model(work / "model.gam").ir.extra["report"]["front"])
    (work / "front.json").write_text(front.to_json())
    done = greenauto("report", "front.json", "--out", "front.json.md", cwd=work)
    assert done.returncode == 0, done.stderr
    md = (work / "front.json.md").read_text()
    assert f"Pareto front ({len(front)} points)" in md
    assert "| Trials | not recorded |" in md


def test_predict_matches_the_model(fitted, small_csv: Path, work: Path) -> None:
    done = greenauto("predict", "model.gam", str(small_csv), "--out", "preds.csv", cwd=work)
    assert done.returncode == 0, done.stderr
    preds = pd.read_csv(work / "preds.csv")["prediction"]
    model = load_model(work / "model.gam")
    X = pd.read_csv(small_csv).drop(columns=["diagnosis"])
    assert preds.tolist() == model.predict(X).tolist()


def test_a_pickle_is_read_only_with_allow_pickle(fitted, small_csv: Path, work: Path) -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    est = GreenAutoClassifier(n_trials=2, time_budget=None, energy_meter="model").fit(X, y)
    (work / "old.pkl").write_bytes(pickle.dumps(est))
    refused = greenauto("predict", "old.pkl", str(small_csv), "--out", "p.csv", cwd=work)
    assert refused.returncode == 2
    assert "not a zip archive" in refused.stderr
    assert "--allow-pickle" in refused.stderr
    done = greenauto(
        "predict", "old.pkl", str(small_csv), "--out", "p.csv", "--allow-pickle", cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert "warning: 'old.pkl' is a pickle" in done.stderr
    preds = pd.read_csv(work / "p.csv")["prediction"]
    Xs = pd.read_csv(small_csv).drop(columns=["diagnosis"])
    assert preds.tolist() == est.predict(Xs).tolist()


def test_datasets_lists_the_bundled_ones(work: Path) -> None:
    done = greenauto("datasets", cwd=work)
    assert done.returncode == 0
    assert "spambase" in done.stdout
    assert "breast_cancer_wisconsin" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "missing.csv", "--target", "y"], "No such data file: 'missing.csv'"),
        (["fit", "{csv}", "--target", "label"], "has no target column 'label'"),
        (["fit", "{csv}", "--target", "diagnosis", "--time-budget", "soon"],
         "argument --time-budget: expected a number, got 'soon'"),
        (["fit", "no_such_dataset"], "neither a file nor a bundled dataset"),
        (["fit", "{csv}", "--target", "diagnosis", "--report", "r.pdf"],
         "--report 'r.pdf': the suffix must be one of"),
        (["predict", "missing.gam", "{csv}", "--out", "p.csv"], "No such model file"),
        (["report", "{csv}", "--out", "r.html"], "is not a greenauto model file"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(
    args: list[str], message: str, small_csv: Path, work: Path
) -> None:
    done = greenauto(*(a.replace("{csv}", str(small_csv)) for a in args), cwd=work)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("greenauto: error: ")
    assert message in lines[0]


@pytest.mark.parametrize("command", [[], ["fit"], ["report"], ["predict"], ["datasets"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: greenauto")
    if command in (["fit"], ["report"], ["predict"]):
        assert "pickle" in text  # the model file format is said


def test_predict_names_the_missing_columns(fitted, work: Path) -> None:
    (work / "other.csv").write_text("a,b\n1,2\n")
    done = greenauto("predict", "model.gam", "other.csv", "--out", "p.csv", cwd=work)
    assert done.returncode == 2
    assert done.stderr.startswith("greenauto: error: 'other.csv' lacks the model's column(s) ")
    assert len(done.stderr.splitlines()) == 1


def test_cli_default_max_score_drop_is_the_estimators() -> None:
    from greenauto import GreenAutoClassifier
    from greenauto.cli import DEFAULT_MAX_SCORE_DROP

    assert GreenAutoClassifier().max_score_drop == DEFAULT_MAX_SCORE_DROP
