"""Stop when the front stops improving where it matters: the default stopping rule.

The search's answer is its default pick: the cheapest point within ``max_score_drop`` of the
best score. The rule follows the two numbers that decide it, after every sampled trial (with
the prefix variants it gave): the best score, and the energy of that pick. When neither has
improved by a meaningful margin (``MIN_SCORE_GAIN`` points of score, or ``MIN_ENERGY_GAIN`` of
the pick's energy) for ``patience`` sampled trials, further trials spend energy for nothing at
this rate, and the search stops.

Why not the hypervolume of the whole front: measured on spambase, magic and letter (100 trials
each), the hypervolume with energy on a log scale kept growing by 2-9 % per 20 trials through
ever cheaper, inaccurate points at the low end, while the pick did not change for 90 trials on
spambase; a hypervolume rule never stopped there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from greenauto.metrics import objective_metric
from greenauto.results import TrialRecord

__all__ = ["MIN_ENERGY_GAIN", "MIN_SCORE_GAIN", "FrontPlateau"]

#: A best score higher by more than this is an improvement (0.001 = a tenth of a point).
MIN_SCORE_GAIN = 0.001
#: A pick cheaper by more than this share of its energy is an improvement.
MIN_ENERGY_GAIN = 0.05


class FrontPlateau:
    """A `StopRule`: neither the best score nor the default pick's energy has improved for
    ``patience`` sampled trials.

    Parameters
    ----------
    objectives : sequence of str
        The search's objectives: ``"score"`` first, then the costs; the first cost is the
        energy the pick minimises.
    patience : int
        Sampled trials without improvement before the search stops.
    max_score_drop : float
        The default pick's tolerance (as ``GreenAutoClassifier.max_score_drop``).
    warmup : int
        Sampled trials before the rule may stop a search.
    allows : callable, optional
        Whether a completed trial's metrics meet the search's hard limits (others are not
        candidates for the pick, so they do not count).

    Examples
    --------
    >>> from greenauto.results import TrialRecord
    >>> rule = FrontPlateau(("score", "inference_energy"), patience=3, max_score_drop=0.005)
    >>> for i in range(5):
    ...     rule.update(TrialRecord(i, "COMPLETE", {}, {"score": 0.8,
    ...                 "inference_energy_j_per_1k": 1.0}))
    >>> rule.reason()
    'the front stopped improving: no better score nor cheaper pick in the last 4 trials'
    """

    def __init__(
        self,
        objectives: Sequence[str],
        *,
        patience: int,
        max_score_drop: float,
        warmup: int | None = None,
        allows: Callable[[Mapping[str, float]], bool] = lambda metrics: True,
    ) -> None:
        self.energy = objective_metric(objectives[1]).name
        self.patience = int(patience)
        self.max_score_drop = float(max_score_drop)
        self.warmup = self.patience if warmup is None else int(warmup)
        self.points: list[tuple[float, float]] = []  # (score, energy)
        self.sampled = 0
        self.last_gain = 0  # sampled trial count at the last improvement
        self.state: tuple[float, float] | None = None  # (best score, pick energy)
        self.allows = allows

    def update(self, record: TrialRecord) -> None:
        """Take in one more finished trial (variants count with their parent's trial)."""
        if record.sampled:
            self.sampled += 1
        if not record.complete or not self.allows(record.metrics):
            return
        self.points.append((float(record.metrics["score"]), float(record.metrics[self.energy])))
        best = max(s for s, _ in self.points)
        pick = min(e for s, e in self.points if s >= best - self.max_score_drop - 1e-12)
        if self.state is None or _improves((best, pick), self.state):
            self.last_gain = self.sampled
            self.state = (best, pick)  # gains are measured from the last counted one

    def reason(self) -> str | None:
        """Why to stop now, or None."""
        if self.sampled < self.warmup or self.sampled - self.last_gain < self.patience:
            return None
        return (
            "the front stopped improving: no better score nor cheaper pick in the last "
            f"{self.sampled - self.last_gain} trials"
        )


def _improves(new: tuple[float, float], old: tuple[float, float]) -> bool:
    score_gain = new[0] - old[0] > MIN_SCORE_GAIN
    energy_gain = new[1] < old[1] * (1.0 - MIN_ENERGY_GAIN) and math.isfinite(new[1])
    return score_gain or energy_gain
