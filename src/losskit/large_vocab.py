"""Large-vocabulary losses: cross-entropy fused with the output projection.

Language models end with ``logits = hidden @ weight.T`` over vocabularies of
32k–256k tokens; for N tokens those logits (and their gradient) take
``2·N·V`` floats — gigabytes. :func:`linear_cross_entropy` computes the loss
and all gradients chunk by chunk over the rows, so only a ``(chunk, V)`` block
ever exists.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._core import checks
from ._core.spec import Curve, Role, loss
from ._core.targets import class_index_target
from ._core.validation import (
    check_floating,
    compute_dtype,
    fmt_shape,
)

__all__ = ["linear_cross_entropy", "auto_chunk_size"]

#: bytes of float32 logits one chunk may hold when ``chunk_size`` is automatic
_CHUNK_BYTES = 16 * 2**20


def auto_chunk_size(num_rows: int, vocab: int) -> int:
    """Rows per chunk so that one chunk of float32 logits is about 16 MiB (at least 8 rows)."""
    return max(8, min(max(num_rows, 1), _CHUNK_BYTES // (4 * max(vocab, 1))))


def _chunk_logit_grad(h, weight, bias, target, valid, ls, softcap, z_loss, row_scale):
    """Loss per row and d(loss)/d(logits) for one chunk, in the compute dtype.

    ``row_scale`` (per row) multiplies the gradient: the reduction's factor
    and, in the recomputing backward of ``reduction="none"``, ``grad_output``.
    """
    raw = h @ weight.T
    if bias is not None:
        raw = raw + bias
    logits = softcap * torch.tanh(raw / softcap) if softcap else raw
    vocab = logits.shape[1]
    lse = torch.logsumexp(logits, dim=1)
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    target_logit = logits.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    loss = lse - (1.0 - ls) * target_logit
    if ls:
        loss = loss - (ls / vocab) * logits.sum(1)
    if z_loss:
        loss = loss + z_loss * lse.square()
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    # d loss / d logits = softmax · (1 + 2 z lse) − (1 − ls) one_hot − ls / V, scaled per row
    grad = torch.exp(logits - lse.unsqueeze(1))
    row = row_scale * valid.to(grad.dtype)
    factor = (row * (1.0 + 2.0 * z_loss * lse) if z_loss else row).unsqueeze(1)
    one_hot = (-(1.0 - ls) * row).unsqueeze(1)
    if torch.is_grad_enabled():
        # building the graph of a double backward (create_graph=True): the same maths, out of place
        grad = grad * factor
        if ls:
            grad = grad - (ls / vocab) * row.unsqueeze(1)
        grad = grad.scatter_add(1, safe_target.unsqueeze(1), one_hot)
        if softcap:
            grad = grad * (1.0 - (logits / softcap).square())
        return loss, lse, grad
    grad.mul_(factor)
    if ls:
        grad.sub_((ls / vocab) * row.unsqueeze(1))
    grad.scatter_add_(1, safe_target.unsqueeze(1), one_hot)
    if softcap:
        grad.mul_(1.0 - (logits / softcap).square())  # through softcap·tanh(raw / softcap)
    return loss, lse, grad


def _differentiable_backward(ctx, hidden, weight, bias, target, valid, grad_output):
    """The backward under ``create_graph=True``: the gradients as differentiable functions of the inputs.

    The chunks are recomputed from the original inputs (saved by the forward) with out-of-place
    operations, so autograd records them and a second derivative — a gradient penalty, a Hessian-vector
    product — is exact. The recorded graph holds every chunk's ``(chunk, V)`` blocks: memory is that of
    the unfused loss here, and only here.
    """
    h_dtype, w_dtype, b_dtype = ctx.dtypes
    ls, softcap, z_loss = ctx.options
    dtype = compute_dtype(hidden, weight)
    h, w = hidden.to(dtype), weight.to(dtype)
    b = bias.to(dtype) if bias is not None else None
    go = grad_output.to(dtype)
    row_scale = go if ctx.reduction == "none" else go * ctx.scale
    grad_h_chunks, grad_w, grad_b = [], torch.zeros_like(w), torch.zeros_like(b) if b is not None else None
    for start in range(0, h.shape[0], ctx.chunk_size):
        stop = min(start + ctx.chunk_size, h.shape[0])
        rows = row_scale[start:stop] if row_scale.dim() else row_scale
        _, _, grad = _chunk_logit_grad(
            h[start:stop], w, b, target[start:stop], valid[start:stop], ls, softcap, z_loss, rows
        )
        grad_h_chunks.append(grad @ w)
        grad_w = grad_w + grad.T @ h[start:stop]
        if grad_b is not None:
            grad_b = grad_b + grad.sum(0)
    needs = ctx.needs_input_grad
    return (
        torch.cat(grad_h_chunks).to(h_dtype) if needs[0] else None,
        grad_w.to(w_dtype) if needs[1] else None,
        grad_b.to(b_dtype) if grad_b is not None and needs[2] else None,
    )


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, target, ignore_index, ls, softcap, z_loss, reduction, chunk_size):
        dtype = compute_dtype(hidden, weight)
        h_c, w_c = hidden.to(dtype), weight.to(dtype)
        b_c = bias.to(dtype) if bias is not None else None
        n = hidden.shape[0]
        valid = target != ignore_index
        per_row = torch.zeros(n, dtype=dtype, device=hidden.device)
        if reduction == "mean":
            scale = 1.0 / valid.sum().clamp_min(1).to(dtype)
        else:
            scale = torch.ones((), dtype=dtype, device=hidden.device)
        eager_grads = reduction != "none" and any(ctx.needs_input_grad[:3])
        grad_h = torch.zeros_like(h_c) if eager_grads else None
        grad_w = torch.zeros_like(w_c) if eager_grads else None
        grad_b = torch.zeros_like(b_c) if eager_grads and b_c is not None else None
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            loss, _, grad = _chunk_logit_grad(
                h_c[start:stop], w_c, b_c, target[start:stop], valid[start:stop], ls, softcap, z_loss, scale
            )
            per_row[start:stop] = loss
            if eager_grads:
                grad_h[start:stop] = grad @ w_c
                grad_w.addmm_(grad.T, h_c[start:stop])
                if grad_b is not None:
                    grad_b.add_(grad.sum(0))
        ctx.reduction, ctx.chunk_size = reduction, chunk_size
        ctx.options = (ls, softcap, z_loss)
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype if bias is not None else None)
        ctx.has_bias = bias is not None
        ctx.scale = scale
        # the original inputs (references, not copies): a backward under create_graph recomputes from them
        inputs = (hidden, weight, bias if bias is not None else torch.empty(0), target, valid)
        if reduction == "none":
            # the per-row grad_output is unknown until backward: recompute chunk by chunk there
            ctx.save_for_backward(*inputs)
            return per_row
        ctx.save_for_backward(*inputs, *(g if g is not None else torch.empty(0) for g in (grad_h, grad_w, grad_b)))
        total = per_row.sum()
        return total * scale if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output):
        h_dtype, w_dtype, b_dtype = ctx.dtypes
        hidden, weight, bias, target, valid, *grads = ctx.saved_tensors
        bias = bias if ctx.has_bias else None
        if torch.is_grad_enabled():  # create_graph=True: differentiable gradients, for an exact double backward
            return (*_differentiable_backward(ctx, hidden, weight, bias, target, valid, grad_output), *(None,) * 7)
        if ctx.reduction != "none":
            grad_h, grad_w, grad_b = grads
            go = grad_output.to(grad_h.dtype) if grad_h.numel() else grad_output
            out_h = (grad_h * go).to(h_dtype) if ctx.needs_input_grad[0] else None
            out_w = (grad_w * go).to(w_dtype) if ctx.needs_input_grad[1] else None
            out_b = (grad_b * go).to(b_dtype) if ctx.has_bias and ctx.needs_input_grad[2] else None
            return out_h, out_w, out_b, None, None, None, None, None, None, None
        dtype = compute_dtype(hidden, weight)
        h_c, w_c = hidden.to(dtype), weight.to(dtype)
        b_c = bias.to(dtype) if bias is not None else None
        ls, softcap, z_loss = ctx.options
        go = grad_output.to(h_c.dtype)
        grad_h, grad_w = torch.zeros_like(h_c), torch.zeros_like(w_c)
        grad_b = torch.zeros_like(b_c) if b_c is not None else None
        for start in range(0, h_c.shape[0], ctx.chunk_size):
            stop = min(start + ctx.chunk_size, h_c.shape[0])
            _, _, grad = _chunk_logit_grad(
                h_c[start:stop], w_c, b_c, target[start:stop], valid[start:stop], ls, softcap, z_loss, go[start:stop]
            )
            grad_h[start:stop] = grad @ w_c
            grad_w.addmm_(grad.T, h_c[start:stop])
            if grad_b is not None:
                grad_b.add_(grad.sum(0))
        return (
            grad_h.to(h_dtype),
            grad_w.to(w_dtype),
            grad_b.to(b_dtype) if grad_b is not None else None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )


def _check_chunk_size(fn: str, name: str, chunk_size: object) -> None:
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"{fn}: {name} must be a positive integer or None; got {chunk_size!r}")


@loss(
    "linear_cross_entropy",
    family="large_vocab",
    module="LinearCrossEntropyLoss",
    aliases=("fused_linear_cross_entropy",),
    roles=(Role("hidden", "(N, H)"), Role("weight", "(V, H)"), Role("target", "(N,)", differentiable=False)),
    hparams={
        "ignore_index": checks.integer,
        "label_smoothing": checks.unit_interval,
        "chunk_size": checks.custom(_check_chunk_size, "a positive integer, or None (automatic)"),
        "softcap": checks.optional_positive,
        "z_loss": checks.non_negative,
    },
    call_kwargs=("bias",),
    capabilities=("compile", "double_backward", "index_targets", "ignore_index", "label_smoothing"),
    references=("torch.nn.functional.cross_entropy(hidden @ weight.T + bias)",),
    curve=Curve("probability"),
)
def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    chunk_size: Optional[int] = None,
    softcap: Optional[float] = None,
    z_loss: float = 0.0,
) -> torch.Tensor:
    r"""Cross-entropy of a linear projection, without materialising the ``(N, V)`` logits.

    With :math:`z = h W^\top + b`, optionally soft-capped :math:`z \leftarrow c \tanh(z / c)`
    (Gemma 2), and :math:`\operatorname{lse}_i = \log\sum_v e^{z_{i,v}}`:

    .. math::
        \ell_i = \operatorname{lse}_i - (1-\varepsilon)\, z_{i,y_i} - \frac{\varepsilon}{V}\sum_v z_{i,v}
                 + \lambda\, \operatorname{lse}_i^2

    — torch's label-smoothed cross-entropy plus PaLM's z-loss, **added** to
    each token's loss (coefficient :math:`\lambda`, typically 1e-4) and
    reduced with it. Ignored tokens contribute 0; ``"mean"`` divides by the
    number of tokens that count (0 when none do).

    The rows are processed in chunks: each chunk's logits, log-sum-exp and
    logit gradient are computed in the forward pass and folded straight into
    ``grad_hidden``, ``grad_weight`` and ``grad_bias`` (a custom autograd
    Function), so peak extra memory is one ``(chunk, V)`` block plus the
    gradients' own size. With ``reduction="none"`` the per-token
    ``grad_output`` is only known in backward, which then recomputes the
    chunks from the saved inputs (one more pass, same memory). float16 and
    bfloat16 inputs are accumulated in float32; the loss is float32 and the
    gradients come back in the inputs' dtypes. Twice differentiable: under
    ``create_graph=True`` the backward recomputes the chunks with out-of-place
    operations from the inputs, so second derivatives are exact (that graph
    keeps every chunk's logits: memory is then that of the unfused loss).

    Args:
        hidden: final hidden states ``(N, H)``.
        weight: output projection ``(V, H)`` (e.g. the tied embedding matrix).
        target: token ids ``(N,)``, integer.
        bias: optional ``(V,)``.
        ignore_index: token id that contributes nothing (padding).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        chunk_size: rows per chunk; default keeps a chunk's float32 logits near 16 MiB.
        softcap: :math:`c > 0` for ``c·tanh(z/c)`` logit capping, or None.
        z_loss: :math:`\lambda \ge 0`.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> h, w = torch.eye(2), torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        >>> linear_cross_entropy(h, w, torch.tensor([0, 1]))
        tensor(0.6691)

    Reference:
        ``torch.nn.functional.cross_entropy(hidden @ weight.T + bias, target)``;
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models",
        2024; Chowdhery et al., "PaLM", 2022 (z-loss); Gemma Team, "Gemma 2", 2024 (soft-capping).
    """
    fn = "linear_cross_entropy"
    check_floating(fn, "hidden", hidden)
    check_floating(fn, "weight", weight)
    if hidden.dim() != 2:
        raise ValueError(
            f"{fn}: hidden must be (N, H); got {fmt_shape(hidden.shape)} — flatten the batch and time dimensions first"
        )
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(
            f"{fn}: weight must be (V, {hidden.shape[1]}) to match hidden (N, {hidden.shape[1]}); got {fmt_shape(weight.shape)}"
        )
    if bias is not None:
        check_floating(fn, "bias", bias)
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"{fn}: bias must be ({weight.shape[0]},); got {fmt_shape(bias.shape)}")
    if weight.shape[0] == 0:
        raise ValueError(
            f"{fn}: weight must have at least one row (a vocabulary of V >= 1); got {fmt_shape(weight.shape)}"
        )
    # target layout, range and int64 cast: the checks of a (N, V) cross-entropy, without building its input
    target, _ = class_index_target(
        fn, torch.empty((hidden.shape[0], weight.shape[0]), device="meta"), target, ignore_index=ignore_index
    )
    if hidden.shape[0] == 0:  # nothing to average: 0 (or an empty (0,)), still on the graph
        dtype = compute_dtype(hidden, weight)
        per_row = hidden.to(dtype).sum(1) * 0.0 + weight.to(dtype).sum() * 0.0
        return per_row if reduction == "none" else per_row.sum()
    chunk = chunk_size or auto_chunk_size(hidden.shape[0], weight.shape[0])
    return _LinearCrossEntropy.apply(
        hidden,
        weight,
        bias,
        target,
        ignore_index,
        float(label_smoothing),
        float(softcap) if softcap else None,
        float(z_loss),
        reduction,
        chunk,
    )
