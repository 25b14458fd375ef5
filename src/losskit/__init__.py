"""losskit: the complete, verified, fast loss-function library for PyTorch.

    import losskit as lk
    import losskit.functional as LF

    LF.huber_loss(pred, target, delta=0.5)      # functional
    crit = lk.HuberLoss(delta=0.5)              # nn.Module
    crit = lk.get("huber", delta=0.5)           # by name or alias
    lk.describe("huber")                        # the declaration: roles, hyperparameters, references
    lk.from_config(crit.get_config())           # round trip
    lk.combine(lk.DiceLoss(), lk.CrossEntropyLoss(), weights=(1.0, 0.5))   # weighted sum, .last per term

The module classes exported here are derived from the declarations in the
family files (``losskit._core.spec.loss``); nothing is listed by hand. They,
the API functions and torch itself are loaded on first use, so ``import
losskit`` and the ``losskit`` command's ``--help`` stay quick.
"""

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - what type checkers and IDEs see
    from . import functional
    from ._core.combine import Combined, combine
    from ._core.module import Loss
    from ._core.registry import available, describe, from_config, get, get_class, get_fn
    from ._core.validation import set_validation, validation, validation_enabled
    from .classification.long_tail import class_balanced_weights

#: the API functions, by the module that defines them (imported on first use)
_API = {
    "Loss": "._core.module",
    "get": "._core.registry",
    "get_fn": "._core.registry",
    "get_class": "._core.registry",
    "describe": "._core.registry",
    "available": "._core.registry",
    "from_config": "._core.registry",
    "set_validation": "._core.validation",
    "validation": "._core.validation",
    "validation_enabled": "._core.validation",
    "combine": "._core.combine",
    "Combined": "._core.combine",
    "class_balanced_weights": ".classification.long_tail",
}


def _module_classes() -> Dict[str, type]:
    """``{class name: module class}`` of every declared loss (importing the families declares them)."""
    from ._core.registry import all_specs, get_class

    return {spec.module_name: get_class(spec.name) for spec in all_specs()}


def __getattr__(name: str) -> Any:
    if name == "functional":
        value: Any = importlib.import_module(".functional", __name__)
    elif name in _API:
        value = getattr(importlib.import_module(_API[name], __name__), name)
    elif name == "__all__":
        return ["__version__", "functional", *_API, *_module_classes()]
    else:
        classes = _module_classes() if not name.startswith("__") else {}
        if name not in classes:
            raise AttributeError(f"module 'losskit' has no attribute {name!r}")
        value = classes[name]
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> List[str]:
    return sorted({*globals(), "functional", *_API, *_module_classes()})
