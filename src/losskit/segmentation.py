r"""Segmentation losses: overlap scores (Dice, generalized Dice, Tversky, focal Tversky, Jaccard), Lovász, Dice+CE.

Layout (CATALOG "Segmentation"): ``input`` is ``(N, C, d1, ..., dk)`` (any
number of spatial dimensions, none included) of logits with
``activation="softmax"`` (default, over the class dimension), ``"sigmoid"``
(multi-label) or ``None`` (the input already holds probabilities). ``target``
is class indices ``(N, d1, ..., dk)`` of an integer dtype, or probabilities /
one-hot of the input's shape.

The overlap losses reduce every (sample, class) to three sums over the
spatial positions that are not ``ignore_index``:

.. math::
    I_{nc} = \sum_s p_{ncs} t_{ncs}, \qquad P_{nc} = \sum_s p_{ncs}, \qquad T_{nc} = \sum_s t_{ncs}

(``batch=True`` sums over the batch too, giving one score per class). For
class-index targets :math:`I` and :math:`T` are read with a gather and a
scatter-add, never through an ``(N, C, ...)`` one-hot tensor. Every score
uses ``smooth`` :math:`s` in numerator and denominator, as MONAI's
``smooth_nr = smooth_dr = smooth``; a class absent from both prediction and
target scores a perfect 0 loss, also with ``smooth=0`` (0/0 is read as a
perfect score, with zero gradient). ``include_background=False`` drops class
0 after the activation (a single channel has no background and is kept, as
MONAI does); ``weight`` always has one entry per class ``C`` (MONAI wants
``C - 1`` entries without the background), and ``reduction`` pools the
weighted scores ``w_c l_nc``: ``"sum"`` is their sum and ``"mean"``
:math:`\sum w_c l_{nc} / (N \sum_c w_c)` (MONAI divides by :math:`N C`).

``gather=True`` (Dice, Jaccard, Tversky, focal Tversky, generalized Dice)
computes over the global batch across ``torch.distributed`` ranks: with
``batch=True`` each rank's per-class sums are all-gathered with gradient and
added, so every rank computes the loss of the whole batch; with
``batch=False`` the per-sample scores stay local and "mean" / "sum" pool them
over the global batch (:func:`losskit.distributed.global_reduce`); "none" is
this rank's scores. Gradients are scaled so that DistributedDataParallel's
average of the ranks' gradients is the single-process gradient of the
concatenated batch. Without an initialised process group (or with one rank)
``gather=True`` is a no-op, as for the embedding losses.

``ignore_index`` pixels count nowhere: their probabilities and targets are
masked out of every sum, so changing the logits there changes neither the
loss nor any gradient, and they get exactly zero gradient.

Infinite logits have their limits: with ``activation="softmax"`` a position
holding ``+inf`` has the one-hot softmax (several ``+inf`` share the mass
equally), with ``"sigmoid"`` the probabilities are 1 and 0, so the overlap
and Lovász losses stay finite, and a gradient through a saturated softmax is
its limit (0 at a single ``+inf``); the cross-entropy of :func:`dice_ce_loss`
is ``+inf`` where the target class's limit probability is 0. torch's softmax
gives NaN there (``inf - inf``), so the losses look once at a small sum they
already hold (the per-(sample, class) :math:`P`, the per-image Lovász
losses), finite unless that happened, and only then recompute on the limit
scores (``_core.nonfinite.softmax_limit_scores``); NaN inputs
still give NaN. On accelerators nothing is read on the host: while
:func:`losskit.set_validation` is on the limit scores are used on every call
(no look) and the class-range check is a device-side assertion; with it off
neither runs. Under ``torch.compile`` the data checks are skipped.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Tuple

import torch

from . import distributed as _dist
from ._core import checks
from ._core.nonfinite import computed_with_limits, softmax_limit_scores
from ._core.reduction import reduce_loss, safe_divide
from ._core.spec import Curve, Role, loss
from ._core.targets import explain_bad_target, is_probability_target, kernel_checks_range, valid_targets
from ._core.validation import (
    _is_compiling,
    check_class_weight,
    check_floating,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    require,
    to_compute,
)
from .classification.cross_entropy import binary_cross_entropy_with_logits, cross_entropy

__all__ = [
    "dice_loss",
    "generalized_dice_loss",
    "tversky_loss",
    "focal_tversky_loss",
    "jaccard_loss",
    "lovasz_softmax_loss",
    "lovasz_hinge_loss",
    "dice_ce_loss",
]

FAMILY = "segmentation"

ACTIVATION = checks.one_of("softmax", "sigmoid", None)
#: focal Tversky: below this, (1 - TI)^gamma continues linearly to 0 (finite slope, exact 0 at a perfect score)
FOCAL_TVERSKY_EPS = 1e-7

_INPUT = Role("input", "logits (N, C, d1, ...) (probabilities with activation=None)")
_TARGET = Role("target", "class indices (N, d1, ...) or probabilities / one-hot (N, C, d1, ...)")
_OVERLAP_HPARAMS = {
    "activation": ACTIVATION,
    "batch": checks.boolean,
    "include_background": checks.boolean,
    "weight": checks.class_weight,
    "smooth": checks.non_negative,
    "ignore_index": checks.optional_integer,
}
_OVERLAP_CAPABILITIES = (
    "compile",
    "double_backward",
    "class_weight",
    "ignore_index",
    "index_targets",
    "probability_targets",
)
#: the overlap losses whose statistics can be summed over the global batch (``gather=True``)
_GATHER_HPARAMS = {"gather": checks.boolean}
_GATHER_CAPABILITIES = (*_OVERLAP_CAPABILITIES, "gather")


# ---------------------------------------------------------------------------------------------
# private helpers
# ---------------------------------------------------------------------------------------------


def _scores_input(fn: str, input: torch.Tensor, activation: Optional[str]) -> torch.Tensor:
    """The checked input in its compute dtype: floating, ``(N, C, ...)`` with C >= 1 (C >= 2 for softmax)."""
    check_floating(fn, "input", input)
    if input.dim() < 2:
        raise ValueError(
            f"{fn}: input must have shape (N, C) or (N, C, d1, ...) (batch, classes, spatial); "
            f"got {fmt_shape(input.shape)}"
        )
    if input.shape[1] == 0:
        raise ValueError(f"{fn}: input must have at least one class (C >= 1); got shape {fmt_shape(input.shape)}")
    if activation == "softmax" and input.shape[1] == 1:
        raise ValueError(
            f"{fn}: activation='softmax' over a single channel is constantly 1; got input of shape "
            f"{fmt_shape(input.shape)} — use activation='sigmoid' for one-channel binary segmentation"
        )
    return to_compute(compute_dtype(input), input)


def _activate(x: torch.Tensor, activation: Optional[str]) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(x, 1)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return x


class _Targets:
    """Targets flattened to the ``(N, C, S)`` layout: ``index`` (N, S) or ``prob`` (N, C, S), and the valid mask."""

    __slots__ = ("index", "prob", "valid")

    def __init__(
        self, index: Optional[torch.Tensor], prob: Optional[torch.Tensor], valid: Optional[torch.Tensor]
    ) -> None:
        self.index, self.prob, self.valid = index, prob, valid

    def one_hot(self, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
        """``(N, C, S)`` targets (0 at ignored positions)."""
        if self.prob is not None:
            return self.prob
        assert self.index is not None
        classes = torch.arange(num_classes, device=self.index.device).view(1, -1, 1)
        hot = (self.index.unsqueeze(1) == classes).to(dtype)
        return hot if self.valid is None else hot * self.valid.unsqueeze(1)


def _flat_targets(
    fn: str,
    input: torch.Tensor,
    target: torch.Tensor,
    ignore_index: Optional[int],
    *,
    allow_prob: bool = True,
    check_range: bool = True,
) -> _Targets:
    """Checked targets for ``input`` (N, C, ...), flattened over the spatial dimensions.

    ``check_range=False``: the caller's kernel checks the class range (see :func:`valid_targets`).
    """
    n, c = input.shape[:2]
    s = math.prod(input.shape[2:])
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{fn}: target must be a torch.Tensor; got {type(target).__name__}")
    if allow_prob and is_probability_target(fn, input, target, ignore_index):
        return _Targets(None, to_compute(input.dtype, target).reshape(n, c, s), None)
    index, valid = valid_targets(fn, input, target, ignore_index, check_range=check_range)
    index = index.reshape(n, s)
    if valid is None:
        return _Targets(index, None, None)
    valid = valid.reshape(n, s)
    return _Targets(torch.where(valid, index, torch.zeros_like(index)), None, valid)


def _overlap_sums(
    p: torch.Tensor, targets: _Targets, squared: bool = False
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(I, P, T), each (N, C): Σ p·t, Σ p (Σ p² when squared) and Σ t (Σ t² when squared) over valid positions."""
    n, c, _ = p.shape
    if targets.valid is not None:  # a where, not a product: inf / NaN at ignored positions stays out
        p = torch.where(targets.valid.unsqueeze(1), p, torch.zeros((), dtype=p.dtype, device=p.device))
    pred = (p * p if squared else p).sum(-1)
    if targets.prob is not None:
        t = targets.prob
        return (p * t).sum(-1), pred, (t * t if squared else t).sum(-1)
    index = targets.index
    assert index is not None
    # Σ_s p[n, y_s, s] into class y_s: a gather and a scatter-add instead of an (N, C, S) one-hot product
    picked = p.gather(1, index.unsqueeze(1)).squeeze(1)
    zeros = torch.zeros(n, c, dtype=p.dtype, device=p.device)
    inter = zeros.scatter_add(1, index, picked)
    counts = torch.ones_like(picked) if targets.valid is None else targets.valid.to(p.dtype)
    return inter, pred, zeros.scatter_add(1, index, counts)


