"""Keras 3's losses, with Keras's semantics and numbers, computed with PyTorch.

    import losskit.keras as lkk
    loss = lkk.categorical_crossentropy(y_true, y_pred)          # per-sample, (N,)
    crit = lkk.CategoricalCrossentropy(from_logits=True)         # Keras's class
    value = crit(y_true, y_pred, sample_weight=w)                # Keras's reduction
    crit = lkk.get("categorical_crossentropy")                   # Keras's names

What differs from the rest of losskit, on purpose, because Keras does it so:

* argument order ``(y_true, y_pred)``;
* probabilities in by default (``from_logits=False``), clipped to
  ``[1e-7, 1 - 1e-7]`` (Keras's epsilon) before the log;
* functions return the per-sample loss: the mean (or sum) over the last axis;
* classes reduce with ``"sum_over_batch_size"`` (Σ w·l / number of entries),
  ``"sum"``, ``"mean"`` (the same as sum_over_batch_size),
  ``"mean_with_sample_weight"`` (Σ w·l / Σ w) or ``"none"``/``None``, and
  broadcast ``sample_weight`` after squeezing or expanding one trailing
  dimension of size 1, exactly as Keras's ``reduce_weighted_values`` does.

Dtypes follow Keras 3 on its torch backend:

* a class computes in its ``dtype`` (a dtype name, a ``torch.dtype``, a Keras
  ``DTypePolicy`` or a policy name such as ``"mixed_bfloat16"``, whose compute
  dtype is used; default ``"float32"``, Keras's default floatx — losskit does
  not read ``keras.config.floatx()``). Floating ``y_true`` and ``y_pred`` are
  cast to it first, so float64 inputs to a default loss are rounded to
  float32 and the loss is float32. The loss comes back in that dtype, except
  that with ``dtype="float64"`` the dividing reductions
  (``"sum_over_batch_size"``, ``"mean"``, ``"mean_with_sample_weight"``) give
  float32, because Keras's ``divide_no_nan`` demotes 64-bit results ("sum" and
  "none" stay float64). Half precision is computed in float32 and rounded once
  at the end (Keras computes in the half dtype, so values agree to that
  dtype's precision). Integer labels are not cast (Keras casts them to the
  loss dtype and back, which in bfloat16 would round labels above 256).
* a function returns the loss in ``y_pred``'s floating dtype, as Keras's
  functions do (half precision again computed in float32), with Keras's two
  exceptions: ``mean_squared_logarithmic_error`` always returns float32, and
  the hinge losses return float32 for float64 input.

Two deliberate departures: a reduction over an empty batch gives 0 on the
autograd graph (Keras returns the empty tensor), and ``get_config()`` returns
Keras's keys plus any hyperparameter Keras forgets to save (``Huber``'s
``delta``, ``CosineSimilarity``'s and ``SparseCategoricalCrossentropy``'s
``axis``, and ``dtype`` when one was given), so a config round trip keeps
them; Keras's ``from_config`` accepts the extra keys.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import functional as LF
from ._core.reduction import safe_divide, zero_loss
from ._core.spec import autocast_off
from ._core.targets import to_plus_minus_one
from ._core.validation import check_number, compute_dtype, data_checks_active, host_readable, require

__all__ = [
    "EPSILON",
    "get",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "kl_divergence",
    "poisson",
    "cosine_similarity",
    "categorical_generalized_cross_entropy",
    "ctc",
    "ctc_batch_cost",
    "dice",
    "tversky",
    "circle",
    "KerasLoss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Huber",
    "LogCosh",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "CosineSimilarity",
    "CategoricalGeneralizedCrossEntropy",
    "CTC",
    "Dice",
    "Tversky",
    "Circle",
]

#: Keras's backend epsilon (``keras.backend.epsilon()``)
EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
#: reductions that end in Keras's ``divide_no_nan``, which returns float32 for float64 (its 64-to-32-bit rule)
_DIVIDING_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")
_FLOAT_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


# ---------------------------------------------------------------------------------------------
# private helpers: Keras's conversions, rank alignment and reduction
# ---------------------------------------------------------------------------------------------


def _as_pred(y_pred) -> torch.Tensor:
    """y_pred as a floating tensor (half precision computes in float32, as everywhere in losskit)."""
    y_pred = torch.as_tensor(y_pred)
    if not y_pred.is_floating_point():
        return y_pred.to(torch.float32)
    return y_pred.to(compute_dtype(y_pred))


def _as_true(y_true, y_pred: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)


def _same_rank(x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one trailing size-1 axis."""
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _prepare(y_true, y_pred) -> Tuple[torch.Tensor, torch.Tensor]:
    y_pred = _as_pred(y_pred)
    y_true, y_pred = _same_rank(_as_true(y_true, y_pred), y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"losskit.keras: y_true and y_pred must have the same shape (after Keras's squeeze of a trailing "
            f"size-1 axis); got y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}"
        )
    return y_true, y_pred


def _clip_probabilities(p: torch.Tensor) -> torch.Tensor:
    return p.clamp(EPSILON, 1.0 - EPSILON)


def _keras_value_error(owner: str, keras_message: str, argument: str, value) -> ValueError:
    """Keras's own message first (code that matches Keras's text keeps working), then which loss refused what."""
    return ValueError(f"{keras_message} (losskit.keras.{owner}: invalid {argument} {value!r})")


