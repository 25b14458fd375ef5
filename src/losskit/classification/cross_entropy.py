"""The cross-entropy family: softmax and sigmoid cross-entropy, NLL and class-balanced BCE (torch kernels underneath)."""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F

from .._core import checks
from .._core.nonfinite import careful_at_once, result_suspect, softmax_limit_scores
from .._core.reduction import fused_or_reduce, reduce_loss, safe_divide
from .._core.spec import Curve, Role, loss
from .._core.targets import (
    checked_class_weight,
    class_dim,
    class_index_target,
    explain_bad_target,
    is_probability_target,
    kernel_checks_range,
    mean_over_targets,
    plain_index_call,
    prepare_scores,
    target_class_weights,
)
from .._core.validation import (
    check_broadcastable_to,
    data_checks_active,
    host_readable,
    prepare_pair,
    require,
    to_compute,
)
from ._common import FAMILY, softplus_pair

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "balanced_binary_cross_entropy_with_logits",
]


def _nan_passthrough(loss: torch.Tensor, raw: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
    """Re-attach NaN from ``raw`` that was replaced in ``safe`` (elementwise or through the reduction)."""
    leak = (raw - safe) * 0.0
    return loss + (leak if loss.shape == raw.shape else leak.sum())


@loss(
    "cross_entropy",
    family=FAMILY,
    module="CrossEntropyLoss",
    aliases=("ce", "softmax_cross_entropy"),
    roles=(
        Role("input", "(N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...) or probabilities of the input's shape"),
    ),
    hparams={"weight": checks.class_weight, "ignore_index": checks.integer, "label_smoothing": checks.unit_interval},
    positional=("weight",),
    capabilities=(
        "compile",
        "double_backward",
        "class_weight",
        "ignore_index",
        "index_targets",
        "probability_targets",
        "label_smoothing",
    ),
    references=("torch.nn.functional.cross_entropy", "Keras (sparse_)categorical_crossentropy", "NumPy reference"),
    curve=Curve("probability", "label_smoothing", (0.0, 0.1, 0.3)),
)
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

    Differences from torch: "mean" with nothing to average — every target
    ignored, an empty batch, or every counted target of class weight 0 — is
    0, not NaN (with label smoothing torch's denominator is then 0 while its
    numerator is not); integer targets of any dtype are accepted (cast to
    int64); bad targets raise clear errors (module docstring). As in torch,
    an ``ignore_index`` other than -100 with probability targets raises.
    Scores of ±inf give the limit, never NaN (torch: NaN in any row with
    ``+inf``): a single ``+inf`` takes all the probability (loss 0 on its
    class, inf elsewhere; gradient ``p - onehot`` at the limit), several
    ``+inf`` share it equally, and a probability target's class without mass
    adds 0 where its probability is 0 (``0 · log 0 = 0``). torch's kernel runs
    first; its result is read once on the host (one number) and recomputed
    only when it is not finite.

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
    ls = float(label_smoothing)
    # eager CPU (N, C) scores with int64 targets: nothing to check or cast, torch's kernel checks the range
    plain, weight = plain_index_call(fn, input, target, weight)
    if plain:
        range_by_kernel = True
    else:
        input = prepare_scores(fn, input, contiguous=True)
        weight = checked_class_weight(fn, weight, input)
        if is_probability_target(fn, input, target, ignore_index):
            target = to_compute(input.dtype, target)
            if sample_weight is None and input.numel() > 0 and not careful_at_once(input):
                loss = F.cross_entropy(input, target, weight=weight, reduction=reduction, label_smoothing=ls)
                if not result_suspect(loss, reduction):
                    return loss
            # the careful path: ±inf scores (torch: NaN), NaN kept, 0 · log 0 read as 0 (a class without target mass)
            cdim = class_dim(input)
            per = soft_target_cross_entropy(softmax_limit_scores(input, cdim), target, cdim, weight, ls)
            return reduce_loss(per, reduction, weight=sample_weight, fn=fn)
        range_by_kernel = kernel_checks_range(input)
        target, _ = class_index_target(fn, input, target, ignore_index=ignore_index, check_range=not range_by_kernel)
    # the kernel first where its result can be looked at, or where no look is wanted; on an accelerator while
    # validation is on there is no look (a host read), so the careful path below runs directly
    if sample_weight is None and (
        plain or input.numel() > 0 and not careful_at_once(input) and (reduction != "mean" or data_checks_active(input))
    ):
        # the common case, torch's kernel with its own reduction; its value is looked at once (a host read of
        # one number) and recomputed below only if suspect: +inf scores, NaN, or a "mean" of nothing (torch: NaN)
        try:
            loss = F.cross_entropy(
                input, target, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=ls
            )
        except (IndexError, RuntimeError):
            if range_by_kernel:
                explain_bad_target(fn, input, target, ignore_index)
            raise
        if plain and reduction == "mean":  # result_suspect's test, written out: data checks run on this path
            if math.isfinite(loss.item()):
                return loss
        elif not result_suspect(loss, reduction):
            return loss
    cdim = class_dim(input)
    if reduction == "mean" and sample_weight is None and not data_checks_active(input):
        # nothing is read on the host here (torch.compile, or an accelerator with validation off): torch's
        # "mean" could be 0/0, so the sum over what counts (no look at the value, so no limits at ±inf)
        total = F.cross_entropy(
            input, target, weight=weight, ignore_index=ignore_index, reduction="sum", label_smoothing=ls
        )
        return safe_divide(total, target_class_weights(weight, target, target != ignore_index).to(total.dtype).sum())
    input = softmax_limit_scores(input, cdim)
    per = F.cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction="none", label_smoothing=ls)
    valid = target != ignore_index
    if sample_weight is not None:
        sample_weight = sample_weight.to(per.dtype)
        check_broadcastable_to(fn, "sample_weight", sample_weight, per.shape)
    if reduction != "mean":
        return reduce_loss(per, reduction, weight=sample_weight, fn=fn)
    counted = target_class_weights(weight, target, valid).to(per.dtype)
    if sample_weight is not None:
        return safe_divide((per * sample_weight).sum(), (counted * sample_weight).sum())
    return safe_divide(per.sum(), counted.sum())


