"""losskit's shared machinery: reduction, validation, the Loss base class and the registry."""
from .module import Loss
from .reduction import reduce_loss, safe_divide, zero_loss
from .registry import aliases_of, available, from_config, get, get_class, get_fn, register
from .validation import set_validation, validation_enabled

__all__ = [
    "Loss",
    "reduce_loss",
    "safe_divide",
    "zero_loss",
    "register",
    "get",
    "get_fn",
    "get_class",
    "available",
    "aliases_of",
    "from_config",
    "set_validation",
    "validation_enabled",
]
