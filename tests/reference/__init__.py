"""Independent float64 references, written from the formulas with NumPy/SciPy.

Nothing here imports losskit. Each function takes NumPy arrays and returns the
reduced loss (a NumPy scalar or array), so the battery can compare directly.
"""

import numpy as np


def reduce(loss, reduction, weight=None, batch_size=None):
    """mean | sum | none | batchmean, with Σ w·l / Σ w for a weighted mean and 0 when nothing counts."""
    loss = np.asarray(loss, dtype=np.float64)
    if weight is not None:
        weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), loss.shape)
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "batchmean":
        n = batch_size if batch_size is not None else (loss.shape[0] if loss.ndim else 1)
        return loss.sum() / n if n else np.float64(0.0)
    if reduction == "mean":
        denom = weight.sum() if weight is not None else loss.size
        return loss.sum() / denom if denom != 0 else np.float64(0.0)
    raise ValueError(reduction)


def elementwise(formula):
    """Turn an elementwise formula f(x, y, **hp) into a reference with reduction and sample_weight."""

    def ref(*args, reduction="mean", sample_weight=None, **hp):
        return reduce(formula(*args, **hp), reduction, sample_weight)

    ref.__name__ = formula.__name__
    return ref
