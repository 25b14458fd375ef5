"""Sequences: CTC on torch's kernel, and edit distance, character and word error rates.

:func:`ctc_loss` is torch's ``ctc_loss`` — the same kernel, the same numbers
(value and gradient) — with losskit's checks in front of it (lengths longer
than the input, targets holding the blank, ...), ``batch_first`` inputs,
float16/bfloat16 computed in float32, 0 for an empty batch, and a path that
traces under ``torch.compile(fullgraph=True)`` (torch's own call does not).

The metrics beside it are not losses (not differentiable, not in the
registry): :func:`edit_distance` (batched Levenshtein distance, ``tf.edit_distance``'s
normalisation), :func:`char_error_rate` and :func:`word_error_rate` (jiwer's
numbers). Strings, and token tensors on the CPU, go to rapidfuzz (C++);
token tensors on an accelerator take a vectorised PyTorch path on the device.
"""

from __future__ import annotations

import math
import re
from numbers import Integral
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from ._core import checks
from ._core.reduction import reduce_loss
from ._core.spec import Role, loss
from ._core.validation import (
    check_floating,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
    require,
    to_compute,
)

__all__ = ["ctc_loss", "edit_distance", "char_error_rate", "word_error_rate"]

FAMILY = "sequence"

Lengths = Union[torch.Tensor, Sequence[int], int]


# ---------------------------------------------------------------------------------------------
# private helpers: CTC inputs and the kernel as a traceable custom op
# ---------------------------------------------------------------------------------------------


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())


def _lengths_tensor(fn: str, name: str, value: Any, batch: Optional[int]) -> torch.Tensor:
    """Lengths as an integer tensor of shape ``(batch,)`` (``(1,)`` for an unbatched call, ``batch=None``)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(
                f"{fn}: {name} must be an integer tensor or a sequence of ints; got a {_dtype_name(value)} tensor"
            )
        lengths = value
    else:
        items = [value] if isinstance(value, Integral) else value
        if (
            isinstance(items, (str, bytes))
            or not isinstance(items, Sequence)
            or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in items)
        ):
            raise TypeError(f"{fn}: {name} must be an integer tensor or a sequence of ints; got {value!r}")
        lengths = torch.as_tensor([int(v) for v in items], dtype=torch.long)
    expected = (1,) if batch is None else (batch,)
    if batch is None and lengths.dim() == 0:
        lengths = lengths.reshape(1)
    if tuple(lengths.shape) != expected:
        what = "one length (a number or a 0-d tensor) for unbatched log_probs" if batch is None else "one per sample"
        raise ValueError(f"{fn}: {name} must have {what}, shape {fmt_shape(expected)}; got {fmt_shape(lengths.shape)}")
    return lengths


def _first_bad(mask: torch.Tensor) -> int:
    return int(mask.nonzero()[0, 0])


def _host(t: torch.Tensor) -> np.ndarray:
    """An integer tensor's values as a NumPy array (no copy on the CPU)."""
    return t.numpy() if t.device.type == "cpu" and not t.requires_grad else t.detach().cpu().numpy()


def _check_ctc_data(
    fn: str,
    targets: torch.Tensor,
    input_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    time: int,
    num_classes: int,
    blank: int,
) -> None:
    """The checks that read the lengths and targets (torch's kernel reads out of bounds or gives nonsense otherwise).

    In NumPy: on the CPU its views cost no copy and a handful of small NumPy
    calls cost a few microseconds where as many torch calls cost ~100 µs
    (a tiny CTC step takes ~300 µs). Off the CPU this copies the (small)
    lengths and targets to the host: the one sync a data check costs.
    """
    il, tl, tg = _host(input_lengths), _host(target_lengths), _host(targets)
    if il.size:
        if il.max() > time or il.min() < 0:
            n = int(((il > time) | (il < 0)).argmax())
            raise ValueError(
                f"{fn}: input_lengths must be in [0, T] = [0, {time}] (T is log_probs' time dimension); "
                f"got {int(il[n])} for sample {n}"
            )
        if tl.min() < 0:
            n = int((tl < 0).argmax())
            raise ValueError(f"{fn}: target_lengths must be non-negative; got {int(tl[n])} for sample {n}")
    if tg.ndim == 2:
        width = tg.shape[1]
        if tl.size and tl.max() > width:
            n = int((tl > width).argmax())
            raise ValueError(
                f"{fn}: target_lengths must be at most the padded targets' length S = {width}; "
                f"got {int(tl[n])} for sample {n}"
            )
        used = np.arange(width) < tl[:, None]
        labels = tg[used]
    else:
        total = int(tl.sum())
        if total != tg.shape[0]:
            raise ValueError(
                f"{fn}: concatenated 1-D targets must hold sum(target_lengths) = {total} labels; got {tg.shape[0]}"
            )
        used, labels = None, tg
    if labels.size == 0:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"{fn}: targets contain class {lo if lo < 0 else hi}, outside the valid range [0, {num_classes - 1}]"
        )
    is_blank = tg == blank
    if used is not None:
        is_blank &= used
    if is_blank.any():
        where = np.argwhere(is_blank)[0].tolist()
        at = f"sample {where[0]}, position {where[1]}" if tg.ndim == 2 else f"position {where[0]}"
        raise ValueError(
            f"{fn}: targets contain the blank index {blank} within target_lengths ({at}); targets hold labels "
            f"only — pad after target_lengths, or pass the blank index your model uses as blank="
        )


