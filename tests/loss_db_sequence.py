"""loss_db entries of the sequence family (CTC), kept in their own file; tests/loss_db.py imports ENTRIES.

Reference: tests/reference/sequence.py, a float64 NumPy forward algorithm
(Graves et al. 2006), independent of torch; test_sequence.py adds torch and
Keras parity.

Two things the generic battery cannot see on its own, handled here:

* The samples' ``log_probs`` are log-softmax outputs shifted down by 20 (log-scores,
  not normalised). torch's CTC backward, which losskit keeps bit for bit, returns
  d(loss)/d(log_probs) **plus** exp(log_probs)·grad_output on every frame inside the
  input length — the term that log_softmax's backward cancels, so the gradient with
  respect to the logits is exact. gradcheck perturbs log_probs directly and would see
  that term (about 0.1 per entry for normalised inputs); shifted by -20 it is below
  3e-9, so gradcheck checks the alpha-beta part of the kernel's gradient.
  test_sequence.py checks the gradient through log_softmax against finite
  differences and asserts the extra term against torch on normalised inputs.
* torch's "mean" divides each sample's loss by its target length before averaging,
  so mean(none) != mean: reduction_consistent=False.
"""

from __future__ import annotations

from typing import List

import numpy as np
import torch

from .loss_db import ErrorCase, LossInfo, Sample, _long, _t, hp_error
from .reference import sequence as ref_seq

#: the samples' log-probabilities are shifted by this (see the module docstring)
SHIFT = -20.0


def _log_scores(rng, shape, axis=-1):
    logits = rng.normal(0.0, 1.5, size=shape)
    logits = logits - logits.max(axis=axis, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=axis, keepdims=True)) + SHIFT


def _ctc_samples(rng) -> List[Sample]:
    out = []
    # 1. padded targets, every length different, one empty target, blank 0
    t, n, c, s = 8, 4, 5, 4
    out.append(
        Sample(
            (
                _t(_log_scores(rng, (t, n, c))),
                _long(rng.integers(1, c, size=(n, s))),
                _long([8, 7, 5, 6]),
                _long([4, 2, 0, 3]),
            ),
            {},
            desc="padded (N, S), blank 0",
        )
    )
    # 2. concatenated 1-D targets with repeats, blank in the middle, lengths as Python lists
    t, c, blank = 7, 4, 2
    labels = [[0, 0, 1], [3], [1, 3, 1, 3]]
    out.append(
        Sample(
            (_t(_log_scores(rng, (t, 3, c))), _long([k for lab in labels for k in lab]), [7, 4, 7], [3, 1, 4]),
            {"blank": blank},
            desc="concatenated 1-D targets, blank 2, list lengths",
        )
    )
    # 3. batch_first, zero_infinity, one target that cannot fit (three equal labels need five frames)
    t, n, c = 6, 3, 4
    out.append(
        Sample(
            (
                _t(_log_scores(rng, (n, t, c))),
                _long([[1, 2, 3], [2, 2, 2], [3, 1, 0]]),
                _long([6, 4, 5]),
                _long([3, 3, 2]),
            ),
            {"batch_first": True, "zero_infinity": True},
            desc="batch_first, zero_infinity with an infeasible target",
        )
    )
    # 4. blank = C - 1 (TensorFlow's convention), repeated labels
    t, n, c = 9, 2, 6
    out.append(
        Sample(
            (_t(_log_scores(rng, (t, n, c))), _long([[1, 1, 4, 0], [2, 3, 3, 3]]), _long([9, 9]), _long([4, 3])),
            {"blank": c - 1},
            desc="blank = C - 1",
        )
    )
    # 5. one unbatched sequence (T, C)
    out.append(
        Sample(
            (_t(_log_scores(rng, (5, 3))), _long([1, 2]), 5, 2),
            {},
            desc="unbatched (T, C)",
        )
    )
    return out


def _ctc_extremes() -> List[Sample]:
    logits = torch.full((6, 2, 4), -1e4, dtype=torch.float64)
    logits[:, 0, 1] = 1e4  # sample 0: every frame says class 1, target [1]: loss ~ 0
    logits[:, 1, 3] = 1e4  # sample 1: every frame says class 3, target [1, 2]: loss ~ 4e4, finite
    return [
        Sample(
            (torch.log_softmax(logits, 2), _long([[1, 0], [1, 2]]), _long([6, 6]), _long([1, 2])),
            {},
            desc="log_softmax of logits ±1e4",
        ),
        Sample(
            (
                torch.log_softmax(torch.randn(3, 2, 3, dtype=torch.float64), 2),
                _long([[1, 1], [1, 2]]),
                _long([3, 1]),
                _long([2, 2]),
            ),
            {"zero_infinity": True},
            desc="zero_infinity: both targets too long for their inputs",
        ),
    ]


