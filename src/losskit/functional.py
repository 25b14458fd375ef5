"""Every losskit functional, in one namespace (like ``torch.nn.functional``).

    import losskit.functional as LF
    LF.huber_loss(pred, target, delta=0.5)

The names are derived from the declarations in the family files.
"""

from typing import Any, List

from . import _families  # noqa: F401  (importing the families declares every loss)
from ._core.registry import all_specs

_FUNCTIONALS = {spec.functional.__name__: spec.functional for spec in all_specs()}
globals().update(_FUNCTIONALS)

__all__: List[str] = list(_FUNCTIONALS)


def __getattr__(name: str) -> Any:
    # the functionals are set above from the declarations; this hook answers only missing names
    raise AttributeError(f"module 'losskit.functional' has no attribute {name!r}")
