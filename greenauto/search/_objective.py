"""One trial of the search: suggest a configuration, fit it (measured), compile it, score it on
validation data and measure its inference energy; record every metric on the trial.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin

from greenauto.energy import (
    EnergyMeter,
    Measurement,
    OperationCountMeter,
    measure_fit,
    measure_predict,
)
from greenauto.ensemble import ensemble_trial_params, stratified_subset
from greenauto.metrics import objective_metric
from greenauto.results import (
    TrialRecord,
    completed_attrs,
    failed_attrs,
    pruned_attrs,
    student_attrs,
    variant_attrs,
    variant_parent,
)
from greenauto.search._candidate import SIZE_PARAM, Candidate, fit_candidate
from greenauto.search._data import OPS_ROWS, SearchData
from greenauto.search._distill import student_configs
from greenauto.search._limits import Limits
from greenauto.search._space import PipelineConfig, suggest_config
from greenauto.search._stopping import MIN_SCORE_GAIN
from greenauto.search._timeout import time_limit
from greenauto.search._variants import pick_variants, prefix_sizes

__all__ = ["LOW_FIDELITY_MIN_ROWS", "TrialObjective", "score_candidate"]

#: Fewest rows a low-fidelity fit uses (else an eighth of the training rows).
LOW_FIDELITY_MIN_ROWS = 1000


class _ScoringView(ClassifierMixin, BaseEstimator):
    """A fitted candidate seen as a classifier of class indices, for scikit-learn scorers."""

    def __init__(self, candidate: Candidate | None = None, n_classes: int = 2) -> None:
        self.candidate = candidate
        self.n_classes = n_classes

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.candidate.predict_codes(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.candidate.predict_proba(X)


def score_candidate(
    scorer: Callable[..., float],
    candidate: Candidate,
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
) -> float:
    """A scikit-learn scorer applied to a fitted candidate (class indices in ``y``), with the
    rows' weights when given."""
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    return float(scorer(_ScoringView(candidate, n_classes), X, y, **kwargs))


class _Pruned(optuna.TrialPruned):
    """A trial the search drops, with the reason recorded on the trial."""

    def __init__(self, trial: optuna.Trial, reason: str) -> None:
        super().__init__(reason)
        for key, value in pruned_attrs(reason).items():
            trial.set_user_attr(key, value)