def _check_reduction(owner: str, reduction) -> None:
    """Keras's ``standardize_reduction``, with its message.

    Keras prints a Python set there, whose order changes from process to process (string hashing);
    losskit prints the same set in a fixed order.
    """
    if reduction not in REDUCTIONS:
        allowed = "{" + ", ".join(repr(r) for r in REDUCTIONS) + "}"
        message = f"Invalid value for argument `reduction`. Expected one of {allowed}. Received: reduction={reduction}"
        raise _keras_value_error(owner, message, "reduction", reduction)


def _loss_dtype(owner: str, dtype) -> Tuple[torch.dtype, Optional[str]]:
    """Keras's ``dtype`` argument of a loss: (its compute dtype, the name ``get_config`` saves, None if not given).

    Accepts what Keras's ``dtype_policies.get`` accepts for a loss: None (float32, Keras's default
    floatx), a dtype name, a mixed policy name, a Keras ``DTypePolicy`` (its compute dtype) or a
    ``torch.dtype``. Only floating dtypes: a loss cast to an integer dtype would truncate its inputs.
    """
    if dtype is None:
        return torch.float32, None
    if isinstance(dtype, torch.dtype):
        name = compute = str(dtype).replace("torch.", "")
    elif isinstance(dtype, str):
        name, compute = dtype, dtype[len("mixed_") :] if dtype in ("mixed_float16", "mixed_bfloat16") else dtype
    elif isinstance(getattr(dtype, "compute_dtype", None), str):  # a keras DTypePolicy, without importing keras
        name, compute = getattr(dtype, "name", dtype.compute_dtype), dtype.compute_dtype
    else:
        message = (
            f"Cannot interpret `dtype` argument. Expected a string or an instance of DTypePolicy. "
            f"Received: dtype={dtype}"
        )
        raise _keras_value_error(owner, message, "dtype", dtype)
    if compute in _FLOAT_DTYPES:
        return _FLOAT_DTYPES[compute], name
    if isinstance(getattr(torch, compute, None), torch.dtype):
        raise ValueError(
            f"losskit.keras.{owner}: dtype must be a floating dtype (float16, bfloat16, float32, float64) "
            f"or a policy computing in one; got {dtype!r}"
        )
    message = (
        f"Cannot convert {dtype!r} to a mixed precision DTypePolicy. Valid policies include 'mixed_float16', "
        f"'mixed_bfloat16', and the name of any float dtype such as 'float32'."
    )
    raise _keras_value_error(owner, message, "dtype", dtype)


def _keras_dtype(rule: Callable[[torch.dtype], torch.dtype] = lambda dtype: dtype):
    """Decorator: a function returns its loss in the dtype Keras 3's function returns, ``rule(y_pred's dtype)``.

    Keras computes in y_pred's dtype (y_true is cast to it); losskit computes half precision in
    float32 and rounds once here. Non-floating y_pred keeps the function's own float32.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def keras_function(y_true, y_pred, *args, **kwargs):
            with autocast_off():  # float32 inside, as the declared losses (_core/spec.py)
                loss = fn(y_true, y_pred, *args, **kwargs)
            pred_dtype = (y_pred if isinstance(y_pred, torch.Tensor) else torch.as_tensor(y_pred)).dtype
            return loss.to(rule(pred_dtype)) if pred_dtype.is_floating_point else loss

        return keras_function

    return decorate


def _float64_to_float32(dtype: torch.dtype) -> torch.dtype:
    """Keras's 64-to-32-bit rule of ``result_type``, which some of its functions pass through."""
    return torch.float32 if dtype == torch.float64 else dtype


def _check_class_range(caller: str, labels: torch.Tensor, num_classes: int, ignore_class: Optional[int]) -> None:
    """Class indices in [0, C), a clear error instead of the gather's; ignored entries are already replaced by 0.

    It reads the data, so it follows losskit's data-check policy (skipped under torch.compile and,
    after ``set_validation(False)``, on accelerators).
    """
    if labels.numel() == 0 or not data_checks_active(labels):
        return
    if not host_readable(labels):  # an accelerator: a device-side check, no sync
        require(
            (labels >= 0) & (labels < num_classes),
            f"{caller}: y_true contains a class outside the valid range [0, {num_classes - 1}]",
        )
        return
    lo, hi = (int(v) for v in torch.aminmax(labels))  # one pass, one host read
    if lo < 0 or hi >= num_classes:
        also = f" (or ignore_class={ignore_class})" if ignore_class is not None else ""
        raise ValueError(
            f"{caller}: y_true contains class {lo if lo < 0 else hi}, outside the valid range "
            f"[0, {num_classes - 1}]{also}"
        )