def _ctc_kernel_impl(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int,
    zero_infinity: bool,
    compute_grad: bool,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """torch's CTC kernel: per-sample losses and, when asked, d(Σ losses)/d(log_probs) from torch's backward.

    This is what ``torch.ctc_loss`` runs (``aten::_ctc_loss`` and its backward), called as
    one op whose outputs have static shapes, so that torch.compile can trace it.
    """
    nll, log_alpha = torch.ops.aten._ctc_loss.Tensor(
        log_probs, targets, input_lengths, target_lengths, blank, zero_infinity
    )
    if compute_grad:
        grad = torch.ops.aten._ctc_loss_backward.Tensor(
            torch.ones_like(nll),
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            nll,
            log_alpha,
            blank,
            zero_infinity,
        )
        # the limit 0 where lp = -inf, not torch's NaN (see _ZeroGradAtNegInf)
        grad = grad.masked_fill(torch.isneginf(log_probs), 0.0)
    else:
        grad = log_probs.new_empty(0)
    if zero_infinity:
        nll = torch.where(nll == math.inf, torch.zeros_like(nll), nll)
    return nll, grad


_CTC_SCHEMA = (
    "(Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, int blank, "
    "bool zero_infinity, bool compute_grad) -> (Tensor, Tensor)"
)

_ctc_op: Any = None
if hasattr(torch.library, "custom_op"):  # torch >= 2.4; older versions run torch's call (a graph break)
    _ctc_op = torch.library.custom_op("losskit::ctc_loss", _ctc_kernel_impl, mutates_args=(), schema=_CTC_SCHEMA)

    @_ctc_op.register_fake
    def _ctc_fake(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity, compute_grad):
        grad = log_probs.new_empty(log_probs.shape) if compute_grad else log_probs.new_empty(0)
        return log_probs.new_empty(log_probs.shape[1:2]), grad

    def _ctc_setup_context(ctx, inputs, output):
        ctx.save_for_backward(output[1])

    def _ctc_backward(ctx, grad_loss, _grad_of_grad):
        (grad,) = ctx.saved_tensors
        # torch's backward is linear in each sample's grad_output: scale the per-sample gradient
        return grad * grad_loss.unsqueeze(0).unsqueeze(2), None, None, None, None, None, None

    _ctc_op.register_autograd(_ctc_backward, setup_context=_ctc_setup_context)


class _CTCComposable(torch.autograd.Function):
    """torch's CTC kernel for torch.func transforms (``grad``, ``vjp``, ``jacrev``, ``vmap``).

    torch's kernel reads its inputs' storage, which functorch's wrapper tensors lack, and the custom op above has
    no functorch support; a Function with ``setup_context`` runs its forward on the unwrapped tensors. The forward
    is :func:`_ctc_kernel_impl` (per-sample losses and their gradient, as the op's), the gradient an output
    marked non-differentiable; the backward scales it by each sample's incoming gradient (torch's CTC backward
    is not differentiable again either). ``vmap`` folds the mapped dimension into the batch: each sample's loss
    is independent of the others.
    """

    @staticmethod
    def forward(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        return _ctc_kernel_impl(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity, True)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])

    @staticmethod
    def backward(ctx, grad_loss, _grad_of_grad):
        (grad,) = ctx.saved_tensors
        # torch's backward is linear in each sample's grad_output: scale the per-sample gradient
        return grad * grad_loss.unsqueeze(0).unsqueeze(2), None, None, None, None, None

    @staticmethod
    def vmap(info, in_dims, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        size = info.batch_size

        def mapped_first(t: torch.Tensor, dim: Optional[int]) -> torch.Tensor:
            return t.movedim(dim, 0) if dim is not None else t.expand(size, *t.shape)

        lp = mapped_first(log_probs, in_dims[0])  # (B, T, N, C) -> (T, B·N, C)
        time, n, classes = lp.shape[1:]
        lp = lp.transpose(0, 1).reshape(time, size * n, classes)
        tl = mapped_first(target_lengths, in_dims[3])
        tg = mapped_first(targets, in_dims[1])  # (B, N, S) padded -> (B·N, S); (B, ΣL) concatenated -> (B·ΣL,)
        tg = tg.reshape(size * tg.shape[1], *tg.shape[2:])
        il, tl = mapped_first(input_lengths, in_dims[2]).reshape(-1), tl.reshape(-1)
        nll, grad = _CTCComposable.apply(lp, tg, il, tl, blank, zero_infinity)
        return (nll.view(size, n), grad.view(time, size, n, classes)), (0, 1)


class _ZeroGradAtNegInf(torch.autograd.Function):
    """The identity, whose backward sets the gradient to its limit 0 where the log-probability is -inf.

    torch's CTC gradient exp(lp) - exp(log(αβ) + nll - lp) is -inf + inf = NaN at lp = -inf (a label of
    probability 0); its limit there is 0, since αβ carries the factor e^lp twice. Eager only: inside
    torch.func transforms ctc_loss calls :class:`_CTCComposable`, whose kernel gradient has that limit.
    """

    @staticmethod
    def forward(ctx, log_probs):
        ctx.save_for_backward(log_probs)
        return log_probs.view_as(log_probs)

    @staticmethod
    def backward(ctx, grad):
        (log_probs,) = ctx.saved_tensors
        return grad.masked_fill(torch.isneginf(log_probs), 0.0)


def _reduce_ctc(per_sample: torch.Tensor, target_lengths: torch.Tensor, reduction: str) -> torch.Tensor:
    """torch's CTC reductions: ``"mean"`` divides each loss by its target length (at least 1), then averages."""
    if reduction == "mean":
        per_sample = per_sample / target_lengths.to(per_sample.device, per_sample.dtype).clamp_min(1)
    return reduce_loss(per_sample, reduction, fn="ctc_loss")


def _check_blank(fn: str, name: str, value: Any) -> None:
    checks.integer(fn, name, value)
    if value < 0:
        raise ValueError(f"{fn}: {name} must be a class index in [0, C); got {value}")


# ---------------------------------------------------------------------------------------------
# CTC
# ---------------------------------------------------------------------------------------------


@loss(
    "ctc",
    family=FAMILY,
    module="CTCLoss",
    aliases=("connectionist_temporal_classification",),
    roles=(
        Role(
            "log_probs",
            "(T, N, C)",
            doc="log-probabilities over C classes (blank included); (N, T, C) with batch_first",
        ),
        Role("targets", "(N, S) or (sum(target_lengths),)", differentiable=False),
        # lengths may be tensors, Python sequences or (unbatched) ints: ctc_loss checks them itself
        Role("input_lengths", "(N,)", differentiable=False, also="sequence"),
        Role("target_lengths", "(N,)", differentiable=False, also="sequence"),
    ),
    hparams={
        "blank": checks.custom(_check_blank, "a class index in [0, C)"),
        "zero_infinity": checks.boolean,
        "batch_first": checks.boolean,
    },
    positional=("blank", "reduction", "zero_infinity"),
    capabilities=("compile", "index_targets"),
    references=(
        "torch.nn.functional.ctc_loss",
        "keras.losses.ctc (Keras 3, torch backend)",
        "NumPy float64 CTC forward algorithm (tests/reference/sequence.py)",
    ),
)
def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: Lengths,
    target_lengths: Lengths,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    batch_first: bool = False,
) -> torch.Tensor:
    r"""Connectionist temporal classification loss, torch's ``ctc_loss`` (its kernel underneath).

    For log-probabilities :math:`\log y^t_k` over :math:`T` frames and a target
    :math:`l` of length :math:`S`, the loss is the negative log of the
    probability of all alignments :math:`\pi` (paths of length :math:`T` over
    the classes and the blank) that collapse to :math:`l` once repeats are
    merged and blanks removed:

    .. math::
        \ell = -\log \sum_{\pi \in \mathcal{B}^{-1}(l)} \prod_{t=1}^{T} y^t_{\pi_t}

    computed by the forward algorithm in log space. ``"sum"`` adds the
    per-sample losses; ``"mean"`` (torch's) divides each by its target length
    (at least 1) and averages over the batch; ``"none"`` returns ``(N,)``.

    Same numbers as ``torch.nn.functional.ctc_loss``, value and gradient, for
    both target layouts: padded ``(N, S)`` (entries after each target length
    are ignored) or concatenated 1-D. Like torch's, the gradient it returns
    with respect to ``log_probs`` is the one that is exact once it flows
    through ``log_softmax``: torch's kernel adds :math:`y^t_k \cdot g` for
    every frame inside the input length, a term log_softmax's backward
    cancels. Pass log-probabilities (``log_softmax`` output), as torch asks.

    Differences from torch, on purpose: lengths beyond T or S, targets holding
    the blank or a class outside [0, C), and a concatenated target of the
    wrong size raise ``ValueError`` naming the argument (torch reads them
    anyway or fails deep in its kernel); an empty batch gives 0 (torch
    raises); float16/bfloat16 compute in float32 (torch's CPU kernel refuses
    them) and the loss is float32; and under ``torch.compile(fullgraph=True)``
    the kernel runs as a custom op, so it traces where torch's call breaks
    the graph (its output shape depends on the lengths' values). The
    gradient then comes from the same backward kernel, run in the forward pass.

    Args:
        log_probs: log-probabilities ``(T, N, C)`` (``(N, T, C)`` with
            ``batch_first=True``; ``(T, C)`` for one unbatched sequence).
        targets: class indices, padded ``(N, S)`` or concatenated
            ``(sum(target_lengths),)``; an integer tensor.
        input_lengths: frames used per sample ``(N,)``, each at most T; a
            tensor or a sequence of ints.
        target_lengths: labels per sample ``(N,)``; a tensor or a sequence of ints.
        blank: the blank class index, in [0, C).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        zero_infinity: replace infinite losses (a target that cannot fit in
            its input length) and their gradients by 0.
        batch_first: ``log_probs`` is ``(N, T, C)``.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"`` (a 0-d tensor for unbatched input).

    Example:
        >>> log_probs = torch.full((3, 1, 2), 0.5).log()
        >>> ctc_loss(log_probs, torch.tensor([[1]]), [3], [1], reduction="none")  # 6 of 8 paths fit
        tensor([0.2877])

    Reference:
        Graves et al., "Connectionist Temporal Classification: Labelling
        Unsegmented Sequence Data with Recurrent Neural Networks", ICML 2006;
        ``torch.nn.functional.ctc_loss``.
    """
    fn = "ctc_loss"
    check_floating(fn, "log_probs", log_probs)
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"{fn}: targets must be an integer torch.Tensor; got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(
            f"{fn}: targets must be an integer tensor of class indices; got {_dtype_name(targets)} — pass targets.long()"
        )
    unbatched = log_probs.dim() == 2
    if unbatched:
        if targets.dim() != 1:
            raise ValueError(
                f"{fn}: for unbatched log_probs (T, C), targets must be 1-D (S,); got {fmt_shape(targets.shape)}"
            )
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
    elif log_probs.dim() != 3:
        layout = "(N, T, C)" if batch_first else "(T, N, C)"
        raise ValueError(f"{fn}: log_probs must be {layout} (or (T, C) unbatched); got {fmt_shape(log_probs.shape)}")
    elif batch_first:
        log_probs = log_probs.transpose(0, 1)
    time, batch, num_classes = log_probs.shape
    if blank >= num_classes:
        raise ValueError(f"{fn}: blank must be a class index in [0, C) = [0, {num_classes}); got {blank}")
    if targets.dim() == 2:
        if targets.shape[0] != batch:
            raise ValueError(
                f"{fn}: padded targets must be (N, S) with N = {batch} (log_probs' batch size); got {fmt_shape(targets.shape)}"
            )
    elif targets.dim() != 1:
        raise ValueError(
            f"{fn}: targets must be padded (N, S) or concatenated 1-D (sum(target_lengths),); got {fmt_shape(targets.shape)}"
        )
    # torch's CPU kernel walks concatenated 1-D targets as contiguous memory: a strided view (every other element
    # of a buffer) read past its end and crashed the process (torch 2.13); targets are small, a copy costs little
    targets = targets.contiguous()
    il = _lengths_tensor(fn, "input_lengths", input_lengths, None if unbatched else batch)
    tl = _lengths_tensor(fn, "target_lengths", target_lengths, None if unbatched else batch)
    # skipped inside torch.func transforms, as every data check (_core/validation.py): it reads on the host
    if data_checks_active(targets) and not functorch_transforms_active():
        _check_ctc_data(fn, targets, il, tl, time, num_classes, blank)
    log_probs = to_compute(compute_dtype(log_probs), log_probs)

    if batch == 0 or time == 0:
        # torch refuses empty log_probs; with no frames a loss is 0 (empty target) or inf
        graph = log_probs.sum((0, 2)) * 0.0
        per_sample = torch.where(tl.to(graph.device) == 0, graph, graph + math.inf)
        if zero_infinity:
            per_sample = torch.where(per_sample == math.inf, graph, per_sample)
        out = _reduce_ctc(per_sample, tl, reduction)
    elif functorch_transforms_active():  # torch's kernel cannot read functorch's wrapper tensors: see the class
        per_sample, _ = _CTCComposable.apply(log_probs, targets, il.long(), tl.long(), blank, zero_infinity)
        out = _reduce_ctc(per_sample, tl, reduction)
    elif _is_compiling() and _ctc_op is not None:
        per_sample, _ = _ctc_op(
            log_probs, targets, il.long(), tl.long(), blank, zero_infinity, bool(log_probs.requires_grad)
        )
        out = _reduce_ctc(per_sample, tl, reduction)
    else:
        # torch's own call (and its reduction), with the lengths as the caller gave them (torch takes lists too)
        il_arg: Any = il if unbatched or isinstance(input_lengths, torch.Tensor) else il.tolist()
        if log_probs.requires_grad:
            log_probs = _ZeroGradAtNegInf.apply(log_probs)
        tl_arg: Any = tl if unbatched or isinstance(target_lengths, torch.Tensor) else tl.tolist()
        out = F.ctc_loss(
            log_probs, targets, il_arg, tl_arg, blank=blank, reduction=reduction, zero_infinity=zero_infinity
        )
    return out.squeeze(0) if unbatched and reduction == "none" else out


