"""Focal, poly-1 and generalized cross-entropy: losses that reshape cross-entropy for hard examples and noisy labels."""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F

from .._core import checks
from .._core.reduction import reduce_loss
from .._core.spec import Curve, Role, loss
from .._core.targets import (
    class_dim,
    gather_class,
    index_setup,
    is_probability_target,
    log_target_probability,
    prepare_scores,
    reduce_per_target,
    safe_targets,
    valid_targets,
)
from .._core.validation import (
    check_class_weight,
    check_number,
    fmt_shape,
    prepare_pair,
    to_compute,
)
from ._common import FAMILY

__all__ = ["sigmoid_focal_loss", "softmax_focal_loss", "poly1_cross_entropy", "generalized_cross_entropy"]


def _check_alpha(fn: str, name: str, alpha: object) -> None:
    """softmax focal's alpha: None, a number in [0, 1], or a 1-D per-class tensor."""
    if alpha is None:
        return
    if isinstance(alpha, torch.Tensor):
        if alpha.dim() != 1:
            raise ValueError(f"{fn}: a per-class {name} must be a 1-D tensor; got shape {fmt_shape(alpha.shape)}")
        return
    check_number(fn, name, alpha, low=0.0, high=1.0)


ALPHA = checks.custom(_check_alpha, "None, a number in [0, 1], or a per-class tensor (C,)", tensor=True)


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


def _sigmoid_focal_target_grad(x, t, alpha, gamma, parts=None):
    s, s_neg, ce, u, mod = parts if parts is not None else _sigmoid_focal_parts(x, t, gamma)
    # d/dt [u^γ ce] = u^γ (γ ce (σ(-x) - σ(x)) / u - x): u and ce are linear in t, so this holds at t = 0 and
    # t = 1 exactly (a log of t floored at 0 loses the σ(-x) / u term there); ce / u stays finite as u -> 0
    grad = mod * (gamma * (s_neg - s) / u.clamp_min(torch.finfo(u.dtype).tiny) * ce - x)
    if alpha is None:
        return grad
    return grad * (t * (2.0 * alpha - 1.0) + (1.0 - alpha)) + (2.0 * alpha - 1.0) * mod * ce


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
        saved = None if torch.is_grad_enabled() else parts
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            grad_x = _sigmoid_focal_grad(x, t, ctx.alpha, ctx.gamma, saved) * grad_output
        if ctx.needs_input_grad[1]:
            grad_t = _sigmoid_focal_target_grad(x, t, ctx.alpha, ctx.gamma, saved) * grad_output
        return grad_x, grad_t, None, None


def _softmax_focal_terms(x2d, safe_target):
    """Per-row log-sum-exp, log p_y and q = 1 - p_y = -expm1(log p_y); nothing of size (M, C) is kept."""
    lse = x2d.logsumexp(1)
    log_py = x2d.gather(1, safe_target.unsqueeze(1)).squeeze(1) - lse
    return lse, log_py, -torch.expm1(log_py)


def _softmax_focal_terms_exact(x2d, safe_target):
    """(lse, log p_y, q, log q) with q = 1 - p_y = Σ_{c≠y} p_c from the other classes' log-sum-exp.

    For the double backward: ``-expm1(log p_y)`` rounds to exactly 0 once the margin passes ~17
    (float32), and the derivative of ``q^γ`` (γ < 1) at 0 is infinite, so second derivatives were
    NaN. Here ``log q`` is finite for every finite logit, ``q^γ = exp(γ log q)`` and
    ``log p_y = log1p(-q)`` are accurate, and no 0 is raised to a power below 1.
    """
    index = safe_target.unsqueeze(1)
    lse = x2d.logsumexp(1)
    # the true class's slot gets a huge finite negative (not -inf: with C = 1 that keeps logsumexp's backward finite)
    others = x2d.scatter(1, index, torch.finfo(x2d.dtype).min / 2).logsumexp(1)
    log_q = others - lse
    q = torch.exp(log_q)
    small = q < 0.5
    log_py = torch.where(small, torch.log1p(-q.clamp(max=0.5)), x2d.gather(1, index).squeeze(1) - lse)
    return lse, log_py, q, log_q


