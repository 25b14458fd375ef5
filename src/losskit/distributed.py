"""Global batches over ``torch.distributed``: an all-gather that carries gradients, and the reductions that go with it.

Losses whose value depends on the whole batch (InfoNCE, SupCon, triplet
mining, circle, contrastive) take ``gather=True`` (DESIGN §8). Each rank then

1. gathers every rank's embeddings (and labels) with :func:`all_gather_with_grad`
   — batch sizes may differ between ranks — so its *local* anchors are
   compared against the *global* batch;
2. reduces its local anchors' losses with :func:`global_reduce`, which returns
   the loss of the global batch (the same number on every rank, equal to one
   process computing on the concatenated batch) while its gradient is scaled
   so that DistributedDataParallel's average of the ranks' parameter
   gradients equals the single-process gradient.

Why the scaling is right: with R ranks, rank ``r``'s gradient-carrying term
is ``R · (its anchors' share of the global reduction)``; the gather's
backward sums the ranks' gradients for each sample and hands them to the rank
that owns it, so the sum over ranks of the terms is ``R ·`` the global loss,
and DDP divides by R.

Without an initialised process group (or with one process) ``gather=True``
is a documented no-op: the global batch is the local batch, and the loss is
exactly the ``gather=False`` loss. The same training script then runs on one
process and on many.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch

__all__ = ["is_distributed", "world_size", "rank", "all_gather_with_grad", "all_gather_no_grad", "global_reduce"]


def is_distributed() -> bool:
    """True when ``torch.distributed`` has an initialised process group with more than one rank."""
    dist = torch.distributed
    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def world_size() -> int:
    return torch.distributed.get_world_size() if is_distributed() else 1


def rank() -> int:
    return torch.distributed.get_rank() if is_distributed() else 0


def _sizes(n: int, device: torch.device) -> List[int]:
    """Every rank's batch size (one small all-gather)."""
    dist = torch.distributed
    mine = torch.tensor([n], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, mine)
    return [int(s) for s in sizes]


def _gather_padded(x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """Concatenate every rank's ``x`` along dim 0; ranks with fewer rows are padded for the collective and cut after."""
    dist = torch.distributed
    longest = max(sizes)
    padded = x
    if x.shape[0] < longest:
        padded = torch.cat([x, x.new_zeros((longest - x.shape[0], *x.shape[1:]))])
    padded = padded.contiguous()
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every rank's gradient and returns this rank's rows."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
        ctx.sizes = sizes
        ctx.rank = torch.distributed.get_rank()
        return _gather_padded(x, sizes)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        grad = grad.contiguous().clone()
        torch.distributed.all_reduce(grad, op=torch.distributed.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


def all_gather_with_grad(x: torch.Tensor, sizes: Optional[List[int]] = None) -> Tuple[torch.Tensor, int, List[int]]:
    """Every rank's ``x`` concatenated along dim 0, differentiable; batch sizes may differ between ranks.

    Returns ``(global tensor, offset of this rank's rows in it, every rank's size)``.
    Without a process group (or with one rank) it returns ``(x, 0, [len(x)])``.

    The backward is a collective (an all-reduce of the gradient): every rank
    must run it, which it does when each rank's loss depends on the gathered
    tensor (losskit's losses always keep it on the graph, also when nothing
    counts).
    """
    if not is_distributed():
        return x, 0, [x.shape[0]]
    if sizes is None:
        sizes = _sizes(x.shape[0], x.device)
    offset = sum(sizes[: torch.distributed.get_rank()])
    return _AllGatherWithGrad.apply(x, sizes), offset, sizes


def all_gather_no_grad(x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """Every rank's ``x`` (labels, masks) concatenated along dim 0, without gradient."""
    if not is_distributed():
        return x
    return _gather_padded(x.detach(), sizes)


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    out = t.detach().clone().contiguous()
    torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
    return out


def global_reduce(total: torch.Tensor, count: Optional[torch.Tensor], gathered: bool) -> torch.Tensor:
    """The global batch's ``total / count`` (``count`` None: the global ``total``), with DDP-consistent gradients.

    ``total`` is the differentiable sum of this rank's anchors' losses and
    ``count`` (no gradient) how many of them count towards the mean. Without
    ``gathered`` this is the plain (safe) quotient: 0 on the graph when nothing
    counts. With it, the value is the global quotient on every rank and the
    gradient is that of ``world_size · total / global count`` (see the module
    docstring).
    """
    from ._core.reduction import safe_divide

    if not (gathered and is_distributed()):
        return total if count is None else safe_divide(total, count.to(total.dtype))
    r = world_size()
    global_total = _all_reduce_sum(total)
    if count is None:
        carried = r * total
        value = global_total
    else:
        global_count = _all_reduce_sum(count.to(total.dtype))
        carried = safe_divide(r * total, global_count)
        value = safe_divide(global_total, global_count)
    return carried + (value - carried).detach()
