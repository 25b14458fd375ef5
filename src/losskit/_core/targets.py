"""Target handling shared by the families: class indices, probabilities, one-hot and ±1 labels.

Class layout follows torch: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` or
unbatched ``(C,)``; class-index targets ``(N)`` / ``(N, d1, ..., dk)`` / ``()``
of an integer dtype; probability targets are floating with the input's shape.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from .reduction import reduce_loss, safe_divide
from .validation import (
    check_broadcastable_to,
    check_class_target,
    check_class_weight,
    check_floating,
    compute_dtype,
    data_checks_active,
    to_compute,
)

__all__ = [
    "class_dim",
    "prepare_scores",
    "is_probability_target",
    "valid_targets",
    "index_setup",
    "safe_targets",
    "gather_class",
    "target_class_weights",
    "mean_over_targets",
    "reduce_per_target",
    "to_plus_minus_one",
    "hinge_targets",
]


def class_dim(input: torch.Tensor) -> int:
    """The class dimension: 0 for unbatched ``(C,)`` scores, else 1 (torch's layout)."""
    return 0 if input.dim() == 1 else 1


def prepare_scores(fn: str, input: torch.Tensor, name: str = "input") -> torch.Tensor:
    """Class scores: a floating tensor with a class dimension, cast to the compute dtype."""
    check_floating(fn, name, input)
    if input.dim() == 0:
        raise ValueError(f"{fn}: {name} must have a class dimension, (C,), (N, C) or (N, C, d1, ...); got a scalar")
    return to_compute(compute_dtype(input), input)


def is_probability_target(fn: str, input: torch.Tensor, target: torch.Tensor) -> bool:
    """Probability targets are floating with the input's shape; anything else must be class indices."""
    if target.is_floating_point() and target.shape == input.shape:
        return True
    if target.is_floating_point():
        check_class_target(fn, input, target)  # raises the TypeError that explains the two target kinds
    return False


def valid_targets(
    fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: Optional[int]
) -> Optional[torch.Tensor]:
    """The mask of targets that count, or None when the range check proved that none is ignored."""
    has_ignored = check_class_target(fn, input, target, ignore_index=ignore_index)
    return None if has_ignored is False or ignore_index is None else target != ignore_index


def index_setup(
    fn: str, input: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor], ignore_index: Optional[int]
) -> Tuple[Optional[torch.Tensor], int, Optional[torch.Tensor]]:
    """Shared checks and casts for class-index losses: (weight, class dim, valid mask or None if nothing is ignored)."""
    cdim = class_dim(input)
    check_class_weight(fn, weight, input.shape[cdim])
    valid = valid_targets(fn, input, target, ignore_index)
    weight = to_compute(input.dtype, weight) if weight is not None else None
    return weight, cdim, valid


def safe_targets(target: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Targets usable as indices: ignored ones read class 0 (their loss is masked later)."""
    return target if valid is None else torch.where(valid, target, torch.zeros_like(target))


def gather_class(values: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor], cdim: int) -> torch.Tensor:
    """``values[..., y, ...]`` along the class dimension; ignored targets read class 0 (masked later)."""
    return values.gather(cdim, safe_targets(target, valid).unsqueeze(cdim)).squeeze(cdim)


def target_class_weights(weight: Optional[torch.Tensor], target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``w[y_i]`` for every target (1 without class weights), 0 where the target is ignored."""
    if weight is None:
        return valid.to(torch.get_default_dtype() if not torch.is_floating_point(valid) else valid.dtype)
    return weight[safe_targets(target, valid)] * valid


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
        is_pm1 = bool(((target == -1) | (target == 1)).all())
        is_binary01 = bool(((target == 0) | (target == 1)).all())
        if not is_pm1 and not is_binary01:
            bad = target[(target != -1) & (target != 0) & (target != 1)]
            shown = bad[0].item() if bad.numel() else "a mix of -1 and 0"
            raise ValueError(f"{fn}: target must hold labels in {{-1, 1}} or in {{0, 1}}; got {shown}")
    return to_plus_minus_one(target)