def _lp(t=6, n=3, c=5):
    return torch.randn(t, n, c).log_softmax(2)


def _ctc_errors() -> List[ErrorCase]:
    tg = torch.tensor([[1, 2], [3, 4], [1, 1]])
    il, tl = torch.tensor([6, 6, 6]), torch.tensor([2, 2, 2])
    return [
        ErrorCase(
            (_lp(), tg, torch.tensor([6, 7, 6]), tl),
            {},
            ValueError,
            r"ctc_loss: input_lengths must be in \[0, T\] = \[0, 6\].*got 7 for sample 1",
        ),
        ErrorCase(
            (_lp(), tg, il, torch.tensor([2, 3, 2])),
            {},
            ValueError,
            r"ctc_loss: target_lengths must be at most the padded targets' length S = 2; got 3 for sample 1",
        ),
        ErrorCase(
            (_lp(), torch.tensor([[1, 0], [3, 4], [1, 1]]), il, tl),
            {},
            ValueError,
            r"ctc_loss: targets contain the blank index 0 within target_lengths \(sample 0, position 1\)",
        ),
        ErrorCase(
            (_lp(), torch.tensor([[1, 2], [3, 4], [1, 1]]), il, tl),
            {"blank": 3},
            ValueError,
            r"targets contain the blank index 3 within target_lengths \(sample 1, position 0\)",
        ),
        ErrorCase(
            (_lp(), torch.tensor([[1, 2], [3, 7], [1, 1]]), il, tl),
            {},
            ValueError,
            r"ctc_loss: targets contain class 7, outside the valid range \[0, 4\]",
        ),
        ErrorCase(
            (_lp(), tg, il, tl),
            {"blank": 5},
            ValueError,
            r"ctc_loss: blank must be a class index in \[0, C\) = \[0, 5\); got 5",
        ),
        ErrorCase((_lp(), tg.float(), il, tl), {}, TypeError, r"ctc_loss: targets must be an integer tensor"),
        ErrorCase((_lp().long(), tg, il, tl), {}, TypeError, r"ctc_loss: log_probs must be a floating-point tensor"),
        ErrorCase(
            (_lp(), tg[:2], il, tl),
            {},
            ValueError,
            r"ctc_loss: padded targets must be \(N, S\) with N = 3 \(log_probs' batch size\); got \(2, 2\)",
        ),
        ErrorCase(
            (_lp(), tg, il[:2], tl),
            {},
            ValueError,
            r"ctc_loss: input_lengths must have one per sample, shape \(3,\); got \(2,\)",
        ),
        ErrorCase(
            (_lp(), tg, [6, 6, 6], [2.0, 2.0, 2.0]),
            {},
            TypeError,
            r"ctc_loss: target_lengths must be an integer tensor or a sequence of ints",
        ),
        ErrorCase(
            (_lp(), torch.tensor([1, 2, 3, 4, 1]), il, tl),
            {},
            ValueError,
            r"ctc_loss: concatenated 1-D targets must hold sum\(target_lengths\) = 6 labels; got 5",
        ),
        ErrorCase(
            (_lp().unsqueeze(0), tg, il, tl), {}, ValueError, r"ctc_loss: log_probs must be \(T, N, C\) \(or \(T, C\)"
        ),
        hp_error({"blank": -1}, r"blank must be a class index in \[0, C\); got -1", args=(_lp(), tg, il, tl)),
        hp_error(
            {"zero_infinity": "yes"}, r"zero_infinity must be True or False", exc=TypeError, args=(_lp(), tg, il, tl)
        ),
        hp_error({"batch_first": 1}, r"batch_first must be True or False", exc=TypeError, args=(_lp(), tg, il, tl)),
    ]


def _ctc_nan_sample() -> Sample:
    return Sample(
        (
            _t(_log_scores(np.random.default_rng(3), (5, 2, 4))),
            _long([[1, 2], [3, 0]]),
            _long([5, 5]),
            _long([2, 1]),
        ),
        {},
        desc="NaN at frame 0 of sample 0",
    )


ENTRIES: List[LossInfo] = [
    LossInfo(
        name="ctc",
        reference=ref_seq.ctc_loss,
        samples=_ctc_samples,
        empty=lambda: Sample(
            (
                torch.zeros(5, 0, 4, dtype=torch.float64),
                torch.zeros(0, 3, dtype=torch.long),
                torch.zeros(0, dtype=torch.long),
                torch.zeros(0, dtype=torch.long),
            ),
            {},
            desc="N = 0",
        ),
        errors=_ctc_errors,
        extremes=_ctc_extremes,
        reduction_consistent=False,
        reasons={
            "reduction_consistent": "torch's 'mean' divides each sample's loss by its target length first",
            "double_backward": "torch's CTC kernel has no double backward (ctc_loss_backward is not differentiable)",
        },
        nan_sample=_ctc_nan_sample,
    )
]
