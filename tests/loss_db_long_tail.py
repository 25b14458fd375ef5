"""loss_db entries of the long-tail and noisy-label losses (losskit/classification/long_tail.py); tests/loss_db.py appends them.

References: tests/reference/long_tail.py (float64 NumPy from the papers' formulas; LDAM as the
authors' LDAMLoss computes it). tests/test_long_tail.py adds the identities (tau = 0 and
max_margin = 0 are cross-entropy, counts and their prior agree, SCE's closed form), the
class_balanced_weights helper and the modules' buffers.

Class counts are drawn long-tailed (1 to 1000 examples); ``logit_adjusted`` gets a prior instead
of counts in some samples. ±inf samples use -inf logits only (classes masked out, the common use):
a +inf logit is NaN in every softmax loss, torch's cross_entropy included.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List

import numpy as np
import torch

from .loss_db import (
    ErrorCase,
    LossInfo,
    Sample,
    _long,
    _t,
    class_errors,
    class_index_samples,
    hp_error,
    saturated_logit_extremes,
)
from .reference import long_tail as ref

_X43 = (torch.randn(4, 3), torch.tensor([0, 1, 2, 1]))  # (N, C) = (4, 3): the error cases' inputs


def _counts(rng: np.random.Generator, c: int) -> torch.Tensor:
    """Long-tailed counts: integer most of the time, float sometimes (counts of a subsample, smoothed counts)."""
    counts = np.sort(np.exp(rng.uniform(0.0, np.log(1000.0), size=c)))[::-1].copy()
    if rng.random() < 0.7:
        return _long(np.maximum(np.round(counts), 1))
    return _t(counts)


def _counts3() -> torch.Tensor:
    return torch.tensor([120, 15, 2])


def _with(kwargs: Dict[str, Any], cases: Callable[[], List[ErrorCase]]) -> Callable[[], List[ErrorCase]]:
    """Error cases with the hyperparameters a loss needs (its class counts) filled in where a case leaves them out."""
    return lambda: [dataclasses.replace(c, kwargs={**kwargs, **c.kwargs}) for c in cases()]


def _empty(**kw) -> Callable[[], Sample]:
    return lambda: Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.long)), dict(kw))


def _nan_sample(**kw) -> Callable[[], Sample]:
    return lambda: Sample((torch.randn(3, 4, dtype=torch.float64), torch.tensor([0, 1, 2])), dict(kw))


def _masked_logits(**kw) -> Callable[[], List[Sample]]:
    """-inf logits (masked classes): finite where the target's logit is finite, +inf where it is -inf."""

    def build():
        inf = float("inf")
        x = torch.tensor([[0.0, -inf, 1.0], [-inf, 2.0, 0.0], [1.0, 0.0, -inf], [3.0, -inf, -inf]], dtype=torch.float64)
        return [
            Sample((x, torch.tensor([0, 1, 0, 0])), dict(kw), desc="-inf logits, targets on finite logits"),
            Sample((x, torch.tensor([2, 0, 2, 1])), dict(kw), desc="-inf logits, targets on masked classes"),
        ]

    return build


def _common_errors(fn: str, owner_kw: Dict[str, Any]) -> List[ErrorCase]:
    return [
        ErrorCase(
            _X43,
            {**owner_kw, "weight": torch.ones(2)},
            ValueError,
            r"weight must have one entry per class \(3\); got 2",
        ),
        ErrorCase(
            _X43,
            {**owner_kw, "sample_weight": torch.ones(3)},
            ValueError,
            rf"{fn}: sample_weight must broadcast to the unreduced loss shape \(4,\); got \(3,\)",
        ),
    ]