# ---------------------------------------------------------------------------------------------
# metrics: edit distance, CER, WER
# ---------------------------------------------------------------------------------------------


def _rapidfuzz():
    try:
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import cpdist
    except ImportError as exc:  # pragma: no cover - rapidfuzz is a runtime dependency
        raise ImportError("losskit's string metrics need rapidfuzz: pip install rapidfuzz") from exc
    return cpdist, Levenshtein


def _string_distances(hypotheses: List[Any], truths: List[Any], all_str: bool) -> torch.Tensor:
    """Levenshtein distances of aligned pairs (strings, or sequences of hashable tokens) with rapidfuzz."""
    if not hypotheses:
        return torch.zeros(0, dtype=torch.long)
    cpdist, levenshtein = _rapidfuzz()
    if all_str:
        left, right = hypotheses, truths
    else:
        # tokens mapped to integer ids: exact comparisons (rapidfuzz would compare the tokens' hashes)
        vocab: Dict[Any, int] = {}
        left = [[vocab.setdefault(tok, len(vocab)) for tok in seq] for seq in hypotheses]
        right = [[vocab.setdefault(tok, len(vocab)) for tok in seq] for seq in truths]
    return torch.from_numpy(cpdist(left, right, scorer=levenshtein.distance).astype("int64"))


