"""MemberSpec, describe_ensemble, suggest_ensemble (real Optuna studies), make_ensemble."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from greenauto.ensemble import (
    MajorityVoteClassifier,
    MemberSpec,
    describe_ensemble,
    ensemble_trial_params,
    get_learner,
    learner_names,
    make_ensemble,
    suggest_ensemble,
)
from greenauto.ensemble._spec import ROW_FRACTION_RANGE

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _initial(name: str, fraction: float = 1.0) -> MemberSpec:
    return MemberSpec(name, get_learner(name).initial_params(), fraction)


def test_describe_members_and_ensembles() -> None:
    gbm = _initial("lightgbm", 0.6)
    assert gbm.describe() == "LightGBM(40 trees, 15 leaves) on 60% of rows"
    assert gbm.describe(short=True) == "LightGBM(40 trees)"
    nb = _initial("categorical_nb")
    assert nb.describe() == "CategoricalNB"
    assert describe_ensemble([gbm, nb]) == "LightGBM(40 trees) + CategoricalNB"
    trio = [_initial("decision_tree", 0.25), _initial("random_forest"), _initial("knn")]
    assert describe_ensemble(trio, short=False) == (
        "DecisionTree(depth 6, 4+ per leaf) on 25% of rows + RandomForest(10 trees, depth 8)"
        " + KNN(k=5, L2)"
    )
    assert gbm.kind == "trees"
    assert _initial("knn").kind == "knn"


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("svm", {}), KeyError, "Unknown learner 'svm'"),
        (("categorical_nb", {"alpha": 50.0}), ValueError, "'alpha' parameter of learner"),
        (("categorical_nb", {"alpha": 1.0}, 0.0), ValueError, r"row_fraction .* \(0, 1\]. Got 0"),
        (("categorical_nb", {"alpha": 1.0}, 1.2), ValueError, r"Got 1\.2 instead"),
    ],
)
def test_member_spec_validates(args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        MemberSpec(*args)


def test_space_is_stable_across_many_trials_of_a_real_study() -> None:
    """Every learner, every size: one in-memory study accepts all the distributions."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_learners, seen_sizes = set(), set()
    for _ in range(80):
        trial = study.ask()
        specs = suggest_ensemble(trial, prefix="ens_")
        seen_sizes.add(len(specs))
        for i, spec in enumerate(specs):
            seen_learners.add(spec.learner)
            assert ROW_FRACTION_RANGE[0] <= spec.row_fraction <= ROW_FRACTION_RANGE[1]
            assert trial.params[f"ens_m{i}_learner"] == spec.learner
        assert trial.params == ensemble_trial_params(specs, prefix="ens_")
        study.tell(trial, sum(s.cost_hint(1000, 10) for s in specs))
    assert seen_learners == set(learner_names())
    assert seen_sizes == {1, 2, 3}
    distribution = study.trials[0].distributions["ens_m0_row_fraction"]
    assert distribution.log


@pytest.mark.parametrize(
    "make_sampler",
    [
        lambda: optuna.samplers.TPESampler(seed=1, n_startup_trials=5),
        lambda: optuna.samplers.TPESampler(
            seed=1, n_startup_trials=5, multivariate=True, group=True
        ),
        lambda: optuna.samplers.NSGAIISampler(seed=1, population_size=4),
    ],
    ids=["tpe", "tpe-multivariate-group", "nsga2"],
)
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # multivariate/group
def test_finished_trial_is_rebuilt_exactly_with_fixed_trial(make_sampler) -> None:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=make_sampler())

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        specs = suggest_ensemble(trial, learners=["knn", "lightgbm", "gaussian_nb"])
        trial.set_user_attr("description", describe_ensemble(specs, short=False))
        cost = sum(s.cost_hint(500, 8, n_classes=3) for s in specs)
        return cost, 1.0 / len(specs)

    study.optimize(objective, n_trials=12)
    for frozen in study.best_trials:
        again = suggest_ensemble(optuna.trial.FixedTrial(frozen.params))
        assert describe_ensemble(again, short=False) == frozen.user_attrs["description"]


def test_enqueued_initial_params_come_back_as_specs() -> None:
    study = optuna.create_study()
    seeds = [[_initial(name)] for name in learner_names()]
    seeds.append([_initial("lightgbm", 0.5), _initial("categorical_nb"), _initial("knn", 0.2)])
    for specs in seeds:
        study.enqueue_trial(ensemble_trial_params(specs))
    for specs in seeds:
        trial = study.ask()
        got = suggest_ensemble(trial)
        assert got == specs
        study.tell(trial, 0.0)


def test_learner_subset_and_max_members() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(15):
        trial = study.ask()
        specs = suggest_ensemble(trial, learners=("gaussian_nb", "decision_tree"), max_members=2)
        assert len(specs) in (1, 2)
        assert {s.learner for s in specs} <= {"gaussian_nb", "decision_tree"}
        study.tell(trial, 0.0)
    with pytest.raises(ValueError, match=r"max_members must be in \[1, 3\]; got 4"):
        suggest_ensemble(optuna.trial.FixedTrial({}), max_members=4)
    with pytest.raises(KeyError, match="Unknown learner 'svm'"):
        suggest_ensemble(optuna.trial.FixedTrial({}), learners=["svm"])
    with pytest.raises(ValueError, match="learners must name at least one learner"):
        suggest_ensemble(optuna.trial.FixedTrial({}), learners=[])


def test_make_ensemble_builds_a_working_vote() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.clip(rng.integers(0, 4, size=(100, 5)) + 2 * y[:, None], 0, 8).astype(np.uint8)
    specs = [_initial("lightgbm", 0.5), _initial("categorical_nb"), _initial("knn", 0.1)]
    specs[2] = MemberSpec("knn", {"n_neighbors": 30, "p": 1}, 0.1)
    vote = make_ensemble(specs, n_codes=10, random_state=4, class_counts=np.bincount(y))
    assert isinstance(vote, MajorityVoteClassifier)
    assert [name for name, _ in vote.estimators] == ["m0_lightgbm", "m1_categorical_nb", "m2_knn"]
    assert vote.row_fractions == [0.5, 1.0, 0.1]
    assert vote.estimators[2][1].n_neighbors == 10  # 6 + 3 + 1 rows in its subset
    vote.fit(X, y)
    assert [r.size for r in vote.row_indices_] == [50, 100, 10]
    assert vote.score(X, y) > 0.8
    with pytest.raises(ValueError, match="An ensemble has 1 to 3 members; got 0"):
        make_ensemble([])
    with pytest.raises(ValueError, match="An ensemble has 1 to 3 members; got 4"):
        ensemble_trial_params([specs[0]] * 4)
