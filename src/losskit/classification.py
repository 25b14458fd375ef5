"""Classification losses.

Layout follows torch: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` or unbatched
``(C,)``; class-index targets ``(N)`` / ``(N, d1, ..., dk)`` / ``()`` of an
integer dtype; probability targets are floating and have the input's shape.
Losses over class scores take logits (``binary_cross_entropy`` is the one that
takes probabilities, for parity with torch).

Where torch has the loss, losskit calls torch's kernel and gives torch's
numbers, with these deliberate differences (see the README, "coming from
torch.nn"):

* ``"mean"`` with every target ignored, or of an empty batch, is 0 with zero
  gradients (torch: NaN);
* float class-index targets raise ``TypeError``; out-of-range classes raise
  ``ValueError`` naming the class and the valid range (torch: an IndexError
  or a device assert); a class ``weight`` of the wrong length raises;
* float16/bfloat16 scores are computed in float32 and the loss is float32.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F

from ._core.module import Loss, ReductionLoss
from ._core.reduction import fused_or_reduce, reduce_loss, safe_divide
from ._core.registry import register
from ._core.validation import (
    check_broadcastable_to,
    check_class_target,
    check_class_weight,
    check_floating,
    check_number,
    check_reduction,
    check_same_shape,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    prepare_pair,
    to_compute,
)

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "balanced_binary_cross_entropy_with_logits",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "generalized_cross_entropy",
    "hinge_loss",
    "squared_hinge_loss",
    "categorical_hinge_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BalancedBCEWithLogitsLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "Poly1CrossEntropyLoss",
    "GeneralizedCrossEntropyLoss",
    "HingeLoss",
    "SquaredHingeLoss",
    "CategoricalHingeLoss",
    "MultiMarginLoss",
    "MultiLabelMarginLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
]

FAMILY = "classification"


# ---------------------------------------------------------------------------------------------
# private helpers
# ---------------------------------------------------------------------------------------------


def _class_dim(input: torch.Tensor) -> int:
    return 0 if input.dim() == 1 else 1


def _prepare_scores(fn: str, input: torch.Tensor, name: str = "input") -> torch.Tensor:
    check_floating(fn, name, input)
    if input.dim() == 0:
        raise ValueError(f"{fn}: {name} must have a class dimension, (C,), (N, C) or (N, C, d1, ...); got a scalar")
    return to_compute(compute_dtype(input), input)


def _is_probability_target(fn: str, input: torch.Tensor, target: torch.Tensor) -> bool:
    """Probability targets are floating with the input's shape; anything else must be class indices."""
    if target.is_floating_point() and target.shape == input.shape:
        return True
    if target.is_floating_point():
        check_class_target(fn, input, target)  # raises the TypeError that explains the two target kinds
    return False


def _check_label_smoothing(fn: str, label_smoothing: float) -> None:
    check_number(fn, "label_smoothing", label_smoothing, low=0.0, high=1.0)


def _check_alpha(fn: str, alpha, allow_tensor: bool) -> None:
    if alpha is None:
        return
    if isinstance(alpha, torch.Tensor):
        if not allow_tensor:
            raise TypeError(f"{fn}: alpha must be a number in [0, 1] or None; got a tensor")
        if alpha.dim() != 1:
            raise ValueError(f"{fn}: a per-class alpha must be a 1-D tensor; got shape {fmt_shape(alpha.shape)}")
        return
    check_number(fn, "alpha", alpha, low=0.0, high=1.0)


def _target_class_weights(weight: Optional[torch.Tensor], target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``w[y_i]`` for every target (1 without class weights), 0 where the target is ignored."""
    if weight is None:
        return valid.to(torch.get_default_dtype() if not torch.is_floating_point(valid) else valid.dtype)
    return weight[torch.where(valid, target, torch.zeros_like(target))] * valid


def _mean_over_targets(total: torch.Tensor, target: torch.Tensor, weight, ignore_index: int) -> torch.Tensor:
    """torch's mean for class-index targets, Σ loss / Σ w[y_i] over non-ignored targets, 0 when none count."""
    valid = target != ignore_index
    if weight is None:
        denominator = valid.sum().to(total.dtype)
    else:
        denominator = _target_class_weights(weight, target, valid).sum().to(total.dtype)
    return safe_divide(total, denominator)


def _gather_class(values: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor], cdim: int) -> torch.Tensor:
    """``values[..., y, ...]`` along the class dimension; ignored targets read class 0 (masked later)."""
    index = (target if valid is None else torch.where(valid, target, torch.zeros_like(target))).unsqueeze(cdim)
    return values.gather(cdim, index).squeeze(cdim)


def _log1m_softmax(log_probs: torch.Tensor, cdim: int) -> torch.Tensor:
    """``log(1 - p_c)`` for every class, accurate and with finite gradients at saturated logits.

    ``log1p(-exp(log p))`` loses everything when ``p`` rounds to 1. Only the
    arg-max class can have ``p > 1/2``; for it, ``log(1 - p)`` is the
    log-sum-exp of the *other* classes' log-probabilities, which is exact.
    """
    is_max = F.one_hot(log_probs.argmax(cdim), log_probs.shape[cdim]).movedim(-1, cdim).bool()
    others = log_probs.masked_fill(is_max, float("-inf")).logsumexp(cdim, keepdim=True)
    # a constant in the arg-max slot keeps log1p's backward away from 0/0 there
    safe = torch.where(is_max, torch.full_like(log_probs, -1.0), log_probs)
    return torch.where(is_max, others, torch.log1p(-torch.exp(safe)))


def _smooth_probability_target(target: torch.Tensor, label_smoothing: float, num_classes: int) -> torch.Tensor:
    return target if label_smoothing == 0 else target * (1.0 - label_smoothing) + label_smoothing / num_classes


