"""Regression losses: l1, mse, rmse, smooth_l1, huber, log_cosh, mape, msle, quantile.

Every functional takes ``(input, target)`` of the same shape (no silent
broadcasting), an optional ``sample_weight`` broadcastable to that shape (with
``"mean"`` it gives the weighted mean ``Σ w·l / Σ w``), and ``reduction`` in
``"mean"``, ``"sum"``, ``"none"``. ``"none"`` returns the elementwise loss.
float16/bfloat16 inputs are computed in float32 and the loss is float32.

``mse`` and ``l1`` reduced with ``"mean"`` or ``"sum"`` over 2^17 elements or
more (``huber`` and ``smooth_l1``: 2^22, where their extra per-block work pays),
with a gradient to compute, write the gradient in the
forward pass (torch's kernels or their exact products, block by block while
the block is in cache) and keep only it for the backward: torch's values and torch's
gradients bit for bit, one elementwise allocation per step instead of two, and
second derivatives from torch's loss. Smaller inputs, ``"none"``, sample
weights, non-contiguous inputs, ``torch.compile``, ``torch.func`` and
forward-mode AD call torch's kernels as they are.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Union

import torch
import torch.nn.functional as F

from ._core import checks
from ._core.memory import empty_like_on_huge_pages
from ._core.nonfinite import safe_sqrt
from ._core.reduction import fast_or_exact, fused_or_reduce, reduce_loss
from ._core.spec import Curve, loss
from ._core.validation import (
    autograd_transform_active,
    check_floating,
    check_number,
    check_real,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
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


#: at::Reduction's numbers, for torch's backward kernels called directly
_REDUCTIONS = {"mean": 1, "sum": 2}
_SUM = _REDUCTIONS["sum"]
#: elements the fused-gradient path handles per block (times the thread count): input, target and gradient
#: blocks stay in a core's L2 cache between the loss kernel and the gradient kernel
_FUSED_BLOCK = 1 << 16
#: below this many elements torch's kernels are called as they are: the fused path saves memory traffic,
#: which small inputs do not have, and costs a custom autograd node
_FUSED_MIN_ELEMENTS = 1 << 17
#: huber / smooth_l1 do more per block (clamp, dot, scale), and below ~2^22 elements (16 MiB) their per-block
#: calls cost what the saved memory traffic gains: at 1e6 elements, 1 thread, the fused path measured 1.00
#: (huber) and 1.08 (smooth_l1) of torch, at 2^21 0.93 / 0.98, at 2^22 0.85 / 0.89, at 2^23 0.70 / 0.79
_FUSED_MIN_ELEMENTS_CLAMPED = 1 << 22


class _FusedGradient(torch.autograd.Function):
    """A reduced mse / l1 / huber / smooth_l1 loss whose forward also writes the input gradient.

    torch reads input and target in the forward and again in the backward, and allocates two
    elementwise tensors (the forward's temporary, the backward's gradient); at 2^24 elements the page
    faults of those allocations cost more than the arithmetic. Here the forward walks the inputs in
    cache-sized blocks and writes each block's gradient into one preallocated tensor while the block is
    still in cache (mse: r = x - y, Σ r·r as a dot product, then (2/n)·r in place; l1: torch's sgn;
    huber / smooth_l1: see :func:`_clamped_blocks`). The backward returns that tensor (scaled by
    ``grad_output`` unless it is 1), so one elementwise tensor is allocated per step, and it is the
    gradient itself. The gradients are torch's, bit for bit; the values agree to rounding (the sums are
    grouped by block).

    Double backward (``create_graph=True``) differentiates torch's own loss again from the saved
    input and target (references, not copies), so second derivatives are exactly torch's.
    """

    @staticmethod
    def forward(ctx, input, target, kind, reduction, switch):
        numel = input.numel()
        flat_input, flat_target = input.reshape(-1), target.reshape(-1)
        gradient = empty_like_on_huge_pages(flat_input)  # 64 MiB at 2^24: see _core/memory.py
        scale = 1.0 / numel if reduction == "mean" else 1.0
        block = _FUSED_BLOCK * max(1, torch.get_num_threads())
        if kind in ("huber", "smooth_l1"):
            total = _clamped_blocks(flat_input, flat_target, gradient, kind, switch, scale, block)
        else:
            grad_scale = flat_input.new_full((), scale)
            partial_sums = []
            for start in range(0, numel, block):
                x, y, g = (t[start : start + block] for t in (flat_input, flat_target, gradient))
                residual = torch.sub(x, y, out=g)
                if kind == "mse":
                    # Σ r² as a dot product of the block (as accurate as torch's sum here, and a pass cheaper
                    # than its kernel), then r · 2/n in place: torch's (2/n) · (x - y), the same product
                    partial_sums.append(torch.dot(residual, residual))
                    residual.mul_(2.0 * scale)
                else:  # l1: torch differentiates |x - y| as sgn(x - y) · grad_output
                    partial_sums.append(residual.abs().sum())
                    residual.sgn_()
                    if reduction == "mean":
                        residual.mul_(grad_scale)
            total = partial_sums[0] if len(partial_sums) == 1 else torch.stack(partial_sums).sum()
        ctx.save_for_backward(gradient, input, target)
        ctx.loss = (kind, reduction, switch)
        return total / numel if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output):
        gradient, input, target = ctx.saved_tensors
        needs_input, needs_target = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():  # create_graph=True: torch's own loss, differentiated again
            return (
                *_torch_loss_gradients(ctx.loss, input, target, grad_output, needs_input, needs_target),
                None,
                None,
                None,
            )
        if host_readable(grad_output) and bool(grad_output == 1):
            grad = (
                gradient  # loss.backward(): the saved tensor is the gradient (autograd copies it if the graph is kept)
            )
        else:
            grad = gradient * grad_output
        grad = grad.view(input.shape)
        return (grad if needs_input else None), (-grad if needs_target else None), None, None, None


#: torch's backward kernels take their vectorised loop in steps of two vectors and the scalar loop for the
#: rest; two vectors are at most 64 elements on every CPU torch builds for (AVX-512 float: 32), so the last
#: ``numel % 64`` elements hold every element its scalar loop writes on one thread
_SCALAR_TAIL_ALIGN = 64


def _clamped_blocks(x_all, y_all, gradient, kind, switch, scale, block):
    """huber / smooth_l1 block by block: Σ loss, and the gradient written into ``gradient``.

    With c = clamp(r, -δ, δ), r = x - y: huber's loss is c·r - c²/2 (r²/2 inside, δ(|r| - δ/2) outside)
    and its gradient c·(1/n); smooth_l1 is huber with δ = β, divided by β, and its gradient
    (c / β)·(1/n) = clamp(r / β, -1, 1)·(1/n). So each block keeps r in a reused cache-sized scratch
    block, writes c into the gradient, sums c·(r - c/2) as a dot product and scales c in place: one
    elementwise pass over memory instead of torch's two kernels (the forward's and the backward's).

    These are the products torch's vectorised backward loop makes: ``norm · blendv(...) · grad_output``,
    norm = 1/n, grad_output = 1. Its scalar loop (the last few elements of each thread's range) rounds
    differently: huber multiplies the float norm by the double δ, smooth_l1 divides norm·r by the
    double β. So where the two loops can differ, torch's own kernel rewrites the elements its scalar
    loop writes: on one thread, the last ``numel % 64`` (a slice starting on a multiple of two vectors
    splits as the whole tensor does); on several threads, whose ranges torch splits itself, the whole
    gradient (one more read of the inputs).
    """
    numel = x_all.numel()
    residual_block = torch.empty(min(block, numel), dtype=x_all.dtype, device=x_all.device)
    partial_sums = []
    for start in range(0, numel, block):
        x, y, g = (t[start : start + block] for t in (x_all, y_all, gradient))
        residual = torch.sub(x, y, out=residual_block[: x.numel()])
        clamped = torch.clamp(residual, -switch, switch, out=g)
        # Σ c·(r - c/2), not Σ c·r - Σ c²/2: a float dot product adding the same δ² over and over rounds the
        # same way each time (3e-6 off on a block of 2^16), while the terms c·(r - c/2) vary
        partial_sums.append(torch.dot(clamped, residual.sub_(clamped, alpha=0.5)))
        if kind == "smooth_l1":
            clamped.div_(switch)  # clamp(r, -β, β) / β: torch's clamp(r / β, -1, 1), the same quotients
        if scale != 1.0:
            clamped.mul_(scale)
    total = partial_sums[0] if len(partial_sums) == 1 else torch.stack(partial_sums).sum()
    if kind == "smooth_l1":
        total = total / switch
    if not _vector_loop_is_scalar_loop(kind, switch, scale, x_all.dtype):
        if torch.get_num_threads() == 1:
            start = numel - numel % _SCALAR_TAIL_ALIGN
        else:
            start = 0
        if start < numel:
            # reduction "sum" with grad_output = 1/n: torch's norm · r · grad_output with norm = 1/n, grad_output = 1
            backward = (
                torch.ops.aten.huber_loss_backward.out
                if kind == "huber"
                else torch.ops.aten.smooth_l1_loss_backward.grad_input
            )
            backward(x_all.new_full((), scale), x_all[start:], y_all[start:], _SUM, switch, grad_input=gradient[start:])
    return total


def _vector_loop_is_scalar_loop(kind: str, switch: float, scale: float, dtype: torch.dtype) -> bool:
    """Whether torch's scalar backward loop gives its vectorised loop's products for every element.

    huber: both give norm·r inside; outside, the scalar loop rounds norm·δ with δ a double, the vector
    loop norm·δ with δ rounded to the dtype first: the same two numbers, or not. smooth_l1: the scalar
    loop's (norm·r)/β and the vector loop's norm·(r/β) differ whenever norm is not a power of two (and
    even then where norm·r is subnormal), so it always answers no.
    """
    if kind != "huber":
        return False
    if dtype == torch.float64:
        return True
    norm = torch.tensor(scale, dtype=dtype)
    scalar_loop = (norm.double() * switch).to(dtype)
    vector_loop = norm * torch.tensor(switch, dtype=dtype)
    return bool(scalar_loop == vector_loop)


def _torch_loss(kind: str, input: torch.Tensor, target: torch.Tensor, reduction: str, switch: float) -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(input, target, reduction=reduction)
    if kind == "huber":
        return F.huber_loss(input, target, reduction=reduction, delta=switch)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(input, target, reduction=reduction, beta=switch)
    return F.l1_loss(input, target, reduction=reduction)


def _torch_loss_gradients(loss, input, target, grad_output, needs_input, needs_target):
    """The gradients of torch's loss with respect to the inputs that need them, on the graph (double backward)."""
    kind, reduction, switch = loss
    wrt = [t for t, needed in ((input, needs_input), (target, needs_target)) if needed]
    grads = iter(
        torch.autograd.grad(_torch_loss(kind, input, target, reduction, switch), wrt, grad_output, create_graph=True)
    )
    return (next(grads) if needs_input else None), (next(grads) if needs_target else None)


def _pair_loss(
    kind: str,
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    sample_weight: Optional[torch.Tensor],
    fn: str,
    switch: float = 0.0,
) -> torch.Tensor:
    """mse / l1 / huber / smooth_l1: the fused-gradient path where it pays, torch's kernel elsewhere."""
    if (
        reduction in ("mean", "sum")
        and sample_weight is None
        and input.numel() >= (_FUSED_MIN_ELEMENTS_CLAMPED if kind in ("huber", "smooth_l1") else _FUSED_MIN_ELEMENTS)
        and torch.is_grad_enabled()
        and (input.requires_grad or target.requires_grad)
        and input.is_contiguous()
        and target.is_contiguous()
        and not autograd_transform_active()
    ):
        return _FusedGradient.apply(input, target, kind, reduction, switch)
    kwargs = {"delta": switch} if kind == "huber" else {"beta": switch} if kind == "smooth_l1" else {}
    return fused_or_reduce(_TORCH_LOSSES[kind], input, target, reduction, sample_weight=sample_weight, fn=fn, **kwargs)


_TORCH_LOSSES: Dict[str, Callable[..., torch.Tensor]] = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "huber": F.huber_loss,
    "smooth_l1": F.smooth_l1_loss,
}


