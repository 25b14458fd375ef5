"""Margin losses: binary, squared and categorical hinge, torch's multi-class and multi-label margin losses, soft margin."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from .._core import checks
from .._core.nonfinite import propagate_nan
from .._core.reduction import fast_or_exact, fused_or_reduce, reduce_loss
from .._core.spec import Curve, Role, loss
from .._core.targets import (
    checked_class_weight,
    class_dim,
    class_index_target,
    explain_bad_target,
    hinge_targets,
    is_probability_target,
    kernel_checks_range,
    plain_index_call,
    prepare_scores,
)
from .._core.validation import (
    check_class_weight,
    check_same_shape,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
    prepare_pair,
    require,
    to_compute,
)
from ._common import FAMILY

__all__ = [
    "hinge_loss",
    "squared_hinge_loss",
    "categorical_hinge_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
]


@loss(
    "hinge",
    family=FAMILY,
    module="HingeLoss",
    hparams={},
    roles=(Role("input", "scores (*)"), Role("target", "labels of the input's shape", differentiable=False)),
    references=("Keras hinge", "sklearn.metrics.hinge_loss", "NumPy reference"),
    curve=Curve("margin"),
)
def hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Binary hinge loss (Keras's ``hinge``, elementwise).

    .. math::
        \ell_i = \max(0,\, 1 - y_i x_i)

    Targets are labels in {-1, 1} or in {0, 1} (converted to {-1, 1}, as
    Keras does); anything else raises ``ValueError`` (a data check).

    Args:
        input: scores, any shape ``(*)``.
        target: labels of the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> hinge_loss(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0]))
        tensor(0.2500)

    Reference:
        Keras ``hinge``; ``sklearn.metrics.hinge_loss``.
    """
    fn = "hinge_loss"
    input, target = prepare_pair(fn, input, target)
    loss = torch.relu(1.0 - hinge_targets(fn, target) * input)
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "squared_hinge",
    family=FAMILY,
    module="SquaredHingeLoss",
    hparams={},
    roles=(Role("input", "scores (*)"), Role("target", "labels of the input's shape", differentiable=False)),
    references=("Keras squared_hinge", "NumPy reference"),
    curve=Curve("margin"),
)
def squared_hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Squared hinge loss (Keras's ``squared_hinge``, elementwise).

    .. math::
        \ell_i = \max(0,\, 1 - y_i x_i)^2

    Targets as for :func:`hinge_loss`.

    Args:
        input: scores, any shape ``(*)``.
        target: labels in {-1, 1} or {0, 1}, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> squared_hinge_loss(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0]))
        tensor(0.1250)

    Reference:
        Keras ``squared_hinge``.
    """
    fn = "squared_hinge_loss"
    input, target = prepare_pair(fn, input, target)
    loss = torch.relu(1.0 - hinge_targets(fn, target) * input).square()
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "categorical_hinge",
    family=FAMILY,
    module="CategoricalHingeLoss",
    hparams={},
    roles=(
        Role("input", "scores (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "one-hot of the input's shape, or class indices"),
    ),
    capabilities=("compile", "double_backward", "index_targets", "probability_targets"),
    references=("Keras categorical_hinge", "NumPy reference"),
    curve=Curve("margin"),
)
def categorical_hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Categorical hinge loss (Keras's ``categorical_hinge``) over the class dimension.

    .. math::
        \ell_i = \max\big(0,\; 1 + \max_c (1 - t_{i,c})\, x_{i,c} - \textstyle\sum_c t_{i,c}\, x_{i,c}\big)

    Args:
        input: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: one-hot targets of the input's shape, or class indices.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> categorical_hinge_loss(torch.tensor([[2.0, 1.5, 0.0]]), torch.tensor([0]))
        tensor(0.5000)

    Reference:
        Keras ``categorical_hinge``; Crammer & Singer, 2001.
    """
    fn = "categorical_hinge_loss"
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    if is_probability_target(fn, input, target):
        t = target.to(input.dtype)
        # a zero coefficient selects nothing: 0 · ±inf is 0 here (one-hot selection), never NaN
        zero = torch.zeros((), dtype=input.dtype, device=input.device)
        # (only where the score is infinite, so the target keeps its gradient x where t = 0)
        infinite = torch.isinf(input)
        positive = torch.where(infinite & (t == 0), zero, t * input).sum(cdim)
        negative = torch.where(infinite & (t == 1), zero, (1.0 - t) * input).amax(cdim)
    else:
        # one-hot targets without building them: the true class's score, and the others' max with the
        # true class's slot read as 0 — exactly Keras's max((1 - t) x)
        target, _ = class_index_target(fn, input, target)
        index = target.unsqueeze(cdim)
        positive = input.gather(cdim, index).squeeze(cdim)
        negative = input.scatter(cdim, index, 0.0).amax(cdim)
    return reduce_loss(torch.relu(negative - positive + 1.0), reduction, weight=sample_weight, fn=fn)