def _softmax_focal_grad(x2d, lse, log_py, q, safe_target, gamma, grad_rows, log_q=None):
    # d/dx_c [-(1-p_y)^γ log p_y] = (δ_cy - p_c) · (1-p_y)^γ · (γ p_y log p_y / (1-p_y) - 1)
    py = torch.exp(log_py)
    # p log p / (1 - p) -> -1 as p -> 1: take that limit where 1 - p underflows
    ratio = torch.where(q > 0, py * log_py / q.clamp_min(torch.finfo(q.dtype).tiny), -py)
    modulating = q.pow(gamma) if log_q is None else torch.exp(gamma * log_q)
    coef = (modulating * (gamma * ratio - 1.0) * grad_rows).unsqueeze(1)
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
        log_q = None
        if torch.is_grad_enabled():  # double backward: recompute from the input, differentiably and accurately
            lse, log_py, q, log_q = _softmax_focal_terms_exact(x2d, safe_target)
        return _softmax_focal_grad(x2d, lse, log_py, q, safe_target, ctx.gamma, grad_output, log_q), None, None


@loss(
    "sigmoid_focal",
    family=FAMILY,
    module="SigmoidFocalLoss",
    aliases=("binary_focal",),
    roles=(Role("input", "logits (*)"), Role("target", "(*) in [0, 1]")),
    hparams={
        "alpha": checks.number(0.0, 1.0, allow_none=True),
        "gamma": checks.non_negative,
        "label_smoothing": checks.unit_interval,
    },
    capabilities=("compile", "double_backward", "probability_targets", "label_smoothing"),
    references=("torchvision's formula (NumPy)", "Keras binary_focal_crossentropy"),
    curve=Curve("probability", "gamma", (0.0, 0.5, 1.0, 2.0, 5.0)),
)
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
    ``BinaryFocalCrossentropy``). :math:`1 - p_t` is computed from
    :math:`\sigma(x)` and :math:`\sigma(-x)` directly (it never cancels) and
    the backward pass is analytic, for the logits and for a target that
    requires grad (exact at targets 0 and 1), so loss and gradients stay
    finite at logits ±1e4 for every :math:`\gamma \ge 0` (a plain
    ``(1-p)**gamma`` has an infinite derivative at p = 1 when gamma < 1).
    Unlike torchvision, the default reduction is "mean".

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
    input, target = prepare_pair(fn, input, target)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    # analytic gradients for the logits and for a target that needs one (soft labels from another model)
    loss = _SigmoidFocal.apply(input, target, None if alpha is None else float(alpha), float(gamma))
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "focal",
    family=FAMILY,
    module="SoftmaxFocalLoss",
    aliases=("softmax_focal", "categorical_focal"),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...) or probabilities of the input's shape"),
    ),
    hparams={
        "alpha": ALPHA,
        "gamma": checks.non_negative,
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
    },
    capabilities=("compile", "double_backward", "class_weight", "ignore_index", "index_targets", "probability_targets"),
    references=("Keras categorical_focal_crossentropy", "NumPy reference"),
    curve=Curve("probability", "gamma", (0.0, 0.5, 1.0, 2.0, 5.0)),
)
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
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    num_classes = input.shape[cdim]
    check_class_weight(fn, weight, num_classes)
    check_class_weight(fn, alpha if isinstance(alpha, torch.Tensor) else None, num_classes, name="alpha")
    weight = to_compute(input.dtype, weight) if weight is not None else None
    alpha_t = to_compute(input.dtype, alpha) if isinstance(alpha, torch.Tensor) else alpha

    if is_probability_target(fn, input, target, ignore_index):
        target = to_compute(input.dtype, target)
        log_p = torch.log_softmax(input, cdim)
        per_class = -target * log_p
        if gamma:
            per_class = per_class * torch.exp(gamma * _log1m_softmax(log_p, cdim))
        shape = [1] * input.dim()
        shape[cdim] = num_classes
        for factor in (alpha_t, weight):
            if isinstance(factor, torch.Tensor):
                per_class = per_class * factor.view(shape)
            elif factor is not None:
                per_class = per_class * factor
        return reduce_loss(per_class.sum(cdim), reduction, weight=sample_weight, fn=fn)

    target, weight, cdim, valid = index_setup(fn, input, target, weight, ignore_index)
    safe_target = safe_targets(target, valid)
    num_classes = input.shape[cdim]
    rows = input.movedim(cdim, -1).reshape(-1, num_classes) if input.dim() > 1 else input.unsqueeze(0)
    loss = _SoftmaxFocalRows.apply(rows, safe_target.reshape(-1), float(gamma)).reshape(target.shape)
    if isinstance(alpha_t, torch.Tensor):
        loss = loss * alpha_t[safe_target]
    elif alpha_t is not None:
        loss = loss * alpha_t
    return reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)


