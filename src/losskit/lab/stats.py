"""The lab's statistics: intervals over seeds, paired tests against the best loss, ranks with ties, the verdict.

Every loss of a comparison trains on the same split for a given seed (the seed fixes the split, the
initialisation and the batch order), so per-seed results are *paired*: the difference between two losses on one
seed removes the split-to-split variation that dominates the spread of each loss on its own. The lab therefore

* gives each loss a 95% t-interval of its mean over seeds (``None``, shown "—", with a single seed);
* compares every loss with the best one (best mean) by a paired t-test over the seeds both have
  (:func:`scipy.stats.ttest_rel`), and corrects the K − 1 p-values for multiple comparisons with Holm's
  step-down method, which controls the family-wise error without assuming independent tests;
* asks of every other loss whether it is worse than the best by more than a *region of practical equivalence*
  (``ROPE``, 2% of the best mean; Benavoli et al. 2017, as in ``baycomp``): the paired t-test is run on the
  per-seed gaps minus that margin, so a loss that trails by a consistent but negligible amount (1 MAE in 45) is
  not declared "behind" just because many seeds make the gap significant. ``rope=0`` gives the plain test of
  "any difference";
* ranks the losses with ties: the best and every loss whose corrected p-value is at least ``alpha`` share rank 1
  (shown "1="); the others are ranked by mean, and losses with identical per-seed results share a rank;
* warns when two candidates give identical per-seed results (two spellings of one loss, or an argument that
  does nothing).

The t-test is the paired test of choice here: with the 3 to 10 seeds of a lab run a rank test (Wilcoxon) cannot
reach p < 0.05 below 6 seeds whatever the data, while the differences of a metric averaged over a test set are
close enough to normal for the t-test.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats as sps

#: family-wise error rate of the comparisons against the best loss
ALPHA = 0.05
#: region of practical equivalence, as a share of the best loss's mean primary metric: a loss is only "behind" the
#: best when the data show it worse by more than this. 2% is about one point of accuracy near 0.85, or 1 MAE in
#: 45 — differences a practitioner would not switch losses for, and smaller than the spread between seeds.
ROPE = 0.02
#: below this many seeds the verdict warns that intervals are wide and ties are likely
FEW_SEEDS = 5


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Optional[Tuple[float, float]]:
    """The t-interval of the mean of ``values``; None with fewer than two values (no spread to estimate)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    mean = float(x.mean())
    sem = float(x.std(ddof=1)) / math.sqrt(x.size)
    if sem == 0.0:
        return (mean, mean)
    low, high = sps.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
    return (float(low), float(high))


