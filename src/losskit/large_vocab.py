"""Large-vocabulary losses: cross-entropy fused with the output projection.

Language models end with ``logits = input @ linear_weight.T`` over
vocabularies of 32k–256k tokens; for N tokens those logits (and their
gradient) take ``2·N·V`` floats — gigabytes. :func:`linear_cross_entropy`
computes the loss and all gradients chunk by chunk over the rows, so only one
``(chunk, V)`` block ever exists. Its signature is torch 2.13's
``torch.nn.functional.linear_cross_entropy`` (and :class:`LinearCrossEntropyLoss`
is torch's ``nn.LinearCrossEntropyLoss``, owning its projection), with
losskit's ``chunk_size``, ``softcap`` and ``z_loss`` as further keywords.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._core import checks
from ._core.module import Loss
from ._core.reduction import safe_divide
from ._core.spec import Curve, Role, loss, module_for
from ._core.targets import class_index_target
from ._core.validation import (
    check_class_weight,
    check_floating,
    compute_dtype,
    fmt_shape,
    functorch_transforms_active,
)

__all__ = ["linear_cross_entropy", "auto_chunk_size", "LinearCrossEntropyLoss"]

#: bytes of float32 logits one chunk may hold at least, when ``chunk_size`` is automatic
_CHUNK_BYTES = 16 * 2**20


def auto_chunk_size(num_rows: int, vocab: int, hidden: Optional[int] = None) -> int:
    """Rows per chunk when ``chunk_size`` is automatic (at least 8, at most ``num_rows``).

    Every chunk reads the ``(V, H)`` weight twice (the logits and the input gradient) and reads
    and writes the ``(V, H)`` weight gradient once, whatever its row count, while its own work
    grows with its rows: with fewer than about ``H`` rows that weight traffic, not the matrix
    products, sets the time (64 rows took 1.4x the naive path's time at H = 256, V = 65536;
    256 rows 0.75-0.95x). So a chunk takes ``3H/4`` rows — its float32 logits are then
    three quarters of the weight gradient, which exists anyway — and at least 16 MiB of logits.
    """
    rows = _CHUNK_BYTES // (4 * max(vocab, 1))
    if hidden:
        rows = max(rows, (3 * hidden) // 4)
    return max(8, min(max(num_rows, 1), rows))


class _Rows:
    """Per-row facts of the whole batch, computed once: targets, what counts and class weights."""

    def __init__(self, target: torch.Tensor, ignore_index: int, class_weight: Optional[torch.Tensor], dtype):
        valid = target != ignore_index
        self.target = torch.where(valid, target, torch.zeros_like(target))  # safe as an index
        self.valid = valid.to(dtype)
        self.class_weight = class_weight
        # w[y_i] on the rows that count, 0 elsewhere; the "mean" divides by its sum (torch's weighted mean)
        self.row_weight = self.valid if class_weight is None else self.valid * class_weight[self.target]
        self.class_weight_sum: Union[float, torch.Tensor] = 0.0 if class_weight is None else class_weight.sum()

    def coefficient(self, rows: slice, ls: float, vocab: int) -> torch.Tensor:
        """``a_i``: the factor of ``lse_i`` in the loss, ``(1-ε) w_{y_i} + ε/V Σ_c w_c`` on rows that count."""
        total = vocab if self.class_weight is None else self.class_weight_sum
        a = self.row_weight[rows]
        if ls:
            a = (1.0 - ls) * a + (ls / vocab) * total * self.valid[rows]
        return a


def _chunk_fast(h, w, b, rows: _Rows, sl: slice, ls, softcap, z_loss, row_scale, want_grad):
    """Loss per row and (``want_grad``) d(loss)/d(logits)·row_scale for one chunk, in one ``(chunk, V)`` block.

    Everything happens in place in the block that holds the logits: the exponentials,
    the softmax, the gradient. Only soft-capping keeps a second block (the tanh values,
    for the chain rule).
    """
    z = torch.addmm(b, h, w.T) if b is not None else h @ w.T
    vocab = z.shape[1]
    target = rows.target[sl]
    cw = rows.class_weight
    capped = None
    if softcap:
        z.div_(softcap).tanh_()
        if want_grad:
            capped = z.clone()
        z.mul_(softcap)
    z_target = z.gather(1, target.unsqueeze(1)).squeeze(1)
    z_smooth = (z @ cw if cw is not None else z.sum(1)) if ls else z_target
    m = z.amax(1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # a row of infinities: keep its inf/NaN
    z.sub_(m).exp_()
    s = z.sum(1)
    m = m.squeeze(1)
    log_s = s.log()
    lse = m + log_s
    rw, valid = rows.row_weight[sl], rows.valid[sl]
    a = rows.coefficient(sl, ls, vocab)
    # lse·a − (1−ε) w_y z_y − ε/V Σ w_c z_c, written around the row maximum m so no large terms cancel
    loss = a * log_s + (1.0 - ls) * rw * (m - z_target)
    if ls:
        total = vocab if cw is None else rows.class_weight_sum
        loss = loss + (ls / vocab) * valid * (total * m - z_smooth)
    if z_loss:
        loss = loss + z_loss * rw * lse.square()
    loss = torch.where(valid > 0, loss, torch.zeros_like(loss))
    if not want_grad:
        return loss, None
    factor = a + (2.0 * z_loss) * rw * lse if z_loss else a
    z.mul_((row_scale * factor / s).unsqueeze(1))  # softmax · factor · row_scale
    if ls:
        smooth = (ls / vocab) * row_scale * valid
        if cw is not None:
            z.addr_(smooth, cw, alpha=-1.0)
        else:
            z.sub_(smooth.unsqueeze(1))
    one_hot = -(1.0 - ls) * rw * row_scale
    z.scatter_add_(1, target.unsqueeze(1), one_hot.unsqueeze(1))
    if capped is not None:
        z.mul_(capped.square_().neg_().add_(1.0))  # through softcap·tanh(raw / softcap)
    return loss, z


def _chunk_graph(h, w, b, rows: _Rows, sl: slice, ls, softcap, z_loss, row_scale):
    """d(loss)/d(logits)·row_scale for one chunk, out of place: autograd records it (double backward)."""
    raw = h @ w.T
    if b is not None:
        raw = raw + b
    logits = softcap * torch.tanh(raw / softcap) if softcap else raw
    vocab = logits.shape[1]
    lse = torch.logsumexp(logits, dim=1)
    rw, valid = rows.row_weight[sl], rows.valid[sl]
    a = rows.coefficient(sl, ls, vocab)
    factor = a + (2.0 * z_loss) * rw * lse if z_loss else a
    grad = torch.exp(logits - lse.unsqueeze(1)) * (row_scale * factor).unsqueeze(1)
    if ls:
        smooth = ((ls / vocab) * row_scale * valid).unsqueeze(1)
        grad = grad - (smooth * rows.class_weight if rows.class_weight is not None else smooth)
    one_hot = (-(1.0 - ls) * rw * row_scale).unsqueeze(1)
    grad = grad.scatter_add(1, rows.target[sl].unsqueeze(1), one_hot)
    if softcap:
        grad = grad * (1.0 - (logits / softcap).square())
    return grad


def _accumulate(h, w, b, rows, ls, softcap, z_loss, chunk_size, row_scale, needs, graph):
    """grad_input, grad_linear_weight, grad_linear_bias (those ``needs`` asks for), chunk by chunk."""
    n = h.shape[0]
    grad_h = (torch.empty_like(h) if not graph else []) if needs[0] else None
    grad_w = torch.zeros_like(w) if needs[1] else None
    grad_b = torch.zeros_like(b) if needs[2] and b is not None else None
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        scale = row_scale[sl] if row_scale.dim() else row_scale
        if graph:
            grad = _chunk_graph(h[sl], w, b, rows, sl, ls, softcap, z_loss, scale)
        else:
            _, grad = _chunk_fast(h[sl], w, b, rows, sl, ls, softcap, z_loss, scale, True)
        if grad_h is not None:
            if graph:
                grad_h.append(grad @ w)
            else:
                torch.mm(grad, w, out=grad_h[sl])
        if grad_w is not None:
            grad_w = grad_w + grad.T @ h[sl] if graph else grad_w.addmm_(grad.T, h[sl])
        if grad_b is not None:
            grad_b = grad_b + grad.sum(0) if graph else grad_b.add_(grad.sum(0))
    if graph and grad_h is not None:
        grad_h = torch.cat(grad_h)
    return grad_h, grad_w, grad_b


class _LinearCrossEntropy(torch.autograd.Function):
    # eager only: inside torch.func transforms linear_cross_entropy takes the unfused composition (_unfused)
    @staticmethod
    def forward(ctx, hidden, weight, bias, target, class_weight, ignore_index, ls, softcap, z_loss, reduction, chunk):
        dtype = compute_dtype(hidden, weight)
        h_c, w_c = hidden.to(dtype), weight.to(dtype)
        b_c = bias.to(dtype) if bias is not None else None
        cw = class_weight.to(dtype) if class_weight is not None else None
        rows = _Rows(target, ignore_index, cw, dtype)
        n = hidden.shape[0]
        if reduction == "mean":
            denominator = rows.row_weight.sum()
            empty = denominator == 0
            scale = torch.where(empty, torch.zeros_like(denominator), 1.0 / torch.where(empty, 1.0, denominator))
        else:
            scale = torch.ones((), dtype=dtype, device=hidden.device)
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], bias is not None and ctx.needs_input_grad[2])
        eager = reduction != "none" and any(needs)
        per_row = torch.empty(n, dtype=dtype, device=hidden.device)
        grad_h = torch.empty_like(h_c) if eager and needs[0] else None
        # the first chunk writes the weight and bias gradients, the others add to them (no zero-filling pass)
        grad_w = torch.empty_like(w_c) if eager and needs[1] else None
        grad_b = torch.empty_like(b_c) if eager and needs[2] else None
        for start in range(0, n, chunk):
            sl = slice(start, min(start + chunk, n))
            loss, grad = _chunk_fast(h_c[sl], w_c, b_c, rows, sl, ls, softcap, z_loss, scale, eager)
            per_row[sl] = loss
            if grad is None:
                continue
            if grad_h is not None:
                torch.mm(grad, w_c, out=grad_h[sl])
            if grad_w is not None:
                if start == 0:
                    torch.mm(grad.T, h_c[sl], out=grad_w)
                else:
                    grad_w.addmm_(grad.T, h_c[sl])
            if grad_b is not None:
                if start == 0:
                    torch.sum(grad, 0, out=grad_b)
                else:
                    grad_b.add_(grad.sum(0))
            del grad
        ctx.reduction, ctx.chunk_size, ctx.ignore_index = reduction, chunk, ignore_index
        ctx.options = (ls, softcap, z_loss)
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype if bias is not None else None)
        ctx.has_bias, ctx.has_class_weight = bias is not None, class_weight is not None
        ctx.scale = scale
        # the original inputs (references, not copies): a later backward recomputes from them
        ctx.save_for_backward(
            hidden,
            weight,
            bias if bias is not None else torch.empty(0),
            target,
            class_weight if class_weight is not None else torch.empty(0),
        )
        # the gradients precomputed above: plain attributes, handed over (not copied) by the first backward
        ctx.grads = (grad_h, grad_w, grad_b) if eager else None
        if reduction == "none":
            return per_row
        total = per_row.sum()
        return total * scale if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output):
        h_dtype, w_dtype, b_dtype = ctx.dtypes
        hidden, weight, bias, target, class_weight = ctx.saved_tensors
        bias = bias if ctx.has_bias else None
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2])
        nones = (None,) * 8
        grads = ctx.grads
        if grads is not None and not torch.is_grad_enabled():
            # first backward of "mean"/"sum": scale the precomputed gradients in place and hand them over.
            # ctx lets go of them first, so autograd can adopt them as .grad without a copy.
            ctx.grads = None
            out = []
            for g, dtype, need in zip(grads, (h_dtype, w_dtype, b_dtype), needs):
                if g is None or not need:
                    out.append(None)
                    continue
                out.append(g.mul_(grad_output.to(g.dtype)).to(dtype))
            return (*out, *nones)
        # reduction="none" (the per-row grad_output is known only now), a second backward after
        # retain_graph=True, or create_graph=True: recompute the chunks from the saved inputs
        graph = torch.is_grad_enabled()
        dtype = compute_dtype(hidden, weight)
        h_c, w_c = hidden.to(dtype), weight.to(dtype)
        b_c = bias.to(dtype) if bias is not None else None
        cw = class_weight.to(dtype) if ctx.has_class_weight else None
        rows = _Rows(target, ctx.ignore_index, cw, dtype)
        go = grad_output.to(dtype)
        row_scale = go if ctx.reduction == "none" else go * ctx.scale
        ls, softcap, z_loss = ctx.options
        gh, gw, gb = _accumulate(h_c, w_c, b_c, rows, ls, softcap, z_loss, ctx.chunk_size, row_scale, needs, graph)
        return (
            gh.to(h_dtype) if gh is not None else None,
            gw.to(w_dtype) if gw is not None else None,
            gb.to(b_dtype) if gb is not None else None,
            *nones,
        )


def _check_chunk_size(fn: str, name: str, chunk_size: object) -> None:
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"{fn}: {name} must be a positive integer or None; got {chunk_size!r}")


def _unfused(fn, input, linear_weight, target, linear_bias, weight, reduction, ignore_index, ls, softcap, z_loss):
    """The reference path (torch's, too): K-dimensional outputs, probability targets and torch.func transforms
    materialise the logits."""
    from .classification.cross_entropy import cross_entropy

    dtype = compute_dtype(input, linear_weight)
    num_classes, in_features = linear_weight.shape[0], linear_weight.shape[-1]
    out_features = tuple(linear_weight.shape[1:-1])
    logits = F.linear(
        input.to(dtype),
        linear_weight.to(dtype).reshape(-1, in_features),
        linear_bias.to(dtype).reshape(-1) if linear_bias is not None else None,
    ).reshape(*input.shape[:-1], num_classes, *out_features)
    if softcap:
        logits = softcap * torch.tanh(logits / softcap)
    probability = target.is_floating_point() and target.shape == logits.shape
    if not probability:
        class_index_target(fn, logits, target, ignore_index=ignore_index)  # losskit's messages, under its name
    weight = weight.to(dtype) if weight is not None else None
    kwargs = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": ls}
    if not z_loss:
        return cross_entropy(logits, target, reduction=reduction, **kwargs)
    per = cross_entropy(logits, target, reduction="none", **kwargs)
    lse = logits.logsumexp(0 if logits.dim() == 1 else 1)
    if probability:
        row_weight = torch.ones_like(lse)
    else:
        valid = target != ignore_index
        safe = torch.where(valid, target, torch.zeros_like(target)).long()
        row_weight = valid.to(dtype) * (weight[safe] if weight is not None else 1.0)
    per = per + z_loss * row_weight * lse.square()
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.mean() if probability else safe_divide(per.sum(), row_weight.sum())


@loss(
    "linear_cross_entropy",
    family="large_vocab",
    module=None,
    aliases=("fused_linear_cross_entropy",),
    roles=(
        Role("input", "(N, H) or (H,)"),
        Role("linear_weight", "(V, H), or (V, d1, ..., dK, H)"),
        Role("target", "(N,) class indices, or probabilities (N, V)", differentiable=False),
    ),
    hparams={
        "weight": checks.class_weight,
        "ignore_index": checks.optional_integer,
        "label_smoothing": checks.unit_interval,
        "chunk_size": checks.custom(_check_chunk_size, "a positive integer, or None (automatic)"),
        "softcap": checks.optional_positive,
        "z_loss": checks.non_negative,
    },
    call_kwargs=("linear_bias", "bias", "options"),
    capabilities=(
        "compile",
        "double_backward",
        "class_weight",
        "index_targets",
        "probability_targets",
        "ignore_index",
        "label_smoothing",
        "parameters",
    ),
    references=(
        "torch.nn.functional.linear_cross_entropy",
        "torch.nn.functional.cross_entropy(input @ linear_weight.T + linear_bias)",
    ),
    curve=Curve("probability"),
)
def linear_cross_entropy(
    input: torch.Tensor,
    linear_weight: torch.Tensor,
    target: torch.Tensor,
    *,
    linear_bias: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    ignore_index: Optional[int] = -100,
    label_smoothing: float = 0.0,
    chunk_size: Optional[int] = None,
    softcap: Optional[float] = None,
    z_loss: float = 0.0,
    bias: Optional[torch.Tensor] = None,
    options: Any = None,
) -> torch.Tensor:
    r"""Cross-entropy of a linear projection, without materialising the ``(N, V)`` logits.

    With :math:`z = x W^\top + b`, optionally soft-capped :math:`z \leftarrow c \tanh(z / c)`
    (Gemma 2), :math:`\operatorname{lse}_i = \log\sum_v e^{z_{i,v}}`, class weights
    :math:`w` (1 by default) and label smoothing :math:`\varepsilon`:

    .. math::
        \ell_i = (1-\varepsilon)\, w_{y_i} (\operatorname{lse}_i - z_{i,y_i})
                 + \frac{\varepsilon}{V}\sum_v w_v (\operatorname{lse}_i - z_{i,v})
                 + \lambda\, w_{y_i} \operatorname{lse}_i^2

    — torch's ``cross_entropy(x @ W.T + b, y, weight, ...)`` plus PaLM's
    z-loss (coefficient :math:`\lambda`, typically 1e-4), weighted and reduced
    with each token's loss. Ignored tokens contribute 0; ``"mean"`` divides by
    :math:`\sum_i w_{y_i}` over the tokens that count (0 when none do — torch
    gives NaN there).

    A drop-in for torch 2.13's ``torch.nn.functional.linear_cross_entropy``:
    its arguments and numbers (class-index and probability targets, an
    unbatched ``(H,)`` input, K-dimensional ``(V, d1, ..., dK, H)`` weights);
    ``options`` is accepted and only its ``batch_chunk_size`` is read.
    ``bias=`` (losskit 0.x) is a deprecated alias of ``linear_bias``.

    Class-index targets with a 2-D ``linear_weight`` are processed in row
    chunks: each chunk's logits, log-sum-exp and logit gradient are computed
    in the forward pass, in one ``(chunk, V)`` block, and folded straight into
    the input, weight and bias gradients (a custom autograd Function), which
    the backward hands over without a copy. Peak extra memory is one block
    plus the gradients themselves. With ``reduction="none"`` the per-token
    ``grad_output`` is only known in backward, which recomputes the chunks
    from the saved inputs (one more pass, same memory); so does a second
    backward after ``retain_graph=True``. Probability targets and
    K-dimensional outputs take the unfused path (so does torch). float16 and
    bfloat16 inputs are accumulated in float32; the loss is float32 and the
    gradients come back in the inputs' dtypes. Twice differentiable: under
    ``create_graph=True`` the backward recomputes the chunks out of place, so
    second derivatives are exact (that graph holds every chunk's logits).

    Args:
        input: final hidden states ``(N, H)``, or one ``(H,)``.
        linear_weight: output projection ``(V, H)`` (e.g. the tied embedding
            matrix), or ``(V, d1, ..., dK, H)`` for a K-dimensional loss.
        target: token ids ``(N,)`` (or ``(N, d1, ..., dK)``, or ``()``),
            integer; or class probabilities of the logits' shape.
        linear_bias: optional ``(V,)`` (``(V, d1, ..., dK)``) added to the logits.
        weight: per-class weights ``(V,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        ignore_index: token id that contributes nothing (padding); None means -100.
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        chunk_size: rows per chunk; default from N, H and V (:func:`auto_chunk_size`).
        softcap: :math:`c > 0` for ``c·tanh(z/c)`` logit capping, or None.
        z_loss: :math:`\lambda \ge 0`.
        bias: deprecated alias of ``linear_bias``.
        options: torch's ``LinearCrossEntropyOptions``; its ``batch_chunk_size``
            is the chunk size when ``chunk_size`` is None.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> x, w = torch.eye(2), torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        >>> linear_cross_entropy(x, w, torch.tensor([0, 1]))
        tensor(0.6691)

    Reference:
        ``torch.nn.functional.linear_cross_entropy``;
        ``torch.nn.functional.cross_entropy(input @ linear_weight.T + linear_bias, target)``;
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models",
        2024; Chowdhery et al., "PaLM", 2022 (z-loss); Gemma Team, "Gemma 2", 2024 (soft-capping).
    """
    fn = "linear_cross_entropy"
    if bias is not None:
        if linear_bias is not None:
            raise TypeError(f"{fn}: pass linear_bias or its deprecated alias bias, not both")
        warnings.warn(
            f"{fn}: bias= is deprecated; pass linear_bias= (torch's name for it)", DeprecationWarning, stacklevel=3
        )
        linear_bias = bias
    if ignore_index is None:
        ignore_index = -100
    if options is not None and chunk_size is None:
        chunk_size = getattr(options, "batch_chunk_size", None)
        _check_chunk_size(fn, "options.batch_chunk_size", chunk_size)
    check_floating(fn, "input", input)
    check_floating(fn, "linear_weight", linear_weight)
    if input.dim() not in (1, 2):
        raise ValueError(
            f"{fn}: input must be (N, H) or (H,); got {fmt_shape(input.shape)} — flatten the batch and time "
            "dimensions first"
        )
    in_features = input.shape[-1]
    if linear_weight.dim() < 2 or linear_weight.shape[-1] != in_features:
        raise ValueError(
            f"{fn}: linear_weight must be (V, {in_features}) to match input (N, {in_features}); "
            f"got {fmt_shape(linear_weight.shape)}"
        )
    if linear_weight.shape[0] == 0:
        raise ValueError(
            f"{fn}: linear_weight must have at least one row (a vocabulary of V >= 1); "
            f"got {fmt_shape(linear_weight.shape)}"
        )
    vocab = linear_weight.shape[0]
    out_features = linear_weight.shape[1:-1]
    if linear_bias is not None:
        check_floating(fn, "linear_bias", linear_bias)
        if linear_bias.shape != linear_weight.shape[:-1]:
            raise ValueError(
                f"{fn}: linear_bias must be {fmt_shape(linear_weight.shape[:-1])}; got {fmt_shape(linear_bias.shape)}"
            )
    check_class_weight(fn, weight, vocab)
    if out_features and input.dim() == 1:
        raise ValueError(
            f"{fn}: a K-dimensional loss (linear_weight {fmt_shape(linear_weight.shape)}) needs a batched input "
            f"(N, {in_features}); got {fmt_shape(input.shape)}"
        )
    logits_shape = (*input.shape[:-1], vocab, *out_features)
    ls = float(label_smoothing)
    softcap = float(softcap) if softcap else None
    z_loss = float(z_loss)
    # torch.func transforms refuse the chunked Function (no setup_context; its forward writes the gradients):
    # there the logits are materialised and differentiated as a composition, the same values and gradients
    if (
        out_features
        or (target.is_floating_point() and tuple(target.shape) == logits_shape)
        or functorch_transforms_active()
    ):
        return _unfused(
            fn, input, linear_weight, target, linear_bias, weight, reduction, ignore_index, ls, softcap, z_loss
        )
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0) if isinstance(target, torch.Tensor) else target
    # target layout, range and int64 cast: the checks of a (N, V) cross-entropy, without building its input
    target, _ = class_index_target(
        fn, torch.empty((input.shape[0], vocab), device="meta"), target, ignore_index=ignore_index
    )
    if input.shape[0] == 0:  # nothing to average: 0 (or an empty (0,)), still on the graph
        dtype = compute_dtype(input, linear_weight)
        per_row = input.to(dtype).sum(1) * 0.0 + linear_weight.to(dtype).sum() * 0.0
        return per_row if reduction == "none" else per_row.sum()
    chunk = chunk_size or auto_chunk_size(input.shape[0], vocab, in_features)
    out = _LinearCrossEntropy.apply(
        input, linear_weight, linear_bias, target, weight, ignore_index, ls, softcap, z_loss, reduction, chunk
    )
    return out.squeeze(0) if unbatched and reduction == "none" else out


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer; got {value!r}")
    return value


@module_for(linear_cross_entropy)
class LinearCrossEntropyLoss(Loss):
    """Cross-entropy of a linear projection, without materialising the ``(N, V)`` logits.

    torch 2.13's ``nn.LinearCrossEntropyLoss``, chunked. Owns the projection as ``self.linear`` (an ``nn.Linear(in_features, num_classes)``,
    initialised like torch's, so its ``state_dict`` is torch's: ``linear.weight``,
    ``linear.bias`` and the class ``weight`` buffer); ``forward(input, target)`` calls
    :func:`losskit.functional.linear_cross_entropy` with it, which never builds the
    ``(N, num_classes)`` logits.

    Args:
        in_features: ``H``, the size of each input row.
        num_classes: ``V``, the vocabulary.
        out_features: ``(d1, ..., dK)`` for a K-dimensional loss (default ``()``).
        bias: whether the projection has a learnable bias.
        device: where the projection's parameters live.
        dtype: their dtype.
        weight: per-class weights ``(V,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        ignore_index: token id that contributes nothing; None means -100.
        label_smoothing: :math:`\\varepsilon \\in [0, 1]`.
        chunk_size: rows per chunk, or None (automatic).
        softcap: :math:`c > 0` for ``c·tanh(z/c)`` logit capping, or None.
        z_loss: :math:`\\lambda \\ge 0`.
        options: torch's ``LinearCrossEntropyOptions``; its ``batch_chunk_size`` becomes
            ``chunk_size`` when that is None.

    Shape:
        - input: ``(N, in_features)`` or ``(in_features,)``.
        - target: class indices ``(N,)`` (``(N, d1, ..., dK)``, ``()``) or probabilities ``(N, V, ...)``.
        - output: a scalar, or ``(N, ...)`` with ``reduction="none"``.
    """

    config_args = ("in_features", "num_classes", "out_features", "bias")

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: Sequence[int] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Optional[torch.dtype] = None,
        weight: Optional[torch.Tensor] = None,
        reduction: str = "mean",
        ignore_index: Optional[int] = -100,
        label_smoothing: float = 0.0,
        chunk_size: Optional[int] = None,
        softcap: Optional[float] = None,
        z_loss: float = 0.0,
        options: Any = None,
    ) -> None:
        owner = type(self).__name__
        if options is not None and chunk_size is None:
            chunk_size = getattr(options, "batch_chunk_size", None)
        super().__init__(
            weight=weight,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            chunk_size=chunk_size,
            softcap=softcap,
            z_loss=z_loss,
        )
        if not isinstance(bias, bool):
            raise TypeError(f"{owner}: bias must be True or False; got {bias!r}")
        if isinstance(out_features, int) or not all(isinstance(d, int) and d >= 1 for d in out_features):
            raise ValueError(f"{owner}: out_features must be a tuple of positive integers; got {out_features!r}")
        self.in_features = _positive_int(owner, "in_features", in_features)
        self.num_classes = _positive_int(owner, "num_classes", num_classes)
        self.out_features: Tuple[int, ...] = tuple(out_features)
        if weight is not None:
            check_class_weight(owner, weight, num_classes)
        self.bias = bias
        self.linear = nn.Linear(
            in_features, math.prod(self.out_features) * num_classes, bias=bias, device=device, dtype=dtype
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        linear_weight: torch.Tensor = self.linear.weight
        linear_bias: Optional[torch.Tensor] = self.linear.bias
        if self.out_features:
            linear_weight = linear_weight.reshape(self.num_classes, *self.out_features, self.in_features)
            linear_bias = linear_bias.reshape(self.num_classes, *self.out_features) if linear_bias is not None else None
        return type(self).functional(input, linear_weight, target, linear_bias=linear_bias, **self.hparams())

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config["out_features"] = list(self.out_features)
        return config