def _levenshtein_tensors(
    hyp: torch.Tensor, hyp_len: torch.Tensor, ref: torch.Tensor, ref_len: torch.Tensor
) -> torch.Tensor:
    r"""Batched Levenshtein distance of ``(B, Lh)`` and ``(B, Lr)`` token rows, each cut at its length (PyTorch).

    One dynamic-programming row per step of the shorter side, vectorised over
    the batch and the longer side: with :math:`m_j = \min(D_{i-1,j} + 1,\,
    D_{i-1,j-1} + [h_i \ne r_j])` the row is :math:`D_{i,j} = j + \min_{k \le j}(m_k - k)`
    (the insertions along the row), a cumulative minimum. The distance is read
    at row ``hyp_len``, column ``ref_len``; padding beyond the lengths never
    reaches those cells. Used for tensors off the CPU (no copy to the host);
    on the CPU rapidfuzz is several times faster (see :func:`_levenshtein_rapidfuzz`).
    """
    if hyp.shape[1] > ref.shape[1]:  # the distance is symmetric: loop over the shorter side
        hyp, hyp_len, ref, ref_len = ref, ref_len, hyp, hyp_len
    batch, steps = hyp.shape
    cols = torch.arange(ref.shape[1] + 1, device=ref.device, dtype=torch.int32)
    row = cols.expand(batch, -1).contiguous()
    step = torch.empty_like(row)
    col_index = ref_len.long().unsqueeze(1)
    result = row.gather(1, col_index).squeeze(1)  # row 0: the hypothesis is empty
    # the longest row decides when to stop: read on the host where that is free, else every padded step
    last = int(hyp_len.max()) if hyp_len.numel() and host_readable(hyp_len) and not _is_compiling() else steps
    for i in range(1, min(last, steps) + 1):
        mismatch = (hyp[:, i - 1 : i] != ref).to(torch.int32)
        step[:, 0].fill_(i)  # a fill: no scalar tensor made on the host
        torch.minimum(row[:, 1:] + 1, row[:, :-1] + mismatch, out=step[:, 1:])
        row = torch.cummin(step.sub_(cols), dim=1).values.add_(cols)
        result = torch.where(hyp_len == i, row.gather(1, col_index).squeeze(1), result)
    return result.long()