def _log_cosh_of(residual: torch.Tensor) -> torch.Tensor:
    """log cosh(r), stable: a composition of differentiable operations (its autograd gradient is tanh(r)).

    cosh is even: |r| + softplus(-2|r|) - log 2 is exact, never overflows before the result does
    (r + softplus(-2r) overflowed at r ~ -1.7e38 in float32, and was -inf + inf = NaN at r = -inf).
    The in-place steps write into softplus's fresh output, which its backward does not read.
    """
    magnitude = residual.abs()
    return F.softplus(magnitude * -2.0).add_(magnitude).sub_(_LOG2)


class _LogCosh(torch.autograd.Function):
    """log cosh(x - y) with its derivative tanh(x - y) written out: two passes forward, two back.

    Eager only: inside torch.func transforms :func:`log_cosh_loss` differentiates :func:`_log_cosh_of`.
    """

    @staticmethod
    def forward(ctx, input, target):
        residual = input - target
        ctx.save_for_backward(input, target, residual)
        return _log_cosh_of(residual)

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
    r"""Mean absolute error, torch's ``l1_loss`` (its kernels underneath; large inputs: the gradient in the forward).

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
    return _pair_loss("l1", input, target, reduction, sample_weight, fn)


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
    r"""Mean squared error, torch's ``mse_loss`` (its kernels underneath; large inputs: the gradient in the forward).

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
    return _pair_loss("mse", input, target, reduction, sample_weight, fn)


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
    # an infinite value is where the plain root's gradient is ∞/∞: only then the limit form (one read on CPU)
    return fast_or_exact(
        input,
        lambda: _rmse(input, target, reduction, eps, sample_weight, fn),
        lambda: _rmse_at_infinity(input, target, reduction, eps, sample_weight, fn),
        redo_where=torch.isinf,
    )


