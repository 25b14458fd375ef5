"""The one place reductions happen.

Every functional builds its unreduced loss and returns
``reduce_loss(loss, reduction, ...)``. Rules (DESIGN §3):

* ``"none"`` returns the unreduced tensor (with ``mask``, masked entries are 0).
* ``"sum"`` is the plain sum (of ``weight * loss`` when weighted).
* ``"mean"`` is the plain mean, or with ``weight`` / ``mask`` the weighted mean
  ``Σ w·l / Σ w`` over the entries that count — torch's semantics for class
  weights and ``ignore_index``.
* ``"batchmean"`` (KL-type losses) is the sum divided by the batch size.
* When nothing counts (an empty batch, every target ignored, all weights zero)
  the mean is **0, not NaN**, and it stays on the autograd graph, so
  ``backward()`` runs and yields zero gradients.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Sequence, Union

import torch

from .validation import _is_compiling, check_broadcastable_to, host_readable

__all__ = ["reduce_loss", "zero_loss", "safe_divide", "fused_or_reduce", "fast_or_exact"]


def zero_loss(loss: torch.Tensor) -> torch.Tensor:
    """A scalar 0 that is still connected to ``loss``'s graph."""
    return loss.sum() * 0.0


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator``, and 0 (still on the graph) where the denominator is 0.

    Used for means over "what counts": a zero denominator means nothing
    counted, and the mean of nothing is 0 (DESIGN §3). The numerator is *not*
    assumed to be 0 there — a label-smoothed cross-entropy whose counted
    targets all have class weight 0 has a non-zero numerator over a zero
    denominator — so the result is ``numerator * 0``, which keeps NaN in the
    numerator and gives zero gradients. Dividing by 1 in the masked branch
    (instead of masking a 0/0 afterwards) keeps the gradient finite.
    """
    empty = denominator == 0
    quotient = numerator / torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, numerator * 0.0, quotient)


def reduce_loss(
    loss: torch.Tensor,
    reduction: str = "mean",
    *,
    weight: Optional[torch.Tensor] = None,
    mask: Optional[torch.Tensor] = None,
    batch_size: Optional[int] = None,
    dim: Union[None, int, Sequence[int]] = None,
    fn: str = "reduce_loss",
) -> torch.Tensor:
    """Reduce an unreduced loss tensor.

    Args:
        loss: the unreduced loss, any shape.
        reduction: ``"mean"``, ``"sum"``, ``"none"`` or ``"batchmean"``.
        weight: optional weights broadcastable to ``loss`` (per-element sample
            weights, or per-sample class weights ``w[y_i]``); ``"mean"`` becomes
            ``Σ w·l / Σ w``.
        mask: optional boolean tensor of ``loss``'s shape; False entries do not
            count (their loss is replaced by 0 — so NaN there does not leak).
        batch_size: divisor for ``"batchmean"`` (default ``loss.shape[0]``).
        dim: reduce only over these dimensions (per-sample or per-class
            results: the segmentation scores, the per-sample sums of a
            metric-learning loss); the others are kept. ``None`` reduces
            everything to a scalar.
        fn: the calling function's name, for error messages.

    Returns:
        The reduced loss (a scalar, or the kept dimensions with ``dim``), or
        ``loss`` itself for ``"none"``.

    Example:
        >>> reduce_loss(torch.tensor([[1.0, 3.0], [2.0, 2.0]]), "mean", dim=1)
        tensor([2., 2.])
        >>> reduce_loss(torch.tensor([1.0, 3.0]), "mean", weight=torch.tensor([0.0, 0.0]))
        tensor(0.)
    """
    if weight is not None:
        check_broadcastable_to(fn, "sample_weight", weight, loss.shape)
    if mask is not None:
        loss = torch.where(mask, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if weight is not None:
        weight = weight.to(loss.dtype)
        if mask is not None:
            weight = weight * mask
        loss = loss * weight

    if reduction == "none":
        return loss
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if reduction == "sum":
            return loss.sum(dims)
        if reduction == "mean":
            if weight is not None:
                counts = torch.broadcast_to(weight, loss.shape).sum(dims)
            elif mask is not None:
                counts = mask.sum(dims).to(loss.dtype)
            else:
                counts = torch.full((), math.prod(loss.shape[d] for d in dims), dtype=loss.dtype, device=loss.device)
            return safe_divide(loss.sum(dims), counts)
        raise ValueError(f"{fn}: reduction {reduction!r} cannot be combined with dim; expected 'mean', 'sum' or 'none'")
    if reduction == "sum":
        return loss.sum()
    if reduction == "batchmean":
        n = batch_size if batch_size is not None else (loss.shape[0] if loss.dim() > 0 else 1)
        return loss.sum() / n if n > 0 else zero_loss(loss)
    if reduction == "mean":
        if weight is not None:
            denominator = torch.broadcast_to(weight, loss.shape).sum()
            return safe_divide(loss.sum(), denominator)
        if mask is not None:
            return safe_divide(loss.sum(), mask.sum().to(loss.dtype))
        if loss.numel() == 0:
            return zero_loss(loss)
        return loss.mean()
    raise ValueError(f"{fn}: invalid reduction {reduction!r}; expected one of 'mean', 'sum', 'none'")


def fused_or_reduce(
    torch_fn: Callable[..., torch.Tensor],
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    *,
    sample_weight: Optional[torch.Tensor] = None,
    fn: str,
    **kwargs: Any,
) -> torch.Tensor:
    """Call torch's fused loss with its own reduction where that is exact.

    torch's kernels reduce in the same pass, so the common case costs nothing
    over ``torch.nn.functional``. Sample weights and empty inputs go through
    :func:`reduce_loss`: torch's "mean" of nothing is NaN (losskit: 0), and
    some of its kernels return uninitialised memory for an empty "sum".
    """
    if sample_weight is None and input.numel() > 0:
        return torch_fn(input, target, reduction=reduction, **kwargs)
    return reduce_loss(torch_fn(input, target, reduction="none", **kwargs), reduction, weight=sample_weight, fn=fn)


def fast_or_exact(
    input: torch.Tensor,
    fast: Callable[[], torch.Tensor],
    exact: Callable[[], torch.Tensor],
    redo_where: Callable[[torch.Tensor], torch.Tensor] = torch.isnan,
) -> torch.Tensor:
    """``fast()`` (torch's kernel, or the plain formula), or ``exact()`` where ``redo_where`` flags its result.

    Some of torch's kernels and formulas give NaN at an infinite input where the loss has a limit
    (``0 · (-inf)``, ``inf - inf``: ``redo_where=torch.isnan``), or an infinite value whose gradient is
    NaN (∞/∞: ``torch.isinf``). ``exact()`` computes the limits with extra elementwise passes that
    would slow every call down by 2-4×. On CPU the fast result is read once (``any()`` of the flag:
    no sync to speak of) and ``exact()`` runs only when it is flagged — a genuine NaN input then
    comes out of ``exact()`` as NaN too. On accelerators (where that read would synchronise with the
    host) and under ``torch.compile`` (no data-dependent branch; the compiler fuses the passes
    anyway) ``exact()`` runs alone: choosing with ``torch.where`` would not do, because the unchosen
    side's backward still multiplies its zero gradient by an infinite derivative (0 · ∞ = NaN).
    ``input`` gives the device.
    """
    if _is_compiling() or not host_readable(input):
        return exact()
    out = fast()
    scalar_test = _SCALAR_TESTS.get(redo_where) if out.dim() == 0 else None
    # a reduced result is tested as a Python float (one read, where isnan + any + read are three dispatches)
    flagged = scalar_test(out.item()) if scalar_test is not None else bool(redo_where(out).any())
    return exact() if flagged else out


#: the flags of fast_or_exact, as tests of one Python float
_SCALAR_TESTS: Dict[Callable[..., Any], Callable[[float], bool]] = {torch.isnan: math.isnan, torch.isinf: math.isinf}