def holm(p_values: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the order given.

    The i-th smallest p-value is multiplied by (m − i + 1); the running maximum keeps the adjusted values in the
    order of the raw ones, and nothing exceeds 1. A hypothesis is rejected at level α when its adjusted p < α.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def paired_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Optional[float]:
    """Two-sided p-value of the paired t-test of ``a`` against ``b``; None with fewer than two pairs.

    Identical pairs give 1 (no evidence of a difference); a constant non-zero difference on every pair gives 0
    (scipy returns NaN there: the t statistic is infinite).
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size < 2:
        return None
    if not d.any():
        return 1.0
    if np.ptp(d) <= 1e-12 * np.abs(d).max():  # constant to rounding: scipy would lose all precision
        return 0.0
    return float(sps.ttest_rel(a, b).pvalue)


@dataclasses.dataclass
class LossStats:
    """One candidate's statistics on the primary metric.

    Attributes:
        loss: the candidate as written.
        n: seeds it has results for.
        mean: mean over its seeds.
        ci95: 95% t-interval of the mean, or None with one seed.
        diff: mean paired difference to the best (this − best) over the seeds both have, or None for the best.
        diff_ci95: 95% t-interval of that difference, or None.
        p_raw: paired t-test p-value against the best, or None (the best itself, or under two common seeds).
        p_holm: ``p_raw`` after Holm's correction over all comparisons with the best.
        rank: 1 for the tied-best set; otherwise one more than the number of candidates ahead of it.
        rank_label: ``rank`` with "=" when shared.
    """

    loss: str
    n: int
    mean: float
    ci95: Optional[Tuple[float, float]]
    diff: Optional[float] = None
    diff_ci95: Optional[Tuple[float, float]] = None
    p_raw: Optional[float] = None
    p_holm: Optional[float] = None
    rank: int = 0
    rank_label: str = ""


@dataclasses.dataclass
class Analysis:
    """The statistics of a comparison: rows best first, the tied-best set and the identical pairs."""

    rows: List[LossStats]
    best: List[str]
    identical: List[Tuple[str, str]]
    alpha: float
    seeds: int
    #: the equivalence margin in the metric's units (``rope`` × |best mean|)
    margin: float = 0.0
    #: the margin as a share of the best mean
    rope: float = ROPE

    def row(self, loss: str) -> LossStats:
        return next(r for r in self.rows if r.loss == loss)


def _common(a: Mapping[int, float], b: Mapping[int, float]) -> Tuple[List[float], List[float]]:
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float]
) -> Tuple[Optional[float], Optional[Tuple[float, float]], int]:
    """Mean of a − b over the seeds both have, its 95% t-interval, and the number of common seeds."""
    x, y = _common(a, b)
    if not x:
        return None, None, 0
    d = np.asarray(x) - np.asarray(y)
    return float(d.mean()), t_interval(d), int(d.size)


def analyse(
    per_seed: Mapping[str, Mapping[int, float]],
    higher_is_better: bool,
    alpha: float = ALPHA,
    identical_runs: Optional[Mapping[str, Mapping[int, object]]] = None,
    rope: float = ROPE,
) -> Analysis:
    """Intervals, paired tests against the best, Holm correction and ranks with ties.

    Args:
        per_seed: ``{loss: {seed: primary metric}}``, losses in the order given on the command line.
        higher_is_better: the primary metric's direction.
        alpha: family-wise error rate of the comparisons against the best.
        identical_runs: ``{loss: {seed: anything comparable}}`` used to detect identical candidates (every metric
            of a run, say); None: the primary metric alone.
        rope: the region of practical equivalence as a share of the best mean (0: test for any difference).
            ``p_raw``/``p_holm`` are then the paired t-test of "worse than the best by more than the margin"
            (1 where the mean gap is within the margin).

    Returns:
        The :class:`Analysis`, rows sorted best first (ties in mean keep the command-line order).
    """
    losses = [loss for loss in per_seed if per_seed[loss]]
    sign = -1.0 if higher_is_better else 1.0
    rows = {
        loss: LossStats(
            loss,
            len(per_seed[loss]),
            float(np.mean(list(per_seed[loss].values()))),
            t_interval(list(per_seed[loss].values())),
        )
        for loss in losses
    }
    order = sorted(losses, key=lambda loss: sign * rows[loss].mean)  # stable: equal means keep the given order
    if not order:
        return Analysis([], [], [], alpha, 0, 0.0, rope)
    best = order[0]
    others = order[1:]
    if not (math.isfinite(rope) and rope >= 0):
        raise ValueError(f"analyse: rope must be a finite number >= 0; got {rope!r}")
    margin = rope * abs(rows[best].mean)
    raw: Dict[str, Optional[float]] = {}
    for loss in others:
        r = rows[loss]
        r.diff, r.diff_ci95, _ = paired_difference(per_seed[loss], per_seed[best])
        x, y = _common(per_seed[loss], per_seed[best])
        # the gap in the "worse" direction, less the margin: the test asks whether it is above zero
        gap = sign * (np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)) - margin
        if gap.size >= 2 and gap.mean() <= 0.0:
            raw[loss] = r.p_raw = 1.0  # within the margin on average: no evidence of a relevant gap
        else:
            raw[loss] = r.p_raw = paired_test(gap, np.zeros_like(gap))
    tested = [loss for loss in others if raw[loss] is not None]
    for loss, p in zip(tested, holm([raw[loss] for loss in tested])):  # type: ignore[misc]
        rows[loss].p_holm = p

    reference = identical_runs if identical_runs is not None else per_seed

    def same(a: str, b: str) -> bool:
        ra, rb = reference[a], reference[b]
        return bool(ra) and set(ra) == set(rb) and all(ra[s] == rb[s] for s in ra)

    identical = [(a, b) for i, a in enumerate(losses) for b in losses[i + 1 :] if same(a, b)]

    # the tied-best set: not distinguishable from the best after the correction, or identical to it
    def indistinguishable(loss: str) -> bool:
        p = rows[loss].p_holm
        if p is None:  # under two common seeds: no test, so only an equal mean ties
            return rows[loss].mean == rows[best].mean
        return p >= alpha

    tied = [best] + [loss for loss in others if indistinguishable(loss) or same(loss, best)]
    for loss in tied:
        rows[loss].rank = 1
    rest = [loss for loss in order if loss not in tied]
    placed = len(tied)
    for i, loss in enumerate(rest):
        earlier = [other for other in rest[:i] if same(other, loss) or rows[other].mean == rows[loss].mean]
        rows[loss].rank = rows[earlier[0]].rank if earlier else placed + 1
        placed += 1
    ranks = [rows[loss].rank for loss in order]
    for loss in order:
        rows[loss].rank_label = f"{rows[loss].rank}=" if ranks.count(rows[loss].rank) > 1 else str(rows[loss].rank)
    sorted_rows = sorted((rows[loss] for loss in order), key=lambda r: (r.rank, sign * r.mean))
    seeds = max(r.n for r in sorted_rows)
    return Analysis(sorted_rows, [r.loss for r in sorted_rows if r.rank == 1], identical, alpha, seeds, margin, rope)


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _interval(ci: Optional[Tuple[float, float]]) -> str:
    if ci is None:
        return "—"
    digits = 3 if max(abs(ci[0]), abs(ci[1])) < 10 else 1  # both ends alike
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def verdict(
    analysis: Analysis,
    per_seed: Mapping[str, Mapping[int, float]],
    metric: str,
    higher_is_better: bool,
    reference: Optional[str],
    caveats: Sequence[str] = (),
) -> str:
    """The answer in words: the tied-best set, the effect against the reference loss with its interval, caveats.

    Args:
        analysis: what :func:`analyse` returned.
        per_seed: the same per-seed primary metrics.
        metric: the primary metric's name, for the text.
        higher_is_better: its direction.
        reference: the loss a practitioner would use without the lab (cross-entropy, MSE) as written among the
            candidates, or None when it is not one of them.
        caveats: further sentences (an interrupted run, a learning rate at the edge of the grid).
    """
    if not analysis.rows:
        return "No run finished: nothing to compare."
    sentences = []
    best = analysis.best
    top = analysis.rows[0]
    if analysis.seeds < 2:
        sentences.append(
            f"{top.loss} has the best test {metric} ({_fmt(top.mean)}), but with one seed per loss there is no "
            "interval and no test: this order is one draw. Run --seeds 5 or more before choosing."
        )
    elif len(best) == 1:
        sentences.append(
            f"Best: {top.loss} (test {metric} {_fmt(top.mean)}, 95% CI {_interval(top.ci95)}); every other loss is "
            f"behind it by more than the equivalence margin of {_fmt(analysis.margin)} (paired t-test over "
            f"{analysis.seeds} seeds, Holm-corrected, p < {analysis.alpha:g})."
        )
    else:
        listed = ", ".join(best)
        sentences.append(
            f"Best: {listed} — tied: over {analysis.seeds} seeds the data show none of them worse than "
            f"{top.loss} by more than the equivalence margin of {_fmt(analysis.margin)} ({analysis.rope:.0%} of its mean; "
            f"paired t-tests, Holm-corrected at {analysis.alpha:g}); choose among them on other grounds."
        )
    if reference is not None and reference in per_seed and analysis.seeds >= 2:
        if reference in best:
            sentences.append(
                f"{reference}, the usual default, is in the tied-best set: these runs give no reason to change it."
            )
        else:
            diff, ci, n = paired_difference(per_seed[top.loss], per_seed[reference])
            if diff is not None:
                word = "higher" if diff > 0 else "lower"
                sentences.append(
                    f"Against {reference}, the usual default, {top.loss} gives a {word} test {metric} by "
                    f"{_fmt(abs(diff))} (paired difference {_fmt(diff)}, 95% CI {_interval(ci)}, {n} seeds)."
                )
    if 2 <= analysis.seeds < FEW_SEEDS:
        sentences.append(
            f"Only {analysis.seeds} seeds: intervals are wide and real differences may show as ties; "
            "--seeds 10 narrows them."
        )
    for a, b in analysis.identical:
        sentences.append(f"Warning: {a} and {b} gave identical results on every seed; they are the same loss here.")
    sentences.extend(caveats)
    return " ".join(sentences)