#: token ids below this map to Unicode code points (skipping the surrogates), so rows travel as str
_CODE_POINTS = 0x110000 - 0x800


def _rows_as_strings(codes: torch.Tensor, lengths: torch.Tensor) -> List[str]:
    """``(B, L)`` ids in [0, _CODE_POINTS) as B strings, each cut at its length (one decode, then slices)."""
    codes = codes.to(torch.int32)
    codes = codes + (codes >= 0xD800).to(torch.int32) * 0x800  # step over the surrogate range
    text = np.ascontiguousarray(codes.numpy()).view("<u4").tobytes().decode("utf-32-le")
    width = codes.shape[1]
    if width == 0:
        return [""] * codes.shape[0]
    return [text[start : start + k] for start, k in zip(range(0, codes.numel(), width), lengths.tolist())]


def _levenshtein_rapidfuzz(
    hyp: torch.Tensor, hyp_len: torch.Tensor, ref: torch.Tensor, ref_len: torch.Tensor
) -> torch.Tensor:
    """The same distances with rapidfuzz (C++), for CPU tensors.

    Converting a tensor to Python lists costs more than the distances, so the
    rows travel as strings: each token id becomes one Unicode code point
    (exact for ids in [0, 1 112 064), the surrogates skipped). Other values
    (negative, huge, floating) are first renumbered with ``torch.unique``.
    """
    if hyp.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    cpdist, levenshtein = _rapidfuzz()
    integral = not (hyp.is_floating_point() or ref.is_floating_point() or hyp.is_complex() or ref.is_complex())
    direct = integral
    if integral and (hyp.numel() or ref.numel()):
        lo = min(int(hyp.min()) if hyp.numel() else 0, int(ref.min()) if ref.numel() else 0)
        hi = max(int(hyp.max()) if hyp.numel() else 0, int(ref.max()) if ref.numel() else 0)
        direct = lo >= 0 and hi < _CODE_POINTS
    if not direct:
        dtype = torch.promote_types(hyp.dtype, ref.dtype)
        values, inverse = torch.unique(
            torch.cat([hyp.reshape(-1).to(dtype), ref.reshape(-1).to(dtype)]), return_inverse=True
        )
        if values.numel() >= _CODE_POINTS:  # over a million distinct tokens: rows as lists of ids
            ids = inverse.tolist()
            width_h, width_r = hyp.shape[1], ref.shape[1]
            split = hyp.numel()
            left = [ids[i * width_h : i * width_h + k] for i, k in enumerate(hyp_len.tolist())]
            right = [ids[split + i * width_r : split + i * width_r + k] for i, k in enumerate(ref_len.tolist())]
            return torch.from_numpy(cpdist(left, right, scorer=levenshtein.distance).astype("int64"))
        hyp, ref = inverse[: hyp.numel()].reshape(hyp.shape), inverse[hyp.numel() :].reshape(ref.shape)
    left_s, right_s = _rows_as_strings(hyp, hyp_len), _rows_as_strings(ref, ref_len)
    return torch.from_numpy(cpdist(left_s, right_s, scorer=levenshtein.distance).astype("int64"))


