"""Regression losses: l1, mse, rmse, smooth_l1, huber, log_cosh, mape, msle, quantile.

Every functional takes ``(input, target)`` of the same shape (no silent
broadcasting), an optional ``sample_weight`` broadcastable to that shape (with
``"mean"`` it gives the weighted mean ``Σ w·l / Σ w``), and ``reduction`` in
``"mean"``, ``"sum"``, ``"none"``. ``"none"`` returns the elementwise loss.
float16/bfloat16 inputs are computed in float32 and the loss is float32.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ._core import checks
from ._core.reduction import fused_or_reduce, reduce_loss
from ._core.spec import Curve, loss
from ._core.validation import (
    check_floating,
    check_number,
    check_real,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    prepare_pair,
    to_compute,
)

__all__ = [
    "l1_loss",
    "mse_loss",
    "rmse_loss",
    "smooth_l1_loss",
    "huber_loss",
    "log_cosh_loss",
    "mape_loss",
    "msle_loss",
    "quantile_loss",
]

FAMILY = "regression"
_LOG2 = math.log(2.0)
# Keras's backend epsilon: mape and msle clamp with it so their numbers match Keras.
_KERAS_EPSILON = 1e-7


def _check_quantile(fn: str, name: str, quantile) -> None:
    if isinstance(quantile, torch.Tensor):
        if quantile.dim() != 1 or quantile.numel() == 0:
            raise ValueError(
                f"{fn}: quantile must be a number or a 1-D tensor of quantiles; got shape {fmt_shape(quantile.shape)}"
            )
        if not quantile.is_floating_point():
            raise TypeError(f"{fn}: quantile must be a floating tensor; got {quantile.dtype}")
        if data_checks_active(quantile) and not bool(((quantile > 0) & (quantile < 1)).all()):
            raise ValueError(f"{fn}: every quantile must be in (0, 1); got {quantile.tolist()}")
    else:
        check_number(fn, "quantile", quantile, low=0.0, high=1.0, low_open=True, high_open=True)


QUANTILE = checks.custom(_check_quantile, "a number in (0, 1), or a 1-D tensor of them", tensor=True)


class _LogCosh(torch.autograd.Function):
    """log cosh(x - y) with its derivative tanh(x - y) written out: two passes forward, two back."""

    @staticmethod
    def forward(ctx, input, target):
        residual = input - target
        ctx.save_for_backward(input, target, residual)
        # cosh is even: |r| + softplus(-2|r|) - log 2 is exact, never overflows before the result does
        # (r + softplus(-2r) overflowed at r ~ -1.7e38 in float32, and was -inf + inf = NaN at r = -inf)
        magnitude = residual.abs()
        return F.softplus(magnitude * -2.0).add_(magnitude).sub_(_LOG2)

    @staticmethod
    def backward(ctx, grad_output):
        input, target, residual = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate tanh(x - y) through the inputs
            residual = input - target
        grad = torch.tanh(residual) * grad_output
        return grad, (-grad if ctx.needs_input_grad[1] else None)


def _log1p_floored(value: torch.Tensor, eps: float) -> torch.Tensor:
    """``log(1 + max(value, eps))``, whose gradient at ``value = +inf`` is its limit 0.

    The plain form's gradient there is 1 / (1 + ∞) = 0 times an infinite upstream gradient (msle's
    2 · (log1p(∞) - log1p(y))), which is NaN; the limit of the product, 2 log(x) / x, is 0. The infinity
    is a constant branch instead, and the differentiated branch sees a finite stand-in.
    """
    value = value.clamp_min(eps)
    is_infinite = value.isposinf()
    logged = torch.log1p(torch.where(is_infinite, torch.ones_like(value), value))
    return torch.where(is_infinite, torch.full_like(value, math.inf), logged)


# ---------------------------------------------------------------------------------------------
# functionals
# ---------------------------------------------------------------------------------------------


@loss(
    "l1",
    family=FAMILY,
    module="L1Loss",
    aliases=("mae", "mean_absolute_error"),
    hparams={},
    references=("torch.nn.functional.l1_loss", "Keras mean_absolute_error", "NumPy reference"),
    curve=Curve("residual"),
)
def l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Mean absolute error, torch's ``l1_loss`` (its fused kernel underneath).

    .. math::
        \ell_i = |x_i - y_i|

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> l1_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 0.0]))
        tensor(1.2500)

    Reference:
        ``torch.nn.functional.l1_loss``; Keras ``mean_absolute_error``.
    """
    fn = "l1_loss"
    input, target = prepare_pair(fn, input, target)
    return fused_or_reduce(F.l1_loss, input, target, reduction, sample_weight=sample_weight, fn=fn)