@dataclass
class TrialObjective:
    """Callable passed to ``study.optimize``; returns the objective values of one trial.

    Every outcome goes through the codec of ``greenauto.results``: a completed trial records
    its metrics, description and energy source; a failed one its error; a pruned one why.
    """

    data: SearchData
    objectives: Sequence[str]
    scorer: Callable[..., float]
    meter: EnergyMeter
    learners: Sequence[str] | None = None
    max_members: int = 3
    random_state: int = 0
    expected_predictions: int = 1_000_000
    deadline: float = math.inf
    fidelity_rows: int = 4_000
    fidelity_margin: float = 0.01
    fidelity_after: int = 0
    limits: Limits = field(default_factory=Limits)
    variants: bool = True
    trial_timeout: float | None = None
    _added: list[optuna.trial.FrozenTrial] = field(default_factory=list)
    _rung: list[tuple[float, float]] = field(default_factory=list)  # low-fidelity (score, ops)
    distill: bool = True
    _best: float = -math.inf  # best score of this process's completed trials
    _seen: int = 0  # completed trials so far

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        started = time.perf_counter()
        try:
            with time_limit(self.trial_timeout):
                config, cands, fits, metrics, source = self._run(trial)
            values = self._values(metrics)
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # recorded on the trial; Optuna marks it failed
            for key, value in failed_attrs(exc).items():
                trial.set_user_attr(key, value)
            raise
        metrics["trial_seconds"] = time.perf_counter() - started
        description = config.describe(self.data.X.shape[1], cands[0].n_selected)
        for key, value in completed_attrs(metrics, description, source).items():
            trial.set_user_attr(key, value)
        for key, value in (self.limits.as_constraints(metrics) or {}).items():
            trial.set_constraint(key, value)  # the sampler learns where the limits bind
        if self.variants:
            self._add_variants(trial, cands, fits, metrics)
        if self.distill and metrics["score"] > self._best + MIN_SCORE_GAIN and self._seen >= 3:
            self._add_students(trial, config, cands, metrics)
        self._best = max(self._best, metrics["score"])
        self._seen += 1
        return values

    def take_added(self) -> list[optuna.trial.FrozenTrial]:
        """The variant trials the last call added to the study (then forgets them)."""
        added, self._added = self._added, []
        return added

    def _values(self, metrics: dict[str, float]) -> tuple[float, ...]:
        values = tuple(metrics[objective_metric(o).name] for o in self.objectives)
        bad = [(o, v) for o, v in zip(self.objectives, values, strict=True) if math.isnan(v)]
        if bad:  # Optuna would fail the trial without saying which objective
            raise ValueError(f"the trial's {bad[0][0]} is NaN (check the scoring function)")
        return values

    # ------------------------------------------------------------------ stages
    def _run(
        self, trial: optuna.Trial
    ) -> tuple[PipelineConfig, list[Candidate], list[Measurement], dict[str, float], str]:
        if time.perf_counter() >= self.deadline:
            raise _Pruned(trial, "the time budget was spent before it started")
        config = suggest_config(trial, learners=self.learners, max_members=self.max_members)
        train, val = self.data.folds[0]
        seed = self.random_state + trial.number
        if train.size >= self.fidelity_rows and trial.number >= self.fidelity_after:
            self._low_fidelity_check(trial, config, train, val, seed)
        scores, fits, cands = [], [], []
        for tr, va in self.data.folds:
            fit_m, cand = self._measured_fit(config, tr, seed)
            scores.append(self._score(cand, va))
            fits.append(fit_m)
            cands.append(cand)
        fit_j = float(np.mean([m.joules for m in fits]))
        fit_s = float(np.mean([m.wall_seconds for m in fits]))
        metrics, source = self._metrics(cands[0], float(np.mean(scores)), fit_j, fit_s)
        return config, cands, fits, metrics, source

    def _metrics(
        self, candidate: Candidate, score: float, fit_j: float, fit_s: float
    ) -> tuple[dict[str, float], str]:
        """Every recorded figure of a fitted candidate: its inference energy is measured."""
        ops = candidate.compiled.operations_per_row(self.data.X_ref[:OPS_ROWS])
        pred_m = self._measured_predict(candidate, ops)
        per_1k = float(pred_m.joules_per_1k_rows)
        metrics = {
            "score": score,
            "fit_energy_j": fit_j,
            "inference_energy_j_per_1k": per_1k,
            "lifetime_energy_j": fit_j + self.expected_predictions * per_1k / 1000.0,
            "latency_s_per_row": pred_m.wall_seconds / pred_m.rows,
            "model_bytes": float(candidate.compiled.nbytes),
            "n_features": float(candidate.n_selected),
            "ops_per_row": float(ops),
            "fit_seconds": fit_s,
        }
        return metrics, pred_m.source.value

    def _add_variants(
        self,
        trial: optuna.Trial,
        cands: list[Candidate],
        fits: list[Measurement],
        parent: dict[str, float],
    ) -> None:
        """Score a ladder of prefixes of the fitted candidate on the same folds; record the
        non-dominated ones as trials of their own (inference energy measured; fit energy is
        the prefix's share ``k / n`` of the parent's measured fit, as ``variant_of`` says)."""
        size = cands[0].prefix_size()
        if size is None:
            return
        spec = cands[0].config.members[0]
        low = getattr(spec.get_learner().space.get(SIZE_PARAM), "low", 1)
        family = []
        for k in prefix_sizes(size, low):
            prefixes = [c.prefix(k) for c in cands]
            score = float(np.mean([
                self._score(p, va) for p, (_, va) in zip(prefixes, self.data.folds, strict=True)
            ]))  # fmt: skip
            family.append((k, score, parent["ops_per_row"] * k / size, prefixes[0]))
        chosen = pick_variants(
            (parent["score"], parent["ops_per_row"]), [(k, s, o) for k, s, o, _ in family]
        )
        for k, score, _, prefix in family:
            if k not in chosen:
                continue
            share = k / size
            metrics, source = self._metrics(
                prefix, score, parent["fit_energy_j"] * share, parent["fit_seconds"] * share
            )
            description = prefix.config.describe(self.data.X.shape[1], prefix.n_selected)
            description += f" (first {k} of trial {trial.number}'s {size}, no fit of its own)"
            attrs = {
                **completed_attrs(metrics, description, source),
                **variant_attrs(trial.number),
            }
            params = {**trial.params, **ensemble_trial_params(prefix.config.members)}
            trial.study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=trial.distributions,
                    values=self._values(metrics),
                    user_attrs=attrs,
                    constraints=self.limits.as_constraints(metrics),
                )
            )
        if chosen:
            self._added = [
                t
                for t in trial.study.get_trials(deepcopy=False)
                if variant_parent(t) == trial.number
            ]

    def _add_students(
        self,
        trial: optuna.Trial,
        teacher: PipelineConfig,
        cands: list[Candidate],
        parent: dict[str, float],
    ) -> None:
        """Distil the new best candidate into small students (trained on its probabilities,
        fold by fold), and record those no member of the family beats on both score and
        operations as trials of their own. A student's fit energy is the teacher's plus its
        own measured fit (with the teacher's predictions on the training rows)."""
        students = student_configs(teacher, self.learners)
        if not students:
            return
        soft = [c.predict_proba(self.data.X[tr]) for c, (tr, _) in zip(
            cands, self.data.folds, strict=True)]  # fmt: skip
        family = []
        for i, config in enumerate(students):
            fitted, scores = [], []
            for (tr, va), proba in zip(self.data.folds, soft, strict=True):
                fit_m, cand = self._measured_fit(config, tr, self.random_state, soft_labels=proba)
                scores.append(self._score(cand, va))
                fitted.append((fit_m, cand))
            ops = fitted[0][1].compiled.operations_per_row(self.data.X_ref[:OPS_ROWS])
            family.append((i, float(np.mean(scores)), ops, fitted))
        chosen = pick_variants(
            (parent["score"], parent["ops_per_row"]), [(i, s, o) for i, s, o, _ in family]
        )
        teacher_params = teacher.trial_params()
        for i, score, _, fitted in family:
            if i not in chosen:
                continue
            own_j = float(np.mean([m.joules for m, _ in fitted]))
            own_s = float(np.mean([m.wall_seconds for m, _ in fitted]))
            student = fitted[0][1]
            metrics, source = self._metrics(
                student, score, parent["fit_energy_j"] + own_j, parent["fit_seconds"] + own_s
            )
            description = student.config.describe(self.data.X.shape[1], student.n_selected)
            description += f" (distilled from trial {trial.number})"
            attrs = {
                **completed_attrs(metrics, description, source),
                **student_attrs(trial.number, student.config.trial_params(), teacher_params),
            }
            trial.study.add_trial(
                optuna.trial.create_trial(
                    params={},
                    distributions={},
                    values=self._values(metrics),
                    user_attrs=attrs,
                    constraints=self.limits.as_constraints(metrics),
                )
            )
        if chosen:
            self._added += [
                t for t in trial.study.get_trials(deepcopy=False)
                if TrialRecord.from_trial(t).student_of == trial.number
            ]  # fmt: skip

    def _low_fidelity_check(self, trial, config, train, val, seed) -> None:
        """Multi-fidelity: fit on a stratified eighth of the training rows first (at least
        ``LOW_FIDELITY_MIN_ROWS``) and go on to the full fit only if the candidate is near the
        front of the trials seen at that same fidelity (asynchronous successive halving, on
        two objectives): it is dropped when an earlier low-fidelity candidate at most 25 %
        costlier (operations per row) scored ``fidelity_margin`` more. It is also dropped when
        the full fit would end past the deadline, projected from the low-fidelity fit's time.
        """
        rows = max(LOW_FIDELITY_MIN_ROWS, train.size // 8)
        sub = train[stratified_subset(self.data.y[train], rows / train.size, seed=seed)]
        t0 = time.perf_counter()
        cand = fit_candidate(config, self.data.X[sub], self.data.y[sub], random_state=seed,
                             sample_weight=self.data.weights(sub))  # fmt: skip
        score = self._score(cand, val)
        elapsed = time.perf_counter() - t0
        ops = cand.compiled.operations_per_row(self.data.X_ref[:OPS_ROWS])
        margin = self.fidelity_margin
        beaten = [s for s, o in self._rung if s >= score + margin and o <= 1.25 * ops]
        self._rung.append((score, ops))
        if beaten:
            raise _Pruned(
                trial,
                f"low-fidelity score {score:.4f} on {sub.size} rows: a candidate as cheap "
                f"scored {max(beaten):.4f} at that fidelity",
            )
        projected = elapsed * train.size / sub.size * len(self.data.folds)
        if time.perf_counter() + projected > self.deadline:
            raise _Pruned(trial, "the full fit would overrun the time budget")

    def _counter(self):
        return self.meter.counter if isinstance(self.meter, OperationCountMeter) else None

    def _measured_fit(
        self, config, rows: np.ndarray, seed: int, soft_labels: np.ndarray | None = None
    ) -> tuple[Measurement, Candidate]:
        holder: dict[str, Candidate] = {}
        X, y, w = self.data.X[rows], self.data.y[rows], self.data.weights(rows)
        counter = self._counter()

        def fit() -> None:
            holder["c"] = fit_candidate(
                config, X, y, random_state=seed, sample_weight=w, soft_labels=soft_labels
            )
            if counter is not None:
                counter.add(_fit_ops(holder["c"], X.shape))

        return measure_fit(fit, meter=self.meter), holder["c"]

    def _measured_predict(self, candidate: Candidate, ops_per_row: float) -> Measurement:
        """Inference energy on the reference batch: from the user's rows through the encoder
        and the compiled model when the search has them (what ``predict`` costs), else from
        the encoded rows."""
        counter = self._counter()
        encode = self.data.encode
        batch = self.data.X_ref if encode is None else self.data.raw_ref

        def predict(X: object) -> object:
            out = candidate.predict_codes(X if encode is None else encode(X))
            if counter is not None:  # the operation-count model counts the kernel's work
                counter.add(max(1, int(ops_per_row * len(out))))
            return out

        return measure_predict(predict, batch, meter=self.meter)

    def _score(self, candidate: Candidate, rows: np.ndarray) -> float:
        return score_candidate(
            self.scorer,
            candidate,
            self.data.X[rows],
            self.data.y[rows],
            self.data.n_classes,
            self.data.weights(rows),
        )


def _fit_ops(candidate: Candidate, shape: tuple[int, int]) -> int:
    """Operation-count model of a fit: binning every value, then per member rows x selected
    columns x its size (trees or estimators; 1 for NB and KNN)."""
    n_rows, n_cols = shape
    ops = n_rows * n_cols * 8  # edges (sort) + binning
    for spec in candidate.config.members:
        size = int(spec.params.get("n_estimators", 1))
        ops += int(n_rows * spec.row_fraction) * candidate.n_selected * max(size, 1)
    return max(ops, 1)
