"""Long-tail and noisy-label losses as cases of ``python -m benchmarks`` (logit_adjusted, ldam, symmetric_cross_entropy).

No peer library ships these three, so each is timed against the eager torch a
practitioner writes from the paper or copies from the authors' repository:

* logit_adjusted: ``F.cross_entropy(x + tau * log prior, y)`` (Menon et al.'s recipe);
* ldam: the authors' ``LDAMLoss.forward`` (kaidic/LDAM-DRW) — a (N, C) uint8 index
  from ``scatter_``, the batch margins through a ``matmul`` with the one-hot, ``torch.where``,
  then ``F.cross_entropy(s * output)``; re-expressed here, not copied;
* symmetric_cross_entropy: the authors' form (HanxunH/SCELoss-Reproduce) — CE plus
  ``-(softmax.clamp(1e-7, 1) * one_hot.clamp(1e-4, 1).log()).sum(1).mean()``, which is
  losskit's loss with ``log_zero = log(1e-4)`` wherever no probability falls below 1e-7
  (the inputs here: standard normal logits, C <= 1000).

Each compares values before timing (the harness's check) at the class counts of
``CLASS_VARIANTS``.
"""

from __future__ import annotations

import math
from typing import List

import torch
import torch.nn.functional as F

import losskit.functional as LF


def _counts(classes: int, device) -> torch.Tensor:
    """Long-tailed training counts: 5000 examples for class 0 falling geometrically to 5 for the last class."""
    return torch.round(5000.0 * (1e-3 ** (torch.arange(classes, dtype=torch.float64) / max(classes - 1, 1)))).to(device)


def suite_cases() -> list:
    from .suite import CLASS_VARIANTS, Built, Case, _logits, _step  # suite imports this module lazily

    cases: List = []

    def logit_adjusted(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        counts = _counts(classes, device)
        log_prior = (counts / counts.sum()).log().to(x.dtype)
        by_hand = _step(lambda: F.cross_entropy(x + log_prior, y), [x])
        ours = _step(lambda: LF.logit_adjusted_cross_entropy(x, y, class_counts=counts), [x])
        return Built(ours, {"torch (by hand)": by_hand}, x.numel())

    cases.append(Case("logit_adjusted", logit_adjusted, CLASS_VARIANTS))

    def ldam(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        counts = _counts(classes, device)
        m_list = 1.0 / counts.sqrt().sqrt()
        m_list = (m_list * (0.5 / m_list.max())).to(x.dtype)

        def authors():
            index = torch.zeros_like(x, dtype=torch.uint8)
            index.scatter_(1, y.view(-1, 1), 1)
            batch_m = torch.matmul(m_list[None, :], index.to(x.dtype).transpose(0, 1)).view(-1, 1)
            output = torch.where(index.bool(), x - batch_m, x)
            return F.cross_entropy(30.0 * output, y)

        ours = _step(lambda: LF.ldam_loss(x, y, class_counts=counts), [x])
        return Built(ours, {"authors' LDAMLoss (torch)": _step(authors, [x])}, x.numel())

    cases.append(Case("ldam", ldam, CLASS_VARIANTS))

    def sce(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        log_zero = math.log(1e-4)

        def authors():
            ce = F.cross_entropy(x, y)
            p = torch.softmax(x, 1).clamp(min=1e-7, max=1.0)
            q = F.one_hot(y, classes).to(x.dtype).clamp(min=1e-4, max=1.0)
            return 0.1 * ce + 1.0 * (-(p * q.log()).sum(1)).mean()

        ours = _step(lambda: LF.symmetric_cross_entropy(x, y, log_zero=log_zero), [x])
        return Built(ours, {"authors' SCELoss (torch)": _step(authors, [x])}, x.numel())

    cases.append(Case("symmetric_cross_entropy", sce, CLASS_VARIANTS))
    return cases