def _index_overlap_composed(
    scores: torch.Tensor, targets: _Targets, activation: Optional[str], squared: bool, with_nll: bool
) -> Tuple[torch.Tensor, ...]:
    """:class:`_IndexOverlap`'s outputs as a composition of differentiable operations, for autograd to differentiate.

    Inside torch.func transforms, which refuse the Function (no ``setup_context``; its backward writes into the
    forward's buffers): the same sums (and ``−log p_y``, 0 at ignored positions), its gradients to rounding.
    """
    if not with_nll:
        return _overlap_sums(_activate(scores, activation), targets, squared)
    log_p = torch.log_softmax(scores, 1)
    assert targets.index is not None
    nll = log_p.gather(1, targets.index.unsqueeze(1)).squeeze(1).neg()
    if targets.valid is not None:
        nll = torch.where(targets.valid, nll, torch.zeros((), dtype=nll.dtype, device=nll.device))
    return (*_overlap_sums(log_p.exp(), targets, squared), nll)


def _activation_backward(p: torch.Tensor, h: torch.Tensor, activation: Optional[str]) -> torch.Tensor:
    """d loss / d x from h = d loss / d p: softmax p ⊙ (h − Σ_c p h), sigmoid p(1 − p) h, identity h."""
    if activation == "softmax":
        return p * (h - (p * h).sum(1, keepdim=True))
    if activation == "sigmoid":
        return p * (1.0 - p) * h
    return h


#: the in-place softmax backward goes class by class (one (N, 1, S) temporary) up to this many classes, and
#: through one (N, C, S) temporary above it, where a loop of 2·C small operations would cost more than it saves
_CLASS_LOOP_MAX = 16


