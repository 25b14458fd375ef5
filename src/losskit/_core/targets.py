"""Target handling shared by the families: class indices, probabilities, one-hot and ±1 labels.

Class layout follows torch: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` or
unbatched ``(C,)``; class-index targets ``(N)`` / ``(N, d1, ..., dk)`` / ``()``
of an integer dtype; probability targets are floating with the input's shape.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

from .reduction import reduce_loss, safe_divide
from .validation import (
    _is_compiling,
    check_broadcastable_to,
    check_class_target,
    check_class_weight,
    check_floating,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    host_readable,
    require,
    to_compute,
)

__all__ = [
    "class_dim",
    "prepare_scores",
    "plain_cpu_index_batch",
    "plain_index_call",
    "is_probability_target",
    "class_index_target",
    "kernel_checks_range",
    "explain_bad_target",
    "checked_class_weight",
    "log_target_probability",
    "valid_targets",
    "index_setup",
    "safe_targets",
    "gather_class",
    "log_softmax_at",
    "class_values",
    "target_class_weights",
    "mean_over_targets",
    "reduce_per_target",
    "to_plus_minus_one",
    "hinge_targets",
]


def class_dim(input: torch.Tensor) -> int:
    """The class dimension: 0 for unbatched ``(C,)`` scores, else 1 (torch's layout)."""
    return 0 if input.dim() == 1 else 1


def prepare_scores(fn: str, input: torch.Tensor, name: str = "input", *, contiguous: bool = False) -> torch.Tensor:
    """Class scores: a floating tensor with a non-empty class dimension, cast to the compute dtype.

    ``contiguous=True`` (losses that call torch's NLL kernel) copies a
    non-contiguous input, e.g. channels_last ``(N, C, H, W)``: the kernel's
    backward refuses such an input ("grad_input must be contiguous").
    """
    if (  # fast path, the common case: a float32/float64 tensor with classes (a few attribute reads)
        type(input) is torch.Tensor
        and input.dtype in _FULL_PRECISION
        and input.dim() > 0
        and input.shape[0 if input.dim() == 1 else 1] > 0
        and (not contiguous or input.is_contiguous())
    ):
        return input
    check_floating(fn, name, input)
    if input.dim() == 0:
        raise ValueError(f"{fn}: {name} must have a class dimension, (C,), (N, C) or (N, C, d1, ...); got a scalar")
    if input.shape[class_dim(input)] == 0:
        raise ValueError(f"{fn}: {name} must have at least one class (C >= 1); got shape {fmt_shape(input.shape)}")
    input = to_compute(compute_dtype(input), input)
    if contiguous and not input.is_contiguous():
        input = input.contiguous()
    return input


_FULL_PRECISION = (torch.float32, torch.float64)
_TENSOR, _INT64 = torch.Tensor, torch.int64


def plain_cpu_index_batch(input: object, target: object) -> bool:
    """Whether a class-index call is the common case that leaves nothing for losskit to check or cast.

    That is: plain float32/float64 contiguous ``(N, C)`` scores on CPU with
    ``N, C >= 1``, int64 ``(N,)`` targets, and no ``torch.compile`` tracing.
    :func:`prepare_scores` and :func:`class_index_target` would pass such
    inputs through unchanged, and torch's CPU kernels check the class range
    themselves (:func:`kernel_checks_range`; :func:`explain_bad_target`
    words their error), so the caller goes straight to the kernel; its result
    may be read on the host (data checks run on CPU). Anything else — other
    layouts, dtypes or devices, tensor subclasses, lists — is False and takes
    the checked path, which raises losskit's errors. Written as one chain of
    attribute reads: it runs on every call, where a microsecond is 3-5% of a
    small batch's forward and backward.
    """
    if (
        type(input) is not _TENSOR
        or type(target) is not _TENSOR
        or target.dtype is not _INT64
        or input.dtype not in _FULL_PRECISION
        or not host_readable(input)
        or not input.is_contiguous()
    ):
        return False
    try:  # unpacking the shapes tests both dimensionalities (no dim() calls); a miss costs nothing extra
        rows, classes = input.shape
        (targets,) = target.shape
    except ValueError:
        return False
    return rows == targets and rows > 0 and classes > 0 and not _is_compiling()


def is_probability_target(
    fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: Optional[int] = None
) -> bool:
    """Probability targets are floating with the input's shape; anything else must be class indices.

    ``ignore_index`` (the value the caller passed; -100 is the default, meaning
    "none") only applies to class indices: with probability targets a
    different value raises, as torch does, rather than being dropped silently.
    """
    if target.is_floating_point() and target.shape == input.shape:
        if ignore_index is not None and ignore_index != -100:
            raise ValueError(
                f"{fn}: ignore_index applies to class-index targets; got ignore_index={ignore_index} with "
                f"probability targets of shape {fmt_shape(target.shape)} — leave it at -100, or give ignored "
                f"samples sample_weight 0"
            )
        return True
    if target.is_floating_point():
        check_class_target(fn, input, target)  # raises the TypeError that explains the two target kinds
    return False


def class_index_target(
    fn: str,
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    ignore_index: Optional[int] = None,
    check_range: bool = True,
) -> Tuple[torch.Tensor, Optional[bool]]:
    """Checked class-index targets as int64, and whether any is ignored (see ``check_class_target``).

    The one rule for index dtypes: every integer dtype (int8 ... int64,
    uint8) is accepted and cast to int64 here, once, so every loss — and
    every torch kernel underneath (which takes only int64, or uint8) — sees
    the same thing. bool, floating and complex targets raise ``TypeError``.
    ``check_range=False``: the caller's kernel checks the range (see
    :func:`kernel_checks_range`) and calls :func:`explain_bad_target` when it
    raises, so the data is read once, by the kernel, not twice.
    """
    has_ignored = check_class_target(fn, input, target, ignore_index=ignore_index, check_range=check_range)
    return (target if target.dtype == torch.long else target.long()), has_ignored


def kernel_checks_range(input: torch.Tensor) -> bool:
    """Whether torch's class-index kernels (``nll_loss``, ``cross_entropy``, ``multi_margin_loss``) check the
    target range themselves on ``input``'s device: on CPU they raise (``IndexError``/``RuntimeError``) before
    any value is wrong; elsewhere an out-of-range class is a device-side assert, so losskit checks first (a
    device-side assertion too, with losskit's message: see ``check_class_target``)."""
    return host_readable(input)


def explain_bad_target(fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: Optional[int]) -> None:
    """After a torch kernel raised on class-index targets: raise losskit's ``ValueError`` naming the class and
    the valid range, when that is the cause (the caller re-raises the kernel's error otherwise)."""
    check_class_target(fn, input, target, ignore_index=ignore_index)


def plain_index_call(
    fn: str, input: object, target: object, weight: Optional[torch.Tensor]
) -> Tuple[bool, Optional[torch.Tensor]]:
    """``(True, weight checked and cast)`` for a :func:`plain_cpu_index_batch` call, else ``(False, weight)``.

    The class-index losses' shared entry: a plain call goes straight to torch's kernel with only its
    class weight checked; anything else returns the weight untouched for the caller's full checks.
    """
    if not plain_cpu_index_batch(input, target):
        return False, weight
    return True, (None if weight is None else checked_class_weight(fn, weight, input))  # type: ignore[arg-type]


def checked_class_weight(fn: str, weight: Optional[torch.Tensor], input: torch.Tensor) -> Optional[torch.Tensor]:
    """A per-class ``weight`` checked against ``input``'s class count and cast to its compute dtype."""
    if weight is None:
        return None
    check_class_weight(fn, weight, input.shape[class_dim(input)])
    return to_compute(input.dtype, weight)


def log_target_probability(log_p: torch.Tensor, target: torch.Tensor, cdim: int) -> torch.Tensor:
    """``log p_t = log Σ_c t_c p_c`` for probability targets, stable and exactly differentiable in both.

    The sum is taken relative to the largest log-probability among the classes
    with ``t_c > 0`` (a constant shift, detached: the result does not depend on
    it), so it never underflows, and it stays *linear* in the target: the
    derivative with respect to ``t_c`` is ``p_c / p_t`` for every class, also
    where ``t_c`` is exactly 0 (a floored ``log t_c`` gives 0 there). The
    exponent of classes with ``t_c = 0`` is capped below float overflow, so
    their 0 contribution is never ``0 * inf``. A row without positive target
    mass gives a huge negative, finite value.
    """
    finfo = torch.finfo(log_p.dtype)
    neg_inf = torch.full((), float("-inf"), dtype=log_p.dtype, device=log_p.device)
    shift = torch.where(target > 0, log_p, neg_inf).amax(cdim, keepdim=True).detach()
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    cap = math.log(finfo.max) - math.log(max(log_p.shape[cdim], 1)) - 1.0
    total = (target * torch.exp((log_p - shift).clamp(max=cap))).sum(cdim)
    counts = ~(total <= 0)  # NaN counts, so it reaches the loss
    log_total = torch.log(torch.where(counts, total, torch.ones_like(total)))
    return shift.squeeze(cdim) + torch.where(counts, log_total, torch.full_like(total, finfo.min / 4))


def valid_targets(
    fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: Optional[int], *, check_range: bool = True
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(int64 targets, the mask of targets that count — or None when the range check proved that none is ignored).

    ``check_range=False`` (see :func:`class_index_target`) leaves the range to the caller's kernel; without an
    ``ignore_index`` nothing is masked either way.
    """
    target, has_ignored = class_index_target(fn, input, target, ignore_index=ignore_index, check_range=check_range)
    return target, (None if has_ignored is False or ignore_index is None else target != ignore_index)


def index_setup(
    fn: str, input: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor], ignore_index: Optional[int]
) -> Tuple[torch.Tensor, Optional[torch.Tensor], int, Optional[torch.Tensor]]:
    """Shared checks and casts for class-index losses.

    Returns (int64 targets, weight, class dim, valid mask or None if nothing is ignored).
    """
    weight = checked_class_weight(fn, weight, input)
    target, valid = valid_targets(fn, input, target, ignore_index)
    return target, weight, class_dim(input), valid


def safe_targets(target: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Targets usable as indices: ignored ones read class 0 (their loss is masked later)."""
    return target if valid is None else torch.where(valid, target, torch.zeros_like(target))


def gather_class(values: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor], cdim: int) -> torch.Tensor:
    """``values[..., y, ...]`` along the class dimension; ignored targets read class 0 (masked later)."""
    return values.gather(cdim, safe_targets(target, valid).unsqueeze(cdim)).squeeze(cdim)


def log_softmax_at(
    scores: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor], cdim: int
) -> torch.Tensor:
    """``log softmax(scores)[y]`` along the class dimension, without an ``(N, C)`` log-softmax.

    ``(x_y - m) - log Σ_c exp(x_c - m)`` with the row maximum ``m``, detached (the softmax does not depend on a
    shift, so no derivative of any order changes). Written as ``x_y - logsumexp(x)`` it subtracts two numbers of
    the logits' magnitude: in float32 a relative error of 3e-5 at logits near 100 and 4e-3 near 1e4, where
    torch's log-softmax (which subtracts the maximum first) keeps 3e-7. Ignored targets read class 0.
    """
    shift = scores.detach().amax(cdim, keepdim=True)
    shifted = scores - shift.masked_fill(torch.isinf(shift), 0.0)  # rows of ±inf keep their limits (NaN stays)
    return gather_class(shifted, target, valid, cdim) - shifted.logsumexp(cdim)


