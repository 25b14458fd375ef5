"""Segmentation references (NumPy, float64), written from the formulas, MONAI's documentation and Berman et al.'s code.

Layout: scores (N, C, *spatial); class-index targets (N, *spatial) or
probability / one-hot targets of the scores' shape. Nothing here imports
losskit. The overlap losses are written per (sample, class) with explicit
masks; the Lovász functions are a line-by-line float64 port of the reference
implementation ``lovasz_losses.py`` (Berman, Rannen Triki & Blaschko 2018),
loops and all.
"""

import numpy as np

from . import reduce
from .classification import log_softmax, xlogp


def _softmax(x, axis=1):
    return np.exp(log_softmax(x, axis))


def _sigmoid(x):
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _activate(x, activation):
    if activation == "softmax":
        return _softmax(x, 1)
    if activation == "sigmoid":
        return _sigmoid(x)
    return x


def _is_prob(x, y):
    return np.issubdtype(np.asarray(y).dtype, np.floating) and np.shape(y) == np.shape(x)


def _flat(x, y, activation, ignore_index):
    """(p (N, C, S), t (N, C, S), valid (N, S)) with the activation applied and ignored positions marked."""
    x = np.asarray(x, dtype=np.float64)
    n, c = x.shape[:2]
    p = _activate(x, activation).reshape(n, c, -1)
    if _is_prob(x, y):
        t = np.asarray(y, dtype=np.float64).reshape(n, c, -1)
        valid = np.ones((n, t.shape[2]), dtype=bool)
    else:
        labels = np.asarray(y).reshape(n, -1)
        valid = np.ones(labels.shape, dtype=bool) if ignore_index is None else labels != ignore_index
        t = np.zeros((n, c, labels.shape[1]))
        for k in range(c):
            t[:, k, :] = (labels == k) & valid
    return p, t, valid


def _sums(x, y, activation, ignore_index, batch, include_background, squared=False):
    """I, P, T per (sample, class) (or per class with batch), ignored positions dropped from every sum."""
    p, t, valid = _flat(x, y, activation, ignore_index)
    m = valid[:, None, :]
    p = np.where(m, p, 0.0)
    t = np.where(m, t, 0.0)
    inter = (p * t).sum(-1)
    pred = (p**2 if squared else p).sum(-1)
    truth = (t**2 if squared else t).sum(-1)
    if batch:
        inter, pred, truth = inter.sum(0), pred.sum(0), truth.sum(0)
    if not include_background and p.shape[1] > 1:
        inter, pred, truth = inter[..., 1:], pred[..., 1:], truth[..., 1:]
    return inter, pred, truth