def _rmse(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    eps: float,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    return safe_sqrt(reduce_loss((input - target).square(), reduction, weight=sample_weight, fn=fn) + eps)


def _rmse_at_infinity(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    eps: float,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    """rmse whose gradient at infinite residuals is the limit a_i sign(r_i) / sqrt(Σ_inf a_j).

    An infinite residual makes the root infinite, and its plain gradient r / (n · root) is ∞/∞ = NaN. Its
    limit (every infinite residual growing at one rate) is a_i sign(r_i) / sqrt(Σ_inf a_j), with a_i the
    pooling coefficient (w_i / Σw for mean): a loss linear in the infinite residuals, scaled by the constant
    1 / sqrt(Σ_inf a_j), has exactly that value (∞) and that gradient. The finite branch sees the infinite
    residuals as 0, so nothing in it is ∞ · 0.
    """
    residual = input - target
    is_infinite = residual.detach().isinf()
    direction = torch.where(is_infinite, residual.detach().sign(), torch.zeros_like(residual))
    infinite_weight = reduce_loss(direction.square(), reduction, weight=sample_weight, fn=fn)
    has_infinite = infinite_weight > 0
    at_infinity = reduce_loss(direction * residual, reduction, weight=sample_weight, fn=fn) / torch.sqrt(
        torch.where(has_infinite, infinite_weight, torch.ones_like(infinite_weight))
    )
    finite_residual = torch.where(is_infinite, torch.zeros_like(residual), residual)
    root = safe_sqrt(reduce_loss(finite_residual.square(), reduction, weight=sample_weight, fn=fn) + eps)
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
    beta = float(beta)
    # beta = 0 is l1 exactly (torch's smooth_l1_loss calls l1_loss there)
    return _pair_loss("smooth_l1" if beta > 0 else "l1", input, target, reduction, sample_weight, fn, beta)


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
    return _pair_loss("huber", input, target, reduction, sample_weight, fn, float(delta))


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
    # torch.func transforms refuse a Function without setup_context: there autograd differentiates the formula
    # (same values; the gradient tanh(r) to rounding), elsewhere the Function's two-pass backward
    per = _log_cosh_of(input - target) if functorch_transforms_active() else _LogCosh.apply(input, target)
    return reduce_loss(per, reduction, weight=sample_weight, fn=fn)


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
    # ∞/∞ (NaN) at an infinite target: only then the limit form (one read on CPU)
    return fast_or_exact(
        input,
        lambda: reduce_loss(_mape(input, target, eps), reduction, weight=sample_weight, fn=fn),
        lambda: reduce_loss(_mape_at_infinity(input, target, eps), reduction, weight=sample_weight, fn=fn),
    )


def _mape(input: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    return 100.0 * (input - target).abs() / target.abs().clamp_min(eps)


def _mape_at_infinity(input: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """An infinite target against a finite prediction: the limit |x - y| / |y| -> 1, 100 %, with zero
    gradients; the differentiated branch divides by 1 there instead of forming ∞/∞."""
    target_at_infinity = target.isinf() & input.isfinite()
    safe_target = torch.where(target_at_infinity, torch.ones_like(target), target)
    safe_input = torch.where(target_at_infinity, torch.ones_like(input), input)
    loss = _mape(safe_input, safe_target, eps)
    return torch.where(target_at_infinity, torch.full_like(loss, 100.0), loss)


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
    # an infinite value is where the plain form's gradient is ∞ · 0: only then the limit form (one read on CPU)
    return fast_or_exact(
        input,
        lambda: reduce_loss(
            (torch.log1p(input.clamp_min(eps)) - torch.log1p(target.clamp_min(eps))).square(),
            reduction,
            weight=sample_weight,
            fn=fn,
        ),
        lambda: reduce_loss(
            (_log1p_floored(input, eps) - _log1p_floored(target, eps)).square(), reduction, weight=sample_weight, fn=fn
        ),
        redo_where=torch.isinf,
    )


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