@loss(
    "multi_margin",
    family=FAMILY,
    module="MultiMarginLoss",
    aliases=("multiclass_svm",),
    roles=(Role("input", "scores (N, C) or (C,)"), Role("target", "class indices (N,)", differentiable=False)),
    hparams={"p": checks.one_of(1, 2), "margin": checks.real, "weight": checks.class_weight},
    positional=("p", "margin", "weight"),
    capabilities=("compile", "class_weight", "index_targets"),
    references=("torch.nn.functional.multi_margin_loss", "NumPy reference"),
    curve=Curve("margin", "margin", (0.5, 1.0, 2.0)),
)
def multi_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class SVM hinge loss; torch's ``multi_margin_loss``.

    .. math::
        \ell_i = \frac{1}{C} \sum_{c \ne y_i} w_{y_i} \max(0,\, \text{margin} - x_{i,y_i} + x_{i,c})^p

    Args:
        input: scores ``(N, C)`` or ``(C,)``.
        target: class indices ``(N,)`` or ``()``.
        p: 1 or 2.
        margin: the margin.
        weight: per-class weights ``(C,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> multi_margin_loss(torch.tensor([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3]))
        tensor(0.3250)

    Reference:
        ``torch.nn.functional.multi_margin_loss``; Weston & Watkins, 1999.
    """
    fn = "multi_margin_loss"
    # eager CPU (N, C) scores with int64 targets: nothing to check or cast, torch's kernel checks the range
    plain, weight = plain_index_call(fn, input, target, weight)
    if plain:
        range_by_kernel = True
    else:
        input = prepare_scores(fn, input)
        if input.dim() > 2:
            raise ValueError(f"{fn}: input must be (N, C) or (C,); got {fmt_shape(input.shape)}")
        weight = checked_class_weight(fn, weight, input)
        range_by_kernel = kernel_checks_range(input)
        target, _ = class_index_target(fn, input, target, check_range=not range_by_kernel)
    try:
        if plain:  # N, C >= 1: torch's own reduction is exact (fused_or_reduce's case, without its call)
            loss = F.multi_margin_loss(input, target, p=p, margin=float(margin), weight=weight, reduction=reduction)
        else:
            loss = fused_or_reduce(
                F.multi_margin_loss, input, target, reduction, fn=fn, p=p, margin=float(margin), weight=weight
            )
    except RuntimeError:
        if range_by_kernel:
            explain_bad_target(fn, input, target, None)
        raise
    # torch's kernel compares with > 0, which drops NaN scores silently: put NaN back (one reduction, one host
    # read). On the plain path data checks run, so propagate_nan's look is written out, as a test for NaN alone
    # (+inf, or an overflowing sum, is no reason for its exact path).
    if plain and not math.isnan(_nan_probe(input)):
        return loss
    return propagate_nan(loss, input)


#: below this many scores, max is the cheaper reduction that carries NaN (no accumulator set-up: ~1 us less
#: per call at 8 x 10 and 8 x 100, forward + backward); above it sum, which vectorises (max: 2x sum's cost at
#: 1e5 scores). Measured on CPU, 1 thread, torch 2.13.
_MAX_PROBE_BELOW = 4096


def _nan_probe(scores: torch.Tensor) -> float:
    """A number that is NaN when ``scores`` (non-empty) holds NaN: their max or sum, whichever is cheaper."""
    scores = scores.detach()
    return (scores.max() if scores.numel() < _MAX_PROBE_BELOW else scores.sum()).item()


@loss(
    "multilabel_margin",
    family=FAMILY,
    module="MultiLabelMarginLoss",
    hparams={},
    roles=(
        Role("input", "scores (N, C) or (C,)"),
        Role("target", "class lists padded with -1, the input's shape", differentiable=False),
    ),
    capabilities=("compile", "index_targets"),
    references=("torch.nn.functional.multilabel_margin_loss", "NumPy reference"),
    curve=Curve("margin"),
)
def multilabel_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-label hinge loss; torch's ``multilabel_margin_loss``.

    .. math::
        \ell_i = \sum_{j \in Y_i} \sum_{c \notin Y_i} \frac{\max(0,\, 1 - (x_{i,j} - x_{i,c}))}{C}

    where :math:`Y_i` are the leading non-negative entries of ``target[i]``
    (the first ``-1`` ends the list, as in torch).

    Args:
        input: scores ``(N, C)`` or ``(C,)``.
        target: integer class lists of the input's shape, padded with -1.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> multilabel_margin_loss(torch.tensor([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)

    Reference:
        ``torch.nn.functional.multilabel_margin_loss``.
    """
    fn = "multilabel_margin_loss"
    input = prepare_scores(fn, input)
    if input.dim() > 2:
        raise ValueError(f"{fn}: input must be (N, C) or (C,); got {fmt_shape(input.shape)}")
    if target.is_floating_point() or target.dtype == torch.bool:
        raise TypeError(f"{fn}: target must be an integer tensor of class lists padded with -1; got {target.dtype}")
    check_same_shape(fn, input, target)
    num_classes = input.shape[-1]
    if target.numel() and data_checks_active(target) and not host_readable(target):
        require(
            (target >= -1) & (target < num_classes),
            f"{fn}: target contains a class outside the valid range [0, {num_classes - 1}] (or -1 to end a list)",
        )
    elif target.numel() and data_checks_active(target):
        lo, hi = int(target.min()), int(target.max())
        if lo < -1 or hi >= num_classes:
            bad = lo if lo < -1 else hi
            raise ValueError(
                f"{fn}: target contains class {bad}, outside the valid range [0, {num_classes - 1}] (or -1 to end a list)"
            )
    if not torch.compiler.is_compiling():
        return propagate_nan(fused_or_reduce(F.multilabel_margin_loss, input, target.long(), reduction, fn=fn), input)
    # While torch.compile traces, torch's decomposition of this loss gives different numbers from its
    # eager kernel; the same maths in plain tensor ops (O(N C^2) memory, so only here) compiles correctly.
    scores, labels = input.reshape(-1, num_classes), target.reshape(-1, num_classes).long()
    in_list = torch.cumprod((labels >= 0).long(), dim=-1).bool()  # entries before the first -1
    slot = torch.where(in_list, labels, torch.full_like(labels, num_classes))
    # times each class is listed (a repeated label counts again, as in torch), and membership
    count = torch.zeros(scores.shape[0], num_classes + 1, dtype=scores.dtype, device=scores.device)
    count = count.scatter_add(1, slot, in_list.to(scores.dtype))[:, :num_classes]
    negative = (count == 0).to(scores.dtype)
    hinge = torch.relu(1.0 - scores.unsqueeze(-1) + scores.unsqueeze(-2))  # [i, j, c] = max(0, 1 - (x_j - x_c))
    loss = (count.unsqueeze(-1) * negative.unsqueeze(-2) * hinge).sum((-1, -2)) / num_classes
    return reduce_loss(loss.reshape(input.shape[:-1]), reduction, fn=fn)


class _SoftMargin(torch.autograd.Function):
    """log(1 + exp(-y x)) reduced, in one Function: softplus forward, sigmoid backward, only the inputs saved.

    ``scale`` is 1/N for "mean", 1 for "sum", None for "none". The forward evaluates
    ``-softplus(y x, beta=-1)``, which is linear (exact, finite) where ``-y x`` is large and torch's
    ``log(1 + exp(-y x))`` overflows; the backward recomputes ``y x`` from the saved inputs and writes
    ``-y σ(-y x)`` in place. Under ``create_graph=True`` the backward is written with differentiable
    operations instead, so second derivatives are exact. Eager only: see :func:`soft_margin_loss`.
    """

    @staticmethod
    def forward(ctx, input, target, scale):
        ctx.save_for_backward(input, target)
        ctx.scale = scale
        neg_loss = F.softplus(torch.mul(input, target), beta=-1.0)  # -log(1 + exp(-y x))
        if scale is None:
            return neg_loss.neg_()
        return neg_loss.sum().mul_(-scale)

    @staticmethod
    def backward(ctx, grad_output):
        input, target = ctx.saved_tensors
        go = grad_output if ctx.scale is None else grad_output * ctx.scale
        if torch.is_grad_enabled():  # double backward: the composite gradient, recorded by autograd
            s = torch.sigmoid(-(input * target))
            return -target * s * go, (-input * s * go if ctx.needs_input_grad[1] else None), None
        s = torch.mul(input, target).neg_().sigmoid_()  # σ(-y x)
        grad_target = torch.mul(s, input).mul_(-go) if ctx.needs_input_grad[1] else None
        grad_input = s.mul_(target).mul_(-go) if ctx.needs_input_grad[0] else None
        return grad_input, grad_target, None


@loss(
    "soft_margin",
    family=FAMILY,
    module="SoftMarginLoss",
    hparams={},
    roles=(Role("input", "scores (*)"), Role("target", "labels of the input's shape", differentiable=False)),
    references=("torch.nn.functional.soft_margin_loss", "NumPy reference"),
    curve=Curve("margin"),
)
def soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Two-class logistic loss; torch's ``soft_margin_loss`` numbers, computed stably.

    .. math::
        \ell_i = \log(1 + e^{-y_i x_i}) = -\log\sigma(y_i x_i), \qquad y_i \in \{-1, 1\}

    Computed as a softplus that turns linear where ``-y x`` is large: torch's
    kernel evaluates ``log(1 + exp(-y x))`` and overflows to inf once ``-y x``
    passes ~89 (float32) or ~710 (float64); losskit stays finite and exact.
    One autograd Function (softplus forward, sigmoid backward) that saves only
    the inputs, as torch's kernel does; twice differentiable.

    Args:
        input: scores, any shape ``(*)``.
        target: labels in {-1, 1}, the input's shape.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> soft_margin_loss(torch.tensor([0.0]), torch.tensor([1.0]))
        tensor(0.6931)

    Reference:
        ``torch.nn.functional.soft_margin_loss``.
    """
    fn = "soft_margin_loss"
    input, target = prepare_pair(fn, input, target)
    # the one-node Function in eager mode; torch.func transforms (which refuse a Function without setup_context)
    # differentiate the logsigmoid composition below, torch's own kernel with the same values and gradient
    if (
        sample_weight is None
        and input.numel()
        and reduction in ("mean", "sum", "none")
        and not functorch_transforms_active()
    ):
        scale = None if reduction == "none" else (1.0 / input.numel() if reduction == "mean" else 1.0)
        return _SoftMargin.apply(input, target, scale)
    return reduce_loss(-F.logsigmoid(target * input), reduction, weight=sample_weight, fn=fn)


@loss(
    "multilabel_soft_margin",
    family=FAMILY,
    module="MultiLabelSoftMarginLoss",
    roles=(Role("input", "logits (N, C) or (*, C)"), Role("target", "the input's shape, in [0, 1]")),
    hparams={"weight": checks.class_weight},
    positional=("weight",),
    capabilities=("compile", "double_backward", "class_weight", "probability_targets"),
    references=("torch.nn.functional.multilabel_soft_margin_loss", "NumPy reference"),
    curve=Curve("margin"),
)
def multilabel_soft_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-label one-versus-all logistic loss; torch's ``multilabel_soft_margin_loss``.

    .. math::
        \ell_i = -\frac{1}{C} \sum_c w_c \big(y_{i,c} \log\sigma(x_{i,c}) + (1 - y_{i,c}) \log\sigma(-x_{i,c})\big)

    As in torch, the classes are the *last* dimension.

    Integer 0/1 targets are accepted (as torch does) and computed in the
    input's dtype. A score of ±inf gives the loss's limit (0 or inf) where
    torch's formula gives NaN (``0 · log σ(-inf)``).

    Args:
        input: logits ``(N, C)`` (or ``(*, C)``).
        target: the input's shape, in [0, 1] (floating, or integer labels).
        weight: per-class weights ``(C,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(*)``).

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> multilabel_soft_margin_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        tensor(0.6931)

    Reference:
        ``torch.nn.functional.multilabel_soft_margin_loss``.
    """
    fn = "multilabel_soft_margin_loss"
    if isinstance(target, torch.Tensor) and isinstance(input, torch.Tensor) and input.is_floating_point():
        if not (target.is_floating_point() or target.is_complex() or target.dtype == torch.bool):
            target = target.to(input.dtype)  # integer 0/1 labels, as torch's MultiLabelSoftMarginLoss takes them
    input, target = prepare_pair(fn, input, target)
    if input.dim() == 0:
        raise ValueError(f"{fn}: input must have a class dimension (the last); got a scalar")
    if input.shape[-1] == 0:
        raise ValueError(f"{fn}: input must have at least one class (C >= 1); got shape {fmt_shape(input.shape)}")
    check_class_weight(fn, weight, input.shape[-1])  # classes last here (torch's layout for this loss)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    classes = input.shape[-1]

    def fused() -> torch.Tensor:
        # the same loss is torch's fused BCE-with-logits kernel: its "mean" over all N·C terms is the mean of the
        # per-row means, its "sum" is C times the sum of them (one pass and one gradient kernel, where torch's
        # own multilabel_soft_margin_loss composes two logsigmoids and five elementwise ops)
        if reduction == "none":
            return F.binary_cross_entropy_with_logits(input, target, weight, reduction="none").mean(-1)
        total = F.binary_cross_entropy_with_logits(input, target, weight, reduction=reduction)
        return total if reduction == "mean" else total / classes

    def with_limits() -> torch.Tensor:
        # torch's formula, with 0 · log σ(∓x) read as 0 where a label is exactly 1 or 0: torch returns NaN for
        # a score of ±inf there, where the loss is finite (or +inf); only the infinite log is replaced, so the
        # products stay linear in the target and its gradient is exact. Also the empty batch's reduction.
        zero = torch.zeros((), dtype=input.dtype, device=input.device)
        log_pos, log_neg = F.logsigmoid(input), F.logsigmoid(-input)
        log_pos = torch.where((target == 0) & torch.isinf(log_pos), zero, log_pos)
        log_neg = torch.where((target == 1) & torch.isinf(log_neg), zero, log_neg)
        loss = -(target * log_pos + (1.0 - target) * log_neg)
        if weight is not None:
            loss = loss * weight
        return reduce_loss(loss.mean(-1), reduction, fn=fn)

    if input.numel() == 0 or (weight is not None and weight.requires_grad):
        return with_limits()  # torch's fused kernel takes no gradient for its weight
    # the fused kernel's NaN (a ±inf score, or a NaN input, which the exact formula keeps NaN) sends the
    # call to the formula with the limits
    return fast_or_exact(input, fused, with_limits)
