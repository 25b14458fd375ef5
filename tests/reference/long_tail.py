"""Long-tail and noisy-label references (NumPy, float64), written from the papers' formulas.

logit_adjusted: Menon et al. 2021 eq. 10 (tau = 1: Ren et al. 2020's balanced softmax) — the
cross-entropy reference of classification.py on x + tau * log(prior), the prior normalised here.
ldam: Cao et al. 2019 as the authors' LDAMLoss computes it — margins 1 / n^(1/4) scaled so the
largest is max_m, subtracted from the target logit, then cross-entropy of s * logits with torch's
weighted mean.
symmetric_cross_entropy: Wang et al. 2019 eq. 5-7 — alpha * CE + beta * RCE with
RCE = -sum_k p_k log q_k over the one-hot q, log 0 taken as A.
class_balanced_weights: Cui et al. 2019 eq. 3, (1 - beta) / (1 - beta^n), normalised to sum to C.
"""

import numpy as np

from .classification import _cdim, _index_parts, _is_prob, cross_entropy, log_softmax, reduce_targets


def _along_classes(v, x):
    shape = [1] * x.ndim
    shape[_cdim(x)] = x.shape[_cdim(x)]
    return np.asarray(v, dtype=np.float64).reshape(shape)


def logit_adjusted(
    x,
    y,
    class_counts=None,
    class_prior=None,
    tau=1.0,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
    sample_weight=None,
):
    freq = np.asarray(class_counts if class_counts is not None else class_prior, dtype=np.float64)
    prior = freq / freq.sum()
    return cross_entropy(
        x + tau * _along_classes(np.log(prior), x),
        y,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
        sample_weight=sample_weight,
    )


def ldam(
    x,
    y,
    class_counts=None,
    max_margin=0.5,
    scale=30.0,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    sample_weight=None,
):
    n = np.asarray(class_counts, dtype=np.float64)
    m = 1.0 / np.sqrt(np.sqrt(n))
    m = m * (max_margin / np.max(m))
    axis = _cdim(x)
    c = x.shape[axis]
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    onehot = np.moveaxis(np.eye(c)[safe], -1, axis)  # (C,) stays (C,): moving the last axis to 0
    logits = x - onehot * np.expand_dims(m[safe], axis)  # the target logit loses its class's margin
    return cross_entropy(
        scale * logits, y, weight=weight, ignore_index=ignore_index, reduction=reduction, sample_weight=sample_weight
    )


def symmetric_cross_entropy(
    x, y, alpha=0.1, beta=1.0, log_zero=-4.0, weight=None, ignore_index=-100, reduction="mean", sample_weight=None
):
    if _is_prob(x, y):
        raise TypeError("symmetric_cross_entropy takes class indices only")
    axis, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
    c = x.shape[axis]
    logp = log_softmax(x, axis)
    p = np.exp(logp)
    q = np.moveaxis(np.eye(c)[safe], -1, axis)
    with np.errstate(divide="ignore"):
        log_q = np.where(q > 0, np.log(q), log_zero)  # log 1 = 0 at the label, A elsewhere
    with np.errstate(invalid="ignore"):  # -inf log-probabilities times a zero label: the term is 0
        ce = -np.where(q > 0, q * logp, 0.0).sum(axis)
    rce = -(p * log_q).sum(axis)
    loss = np.where(valid, (alpha * ce + beta * rce) * wy, 0.0)
    return reduce_targets(loss, reduction, wy, sample_weight)


def class_balanced_weights(class_counts, beta=0.999):
    n = np.asarray(class_counts, dtype=np.float64)
    effective_number = (1.0 - np.power(beta, n)) / (1.0 - beta)
    w = 1.0 / effective_number
    return w / w.sum() * n.size
