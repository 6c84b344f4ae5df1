"""Typed search results: records per trial through callbacks, the user_attrs codec, the metric
registry, why a search stopped, and the settings a resumed study is checked against."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.metrics import f1_score, make_scorer

from greenauto import GreenAutoClassifier, Objective, ParetoFront, ParetoPoint
from greenauto.datasets import load_dataset
from greenauto.metrics import METRICS, OBJECTIVES, get_metric, objective_metric, table_metrics
from greenauto.report import export_report, read_report
from greenauto.results import (
    SearchProgress,
    SearchResult,
    TrialRecord,
    completed_attrs,
    failed_attrs,
    pruned_attrs,
)
from greenauto.search import PipelineConfig, scoring_name

FAST = {"time_budget": None, "energy_meter": "model", "random_state": 0}


def tiny(**kw) -> GreenAutoClassifier:
    params = {**FAST, "n_trials": 5, "learners": ["decision_tree", "gaussian_nb"]}
    params.update(kw)
    return GreenAutoClassifier(**params)


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_dataset("breast_cancer_wisconsin")


def test_a_callback_gets_one_typed_record_per_finished_trial(cancer) -> None:
    X, y = cancer
    seen: list[tuple[TrialRecord, SearchProgress]] = []
    auto = tiny(n_trials=6, callbacks=[lambda r, p: seen.append((r, p))]).fit(X, y)
    assert [r.number for r, _ in seen] == [t.number for t in auto.study_.trials]
    assert all(isinstance(r, TrialRecord) and isinstance(p, SearchProgress) for r, p in seen)
    assert [p.finished for _, p in seen] == list(range(1, 7))
    for record, trial in zip((r for r, _ in seen), auto.study_.trials, strict=True):
        assert record == TrialRecord.from_trial(trial)
        assert record.state == "COMPLETE"
        assert record.metrics["score"] == trial.values[0]
        assert record.description
        assert record.energy_source == "operation-count model"
    # the progress is a running view of the same records
    scores = np.maximum.accumulate([r.metrics["score"] for r, _ in seen])
    assert [p.best_score for _, p in seen] == pytest.approx(scores.tolist())
    joules = [p.joules for _, p in seen]
    assert all(b > a for a, b in itertools.pairwise(joules))
    assert seen[-1][1].front_size >= 1
    assert auto.search_result_.trials == tuple(r for r, _ in seen)


def test_search_result_is_what_the_estimator_and_report_show(cancer, tmp_path) -> None:
    X, y = cancer
    auto = tiny().fit(X, y)
    result = auto.search_result_
    assert isinstance(result, SearchResult)
    assert result.front is auto.pareto_front_
    assert result.totals.stop_reason == "ran the n_trials asked for"
    assert result.totals.trial_states == {"COMPLETE": 5}
    assert result.totals.energy_source == "operation-count model"
    assert result.dataset.rows == X.shape[0]
    assert result.dataset.feature_names == tuple(X.columns)
    assert result.settings["scoring"] == "accuracy"
    # every point carries the configuration it was built from
    assert all(isinstance(p.config, PipelineConfig) for p in result.front)
    assert auto.model_.config == auto.best_point_.config
    report = read_report(export_report(result, tmp_path / "r.json"))
    assert report.totals.stop_reason == result.totals.stop_reason
    assert report.trials == result.trials
    markdown = export_report(auto, tmp_path / "r.md").read_text()
    assert "| Stopped because | ran the n\\_trials asked for |" in markdown


def test_energy_budget_stop_is_reported(cancer) -> None:
    X, y = cancer
    free = tiny(n_trials=8).fit(X, y)
    per_trial = free.search_energy_.joules / 8
    capped = tiny(n_trials=50, energy_budget=3 * per_trial).fit(X, y)
    assert capped.search_result_.totals.stop_reason == "energy budget spent"
    assert len(capped.study_.trials) < 50


def test_codec_round_trips_every_outcome_through_a_real_storage(tmp_path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_int("x", 0, 2)
        if x == 0:
            for k, v in completed_attrs({"score": 0.5}, "a tree", "rapl").items():
                trial.set_user_attr(k, v)
            return 0.5
        if x == 1:
            for k, v in pruned_attrs("too slow").items():
                trial.set_user_attr(k, v)
            raise optuna.TrialPruned()
        exc = ValueError("bad depth")
        for k, v in failed_attrs(exc).items():
            trial.set_user_attr(k, v)
        raise exc

    for x in (0, 1, 2):
        study.enqueue_trial({"x": x})
    study.optimize(objective, n_trials=3, catch=(ValueError,))
    reloaded = optuna.load_study(study_name=study.study_name, storage=study._storage)
    done, pruned, failed = (TrialRecord.from_trial(t) for t in reloaded.trials)
    assert done == TrialRecord(0, "COMPLETE", {"x": 0}, {"score": 0.5}, "a tree", "rapl")
    assert done.complete
    assert done.to_point().energy_source == "rapl"
    assert (pruned.state, pruned.error) == ("PRUNED", "pruned: too slow")
    assert (failed.state, failed.error) == ("FAIL", "ValueError: bad depth")
    assert not failed.complete


def test_metric_registry_is_the_one_spelling() -> None:
    assert set(OBJECTIVES) == {
        "score", "inference_energy", "fit_energy", "lifetime_energy", "latency", "model_size"
    }  # fmt: skip
    assert objective_metric("score").maximize
    assert not any(m.maximize for o, m in OBJECTIVES.items() if o != "score")
    with pytest.raises(ValueError, match=r"Unknown objective 'speed'; choose from"):
        objective_metric("speed")
    energy = get_metric("fit_energy_j")
    assert energy.source_of("rapl", {}) == "rapl"  # energies take the trial's source
    assert get_metric("model_bytes").source_of("rapl", {}) == "size of the compiled model"
    assert get_metric("something_new").unit == "unitless"
    assert [m.name for m in table_metrics()][:3] == [
        "score", "fit_energy_j", "inference_energy_j_per_1k"
    ]  # fmt: skip
    objs = [Objective("score", True), Objective("fit_energy_j")]
    front = ParetoFront((ParetoPoint(0, {}, {"score": 1.0, "fit_energy_j": 1.0}),), objs)
    assert front.to_dict()["units"] == {name: m.unit for name, m in METRICS.items()}


def test_study_carries_the_objective_names(cancer) -> None:
    X, y = cancer
    auto = tiny(n_trials=2, objectives=("score", "fit_energy", "model_size")).fit(X, y)
    assert auto.study_.metric_names == ["score", "fit_energy_j", "model_bytes"]


def test_a_callable_scorer_resumes_its_study(cancer, tmp_path) -> None:
    """The stored scorer name is the same in every process (no memory address)."""
    X, y = cancer
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    scorer = make_scorer(f1_score)
    tiny(n_trials=2, scoring=scorer, storage=storage, study_name="s").fit(X, y)
    again = tiny(n_trials=2, scoring=make_scorer(f1_score), storage=storage, study_name="s")
    assert len(again.fit(X, y).study_.trials) == 4
    assert scoring_name(scorer) == scoring_name(make_scorer(f1_score))
    assert " at 0x" not in scoring_name(scorer)
    assert scoring_name(f1_score) == "sklearn.metrics._classification.f1_score"


def test_front_export_report_is_deprecated_but_works(tmp_path) -> None:
    objs = [Objective("score", True), Objective("inference_energy_j_per_1k")]
    front = ParetoFront(
        (ParetoPoint(0, {}, {"score": 0.9, "inference_energy_j_per_1k": 1.0}, "a"),), objs
    )
    with pytest.warns(FutureWarning, match=r"use greenauto.export_report\(front, path\)"):
        path = front.export_report(tmp_path / "f.md")
    assert "Pareto front (1 points)" in path.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_report(front, tmp_path / "g.md")  # the supported path warns nothing


def test_inference_energy_is_measured_from_the_users_rows(cancer) -> None:
    """The reference batch goes through the encoder and the compiled model, as predict does."""
    from greenauto.preprocessing import TabularEncoder
    from greenauto.search import SearchSettings, run_search

    X, y = cancer
    encoder = TabularEncoder().fit(X)
    seen: list[pd.DataFrame] = []

    def encode(frame: pd.DataFrame) -> np.ndarray:
        seen.append(frame)
        return encoder.transform(frame)

    y_enc = np.unique(np.asarray(y), return_inverse=True)[1]
    settings = SearchSettings(time_budget=None, n_trials=2, energy_meter="model",
                              learners=("decision_tree",), max_members=1)  # fmt: skip
    run_search(encoder.transform(X), y_enc, settings, labels=["a", "b"], raw=X, encode=encode)
    assert seen, "the measured predict calls encode the user's rows"
    assert all(isinstance(f, pd.DataFrame) for f in seen)
    rows = {tuple(f.index) for f in seen}
    assert len(rows) == 1  # always the same reference batch, taken from the user's frame
    index = next(iter(rows))
    assert len(index) == min(1000, len(index))
    assert set(index) <= set(X.index)