def _softmax_backward_into(
    p: torch.Tensor,
    grad_pred: torch.Tensor,
    r: torch.Tensor,
    out: Optional[torch.Tensor],
    scratch: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``p ⊙ (gP − r)`` for p (N, C, S), gP (N, C) and r (N, 1, S); in place into ``out`` (p itself) when given,
    class by class through ``scratch`` (r's shape; allocated when None)."""
    if out is None:
        return (grad_pred.unsqueeze(-1) - r).mul_(p)
    if p.shape[1] > _CLASS_LOOP_MAX:
        return out.mul_(grad_pred.unsqueeze(-1) - r)
    scratch = torch.empty_like(r) if scratch is None else scratch
    for column, rows in zip(grad_pred.unsqueeze(-1).unsqueeze(-1).unbind(1), out.unsqueeze(2).unbind(1)):
        rows.mul_(torch.sub(column, r, out=scratch))  # column (N, 1, 1), rows (N, 1, S): one class
    return out


class _IndexOverlap(torch.autograd.Function):
    """(I, P, T) of activated scores (N, C, S) against class indices (N, S), and optionally −log p_y, analytically.

    The forward is the activation, one sum, one gather and two scatter-adds
    (``T`` is the per-class count of valid targets, a constant); the
    backward needs ``h = dL/dp = gP (2p when squared) + gI[y] at the target
    class``, masked at ignored positions, and one activation backward. For
    the softmax (the common case) that backward is written in place into the
    forward's own ``(N, C, S)`` probability buffer, which becomes the input's
    gradient: one ``(N, C, S)`` allocation per step (the softmax) where
    autograd's graph makes several, fresh memory that the allocator often
    has to fault in again on every step, and a lower peak.

    The probabilities and the (N, S) ``p_y`` are kept on ``ctx`` (not
    ``save_for_backward``, whose version check forbids the overwrite) and
    dropped when the backward takes them (``p_y`` becomes ``p_y gI_y`` in
    place), so the returned gradient is the buffer's only reference (autograd
    adopts it as ``.grad`` without a copy); a second backward through a
    retained graph recomputes them from ``x``. Under ``torch.compile`` they
    are saved as usual and the backward allocates.

    ``with_nll`` (softmax only: :func:`dice_ce_loss`) computes ``log_softmax``
    once, takes ``p = exp`` of it for the overlap sums and also returns the
    per-position ``−log p_y`` (0 at ignored positions) for the cross-entropy,
    whose gradient ``gN (p − e_y)`` joins the same in-place backward.

    Under ``create_graph`` the backward recomputes the activation from ``x``
    with differentiable ops, so second derivatives are exact. Eager only: inside
    torch.func transforms :func:`_index_overlap_composed` stands in.
    """

    @staticmethod
    def forward(ctx, x, index, valid, activation, squared, with_nll):
        target = index.unsqueeze(1)
        log_p = torch.log_softmax(x, 1) if with_nll else None
        p = log_p.exp() if log_p is not None else _activate(x, activation)
        pm = p if valid is None else torch.where(valid.unsqueeze(1), p, torch.zeros((), dtype=p.dtype, device=p.device))
        pred = (pm * pm if squared else pm).sum(-1)
        picked = pm.gather(1, target).squeeze(1)  # p_y, 0 at ignored positions
        inter = torch.zeros_like(pred).scatter_add_(1, index, picked)
        counts = (
            torch.ones((), dtype=p.dtype, device=p.device).expand_as(picked) if valid is None else valid.to(p.dtype)
        )
        truth = torch.zeros_like(pred).scatter_add_(1, index, counts)
        ctx.activation, ctx.squared, ctx.with_nll = activation, squared, with_nll
        ctx.mark_non_differentiable(truth)
        if _is_compiling():  # traced graphs keep the usual saved tensors (no in-place reuse)
            ctx.save_for_backward(x, index, valid, picked, p)
            ctx.scores = None
        else:  # the identity's p is x itself: never to be overwritten
            ctx.save_for_backward(x, index, valid)
            ctx.scores = (p, picked, p is not x)
        if log_p is None:
            return inter, pred, truth
        nll = log_p.gather(1, target).squeeze(1).neg_()
        if valid is not None:
            nll = torch.where(valid, nll, torch.zeros((), dtype=nll.dtype, device=nll.device))
        return inter, pred, truth, nll

    @staticmethod
    def backward(ctx, grad_inter, grad_pred, _grad_truth, grad_nll=None):
        saved = ctx.saved_tensors
        x, index, valid = saved[:3]
        activation, squared = ctx.activation, ctx.squared
        target = index.unsqueeze(1)
        if torch.is_grad_enabled():  # double backward: from x, with differentiable ops
            p = _activate(x, activation)
            h = grad_pred.unsqueeze(-1) * (2.0 * p if squared else 1.0)
            h = h.expand_as(p).scatter_add(1, target, grad_inter.gather(1, index).unsqueeze(1))
            if valid is not None:
                h = torch.where(valid.unsqueeze(1), h, torch.zeros((), dtype=h.dtype, device=h.device))
            dx = _activation_backward(p, h, activation)
            if grad_nll is not None:  # d(−log softmax_y)/dx = p − e_y
                g = grad_nll if valid is None else torch.where(valid, grad_nll, torch.zeros_like(grad_nll))
                dx = dx + (p * g.unsqueeze(1)).scatter_add(1, target, -g.unsqueeze(1))
            return dx, None, None, None, None, None
        if len(saved) > 3:
            picked, p = saved[3:]
            owned = False
        elif ctx.scores is not None:  # the forward's buffers, taken: p becomes the gradient, p_y becomes p_y gI_y
            (p, picked, owned), ctx.scores = ctx.scores, None
        else:  # a second backward through a retained graph: the forward's buffers again, from x
            p = torch.log_softmax(x, 1).exp() if ctx.with_nll else _activate(x, activation)
            pm = (
                p
                if valid is None
                else torch.where(valid.unsqueeze(1), p, torch.zeros((), dtype=p.dtype, device=p.device))
            )
            picked, owned = pm.gather(1, target).squeeze(1), p is not x
        g_target = grad_inter.gather(1, index)  # gI_y, (N, S)
        # h = gP (2 p gP when squared) + gI_y e_y = dL/dp; one (N, C, S) buffer, every later step in place
        if activation == "softmax":
            # dx = p ⊙ (h − Σ_c p h) (+ gN (p − e_y)) with Σ_c p h = Σ_c p h' + p_y gI_y, h' = h before the
            # target term: dx = p ⊙ (h' − r) + (p_y gI_y − gN) e_y with r = Σ_c p h' + p_y gI_y − gN
            # (N, S) temporaries in place (peak memory): p_y gI_y into p_y's buffer when it is this backward's own
            at_target = picked.mul_(g_target) if owned else g_target.mul_(picked)
            if grad_nll is not None:
                at_target.sub_(grad_nll)
            if squared:
                h = p * (2.0 * grad_pred).unsqueeze(-1)
                h.sub_((p * h).sum(1, keepdim=True).add_(at_target.unsqueeze(1)))
                h.mul_(p)
            else:  # r = p_y gI_y + Σ_c p gP, a (1, C) x (C, S) product per sample; then p ⊙ (gP − r) in p's buffer
                r = torch.baddbmm(at_target.unsqueeze(1), grad_pred.unsqueeze(1), p)
                h = _softmax_backward_into(p, grad_pred, r, p if owned else None, g_target.unsqueeze(1))
            h.scatter_add_(1, target, at_target.unsqueeze(1))
        elif activation == "sigmoid":  # p (1 − p) h
            h = p * (2.0 * grad_pred).unsqueeze(-1) if squared else grad_pred.unsqueeze(-1).expand_as(p).clone()
            slope = (1.0 - p).mul_(p)
            h.mul_(slope).scatter_add_(1, target, (slope.gather(1, target).squeeze(1) * g_target).unsqueeze(1))
        else:
            h = p * (2.0 * grad_pred).unsqueeze(-1) if squared else grad_pred.unsqueeze(-1).expand_as(p).clone()
            h.scatter_add_(1, target, g_target.unsqueeze(1))
        if valid is not None:
            h.masked_fill_(~valid.unsqueeze(1), 0.0)
        return h, None, None, None, None, None


class _Sums(NamedTuple):
    """The overlap statistics of :func:`_class_sums`."""

    inter: torch.Tensor  # (N, C') or (C',) with batch
    pred: torch.Tensor
    truth: torch.Tensor
    weight: Optional[torch.Tensor]  # (C',) in the compute dtype, or None
    gathered: bool  # per-sample scores whose "sum" / "mean" run over the global batch (gather=True, batch=False)
    nll: Optional[torch.Tensor]  # (N, S) −log p_y, 0 at ignored positions (with_nll and class indices), or None
    labels: Optional[torch.Tensor]  # (N, S) class indices (ignored positions read 0), None for probability targets
    valid: Optional[torch.Tensor]  # (N, S) positions that count, None when none is ignored


def _class_sums(
    fn: str,
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    activation: Optional[str],
    batch: bool,
    include_background: bool,
    weight: Optional[torch.Tensor],
    ignore_index: Optional[int],
    squared: bool = False,
    gather: bool = False,
    with_nll: bool = False,
) -> _Sums:
    """The shared front of the overlap losses: checks, the activation and the per-(sample, class) sums.

    ``batch`` sums over the batch; with ``gather`` (and an initialised process
    group of more than one rank) over the global batch: every rank's (C,)
    sums are all-gathered with gradient and added, so each rank holds the
    global statistics, and the gather's backward hands each rank the summed
    gradient of its own sums (the world size times the global loss's, which
    DistributedDataParallel's average undoes — see :mod:`losskit.distributed`).
    ``with_nll`` (softmax, class indices) also returns the per-position
    ``−log p_y`` from the same ``log_softmax``.
    """
    x = _scores_input(fn, input, activation)
    num_classes = x.shape[1]
    check_class_weight(fn, weight, num_classes)
    # without ignore_index, _IndexOverlap's gather checks the class range on CPU (raising before any value is
    # used), so the targets are not read a second time for it; explain_bad_target turns its error into losskit's
    kernel_checks = ignore_index is None and kernel_checks_range(x)
    targets = _flat_targets(fn, x, target, ignore_index, check_range=not kernel_checks)
    flat = x.reshape(x.shape[0], num_classes, math.prod(x.shape[2:]))

    def sums_of(scores: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if targets.index is None:
            return _overlap_sums(_activate(scores, activation), targets, squared)
        if functorch_transforms_active():
            return _index_overlap_composed(scores, targets, activation, squared, with_nll)
        # the common case: class indices, the fused forward and backward
        if not kernel_checks:
            return _IndexOverlap.apply(scores, targets.index, targets.valid, activation, squared, with_nll)
        try:
            return _IndexOverlap.apply(scores, targets.index, targets.valid, activation, squared, with_nll)
        except (RuntimeError, IndexError):
            explain_bad_target(fn, x, target, ignore_index)
            raise

    if activation == "softmax":
        # Σ p is finite unless a counted position's softmax is NaN: a +inf logit (inf - inf) or a NaN one.
        # Then recompute on the softmax limit (the +inf classes share the mass; NaN rows stay NaN); the normal
        # path pays one sum over the (N, C) sums and one host read (on accelerators: the limit, no read)
        sums = computed_with_limits(
            lambda at_limits: sums_of(softmax_limit_scores(flat, 1) if at_limits else flat), lambda s: s[1], flat
        )
    else:
        sums = sums_of(flat)
    inter, pred, truth = sums[:3]
    nll = sums[3] if with_nll and targets.index is not None else None
    gathered = bool(gather) and _dist.is_distributed()
    if batch:
        inter, pred, truth = inter.sum(0), pred.sum(0), truth.sum(0)
        if gathered:  # one (1, 3, C) row per rank, so no size exchange
            rows, _, _ = _dist.all_gather_with_grad(
                torch.stack([inter, pred, truth]).unsqueeze(0), [1] * _dist.world_size()
            )
            inter, pred, truth = rows.sum(0).unbind(0)
    w = to_compute(x.dtype, weight) if weight is not None else None
    if not include_background and num_classes > 1:
        inter, pred, truth = inter[..., 1:], pred[..., 1:], truth[..., 1:]
        w = w[1:] if w is not None else None
    return _Sums(inter, pred, truth, w, gathered and not batch, nll, targets.index, targets.valid)


def _overlap_loss(
    fn: str,
    score: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str,
    **options: Any,
) -> torch.Tensor:
    """A per-(sample, class) overlap loss: :func:`_class_sums`, ``score(I, P, T)``, the weighted reduction."""
    sums = _class_sums(fn, input, target, **options)
    return _reduce_scores(score(sums.inter, sums.pred, sums.truth), sums.weight, reduction, fn, sums.gathered)


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, and a perfect score 1 where the denominator is 0 (smooth = 0, empty class)."""
    empty = denominator == 0
    # dividing by 1 where the score is replaced keeps that branch's gradient finite (0 · inf would be NaN)
    return torch.where(empty, 1.0, numerator / torch.where(empty, 1.0, denominator))


def _reduce_scores(
    loss: torch.Tensor, w: Optional[torch.Tensor], reduction: str, fn: str, gathered: bool = False
) -> torch.Tensor:
    """Pool the (N, C') or (C',) losses: none w·l, sum Σ w·l, mean Σ w·l / (N Σ w) (DESIGN §3).

    ``gathered`` (per-sample scores with ``gather=True`` across ranks): "sum"
    and "mean" pool the global batch (:func:`losskit.distributed.global_reduce`:
    the same value on every rank, DDP-consistent gradients); "none" stays this
    rank's scores.
    """
    if not gathered or reduction == "none":
        return reduce_loss(loss, reduction, weight=w, fn=fn)
    weighted = loss if w is None else loss * w
    if reduction == "sum":
        return _dist.global_reduce(weighted.sum(), None, True)
    per_row = loss.new_full((), float(loss.shape[-1])) if w is None else w.detach().sum()
    return _dist.global_reduce(weighted.sum(), per_row * loss.shape[0], True)


# ---------------------------------------------------------------------------------------------
# Dice, Jaccard, Tversky, focal Tversky
# ---------------------------------------------------------------------------------------------


@loss(
    "dice",
    family=FAMILY,
    module="DiceLoss",
    roles=(_INPUT, _TARGET),
    hparams={**_OVERLAP_HPARAMS, "squared": checks.boolean, **_GATHER_HPARAMS},
    call_kwargs=(),
    capabilities=_GATHER_CAPABILITIES,
    references=("MONAI DiceLoss", "NumPy reference"),
)
def dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    squared: bool = False,
    ignore_index: Optional[int] = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft Dice loss, one score per (sample, class) (MONAI ``DiceLoss``'s numbers).

    .. math::
        \ell_{nc} = 1 - \frac{2 I_{nc} + s}{P_{nc} + T_{nc} + s}

    with the sums of the module docstring; ``squared=True`` is V-Net's
    denominator :math:`\sum p^2 + \sum t^2`. ``batch=True`` sums over the
    batch first (one score per class). MONAI's ``DiceLoss(softmax=True,
    to_onehot_y=True, smooth_nr=s, smooth_dr=s)`` gives the same values and
    gradients for the options both have (its ``"mean"`` divides by N·C where
    losskit divides by N·Σw when weighted).

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        activation: ``"softmax"`` (over classes), ``"sigmoid"`` (multi-label) or None.
        batch: sum over the batch before the ratio (one score per class).
        include_background: False drops class 0 from the scores (after the activation).
        weight: per-class weights ``(C,)``.
        smooth: added to numerator and denominator, ``>= 0``.
        squared: V-Net's squared denominator.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        gather: over the global batch across ``torch.distributed`` ranks (see the module docstring).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N, C')``, or ``(C',)`` with ``batch``).

    Returns:
        A scalar, or the weighted per-(sample, class) losses with ``reduction="none"``.

    Example:
        >>> dice_loss(torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]]), torch.tensor([[0, 1]]))
        tensor(0.0003)

    Reference:
        Milletari et al., "V-Net", 3DV 2016; Sudre et al. 2017; MONAI ``DiceLoss``.
    """
    return _overlap_loss(
        "dice_loss",
        lambda i, p, t: 1.0 - _ratio(2.0 * i + smooth, p + t + smooth),
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        squared=squared,
        gather=gather,
        reduction=reduction,
    )


@loss(
    "jaccard",
    family=FAMILY,
    module="JaccardLoss",
    aliases=("soft_iou",),
    roles=(_INPUT, _TARGET),
    hparams={**_OVERLAP_HPARAMS, "squared": checks.boolean, **_GATHER_HPARAMS},
    call_kwargs=(),
    capabilities=_GATHER_CAPABILITIES,
    references=("NumPy reference", "MONAI DiceLoss(jaccard=True)"),
)
def jaccard_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    squared: bool = False,
    ignore_index: Optional[int] = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft Jaccard (IoU) loss, one score per (sample, class).

    .. math::
        \ell_{nc} = 1 - \frac{I_{nc} + s}{P_{nc} + T_{nc} - I_{nc} + s}

    MONAI's ``DiceLoss(jaccard=True)`` is the same score with the smoothing
    entering as :math:`(2I + s)/(2(P + T - I) + s)`, so MONAI with
    ``smooth_nr = smooth_dr = 2s`` equals ``jaccard_loss(smooth=s)`` exactly.
    ``squared=True`` uses :math:`\sum p^2` and :math:`\sum t^2` for P and T.

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        batch: sum over the batch before the ratio.
        include_background: False drops class 0 from the scores.
        weight: per-class weights ``(C,)``.
        smooth: added to numerator and denominator, ``>= 0``.
        squared: squared sums in the denominator.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        gather: over the global batch across ``torch.distributed`` ranks (see the module docstring).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N, C')``, or ``(C',)`` with ``batch``).

    Returns:
        A scalar, or the weighted per-(sample, class) losses with ``reduction="none"``.

    Example:
        >>> jaccard_loss(torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]]), torch.tensor([[0, 1]]))
        tensor(0.0007)

    Reference:
        Rahman & Wang, "Optimizing Intersection-Over-Union in Deep Neural Networks", 2016; MONAI ``DiceLoss``.
    """
    return _overlap_loss(
        "jaccard_loss",
        lambda i, p, t: 1.0 - _ratio(i + smooth, p + t - i + smooth),
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        squared=squared,
        gather=gather,
        reduction=reduction,
    )


def _tversky_index(inter, pred, truth, alpha, beta, smooth):
    # FP = Σ p(1 - t) = P - I and FN = Σ (1 - p)t = T - I (exact for soft targets too)
    return _ratio(inter + smooth, inter + alpha * (pred - inter) + beta * (truth - inter) + smooth)


@loss(
    "tversky",
    family=FAMILY,
    module="TverskyLoss",
    roles=(_INPUT, _TARGET),
    hparams={**_OVERLAP_HPARAMS, "alpha": checks.non_negative, "beta": checks.non_negative, **_GATHER_HPARAMS},
    call_kwargs=(),
    capabilities=_GATHER_CAPABILITIES,
    references=("MONAI TverskyLoss", "NumPy reference"),
)
def tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    ignore_index: Optional[int] = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tversky loss: ``alpha`` weighs false positives, ``beta`` false negatives (MONAI ``TverskyLoss``).

    .. math::
        \ell_{nc} = 1 - \frac{I + s}{I + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN} + s},
        \qquad \mathrm{FP} = \sum_s p(1-t) = P - I, \quad \mathrm{FN} = \sum_s (1-p)t = T - I

    ``alpha = beta = 1`` is :func:`jaccard_loss`; ``alpha = beta = 0.5`` is
    :func:`dice_loss` at ``smooth=0`` (the smoothing enters each ratio once,
    here as :math:`(I + s)/(\ldots + s)`, in Dice as :math:`(2I + s)/(\ldots + s)`,
    as in MONAI). (Keras's ``tversky`` puts ``alpha`` on the false
    negatives; :func:`losskit.keras.tversky` follows Keras.)

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        alpha: weight of false positives, ``>= 0``.
        beta: weight of false negatives, ``>= 0``.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        batch: sum over the batch before the ratio.
        include_background: False drops class 0 from the scores.
        weight: per-class weights ``(C,)``.
        smooth: added to numerator and denominator, ``>= 0``.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        gather: over the global batch across ``torch.distributed`` ranks (see the module docstring).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N, C')``, or ``(C',)`` with ``batch``).

    Returns:
        A scalar, or the weighted per-(sample, class) losses with ``reduction="none"``.

    Example:
        >>> tversky_loss(torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]]), torch.tensor([[0, 1]]), alpha=0.3, beta=0.7)
        tensor(0.0003)

    Reference:
        Salehi et al., "Tversky loss function for image segmentation", 2017; MONAI ``TverskyLoss``.
    """
    return _overlap_loss(
        "tversky_loss",
        lambda i, p, t: 1.0 - _tversky_index(i, p, t, alpha, beta, smooth),
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        gather=gather,
        reduction=reduction,
    )


