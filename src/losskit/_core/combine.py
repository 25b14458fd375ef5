"""``losskit.combine``: a weighted sum of loss modules that logs each term.

    crit = lk.combine(lk.DiceLoss(), lk.CrossEntropyLoss(), weights=(1.0, 0.5))
    loss = crit(logits, target)        # 1.0 * dice + 0.5 * cross-entropy
    crit.last                          # {"dice": tensor(...), "cross_entropy": tensor(...)}, detached

Not a registry entry (it has no functional of its own); ``get_config`` nests
the terms' configs and :func:`losskit.from_config` rebuilds the combination.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Dict, Optional, Sequence

import torch
from torch import nn

__all__ = ["Combined", "combine", "COMBINE_NAME"]

#: the ``"name"`` of a combination's config (``from_config`` dispatches on it)
COMBINE_NAME = "combine"


def _term_name(term: nn.Module) -> str:
    name = getattr(term, "name", None)
    return name if isinstance(name, str) and name else type(term).__name__


class Combined(nn.Module):
    """The weighted sum of loss modules, each called with the same ``(input, target)``.

    The terms are registered submodules (``state_dict``, ``.to()``,
    ``.double()``, pickle and deepcopy follow them). After each call,
    ``last`` maps each term's name (its registry name, else its class name;
    a repeated name gets ``_2``, ``_3``, ...) to its unweighted value,
    detached, for logging.
    """

    def __init__(self, *losses: nn.Module, weights: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if not losses:
            raise ValueError("losskit.combine: losses must hold at least one loss module; got none")
        for i, term in enumerate(losses):
            if not isinstance(term, nn.Module):
                raise TypeError(
                    f"losskit.combine: loss {i} must be an nn.Module (a losskit loss such as lk.DiceLoss()); "
                    f"got {type(term).__name__}"
                )
        if weights is None:
            weights = (1.0,) * len(losses)
        if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
            raise TypeError(f"losskit.combine: weights must be a sequence of numbers; got {type(weights).__name__}")
        if len(weights) != len(losses):
            raise ValueError(
                f"losskit.combine: weights must have one entry per loss ({len(losses)}); got {len(weights)}"
            )
        for i, w in enumerate(weights):
            if isinstance(w, bool) or not isinstance(w, Real):
                raise TypeError(f"losskit.combine: weights[{i}] must be a real number; got {w!r}")
            if not math.isfinite(float(w)):
                raise ValueError(f"losskit.combine: weights[{i}] must be finite; got {w!r}")
        self.terms = nn.ModuleList(losses)
        self.weights = tuple(float(w) for w in weights)
        self.names = self._unique_names()
        self.last: Dict[str, torch.Tensor] = {}

    def _unique_names(self) -> tuple:
        seen: Dict[str, int] = {}
        names = []
        for term in self.terms:
            base = _term_name(term)
            seen[base] = seen.get(base, 0) + 1
            names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
        return tuple(names)

    def forward(self, input: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        values = [term(input, target, **kwargs) for term in self.terms]
        self.last = {name: value.detach() for name, value in zip(self.names, values)}
        total = self.weights[0] * values[0]
        for w, value in zip(self.weights[1:], values[1:]):
            total = total + w * value
        return total

    def extra_repr(self) -> str:
        return f"weights={self.weights}"

    def get_config(self) -> Dict[str, Any]:
        """``{"name": "combine", "losses": [each term's config], "weights": [...]}``, JSON-serialisable."""
        configs = []
        for i, term in enumerate(self.terms):
            get_config = getattr(term, "get_config", None)
            if not callable(get_config):
                raise TypeError(
                    f"losskit.combine: get_config needs every term to have get_config(); loss {i} "
                    f"({type(term).__name__}) has none"
                )
            configs.append(get_config())
        return {"name": COMBINE_NAME, "losses": configs, "weights": list(self.weights)}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Combined:
        from .registry import from_config

        losses = config.get("losses")
        if not isinstance(losses, list):
            raise ValueError("losskit.from_config: a 'combine' config needs a 'losses' list, as get_config() returns")
        return cls(*(from_config(c) for c in losses), weights=config.get("weights"))


def combine(*losses: nn.Module, weights: Optional[Sequence[float]] = None) -> Combined:
    """A module returning ``Σ weights[i] · losses[i](input, target)``; ``.last`` holds each term, detached.

    Args:
        *losses: loss modules (at least one), each called with the same ``(input, target)``
            and any keyword arguments of the call.
        weights: one number per loss (default: all 1).

    Returns:
        A :class:`Combined` module.

    Example:
        >>> import losskit as lk
        >>> crit = lk.combine(lk.DiceLoss(), lk.CrossEntropyLoss(), weights=(1.0, 0.5))
        >>> logits, target = torch.zeros(1, 2, 3), torch.tensor([[0, 1, 1]])
        >>> float(crit(logits, target)) == float(crit.last["dice"] + 0.5 * crit.last["cross_entropy"])
        True
    """
    return Combined(*losses, weights=weights)
