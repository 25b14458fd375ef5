"""Classification references (NumPy, float64), written from the formulas and papers.

Layout as torch: scores (N, C, *) or (C,); class-index targets (N, *) or ();
probability targets of the input's shape.
"""

import numpy as np

from . import reduce


def _cdim(x):
    return 0 if x.ndim == 1 else 1


def log_softmax(x, axis):
    """log softmax, and its limit where a row holds +inf: the +inf classes share the probability equally
    (one takes it all), every other class has probability 0 (log -inf)."""
    x = np.asarray(x, dtype=np.float64)
    posinf = np.isposinf(x)
    rows = posinf.any(axis=axis, keepdims=True)
    finite_x = np.where(rows, 0.0, x)  # the ordinary formula on rows without +inf
    m = finite_x.max(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        m = np.where(np.isneginf(m), 0.0, m)  # a row of -inf only stays -inf - log 0: NaN, as it should
        ordinary = finite_x - m - np.log(np.exp(finite_x - m).sum(axis=axis, keepdims=True))
    shared = -np.log(np.maximum(posinf.sum(axis=axis, keepdims=True), 1))
    with np.errstate(divide="ignore"):
        limit = np.where(posinf, shared, -np.inf)
    return np.where(rows, limit, ordinary)


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def xlogp(t, log_p):
    """``t · log p`` with ``0 · log 0 = 0``: a term without mass adds nothing (its log may be -inf)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(t) == 0, 0.0, t * log_p)


def _take(values, target, axis):
    """values[..., y, ...] along ``axis``; ignored targets must be masked by the caller."""
    return np.take_along_axis(values, np.expand_dims(target, axis), axis).squeeze(axis)


def _is_prob(x, y):
    return np.issubdtype(np.asarray(y).dtype, np.floating) and np.shape(y) == np.shape(x)


def reduce_targets(loss, reduction, target_weight, sample_weight=None):
    """Per-target losses: "mean" = Σ s·l / Σ s·w_y over targets that count (target_weight is 0 when ignored)."""
    w = target_weight if sample_weight is None else target_weight * sample_weight
    if reduction == "mean":
        d = w.sum()
        return (loss * (1 if sample_weight is None else sample_weight)).sum() / d if d != 0 else np.float64(0.0)
    return reduce(loss, reduction, sample_weight)


def _index_parts(x, y, weight, ignore_index):
    axis = _cdim(x)
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    w = np.ones(x.shape[axis]) if weight is None else weight
    return axis, valid, safe, np.where(valid, w[safe], 0.0)


def cross_entropy(x, y, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean", sample_weight=None):
    axis = _cdim(x)
    c = x.shape[axis]
    logp = log_softmax(x, axis)
    shape = [1] * x.ndim
    shape[axis] = c
    wc = np.ones(c) if weight is None else weight
    if _is_prob(x, y):
        t = y * (1 - label_smoothing) + label_smoothing / c
        loss = -(wc.reshape(shape) * xlogp(t, logp)).sum(axis)
        return reduce(loss, reduction, sample_weight)
    axis, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
    nll = -_take(logp, safe, axis) * wy
    smooth = -(wc.reshape(shape) * logp).sum(axis) if label_smoothing else 0.0  # (0 · inf is no term)
    loss = np.where(valid, (1 - label_smoothing) * nll + label_smoothing / c * smooth, 0.0)
    return reduce_targets(loss, reduction, wy, sample_weight)


def nll(x, y, weight=None, ignore_index=-100, reduction="mean"):
    axis, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
    loss = np.where(valid, -_take(x, safe, axis) * wy, 0.0)
    return reduce_targets(loss, reduction, wy)


def binary_cross_entropy(x, y, weight=None, reduction="mean", sample_weight=None):
    with np.errstate(divide="ignore"):
        loss = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction, sample_weight)


def bce_with_logits(x, y, weight=None, pos_weight=None, label_smoothing=0.0, reduction="mean", sample_weight=None):
    y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(xlogp(pw * y, log_sigmoid(x)) + xlogp(1 - y, log_sigmoid(-x)))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction, sample_weight)


def balanced_bce(x, y, beta=None, reduction="mean", sample_weight=None):
    b = (1 - y.mean()) if beta is None else beta  # HED: fraction of negatives
    loss = -(xlogp(b * y, log_sigmoid(x)) + xlogp((1 - b) * (1 - y), log_sigmoid(-x)))
    return reduce(loss, reduction, sample_weight)


def sigmoid_focal(x, y, alpha=0.25, gamma=2.0, label_smoothing=0.0, reduction="mean", sample_weight=None):
    # torchvision.ops.sigmoid_focal_loss, line by line
    y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    p = 1 / (1 + np.exp(-x))
    ce = -(xlogp(y, log_sigmoid(x)) + xlogp(1 - y, log_sigmoid(-x)))  # 0 · log 0 = 0 at logits of ±inf
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return reduce(loss, reduction, sample_weight)


def softmax_focal(x, y, alpha=None, gamma=2.0, weight=None, ignore_index=-100, reduction="mean", sample_weight=None):
    axis = _cdim(x)
    c = x.shape[axis]
    logp = log_softmax(x, axis)
    p = np.exp(logp)
    a = np.ones(c) if alpha is None else np.broadcast_to(np.asarray(alpha, dtype=np.float64), (c,))
    if _is_prob(x, y):
        shape = [1] * x.ndim
        shape[axis] = c
        wc = np.ones(c) if weight is None else weight
        loss = -(a.reshape(shape) * wc.reshape(shape) * (1 - p) ** gamma * xlogp(y, logp)).sum(axis)
        return reduce(loss, reduction, sample_weight)
    axis, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
    py, logpy = _take(p, safe, axis), _take(logp, safe, axis)
    loss = np.where(valid, -a[safe] * wy * (1 - py) ** gamma * logpy, 0.0)
    return reduce_targets(loss, reduction, wy, sample_weight)


def poly1(x, y, epsilon=1.0, label_smoothing=0.0, weight=None, ignore_index=-100, reduction="mean", sample_weight=None):
    # PolyLoss (Leng et al. 2022), Listing 1: pt = sum(labels * softmax(logits)), Poly1 = CE + eps (1 - pt)
    axis = _cdim(x)
    c = x.shape[axis]
    logp = log_softmax(x, axis)
    if _is_prob(x, y):
        labels = y
        valid, wy = None, None
    else:
        _, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
        labels = np.moveaxis(np.eye(c)[safe], -1, axis)
    labels = labels * (1 - label_smoothing) + label_smoothing / c
    ce = -xlogp(labels, logp).sum(axis)
    pt = (labels * np.exp(logp)).sum(axis)
    loss = ce + epsilon * (1 - pt)
    if valid is None:
        return reduce(loss, reduction, sample_weight)
    return reduce_targets(np.where(valid, loss * wy, 0.0), reduction, wy, sample_weight)


def gce(x, y, q=0.7, weight=None, ignore_index=-100, reduction="mean", sample_weight=None):
    axis = _cdim(x)
    p = np.exp(log_softmax(x, axis))
    if _is_prob(x, y):
        return reduce((1 - (y * p).sum(axis) ** q) / q, reduction, sample_weight)
    _, valid, safe, wy = _index_parts(x, y, weight, ignore_index)
    loss = np.where(valid, wy * (1 - _take(p, safe, axis) ** q) / q, 0.0)
    return reduce_targets(loss, reduction, wy, sample_weight)


def _pm1(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def hinge(x, y, reduction="mean", sample_weight=None):
    return reduce(np.maximum(0.0, 1 - _pm1(y) * x), reduction, sample_weight)


def squared_hinge(x, y, reduction="mean", sample_weight=None):
    return reduce(np.maximum(0.0, 1 - _pm1(y) * x) ** 2, reduction, sample_weight)


def categorical_hinge(x, y, reduction="mean", sample_weight=None):
    axis = _cdim(x)
    t = y if _is_prob(x, y) else np.moveaxis(np.eye(x.shape[axis])[y], -1, axis)
    # a zero coefficient selects nothing: 0 · ±inf reads 0 (the one-hot selection the formula means)
    pos = np.where(t == 0, 0.0, t * x).sum(axis)
    neg = np.where(t == 1, 0.0, (1 - t) * x).max(axis)
    return reduce(np.maximum(0.0, neg - pos + 1), reduction, sample_weight)


def multi_margin(x, y, p=1, margin=1.0, weight=None, reduction="mean"):
    x2 = np.atleast_2d(x)
    y1 = np.atleast_1d(y)
    n, c = x2.shape
    loss = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != y1[i]:
                z = max(0.0, margin - x2[i, y1[i]] + x2[i, j]) ** p
                loss[i] += z * (1.0 if weight is None else weight[y1[i]])
    loss /= c
    return reduce(loss if x.ndim == 2 else loss[0], reduction)


def multilabel_margin(x, y, reduction="mean"):
    x2, y2 = np.atleast_2d(x), np.atleast_2d(y)
    n, c = x2.shape
    loss = np.zeros(n)
    for i in range(n):
        labels = []
        for v in y2[i]:
            if v < 0:
                break
            labels.append(v)
        others = [k for k in range(c) if k not in labels]
        loss[i] = sum(max(0.0, 1 - (x2[i, j] - x2[i, k])) for j in labels for k in others) / c
    return reduce(loss if x.ndim == 2 else loss[0], reduction)


def soft_margin(x, y, reduction="mean", sample_weight=None):
    return reduce(np.logaddexp(0.0, -y * x), reduction, sample_weight)


def multilabel_soft_margin(x, y, weight=None, reduction="mean"):
    # a label of exactly 0 or 1 drops the other term (0 · log σ(∓inf) reads 0)
    loss = -(np.where(y == 0, 0.0, y * log_sigmoid(x)) + np.where(y == 1, 0.0, (1 - y) * log_sigmoid(-x)))
    if weight is not None:
        loss = loss * weight
    return reduce(loss.mean(-1), reduction)


def linear_cross_entropy(
    h,
    w,
    y,
    linear_bias=None,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    softcap=None,
    z_loss=0.0,
    chunk_size=None,
    reduction="mean",
):
    """Cross-entropy of h @ w.T + b (optionally soft-capped, class-weighted) plus z_loss * w_y * lse^2, from the formula.

    Index targets: l_i = (1-e) w_y (lse - z_y) + e/V sum_v w_v (lse - z_v) + z w_y lse^2, "mean" over sum w_y.
    Probability targets t (N, V): l_i = -sum_v w_v t'_v (z_v - lse) + z lse^2, t' = (1-e) t + e/V, "mean" over N.
    """
    unbatched = h.ndim == 1
    h = np.atleast_2d(h)
    z = h @ w.T + (0.0 if linear_bias is None else linear_bias)
    if softcap:
        z = softcap * np.tanh(z / softcap)
    v = z.shape[1]
    cw = np.ones(v) if weight is None else weight
    lse = np.logaddexp.reduce(z, axis=1)
    log_p = z - lse[:, None]
    e = label_smoothing
    if np.issubdtype(np.asarray(y).dtype, np.floating):
        t = (1 - e) * np.atleast_2d(y) + e / v
        loss = -(cw * t * log_p).sum(1) + z_loss * lse**2
        loss = loss[0] if unbatched and reduction == "none" else loss
        return loss.mean() if reduction == "mean" else reduce(loss, reduction)
    y = np.atleast_1d(y)
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    w_y = cw[safe] * valid
    loss = -(1 - e) * w_y * log_p[np.arange(len(y)), safe] - e / v * (cw * log_p).sum(1) + z_loss * w_y * lse**2
    loss = np.where(valid, loss, 0.0)
    if reduction == "mean":
        return loss.sum() / w_y.sum() if w_y.sum() else np.float64(0.0) * loss.sum()
    loss = loss[0] if unbatched and reduction == "none" else loss
    return reduce(loss, reduction)