def soft_target_cross_entropy(
    input: torch.Tensor, target: torch.Tensor, cdim: int, weight: Optional[torch.Tensor], label_smoothing: float
) -> torch.Tensor:
    """Per-sample ``-Σ_c w_c t'_c log p_c`` for probability targets, with ``t_c log p_c = 0`` where ``t'_c = 0``.

    torch's kernel multiplies ``0 · log 0 = NaN`` where a class without target
    mass has probability 0 (a score of ``-inf``); the loss does not depend on
    such a class. Only an infinite log is replaced, so the product stays
    linear in the target and every gradient is finite.
    """
    log_p = torch.log_softmax(input, cdim)
    num_classes = input.shape[cdim]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    log_p = torch.where((target == 0) & torch.isinf(log_p), log_p.new_zeros(()), log_p)
    per_class = target * log_p
    if weight is not None:
        shape = [1] * input.dim()
        shape[cdim] = num_classes
        per_class = per_class * weight.view(shape)
    return -per_class.sum(cdim)


@loss(
    "nll",
    family=FAMILY,
    module="NLLLoss",
    roles=(
        Role("input", "log-probabilities (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...)", differentiable=False),
    ),
    hparams={"weight": checks.class_weight, "ignore_index": checks.integer},
    positional=("weight",),
    capabilities=("compile", "double_backward", "class_weight", "ignore_index", "index_targets"),
    references=("torch.nn.functional.nll_loss", "NumPy reference"),
    curve=Curve("probability"),
)
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
    # eager CPU (N, C) scores with int64 targets: nothing to check or cast, torch's kernel checks the range
    plain, weight = plain_index_call(fn, input, target, weight)
    if plain:
        range_by_kernel = True
    else:
        input = prepare_scores(fn, input, contiguous=True)
        weight = checked_class_weight(fn, weight, input)
        range_by_kernel = kernel_checks_range(input)
        target, _ = class_index_target(fn, input, target, ignore_index=ignore_index, check_range=not range_by_kernel)
        if input.numel() == 0:  # torch's "sum" of nothing may be uninitialised memory, its "mean" NaN
            return reduce_loss(F.nll_loss(input, target, reduction="none"), reduction, fn=fn)
    # torch's "mean" of nothing (every target ignored, or all class weights 0) is NaN: losskit's is 0. On the
    # host the kernel's mean is looked at once (one read) and recounted only if it is not finite; where nothing
    # is read on the host (accelerators, torch.compile) the kernel sums and the mean is always recounted
    looked_at = reduction == "mean" and (plain or data_checks_active(input) and host_readable(input))
    try:
        loss = F.nll_loss(
            input,
            target,
            weight=weight,
            ignore_index=ignore_index,
            reduction="sum" if reduction == "mean" and not looked_at else reduction,
        )
    except (IndexError, RuntimeError):
        if range_by_kernel:
            explain_bad_target(fn, input, target, ignore_index)
        raise
    if reduction != "mean":
        return loss
    if looked_at:
        if math.isfinite(loss.item()):
            return loss
        loss = F.nll_loss(input, target, weight=weight, ignore_index=ignore_index, reduction="sum")
    return mean_over_targets(loss, target, weight, ignore_index)