def _token_lengths(
    fn: str, name: str, tokens: torch.Tensor, lengths: Optional[Lengths], padding_value: Any
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(tokens with padding removed to the right, lengths) for ``(B, L)`` token rows."""
    width = tokens.shape[1]
    if lengths is not None:
        lens = _lengths_tensor(fn, name, lengths, tokens.shape[0]).to(tokens.device)
        if lens.numel() and data_checks_active(lens):

            def detail() -> str:
                n = _first_bad((lens < 0) | (lens > width))
                return f"{fn}: {name} must be in [0, {width}] (the padded length); got {int(lens[n])} for row {n}"

            require((lens >= 0) & (lens <= width), f"{fn}: {name} must be in [0, {width}] (the padded length)", detail)
        return tokens, lens.long()
    if padding_value is None:
        return tokens, torch.full((tokens.shape[0],), width, dtype=torch.long, device=tokens.device)
    keep = tokens != padding_value
    # stable sort: the kept tokens move to the front in their order, the padding after them
    order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices
    return tokens.gather(1, order), keep.sum(1)


def _normalise(distance: torch.Tensor, truth_len: torch.Tensor) -> torch.Tensor:
    """distance / truth length; an empty truth gives inf (0 when the hypothesis is empty too)."""
    distance = distance.to(torch.float32)
    truth_len = truth_len.to(device=distance.device, dtype=torch.float32)
    ratio = distance / truth_len.clamp_min(1.0)
    return torch.where(truth_len == 0, torch.where(distance == 0, 0.0, math.inf), ratio)


def edit_distance(
    hypothesis: Union[torch.Tensor, str, Sequence[Any]],
    truth: Union[torch.Tensor, str, Sequence[Any]],
    *,
    normalize: bool = True,
    hypothesis_lengths: Optional[Lengths] = None,
    truth_lengths: Optional[Lengths] = None,
    padding_value: Any = None,
) -> torch.Tensor:
    r"""Levenshtein (edit) distance of each hypothesis to its truth, batched; ``tf.edit_distance``'s normalisation.

    The distance is the least number of insertions, deletions and
    substitutions of tokens that turn the hypothesis into the truth. With
    ``normalize=True`` it is divided by the truth's length, as
    ``tf.edit_distance`` does: an empty truth gives ``inf`` when the
    hypothesis is not empty and 0 when both are.

    Two kinds of input:

    * token tensors ``(*, Lh)`` and ``(*, Lt)`` with the same batch shape
      ``*`` (any dtype compared with ``==``; the widths may differ). Rows are
      cut at ``hypothesis_lengths`` / ``truth_lengths`` (shape ``*``) where
      given, else entries equal to ``padding_value`` are dropped, else the
      full width counts. On the CPU the rows go to rapidfuzz (C++, several
      times faster than any PyTorch formulation there); on an accelerator a
      vectorised PyTorch dynamic program runs on the device (no copy to
      the host), as it does under ``torch.compile``.
    * strings: two ``str`` (one pair), or two equally long sequences whose
      items are strings (character distance) or sequences of hashable tokens
      (e.g. lists of words). Computed by rapidfuzz.

    Not differentiable; not a loss (not in the registry).

    Args:
        hypothesis: predicted tokens or strings (prediction first, as everywhere in losskit).
        truth: reference tokens or strings.
        normalize: divide by the truth's length.
        hypothesis_lengths: valid tokens per hypothesis row (token tensors only).
        truth_lengths: valid tokens per truth row (token tensors only).
        padding_value: token that marks padding, for rows without lengths (token tensors only).

    Returns:
        A float32 tensor of the batch shape ``*`` (``(N,)`` for sequences of
        strings, 0-d for one pair), on the hypothesis's device.

    Example:
        >>> edit_distance(["kitten", "abc"], ["sitting", "abc"], normalize=False)
        tensor([3., 0.])
        >>> edit_distance(torch.tensor([[1, 2, 0]]), torch.tensor([[1, 3, 4]]), padding_value=0)
        tensor([0.6667])

    Reference:
        Levenshtein, "Binary codes capable of correcting deletions, insertions
        and reversals", 1966; ``tf.edit_distance``; rapidfuzz's ``Levenshtein.distance``.
    """
    fn = "edit_distance"
    checks.boolean(fn, "normalize", normalize)
    if isinstance(hypothesis, torch.Tensor) or isinstance(truth, torch.Tensor):
        for name, value in (("hypothesis", hypothesis), ("truth", truth)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"{fn}: hypothesis and truth must both be token tensors or both strings; {name} is a {type(value).__name__}"
                )
        assert isinstance(hypothesis, torch.Tensor) and isinstance(truth, torch.Tensor)  # for mypy
        for name, value in (("hypothesis", hypothesis), ("truth", truth)):
            if value.dim() == 0:
                raise ValueError(f"{fn}: {name} must be token rows (*, L); got a 0-d tensor")
        batch_shape = hypothesis.shape[:-1]
        if truth.shape[:-1] != batch_shape:
            raise ValueError(
                f"{fn}: truth must have the hypothesis's batch shape {fmt_shape(batch_shape)} (all but the last "
                f"dimension); got {fmt_shape(truth.shape[:-1])} from truth of shape {fmt_shape(truth.shape)}"
            )
        rows = math.prod(batch_shape)
        hyp = hypothesis.reshape(rows, hypothesis.shape[-1])
        ref = truth.reshape(rows, truth.shape[-1]).to(hyp.device)

        def flat(name: str, lengths: Optional[Lengths]) -> Optional[Lengths]:
            if isinstance(lengths, torch.Tensor) and tuple(lengths.shape) != tuple(batch_shape):
                raise ValueError(
                    f"{fn}: {name} must have the batch shape {fmt_shape(batch_shape)}; got {fmt_shape(lengths.shape)}"
                )
            return lengths.reshape(rows) if isinstance(lengths, torch.Tensor) else lengths

        hyp, hyp_len = _token_lengths(
            fn, "hypothesis_lengths", hyp, flat("hypothesis_lengths", hypothesis_lengths), padding_value
        )
        ref, ref_len = _token_lengths(fn, "truth_lengths", ref, flat("truth_lengths", truth_lengths), padding_value)
        if host_readable(hyp) and not _is_compiling():
            distance = _levenshtein_rapidfuzz(hyp, hyp_len, ref, ref_len)
        else:
            distance = _levenshtein_tensors(hyp, hyp_len, ref, ref_len)
        out = _normalise(distance, ref_len) if normalize else distance.to(torch.float32)
        return out.reshape(batch_shape)
    if hypothesis_lengths is not None or truth_lengths is not None or padding_value is not None:
        raise ValueError(
            f"{fn}: hypothesis_lengths, truth_lengths and padding_value apply to token tensors; strings carry their own length"
        )
    single = isinstance(hypothesis, str) and isinstance(truth, str)
    hyps, refs, all_str = _corpus(fn, "hypothesis", "truth", hypothesis, truth, tokens=True)
    distance = _string_distances(hyps, refs, all_str)
    out = (
        _normalise(distance, torch.tensor([len(r) for r in refs], dtype=torch.long))
        if normalize
        else distance.to(torch.float32)
    )
    return out.reshape(()) if single else out


def _corpus(
    fn: str, first: str, second: str, predictions: Any, references: Any, tokens: bool = False
) -> Tuple[List[Any], List[Any], bool]:
    """Two aligned lists of strings (or, with ``tokens``, of token sequences), and whether all items are ``str``.

    A single string is a corpus of one. The type check runs in C (``set(map(type, ...))``);
    items are inspected one by one only when something other than ``str`` is present.
    """
    sides = []
    all_str = True
    for name, value in ((first, predictions), (second, references)):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (bytes, torch.Tensor)) or not isinstance(value, Sequence):
            raise TypeError(f"{fn}: {name} must be a string or a sequence of strings; got {type(value).__name__}")
        value = list(value)
        if not set(map(type, value)) <= {str}:
            all_str = False
            for i, item in enumerate(value):
                ok = isinstance(item, str) or (tokens and isinstance(item, Sequence) and not isinstance(item, bytes))
                if not ok:
                    what = "strings or token sequences" if tokens else "strings"
                    raise TypeError(f"{fn}: {name} must hold {what}; item {i} is a {type(item).__name__}")
        sides.append(value)
    if len(sides[0]) != len(sides[1]):
        raise ValueError(f"{fn}: {second} must have one entry per {first} entry ({len(sides[0])}); got {len(sides[1])}")
    return sides[0], sides[1], all_str


def _corpus_rate(edits: torch.Tensor, total: int) -> torch.Tensor:
    errors = float(edits.sum())
    if total == 0:
        return torch.tensor(0.0 if errors == 0 else math.inf)
    return torch.tensor(errors / total, dtype=torch.float32)


def char_error_rate(predictions: Union[str, Sequence[str]], references: Union[str, Sequence[str]]) -> torch.Tensor:
    r"""Character error rate over a corpus: total character edits / total reference characters.

    .. math::
        \mathrm{CER} = \frac{\sum_i \operatorname{lev}(p_i, r_i)}{\sum_i |r_i|}

    jiwer's numbers (``jiwer.cer(references, predictions)`` — note jiwer takes
    the reference first): each string is stripped of leading and trailing
    whitespace first, as jiwer's default transform does. On text without
    such whitespace this is torchmetrics' ``CharErrorRate`` too (torchmetrics
    counts those characters). An empty reference corpus gives 0 when there
    are no edits, else inf.

    Args:
        predictions: a string or a sequence of strings.
        references: the same number of strings.

    Returns:
        A 0-d float32 tensor (it can exceed 1: insertions count).

    Example:
        >>> char_error_rate(["kitten", "abc"], ["sitting", "abc"])
        tensor(0.3000)
    """
    fn = "char_error_rate"
    preds, refs, _ = _corpus(fn, "predictions", "references", predictions, references)
    preds, refs = [p.strip() for p in preds], [r.strip() for r in refs]
    return _corpus_rate(_string_distances(preds, refs, True), sum(map(len, refs)))


_MULTIPLE_SPACES = re.compile(r"\s\s+")


def _words(text: str) -> List[str]:
    """jiwer's default word transform: runs of whitespace become one space, strip, split on spaces."""
    return [w for w in _MULTIPLE_SPACES.sub(" ", text).strip().split(" ") if w]