def _valid_targets(fn, input, target, ignore_index):
    """The mask of targets that count, or None when the range check proved that none is ignored."""
    has_ignored = check_class_target(fn, input, target, ignore_index=ignore_index)
    return None if has_ignored is False or ignore_index is None else target != ignore_index


def _index_setup(fn, input, target, weight, ignore_index):
    """Shared checks and casts for class-index losses: (weight, cdim, valid mask or None if nothing is ignored)."""
    cdim = _class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    valid = _valid_targets(fn, input, target, ignore_index)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    return weight, cdim, valid


def _safe_targets(target: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Targets usable as indices: ignored ones read class 0 (their loss is masked later)."""
    return target if valid is None else torch.where(valid, target, torch.zeros_like(target))


def _reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn):
    """Per-target losses: ignored targets give 0; "mean" is Σ w[y]·l / Σ w[y] over the targets that count."""
    if valid is None:
        if weight is None and sample_weight is None:  # nothing ignored, nothing weighted: the plain reduction
            return reduce_loss(loss, reduction, fn=fn)
        valid = torch.ones_like(target, dtype=torch.bool)
    class_w = _target_class_weights(weight, target, valid).to(loss.dtype)
    if sample_weight is not None:
        check_broadcastable_to(fn, "sample_weight", sample_weight, loss.shape)
        class_w = class_w * sample_weight.to(loss.dtype)
    return reduce_loss(loss, reduction, weight=class_w, mask=valid, fn=fn)


def _nan_passthrough(loss: torch.Tensor, raw: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
    """Re-attach NaN from ``raw`` that was replaced in ``safe`` (elementwise or through the reduction)."""
    leak = (raw - safe) * 0.0
    return loss + (leak if loss.shape == raw.shape else leak.sum())


def _log_or_floor(t: torch.Tensor) -> torch.Tensor:
    """``log t`` with a huge finite negative value instead of -inf at t = 0.

    Used inside ``logaddexp``: the branch vanishes exactly as with -inf, but
    first and second derivatives stay finite (-inf makes them NaN).
    """
    positive = t > 0
    return torch.where(positive, torch.log(torch.where(positive, t, torch.ones_like(t))), torch.finfo(t.dtype).min / 4)


def _propagate_nan(loss: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """torch's margin kernels compare with ``> 0``, which silently drops NaN scores; put it back.

    The NaN-carrying term is detached: it changes no gradient, so it costs no backward pass.
    """
    detached = input.detach()
    leak = (detached.sum(-1) if loss.dim() else detached.sum()) * 0.0
    return loss + leak


def _logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(e^a + e^b)``, written out: torch.logaddexp's double backward is NaN when |a - b| is huge."""
    return torch.maximum(a, b) + torch.log1p(torch.exp(-(a - b).abs()))


def _hinge_targets(fn: str, target: torch.Tensor) -> torch.Tensor:
    """Keras's convention: {0, 1} targets become {-1, 1}; {-1, 1} targets are used as they are."""
    is_binary01 = ((target == 0) | (target == 1)).all()
    if data_checks_active(target) and target.numel() > 0:
        is_pm1 = bool(((target == -1) | (target == 1)).all())
        if not is_pm1 and not bool(is_binary01):
            bad = target[(target != -1) & (target != 0) & (target != 1)]
            shown = bad[0].item() if bad.numel() else "a mix of -1 and 0"
            raise ValueError(f"{fn}: target must hold labels in {{-1, 1}} or in {{0, 1}}; got {shown}")
    return torch.where(is_binary01, 2.0 * target - 1.0, target)


# ---------------------------------------------------------------------------------------------
# cross-entropy family (torch kernels underneath)
# ---------------------------------------------------------------------------------------------


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Softmax cross-entropy from logits; torch's ``cross_entropy`` (its kernel underneath).

    With class-index targets :math:`y_i`, class weights :math:`w` and label
    smoothing :math:`\varepsilon` over :math:`C` classes:

    .. math::
        \ell_i = -(1-\varepsilon)\, w_{y_i} \log p_{i,y_i}
                 - \frac{\varepsilon}{C} \sum_c w_c \log p_{i,c},
        \qquad p_i = \operatorname{softmax}(x_i)

    and ``"mean"`` is :math:`\sum_i \ell_i / \sum_i w_{y_i}` over targets that
    are not ``ignore_index``. With probability targets :math:`t` (the input's
    shape), :math:`\ell_i = -\sum_c w_c\, t'_{i,c} \log p_{i,c}` with
    :math:`t' = (1-\varepsilon) t + \varepsilon / C`, and ``"mean"`` divides by
    the number of samples.

    Differences from torch: "mean" with every target ignored (or an empty
    batch) is 0, not NaN; bad targets raise clear errors (module docstring).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N)``, ``(N, d1, ..., dk)`` or ``()`` (integer),
            or probabilities of the input's shape.
        weight: per-class weights ``(C,)``.
        ignore_index: a target value that contributes nothing (index targets).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        sample_weight: optional per-sample weights broadcastable to the
            unreduced loss; "mean" becomes Σ s·l / Σ s·w[y].

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(0.2395)

    Reference:
        ``torch.nn.functional.cross_entropy``; Keras ``categorical_crossentropy``
        and ``sparse_categorical_crossentropy`` (``from_logits=True``);
        Szegedy et al., "Rethinking the Inception Architecture", 2016 (smoothing).
    """
    fn = "cross_entropy"
    check_reduction(fn, reduction)
    _check_label_smoothing(fn, label_smoothing)
    input = _prepare_scores(fn, input)
    cdim = _class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    weight = to_compute(input.dtype, weight) if weight is not None else None
    ls = float(label_smoothing)
    if _is_probability_target(fn, input, target):
        target = to_compute(input.dtype, target)
        return fused_or_reduce(
            F.cross_entropy, input, target, reduction, sample_weight=sample_weight, fn=fn, weight=weight, label_smoothing=ls
        )
    has_ignored = check_class_target(fn, input, target, ignore_index=ignore_index)
    if sample_weight is not None:
        per = F.cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction="none", label_smoothing=ls)
        valid = target != ignore_index
        sw = sample_weight.to(per.dtype)
        check_broadcastable_to(fn, "sample_weight", sw, per.shape)
        if reduction != "mean":
            return reduce_loss(per, reduction, weight=sw, fn=fn)
        return safe_divide((per * sw).sum(), (_target_class_weights(weight, target, valid).to(per.dtype) * sw).sum())
    if reduction != "mean" or (has_ignored is False and weight is None):
        # torch's own reduction: exact, and its "mean" cannot be 0/0 when nothing is ignored
        return F.cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=ls)
    total = F.cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction="sum", label_smoothing=ls)
    return _mean_over_targets(total, target, weight, ignore_index)


def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of log-probabilities; torch's ``nll_loss``.

    .. math::
        \ell_i = -w_{y_i}\, x_{i, y_i}, \qquad
        \text{mean} = \sum_i \ell_i \Big/ \sum_{i:\, y_i \ne \text{ignore}} w_{y_i}

    Args:
        input: log-probabilities ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N)``, ``(N, d1, ..., dk)`` or ``()``.
        weight: per-class weights ``(C,)``.
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.

    Returns:
        A scalar, or ``(N, d1, ..., dk)`` with ``reduction="none"``.

    Example:
        >>> nll_loss(torch.tensor([[-0.1, -2.3]]), torch.tensor([1]))
        tensor(2.3000)

    Reference:
        ``torch.nn.functional.nll_loss``.
    """
    fn = "nll_loss"
    check_reduction(fn, reduction)
    input = _prepare_scores(fn, input)
    check_class_weight(fn, weight, input.shape[_class_dim(input)])
    has_ignored = check_class_target(fn, input, target, ignore_index=ignore_index)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    if reduction != "mean" or (has_ignored is False and weight is None):
        return F.nll_loss(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    total = F.nll_loss(input, target, weight=weight, ignore_index=ignore_index, reduction="sum")
    return _mean_over_targets(total, target, weight, ignore_index)


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Binary cross-entropy of *probabilities*; torch's ``binary_cross_entropy``.

    .. math::
        \ell_i = -w_i\big(y_i \log x_i + (1 - y_i) \log(1 - x_i)\big)

    with each log clamped at -100, as torch does. ``weight`` keeps torch's
    meaning here: a rescaling broadcastable to the input, and "mean" stays the
    plain mean. Prefer :func:`binary_cross_entropy_with_logits` (stable, and
    safe under autocast). Probabilities outside [0, 1] raise ``ValueError``
    (a data check); NaN propagates to the loss (torch raises instead).

    Args:
        input: probabilities, any shape ``(*)``.
        target: the input's shape, in [0, 1].
        weight: rescaling broadcastable to ``(*)`` (torch's semantics).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``; "mean" becomes Σ s·l / Σ s.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> binary_cross_entropy(torch.tensor([0.8, 0.4]), torch.tensor([1.0, 0.0]))
        tensor(0.3670)

    Reference:
        ``torch.nn.functional.binary_cross_entropy``; Keras ``binary_crossentropy``.
    """
    fn = "binary_cross_entropy"
    check_reduction(fn, reduction)
    input, target = prepare_pair(fn, input, target)
    check_broadcastable_to(fn, "weight", weight, input.shape)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    raw = input
    if data_checks_active(input) and input.numel() > 0:
        lo, hi = torch.aminmax(input.detach())
        if bool(lo < 0) or bool(hi > 1):
            raise ValueError(
                f"{fn}: input must hold probabilities in [0, 1]; got values in [{float(lo):g}, {float(hi):g}] "
                f"— for logits use binary_cross_entropy_with_logits"
            )
        if bool(torch.isnan(lo)) or bool(torch.isnan(hi)):
            # torch's kernel rejects NaN; compute on a NaN-free copy and put the NaN back
            input = torch.where(torch.isnan(input), torch.zeros_like(input), input)
    loss = fused_or_reduce(F.binary_cross_entropy, input, target, reduction, sample_weight=sample_weight, fn=fn, weight=weight)
    return loss if input is raw else _nan_passthrough(loss, raw, input)


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: Optional[torch.Tensor] = None,
    pos_weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Sigmoid binary cross-entropy from logits; torch's ``binary_cross_entropy_with_logits``.

    .. math::
        \ell_i = -w_i\big(p_c\, y'_i \log\sigma(x_i) + (1 - y'_i)\log\sigma(-x_i)\big),
        \qquad y' = (1 - \varepsilon)\, y + \varepsilon / 2

    where :math:`p_c` is ``pos_weight`` (per class, broadcast along the last
    dimension as in torch) and :math:`\varepsilon` the label smoothing (Keras's
    convention: targets move towards 1/2).

    Args:
        input: logits, any shape ``(*)``.
        target: the input's shape, in [0, 1].
        weight: rescaling broadcastable to ``(*)`` (torch's semantics: "mean" stays the plain mean).
        pos_weight: weight of positives, broadcastable to ``(*)``, typically ``(C,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        sample_weight: optional weights broadcastable to ``(*)``; "mean" becomes Σ s·l / Σ s.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> binary_cross_entropy_with_logits(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0]))
        tensor(0.2201)

    Reference:
        ``torch.nn.functional.binary_cross_entropy_with_logits``; Keras
        ``binary_crossentropy(from_logits=True)``.
    """
    fn = "binary_cross_entropy_with_logits"
    check_reduction(fn, reduction)
    _check_label_smoothing(fn, label_smoothing)
    input, target = prepare_pair(fn, input, target)
    check_broadcastable_to(fn, "weight", weight, input.shape)
    check_broadcastable_to(fn, "pos_weight", pos_weight, input.shape)
    weight, pos_weight = (to_compute(input.dtype, w) if w is not None else None for w in (weight, pos_weight))
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return fused_or_reduce(
        F.binary_cross_entropy_with_logits, input, target, reduction, sample_weight=sample_weight, fn=fn,
        weight=weight, pos_weight=pos_weight,
    )


def balanced_binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: Optional[float] = None,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Class-balanced sigmoid cross-entropy (HED, Xie & Tu 2015).

    .. math::
        \ell_i = -\big(\beta\, y_i \log\sigma(x_i) + (1-\beta)(1 - y_i)\log\sigma(-x_i)\big)

    Positives are weighted by :math:`\beta`, negatives by :math:`1-\beta`. With
    ``beta=None``, :math:`\beta` is computed from the batch as the fraction of
    negatives, :math:`\beta = |Y_-| / |Y| = 1 - \operatorname{mean}(y)`, over
    the whole target tensor and without gradient — so a rare positive class
    (edges in an image) weighs as much as the common one in total.

    Args:
        input: logits, any shape ``(*)``.
        target: the input's shape, in [0, 1].
        beta: positive-class weight in [0, 1], or None for the batch's fraction of negatives.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> balanced_binary_cross_entropy_with_logits(torch.tensor([0.0, 0.0, 0.0, 0.0]), torch.tensor([1.0, 0.0, 0.0, 0.0]))
        tensor(0.2599)

    Reference:
        Xie & Tu, "Holistically-Nested Edge Detection", ICCV 2015, eq. (2).
    """
    fn = "balanced_binary_cross_entropy_with_logits"
    check_reduction(fn, reduction)
    check_number(fn, "beta", beta, low=0.0, high=1.0, allow_none=True)
    input, target = prepare_pair(fn, input, target)
    if beta is None:
        b = (1.0 - target.detach().mean()) if target.numel() > 0 else target.new_tensor(0.5)
    else:
        b = float(beta)
    loss = -(b * target * F.logsigmoid(input) + (1.0 - b) * (1.0 - target) * F.logsigmoid(-input))
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


# ---------------------------------------------------------------------------------------------
# focal, poly-1 and generalized cross-entropy
# ---------------------------------------------------------------------------------------------


def _sigmoid_focal_parts(x, t, gamma):
    """σ(x), σ(-x), BCE, 1 - p_t and (1 - p_t)^γ; σ(-x) is evaluated directly so 1 - p_t never cancels."""
    s, s_neg = torch.sigmoid(x), torch.sigmoid(-x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    u = torch.lerp(s, s_neg, t)  # t σ(-x) + (1 - t) σ(x), exact at t = 0 and t = 1
    return s, s_neg, ce, u, u.pow(gamma)


def _sigmoid_focal_grad(x, t, alpha, gamma, parts=None):
    s, s_neg, ce, u, mod = parts if parts is not None else _sigmoid_focal_parts(x, t, gamma)
    # d/dx [u^γ ce] = u^γ (σ(x) - t + γ ce u'/u), u' = (1 - 2t) σ(x) σ(-x); u'/u stays finite as u -> 0
    ratio = (1.0 - 2.0 * t) * s * s_neg / u.clamp_min(torch.finfo(u.dtype).tiny)
    grad = mod * (s - t + gamma * ratio * ce)
    return grad if alpha is None else grad * (t * (2.0 * alpha - 1.0) + (1.0 - alpha))


class _SigmoidFocal(torch.autograd.Function):
    """Elementwise sigmoid focal loss with an analytic backward: a handful of passes instead of autograd's dozens."""

    @staticmethod
    def forward(ctx, x, t, alpha, gamma):
        parts = _sigmoid_focal_parts(x, t, gamma)
        loss = parts[2] * parts[4]
        if alpha is not None:
            loss = loss * (t * (2.0 * alpha - 1.0) + (1.0 - alpha))
        ctx.alpha, ctx.gamma = alpha, gamma
        ctx.save_for_backward(x, t, *parts)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        x, t, *parts = ctx.saved_tensors
        # under create_graph, recompute from the inputs so the second derivative is taken through them
        grad = _sigmoid_focal_grad(x, t, ctx.alpha, ctx.gamma, None if torch.is_grad_enabled() else parts)
        return grad * grad_output, None, None, None


def _softmax_focal_terms(x2d, safe_target):
    """Per-row log-sum-exp, log p_y and q = 1 - p_y = -expm1(log p_y); nothing of size (M, C) is kept."""
    lse = x2d.logsumexp(1)
    log_py = x2d.gather(1, safe_target.unsqueeze(1)).squeeze(1) - lse
    return lse, log_py, -torch.expm1(log_py)


def _softmax_focal_grad(x2d, lse, log_py, q, safe_target, gamma, grad_rows):
    # d/dx_c [-(1-p_y)^γ log p_y] = (δ_cy - p_c) · (1-p_y)^γ · (γ p_y log p_y / (1-p_y) - 1)
    py = torch.exp(log_py)
    # p log p / (1 - p) -> -1 as p -> 1: take that limit where 1 - p underflows
    ratio = torch.where(q > 0, py * log_py / q.clamp_min(torch.finfo(q.dtype).tiny), -py)
    coef = (q.pow(gamma) * (gamma * ratio - 1.0) * grad_rows).unsqueeze(1)
    # exp(x - lse) is the softmax; torch's CPU softmax kernel is ~2x slower over a short class axis
    p = torch.exp(x2d - lse.unsqueeze(1))
    if torch.is_grad_enabled():  # building a graph for a double backward: no in-place updates
        return (p * -coef).scatter_add(1, safe_target.unsqueeze(1), coef)
    return p.mul_(-coef).scatter_add_(1, safe_target.unsqueeze(1), coef)


class _SoftmaxFocalRows(torch.autograd.Function):
    """Per-row -(1 - p_y)^γ log p_y for (M, C) logits and safe targets, with an analytic backward."""

    @staticmethod
    def forward(ctx, x2d, safe_target, gamma):
        lse, log_py, q = _softmax_focal_terms(x2d, safe_target)
        ctx.gamma = gamma
        ctx.save_for_backward(x2d, safe_target, lse, log_py, q)
        return -q.pow(gamma) * log_py

    @staticmethod
    def backward(ctx, grad_output):
        x2d, safe_target, lse, log_py, q = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: recompute from the input, differentiably
            lse, log_py, q = _softmax_focal_terms(x2d, safe_target)
        return _softmax_focal_grad(x2d, lse, log_py, q, safe_target, ctx.gamma, grad_output), None, None


def sigmoid_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: Optional[float] = 0.25,
    gamma: float = 2.0,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Binary focal loss from logits (torchvision's formula; RetinaNet).

    .. math::
        \ell_i = \alpha_t\, (1 - p_t)^{\gamma}\, \operatorname{BCE}(x_i, y_i), \qquad
        1 - p_t = y\,\sigma(-x) + (1 - y)\,\sigma(x), \qquad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    ``alpha=None`` drops :math:`\alpha_t` (torchvision: ``alpha=-1``). Label
    smoothing moves targets towards 1/2 first (Keras's
    ``BinaryFocalCrossentropy``). The modulating factor is computed as
    :math:`\exp(\gamma \log(1 - p_t))` with :math:`\log(1-p_t)` from
    ``logsigmoid``, so loss and gradient stay finite at logits ±1e4 for every
    :math:`\gamma \ge 0` (a plain ``(1-p)**gamma`` has an infinite derivative
    at p = 1 when gamma < 1). Unlike torchvision, the default reduction is "mean".

    Args:
        input: logits, any shape ``(*)``.
        target: the input's shape, in [0, 1].
        alpha: weight of positives in [0, 1], or None.
        gamma: focusing parameter, ``>= 0``; 0 with ``alpha=None`` is BCE.
        label_smoothing: in [0, 1].
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> sigmoid_focal_loss(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0]))
        tensor(0.0087)

    Reference:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017;
        ``torchvision.ops.sigmoid_focal_loss``; Keras ``binary_focal_crossentropy``.
    """
    fn = "sigmoid_focal_loss"
    check_reduction(fn, reduction)
    _check_alpha(fn, alpha, allow_tensor=False)
    check_number(fn, "gamma", gamma, low=0.0)
    _check_label_smoothing(fn, label_smoothing)
    input, target = prepare_pair(fn, input, target)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if not target.requires_grad:
        loss = _SigmoidFocal.apply(input, target, None if alpha is None else float(alpha), float(gamma))
        return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
    # a target that needs a gradient (soft labels from another model): the composite form, differentiable in both
    loss = F.binary_cross_entropy_with_logits(input, target, reduction="none")
    if gamma:
        # log(1 - p_t) = log(y σ(-x) + (1 - y) σ(x)), in log space so it never rounds to log 0
        log1m_pt = _logaddexp(_log_or_floor(target) + F.logsigmoid(-input), _log_or_floor(1.0 - target) + F.logsigmoid(input))
        loss = loss * torch.exp(gamma * log1m_pt)
    if alpha is not None:
        loss = loss * (alpha * target + (1.0 - alpha) * (1.0 - target))
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


def softmax_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: Union[None, float, torch.Tensor] = None,
    gamma: float = 2.0,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Multi-class focal loss from logits.

    With class-index targets:

    .. math::
        \ell_i = -\alpha_{y_i}\, w_{y_i}\, (1 - p_{i,y_i})^{\gamma} \log p_{i,y_i}

    and ``"mean"`` is :math:`\sum_i \ell_i / \sum_i w_{y_i}` over non-ignored
    targets (``alpha`` scales, ``weight`` also normalises, as in
    :func:`cross_entropy`). With probability (one-hot or soft) targets,
    Keras's ``CategoricalFocalCrossentropy`` form
    :math:`\ell_i = -\sum_c \alpha_c w_c\, t_{i,c} (1 - p_{i,c})^\gamma \log p_{i,c}`.
    ``alpha`` is None, a scalar, or a per-class ``(C,)`` tensor. With
    ``gamma=0`` and ``alpha=None`` this is :func:`cross_entropy`.

    :math:`1-p_y` is computed from the log-probability as
    :math:`-\operatorname{expm1}(\log p_y)`, never as ``1 - p``, and the
    backward pass is analytic (the limit of :math:`p\log p/(1-p)` is used
    where :math:`1-p` underflows), so loss and gradients are finite at logits
    ±1e4 for every :math:`\gamma \ge 0`, and only per-row values are saved
    for backward.

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N, d1, ..., dk)`` or probabilities of the input's shape.
        alpha: None, a scalar, or per-class weights ``(C,)``.
        gamma: focusing parameter, ``>= 0``.
        weight: per-class weights ``(C,)``.
        ignore_index: a target value that contributes nothing (index targets).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> softmax_focal_loss(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(0.0109)

    Reference:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017; Keras
        ``categorical_focal_crossentropy``.
    """
    fn = "softmax_focal_loss"
    check_reduction(fn, reduction)
    check_number(fn, "gamma", gamma, low=0.0)
    _check_alpha(fn, alpha, allow_tensor=True)
    input = _prepare_scores(fn, input)
    cdim = _class_dim(input)
    num_classes = input.shape[cdim]
    check_class_weight(fn, weight, num_classes)
    check_class_weight(fn, alpha if isinstance(alpha, torch.Tensor) else None, num_classes, name="alpha")
    weight = to_compute(input.dtype, weight) if weight is not None else None
    alpha_t = to_compute(input.dtype, alpha) if isinstance(alpha, torch.Tensor) else alpha

    if _is_probability_target(fn, input, target):
        target = to_compute(input.dtype, target)
        log_p = torch.log_softmax(input, cdim)
        log1m_p = _log1m_softmax(log_p, cdim) if gamma else None
        per_class = -target * log_p
        if gamma:
            per_class = per_class * torch.exp(gamma * log1m_p)
        shape = [1] * input.dim()
        shape[cdim] = num_classes
        for factor in (alpha_t, weight):
            if isinstance(factor, torch.Tensor):
                per_class = per_class * factor.view(shape)
            elif factor is not None:
                per_class = per_class * factor
        return reduce_loss(per_class.sum(cdim), reduction, weight=sample_weight, fn=fn)

    weight, cdim, valid = _index_setup(fn, input, target, weight, ignore_index)
    safe_target = _safe_targets(target, valid)
    num_classes = input.shape[cdim]
    rows = input.movedim(cdim, -1).reshape(-1, num_classes) if input.dim() > 1 else input.unsqueeze(0)
    loss = _SoftmaxFocalRows.apply(rows, safe_target.reshape(-1), float(gamma)).reshape(target.shape)
    if isinstance(alpha_t, torch.Tensor):
        loss = loss * alpha_t[safe_target]
    elif alpha_t is not None:
        loss = loss * alpha_t
    return _reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)


