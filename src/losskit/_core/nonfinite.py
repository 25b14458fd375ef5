"""Non-finite inputs around fused kernels: one cheap look at a result, the limits at ±inf, NaN put back.

torch's fused losses are fast and exact on finite inputs, but some of them
give NaN where the loss has a limit at an infinite input (``inf - inf`` in a
log-softmax whose row holds ``+inf``; ``0 · inf`` in a BCE whose target is
exactly 1), and its margin kernels drop NaN scores silently (``NaN > 0`` is
false). Rather than inspecting every input element on every call, a loss
calls the kernel, looks once at what came back — a scalar, or the sum of a
per-sample vector, read on the host — and only when that is suspect
recomputes on inputs made safe by the helpers here. On finite inputs the
look costs one host read of one number.

On accelerators that read would synchronise with the device, so there is no
look: while :func:`~losskit.set_validation` is on (the default) every result
counts as suspect and the careful path runs on every call (a few more
elementwise passes, no sync); with validation off the fused kernel's result
is kept as it is (NaN where an input is ``+inf`` and the loss has a limit).
Inside a ``torch.func`` transform nothing is read on the host either
(:func:`~losskit._core.validation.host_readable` is False there), so tensors
are treated as on an accelerator: on CPU (and on accelerators while validation
is on) the careful path runs on every call, and values and gradients keep
their limits.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Tuple, TypeVar

import torch

from .validation import data_checks_active, host_readable

_Result = TypeVar("_Result")

__all__ = ["result_suspect", "careful_at_once", "sum_not_finite", "softmax_limit_scores", "propagate_nan", "safe_sqrt"]


def result_suspect(out: torch.Tensor, reduction: str) -> bool:
    """Whether a fused kernel's loss ``out`` may be wrong: NaN anywhere, or a "mean" that is not finite.

    NaN comes from ±inf inputs (or NaN inputs, which the careful path keeps);
    a "mean" that is inf or NaN may also be torch's 0/0 or x/0 of "nothing to
    average" (losskit: 0). An infinite "sum" or "none" entry is a loss's
    right value and is kept. Reads one number on the host, and only where
    data checks run (:func:`~losskit._core.validation.data_checks_active`:
    CPU always, accelerators while validation is on, never while
    ``torch.compile`` traces).
    """
    if not data_checks_active(out):
        return False
    if not host_readable(out):  # no look without a sync: the careful path every time
        return True
    value = out.item() if out.numel() == 1 else float(out.detach().sum())
    return not math.isfinite(value) if reduction == "mean" else math.isnan(value)


def careful_at_once(tensor: torch.Tensor) -> bool:
    """True on an accelerator while validation is on: the fast result cannot be looked at without a sync, so a
    loss goes straight to its careful path instead of computing both (:func:`result_suspect` says True there)."""
    return data_checks_active(tensor) and not host_readable(tensor)


def computed_with_limits(
    compute: Callable[[bool], _Result], looked_at: Callable[[_Result], torch.Tensor], tensor: torch.Tensor
) -> _Result:
    """``compute(False)``, and ``compute(True)`` (on the limits at ±inf) instead where it is suspect.

    Suspect: the sum of ``looked_at(result)`` is not finite (:func:`sum_not_finite`, one host read). On an
    accelerator while validation is on (:func:`careful_at_once`, ``tensor`` gives the device) there is no
    look: ``compute(True)`` runs alone.
    """
    if careful_at_once(tensor):
        return compute(True)
    result = compute(False)
    return compute(True) if sum_not_finite(looked_at(result)) else result


def sum_not_finite(values: torch.Tensor) -> bool:
    """True when the sum of ``values`` is not finite (NaN or infinities in it), read on the host once.

    One reduction over ``values``; a caller that finds True looks closer
    (infinities without NaN also make the sum non-finite). False where data
    checks do not run, and True without a look on accelerators (see :func:`result_suspect`).
    """
    if not data_checks_active(values) or values.numel() == 0:
        return False
    if not host_readable(values):
        return True
    return not math.isfinite(float(values.detach().sum()))


class _LimitScores(torch.autograd.Function):
    """Rows with ``+inf`` become their softmax limit; the gradient passes through unchanged (see below).

    Written with ``setup_context`` (nothing to save) and a generated vmap rule, so it runs under torch.func
    transforms too (``grad``, ``jacrev``, ``vmap``); the identity backward is differentiable as it is.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, cdim: int) -> torch.Tensor:
        positive_inf = scores == math.inf
        rows = positive_inf.any(cdim, keepdim=True) & ~torch.isnan(scores).any(cdim, keepdim=True)
        zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
        limit = torch.where(positive_inf, zero, torch.full((), -math.inf, dtype=scores.dtype, device=scores.device))
        return torch.where(rows, limit, scores)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def softmax_limit_scores(scores: torch.Tensor, cdim: int) -> torch.Tensor:
    """Scores whose softmax is the limit of ``softmax(x)`` where a row holds ``+inf``.

    In such a row the ``+inf`` classes share all the probability (one ``+inf``
    takes it all; several — a limit that depends on how they grow — share it
    equally, the convention of equal scores) and every other class gets 0:
    the row becomes 0 at ``+inf`` and ``-inf`` elsewhere, on which softmax,
    log-softmax and log-sum-exp are exact. Rows without ``+inf`` (``-inf``
    entries are already exact) and rows holding NaN (which must stay NaN)
    are unchanged. The gradient passes through as the identity, so a loss
    computed on these scores has the limit of its gradient (``p - onehot``
    for cross-entropy).
    """
    return _LimitScores.apply(scores, cdim)


def propagate_nan(loss: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """Put back NaN that a kernel dropped: ``loss`` becomes NaN where its row of ``input`` holds NaN.

    For kernels that compare with ``> 0`` (torch's margin losses), which
    silently drop NaN scores. ``loss`` is a scalar (any NaN in ``input`` makes
    it NaN) or one value per row of ``input``'s last dimension. Only NaN is
    put back — an infinite score is a valid input with a well-defined loss, so
    ``inf * 0`` must not turn it into NaN — and the NaN-carrying term is
    detached: it changes no gradient. The common, NaN-free case costs one sum
    over ``input`` and one host read (:func:`sum_not_finite`); on accelerators and where data checks do not
    run, every call takes the exact path (a few elementwise passes, no host read).
    """
    if (
        data_checks_active(input)
        and host_readable(input)
        and (input.numel() == 0 or math.isfinite(float(input.detach().sum())))
    ):
        return loss
    nan = torch.isnan(input.detach())
    nan = nan.any(-1) if loss.dim() else nan.any()
    return loss + torch.where(nan, float("nan"), 0.0).to(loss.dtype)


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(max(x, 0))`` whose gradient is 0 (a subgradient), not inf, where ``x <= 0``; NaN passes through.

    For distances from squared distances (the same embedding twice) and roots of pooled squares (rmse of
    a perfect prediction): sqrt's derivative at 0 is infinite, and times a zero upstream gradient NaN.
    """
    zero = x <= 0
    root = torch.sqrt(torch.where(zero, torch.ones_like(x), x))
    return torch.where(zero, torch.zeros_like(x), root)