def _true_class_log_prob(fn, input, target, ignore_index):
    """(log p_t, index targets?, valid mask or None, targets) with p_t = p_y (index) or Σ_c t_c p_c (probabilities)."""
    cdim = class_dim(input)
    if is_probability_target(fn, input, target, ignore_index):
        log_p = torch.log_softmax(input, cdim)
        return log_target_probability(log_p, to_compute(input.dtype, target), cdim), False, None, target
    target, valid = valid_targets(fn, input, target, ignore_index)
    # x_y - logsumexp(x): the true class's log-probability without an (N, C) log_softmax
    return gather_class(input, target, valid, cdim) - input.logsumexp(cdim), True, valid, target


@loss(
    "poly1",
    family=FAMILY,
    module="Poly1CrossEntropyLoss",
    aliases=("poly_loss",),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...) or probabilities of the input's shape"),
    ),
    hparams={
        "epsilon": checks.real,
        "label_smoothing": checks.unit_interval,
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
    },
    capabilities=(
        "compile",
        "double_backward",
        "class_weight",
        "ignore_index",
        "index_targets",
        "probability_targets",
        "label_smoothing",
    ),
    references=("NumPy reference (PolyLoss paper, Listing 1)",),
    curve=Curve("probability", "epsilon", (-1.0, 0.0, 1.0, 2.0)),
)
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
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    log_pt, index_targets, valid, target = _true_class_log_prob(fn, input, target, ignore_index)
    ls = float(label_smoothing)
    # smoothing the target distribution gives p_t' = (1 - ls) p_t + ls / C, as the probabilities sum to 1
    pt = (1.0 - ls) * log_pt.exp() + ls / input.shape[cdim]
    if not index_targets:
        if weight is not None:
            raise ValueError(
                f"{fn}: weight applies to class-index targets; for probability targets fold it into the target"
            )
        ce = F.cross_entropy(input, to_compute(input.dtype, target), reduction="none", label_smoothing=ls)
        return reduce_loss(ce + epsilon * (1.0 - pt), reduction, weight=sample_weight, fn=fn)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    ce = F.cross_entropy(input, target, ignore_index=ignore_index, reduction="none", label_smoothing=ls)
    return reduce_per_target(ce + epsilon * (1.0 - pt), target, weight, valid, reduction, sample_weight, fn)


@loss(
    "generalized_cross_entropy",
    family=FAMILY,
    module="GeneralizedCrossEntropyLoss",
    aliases=("gce",),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...) or probabilities of the input's shape"),
    ),
    hparams={
        "q": checks.number(0.0, 1.0, low_open=True),
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
    },
    capabilities=("compile", "double_backward", "class_weight", "ignore_index", "index_targets", "probability_targets"),
    references=("Keras categorical_generalized_cross_entropy", "NumPy reference"),
    curve=Curve("probability", "q", (0.1, 0.5, 0.7, 1.0)),
)
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
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    log_pt, index_targets, valid, target = _true_class_log_prob(fn, input, target, ignore_index)
    loss = (1.0 - torch.exp(q * log_pt)) / q
    if not index_targets:
        if weight is not None:
            raise ValueError(
                f"{fn}: weight applies to class-index targets; for probability targets fold it into the target"
            )
        return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    return reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)