def _true_class_log_prob(fn, input, target, ignore_index):
    """(log p_t, index targets?, valid mask or None) with p_t = p_y (index) or Σ_c t_c p_c (probabilities)."""
    cdim = _class_dim(input)
    if _is_probability_target(fn, input, target):
        log_p = torch.log_softmax(input, cdim)
        return torch.logsumexp(log_p + _log_or_floor(to_compute(input.dtype, target)), cdim), False, None
    valid = _valid_targets(fn, input, target, ignore_index)
    # x_y - logsumexp(x): the true class's log-probability without an (N, C) log_softmax
    return _gather_class(input, target, valid, cdim) - input.logsumexp(cdim), True, valid


def poly1_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    epsilon: float = 1.0,
    label_smoothing: float = 0.0,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Poly-1 cross-entropy (PolyLoss, Leng et al. 2022).

    .. math::
        \ell_i = \operatorname{CE}_\varepsilon(x_i, y_i) + \epsilon\,(1 - p_t),
        \qquad p_t = \sum_c t'_{i,c}\, p_{i,c}

    where :math:`t'` is the (label-smoothed) target distribution and
    :math:`\operatorname{CE}_\varepsilon` the label-smoothed cross-entropy, as
    in the paper's reference code. ``weight`` scales each target's whole loss by
    :math:`w_{y_i}` and "mean" divides by :math:`\sum_i w_{y_i}` (index targets).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices or probabilities of the input's shape.
        epsilon: coefficient of the first polynomial term (any real; the paper tunes it in [-1, 10]).
        label_smoothing: in [0, 1].
        weight: per-class weights ``(C,)`` (index targets).
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> poly1_cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(0.4526)

    Reference:
        Leng et al., "PolyLoss: A Polynomial Expansion Perspective of
        Classification Loss Functions", ICLR 2022, Listing 1.
    """
    fn = "poly1_cross_entropy"
    check_reduction(fn, reduction)
    check_number(fn, "epsilon", epsilon)
    _check_label_smoothing(fn, label_smoothing)
    input = _prepare_scores(fn, input)
    cdim = _class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    log_pt, index_targets, valid = _true_class_log_prob(fn, input, target, ignore_index)
    ls = float(label_smoothing)
    # smoothing the target distribution gives p_t' = (1 - ls) p_t + ls / C, as the probabilities sum to 1
    pt = (1.0 - ls) * log_pt.exp() + ls / input.shape[cdim]
    if not index_targets:
        if weight is not None:
            raise ValueError(f"{fn}: weight applies to class-index targets; for probability targets fold it into the target")
        ce = F.cross_entropy(input, to_compute(input.dtype, target), reduction="none", label_smoothing=ls)
        return reduce_loss(ce + epsilon * (1.0 - pt), reduction, weight=sample_weight, fn=fn)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    ce = F.cross_entropy(input, target, ignore_index=ignore_index, reduction="none", label_smoothing=ls)
    return _reduce_per_target(ce + epsilon * (1.0 - pt), target, weight, valid, reduction, sample_weight, fn)


def generalized_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    q: float = 0.7,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Generalized cross-entropy, robust to label noise (Zhang & Sabuncu 2018).

    .. math::
        \ell_i = \frac{1 - p_t^{\,q}}{q}, \qquad p_t = \sum_c t_{i,c}\, p_{i,c}

    :math:`q \to 0` approaches cross-entropy, :math:`q = 1` is MAE on the
    true-class probability. :math:`p_t^q` is computed as :math:`\exp(q \log p_t)`.

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices or probabilities of the input's shape.
        q: in (0, 1].
        weight: per-class weights ``(C,)`` (index targets; weighted mean).
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> generalized_cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(0.2205)

    Reference:
        Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep
        Neural Networks with Noisy Labels", NeurIPS 2018; Keras
        ``CategoricalGeneralizedCrossEntropy`` (which takes probabilities).
    """
    fn = "generalized_cross_entropy"
    check_reduction(fn, reduction)
    check_number(fn, "q", q, low=0.0, high=1.0, low_open=True)
    input = _prepare_scores(fn, input)
    cdim = _class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    log_pt, index_targets, valid = _true_class_log_prob(fn, input, target, ignore_index)
    loss = (1.0 - torch.exp(q * log_pt)) / q
    if not index_targets:
        if weight is not None:
            raise ValueError(f"{fn}: weight applies to class-index targets; for probability targets fold it into the target")
        return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    return _reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)