def _focal_power(u: torch.Tensor, gamma: float) -> torch.Tensor:
    """``u^gamma`` for u = 1 - TI >= 0, continued linearly below FOCAL_TVERSKY_EPS: finite slope, 0 at u = 0."""
    eps = FOCAL_TVERSKY_EPS
    above = u > eps
    power = u.clamp_min(eps).pow(gamma)
    linear = u.clamp_min(0.0) * eps ** (gamma - 1.0)
    return torch.where(above, power, linear)


@loss(
    "focal_tversky",
    family=FAMILY,
    module="FocalTverskyLoss",
    roles=(_INPUT, _TARGET),
    hparams={
        **_OVERLAP_HPARAMS,
        "alpha": checks.non_negative,
        "beta": checks.non_negative,
        "gamma": checks.positive,
        **_GATHER_HPARAMS,
    },
    call_kwargs=(),
    capabilities=_GATHER_CAPABILITIES,
    references=("NumPy reference (Abraham & Khan 2019)",),
)
def focal_tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    ignore_index: Optional[int] = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Focal Tversky loss: :math:`(1 - \mathrm{TI})^\gamma` per (sample, class), then the reduction.

    .. math::
        \ell_{nc} = (1 - \mathrm{TI}_{nc})^{\gamma}, \qquad
        \mathrm{TI} = \frac{I + s}{I + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN} + s}

    with ``alpha`` on false positives and ``beta`` on false negatives exactly
    as in :func:`tversky_loss` (``gamma=1`` equals it; the defaults put the
    paper's 0.7 on false negatives). The derivative of :math:`u^\gamma` is
    infinite at :math:`u = 0` for :math:`\gamma < 1` (a perfect score, an
    absent class), so below :math:`u = 10^{-7}` (float32's resolution near
    1) the power continues linearly to 0: the loss is exactly 0 at a perfect
    score and every gradient stays finite.

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        alpha: weight of false positives, ``>= 0``.
        beta: weight of false negatives, ``>= 0``.
        gamma: focal exponent, ``> 0``.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        batch: sum over the batch before the ratio.
        include_background: False drops class 0 from the scores.
        weight: per-class weights ``(C,)``.
        smooth: added to numerator and denominator, ``>= 0``.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        gather: over the global batch across ``torch.distributed`` ranks (see the module docstring).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N, C')``, or ``(C',)`` with ``batch``).

    Returns:
        A scalar, or the weighted per-(sample, class) losses with ``reduction="none"``.

    Example:
        >>> focal_tversky_loss(torch.tensor([[[1.0, -1.0], [-1.0, 1.0]]]), torch.tensor([[0, 1]]))
        tensor(0.2029)

    Reference:
        Abraham & Khan, "A Novel Focal Tversky Loss Function with Improved Attention U-Net for Lesion
        Segmentation", ISBI 2019.
    """
    return _overlap_loss(
        "focal_tversky_loss",
        lambda i, p, t: _focal_power(1.0 - _tversky_index(i, p, t, alpha, beta, smooth), float(gamma)),
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        gather=gather,
        reduction=reduction,
    )


# ---------------------------------------------------------------------------------------------
# generalized Dice
# ---------------------------------------------------------------------------------------------


@loss(
    "generalized_dice",
    family=FAMILY,
    module="GeneralizedDiceLoss",
    aliases=("gdl",),
    roles=(_INPUT, _TARGET),
    hparams={**_OVERLAP_HPARAMS, "weight_type": checks.one_of("square", "simple", "uniform"), **_GATHER_HPARAMS},
    call_kwargs=(),
    capabilities=_GATHER_CAPABILITIES,
    references=("MONAI GeneralizedDiceLoss", "NumPy reference"),
)
def generalized_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    weight_type: str = "square",
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    ignore_index: Optional[int] = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generalized Dice loss (Sudre et al. 2017): classes combined inside one ratio per sample.

    .. math::
        \ell_n = 1 - \frac{2 \sum_c g_{nc} I_{nc} + s}{\sum_c g_{nc} (P_{nc} + T_{nc}) + s},
        \qquad g_{nc} = w_c / T_{nc}^2 \;(\text{square}),\; w_c / T_{nc} \;(\text{simple}),\; w_c \;(\text{uniform})

    An absent class's infinite :math:`1/T` weight becomes the largest finite
    weight of the sample (of the batch with ``batch=True``), as MONAI does
    (before the class ``weight`` multiplies it). ``batch=True`` gives one
    score for the whole batch.

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        weight_type: ``"square"``, ``"simple"`` or ``"uniform"``.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        batch: one score for the whole batch.
        include_background: False drops class 0.
        weight: per-class factors ``(C,)`` on the Sudre weights (inside the ratio).
        smooth: added to numerator and denominator, ``>= 0``.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        gather: over the global batch across ``torch.distributed`` ranks (see the module docstring).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)``, or ``()`` with ``batch``).

    Returns:
        A scalar, or the per-sample losses with ``reduction="none"``.

    Example:
        >>> generalized_dice_loss(torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]]), torch.tensor([[0, 1]]))
        tensor(0.0003)

    Reference:
        Sudre et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
        segmentations", DLMIA 2017; MONAI ``GeneralizedDiceLoss``.
    """
    fn = "generalized_dice_loss"
    inter, pred, truth, w, gathered = _class_sums(
        fn,
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        gather=gather,
    )[:5]
    absent = truth == 0
    safe_truth = torch.where(absent, torch.ones_like(truth), truth)
    if weight_type == "uniform":
        g = torch.ones_like(truth)
    else:
        g = 1.0 / (safe_truth * safe_truth) if weight_type == "square" else 1.0 / safe_truth
        g = torch.where(absent, torch.zeros_like(g), g)
        g = torch.where(absent, g.amax(-1, keepdim=True).expand_as(g), g)
    if w is not None:
        g = g * w
    numerator = 2.0 * (g * inter).sum(-1) + smooth
    denominator = (g * (pred + truth)).sum(-1) + smooth
    loss = 1.0 - _ratio(numerator, denominator)
    if gathered and reduction != "none":  # per-sample losses pooled over the global batch
        count = None if reduction == "sum" else loss.new_full((), float(loss.shape[0]))
        return _dist.global_reduce(loss.sum(), count, True)
    return reduce_loss(loss, reduction, fn=fn)