def _counts_errors(fn: str) -> List[ErrorCase]:
    """Bad class_counts: the wrong length, not positive, not a tensor, not 1-D."""
    return [
        ErrorCase(
            _X43,
            {"class_counts": torch.tensor([10, 2])},
            ValueError,
            rf"{fn}: class_counts must have one entry per class \(3\); got 2",
        ),
        ErrorCase(
            (torch.randn(2, 4, 5), torch.zeros(2, 5, dtype=torch.long)),
            {"class_counts": _counts3()},
            ValueError,
            r"class_counts must have one entry per class \(4\); got 3",
        ),
        hp_error(
            {"class_counts": torch.tensor([10, -3, 2])},
            r"class_counts must be positive and finite for every class; got -3 for class 1",
            args=_X43,
        ),
        hp_error(
            {"class_counts": torch.tensor([10.0, 4.0, 0.0])},
            r"class_counts must be positive and finite for every class; got 0.0 for class 2 \(a class without",
            args=_X43,
        ),
        hp_error({"class_counts": torch.tensor([10.0, float("nan"), 1.0])}, r"got nan for class 1", args=_X43),
        hp_error({"class_counts": torch.tensor([10.0, float("inf"), 1.0])}, r"got inf for class 1", args=_X43),
        ErrorCase(  # the module takes a list (as every tensor hyperparameter); the functional wants a tensor
            _X43,
            {"class_counts": [10, 2, 1]},
            TypeError,
            rf"{fn}: class_counts must be a 1-D torch.Tensor .*; got list — wrap it with torch.tensor",
        ),
        hp_error(
            {"class_counts": torch.ones(3, 1)}, r"class_counts must be a 1-D tensor .*; got shape \(3, 1\)", args=_X43
        ),
        hp_error(
            {"class_counts": torch.ones(3, dtype=torch.bool)},
            r"class_counts must be a real tensor; got bool",
            TypeError,
            args=_X43,
        ),
    ]


def _index_only_error(fn: str, kw: Dict[str, Any]) -> ErrorCase:
    return ErrorCase(
        (torch.randn(4, 3), torch.softmax(torch.randn(4, 3), 1)),
        kw,
        TypeError,
        rf"{fn}: class-index targets must be an integer tensor; got float32 of shape \(4, 3\) — {fn} takes class indices only",
    )


# ---------------------------------------------------------------------------------------------
# logit_adjusted
# ---------------------------------------------------------------------------------------------


def _logit_adjusted_hparams(rng: np.random.Generator, c: int) -> Dict[str, Any]:
    kw: Dict[str, Any] = {"tau": float(rng.choice([0.0, 0.5, 1.0, 2.0]))}
    counts = _counts(rng, c)
    if rng.random() < 0.3:  # a prior, normalised or not (only its ratios matter)
        kw["class_prior"] = counts.double() / (counts.sum().double() if rng.random() < 0.5 else 1.0)
    else:
        kw["class_counts"] = counts
    if rng.random() < 0.4:
        kw["label_smoothing"] = float(rng.choice([0.1, 0.3]))
    return kw