def _ratio(num, den):
    """num / den, 1 (a perfect score) where den is 0."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    out = np.ones(num.shape)
    nz = den != 0
    out[nz] = num[nz] / den[nz]
    return out


def _class_reduce(loss, weight, reduction, include_background, c):
    """Catalog: none w_c·l_nc, sum Σ w·l, mean Σ w·l / (N Σ w)."""
    if weight is None:
        return reduce(loss, reduction)
    w = np.asarray(weight, dtype=np.float64)
    if not include_background and c > 1:
        w = w[1:]
    return reduce(loss, reduction, np.broadcast_to(w, loss.shape))


def _overlap(score):
    def ref(
        x,
        y,
        *,
        activation="softmax",
        batch=False,
        include_background=True,
        weight=None,
        smooth=1e-5,
        ignore_index=None,
        reduction="mean",
        squared=False,
        **hp,
    ):
        i, p, t = _sums(x, y, activation, ignore_index, batch, include_background, squared)
        loss = score(i, p, t, smooth, **hp)
        return _class_reduce(loss, weight, reduction, include_background, np.shape(x)[1])

    ref.__name__ = score.__name__
    return ref


@_overlap
def dice(i, p, t, s):
    return 1.0 - _ratio(2.0 * i + s, p + t + s)


@_overlap
def jaccard(i, p, t, s):
    return 1.0 - _ratio(i + s, p + t - i + s)


def _tversky_index(i, p, t, s, alpha, beta):
    fp = p - i  # Σ p(1 - t)
    fn = t - i  # Σ (1 - p)t
    return _ratio(i + s, i + alpha * fp + beta * fn + s)


@_overlap
def tversky(i, p, t, s, alpha=0.5, beta=0.5):
    return 1.0 - _tversky_index(i, p, t, s, alpha, beta)


FOCAL_TVERSKY_EPS = 1e-7  # below it (1 - TI)^gamma continues linearly to 0 (documented in losskit)


@_overlap
def focal_tversky(i, p, t, s, alpha=0.3, beta=0.7, gamma=0.75):
    u = 1.0 - _tversky_index(i, p, t, s, alpha, beta)
    eps = FOCAL_TVERSKY_EPS
    return np.where(u > eps, np.maximum(u, eps) ** gamma, np.maximum(u, 0.0) * eps ** (gamma - 1.0))


def generalized_dice(
    x,
    y,
    *,
    weight_type="square",
    activation="softmax",
    batch=False,
    include_background=True,
    weight=None,
    smooth=1e-5,
    ignore_index=None,
    reduction="mean",
):
    """Sudre et al. 2017 with MONAI's rule for absent classes: an infinite weight becomes the row's largest finite one."""
    i, p, t = _sums(x, y, activation, ignore_index, batch, include_background)
    rows_i, rows_p, rows_t = np.atleast_2d(i), np.atleast_2d(p), np.atleast_2d(t)
    losses = []
    for ri, rp, rt in zip(rows_i, rows_p, rows_t):
        with np.errstate(divide="ignore"):
            if weight_type == "square":
                g = 1.0 / rt**2
            elif weight_type == "simple":
                g = 1.0 / rt
            else:
                g = np.ones_like(rt)
        inf = np.isinf(g)
        g[inf] = 0.0
        if inf.any():
            g[inf] = g.max()
        if weight is not None:
            w = np.asarray(weight, dtype=np.float64)
            g = g * (w[1:] if not include_background and np.shape(x)[1] > 1 else w)
        num = 2.0 * (g * ri).sum() + smooth
        den = (g * (rp + rt)).sum() + smooth
        losses.append(1.0 - _ratio(num, den))
    loss = np.asarray(losses, dtype=np.float64).reshape(-1)
    if batch:
        loss = loss.reshape(())
    return reduce(loss, reduction)


def dice_ce(
    x,
    y,
    *,
    lambda_dice=1.0,
    lambda_ce=1.0,
    activation="softmax",
    batch=False,
    include_background=True,
    weight=None,
    smooth=1e-5,
    squared=False,
    label_smoothing=0.0,
    ignore_index=None,
    reduction="mean",
):
    """λ_d · dice + λ_ce · CE; CE over all classes: softmax CE, per-channel BCE (sigmoid), or CE of probabilities.

    "none": per sample, the weighted mean of its Dice scores over classes plus its own mean CE.
    """
    x = np.asarray(x, dtype=np.float64)
    n, c = x.shape[:2]
    per_sample = reduction == "none"
    d = dice(
        x,
        y,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        smooth=smooth,
        squared=squared,
        ignore_index=ignore_index,
        reduction=reduction,
    )
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    if per_sample:
        kept = w if include_background or c == 1 else w[1:]
        d = d.sum(-1) / kept.sum() if kept.sum() else np.zeros(n)
    p, t, valid = _flat(x, y, activation, ignore_index)

    def pool(loss, weights):  # loss, weights (N, ...): sum, mean over all, or per-sample means
        axes = tuple(range(1, loss.ndim))
        if reduction == "sum":
            return loss.sum()
        if reduction == "mean":
            return loss.sum() / weights.sum() if weights.sum() else 0.0
        num, den = loss.sum(axis=axes), weights.sum(axis=axes)
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)

    if activation == "sigmoid":
        z = x.reshape(n, c, -1)
        ts = t * (1 - label_smoothing) + 0.5 * label_smoothing
        # softplus(z) - t z = t softplus(-z) + (1 - t) softplus(z), each term 0 where its factor is 0 (z = ±inf)
        bce = xlogp(ts, np.logaddexp(0.0, -z)) + xlogp(1.0 - ts, np.logaddexp(0.0, z))
        ww = w[None, :, None] * valid[:, None, :]
        ce = pool(np.where(ww != 0, ww * bce, 0.0), ww)
    else:
        if activation == "softmax":
            logp = log_softmax(x.reshape(n, c, -1), 1)
        else:
            q = np.log(np.maximum(p, np.exp(-100.0)))
            logp = q - np.log(np.exp(q).sum(1, keepdims=True))
        eps = label_smoothing
        per_class = -xlogp(w[None, :, None], logp)  # a class of weight 0 adds nothing, also at log p = -inf
        if _is_prob(x, y):
            tt = (1 - eps) * t + eps / c
            loss = -xlogp(tt, -per_class).sum(1)  # (N, S); a class without mass adds nothing (0 · log 0 = 0)
            ce = pool(loss, np.ones(loss.shape))
        else:
            labels = np.asarray(y).reshape(n, -1)
            safe = np.where(valid, labels, 0)
            picked = np.take_along_axis(per_class, safe[:, None, :], 1)[:, 0]  # -w_y log p_y
            smooth_term = per_class.sum(1) / c
            loss = np.where(valid, (1 - eps) * picked + (eps * smooth_term if eps else 0.0), 0.0)
            ce = pool(loss, np.where(valid, w[safe], 0.0))
    # a term weighted 0 is absent (not 0 · inf: the CE is +inf at a -inf logit on the target class)
    return lambda_dice * d + (lambda_ce * np.asarray(ce, dtype=np.float64) if lambda_ce else 0.0)


# ---------------------------------------------------------------------------------------------
# Lovász: a port of Berman et al.'s lovasz_losses.py (PyTorch) to float64 NumPy
# ---------------------------------------------------------------------------------------------


def lovasz_grad(gt_sorted):
    """Gradient of the Lovász extension w.r.t. sorted errors (reference ``lovasz_grad``)."""
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.astype(np.float64).cumsum(0)
    union = gts + (1 - gt_sorted).astype(np.float64).cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def _mean(values, empty=0.0):
    values = list(values)
    return np.mean(values) if values else empty


def lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return 0.0
    signs = 2.0 * labels.astype(np.float64) - 1.0
    errors = 1.0 - logits * signs
    perm = np.argsort(-errors, kind="stable")
    errors_sorted = errors[perm]
    gt_sorted = labels[perm]
    grad = lovasz_grad(gt_sorted)
    return np.dot(np.maximum(errors_sorted, 0.0), grad)


def flatten_binary_scores(scores, labels, ignore=None):
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def lovasz_hinge(x, y, *, per_image=True, ignore_index=None, reduction="mean"):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if per_image:
        losses = np.array(
            [lovasz_hinge_flat(*_binary(flatten_binary_scores(lg, lb, ignore_index))) for lg, lb in zip(x, y)]
        ).reshape(-1)
    else:
        losses = np.float64(lovasz_hinge_flat(*_binary(flatten_binary_scores(x, y, ignore_index))))
    return reduce(losses, reduction)


def _binary(pair):
    scores, labels = pair
    return scores, (labels == 1).astype(np.float64)


def lovasz_softmax_flat(probas, labels, classes="present"):
    """probas (P, C), labels (P,) class indices or (P, C) one-hot/probabilities."""
    if probas.size == 0:
        return 0.0
    c = probas.shape[1]
    losses = []
    for k in range(c):
        fg = (labels == k).astype(np.float64) if labels.ndim == 1 else labels[:, k].astype(np.float64)
        if classes == "present" and fg.sum() == 0:
            continue
        class_pred = probas[:, k]
        errors = np.abs(fg - class_pred)
        perm = np.argsort(-errors, kind="stable")
        errors_sorted = errors[perm]
        fg_sorted = fg[perm]
        losses.append(np.dot(errors_sorted, lovasz_grad(fg_sorted)))
    return _mean(losses)


def flatten_probas(probas, labels, ignore=None, prob_targets=False):
    """(N, C, *) -> (P, C) and labels (P,) (or (P, C) for probability targets), ignored pixels removed."""
    c = probas.shape[1]
    probas = np.moveaxis(probas, 1, -1).reshape(-1, c)
    if prob_targets:
        return probas, np.moveaxis(labels, 1, -1).reshape(-1, c)
    labels = labels.reshape(-1)
    if ignore is None:
        return probas, labels
    valid = labels != ignore
    return probas[valid], labels[valid]


def lovasz_softmax(
    x, y, *, classes="present", per_image=False, activation="softmax", ignore_index=None, reduction="mean"
):
    x = np.asarray(x, dtype=np.float64)
    probas = _activate(x, activation)
    y = np.asarray(y)
    prob_targets = _is_prob(x, y)
    if per_image:
        losses = np.array(
            [
                lovasz_softmax_flat(*flatten_probas(pr[None], lb[None], ignore_index, prob_targets), classes=classes)
                for pr, lb in zip(probas, y)
            ]
        ).reshape(-1)
    else:
        losses = np.float64(
            lovasz_softmax_flat(*flatten_probas(probas, y, ignore_index, prob_targets), classes=classes)
        )
    return reduce(losses, reduction)