# ---------------------------------------------------------------------------------------------
# Lovász
# ---------------------------------------------------------------------------------------------


def _descending_order(key: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """``key.argsort(-1, descending=True)`` of errors >= 0 (rows, L), invalid positions last.

    For float32 the sort runs on integers, all rows in one 1-D stable sort: a
    non-negative float32's bit pattern read as an integer orders exactly as
    its value (NaN above +inf), so ``row · 2³² + (2³¹ − 1 − bits)`` sorts the
    rows one after the other, each in decreasing order, and torch sorts 1-D
    int64 with a radix sort (about 2.5× faster than a float argsort per row on
    CPU, where the sort is most of the Lovász losses' time). Ties keep their
    order (stable); the value of the Lovász extension does not depend on how
    ties are broken. Other dtypes take the float argsort.
    """
    if key.dtype != torch.float32 or key.dim() != 2:
        if valid is not None:
            key = torch.where(valid, key, torch.full_like(key, -math.inf))
        return key.argsort(-1, descending=True)
    rows, length = key.shape
    # the mask drops the sign bit: -0.0 reads as 0 (and a NaN with its sign bit set as a NaN)
    ranked = key.view(torch.int32).bitwise_and(0x7FFFFFFF).to(torch.int64)
    if valid is not None:
        ranked.masked_fill_(~valid, -1)  # one past the largest key: last in its row
    row = torch.arange(rows, device=key.device).unsqueeze(1)
    ranked.neg_().add_((row << 32) + (2**31 - 1))  # in place: the int64 temporaries are the peak here
    order = ranked.view(-1).sort(stable=True)[1].view(rows, length)
    del ranked
    return order.sub_(row * length)


def _lovasz_weights(key: torch.Tensor, fg: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """The Lovász extension's weights (rows, L): ``Σ_s e_s w_s`` is Berman et al.'s extension of errors ``e``.

    The errors' detached values ``key`` are sorted in decreasing order; the
    increments of the Jaccard loss of the sorted ground truth ``fg``
    (``lovasz_grad`` of the reference) are the weights of the sorted
    positions, scattered back to where they came from. They depend on the
    errors only through their order, so they are constants of the backward,
    and the loss is linear in the errors with no gather or scatter on the
    graph. Invalid positions (``valid`` False) sort last with zero ground
    truth and get weight 0 (or a weight on a zero error when nothing is valid).
    """
    order = _descending_order(key, valid)
    if valid is not None:
        fg = torch.where(valid, fg, torch.zeros((), dtype=fg.dtype, device=fg.device))
    fg_sorted = fg.gather(-1, order)
    total = fg_sorted.sum(-1, keepdim=True)
    intersection = total - fg_sorted.cumsum(-1)
    union = total + (1.0 - fg_sorted).cumsum(-1)  # >= 1 at every position
    jaccard = 1.0 - intersection / union
    increments = torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], -1)
    return torch.empty_like(increments).scatter_(-1, order, increments)