@loss(
    "binary_cross_entropy",
    family=FAMILY,
    module="BCELoss",
    roles=(Role("input", "probabilities (*)"), Role("target", "(*) in [0, 1]")),
    hparams={"weight": checks.optional_tensor},
    positional=("weight",),
    capabilities=("compile", "double_backward", "probability_targets"),
    references=("torch.nn.functional.binary_cross_entropy", "Keras binary_crossentropy", "NumPy reference"),
    curve=Curve("probability"),
)
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

    with each log clamped at -100, as torch does; a target that requires grad
    gets the derivative of this clamped value, finite at probabilities 0 and
    1 (torch's kernel gives ±inf there). ``weight`` keeps torch's
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
    input, target = prepare_pair(fn, input, target)
    check_broadcastable_to(fn, "weight", weight, input.shape)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    raw = input
    if host_readable(input) and not target.requires_grad and data_checks_active(input):
        # torch's CPU kernel checks every probability itself (a value outside [0, 1], or NaN, raises): try it
        # first, and only when it refuses scan the input below to say which, or to compute around the NaN
        try:
            return fused_or_reduce(
                F.binary_cross_entropy, input, target, reduction, sample_weight=sample_weight, fn=fn, weight=weight
            )
        except RuntimeError:
            pass
    if data_checks_active(input) and input.numel() > 0 and not host_readable(input):
        # on an accelerator: a device-side check, and NaN always computed around (no look to decide)
        require(
            (input >= 0) & (input <= 1) | torch.isnan(input),
            f"{fn}: input must hold probabilities in [0, 1] — for logits use binary_cross_entropy_with_logits",
        )
        input = torch.where(torch.isnan(input), torch.zeros_like(input), input)
    elif data_checks_active(input) and input.numel() > 0:
        lo, hi = torch.aminmax(input.detach())
        if bool(lo < 0) or bool(hi > 1):
            raise ValueError(
                f"{fn}: input must hold probabilities in [0, 1]; got values in [{float(lo):g}, {float(hi):g}] "
                f"— for logits use binary_cross_entropy_with_logits"
            )
        if bool(torch.isnan(lo)) or bool(torch.isnan(hi)):
            # torch's kernel rejects NaN; compute on a NaN-free copy and put the NaN back
            input = torch.where(torch.isnan(input), torch.zeros_like(input), input)
    if target.requires_grad:
        # torch's kernel differentiates the target as log((1-x)/x), ±inf at probabilities 0 and 1, though its
        # value clamps both logs at -100; the added term is 0 in value (for targets in [0, 1]) and gives the
        # clamped value's derivative. The loss is affine in the target, and a target that requires grad may
        # leave [0, 1] by a step (a finite-difference check): the term extends the value affinely there.
        held = target.detach().clamp(0.0, 1.0)
        per = F.binary_cross_entropy(input, held, weight=weight, reduction="none")
        slope = _clamped_log(1.0 - input) - _clamped_log(input)
        per = per + (target - held) * (slope if weight is None else slope * weight)
        loss = reduce_loss(per, reduction, weight=sample_weight, fn=fn)
    else:
        loss = fused_or_reduce(
            F.binary_cross_entropy, input, target, reduction, sample_weight=sample_weight, fn=fn, weight=weight
        )
    return loss if input is raw else _nan_passthrough(loss, raw, input)


_LOG_FLOOR = -100.0  # torch's clamp of BCE's logs


def _clamped_log(p: torch.Tensor) -> torch.Tensor:
    """``max(log p, -100)`` as torch's BCE kernel has it, with finite derivatives (0 where clamped, also at p = 0)."""
    positive = p > 0
    return (
        torch.log(torch.where(positive, p, torch.ones_like(p))).clamp_min(_LOG_FLOOR).masked_fill(~positive, _LOG_FLOOR)
    )


@loss(
    "bce",
    family=FAMILY,
    module="BCEWithLogitsLoss",
    aliases=("bce_with_logits", "sigmoid_cross_entropy"),
    roles=(Role("input", "logits (*)"), Role("target", "(*) in [0, 1]")),
    hparams={
        "weight": checks.optional_tensor,
        "pos_weight": checks.optional_tensor,
        "label_smoothing": checks.unit_interval,
    },
    positional=("weight",),
    capabilities=("compile", "double_backward", "probability_targets", "label_smoothing"),
    references=("torch.nn.functional.binary_cross_entropy_with_logits", "Keras binary_crossentropy", "NumPy reference"),
    curve=Curve("probability", "label_smoothing", (0.0, 0.1, 0.3)),
)
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
    convention: targets move towards 1/2). A logit of ±inf gives the limit:
    0 where the target is all on the infinity's side (``x = +inf, y = 1``;
    torch: NaN), inf otherwise; the gradient :math:`\sigma(x) - y` stays finite.

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
    input, target = prepare_pair(fn, input, target)
    # the usual call has neither weight: no check, no cast and no generator to build (a per-call cost)
    if weight is not None or pos_weight is not None:
        check_broadcastable_to(fn, "weight", weight, input.shape)
        check_broadcastable_to(fn, "pos_weight", pos_weight, input.shape)
        weight, pos_weight = (to_compute(input.dtype, w) if w is not None else None for w in (weight, pos_weight))
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if careful_at_once(input):  # an accelerator: no look at the kernel's result, the limits on every call
        pass
    elif sample_weight is None and input.numel() > 0:  # fused_or_reduce's common case, without its call
        loss = F.binary_cross_entropy_with_logits(
            input, target, weight=weight, pos_weight=pos_weight, reduction=reduction
        )
        if not result_suspect(loss, reduction):
            return loss
    else:
        loss = fused_or_reduce(
            F.binary_cross_entropy_with_logits,
            input,
            target,
            reduction,
            sample_weight=sample_weight,
            fn=fn,
            weight=weight,
            pos_weight=pos_weight,
        )
        if not result_suspect(loss, reduction):
            return loss
    # NaN from torch's kernel (0 · inf at a logit of ±inf whose target is exactly 1 or 0), or a NaN input:
    # the same loss with the limits at infinity (NaN inputs stay NaN)
    positive = target if pos_weight is None else pos_weight * target
    per = softplus_pair(input, positive, 1.0 - target)
    return reduce_loss(per if weight is None else per * weight, reduction, weight=sample_weight, fn=fn)


