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
family files (``losskit._core.spec.loss``); nothing is listed by hand.
"""

from typing import Any, List

from . import (
    _families,  # noqa: F401  (importing the families declares every loss)
    functional,
)
from ._core import (
    Loss,
    all_specs,
    available,
    describe,
    from_config,
    get,
    get_class,
    get_fn,
    set_validation,
    validation,
    validation_enabled,
)
from ._core.combine import Combined, combine
from ._version import __version__

_MODULES = {spec.module_name: spec.module for spec in all_specs()}
globals().update(_MODULES)

__all__: List[str] = [
    "__version__",
    "functional",
    "Loss",
    "combine",
    "Combined",
    "get",
    "get_fn",
    "get_class",
    "describe",
    "available",
    "from_config",
    "set_validation",
    "validation",
    "validation_enabled",
    *_MODULES,
]


def __getattr__(name: str) -> Any:
    # Module classes are set above from the declarations; this hook only answers names that do not
    # exist (and tells type checkers that the derived class names are attributes of this package).
    raise AttributeError(f"module 'losskit' has no attribute {name!r}")
