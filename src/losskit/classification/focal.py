"""Focal, poly-1 and generalized cross-entropy: losses that reshape cross-entropy for hard examples and noisy labels."""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F

from .._core import checks
from .._core.memory import empty_like_on_huge_pages
from .._core.nonfinite import computed_with_limits, softmax_limit_scores
from .._core.reduction import reduce_loss, safe_divide
from .._core.spec import Curve, Role, loss
from .._core.targets import (
    checked_class_weight,
    class_dim,
    class_index_target,
    class_values,
    explain_bad_target,
    is_probability_target,
    kernel_checks_range,
    log_softmax_at,
    log_target_probability,
    plain_index_call,
    prepare_scores,
    reduce_per_target,
    safe_targets,
    valid_targets,
)
from .._core.validation import (
    autograd_transform_active,
    check_class_weight,
    check_number,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
    prepare_pair,
    to_compute,
)
from ._common import FAMILY
from .cross_entropy import soft_target_cross_entropy

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
    # the arg-max slot by comparison with the class positions (F.one_hot reads its input's range on the host,
    # which vmap refuses)
    num_classes = log_probs.shape[cdim]
    trailing = log_probs.dim() - cdim % log_probs.dim() - 1  # dimensions after the class one
    positions = torch.arange(num_classes, device=log_probs.device).view([-1] + [1] * trailing)
    is_max = log_probs.argmax(cdim, keepdim=True) == positions
    others = log_probs.masked_fill(is_max, float("-inf")).logsumexp(cdim, keepdim=True)
    # a constant in the arg-max slot keeps log1p's backward away from 0/0 there
    safe = torch.where(is_max, torch.full_like(log_probs, -1.0), log_probs)
    return torch.where(is_max, others, torch.log1p(-torch.exp(safe)))


def _bce_limits(x: torch.Tensor, t: torch.Tensor, ce: torch.Tensor) -> torch.Tensor:
    """BCE ``ce`` with its limit at infinite logits: 0 where the side of the infinity has no target mass
    (x = +inf, t = 1; x = -inf, t = 0) and inf elsewhere, instead of ``inf - inf`` or ``0 · inf``."""
    mass = torch.where(x > 0, 1.0 - t, t)  # the target mass on the side the infinity points away from
    limit = torch.where(mass == 0, torch.zeros_like(ce), torch.full_like(ce, math.inf))
    return torch.where(torch.isinf(x), limit, ce)