# ---------------------------------------------------------------------------------------------
# margin losses
# ---------------------------------------------------------------------------------------------


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
    check_reduction(fn, reduction)
    input, target = prepare_pair(fn, input, target)
    loss = torch.relu(1.0 - _hinge_targets(fn, target) * input)
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


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
    check_reduction(fn, reduction)
    input, target = prepare_pair(fn, input, target)
    loss = torch.relu(1.0 - _hinge_targets(fn, target) * input).square()
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


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
    check_reduction(fn, reduction)
    input = _prepare_scores(fn, input)
    cdim = _class_dim(input)
    if _is_probability_target(fn, input, target):
        t = target.to(input.dtype)
        positive = (t * input).sum(cdim)
        negative = ((1.0 - t) * input).amax(cdim)
    else:
        # one-hot targets without building them: the true class's score, and the others' max with the
        # true class's slot read as 0 — exactly Keras's max((1 - t) x)
        check_class_target(fn, input, target)
        index = target.unsqueeze(cdim)
        positive = input.gather(cdim, index).squeeze(cdim)
        negative = input.scatter(cdim, index, 0.0).amax(cdim)
    return reduce_loss(torch.relu(negative - positive + 1.0), reduction, weight=sample_weight, fn=fn)


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
    check_reduction(fn, reduction)
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{fn}: p must be 1 or 2; got {p!r}")
    check_number(fn, "margin", margin)
    input = _prepare_scores(fn, input)
    if input.dim() > 2:
        raise ValueError(f"{fn}: input must be (N, C) or (C,); got {fmt_shape(input.shape)}")
    weight, _, _ = _index_setup(fn, input, target, weight, None)
    loss = fused_or_reduce(F.multi_margin_loss, input, target, reduction, fn=fn, p=p, margin=float(margin), weight=weight)
    return _propagate_nan(loss, input)


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
    check_reduction(fn, reduction)
    input = _prepare_scores(fn, input)
    if input.dim() > 2:
        raise ValueError(f"{fn}: input must be (N, C) or (C,); got {fmt_shape(input.shape)}")
    if target.is_floating_point() or target.dtype == torch.bool:
        raise TypeError(f"{fn}: target must be an integer tensor of class lists padded with -1; got {target.dtype}")
    check_same_shape(fn, input, target)
    num_classes = input.shape[-1]
    if target.numel() and data_checks_active(target):
        lo, hi = int(target.min()), int(target.max())
        if lo < -1 or hi >= num_classes:
            bad = lo if lo < -1 else hi
            raise ValueError(f"{fn}: target contains class {bad}, outside the valid range [0, {num_classes - 1}] (or -1 to end a list)")
    if not torch.compiler.is_compiling():
        return _propagate_nan(fused_or_reduce(F.multilabel_margin_loss, input, target.long(), reduction, fn=fn), input)
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

    Computed as ``-logsigmoid(y x)``: torch's kernel evaluates
    ``log(1 + exp(-y x))`` and overflows to inf once ``-y x`` passes ~89
    (float32) or ~710 (float64); losskit stays finite and exact.

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
    check_reduction(fn, reduction)
    input, target = prepare_pair(fn, input, target)
    return reduce_loss(-F.logsigmoid(target * input), reduction, weight=sample_weight, fn=fn)


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

    Args:
        input: logits ``(N, C)`` (or ``(*, C)``).
        target: the input's shape, in [0, 1].
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
    check_reduction(fn, reduction)
    input, target = prepare_pair(fn, input, target)
    if input.dim() == 0:
        raise ValueError(f"{fn}: input must have a class dimension (the last); got a scalar")
    check_class_weight(fn, weight, input.shape[-1])
    weight = to_compute(input.dtype, weight) if weight is not None else None
    return fused_or_reduce(F.multilabel_soft_margin_loss, input, target, reduction, fn=fn, weight=weight)