@loss(
    "balanced_bce",
    family=FAMILY,
    module="BalancedBCEWithLogitsLoss",
    aliases=("balanced_sigmoid_cross_entropy",),
    # with beta=None the class balance is read from the labels without gradient, so they are not differentiable
    roles=(Role("input", "logits (*)"), Role("target", "labels (*) in [0, 1]", differentiable=False)),
    hparams={"beta": checks.number(0.0, 1.0, allow_none=True)},
    capabilities=("compile", "double_backward", "probability_targets"),
    references=("NumPy reference (HED, Xie & Tu 2015, eq. 2)",),
    curve=Curve("probability", "beta", (0.1, 0.5, 0.9)),
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
    A logit of ±inf gives the limit (0 or inf, as for
    :func:`binary_cross_entropy_with_logits`), never NaN.

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
    input, target = prepare_pair(fn, input, target)
    b: Union[torch.Tensor, float]
    if beta is None:
        b = (1.0 - target.detach().mean()) if target.numel() > 0 else target.new_tensor(0.5)
    else:
        b = float(beta)
    # a · softplus(-x) + b · softplus(x) with 0 · inf read as 0: the limits at logits of ±inf, never NaN
    loss = softplus_pair(input, b * target, (1.0 - b) * (1.0 - target))
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
