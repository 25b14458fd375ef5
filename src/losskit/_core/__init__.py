"""losskit's shared machinery: declarations, reduction, validation, targets, the Loss base class and the registry."""

from .module import Loss
from .reduction import reduce_loss, safe_divide, zero_loss
from .registry import aliases_of, all_specs, available, describe, from_config, get, get_class, get_fn
from .spec import Curve, LossSpec, Role, loss, module_for
from .validation import set_validation, validation, validation_enabled

__all__ = [
    "Loss",
    "LossSpec",
    "Role",
    "Curve",
    "loss",
    "module_for",
    "reduce_loss",
    "safe_divide",
    "zero_loss",
    "get",
    "get_fn",
    "get_class",
    "describe",
    "available",
    "all_specs",
    "aliases_of",
    "from_config",
    "set_validation",
    "validation",
    "validation_enabled",
]