@loss(
    "mse",
    family=FAMILY,
    module="MSELoss",
    aliases=("l2", "mean_squared_error"),
    hparams={},
    references=("torch.nn.functional.mse_loss", "Keras mean_squared_error", "NumPy reference"),
    curve=Curve("residual"),
)
def mse_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Mean squared error, torch's ``mse_loss`` (its fused kernel underneath).

    .. math::
        \ell_i = (x_i - y_i)^2

    Unlike torch, input and target of different shapes raise ``ValueError``
    (torch warns and broadcasts ``(N, 1)`` against ``(N,)`` to ``(N, N)``).

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 0.0]))
        tensor(2.1250)

    Reference:
        ``torch.nn.functional.mse_loss``; Keras ``mean_squared_error``.
    """
    fn = "mse_loss"
    input, target = prepare_pair(fn, input, target)
    return fused_or_reduce(F.mse_loss, input, target, reduction, sample_weight=sample_weight, fn=fn)


@loss(
    "rmse",
    family=FAMILY,
    module="RMSELoss",
    aliases=("root_mean_squared_error",),
    hparams={"eps": checks.non_negative},
    references=("NumPy reference (sqrt of the pooled squared error)",),
    curve=Curve("residual"),
)
def rmse_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    eps: float = 0.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Root mean squared error: the square root of the pooled squared error.

    .. math::
        \text{mean: } \sqrt{\tfrac{1}{n}\textstyle\sum_i (x_i - y_i)^2 + \epsilon}, \qquad
        \text{sum: } \sqrt{\textstyle\sum_i (x_i - y_i)^2 + \epsilon}, \qquad
        \text{none: } \sqrt{(x_i - y_i)^2 + \epsilon}

    The root is taken *after* pooling, as for Keras's and torchmetrics' RMSE,
    so unlike the other losses ``mean`` is not the mean of ``none``. With
    ``sample_weight`` the pooled value is the weighted mean ``Σ w r² / Σ w``.
    At a pooled value of exactly 0 (with ``eps=0``) the gradient is 0, a
    subgradient, instead of the 0·∞ = NaN of a plain ``sqrt``; ``eps > 0``
    smooths the root instead (and biases the value by about ``sqrt(eps)`` near 0).
    An infinite residual gives an infinite loss whose gradient is the limit
    ``a_i sign(r_i) / sqrt(Σ_inf a_j)`` (``a_i`` the pooling coefficient, the sum
    over the infinite residuals, all taken to grow at one rate), not ∞/∞ = NaN.

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        eps: added under the root, ``>= 0``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> rmse_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
        tensor(1.4142)

    Reference:
        NumPy ``sqrt(mean((x - y) ** 2))``; Keras ``RootMeanSquaredError`` metric.
    """
    fn = "rmse_loss"
    input, target = prepare_pair(fn, input, target)
    residual = input - target
    is_infinite = residual.detach().isinf()
    # An infinite residual makes the root infinite, and its plain gradient r / (n · root) is ∞/∞ = NaN.
    # Its limit (every infinite residual growing at one rate) is a_i sign(r_i) / sqrt(Σ_inf a_j), with
    # a_i the pooling coefficient (w_i / Σw for mean): a loss linear in the infinite residuals, scaled by
    # the constant 1 / sqrt(Σ_inf a_j), has exactly that value (∞) and that gradient. The finite branch
    # sees the infinite residuals as 0, so nothing in it is ∞ · 0.
    direction = torch.where(is_infinite, residual.detach().sign(), torch.zeros_like(residual))
    infinite_weight = reduce_loss(direction.square(), reduction, weight=sample_weight, fn=fn)
    has_infinite = infinite_weight > 0
    at_infinity = reduce_loss(direction * residual, reduction, weight=sample_weight, fn=fn) / torch.sqrt(
        torch.where(has_infinite, infinite_weight, torch.ones_like(infinite_weight))
    )
    finite_residual = torch.where(is_infinite, torch.zeros_like(residual), residual)
    pooled = reduce_loss(finite_residual.square(), reduction, weight=sample_weight, fn=fn) + eps
    # sqrt has an infinite derivative at 0: route exact zeros through a safe branch (gradient 0)
    is_zero = pooled == 0
    root = torch.sqrt(torch.where(is_zero, torch.ones_like(pooled), pooled))
    root = torch.where(is_zero, torch.zeros_like(pooled), root)
    return torch.where(has_infinite, at_infinity, root)


