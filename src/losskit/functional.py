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

# Metrics beside the losses: not declared (not differentiable, not in the registry), so listed here by hand.
from .sequence import char_error_rate, edit_distance, word_error_rate  # noqa: E402

__all__: List[str] = [*_FUNCTIONALS, "edit_distance", "char_error_rate", "word_error_rate"]


def __getattr__(name: str) -> Any:
    # the functionals are set above from the declarations; this hook answers only missing names
    raise AttributeError(f"module 'losskit.functional' has no attribute {name!r}")
