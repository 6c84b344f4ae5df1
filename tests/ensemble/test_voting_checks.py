"""MajorityVoteClassifier under scikit-learn's estimator checks (default and a real trio)."""

from __future__ import annotations

from lightgbm import LGBMClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from greenauto.ensemble import MajorityVoteClassifier

# A KNN member takes no sample weights: like VotingClassifier, the vote then refuses weights
# with an error naming the member (tested in test_voting.py), so scikit-learn's sample-weight
# checks cannot pass for the trio with KNN; every other check runs on it.
_NO_WEIGHTS = "its KNN member takes no sample_weight: the vote refuses weights, naming it"
_WEIGHT_CHECKS = (
    "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array",
    "check_sample_weights_list",
    "check_all_zero_sample_weights_error",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data",
    "check_classifiers_one_label_sample_weights",
)


def _expected_failures(estimator: MajorityVoteClassifier) -> dict[str, str]:
    names = [name for name, _ in estimator.estimators or []]
    return dict.fromkeys(_WEIGHT_CHECKS, _NO_WEIGHTS) if "knn" in names else {}


@parametrize_with_checks(
    [
        MajorityVoteClassifier(),
        MajorityVoteClassifier(
            [
                ("gbm", LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1, deterministic=True)),
                ("nb", GaussianNB()),
                ("knn", KNeighborsClassifier(n_neighbors=1, algorithm="brute")),
            ],
            row_fractions=[0.8, 0.5, 1.0],
            random_state=0,
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)