def word_error_rate(predictions: Union[str, Sequence[str]], references: Union[str, Sequence[str]]) -> torch.Tensor:
    r"""Word error rate over a corpus: total word edits / total reference words.

    .. math::
        \mathrm{WER} = \frac{\sum_i \operatorname{lev}(\mathrm{words}(p_i), \mathrm{words}(r_i))}{\sum_i |\mathrm{words}(r_i)|}

    jiwer's numbers (``jiwer.wer(references, predictions)``; jiwer takes the
    reference first), with jiwer's default word split: runs of two or more
    whitespace characters become one space, the ends are stripped, words are
    split on spaces. On text with single spaces between words this is
    torchmetrics' ``WordErrorRate`` too (which splits on any whitespace). An
    empty reference corpus gives 0 when there are no edits, else inf.

    Args:
        predictions: a string or a sequence of strings.
        references: the same number of strings.

    Returns:
        A 0-d float32 tensor (it can exceed 1: insertions count).

    Example:
        >>> word_error_rate(["the cat sat", "hello"], ["the cat sat down", "hello"])
        tensor(0.2000)
    """
    fn = "word_error_rate"
    preds, refs, _ = _corpus(fn, "predictions", "references", predictions, references)
    pred_words, ref_words = [_words(p) for p in preds], [_words(r) for r in refs]
    return _corpus_rate(_string_distances(pred_words, ref_words, False), sum(map(len, ref_words)))
