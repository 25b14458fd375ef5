"""Distribution references: SciPy's rel_entr / jensenshannon and the textbook formulas."""

import numpy as np
from scipy.special import rel_entr

from . import elementwise


@elementwise
def kl_div(x, y, log_target=False):
    p = np.exp(y) if log_target else y
    return rel_entr(p, np.exp(x))


def _softmax_limit(x, axis):
    """Logits whose softmax is the limit where a row holds +inf: its +inf entries share the mass equally."""
    x = np.asarray(x, dtype=np.float64)
    rows = np.isposinf(x).any(axis, keepdims=True) & ~np.isnan(x).any(axis, keepdims=True)
    return np.where(rows, np.where(np.isposinf(x), 0.0, -np.inf), x)


@elementwise
def js_div(x, y, log_target=False, from_logits=False, dim=None):
    if from_logits:
        axis = dim if dim is not None else (1 if x.ndim > 1 else 0)
        x = _softmax_limit(x, axis)
        if log_target:
            y = _softmax_limit(y, axis)
        x = x - np.log(np.exp(x - x.max(axis, keepdims=True)).sum(axis, keepdims=True)) - x.max(axis, keepdims=True)
        if log_target:
            y = y - np.log(np.exp(y - y.max(axis, keepdims=True)).sum(axis, keepdims=True)) - y.max(axis, keepdims=True)
    p = np.exp(x)
    q = np.exp(y) if log_target else y
    m = 0.5 * (p + q)
    return 0.5 * rel_entr(p, m) + 0.5 * rel_entr(q, m)


@elementwise
def poisson_nll(x, y, log_input=True, full=False, eps=1e-8):
    with np.errstate(invalid="ignore"):
        loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    # the limits where the formula is inf - inf or 0 * inf: a rate of +inf dominates (+inf), and a
    # log-rate of -inf with count 0 leaves e^x = 0
    loss = np.where(np.isposinf(x), np.inf, loss)
    if log_input:
        loss = np.where(np.isneginf(x) & (y == 0), 0.0, loss)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
        loss = loss + np.where(y > 1, stirling, 0.0)
    return loss


@elementwise
def gaussian_nll(x, y, var, full=False, eps=1e-6):
    var = np.asarray(var, dtype=np.float64)
    if var.ndim == x.ndim - 1 and var.shape == x.shape[:-1]:
        var = var[..., None]
    v = np.maximum(var, eps)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    return loss + (0.5 * np.log(2 * np.pi) if full else 0.0)