# ---------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------


@register("cross_entropy", aliases=("ce", "softmax_cross_entropy"), family=FAMILY)
class CrossEntropyLoss(Loss):
    """Module form of :func:`cross_entropy`; ``weight`` may be passed positionally, as in torch."""

    functional = staticmethod(cross_entropy)
    tensor_hparams = ("weight",)

    def __init__(self, weight: Optional[torch.Tensor] = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        _check_label_smoothing("CrossEntropyLoss", label_smoothing)
        check_class_weight("CrossEntropyLoss", weight, None)
        super().__init__(weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)


@register("nll", family=FAMILY)
class NLLLoss(Loss):
    """Module form of :func:`nll_loss`."""

    functional = staticmethod(nll_loss)
    tensor_hparams = ("weight",)

    def __init__(self, weight: Optional[torch.Tensor] = None, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        check_class_weight("NLLLoss", weight, None)
        super().__init__(weight=weight, ignore_index=ignore_index, reduction=reduction)


@register("binary_cross_entropy", family=FAMILY)
class BCELoss(Loss):
    """Module form of :func:`binary_cross_entropy` (probabilities in)."""

    functional = staticmethod(binary_cross_entropy)
    tensor_hparams = ("weight",)

    def __init__(self, weight: Optional[torch.Tensor] = None, *, reduction: str = "mean") -> None:
        super().__init__(weight=weight, reduction=reduction)


@register("bce", aliases=("bce_with_logits", "sigmoid_cross_entropy"), family=FAMILY)
class BCEWithLogitsLoss(Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    functional = staticmethod(binary_cross_entropy_with_logits)
    tensor_hparams = ("weight", "pos_weight")

    def __init__(self, weight: Optional[torch.Tensor] = None, *, reduction: str = "mean",
                 pos_weight: Optional[torch.Tensor] = None, label_smoothing: float = 0.0) -> None:
        _check_label_smoothing("BCEWithLogitsLoss", label_smoothing)
        super().__init__(weight=weight, pos_weight=pos_weight, reduction=reduction, label_smoothing=label_smoothing)


@register("balanced_bce", aliases=("balanced_sigmoid_cross_entropy",), family=FAMILY)
class BalancedBCEWithLogitsLoss(Loss):
    """Module form of :func:`balanced_binary_cross_entropy_with_logits`."""

    functional = staticmethod(balanced_binary_cross_entropy_with_logits)

    def __init__(self, *, beta: Optional[float] = None, reduction: str = "mean") -> None:
        check_number("BalancedBCEWithLogitsLoss", "beta", beta, low=0.0, high=1.0, allow_none=True)
        super().__init__(beta=beta, reduction=reduction)


@register("sigmoid_focal", aliases=("binary_focal",), family=FAMILY)
class SigmoidFocalLoss(Loss):
    """Module form of :func:`sigmoid_focal_loss`."""

    functional = staticmethod(sigmoid_focal_loss)

    def __init__(self, *, alpha: Optional[float] = 0.25, gamma: float = 2.0, label_smoothing: float = 0.0,
                 reduction: str = "mean") -> None:
        _check_alpha("SigmoidFocalLoss", alpha, allow_tensor=False)
        check_number("SigmoidFocalLoss", "gamma", gamma, low=0.0)
        _check_label_smoothing("SigmoidFocalLoss", label_smoothing)
        super().__init__(alpha=alpha, gamma=gamma, label_smoothing=label_smoothing, reduction=reduction)


@register("focal", aliases=("softmax_focal", "categorical_focal"), family=FAMILY)
class SoftmaxFocalLoss(Loss):
    """Module form of :func:`softmax_focal_loss`; a tensor ``alpha`` and ``weight`` are buffers."""

    functional = staticmethod(softmax_focal_loss)
    tensor_hparams = ("weight",)

    def __init__(self, *, alpha: Union[None, float, torch.Tensor] = None, gamma: float = 2.0,
                 weight: Optional[torch.Tensor] = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        if isinstance(alpha, (list, tuple)):
            alpha = torch.tensor(alpha, dtype=torch.get_default_dtype())
        _check_alpha("SoftmaxFocalLoss", alpha, allow_tensor=True)
        check_number("SoftmaxFocalLoss", "gamma", gamma, low=0.0)
        check_class_weight("SoftmaxFocalLoss", weight, None)
        super().__init__(alpha=alpha, gamma=gamma, weight=weight, ignore_index=ignore_index, reduction=reduction)


@register("poly1", aliases=("poly_loss",), family=FAMILY)
class Poly1CrossEntropyLoss(Loss):
    """Module form of :func:`poly1_cross_entropy`."""

    functional = staticmethod(poly1_cross_entropy)
    tensor_hparams = ("weight",)

    def __init__(self, *, epsilon: float = 1.0, label_smoothing: float = 0.0, weight: Optional[torch.Tensor] = None,
                 ignore_index: int = -100, reduction: str = "mean") -> None:
        check_number("Poly1CrossEntropyLoss", "epsilon", epsilon)
        _check_label_smoothing("Poly1CrossEntropyLoss", label_smoothing)
        super().__init__(epsilon=epsilon, label_smoothing=label_smoothing, weight=weight, ignore_index=ignore_index,
                         reduction=reduction)


@register("generalized_cross_entropy", aliases=("gce",), family=FAMILY)
class GeneralizedCrossEntropyLoss(Loss):
    """Module form of :func:`generalized_cross_entropy`."""

    functional = staticmethod(generalized_cross_entropy)
    tensor_hparams = ("weight",)

    def __init__(self, *, q: float = 0.7, weight: Optional[torch.Tensor] = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        check_number("GeneralizedCrossEntropyLoss", "q", q, low=0.0, high=1.0, low_open=True)
        super().__init__(q=q, weight=weight, ignore_index=ignore_index, reduction=reduction)


@register("hinge", family=FAMILY)
class HingeLoss(ReductionLoss):
    """Module form of :func:`hinge_loss`."""

    functional = staticmethod(hinge_loss)


@register("squared_hinge", family=FAMILY)
class SquaredHingeLoss(ReductionLoss):
    """Module form of :func:`squared_hinge_loss`."""

    functional = staticmethod(squared_hinge_loss)


@register("categorical_hinge", family=FAMILY)
class CategoricalHingeLoss(ReductionLoss):
    """Module form of :func:`categorical_hinge_loss`."""

    functional = staticmethod(categorical_hinge_loss)


@register("multi_margin", aliases=("multiclass_svm",), family=FAMILY)
class MultiMarginLoss(Loss):
    """Module form of :func:`multi_margin_loss`."""

    functional = staticmethod(multi_margin_loss)
    tensor_hparams = ("weight",)

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Optional[torch.Tensor] = None, *,
                 reduction: str = "mean") -> None:
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2; got {p!r}")
        check_class_weight("MultiMarginLoss", weight, None)
        super().__init__(p=p, margin=margin, weight=weight, reduction=reduction)


@register("multilabel_margin", family=FAMILY)
class MultiLabelMarginLoss(ReductionLoss):
    """Module form of :func:`multilabel_margin_loss`."""

    functional = staticmethod(multilabel_margin_loss)


@register("soft_margin", family=FAMILY)
class SoftMarginLoss(ReductionLoss):
    """Module form of :func:`soft_margin_loss`."""

    functional = staticmethod(soft_margin_loss)


@register("multilabel_soft_margin", family=FAMILY)
class MultiLabelSoftMarginLoss(Loss):
    """Module form of :func:`multilabel_soft_margin_loss`."""

    functional = staticmethod(multilabel_soft_margin_loss)
    tensor_hparams = ("weight",)

    def __init__(self, weight: Optional[torch.Tensor] = None, *, reduction: str = "mean") -> None:
        check_class_weight("MultiLabelSoftMarginLoss", weight, None)
        super().__init__(weight=weight, reduction=reduction)
