"""losskit's shared machinery: declarations, reduction, validation, targets, the Loss base class and the registry.

Names are imported from their submodules on first use, so that importing the
registry (the CLI does) does not import torch.
"""

import importlib
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:  # pragma: no cover
    from .module import Loss
    from .reduction import reduce_loss, safe_divide, zero_loss
    from .registry import aliases_of, all_specs, available, describe, from_config, get, get_class, get_fn
    from .spec import Curve, LossSpec, Role, loss, module_for
    from .validation import set_validation, validation, validation_enabled

_NAMES = {
    "Loss": ".module",
    "reduce_loss": ".reduction",
    "safe_divide": ".reduction",
    "zero_loss": ".reduction",
    "aliases_of": ".registry",
    "all_specs": ".registry",
    "available": ".registry",
    "describe": ".registry",
    "from_config": ".registry",
    "get": ".registry",
    "get_class": ".registry",
    "get_fn": ".registry",
    "Curve": ".spec",
    "LossSpec": ".spec",
    "Role": ".spec",
    "loss": ".spec",
    "module_for": ".spec",
    "set_validation": ".validation",
    "validation": ".validation",
    "validation_enabled": ".validation",
}

__all__: List[str] = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'losskit._core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name], __name__), name)
    globals()[name] = value
    return value