@loss(
    "smooth_l1",
    family=FAMILY,
    module="SmoothL1Loss",
    hparams={"beta": checks.non_negative},
    references=("torch.nn.functional.smooth_l1_loss", "NumPy reference"),
    curve=Curve("residual", "beta", (0.0, 0.5, 1.0, 2.0)),
)
def smooth_l1_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    beta: float = 1.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Smooth L1 (torch's ``smooth_l1_loss``): quadratic below ``beta``, linear above.

    .. math::
        \ell_i = \begin{cases} 0.5 (x_i - y_i)^2 / \beta & |x_i - y_i| < \beta \\
                               |x_i - y_i| - 0.5 \beta & \text{otherwise} \end{cases}

    ``beta = 0`` is exactly :func:`l1_loss` (with finite gradients).
    ``smooth_l1 = huber / beta``.

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        beta: the switch point, ``>= 0``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> smooth_l1_loss(torch.tensor([0.0, 3.0]), torch.tensor([0.5, 0.0]))
        tensor(1.3125)

    Reference:
        ``torch.nn.functional.smooth_l1_loss``; Girshick, "Fast R-CNN", 2015.
    """
    fn = "smooth_l1_loss"
    input, target = prepare_pair(fn, input, target)
    return fused_or_reduce(
        F.smooth_l1_loss, input, target, reduction, sample_weight=sample_weight, fn=fn, beta=float(beta)
    )


@loss(
    "huber",
    family=FAMILY,
    module="HuberLoss",
    hparams={"delta": checks.positive},
    references=("torch.nn.functional.huber_loss", "Keras huber", "NumPy reference"),
    curve=Curve("residual", "delta", (0.5, 1.0, 2.0)),
)
def huber_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    delta: float = 1.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Huber loss (torch's ``huber_loss``, Keras's ``huber``).

    .. math::
        \ell_i = \begin{cases} 0.5 (x_i - y_i)^2 & |x_i - y_i| \le \delta \\
                               \delta (|x_i - y_i| - 0.5 \delta) & \text{otherwise} \end{cases}

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        delta: the switch point, ``> 0``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> huber_loss(torch.tensor([0.0, 3.0]), torch.tensor([0.5, 0.0]))
        tensor(1.3125)

    Reference:
        ``torch.nn.functional.huber_loss``; Huber, "Robust Estimation of a
        Location Parameter", 1964.
    """
    fn = "huber_loss"
    input, target = prepare_pair(fn, input, target)
    return fused_or_reduce(
        F.huber_loss, input, target, reduction, sample_weight=sample_weight, fn=fn, delta=float(delta)
    )


@loss(
    "log_cosh",
    family=FAMILY,
    module="LogCoshLoss",
    aliases=("logcosh",),
    hparams={},
    references=("Keras log_cosh", "NumPy reference (logaddexp form)"),
    curve=Curve("residual"),
)
def log_cosh_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Log-cosh loss, stable for any residual.

    .. math::
        \ell_i = \log\cosh(r_i) = r_i + \operatorname{softplus}(-2 r_i) - \log 2,
        \qquad r_i = x_i - y_i

    The right-hand form never overflows (``cosh(1e4)`` does), so at
    ``|r| = 1e4`` the loss is exactly ``|r| - log 2``; the gradient ``tanh(r)``
    is written out (a custom autograd Function) rather than traced.

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> log_cosh_loss(torch.tensor([0.0, 1e4]), torch.tensor([0.0, 0.0]))
        tensor(4999.6533)

    Reference:
        Keras ``log_cosh`` (same stable form).
    """
    fn = "log_cosh_loss"
    input, target = prepare_pair(fn, input, target)
    return reduce_loss(_LogCosh.apply(input, target), reduction, weight=sample_weight, fn=fn)


@loss(
    "mape",
    family=FAMILY,
    module="MAPELoss",
    aliases=("mean_absolute_percentage_error",),
    hparams={"eps": checks.positive},
    references=("Keras mean_absolute_percentage_error", "NumPy reference"),
    curve=Curve("residual"),
)
def mape_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    eps: float = _KERAS_EPSILON,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Mean absolute percentage error, as Keras computes it.

    .. math::
        \ell_i = 100 \cdot \frac{|x_i - y_i|}{\max(|y_i|, \epsilon)}

    An infinite target against a finite prediction gives the limit, 100, with
    zero gradients (the ratio tends to 1); infinite prediction and target are NaN
    (∞/∞ has no limit).

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        eps: floor of the denominator, ``> 0`` (Keras's epsilon, 1e-7).
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar (in percent), or ``(*)`` with ``reduction="none"``.

    Example:
        >>> mape_loss(torch.tensor([110.0, 50.0]), torch.tensor([100.0, 100.0]))
        tensor(30.)

    Reference:
        Keras ``mean_absolute_percentage_error``.
    """
    fn = "mape_loss"
    input, target = prepare_pair(fn, input, target)
    # an infinite target against a finite prediction is the limit |x - y| / |y| -> 1, 100 %, with zero
    # gradients; the safe branch divides by 1 there instead of forming ∞/∞
    target_at_infinity = target.isinf() & input.isfinite()
    safe_target = torch.where(target_at_infinity, torch.ones_like(target), target)
    safe_input = torch.where(target_at_infinity, torch.ones_like(input), input)
    loss = 100.0 * (safe_input - safe_target).abs() / safe_target.abs().clamp_min(eps)
    loss = torch.where(target_at_infinity, torch.full_like(loss, 100.0), loss)
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "msle",
    family=FAMILY,
    module="MSLELoss",
    aliases=("mean_squared_logarithmic_error",),
    hparams={"eps": checks.positive},
    references=("Keras mean_squared_logarithmic_error", "NumPy reference"),
    curve=Curve("residual"),
)
def msle_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    eps: float = _KERAS_EPSILON,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Mean squared logarithmic error, as Keras computes it.

    .. math::
        \ell_i = \big(\log(1 + \max(x_i, \epsilon)) - \log(1 + \max(y_i, \epsilon))\big)^2

    Values below ``eps`` (negative ones included) are clamped to ``eps`` as
    Keras does, so a negative prediction gets no gradient. At ``+inf`` (one
    side) the loss is infinite and the gradient its limit, 0.

    Args:
        input: predictions, any shape ``(*)``.
        target: targets, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        eps: the clamp, ``> 0`` (Keras's epsilon, 1e-7).
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> msle_loss(torch.tensor([math.e - 1]), torch.tensor([0.0]))
        tensor(1.0000)

    Reference:
        Keras ``mean_squared_logarithmic_error``.
    """
    fn = "msle_loss"
    input, target = prepare_pair(fn, input, target)
    loss = (_log1p_floored(input, eps) - _log1p_floored(target, eps)).square()
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "quantile",
    family=FAMILY,
    module="QuantileLoss",
    aliases=("pinball",),
    hparams={"quantile": QUANTILE},
    references=("NumPy reference (pinball loss)",),
    curve=Curve("residual", "quantile", (0.1, 0.5, 0.9)),
)
def quantile_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    quantile: Union[float, torch.Tensor] = 0.5,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Quantile (pinball) loss.

    .. math::
        \ell_i = \max\big(\tau\, r_i,\; (\tau - 1)\, r_i\big), \qquad r_i = y_i - x_i

    Under-prediction costs ``tau`` per unit, over-prediction ``1 - tau``; the
    minimiser is the ``tau``-quantile. ``tau = 0.5`` is half the L1 loss.

    Several quantiles at once: pass ``quantile`` as a 1-D tensor of ``Q``
    values; then ``input`` has shape ``(*, Q)`` (one prediction per quantile)
    and ``target`` has shape ``(*)``.

    Args:
        input: predictions ``(*)``, or ``(*, Q)`` with a tensor ``quantile``.
        target: targets ``(*)``.
        quantile: ``tau`` in (0, 1), or a 1-D tensor of them.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the input's shape.

    Returns:
        A scalar, or the input's shape with ``reduction="none"``.

    Example:
        >>> quantile_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, -1.0]), quantile=0.9)
        tensor(0.5000)

    Reference:
        Koenker & Bassett, "Regression Quantiles", 1978.
    """
    fn = "quantile_loss"
    check_floating(fn, "input", input)
    check_real(fn, "target", target)
    if isinstance(quantile, torch.Tensor):
        q = quantile.numel()
        if input.dim() == 0 or input.shape[-1] != q or target.shape != input.shape[:-1]:
            raise ValueError(
                f"{fn}: with {q} quantiles, input must have shape (*, {q}) and target (*); "
                f"got input {fmt_shape(input.shape)} and target {fmt_shape(target.shape)}"
            )
        dtype = compute_dtype(input)
        input, target, tau = to_compute(dtype, input, target.unsqueeze(-1), quantile.to(input.device))
    else:
        input, target = prepare_pair(fn, input, target)
        tau = float(quantile)
    residual = target - input
    loss = torch.where(residual >= 0, tau * residual, (tau - 1.0) * residual)
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
