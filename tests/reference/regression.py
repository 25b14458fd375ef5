"""Regression references (NumPy, float64), from the formulas."""

import numpy as np

from . import elementwise, reduce


@elementwise
def l1(x, y):
    return np.abs(x - y)


@elementwise
def mse(x, y):
    return (x - y) ** 2


def rmse(x, y, reduction="mean", eps=0.0, sample_weight=None):
    sq = (x - y) ** 2
    return np.sqrt(reduce(sq, reduction, sample_weight) + eps)


@elementwise
def smooth_l1(x, y, beta=1.0):
    r = np.abs(x - y)
    if beta == 0:
        return r
    return np.where(r < beta, 0.5 * r**2 / beta, r - 0.5 * beta)


@elementwise
def huber(x, y, delta=1.0):
    r = np.abs(x - y)
    return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))


@elementwise
def log_cosh(x, y):
    # log cosh r = log((e^r + e^-r) / 2), evaluated with logaddexp (no overflow)
    r = x - y
    return np.logaddexp(r, -r) - np.log(2.0)


@elementwise
def mape(x, y, eps=1e-7):
    with np.errstate(invalid="ignore"):
        ratio = 100.0 * np.abs(x - y) / np.maximum(np.abs(y), eps)
    # |x - y| / |y| -> 1 as |y| -> inf with x finite (the quotient above is inf/inf there)
    return np.where(np.isinf(y) & np.isfinite(x), 100.0, ratio)


@elementwise
def msle(x, y, eps=1e-7):
    return (np.log(np.maximum(x, eps) + 1.0) - np.log(np.maximum(y, eps) + 1.0)) ** 2


@elementwise
def quantile(x, y, quantile=0.5):
    q = np.asarray(quantile, dtype=np.float64)
    if q.ndim:  # several quantiles: x (*, Q), y (*)
        y = y[..., None]
    r = y - x
    return np.maximum(q * r, (q - 1.0) * r)
