"""MajorityVoteClassifier under scikit-learn's estimator checks (default and a real trio)."""

from __future__ import annotations

from lightgbm import LGBMClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from greenauto.ensemble import MajorityVoteClassifier


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
    ]
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)