def _sigmoid_focal_parts_differentiable(x, t, gamma, careful=False):
    """σ(x), σ(-x), BCE, 1 - p_t and (1 - p_t)^γ out of place, for a backward that builds a graph (create_graph).

    ``careful`` (infinite logits): BCE at its limits (:func:`_bce_limits`)."""
    s, s_neg = torch.sigmoid(x), torch.sigmoid(-x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    if careful:
        ce = _bce_limits(x, t, ce)
    u = torch.lerp(s, s_neg, t)  # t σ(-x) + (1 - t) σ(x), exact at t = 0 and t = 1
    return s, s_neg, ce, u, u.pow(gamma)


def _sigmoid_focal_grad(x, t, alpha, gamma, parts=None, careful=False):
    """d/dx of the elementwise sigmoid focal loss, out of place (differentiable); ``careful``: the limits at ±inf
    (as :class:`_SigmoidFocal`'s backward: the γ term σ(x) σ(-x) ce is 0 there, not 0 · inf)."""
    s, s_neg, ce, u, mod = parts if parts is not None else _sigmoid_focal_parts_differentiable(x, t, gamma, careful)
    # d/dx [u^γ ce] = u^γ (σ(x) - t + γ ce u'/u), u' = (1 - 2t) σ(x) σ(-x); u'/u stays finite as u -> 0
    ratio = (1.0 - 2.0 * t) * s * s_neg / u.clamp_min(torch.finfo(u.dtype).tiny)
    focus = gamma * ratio * ce
    if careful:
        focus = torch.where(torch.isinf(x), torch.zeros_like(focus), focus)
    grad = mod * (s - t + focus)
    return grad if alpha is None else grad * (t * (2.0 * alpha - 1.0) + (1.0 - alpha))


def _sigmoid_focal_target_grad(x, t, alpha, gamma, parts=None, careful=False):
    """d/dt of the elementwise sigmoid focal loss, out of place (differentiable); ``careful``: the slope -x at
    x = ±inf, where the loss jumps between 0 and inf as t leaves 1 or 0 (as :class:`_SigmoidFocal`'s backward)."""
    s, s_neg, ce, u, mod = parts if parts is not None else _sigmoid_focal_parts_differentiable(x, t, gamma, careful)
    # d/dt [u^γ ce] = u^γ (γ ce (σ(-x) - σ(x)) / u - x): u and ce are linear in t, so this holds at t = 0 and
    # t = 1 exactly (a log of t floored at 0 loses the σ(-x) / u term there); ce / u stays finite as u -> 0
    grad = mod * (gamma * (s_neg - s) / u.clamp_min(torch.finfo(u.dtype).tiny) * ce - x)
    if alpha is not None:
        grad = grad * (t * (2.0 * alpha - 1.0) + (1.0 - alpha)) + (2.0 * alpha - 1.0) * mod * ce
    return torch.where(torch.isinf(x), -x, grad) if careful else grad


def _focal_alpha_t(t: torch.Tensor, alpha: Optional[float]) -> Optional[torch.Tensor]:
    """α_t = α t + (1 - α)(1 - t), or None without α."""
    return None if alpha is None else torch.mul(t, 2.0 * alpha - 1.0).add_(1.0 - alpha)


def _sigmoid_focal_parts(x: torch.Tensor, t: torch.Tensor, gamma: float, careful: bool):
    """σ(x), σ(-x), BCE, u = 1 - p_t and u^γ, each in a fresh buffer (so callers may update them in place).

    σ(-x) is evaluated directly, so u = t σ(-x) + (1 - t) σ(x) never cancels; BCE is
    ``log1p(exp(-|x|)) + max(x, 0) - t x`` (exact for t = 1 at large x, where ``softplus(x) - t x`` cancels).
    ``careful`` (infinite logits): BCE takes its limit, 0 where the side of the infinity has no target mass
    (x = +inf, t = 1; x = -inf, t = 0) and inf elsewhere, instead of ``inf - inf``.
    """
    s = torch.sigmoid(x)
    s_neg = torch.neg(x).sigmoid_()
    u = torch.lerp(s, s_neg, t)
    ce = torch.abs(x).neg_().exp_().log1p_().add_(torch.clamp_min(x, 0.0)).addcmul_(t, x, value=-1.0)
    if careful:
        ce = _bce_limits(x, t, ce)
    mod = u.square() if gamma == 2.0 else u.pow(gamma)
    return s, s_neg, ce, u, mod


def _bce_into(x: torch.Tensor, t: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """BCE from logits, ``log1p(exp(-|x|)) + max(x, 0) - t x``, in a new buffer; ``scratch`` is overwritten.

    ``max(x, 0) = (x + |x|) / 2``; exact for t = 1 at large x (no ``softplus(x) - x`` cancellation).
    """
    torch.abs(x, out=scratch)
    ce = torch.mul(scratch, 0.5).add_(x, alpha=0.5).addcmul_(t, x, value=-1.0)
    return ce.add_(scratch.neg_().exp_().log1p_())


def _sigmoid_focal_loss_and_input_grad(x, t, alpha, gamma):
    """The loss and d loss / dx = α_t u^γ (σ(x) - t + γ (1 - 2t) σ(x) σ(-x) ce / u) from one set of intermediates.

    Five buffers, every pass in place: at 1e6 elements a fresh buffer's page faults cost as much as several
    passes over it, so the count of allocations sets the time as much as the count of operations.
    """
    s = torch.sigmoid(x)
    s_neg = torch.neg(x).sigmoid_()
    u = torch.lerp(s, s_neg, t)  # 1 - p_t = t σ(-x) + (1 - t) σ(x), without cancellation
    grad = torch.empty_like(x)
    loss = _bce_into(x, t, grad)
    torch.sub(s, t, out=grad)
    if gamma:
        # (1 - 2t) σ(x) σ(-x) / u is finite as u -> 0 (u >= min(σ(x), σ(-x)) >= σ(x) σ(-x))
        focus = s.mul_(s_neg)
        modulating = torch.mul(u, u, out=s_neg) if gamma == 2.0 else torch.pow(u, gamma, out=s_neg)
        focus.div_(u.clamp_min_(torch.finfo(u.dtype).tiny)).mul_(loss)
        grad.addcmul_(focus, torch.mul(t, -2.0, out=u).add_(1.0), value=gamma).mul_(modulating)
        loss.mul_(modulating)
    if alpha is not None:
        a_t = torch.mul(t, 2.0 * alpha - 1.0, out=u).add_(1.0 - alpha)
        grad.mul_(a_t)
        loss.mul_(a_t)
    return loss, grad


#: elements per block of the reduced sigmoid focal path (times the thread count): the block's logits,
#: targets, gradient and five scratch blocks, 256 KiB each in float32, stay in a core's L2 cache
_REDUCED_BLOCK = 1 << 16
#: below this many elements the elementwise path: its few buffers are small enough not to cost page faults
_REDUCED_MIN_ELEMENTS = 1 << 15


def _sigmoid_focal_block(x, t, grad, scratch, alpha, gamma, scale, one, alpha_at_zero):
    """Σ scale · α_t u^γ BCE over one block of finite logits; the block's gradient (times scale) into ``grad``.

    The intermediates live in ``scratch`` (five blocks, reused for every block), so the only memory written
    is the gradient; the passes over a block are fused where torch has the operation (a + b·t with a 0-dim
    ``a``: ``one`` = 1, ``alpha_at_zero`` = (1 - α)·scale; addcmul; the sum as a dot product with the weight
    the gradient is scaled by). u = 1 - p_t = t σ(-x) + (1 - t) σ(x) from σ(x) and σ(-x) (never cancels);
    BCE = log1p(exp(-|x|)) + (|x| + (1 - 2t) x) / 2 (max(x, 0) - t x, exact at t = 1 for large x); with
    u' = (1 - 2t) σ(x) σ(-x), d/dx [u^γ BCE] = u^γ (σ(x) - t) + γ u^(γ-1) u' BCE, which at γ = 2 is
    u (u (σ(x) - t) + 2 u' BCE), with no division.
    """
    s, s_neg, u, w, ce = (b[: x.numel()] for b in scratch)
    torch.sigmoid(x, out=s)
    torch.minimum(x, torch.neg(x, out=s_neg), out=ce)  # -|x|
    s_neg.sigmoid_()
    torch.lerp(s, s_neg, t, out=u)
    torch.add(one, t, alpha=-2.0, out=w)  # 1 - 2t
    linear = torch.addcmul(ce, x, w, value=-1.0, out=grad)  # -(|x| + (1 - 2t) x): grad is free until below
    ce.exp_().log1p_().add_(linear, alpha=-0.5)
    torch.sub(s, t, out=grad)
    if gamma:
        focus = s.mul_(s_neg).mul_(ce)  # σ(x) σ(-x) BCE
        if gamma == 2.0:
            grad.mul_(u).addcmul_(focus, w, value=2.0)  # u (σ(x) - t) + 2 u' BCE; one more factor u below
            ce.mul_(u)
        else:
            modulating = torch.pow(u, gamma, out=s_neg)
            # u' BCE / u is finite as u -> 0 (u >= min(σ(x), σ(-x)) >= σ(x) σ(-x))
            focus.div_(u.clamp_min_(torch.finfo(u.dtype).tiny))
            grad.addcmul_(focus, w, value=gamma)
            u = modulating  # the factor both still need
    else:
        u = None
    # the weight left for both: α_t · scale, times u at γ = 2, times u^γ for another γ
    if alpha is None:
        weight = torch.mul(u, scale, out=w) if u is not None else None
    else:
        weight = torch.add(alpha_at_zero, t, alpha=(2.0 * alpha - 1.0) * scale, out=w)  # α_t · scale
        if u is not None:
            weight.mul_(u)
    if weight is None:
        if scale != 1.0:
            grad.mul_(scale)
        return ce.sum() * scale
    grad.mul_(weight)
    return torch.dot(ce, weight)


class _SigmoidFocalReduced(torch.autograd.Function):
    """The mean or sum sigmoid focal loss of finite logits when only they need a gradient, on CPU.

    The forward walks the inputs in cache-sized blocks (:func:`_sigmoid_focal_block`) and writes the
    gradient of the reduced loss into one preallocated tensor, which is all the backward needs: one
    elementwise allocation per step, and some 20 passes over each block while it is in cache instead of
    some 25 over the whole tensor (at 1e6 elements, 2.5 -> 1.2-1.3 times torch.compile's fused kernels).
    Non-finite sums go back to the careful elementwise path
    (see :func:`sigmoid_focal_loss`). Under ``create_graph`` the backward is the differentiable analytic
    gradient, so second derivatives are exact.
    """

    @staticmethod
    def forward(ctx, x, t, alpha, gamma, reduction):
        numel = x.numel()
        scale = 1.0 / numel if reduction == "mean" else 1.0
        flat_x, flat_t = x.reshape(-1), t.reshape(-1)
        grad = empty_like_on_huge_pages(flat_x)  # 40 MiB at 1e7: see _core/memory.py
        block = _REDUCED_BLOCK * max(1, torch.get_num_threads())
        scratch = torch.empty(5, min(block, numel), dtype=x.dtype, device=x.device).unbind(0)
        constants = (x.new_ones(()), x.new_full((), (1.0 - (alpha or 0.0)) * scale))
        partial_sums = [
            _sigmoid_focal_block(
                flat_x[i : i + block],
                flat_t[i : i + block],
                grad[i : i + block],
                scratch,
                alpha,
                gamma,
                scale,
                *constants,
            )
            for i in range(0, numel, block)
        ]
        ctx.save_for_backward(x, t, grad)
        ctx.focal = (alpha, gamma, scale)
        return partial_sums[0] if len(partial_sums) == 1 else torch.stack(partial_sums).sum()

    @staticmethod
    def backward(ctx, grad_output):
        x, t, grad = ctx.saved_tensors
        alpha, gamma, scale = ctx.focal
        if torch.is_grad_enabled():  # create_graph: out of place, so the second derivative is taken through it
            return _sigmoid_focal_grad(x, t, alpha, gamma) * (grad_output * scale), None, None, None, None
        # loss.backward(): the saved tensor is the gradient (autograd copies it if the graph is kept)
        if not bool(grad_output == 1):
            grad = grad * grad_output
        return grad.view(x.shape), None, None, None, None


def _sigmoid_focal_value(x, t, alpha, gamma, careful):
    """The elementwise sigmoid focal loss α_t u^γ BCE from :func:`_sigmoid_focal_parts` (fresh buffers)."""
    _, _, ce, _, mod = _sigmoid_focal_parts(x, t, gamma, careful)
    loss = mod.mul_(ce) if gamma else ce
    a_t = _focal_alpha_t(t, alpha)
    return loss if a_t is None else loss.mul_(a_t)


def _sigmoid_focal_grads_differentiable(ctx, x, t, grad_output):
    """(grad_x, grad_t, None, None, None) of :class:`_SigmoidFocal` written with differentiable operations."""
    alpha, gamma, careful = ctx.alpha, ctx.gamma, ctx.careful
    parts = _sigmoid_focal_parts_differentiable(x, t, gamma, careful)
    grad_x = grad_t = None
    if ctx.needs_input_grad[0]:
        grad_x = _sigmoid_focal_grad(x, t, alpha, gamma, parts, careful) * grad_output
    if ctx.needs_input_grad[1]:
        grad_t = _sigmoid_focal_target_grad(x, t, alpha, gamma, parts, careful) * grad_output
    return grad_x, grad_t, None, None, None


class _SigmoidFocal(torch.autograd.Function):
    """Elementwise sigmoid focal loss with an analytic backward that recomputes from the inputs.

    Nothing beyond the inputs is saved for backward (autograd's graph of the formula keeps five
    intermediates); the forward is a dozen elementwise passes, the backward two dozen, against
    autograd's many more. Under ``create_graph`` the backward is written with differentiable
    operations, so second derivatives are exact.
    """

    @staticmethod
    def forward(ctx, x, t, alpha, gamma, careful):
        ctx.alpha, ctx.gamma, ctx.careful = alpha, gamma, careful
        ctx.grad_x = False
        if not careful and x.shape == t.shape and ctx.needs_input_grad[0] and not ctx.needs_input_grad[1]:
            # the gradient shares every intermediate with the loss: compute both now, keep only the gradient
            # (4 bytes per element; the backward is one multiplication instead of a recomputation)
            loss, grad_x = _sigmoid_focal_loss_and_input_grad(x, t, alpha, gamma)
            ctx.save_for_backward(x, t, grad_x)
            ctx.grad_x = True
            return loss
        ctx.save_for_backward(x, t)
        if not careful and x.shape == t.shape:
            # three buffers, every pass in place: at 1e6 elements a fresh buffer's page faults cost as much as
            # several passes over it, so the count of allocations, not of operations, sets the time
            u = torch.sigmoid(x)
            spare = torch.neg(x).sigmoid_()
            u.lerp_(spare, t)  # 1 - p_t = t σ(-x) + (1 - t) σ(x)
            loss = _bce_into(x, t, spare)
            if gamma:
                loss.mul_(u.square_() if gamma == 2.0 else u.pow_(gamma))
            if alpha is not None:
                loss.mul_(torch.mul(t, 2.0 * alpha - 1.0, out=spare).add_(1.0 - alpha))
            return loss
        return _sigmoid_focal_value(x, t, alpha, gamma, careful)

    @staticmethod
    def backward(ctx, grad_output):
        x, t, *computed = ctx.saved_tensors
        alpha, gamma, careful = ctx.alpha, ctx.gamma, ctx.careful
        if ctx.grad_x and not torch.is_grad_enabled():
            return computed[0] * grad_output, None, None, None, None
        if torch.is_grad_enabled():  # create_graph: out of place, so the second derivative is taken through it
            return _sigmoid_focal_grads_differentiable(ctx, x, t, grad_output)
        s, s_neg, ce, u, mod = _sigmoid_focal_parts(x, t, gamma, careful)
        # u' / u and u'_t / u with u' = (1 - 2t) σ(x) σ(-x), u'_t = σ(-x) - σ(x): finite as u -> 0 (see the docs)
        u_safe = u.clamp_min(torch.finfo(u.dtype).tiny)
        a_t = _focal_alpha_t(t, alpha)
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            # d/dx [u^γ ce] = u^γ (σ(x) - t + γ ce u'/u)
            if gamma:
                focus = torch.mul(s, s_neg).div_(u_safe).mul_(ce).mul_(torch.mul(t, -2.0).add_(1.0)).mul_(gamma)
                if careful:  # σ(x) σ(-x) ce -> 0 at x = ±inf (the exponential wins), not 0 · inf
                    focus = torch.where(torch.isinf(x), torch.zeros_like(focus), focus)
                grad_x = (s - t).add_(focus).mul_(mod)
            else:
                grad_x = s - t
            if a_t is not None:
                grad_x = grad_x.mul_(a_t)
            grad_x = grad_x.mul_(grad_output)
        if ctx.needs_input_grad[1]:
            # d/dt [u^γ ce] = u^γ (γ ce (σ(-x) - σ(x)) / u - x); u and ce are linear in t, so this holds at t = 0
            # and t = 1 exactly; with α, d α_t / dt = 2α - 1 adds (2α - 1) u^γ ce
            grad_t = (s_neg - s).div_(u_safe).mul_(ce).mul_(gamma).sub_(x) if gamma else -x
            if gamma:
                grad_t = grad_t.mul_(mod)
            if a_t is not None:
                grad_t = grad_t.mul_(a_t).add_((mod * ce if gamma else ce).mul_(2.0 * alpha - 1.0))
            if careful:  # at x = ±inf the loss jumps between 0 and inf as t leaves 1 or 0: the slope -x, not 0 · inf
                grad_t = torch.where(torch.isinf(x), -x, grad_t)
            grad_t = grad_t.mul_(grad_output)
        return grad_x, grad_t, None, None, None


class _SigmoidFocalComposable(torch.autograd.Function):
    """:class:`_SigmoidFocal` for torch.func transforms (``grad``, ``vjp``, ``jacrev``, ``vmap``), which refuse a
    Function without ``setup_context``: the same value, and its ``create_graph`` backward (differentiable, out of
    place), so transforms can differentiate it again; the vmap rule is generated (every step batches)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, t, alpha, gamma, careful):
        return _sigmoid_focal_value(x, t, alpha, gamma, careful)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, alpha, gamma, careful = inputs
        ctx.save_for_backward(x, t)
        ctx.alpha, ctx.gamma, ctx.careful = alpha, gamma, careful

    @staticmethod
    def backward(ctx, grad_output):
        x, t = ctx.saved_tensors
        return _sigmoid_focal_grads_differentiable(ctx, x, t, grad_output)


def _softmax_focal_terms_exact(x2d, safe_target):
    """(log-softmax, log p_y, q, log q) with q = 1 - p_y = Σ_{c≠y} p_c from the other classes' log-sum-exp.

    For the double backward: ``-expm1(log p_y)`` rounds to exactly 0 once the margin passes ~17
    (float32), and the derivative of ``q^γ`` (γ < 1) at 0 is infinite, so second derivatives were
    NaN. Here ``log q`` is finite for every finite logit, ``q^γ = exp(γ log q)`` and
    ``log p_y = log1p(-q)`` are accurate, and no 0 is raised to a power below 1.

    Every log-sum-exp is of the scores minus their row maximum (detached: the softmax does not depend on a
    shift, so no derivative of any order changes), so no difference of two logit-sized numbers is formed.
    """
    index = safe_target.unsqueeze(1)
    shift = x2d.detach().amax(1, keepdim=True)
    z = x2d - shift.masked_fill(torch.isinf(shift), 0.0)
    lse = z.logsumexp(1)
    # the true class's slot gets a huge finite negative (not -inf: with C = 1 that keeps logsumexp's backward finite)
    others = z.scatter(1, index, torch.finfo(z.dtype).min / 2).logsumexp(1)
    log_q = others - lse
    q = torch.exp(log_q)
    small = q < 0.5
    log_softmax = z - lse.unsqueeze(1)
    log_py = torch.where(small, torch.log1p(-q.clamp(max=0.5)), log_softmax.gather(1, index).squeeze(1))
    return log_softmax, log_py, q, log_q


_LOG_SOFTMAX_FROM = 64
"""From this many classes the softmax focal loss takes torch's fused ``log_softmax`` (as cross-entropy does) and
saves it; below, ``logsumexp`` (whose composite passes are cheap over a short class axis, where the fused
kernel vectorises poorly) and only per-row values are saved."""

_LOG_SOFTMAX_UP_TO = 4096
"""Inputs of at most this many scores take ``log_softmax`` at any class count: there the per-call cost of
``logsumexp``'s five composite operations, not the passes over the data, sets the time."""


def _focal_row_coefficient(log_py, q, gamma, log_q=None, finite=False):
    """c_i with d/dx_c [-(1-p_y)^γ log p_y] = c_i (δ_cy - p_c): c = (1-p_y)^γ (γ p_y log p_y / (1-p_y) - 1).

    ``finite``: every ``log p_y`` is known to be finite (the loss was), so the floor under it is left out.
    """
    py = torch.exp(log_py)
    finite_log = log_py if finite else log_py.clamp_min(torch.finfo(log_py.dtype).min)  # p log p -> 0 as p -> 0
    if gamma == 2.0 and log_q is None:
        # = 2 (1-p) p log p - (1-p)^2: no division, and exact where 1 - p underflows to 0
        return torch.mul(py, finite_log).mul_(2.0).sub_(q).mul_(q)
    # p log p / (1 - p) -> -1 as p -> 1 (where 1 - p underflows)
    ratio = torch.where(q > 0, py * finite_log / q.clamp_min(torch.finfo(q.dtype).tiny), -py)
    modulating = q.pow(gamma) if log_q is None else torch.exp(gamma * log_q)
    return modulating * (gamma * ratio - 1.0)


_NLL_NONE = 0
"""torch's reduction enum for "none" (the ``nll_loss`` bindings below take it, not the string)."""

_nll_loss = torch._C._nn.nll_loss_nd  # F.nll_loss without its Python argument handling (~2 µs a call)
_nll_loss_backward = torch.ops.aten.nll_loss_backward.default

_FUSED_BACKWARD_UP_TO = 8192
"""Up to this many scores (from ``_LOG_SOFTMAX_FROM`` classes; any class count up to
``_FUSED_BACKWARD_SMALL``), the softmax focal backward is torch's cross-entropy backward (``nll_loss``'s and
``log_softmax``'s: two calls, ``ignore_index`` included); above, the saved log-softmax is exponentiated, scaled and
scattered into in place (no zero-filled (M, C) buffer, no second read of it), which is faster once the passes
over the data, not the count of calls, set the time."""

_FUSED_BACKWARD_SMALL = 1024


def _focal_index_terms(scores, target, gamma, ignore_index):
    """(per-row (1-p_y)^γ (-log p_y), log p_y, p_y - 1, the log-softmax (M, C) or the row maxima (M,), and
    None or the rows' Σ_c exp(x_c - max)).

    Ignored targets give exactly 0 in all three per-row values. torch's ``nll_loss`` reads the true class:
    one kernel for the gather, ``ignore_index`` and (on CPU) the range check.

    Over few classes the log-softmax is not formed: ``-log p_y = log Σ_c exp(x_c - m) + (m - x_y)`` with the
    row maximum ``m``, each term accurate on its own. ``logsumexp(x) - x_y`` gives the same number but
    subtracts two values of the logits' magnitude, so in float32 its error grows with it (relative 3e-5 at
    logits near 100, 4e-3 near 1e4; torch's log-softmax, which subtracts the maximum first, stays at 3e-7).
    """
    if scores.shape[1] >= _LOG_SOFTMAX_FROM or scores.numel() <= _LOG_SOFTMAX_UP_TO:
        log_norm = torch.log_softmax(scores, 1)
        ce = _nll_loss(log_norm, target, None, _NLL_NONE, ignore_index)
        row_sum = None
    else:
        # logsumexp's own passes (max, shift, exp, sum), keeping the maximum and the sum apart
        log_norm = scores.amax(1)
        log_norm = log_norm.masked_fill_(torch.isinf(log_norm), 0.0)  # rows of -inf (or +inf: NaN below, kept)
        row_sum = torch.sub(scores, log_norm.unsqueeze(1)).exp_().sum(1)
        ce = _nll_loss(scores, target, None, _NLL_NONE, ignore_index).add_(log_norm).add_(torch.log(row_sum))
        ce = ce.masked_fill_(target == ignore_index, 0.0)  # its log-sum-exp is not 0 (it may even be NaN)
    log_py = torch.neg(ce)
    p_minus_1 = torch.expm1(log_py)  # -(1 - p_y) from the log-probability, never 1 - p
    if gamma == 0.0:
        return ce, log_py, p_minus_1, log_norm, row_sum
    if gamma == 2.0:
        modulating = torch.mul(p_minus_1, p_minus_1)
    else:
        modulating = torch.neg(p_minus_1).pow_(gamma)
    return modulating.mul_(ce), log_py, p_minus_1, log_norm, row_sum


def _index_safe(target: torch.Tensor, ignore_index: int, num_classes: int) -> torch.Tensor:
    """Class indices usable to index: an ignored target reads a real class (its loss is 0 already).

    Only called after ``nll_loss`` checked the range on CPU (or ``class_index_target`` did elsewhere), so
    every other target is in ``[0, C)``. ``relu`` takes no Python scalar (cheaper than a clamp per call).
    """
    if 0 <= ignore_index < num_classes:
        return target
    return target.relu() if ignore_index < 0 else target.clamp(0, num_classes - 1)


def _softmax_focal_grad_differentiable(rows, target, gamma, ignore_index, careful, factor, scale, safe=None):
    """The softmax focal loss's gradient for (M, C) scores, ``scale · factor · c_i (p − onehot)``, recomputed from
    the scores with differentiable operations and ``log(1 − p_y)`` from the other classes' log-sum-exp (exact
    second derivatives); ``careful``: on the scores' softmax limit (rows holding ``+inf``)."""
    safe = safe if safe is not None else _index_safe(target, ignore_index, rows.shape[1])
    scores = softmax_limit_scores(rows, 1) if careful else rows
    log_softmax, log_py, q, log_q = _softmax_focal_terms_exact(scores, safe)
    coef = _focal_row_coefficient(log_py, q, gamma, log_q) * (target != ignore_index)
    if factor is not None:
        coef = coef * factor
    coef = (coef * scale).unsqueeze(1)
    return (torch.exp(log_softmax) * -coef).scatter_add(1, safe.unsqueeze(1), coef)


class _SoftmaxFocalRowsComposable(torch.autograd.Function):
    """Per-row softmax focal losses (M,) of (M, C) scores and class indices, for torch.func transforms (``grad``,
    ``vjp``, ``jacrev``, ``vmap``), which refuse :class:`_SoftmaxFocalIndex` (no ``setup_context``).

    Always on the softmax limit of the scores (exact for finite ones: no look at the result inside a transform);
    the backward is :class:`_SoftmaxFocalIndex`'s ``create_graph`` gradient, differentiable, so transforms can
    differentiate it again; the vmap rule is generated. Class factors and the reduction are applied by the
    caller as autograd operations.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(rows, target, gamma, ignore_index):
        return _focal_index_terms(softmax_limit_scores(rows, 1), target, gamma, ignore_index)[0]

    @staticmethod
    def setup_context(ctx, inputs, output):
        rows, target, gamma, ignore_index = inputs
        ctx.save_for_backward(rows, target)
        ctx.gamma, ctx.ignore_index = gamma, ignore_index

    @staticmethod
    def backward(ctx, grad_output):
        rows, target = ctx.saved_tensors
        grad = _softmax_focal_grad_differentiable(rows, target, ctx.gamma, ctx.ignore_index, True, None, grad_output)
        return grad, None, None, None


class _SoftmaxFocalIndex(torch.autograd.Function):
    """The softmax focal loss of (M, C) logits and class indices in one node: per-row losses, class factors
    (``alpha``, ``weight``), ``ignore_index`` and the reduction, with an analytic backward.

    torch's cross-entropy is five operations; the focal loss built from autograd operations was twenty-five,
    and on small inputs their fixed costs, not the passes over the data, set the time. The forward looks once
    at its result on the host (where data checks run): if it is not finite (``+inf`` scores, NaN) it is
    recomputed on the softmax limit of the scores (``_core/nonfinite.py``), whose gradient passes through as the
    identity. The backward is ``g_i (p - onehot)`` with ``g_i`` the per-row coefficient times the class factors
    and the reduction's scale: torch's cross-entropy backward on small inputs, else written in place into the
    saved log-softmax (used once; a second backward recomputes it). Under ``create_graph`` it recomputes from
    the scores with differentiable operations and ``log(1 - p_y)`` from the other classes' log-sum-exp, so
    second derivatives are exact.
    """

    @staticmethod
    def forward(ctx, rows, target, alpha, weight, gamma, ignore_index, reduction):
        # alpha: a (C,) tensor, a float or None; weight: a (C,) tensor or None (neither needs a gradient here)
        checked = data_checks_active(rows)
        careful = checked and not host_readable(rows)  # on accelerators no look at the result: careful at once
        while True:
            scores = softmax_limit_scores(rows, 1) if careful else rows
            loss, log_py, p_minus_1, log_norm, row_sum = _focal_index_terms(scores, target, gamma, ignore_index)
            factor = safe = None
            if isinstance(alpha, torch.Tensor) or weight is not None:
                safe = _index_safe(target, ignore_index, rows.shape[1])
                if isinstance(alpha, torch.Tensor):
                    factor = alpha.index_select(0, safe)
                    loss.mul_(factor)
            if alpha is not None and not isinstance(alpha, torch.Tensor):
                loss.mul_(alpha)
                factor = alpha
            if weight is not None:
                class_w = weight.index_select(0, safe)
                loss.mul_(class_w)
                factor = class_w if factor is None else factor * class_w
            denominator = None
            if reduction == "none":
                out = loss
            else:
                out = loss.sum()
                if reduction == "mean":  # Σ w_y l / Σ w_y over the targets that count; 0 when none counts
                    counted = target != ignore_index
                    if weight is None:
                        # nothing counts: every loss is exactly 0 then, so the clamp gives 0, not 0/0
                        denominator = counted.sum().clamp_min_(1)
                        out = out / denominator
                    else:
                        total_weight = torch.where(counted, class_w, 0.0).sum()
                        out = safe_divide(out, total_weight)
                        denominator = torch.where(total_weight == 0, math.inf, total_weight)  # a zero gradient
            if careful or not checked or out.numel() == 0:
                break
            if math.isfinite(out.item() if out.dim() == 0 else float(out.sum())):
                break
            careful = True  # ±inf scores, or NaN: once more on their softmax limit (NaN rows stay NaN)
        ctx.save_for_backward(rows, target, log_norm)  # log_norm: the (M, C) log-softmax, or (M,) row maxima
        ctx.gamma, ctx.ignore_index, ctx.careful = gamma, ignore_index, careful
        ctx.exact = careful or not checked  # a log p_y of -inf is possible: floor it in the coefficient
        ctx.factor, ctx.safe, ctx.denominator = factor, safe, denominator
        ctx.fused = log_norm.dim() == 2 and (
            rows.numel() <= _FUSED_BACKWARD_SMALL or (rows.numel() <= _FUSED_BACKWARD_UP_TO and rows.shape[1] >= 64)
        )
        ctx.terms = (log_py, p_minus_1, scores if careful and log_norm.dim() == 1 else None, row_sum)
        ctx.used_up = False  # whether a backward exponentiated the saved log-softmax in place
        ctx.in_place = checked  # eager (not while torch.compile traces): the in-place backward below
        return out

    @staticmethod
    def backward(ctx, grad_output):
        rows, target, log_norm = ctx.saved_tensors
        gamma, ignore_index = ctx.gamma, ctx.ignore_index
        scale = grad_output if ctx.denominator is None else grad_output / ctx.denominator
        if torch.is_grad_enabled():  # double backward: recompute from the scores, differentiably and accurately
            grad = _softmax_focal_grad_differentiable(
                rows, target, gamma, ignore_index, ctx.careful, ctx.factor, scale, ctx.safe
            )
            return grad, *(None,) * 6
        log_py, p_minus_1, scores, row_sum = ctx.terms
        # g_i >= 0 with gradient g_i (p - onehot): -c_i of _focal_row_coefficient
        if gamma == 2.0:
            # -c = (1-p) ((1-p) - 2 p log p) = (p-1) ((p-1) + 2 p log p)
            finite_log = log_py if not ctx.exact else log_py.clamp_min(torch.finfo(log_py.dtype).min)
            g = torch.addcmul(p_minus_1, torch.exp(log_py), finite_log, value=2.0).mul_(p_minus_1)
        elif gamma == 0.0:
            g = (target != ignore_index).to(log_py.dtype)
        else:
            g = _focal_row_coefficient(log_py, torch.neg(p_minus_1), gamma, finite=not ctx.exact).neg_()
        if ctx.factor is not None:
            g = g.mul_(ctx.factor)
        g = g.mul_(scale)
        if ctx.fused:  # torch's cross-entropy backward with per-row weights g: -g at the targets, then + g p
            total = grad_output if grad_output.dim() == 0 else grad_output.new_empty(())  # unused by "none"
            onehot = _nll_loss_backward(g, log_norm, target, None, _NLL_NONE, ignore_index, total)
            return torch._log_softmax_backward_data(onehot, log_norm, 1, log_norm.dtype), *(None,) * 6
        safe = ctx.safe if ctx.safe is not None else _index_safe(target, ignore_index, rows.shape[1])
        g = g.unsqueeze(1)
        if log_norm.dim() == 2 and ctx.used_up:  # a second backward (retain_graph): recompute the softmax
            p = torch.softmax(softmax_limit_scores(rows, 1) if ctx.careful else rows, 1)
        elif log_norm.dim() == 2 and ctx.in_place:
            # the softmax in the saved buffer's memory, not a new (M, C) one: through .data, which leaves the
            # saved tensor's version alone, and ctx.used_up, which sends a second backward to the branch above
            ctx.used_up = True
            p = log_norm.data.exp_()
        elif log_norm.dim() == 2:
            p = torch.exp(log_norm)
        else:  # exp(x - max) / Σ exp(x - max): over few classes torch's softmax is ~2x slower
            # the (M, C) gradient itself, on huge pages when it is large (_core/memory.py: at 1e7 scores its
            # 40 MiB would otherwise fault in 4 KiB at a time); the division by the row sum goes into g's
            # multiplication (one pass fewer than normalising p, and no logits-sized rounding in the shift)
            source = rows if scores is None else scores
            p = torch.sub(source, log_norm.unsqueeze(1), out=empty_like_on_huge_pages(source)).exp_()
            return p.mul_(g / row_sum.unsqueeze(1)).scatter_add_(1, safe.unsqueeze(1), g.neg()), *(None,) * 6
        return p.mul_(g).scatter_add_(1, safe.unsqueeze(1), g.neg()), *(None,) * 6


def _soft_target_focal(input, target, cdim, gamma, alpha_t, weight, careful):
    """Per-sample -Σ_c α_c w_c t_c (1 - p_c)^γ log p_c (Keras's categorical focal form).

    ``careful`` (scores on their softmax limit, some -inf): a class with ``t_c = 0`` adds 0 (not ``0 · -inf``),
    and in a row with an infinite log the modulating factors are held constant, so their derivatives never
    meet the infinite log (the gradient is -α_c w_c t_c (1 - p_c)^γ for log p_c there).
    """
    log_p = torch.log_softmax(input, cdim)
    if careful:
        infinite = torch.isinf(log_p)
        # rows with a class of probability 0 or 1: the modulating factor is held constant there, so its
        # derivative (0 in the limit) never meets the infinite log, nor log-sum-exp's 0/0 over no mass
        held = torch.where(infinite.any(cdim, keepdim=True), log_p.detach(), log_p)
        modulating = torch.exp(gamma * _log1m_softmax(held, cdim)) if gamma else None
        log_p = torch.where((target == 0) & infinite, torch.zeros((), dtype=log_p.dtype, device=log_p.device), log_p)
    else:
        modulating = torch.exp(gamma * _log1m_softmax(log_p, cdim)) if gamma else None
    per_class = -target * log_p
    if modulating is not None:
        per_class = per_class * modulating
    shape = [1] * input.dim()
    shape[cdim] = input.shape[cdim]
    for factor in (alpha_t, weight):
        if isinstance(factor, torch.Tensor):
            per_class = per_class * factor.view(shape)
        elif factor is not None:
            per_class = per_class * factor
    return per_class.sum(cdim)


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
    At ±inf the loss is its limit (0 where the target sits on the
    infinity's side, inf elsewhere) and the gradient its limit, never NaN.
    When only the logits need a gradient, the forward computes it along
    with the loss and keeps only it (4 bytes per float32 element); reduced
    ("mean"/"sum") on CPU over 2^15 elements or more, it does so block by
    block in cache-sized scratch buffers, so the gradient is the one
    elementwise allocation of the step.
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
    alpha = None if alpha is None else float(alpha)
    if functorch_transforms_active():  # torch.func: the composable Function, at the limits (no look: see _core)
        return reduce_loss(
            _SigmoidFocalComposable.apply(input, target, alpha, float(gamma), True),
            reduction,
            weight=sample_weight,
            fn=fn,
        )
    reduced = (
        reduction in ("mean", "sum")
        and sample_weight is None
        and input.numel() >= _REDUCED_MIN_ELEMENTS
        and input.device.type == "cpu"
        and input.shape == target.shape
        and input.dtype == target.dtype
        and torch.is_grad_enabled()
        and input.requires_grad
        and not target.requires_grad
        and input.is_contiguous()
        and target.is_contiguous()
        and not autograd_transform_active()
    )

    def focal(at_limits: bool) -> torch.Tensor:
        if reduced and not at_limits:
            return _SigmoidFocalReduced.apply(input, target, alpha, float(gamma), reduction)
        # analytic gradients for the logits and for a target that needs one (soft labels from another model)
        return reduce_loss(
            _SigmoidFocal.apply(input, target, alpha, float(gamma), at_limits), reduction, weight=sample_weight, fn=fn
        )

    # ±inf logits (or NaN): recomputed with the limits at infinity (one host read; on accelerators, at once)
    return computed_with_limits(focal, lambda loss: loss, input)


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
    ±1e4 for every :math:`\gamma \ge 0`; scores of ±inf give the limits, as
    in :func:`cross_entropy`. With class-index targets the loss — class
    factors, ``ignore_index`` and the reduction included — is one autograd
    node: per-row values and the log-softmax are saved for backward (as
    torch's cross-entropy keeps it; below 64 classes on more than 4096 scores,
    the per-row log-sum-exp instead); the backward is torch's cross-entropy
    backward with per-row weights, or on larger inputs is written in place
    into the saved log-softmax.

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
    # eager CPU (N, C) scores with int64 targets: nothing to check or cast, torch's kernel checks the range
    plain, weight = plain_index_call(fn, input, target, weight)
    if plain:
        num_classes = input.shape[1]
    else:
        input = prepare_scores(fn, input)
        num_classes = input.shape[class_dim(input)]
        weight = checked_class_weight(fn, weight, input)
    if isinstance(alpha, torch.Tensor):
        check_class_weight(fn, alpha, num_classes, name="alpha")
        alpha_t: Union[None, float, torch.Tensor] = to_compute(input.dtype, alpha)
    else:
        alpha_t = alpha

    if plain:
        range_by_kernel = True
        rows, row_targets = input, target
    else:
        cdim = class_dim(input)
        if is_probability_target(fn, input, target, ignore_index):
            target = to_compute(input.dtype, target)
            per = computed_with_limits(  # ±inf scores (or NaN): the limits at infinity (one host read)
                lambda at_limits: _soft_target_focal(
                    softmax_limit_scores(input, cdim) if at_limits else input,
                    target,
                    cdim,
                    float(gamma),
                    alpha_t,
                    weight,
                    careful=at_limits,
                ),
                lambda per: per,
                input,
            )
            return reduce_loss(per, reduction, weight=sample_weight, fn=fn)
        range_by_kernel = kernel_checks_range(input)
        target, _ = class_index_target(fn, input, target, ignore_index=ignore_index, check_range=not range_by_kernel)
        if input.dim() == 2:
            rows, row_targets = input, target
        else:  # (C,) is one row; (N, C, d1, ...) has a row per position, classes last
            rows = input.movedim(cdim, -1).reshape(-1, num_classes) if input.dim() > 1 else input.unsqueeze(0)
            row_targets = target.reshape(-1)
    gamma = float(gamma)
    if not isinstance(alpha_t, torch.Tensor) and alpha_t is not None:
        alpha_t = float(alpha_t)
    # the whole loss in one node, unless a class factor needs a gradient or samples are weighted; inside torch.func
    # transforms per-row losses from the composable Function, the factors and reduction as autograd operations
    transformed = functorch_transforms_active()
    fused = sample_weight is None and not _needs_grad(alpha_t) and not _needs_grad(weight) and not transformed
    try:
        if fused:
            loss = _SoftmaxFocalIndex.apply(rows, row_targets, alpha_t, weight, gamma, ignore_index, reduction)
            return loss.reshape(target.shape) if reduction == "none" else loss
        if transformed:
            per = _SoftmaxFocalRowsComposable.apply(rows, row_targets, gamma, ignore_index)
        else:
            per = _SoftmaxFocalIndex.apply(rows, row_targets, None, None, gamma, ignore_index, "none")
    except (IndexError, RuntimeError):  # torch's kernel checked the range: losskit's message when that was the cause
        if range_by_kernel:
            explain_bad_target(fn, input, target, ignore_index)
        raise
    # the class factors and the reduction as autograd operations (the rows of ignored targets are 0 already)
    per = per.reshape(target.shape)
    valid = target != ignore_index
    if isinstance(alpha_t, torch.Tensor):
        per = per * class_values(alpha_t, safe_targets(target, valid))
    elif alpha_t is not None:
        per = per * alpha_t
    return reduce_per_target(per, target, weight, valid, reduction, sample_weight, fn)


def _needs_grad(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.requires_grad


def _true_class_log_prob(input, target, valid, index_targets):
    """log p_t with p_t = p_y (index targets) or Σ_c t_c p_c (probabilities)."""
    cdim = class_dim(input)
    if not index_targets:
        return log_target_probability(torch.log_softmax(input, cdim), target, cdim)
    return log_softmax_at(input, target, valid, cdim)


def _targets_for(fn, input, target, ignore_index, weight):
    """(targets: int64 indices, or probabilities in the compute dtype; index targets?; valid mask or None; the
    checked class weight) for the losses built on log p_t (poly-1, generalized CE)."""
    weight = checked_class_weight(fn, weight, input)
    if is_probability_target(fn, input, target, ignore_index):
        if weight is not None:
            raise ValueError(
                f"{fn}: weight applies to class-index targets; for probability targets fold it into the target"
            )
        return to_compute(input.dtype, target), False, None, None
    target, valid = valid_targets(fn, input, target, ignore_index)
    return target, True, valid, weight


def _at_limits(per_sample, input):
    """``per_sample(scores, careful)`` on the scores, and again on their softmax limit if its sum is not finite."""
    return computed_with_limits(  # a row with +inf (or NaN, or a -inf class): the limits (one host read)
        lambda at_limits: (
            per_sample(softmax_limit_scores(input, class_dim(input)), True) if at_limits else per_sample(input, False)
        ),
        lambda loss: loss,
        input,
    )


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
    Scores of ±inf give the limits, as in :func:`cross_entropy`.

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
    target, index_targets, valid, weight = _targets_for(fn, input, target, ignore_index, weight)
    ls = float(label_smoothing)

    def per_sample(scores, careful):
        # smoothing the target distribution gives p_t' = (1 - ls) p_t + ls / C, as the probabilities sum to 1, so
        # 1 - p_t' = (1 - ls)(1 - p_t) + ls (1 - 1/C); 1 - p_t as -expm1(log p_t), exact where p_t is near 1
        # (1 - exp(log p_t) would cancel to a float32 rounding of 0 there, next to a cross-entropy of ~1 - p_t)
        num_classes = scores.shape[cdim]
        log_pt = _true_class_log_prob(scores, target, valid, index_targets)
        one_minus_pt = torch.expm1(log_pt) * (ls - 1.0) + ls * (1.0 - 1.0 / num_classes)  # expm1 saves its output
        if index_targets:
            ce = F.cross_entropy(scores, target, ignore_index=ignore_index, reduction="none", label_smoothing=ls)
        elif careful:  # 0 · log 0 is 0 for a class without target mass (torch's kernel: NaN)
            ce = soft_target_cross_entropy(scores, target, cdim, None, ls)
        else:
            ce = F.cross_entropy(scores, target, reduction="none", label_smoothing=ls)
        return ce + epsilon * one_minus_pt

    loss = _at_limits(per_sample, input)
    if not index_targets:
        return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
    return reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)


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
    Scores of ±inf give the limits (:math:`p_t` is 0 or 1 there, as in
    :func:`cross_entropy`), never NaN.

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
    target, index_targets, valid, weight = _targets_for(fn, input, target, ignore_index, weight)
    loss = _at_limits(
        # (1 - p_y^q) / q as -expm1(q log p_y) / q: exact where p_y is near 1 (1 - exp(.) cancels to 0 there)
        lambda scores, careful: torch.expm1(q * _true_class_log_prob(scores, target, valid, index_targets)) / -q,
        input,
    )
    if not index_targets:
        return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
    return reduce_per_target(loss, target, weight, valid, reduction, sample_weight, fn)