def _logit_adjusted_errors() -> List[ErrorCase]:
    fn = "logit_adjusted_cross_entropy"
    counts = {"class_counts": _counts3()}
    prior = torch.tensor([0.85, 0.1, 0.05])
    return [
        *_with(counts, class_errors())(),
        *_common_errors(fn, counts),
        *_counts_errors(fn),
        hp_error(
            {"class_counts": None},
            r"give exactly one of class_counts .* and class_prior .*; got neither",
            args=_X43,
        ),
        hp_error(
            {"class_counts": _counts3(), "class_prior": prior},
            r"give exactly one of class_counts .* and class_prior .*; got both",
            args=_X43,
        ),
        hp_error(
            {"class_counts": None, "class_prior": torch.tensor([0.5, 0.0, 0.5])},
            r"class_prior must be positive and finite for every class; got 0.0 for class 1",
            args=_X43,
        ),
        ErrorCase(
            _X43,
            {"class_prior": torch.tensor([0.5, 0.5])},
            ValueError,
            rf"{fn}: class_prior must have one entry per class \(3\); got 2",
        ),
        hp_error({**counts, "tau": float("inf")}, r"tau must be a finite number in \[0, inf\); got inf", args=_X43),
        hp_error({**counts, "tau": float("nan")}, r"tau must be a finite number in \[0, inf\); got NaN", args=_X43),
        hp_error({**counts, "tau": -1.0}, r"tau must be in \[0, inf\); got -1.0", args=_X43),
        hp_error({**counts, "label_smoothing": 1.5}, r"label_smoothing must be in \[0, 1\]", args=_X43),
        ErrorCase(
            (torch.randn(4, 3), torch.softmax(torch.randn(4, 3), 1)),
            {**counts, "ignore_index": 1},
            ValueError,
            rf"{fn}: ignore_index applies to class-index targets",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# ldam
# ---------------------------------------------------------------------------------------------


def _ldam_hparams(rng: np.random.Generator, c: int) -> Dict[str, Any]:
    return {
        "class_counts": _counts(rng, c),
        "max_margin": float(rng.choice([0.0, 0.3, 0.5, 1.0])),
        "scale": float(rng.choice([1.0, 5.0, 30.0])),
    }


def _ldam_samples(rng: np.random.Generator) -> List[Sample]:
    out = class_index_samples(_ldam_hparams)(rng)
    # the authors' setting: cosine logits in [-1, 1] (normalised features and weights), scale 30, margin 0.5
    x = np.tanh(rng.normal(size=(8, 5)))
    y = rng.integers(0, 5, size=8)
    counts = _long([500, 120, 40, 9, 2])
    out.append(Sample((_t(x), _long(y)), {"class_counts": counts}, desc="cosine logits, defaults"))
    return out


def _ldam_errors() -> List[ErrorCase]:
    fn = "ldam_loss"
    counts = {"class_counts": _counts3()}
    return [
        *_with(counts, class_errors())(),
        *_common_errors(fn, counts),
        *_counts_errors(fn),
        _index_only_error(fn, counts),
        hp_error({"class_counts": None}, r"class_counts is required: a \(C,\) tensor .*; got None", args=_X43),
        hp_error({**counts, "max_margin": -0.1}, r"max_margin must be in \[0, inf\)", args=_X43),
        hp_error({**counts, "scale": 0.0}, r"scale must be in \(0, inf\); got 0.0", args=_X43),
        hp_error({**counts, "scale": float("inf")}, r"scale must be a finite number", args=_X43),
    ]


# ---------------------------------------------------------------------------------------------
# symmetric_cross_entropy
# ---------------------------------------------------------------------------------------------


def _sce_hparams(rng: np.random.Generator, c: int) -> Dict[str, Any]:
    return {
        "alpha": float(rng.choice([0.0, 0.1, 1.0])),
        "beta": float(rng.choice([0.5, 1.0])),
        "log_zero": float(rng.choice([-4.0, np.log(1e-4), -1.0])),
    }


def _sce_errors() -> List[ErrorCase]:
    fn = "symmetric_cross_entropy"
    return [
        *class_errors()(),
        *_common_errors(fn, {}),
        _index_only_error(fn, {}),
        hp_error({"alpha": -0.1}, r"alpha must be in \[0, inf\)", args=_X43),
        hp_error({"beta": -1.0}, r"beta must be in \[0, inf\)", args=_X43),
        hp_error({"log_zero": 0.0}, r"log_zero must be in \(-inf, 0\); got 0.0", args=_X43),
        hp_error({"log_zero": float("-inf")}, r"log_zero must be a finite number", args=_X43),
    ]


_LDAM_COUNTS3 = {"class_counts": torch.tensor([50, 5, 1])}

ENTRIES = [
    LossInfo(
        name="logit_adjusted",
        reference=ref.logit_adjusted,
        samples=class_index_samples(_logit_adjusted_hparams, prob_targets=True),
        empty=_empty(class_counts=torch.tensor([40, 9, 3, 1])),
        nan_sample=_nan_sample(class_counts=torch.tensor([40, 9, 3, 1])),
        errors=_logit_adjusted_errors,
        extremes=lambda: [
            *saturated_logit_extremes(**_LDAM_COUNTS3)(),
            *saturated_logit_extremes(class_prior=torch.tensor([0.9, 0.0999, 1e-4]), tau=2.0)(),
        ],
        inf_extremes=_masked_logits(class_counts=torch.tensor([50, 5, 1])),
        module_kwargs={"class_counts": torch.tensor([5.0, 3.0, 1.0])},
    ),
    LossInfo(
        name="ldam",
        reference=ref.ldam,
        samples=_ldam_samples,
        empty=_empty(class_counts=torch.tensor([40, 9, 3, 1])),
        nan_sample=_nan_sample(class_counts=torch.tensor([40, 9, 3, 1])),
        errors=_ldam_errors,
        extremes=lambda: [
            *saturated_logit_extremes(**_LDAM_COUNTS3)(),
            *saturated_logit_extremes(**_LDAM_COUNTS3, max_margin=1.0, scale=1.0)(),
        ],
        inf_extremes=_masked_logits(**_LDAM_COUNTS3),
        module_kwargs={"class_counts": torch.tensor([5.0, 3.0, 1.0])},
    ),
    LossInfo(
        name="symmetric_cross_entropy",
        reference=ref.symmetric_cross_entropy,
        samples=class_index_samples(_sce_hparams),
        empty=_empty(),
        nan_sample=_nan_sample(),
        errors=_sce_errors,
        extremes=lambda: [
            *saturated_logit_extremes()(),
            *saturated_logit_extremes(alpha=1.0, beta=0.5, log_zero=-9.0)(),
        ],
        inf_extremes=_masked_logits(),
    ),
]