def _lovasz_extension(errors: torch.Tensor, fg: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Berman et al.'s Lovász extension of the Jaccard loss along the last dimension, batched over the others."""
    if valid is not None:  # a where, not a product: NaN at ignored positions stays out
        errors = torch.where(valid, errors, torch.zeros((), dtype=errors.dtype, device=errors.device))
    return (errors * _lovasz_weights(errors.detach(), fg.detach(), valid)).sum(-1)


def _per_image_reduce(losses: torch.Tensor, reduction: str, fn: str) -> torch.Tensor:
    return reduce_loss(losses, reduction, fn=fn)


def _lovasz_softmax_losses(p: torch.Tensor, targets: _Targets, classes: str, per_image: bool) -> torch.Tensor:
    """Lovász-softmax losses (images,) of activated scores ``p`` (N, C, S): one per image, or (1,) for the batch."""
    n, c, s = p.shape
    shape = (n, s) if per_image else (1, n * s)  # one image of N·S positions without per_image
    valid = targets.valid.reshape(shape) if targets.valid is not None else None
    if targets.prob is not None:
        fg = targets.prob.detach()
    else:
        assert targets.index is not None
        # by comparison, 0 at ignored positions (a scatter_ into zeros cannot take class indices batched by vmap)
        fg = targets.one_hot(c, p.dtype)
    errors = (fg - p).abs()
    if targets.valid is not None:  # a where, not a product: NaN at ignored positions stays out
        errors = torch.where(targets.valid.unsqueeze(1), errors, torch.zeros((), dtype=p.dtype, device=p.device))
    # all classes' errors in one differentiable expression; the weights are sorted one class at a time, as the
    # reference does, so the sort's temporaries (int64 keys and order, cumsums) stay at one class's size
    weights = torch.empty_like(errors, requires_grad=False)
    plain = errors.detach()
    for k in range(c):
        weights[:, k] = _lovasz_weights(plain[:, k].reshape(shape), fg[:, k].reshape(shape), valid).reshape(n, s)
    weighted = errors * weights
    dims = (-1,) if per_image else (0, 2)
    losses_by_class = weighted.sum(dims).reshape(-1, c)  # (images, C)
    fg_total = fg.sum(dims).reshape(-1, c)
    if classes == "present":
        present = fg_total > 0
        counted = present.sum(-1).to(losses_by_class.dtype)
        kept = torch.where(present, losses_by_class, torch.zeros_like(losses_by_class))
        losses = safe_divide(kept.sum(-1), counted)
        losses = losses + (losses_by_class * 0.0).sum(-1)  # NaN in the input still reaches the loss
    else:
        losses = losses_by_class.mean(-1)
    return losses


@loss(
    "lovasz_softmax",
    family=FAMILY,
    module="LovaszSoftmaxLoss",
    aliases=("lovasz",),
    roles=(_INPUT, Role(_TARGET.name, _TARGET.shape, differentiable=False)),
    hparams={
        "classes": checks.one_of("present", "all"),
        "per_image": checks.boolean,
        "activation": ACTIVATION,
        "ignore_index": checks.optional_integer,
    },
    call_kwargs=(),
    capabilities=("compile", "double_backward", "ignore_index", "index_targets", "probability_targets"),
    references=("NumPy port of Berman et al. 2018's reference (lovasz_losses.py)",),
)
def lovasz_softmax_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    classes: str = "present",
    per_image: bool = False,
    activation: Optional[str] = "softmax",
    ignore_index: Optional[int] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Lovász-softmax loss (Berman et al. 2018): the Lovász extension of the Jaccard loss, per class.

    .. math::
        \ell_c = \sum_{i} e_{c,\pi(i)}\, \big(J_c(i) - J_c(i-1)\big), \qquad
        e_{cs} = |t_{cs} - p_{cs}| \text{ sorted decreasing by } \pi

    where :math:`J_c(i)` is the Jaccard loss of the sorted ground truth's first :math:`i` positions.

    For each class :math:`c`, the errors :math:`e_s = |t_{cs} - p_{cs}|` over
    the valid positions are sorted in decreasing order and dotted with the
    increments of the Jaccard loss of the sorted ground truth; the class
    losses are averaged over the classes present in the target
    (``classes="present"``, classes absent from it are skipped, as in the
    reference) or over all classes (``"all"``). ``per_image=True`` computes
    one loss per image (the present classes of that image) and "mean"
    averages them, as the reference does; otherwise one loss for the batch.
    An image with no valid position, or no present class, gives 0.

    The classes are sorted one at a time (as in the reference, which keeps
    the sort's temporaries at one class's size), each batched over the
    images. Targets are constants (not differentiated); with one-hot targets
    the numbers are the class-index ones, soft targets enter the extension
    as they are.

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        classes: ``"present"`` or ``"all"``.
        per_image: one loss per image instead of one for the batch.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        ignore_index: a class-index target value whose positions count nowhere, or None.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)`` with ``per_image``, else ``()``).

    Returns:
        A scalar, or the per-image losses with ``reduction="none"``.

    Example:
        >>> lovasz_softmax_loss(torch.tensor([[[2.0, -1.0], [-2.0, 1.0]]]), torch.tensor([[0, 1]]))
        tensor(0.0939)

    Reference:
        Berman, Rannen Triki & Blaschko, "The Lovász-Softmax loss", CVPR 2018 (reference code
        ``lovasz_losses.py``).
    """
    fn = "lovasz_softmax_loss"
    x = _scores_input(fn, input, activation)
    n, c = x.shape[:2]
    s = math.prod(x.shape[2:])
    targets = _flat_targets(fn, x, target, ignore_index)
    flat = x.reshape(n, c, s)
    if targets.valid is not None:  # ignored logits (NaN included) out before the activation: exactly 0 gradient there
        flat = torch.where(targets.valid.unsqueeze(1), flat, torch.zeros((), dtype=x.dtype, device=x.device))
    if activation == "softmax":
        # the losses are in [0, 1] unless a softmax is NaN (a +inf logit: inf - inf, or a NaN one): recompute
        # on the softmax limit (NaN rows stay NaN); the normal path pays one host read of the (images,) losses
        losses = computed_with_limits(
            lambda at_limits: _lovasz_softmax_losses(
                _activate(softmax_limit_scores(flat, 1) if at_limits else flat, activation), targets, classes, per_image
            ),
            lambda out: out,
            flat,
        )
    else:
        losses = _lovasz_softmax_losses(_activate(flat, activation), targets, classes, per_image)
    if not per_image:
        losses = losses.reshape(())
    return _per_image_reduce(losses, reduction, fn)


def _hinge_targets(fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: Optional[int]):
    """(labels in {0, 1} as the input's dtype, valid mask or None) for the binary Lovász hinge."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{fn}: target must be a torch.Tensor; got {type(target).__name__}")
    if target.is_complex():
        raise TypeError(f"{fn}: target must be a real tensor of 0/1 labels; got {str(target.dtype)[6:]}")
    if target.shape != input.shape:
        raise ValueError(
            f"{fn}: target must have the input's shape {fmt_shape(input.shape)}; got {fmt_shape(target.shape)}"
        )
    valid = None if ignore_index is None else target != ignore_index
    if data_checks_active(target) and target.numel():
        # through require: one host read on CPU, a device-side assertion on accelerators, and nothing inside
        # torch.func transforms (the mask indexing that names the bad label runs only once a check has failed)
        extra = f" (or ignore_index={ignore_index})" if ignore_index is not None else ""
        binary = (target == 0) | (target == 1)

        def detail() -> str:
            labels = target if valid is None else target[valid]
            return f"{fn}: target must hold labels 0 or 1{extra}; got {labels[(labels != 0) & (labels != 1)][0].item()}"

        require(binary if valid is None else binary | ~valid, f"{fn}: target must hold labels 0 or 1{extra}", detail)
    labels = (target == 1).to(input.dtype)
    return labels, valid


@loss(
    "lovasz_hinge",
    family=FAMILY,
    module="LovaszHingeLoss",
    roles=(
        Role("input", "binary logits (N, d1, ...)"),
        Role("target", "labels 0 / 1 of the input's shape (any real dtype)", differentiable=False),
    ),
    hparams={"per_image": checks.boolean, "ignore_index": checks.optional_integer},
    call_kwargs=(),
    capabilities=("compile", "double_backward", "ignore_index"),
    curve=Curve("margin"),
    references=("NumPy port of Berman et al. 2018's reference (lovasz_losses.py)",),
)
def lovasz_hinge_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    per_image: bool = True,
    ignore_index: Optional[int] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary Lovász hinge loss (Berman et al. 2018) from logits.

    .. math::
        \ell = \sum_{i} \max(e_{\pi(i)}, 0)\, \big(J(i) - J(i-1)\big), \qquad
        e_s = 1 - x_s (2 t_s - 1) \text{ sorted decreasing by } \pi

    With signs :math:`\sigma = 2t - 1`, hinge errors :math:`e = 1 - x\sigma`
    are sorted in decreasing order and :math:`\max(e, 0)` is dotted with the
    increments of the Jaccard loss of the sorted labels. ``per_image=True``
    (the default, as in the reference) gives one loss per image and "mean"
    averages them; otherwise one loss for the batch. ``ignore_index``
    positions count nowhere (an all-ignored image gives 0).

    Args:
        input: logits ``(N, d1, ..., dk)`` (``(N,)`` is N one-pixel images).
        target: labels 0 / 1 of the input's shape, any real dtype (``ignore_index`` values allowed).
        per_image: one loss per image instead of one for the batch.
        ignore_index: a target value whose positions count nowhere, or None.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)`` with ``per_image``, else ``()``).

    Returns:
        A scalar, or the per-image losses with ``reduction="none"``.

    Example:
        >>> lovasz_hinge_loss(torch.tensor([[2.0, -0.5]]), torch.tensor([[1, 0]]))
        tensor(0.2500)

    Reference:
        Berman, Rannen Triki & Blaschko, "The Lovász-Softmax loss", CVPR 2018 (``lovasz_hinge``).
    """
    fn = "lovasz_hinge_loss"
    check_floating(fn, "input", input)
    if input.dim() == 0:
        raise ValueError(f"{fn}: input must have shape (N, d1, ...); got a scalar")
    x = to_compute(compute_dtype(input), input)
    labels, valid = _hinge_targets(fn, x, target, ignore_index)
    n = x.shape[0]
    s = math.prod(x.shape[1:])
    shape = (n, s) if per_image else (1, n * s)
    x, labels = x.reshape(shape), labels.reshape(shape)
    valid = valid.reshape(x.shape) if valid is not None else None
    errors = torch.relu(1.0 - x * (2.0 * labels - 1.0))
    losses = _lovasz_extension(errors, labels, valid)
    if not per_image:
        losses = losses.reshape(())
    return _per_image_reduce(losses, reduction, fn)


# ---------------------------------------------------------------------------------------------
# Dice + cross-entropy
# ---------------------------------------------------------------------------------------------


def _log_probabilities_as_logits(p: torch.Tensor) -> torch.Tensor:
    """``log p`` floored at -100 (torch's BCE floor) with zero gradient below it: logits whose softmax is p."""
    floor = math.exp(-100.0)
    above = p > floor
    return torch.where(above, torch.log(torch.where(above, p, torch.ones_like(p))), torch.full_like(p, -100.0))


def _dice_plus_ce(lambda_dice: float, dice: torch.Tensor, lambda_ce: float, ce: torch.Tensor) -> torch.Tensor:
    """``lambda_dice · dice + lambda_ce · ce``, a term weighted 0 left out.

    The cross-entropy is +inf at a logit of -inf on the target class (or +inf
    on another), and ``0 · inf`` would be NaN where the loss is the Dice term
    alone. The Dice term is bounded (finite, or NaN from a NaN input, which
    must show), so it always stays on the graph.
    """
    return lambda_dice * dice + lambda_ce * ce if lambda_ce else lambda_dice * dice


@loss(
    "dice_ce",
    family=FAMILY,
    module="DiceCELoss",
    roles=(_INPUT, _TARGET),
    hparams={
        **_OVERLAP_HPARAMS,
        "squared": checks.boolean,
        "lambda_dice": checks.non_negative,
        "lambda_ce": checks.non_negative,
        "label_smoothing": checks.unit_interval,
    },
    call_kwargs=(),
    capabilities=(*_OVERLAP_CAPABILITIES, "label_smoothing"),
    references=("MONAI DiceCELoss", "NumPy reference"),
)
def dice_ce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    activation: Optional[str] = "softmax",
    batch: bool = False,
    include_background: bool = True,
    weight: Optional[torch.Tensor] = None,
    smooth: float = 1e-5,
    squared: bool = False,
    label_smoothing: float = 0.0,
    ignore_index: Optional[int] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Dice plus cross-entropy, ``lambda_dice · dice + lambda_ce · CE`` (MONAI ``DiceCELoss``).

    .. math::
        \ell = \lambda_{\mathrm{dice}}\, \mathrm{Dice}(x, y) + \lambda_{\mathrm{ce}}\, \mathrm{CE}(x, y)

    The Dice term is :func:`dice_loss` with ``activation``, ``batch``,
    ``include_background``, ``weight``, ``smooth``, ``squared`` and
    ``ignore_index``. The cross-entropy term always runs over all C classes
    (``include_background`` applies to the Dice term only, as in MONAI) with
    the same ``weight`` and ``ignore_index`` and its own ``label_smoothing``:
    :func:`~losskit.functional.cross_entropy` of the logits with
    ``activation="softmax"``; with ``"sigmoid"`` the multi-label
    :func:`~losskit.functional.binary_cross_entropy_with_logits` of every
    channel against the one-hot (or probability) targets, ``weight`` per
    channel, averaged over the valid (position, class) entries; with ``None``
    the cross-entropy of the given probabilities (their log floored at -100
    as torch's BCE does). Both terms use ``reduction``: "mean" and "sum" as
    the two losses define them; "none" gives one loss per sample ``(N,)``,
    the sample's Dice scores averaged over its classes (weighted) plus the
    mean cross-entropy over its own valid positions (so with class weights or
    ignored positions its mean is not the batch "mean"; it needs
    ``batch=False``). A term weighted 0 is left out (not ``0 · inf``: with
    ``lambda_ce=0`` a ``-inf`` logit on the target class gives the Dice term).

    Args:
        input: logits ``(N, C, d1, ..., dk)`` (probabilities with ``activation=None``).
        target: class indices ``(N, d1, ..., dk)`` or probabilities / one-hot of the input's shape.
        lambda_dice: weight of the Dice term, ``>= 0``.
        lambda_ce: weight of the cross-entropy term, ``>= 0``.
        activation: ``"softmax"``, ``"sigmoid"`` or None.
        batch: Dice over the whole batch per class.
        include_background: False drops class 0 from the Dice term only.
        weight: per-class weights ``(C,)`` for both terms.
        smooth: Dice smoothing, ``>= 0``.
        squared: V-Net's squared Dice denominator.
        label_smoothing: cross-entropy label smoothing in [0, 1].
        ignore_index: a class-index target value whose positions count nowhere, or None.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)``).

    Returns:
        A scalar, or the per-sample losses with ``reduction="none"``.

    Example:
        >>> dice_ce_loss(torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]]), torch.tensor([[0, 1]]))
        tensor(0.0007)

    Reference:
        MONAI ``DiceCELoss``; Isensee et al., "nnU-Net", Nature Methods 2021.
    """
    fn = "dice_ce_loss"
    per_sample = reduction == "none"
    if per_sample and batch:
        raise ValueError(
            f"{fn}: reduction='none' gives one loss per sample and needs batch=False; with batch=True the Dice "
            f"term has no per-sample value — use reduction='mean' or 'sum'"
        )
    # softmax with class indices (and no label smoothing): one log_softmax for both terms, and one backward
    sums = _class_sums(
        fn,
        input,
        target,
        activation=activation,
        batch=batch,
        include_background=include_background,
        weight=weight,
        ignore_index=ignore_index,
        squared=squared,
        with_nll=activation == "softmax" and not label_smoothing,
    )
    scores = 1.0 - _ratio(2.0 * sums.inter + smooth, sums.pred + sums.truth + smooth)
    dice = _reduce_scores(scores, sums.weight, reduction, fn)
    x = to_compute(compute_dtype(input), input)
    n, c = x.shape[:2]
    s = math.prod(x.shape[2:])
    w = to_compute(x.dtype, weight) if weight is not None else None
    if per_sample:  # the (N, C') weighted scores -> each sample's weighted mean over its classes
        kept = c if include_background or c == 1 else c - 1
        total = w[c - kept :].sum() if w is not None else torch.full((), float(kept), dtype=x.dtype, device=x.device)
        dice = safe_divide(dice.sum(-1), total.expand(n))
    if sums.nll is not None:  # torch's weighted mean Σ w_y (−log p_y) / Σ w_y over the counted positions
        assert sums.labels is not None
        if w is None:
            counted = torch.ones_like(sums.nll) if sums.valid is None else sums.valid.to(x.dtype)
        else:
            counted = w[sums.labels] if sums.valid is None else w[sums.labels] * sums.valid
        nll = sums.nll if w is None else sums.nll * counted
        if per_sample:
            ce = safe_divide(nll.sum(-1), counted.sum(-1))
        elif reduction == "sum":
            ce = nll.sum()
        else:
            ce = safe_divide(nll.sum(), counted.sum())
        return _dice_plus_ce(lambda_dice, dice, lambda_ce, ce)
    if activation == "sigmoid":
        targets = _flat_targets(fn, x, target, ignore_index)
        t = targets.one_hot(c, x.dtype)
        if label_smoothing:
            t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
        bce = binary_cross_entropy_with_logits(x.reshape(n, c, s), t, reduction="none")
        mask = targets.valid.unsqueeze(1).expand(n, c, s) if targets.valid is not None else None
        cw = w.view(1, c, 1).expand(n, c, s) if w is not None else None
        if mask is not None and cw is None:
            cw = torch.ones((), dtype=x.dtype, device=x.device).expand(n, c, s)
        ce = reduce_loss(
            bce, "mean" if per_sample else reduction, weight=cw, mask=mask, dim=(1, 2) if per_sample else None, fn=fn
        )
    else:
        logits = x if activation == "softmax" else _log_probabilities_as_logits(x)
        if target.is_floating_point():
            target = to_compute(x.dtype, target)
        ce = cross_entropy(
            logits,
            target,
            weight=w,
            ignore_index=-100 if ignore_index is None else ignore_index,
            label_smoothing=float(label_smoothing),
            reduction="none" if per_sample else reduction,
        )
        if per_sample:  # torch's mean per sample: Σ loss / Σ w_y over its counted targets (/ S for probabilities)
            ce = ce.reshape(n, s).sum(-1)
            if target.is_floating_point():
                counts = torch.full((n,), float(s), dtype=x.dtype, device=x.device)
            else:
                index = target.reshape(n, s)
                valid = index != ignore_index if ignore_index is not None else torch.ones_like(index, dtype=torch.bool)
                safe = torch.where(valid, index, torch.zeros_like(index))
                counts = (w[safe] if w is not None else torch.ones_like(ce[:, None])) * valid
                counts = counts.sum(-1).to(x.dtype)
            ce = safe_divide(ce, counts)
    return _dice_plus_ce(lambda_dice, dice, lambda_ce, ce)