def _keras_reduce(
    values: torch.Tensor, sample_weight, mask: Optional[torch.Tensor], reduction, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Keras 3's ``reduce_weighted_values`` (with ``apply_mask``), divisions that cannot give NaN.

    The result has the dtype Keras's gives for a loss of ``dtype`` (see the module docstring).
    """
    if mask is not None:
        mask = mask.to(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # valid entries weigh total/valid, so the mean runs over the valid entries only
            mask = mask * safe_divide(
                torch.full((), float(mask.numel()), dtype=values.dtype, device=values.device), mask.sum()
            )
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
            mask, sample_weight = _same_rank(mask, sample_weight)
            sample_weight = sample_weight * mask
        else:
            sample_weight = mask
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
        values, sample_weight = _same_rank(values, sample_weight)
        try:
            torch.broadcast_shapes(values.shape, sample_weight.shape)
        except RuntimeError:
            raise ValueError(
                f"losskit.keras: sample_weight of shape {tuple(sample_weight.shape)} does not broadcast against the "
                f"per-sample loss of shape {tuple(values.shape)} (Keras squeezes or expands one trailing size-1 axis, "
                f"then broadcasts)"
            ) from None
        values = values * sample_weight
    if reduction is None or reduction == "none" or values.dim() == 0:
        return values.to(dtype)
    if values.numel() == 0:
        loss = zero_loss(values)
    elif reduction == "sum":
        loss = values.sum()
    elif reduction == "mean_with_sample_weight" and sample_weight is not None:
        loss = safe_divide(values.sum(), sample_weight.sum())
    else:
        loss = safe_divide(
            values.sum(), torch.full((), float(values.numel()), dtype=values.dtype, device=values.device)
        )
    # Keras's dividing reductions end in divide_no_nan, whose result_type turns float64 into float32
    return loss.to(_float64_to_float32(dtype) if reduction in _DIVIDING_REDUCTIONS else dtype)


# ---------------------------------------------------------------------------------------------
# functions: (y_true, y_pred, ...) -> per-sample loss, Keras's numbers
# ---------------------------------------------------------------------------------------------


@_keras_dtype()
def mean_squared_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_squared_error``: :math:`\operatorname{mean}_{-1} (y_{true} - y_{pred})^2`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.mse_loss(y_pred, y_true, reduction="none").mean(-1)


@_keras_dtype()
def mean_absolute_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_absolute_error``: :math:`\operatorname{mean}_{-1} |y_{true} - y_{pred}|`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.l1_loss(y_pred, y_true, reduction="none").mean(-1)


@_keras_dtype()
def mean_absolute_percentage_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_absolute_percentage_error``: :math:`100\,\operatorname{mean}_{-1} |y_t - y_p| / \max(|y_t|, \epsilon)`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.mape_loss(y_pred, y_true, eps=EPSILON, reduction="none").mean(-1)


@_keras_dtype(lambda dtype: torch.float32)  # Keras's clamp at its float32 epsilon promotes every dtype to float32
def mean_squared_logarithmic_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_squared_logarithmic_error`` (values clamped at epsilon before ``log1p``)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.msle_loss(y_pred, y_true, eps=EPSILON, reduction="none").mean(-1)


@_keras_dtype()
def huber(y_true, y_pred, delta: float = 1.0) -> torch.Tensor:
    r"""Keras ``huber``: the mean over the last axis of :func:`losskit.functional.huber_loss`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.huber_loss(y_pred, y_true, delta=delta, reduction="none").mean(-1)


@_keras_dtype()
def log_cosh(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``log_cosh``: :math:`\operatorname{mean}_{-1}\log\cosh(y_p - y_t)`, stable for large residuals."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.log_cosh_loss(y_pred, y_true, reduction="none").mean(-1)


@_keras_dtype(_float64_to_float32)  # Keras mixes float64 with Python floats there: result_type gives float32
def hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y_t y_p)`, {0,1} labels mapped to ±1."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.relu(1.0 - to_plus_minus_one(y_true) * y_pred).mean(-1)


@_keras_dtype(_float64_to_float32)  # Keras mixes float64 with Python floats there: result_type gives float32
def squared_hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``squared_hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y_t y_p)^2`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.relu(1.0 - to_plus_minus_one(y_true) * y_pred).square().mean(-1)


@_keras_dtype(_float64_to_float32)  # Keras mixes float64 with Python floats there: result_type gives float32
def categorical_hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``categorical_hinge`` over the last axis (one-hot ``y_true``)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if y_pred.dim() == 1:
        return LF.categorical_hinge_loss(y_pred, y_true, reduction="none")
    return LF.categorical_hinge_loss(y_pred.movedim(-1, 1), y_true.movedim(-1, 1), reduction="none")


@_keras_dtype()
def binary_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    r"""Keras ``binary_crossentropy``: mean over ``axis`` of the elementwise BCE.

    Targets are smoothed towards 1/2; probabilities are clipped to ``[eps, 1 - eps]``.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        loss = LF.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        loss = LF.binary_cross_entropy(_clip_probabilities(y_pred), y_true, reduction="none")
    return loss.mean(axis)


@_keras_dtype()
def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    r"""Keras ``binary_focal_crossentropy``: :math:`\operatorname{mean}\, \alpha_t (1-p_t)^\gamma \operatorname{BCE}`.

    As in Keras, logits are turned into probabilities first and the BCE is
    taken on clipped probabilities (so it saturates at ``-log(1e-7)``). The
    modulating factor's base is floored at the smallest normal number, which
    changes no value but keeps its gradient finite where ``1 - p_t = 0``.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = LF.binary_cross_entropy(_clip_probabilities(y_pred), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = (1.0 - p_t).clamp_min(torch.finfo(p_t.dtype).tiny).pow(gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(axis)


def _log_probabilities(y_pred: torch.Tensor, from_logits: bool, axis: int) -> torch.Tensor:
    """Keras's path to log-probabilities: log_softmax of logits, or log of renormalised clipped probabilities."""
    if from_logits:
        return torch.log_softmax(y_pred, axis)
    return torch.log(_clip_probabilities(y_pred / y_pred.sum(axis, keepdim=True)))


@_keras_dtype()
def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    r"""Keras ``categorical_crossentropy``: :math:`-\sum_{axis} y'_t \log p` with smoothed targets."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    return -(y_true * _log_probabilities(y_pred, from_logits, axis)).sum(axis)


@_keras_dtype()
def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    r"""Keras ``categorical_focal_crossentropy``: :math:`-\sum_{axis} \alpha (1-p)^\gamma y_t \log p`, p clipped."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = torch.softmax(y_pred, axis)
    output = _clip_probabilities(y_pred / y_pred.sum(axis, keepdim=True))
    return (alpha * (1.0 - output).pow(gamma) * (-y_true * torch.log(output))).sum(axis)


def _sparse_ce(
    y_true, y_pred, from_logits, ignore_class, axis, caller: str = "losskit.keras.sparse_categorical_crossentropy"
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    y_pred = _as_pred(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    if y_true.is_floating_point():
        y_true = y_true.long()  # Keras casts labels to integers
    class_axis = axis % y_pred.dim()
    num_classes = y_pred.shape[class_axis]
    if num_classes == 0:
        raise ValueError(f"{caller}: y_pred has no classes (size 0 along axis {axis}); it needs at least one")
    expected = y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :]
    if y_true.shape != expected:
        raise ValueError(
            f"{caller}: y_true must have y_pred's shape without the class axis {tuple(expected)}; got {tuple(y_true.shape)}"
        )
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = torch.where(valid, y_true, torch.zeros_like(y_true))
    _check_class_range(caller, y_true, num_classes, ignore_class)
    log_p = _log_probabilities(y_pred, from_logits, class_axis)
    loss = -log_p.gather(class_axis, y_true.unsqueeze(class_axis)).squeeze(class_axis)
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros_like(loss))
    return loss, valid


@_keras_dtype()
def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, ignore_class: Optional[int] = None, axis: int = -1
) -> torch.Tensor:
    r"""Keras ``sparse_categorical_crossentropy``: :math:`-\log p_{y}` per entry; ``ignore_class`` entries give 0.

    The class reduction (:class:`SparseCategoricalCrossentropy`) then averages
    over the entries that are not ignored, as Keras's mask does.
    """
    return _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis)[0]


@_keras_dtype()
def kl_divergence(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``kl_divergence``: :math:`\sum_{-1} y_t \log(y_t / y_p)`, both clipped to ``[eps, 1]``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true, y_pred = y_true.clamp(EPSILON, 1.0), y_pred.clamp(EPSILON, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(-1)


@_keras_dtype()
def poisson(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``poisson``: :math:`\operatorname{mean}_{-1} (y_p - y_t \log(y_p + \epsilon))`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.poisson_nll_loss(y_pred, y_true, log_input=False, eps=EPSILON, reduction="none").mean(-1)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    """Keras's ``normalize``: ``x * min(rsqrt(Σx²), 1/eps)``, with a finite gradient at zero vectors."""
    return x * torch.rsqrt(x.square().sum(axis, keepdim=True).clamp_min(EPSILON**2))


@_keras_dtype()
def cosine_similarity(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    r"""Keras ``cosine_similarity`` as a loss: :math:`-\sum_{axis} \hat y_t \hat y_p` (unit vectors), in [-1, 1]."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return -(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(axis)


@_keras_dtype()
def categorical_generalized_cross_entropy(y_true, y_pred, q: float) -> torch.Tensor:
    r"""Keras ``categorical_generalized_cross_entropy``: :math:`(1 - p_y^q) / q` of *probabilities* and integer labels."""
    check_number("categorical_generalized_cross_entropy", "q", q, low=0.0, high=1.0, low_open=True)
    y_pred = _as_pred(y_pred)
    labels = torch.as_tensor(y_true, device=y_pred.device).long()
    p = (y_pred * F.one_hot(labels, y_pred.shape[-1]).to(y_pred.dtype)).sum(-1)
    return (1.0 - p.pow(q)) / q


def _check_trailing_padding(caller: str, y_true: torch.Tensor, label_length: torch.Tensor) -> None:
    """Keras 3's ``ctc`` counts the nonzero labels and reads that many from the front: padding must come last."""
    if y_true.numel() == 0 or not data_checks_active(y_true):
        return
    inside = torch.arange(y_true.shape[1], device=y_true.device) < label_length.unsqueeze(1)
    gaps = inside & (y_true == 0)
    if not host_readable(gaps):  # an accelerator: a device-side check, no sync
        require(~gaps.any(), f"{caller}: y_true must hold each row's labels first and the padding 0 after them")
    elif bool(gaps.any()):
        row, col = gaps.nonzero()[0].tolist()
        raise ValueError(
            f"{caller}: y_true must hold each row's labels first and the padding 0 after them; row {row} has a 0 at "
            f"position {col} before a label (Keras would read that 0 as a label equal to the blank)"
        )


@_keras_dtype(lambda dtype: torch.float32)  # Keras's ctc_loss computes and returns float32 for every input dtype
def ctc(y_true, y_pred) -> torch.Tensor:
    r"""Keras 3 ``ctc``: per-sample CTC of logits ``(N, T, C)``, blank and padding 0, every frame used.

    ``y_true`` ``(N, S)`` holds each row's labels (in [1, C)) then zeros; the
    label length is the number of nonzero entries, the input length is T. As
    Keras does, ``y_pred`` goes through ``log_softmax`` (in float32) and then
    :func:`losskit.functional.ctc_loss` (torch's kernel) with ``blank=0``.
    Unlike Keras, a 0 before a label in a row raises ``ValueError`` (Keras
    would silently read it as a label equal to the blank).
    """
    caller = "losskit.keras.ctc"
    y_pred = torch.as_tensor(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.dim() != 2:
        message = (
            "Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in integer format. "
            f"Received: y_true.shape={tuple(y_true.shape)}"
        )
        raise _keras_value_error("ctc", message, "y_true of shape", tuple(y_true.shape))
    if y_pred.dim() != 3:
        message = (
            "Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, num_classes)`. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
        raise _keras_value_error("ctc", message, "y_pred of shape", tuple(y_pred.shape))
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{caller}: y_true and y_pred must have the same batch size; got {y_true.shape[0]} and {y_pred.shape[0]}"
        )
    labels = y_true.long()  # Keras's torch backend hands float labels to torch's kernel, which wants integers
    label_length = (labels != 0).sum(-1)
    _check_trailing_padding(caller, labels, label_length)
    input_length = torch.full((y_pred.shape[0],), y_pred.shape[1], dtype=torch.long)
    log_probs = torch.log_softmax(y_pred.to(torch.float32), -1)
    return LF.ctc_loss(log_probs, labels, input_length, label_length, blank=0, reduction="none", batch_first=True)


def _circle_labels(caller: str, labels, n: int, device: torch.device, name: str) -> torch.Tensor:
    """Keras casts the labels to int32 (float labels from a Keras pipeline included); (N,) or (N, 1)."""
    labels = torch.as_tensor(labels, device=device)
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels.reshape(-1)
    if labels.shape != (n,):
        raise ValueError(f"{caller}: {name} must have shape ({n},) or ({n}, 1); got {tuple(labels.shape)}")
    return labels.to(torch.int32).long()


@_keras_dtype()
def circle(
    y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal: bool = True, gamma=80, margin=0.4
) -> torch.Tensor:
    r"""Keras 3 ``circle``: per-sample Circle loss of integer labels and L2-normalised embeddings ``(N, D)``.

    As Keras, the embeddings are *not* normalised here (give unit vectors, e.g. after
    ``UnitNormalization``; :func:`losskit.functional.circle_loss` normalises them itself);
    distances are ``max(1 − x·rᵀ, 0)`` against ``ref_embeddings`` (default ``y_pred``),
    positives share the label (the diagonal removed with ``remove_diagonal``),
    negatives do not. A sample without a positive or a negative has loss 0.
    Returns ``(N,)``; the class :class:`Circle` averages over the samples with a
    positive loss, as Keras's mask does.
    """
    caller = "losskit.keras.circle"
    y_pred = _as_pred(y_pred)
    if y_pred.dim() != 2:
        raise ValueError(f"{caller}: y_pred must be (N, D) embeddings; got shape {tuple(y_pred.shape)}")
    refs = y_pred if ref_embeddings is None else _as_pred(ref_embeddings).to(y_pred.dtype)
    labels = _circle_labels(caller, y_true, y_pred.shape[0], y_pred.device, "y_true")
    ref_ids = (
        labels if ref_labels is None else _circle_labels(caller, ref_labels, refs.shape[0], y_pred.device, "ref_labels")
    )
    d = (1.0 - y_pred @ refs.T).clamp_min(0.0)
    positive = labels[:, None] == ref_ids[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~torch.eye(*positive.shape, dtype=torch.bool, device=positive.device)
    pos_logit = -gamma * torch.relu(margin + d) * (margin - d)
    neg_logit = gamma * torch.relu(1.0 + margin - d) * (1.0 - margin - d)
    fill = torch.finfo(d.dtype).min / 4  # a finite "-inf": an empty row keeps finite gradients
    p_loss = torch.logsumexp(torch.where(positive, pos_logit, fill), 1)
    n_loss = torch.logsumexp(torch.where(negative, neg_logit, fill), 1)
    valid = positive.any(1) & negative.any(1)
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    return torch.where(valid, F.softplus(torch.where(valid, p_loss + n_loss, zero)), zero)


def ctc_batch_cost(y_true, y_pred, input_length, label_length) -> torch.Tensor:
    r"""Keras 2 / TensorFlow ``ctc_batch_cost``: CTC of softmax *probabilities*, blank = the last class, ``(N, 1)``.

    What ``keras.backend.ctc_batch_cost`` (Keras 2, ``tf.keras``) computes:
    ``y_pred`` ``(N, T, C)`` holds probabilities (a softmax output); the blank
    is class ``C - 1``; ``y_true`` ``(N, S)`` holds labels in [0, C - 1) and
    only the first ``label_length`` of each row count (the padding after them
    may be anything); ``input_length`` and ``label_length`` are ``(N, 1)`` (or
    ``(N,)``). As TensorFlow does, the log-probabilities are
    ``log_softmax(log(y_pred + 1e-7))`` (``tf.nn.ctc_loss`` normalises its
    inputs again), so the result matches torch's CTC with ``blank=C-1`` on
    ``log(y_pred)`` to about ``C·1e-7`` relative. The loss is per sample,
    ``(N, 1)``, float32 for half-precision input, else ``y_pred``'s dtype.
    A target that cannot fit its input length gives ``inf`` (TensorFlow
    logs "No valid path found" and returns inf).
    """
    caller = "losskit.keras.ctc_batch_cost"
    y_pred = _as_pred(y_pred)
    if y_pred.dim() != 3:
        raise ValueError(f"{caller}: y_pred must be softmax probabilities (N, T, C); got shape {tuple(y_pred.shape)}")
    batch = y_pred.shape[0]
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.dim() != 2 or y_true.shape[0] != batch:
        raise ValueError(
            f"{caller}: y_true must be padded labels (N, S) with N = {batch} (y_pred's batch size); "
            f"got shape {tuple(y_true.shape)}"
        )

    def lengths(name: str, value) -> torch.Tensor:
        value = torch.as_tensor(value)
        if value.dim() == 2 and value.shape[1] == 1:
            value = value.squeeze(-1)  # Keras's (N, 1)
        if value.shape != (batch,):
            raise ValueError(f"{caller}: {name} must be (N, 1) with N = {batch}; got shape {tuple(value.shape)}")
        return value.long()  # Keras casts to int32 (float lengths too)

    log_probs = torch.log_softmax(torch.log(y_pred + EPSILON), -1)
    loss = LF.ctc_loss(
        log_probs,
        y_true.long(),
        lengths("input_length", input_length),
        lengths("label_length", label_length),
        blank=y_pred.shape[2] - 1,
        reduction="none",
        batch_first=True,
    )
    return loss.unsqueeze(1)


def _keras_axis(caller: str, axis) -> Optional[Tuple[int, ...]]:
    """Keras's ``axis`` of dice / tversky: None (every axis), an int, or a tuple / list of ints."""
    if axis is None:
        return None
    if isinstance(axis, int) and not isinstance(axis, bool):
        return (axis,)
    if isinstance(axis, (tuple, list)) and all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return tuple(axis)
    raise TypeError(f"losskit.keras.{caller}: axis must be None, an int or a tuple of ints; got {axis!r}")


def _overlap_sums(y_true, y_pred, axis, caller):
    """Keras's dice / tversky inputs: y_pred as a tensor, y_true cast to its dtype (no rank fixing, as Keras)."""
    y_pred = _as_pred(y_pred)
    y_true = _as_true(y_true, y_pred)
    dims = _keras_axis(caller, axis)
    total = (lambda v: v.sum()) if dims is None else (lambda v: v.sum(dims))
    return y_true, y_pred, total


@_keras_dtype()
def dice(y_true, y_pred, axis=None) -> torch.Tensor:
    r"""Keras ``dice``: :math:`1 - 2\sum y_t y_p / (\sum y_t + \sum y_p + \epsilon)` over ``axis`` (None: all).

    ``axis=None`` gives one scalar for the whole batch (Keras's default); ``axis=(1, 2, 3)`` one
    value per sample of an ``(N, H, W, C)`` batch. Probabilities in; no smoothing in the numerator.
    losskit's :func:`losskit.functional.dice_loss` is the MONAI-style loss from logits.
    """
    y_true, y_pred, total = _overlap_sums(y_true, y_pred, axis, "dice")
    intersection = total(y_true * y_pred)
    return 1.0 - 2.0 * intersection / (total(y_true) + total(y_pred) + EPSILON)


@_keras_dtype()
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None) -> torch.Tensor:
    r"""Keras ``tversky``: :math:`1 - \sum y_t y_p / (\sum y_t y_p + \alpha\, a + \beta\, b + \epsilon)`.

    Keras's code (followed here, for its numbers) puts ``alpha`` on
    :math:`a = \sum y_t (1 - y_p)` — the false negatives, despite its docstring — and ``beta`` on
    :math:`b = \sum y_p (1 - y_t)`, the false positives. losskit's
    :func:`losskit.functional.tversky_loss` puts ``alpha`` on the false positives, as MONAI does.
    """
    check_number("tversky", "alpha", alpha)
    check_number("tversky", "beta", beta)
    y_true, y_pred, total = _overlap_sums(y_true, y_pred, axis, "tversky")
    intersection = total(y_true * y_pred)
    fp = total((1.0 - y_pred) * y_true)  # Keras's name for it
    fn = total(y_pred * (1.0 - y_true))
    return 1.0 - intersection / (intersection + fp * alpha + fn * beta + EPSILON)


# ---------------------------------------------------------------------------------------------
# classes: Keras's constructors, reductions and configs
# ---------------------------------------------------------------------------------------------


class KerasLoss(nn.Module):
    """Base of the Keras-compatible loss classes: ``loss(y_true, y_pred, sample_weight=None)``."""

    fn: Callable = staticmethod(lambda y_true, y_pred: y_true)
    default_name: str = ""
    #: hyperparameters Keras's get_config saves (beyond name and reduction)
    config_keys: Tuple[str, ...] = ()

    def __init__(
        self, reduction="sum_over_batch_size", name: Optional[str] = None, dtype=None, **fn_kwargs: Any
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.name = name or self.default_name
        self._compute_dtype, self._dtype_name = _loss_dtype(type(self).__name__, dtype)
        self.fn_kwargs = fn_kwargs

    @property
    def reduction(self):
        return self._reduction

    @reduction.setter
    def reduction(self, reduction) -> None:
        # validated on every assignment, as Keras validates it again at each reduction
        _check_reduction(type(self).__name__, reduction)
        self._reduction = reduction

    @property
    def dtype(self) -> str:
        """The compute dtype's name, as Keras's ``Loss.dtype`` (``"bfloat16"`` for ``"mixed_bfloat16"``)."""
        return str(self._compute_dtype).replace("torch.", "")

    def _values(self, y_true, y_pred) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        # the function before its output cast: the reduction runs at full precision and casts once
        return inspect.unwrap(type(self).fn)(y_true, y_pred, **self.fn_kwargs), None

    def forward(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        # Keras casts both inputs to the loss dtype; integer labels are left exact (a half dtype would round them)
        y_pred = torch.as_tensor(y_pred).to(self._compute_dtype)
        y_true = torch.as_tensor(y_true)
        if y_true.is_floating_point():
            y_true = y_true.to(self._compute_dtype)
        values, mask = self._values(y_true, y_pred)
        return _keras_reduce(values, sample_weight, mask, self.reduction, self._compute_dtype)

    def get_config(self) -> Dict[str, Any]:
        config = {"name": self.name, "reduction": self.reduction}
        config.update({k: self.fn_kwargs[k] for k in self.config_keys})
        config.update({k: v for k, v in self.fn_kwargs.items() if k not in config})  # what Keras forgets
        if self._dtype_name is not None:
            config["dtype"] = self._dtype_name  # Keras forgets it too; its from_config accepts it
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> KerasLoss:
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def _keras_class(class_name: str, function: Callable, default_name: str, params: Dict[str, Any], config_keys=()):
    """Build a Keras class: its constructor takes ``params`` (with Keras's defaults) then reduction, name, dtype."""

    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{class_name}() takes at most {len(params)} positional arguments; got {len(args)}")
        values = dict(params)
        values.update(zip(params, args))
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(
                f"{class_name}() got unexpected keyword arguments {sorted(unknown)}; it takes {sorted(params)}"
            )
        values.update(kwargs)
        KerasLoss.__init__(self, reduction=reduction, name=name, dtype=dtype, **values)

    doc = (function.__doc__ or "").strip().splitlines()[0]
    return type(
        class_name,
        (KerasLoss,),
        {
            "__init__": __init__,
            "fn": staticmethod(function),
            "default_name": default_name,
            "config_keys": tuple(config_keys),
            "__doc__": f"Keras ``{class_name}``. {doc}",
            "__module__": __name__,
        },
    )


MeanSquaredError = _keras_class("MeanSquaredError", mean_squared_error, "mean_squared_error", {})
MeanAbsoluteError = _keras_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", {})
MeanAbsolutePercentageError = _keras_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "mean_absolute_percentage_error", {}
)
MeanSquaredLogarithmicError = _keras_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, "mean_squared_logarithmic_error", {}
)
Huber = _keras_class("Huber", huber, "huber_loss", {"delta": 1.0})
LogCosh = _keras_class("LogCosh", log_cosh, "log_cosh", {})
Hinge = _keras_class("Hinge", hinge, "hinge", {})
SquaredHinge = _keras_class("SquaredHinge", squared_hinge, "squared_hinge", {})
CategoricalHinge = _keras_class("CategoricalHinge", categorical_hinge, "categorical_hinge", {})
KLDivergence = _keras_class("KLDivergence", kl_divergence, "kl_divergence", {})
Poisson = _keras_class("Poisson", poisson, "poisson", {})
CosineSimilarity = _keras_class("CosineSimilarity", cosine_similarity, "cosine_similarity", {"axis": -1})
BinaryCrossentropy = _keras_class(
    "BinaryCrossentropy",
    binary_crossentropy,
    "binary_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    ("from_logits", "label_smoothing", "axis"),
)
BinaryFocalCrossentropy = _keras_class(
    "BinaryFocalCrossentropy",
    binary_focal_crossentropy,
    "binary_focal_crossentropy",
    {
        "apply_class_balancing": False,
        "alpha": 0.25,
        "gamma": 2.0,
        "from_logits": False,
        "label_smoothing": 0.0,
        "axis": -1,
    },
    ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma"),
)
CategoricalCrossentropy = _keras_class(
    "CategoricalCrossentropy",
    categorical_crossentropy,
    "categorical_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    ("from_logits", "label_smoothing", "axis"),
)
CTC = _keras_class("CTC", ctc, "ctc", {})
CategoricalFocalCrossentropy = _keras_class(
    "CategoricalFocalCrossentropy",
    categorical_focal_crossentropy,
    "categorical_focal_crossentropy",
    {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    ("from_logits", "label_smoothing", "axis", "alpha", "gamma"),
)


class Dice(KerasLoss):
    """Keras ``Dice``: :func:`dice` with Keras's reduction, ``Dice(reduction, name, axis, dtype)``."""

    fn = staticmethod(dice)
    default_name = "dice"
    config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name: str = "dice", axis=None, dtype=None) -> None:
        _keras_axis(type(self).__name__, axis)
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(KerasLoss):
    """Keras ``Tversky``: :func:`tversky` (``alpha`` on Σ y_true·(1 − y_pred), as Keras's code) with Keras's reduction."""

    fn = staticmethod(tversky)
    default_name = "tversky"
    config_keys = ("alpha", "beta", "axis")

    def __init__(
        self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name: str = "tversky", axis=None, dtype=None
    ) -> None:
        check_number(type(self).__name__, "alpha", alpha)
        check_number(type(self).__name__, "beta", beta)
        _keras_axis(type(self).__name__, axis)
        super().__init__(reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis)


class Circle(KerasLoss):
    """Keras ``Circle``; like Keras's mask, the mean runs over the samples with a positive loss (0 if none)."""

    fn = staticmethod(circle)
    default_name = "circle"
    config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(
        self,
        gamma: float = 80.0,
        margin: float = 0.4,
        remove_diagonal: bool = True,
        reduction="sum_over_batch_size",
        name: str = "circle",
        dtype=None,
    ) -> None:
        check_number(type(self).__name__, "gamma", gamma, low=0.0, low_open=True)
        check_number(type(self).__name__, "margin", margin, low=0.0)
        super().__init__(
            reduction=reduction, name=name, dtype=dtype, gamma=gamma, margin=margin, remove_diagonal=remove_diagonal
        )

    def _values(self, y_true, y_pred):
        values = inspect.unwrap(circle)(y_true, y_pred, **self.fn_kwargs)
        return values, values > 0


class CategoricalGeneralizedCrossEntropy(KerasLoss):
    """Keras ``CategoricalGeneralizedCrossEntropy``; like Keras's class, it takes q in (0, 1) (the function also q = 1)."""

    fn = staticmethod(categorical_generalized_cross_entropy)
    default_name = "categorical_generalized_cross_entropy"
    config_keys = ("q",)

    def __init__(
        self,
        q: float = 0.5,
        reduction="sum_over_batch_size",
        name: str = "categorical_generalized_cross_entropy",
        dtype=None,
    ) -> None:
        check_number(type(self).__name__, "q", q, low=0.0, high=1.0, low_open=True, high_open=True)
        super().__init__(reduction=reduction, name=name, dtype=dtype, q=q)


class SparseCategoricalCrossentropy(KerasLoss):
    """Keras ``SparseCategoricalCrossentropy``; ``ignore_class`` entries are masked out of the mean."""

    fn = staticmethod(sparse_categorical_crossentropy)
    default_name = "sparse_categorical_crossentropy"
    config_keys = ("from_logits", "ignore_class")

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: Optional[int] = None,
        reduction="sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction=reduction, name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis
        )

    def _values(self, y_true, y_pred):
        return _sparse_ce(y_true, y_pred, **self.fn_kwargs, caller=f"losskit.keras.{type(self).__name__}")


# ---------------------------------------------------------------------------------------------
# get
# ---------------------------------------------------------------------------------------------

_FUNCTIONS = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        huber,
        log_cosh,
        hinge,
        squared_hinge,
        categorical_hinge,
        binary_crossentropy,
        binary_focal_crossentropy,
        categorical_crossentropy,
        categorical_focal_crossentropy,
        sparse_categorical_crossentropy,
        kl_divergence,
        poisson,
        cosine_similarity,
        categorical_generalized_cross_entropy,
        ctc,
        dice,
        tversky,
        circle,
    )
}
_CLASSES = {
    c.__name__: c
    for c in (
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Huber,
        LogCosh,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
        BinaryCrossentropy,
        BinaryFocalCrossentropy,
        CategoricalCrossentropy,
        CategoricalFocalCrossentropy,
        SparseCategoricalCrossentropy,
        KLDivergence,
        Poisson,
        CosineSimilarity,
        CategoricalGeneralizedCrossEntropy,
        CTC,
        Dice,
        Tversky,
        Circle,
    )
}
_ALIASES = {
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "logcosh": log_cosh,
    "cosine_proximity": cosine_similarity,
}


def get(identifier):
    """Keras's ``keras.losses.get``: a function for a function name or alias, an instance for a class name.

    Accepts Keras's function names, class names and short aliases (mse, mae,
    mape, msle, bce, kld, their upper-case forms), the older ``logcosh`` and
    ``cosine_proximity``, a ``{"class_name": ..., "config": {...}}`` dict, a
    callable (returned as it is) or None (returns None).
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            raise ValueError(
                f"losskit.keras.get: unknown loss class {name!r}; expected one of {', '.join(sorted(_CLASSES))}"
            )
        return _CLASSES[name].from_config(identifier.get("config", {}))
    if not isinstance(identifier, str):
        raise ValueError(f"losskit.keras.get: could not interpret loss identifier {identifier!r}")
    for table in (_FUNCTIONS, _ALIASES):
        if identifier in table:
            return table[identifier]
    if identifier in _CLASSES:
        return _CLASSES[identifier]()
    known = [*_FUNCTIONS, *_ALIASES, *_CLASSES]
    close = difflib.get_close_matches(identifier, known, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"losskit.keras.get: unknown loss {identifier!r}{hint}")
