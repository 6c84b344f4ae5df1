"""Distilled students and voting ensembles: they compile to exactly their Python models, and
the search records students as candidates of their own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset
from greenauto.ensemble import MemberSpec, get_learner
from greenauto.preprocessing import TabularEncoder
from greenauto.search import PipelineConfig, fit_candidate
from greenauto.search._distill import soft_label_rows, student_configs


@pytest.fixture(scope="module", params=["letter", "spambase"])
def data(request) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_dataset(request.param)
    rows = np.random.default_rng(0).permutation(len(y))[:3000]
    Xf = TabularEncoder().fit_transform(X.iloc[rows])
    return Xf, np.unique(np.asarray(y)[rows], return_inverse=True)[1]


def _spec(name: str, **params) -> MemberSpec:
    return MemberSpec(name, {**get_learner(name).initial_params(), **params})


TEACHER = PipelineConfig(64, "quantile", "none", 1.0, (_spec("lightgbm", n_estimators=40),))


def test_students_compile_to_their_python_models(data) -> None:
    X, y = data
    for student in student_configs(TEACHER):
        cand = fit_candidate(student, X[:2000], y[:2000], random_state=0)
        python = cand.ensemble.predict(cand.member_input(X[2000:]))
        np.testing.assert_array_equal(cand.predict_codes(X[2000:]), python)
        np.testing.assert_allclose(
            cand.predict_proba(X[2000:]),
            cand.ensemble.predict_proba(cand.member_input(X[2000:])),
            atol=1e-6,
        )


def test_a_student_learns_its_teachers_probabilities(data) -> None:
    X, y = data
    teacher = fit_candidate(TEACHER, X[:2000], y[:2000], random_state=0)
    tree = next(s for s in student_configs(TEACHER) if s.members[0].learner == "decision_tree")
    student = fit_candidate(tree, X[:2000], y[:2000], random_state=0)
    # refitting with the teacher's probabilities given gives the same student
    again = fit_candidate(tree, X[:2000], y[:2000], random_state=0,
                          soft_labels=teacher.predict_proba(X[:2000]))  # fmt: skip
    np.testing.assert_array_equal(student.predict_codes(X), again.predict_codes(X))
    # the student agrees with its teacher more than a tree of the same depth on hard labels
    hard = fit_candidate(dataclasses.replace(tree, teacher=None), X[:2000], y[:2000],
                         random_state=0)  # fmt: skip
    agree = [(m.predict_codes(X[2000:]) == teacher.predict_codes(X[2000:])).mean()
             for m in (student, hard)]  # fmt: skip
    assert agree[0] >= agree[1] - 0.01


def test_soft_label_rows_keep_every_class() -> None:
    proba = np.array([[0.99, 0.004, 0.006], [0.98, 0.015, 0.005], [0.6, 0.4, 0.0]])
    rows, classes, weights = soft_label_rows(proba)
    assert set(classes) == {0, 1, 2}  # class 2 never reaches 0.01: kept on its best row
    assert (rows[classes == 2] == 0).all()
    assert (weights > 0).all()


@pytest.mark.parametrize("voting", ["soft", "hard"])
@pytest.mark.parametrize("subsets", ["stratified", "disjoint", "bootstrap"])
def test_voting_ensembles_compile_to_their_python_models(data, voting, subsets) -> None:
    X, y = data
    members = (_spec("decision_tree", max_depth=8), _spec("gaussian_nb"),
               _spec("lightgbm", n_estimators=10))  # fmt: skip
    members = tuple(dataclasses.replace(m, row_fraction=0.6) for m in members)
    config = PipelineConfig(32, "quantile", "none", 1.0, members, voting, subsets)
    cand = fit_candidate(config, X[:2000], y[:2000], random_state=1)
    python = cand.ensemble.predict(cand.member_input(X[2000:]))
    np.testing.assert_array_equal(cand.predict_codes(X[2000:]), python)
    assert cand.ensemble.voting == voting
    assert cand.ensemble.subsets == subsets


def test_the_search_records_students_with_their_teacher() -> None:
    X, y = load_dataset("wisdm_activity")
    auto = GreenAutoClassifier(
        n_trials=10, time_budget=None, energy_meter="model", random_state=0,
        handle_unknown="missing",
    ).fit(X.iloc[:2500], y.iloc[:2500])  # fmt: skip
    records = auto.search_result_.trials
    students = [r for r in records if r.student_of is not None]
    assert students, "a new best candidate is distilled"
    by_number = {r.number: r for r in records}
    for s in students:
        teacher = by_number[s.student_of]
        assert s.teacher_params == teacher.params
        assert f"distilled from trial {teacher.number}" in s.description
        assert s.metrics["fit_energy_j"] > teacher.metrics["fit_energy_j"]
        assert not s.sampled
    assert auto.search_result_.totals.students == len(students)
    # a student on the front carries its teacher's configuration, and refits from it
    for p in auto.pareto_front_:
        if "distilled from" in p.description:
            assert p.config.teacher is not None
            auto.use_point(p, X.iloc[:2500], y.iloc[:2500])
            assert auto.score(X.iloc[:2500], y.iloc[:2500]) > 0.5