def target_class_weights(weight: Optional[torch.Tensor], target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``w[y_i]`` for every target (1 without class weights), 0 where the target is ignored."""
    if weight is None:
        return valid.to(torch.get_default_dtype() if not torch.is_floating_point(valid) else valid.dtype)
    return class_values(weight, safe_targets(target, valid)) * valid


def class_values(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for a (C,) table and class indices of any shape, 0-dim included.

    ``table[index]`` reads a 0-dim index on the host (a device sync); ``take`` has no MPS kernel; a flat
    ``index_select`` does neither."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def mean_over_targets(
    total: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor], ignore_index: int
) -> torch.Tensor:
    """torch's mean for class-index targets, Σ loss / Σ w[y_i] over non-ignored targets, 0 when none count."""
    valid = target != ignore_index
    if weight is None:
        denominator = valid.sum().to(total.dtype)
    else:
        denominator = target_class_weights(weight, target, valid).sum().to(total.dtype)
    return safe_divide(total, denominator)


def reduce_per_target(
    loss: torch.Tensor,
    target: torch.Tensor,
    weight: Optional[torch.Tensor],
    valid: Optional[torch.Tensor],
    reduction: str,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    """Per-target losses: ignored targets give 0; "mean" is Σ w[y]·l / Σ w[y] over the targets that count."""
    if valid is None:
        if weight is None and sample_weight is None:  # nothing ignored, nothing weighted: the plain reduction
            return reduce_loss(loss, reduction, fn=fn)
        valid = torch.ones_like(target, dtype=torch.bool)
    class_w = target_class_weights(weight, target, valid).to(loss.dtype)
    if sample_weight is not None:
        check_broadcastable_to(fn, "sample_weight", sample_weight, loss.shape)
        class_w = class_w * sample_weight.to(loss.dtype)
    return reduce_loss(loss, reduction, weight=class_w, mask=valid, fn=fn)


def to_plus_minus_one(target: torch.Tensor) -> torch.Tensor:
    """Keras's ``convert_binary_labels_to_hinge``: all-{0, 1} labels become ±1; anything else is kept as it is."""
    is_binary01 = ((target == 0) | (target == 1)).all()
    return torch.where(is_binary01, 2.0 * target - 1.0, target)


def hinge_targets(fn: str, target: torch.Tensor) -> torch.Tensor:
    """Labels in {-1, 1} or {0, 1} (converted to {-1, 1}); anything else raises (a data check)."""
    if data_checks_active(target) and target.numel() > 0:
        is_pm1 = ((target == -1) | (target == 1)).all()
        is_binary01 = ((target == 0) | (target == 1)).all()

        def shown() -> str:
            bad = target[(target != -1) & (target != 0) & (target != 1)]
            return str(bad[0].item()) if bad.numel() else "a mix of -1 and 0"

        require(
            is_pm1 | is_binary01,
            f"{fn}: target must hold labels in {{-1, 1}} or in {{0, 1}}",
            lambda: f"{fn}: target must hold labels in {{-1, 1}} or in {{0, 1}}; got {shown()}",
        )
    return to_plus_minus_one(target)
