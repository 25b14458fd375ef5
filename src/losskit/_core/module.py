"""The ``Loss`` base class every losskit module derives from.

A module is a thin shell around its functional: hyperparameters are plain
attributes named like the functional's keywords, tensor hyperparameters
(class ``weight``, ``pos_weight``, quantile tensors) are buffers so they follow
``.to()`` and ``state_dict``, and ``forward`` is one call of the functional.
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Tuple

import torch
from torch import nn

from .validation import BASE_REDUCTIONS, check_reduction

__all__ = ["Loss", "ReductionLoss"]


class Loss(nn.Module):
    """Base class of losskit's loss modules.

    Subclasses set ``functional`` (a staticmethod), pass their hyperparameters
    to ``super().__init__(**hparams)`` after checking them, and are decorated
    with :func:`losskit._core.registry.register`.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    functional: ClassVar[Any] = None
    reductions: ClassVar[Tuple[str, ...]] = BASE_REDUCTIONS
    #: hyperparameters that are tensors (or None): stored as buffers, rebuilt as tensors by from_config
    tensor_hparams: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, **hparams: Any) -> None:
        super().__init__()
        if "reduction" in hparams:
            check_reduction(type(self).__name__, hparams["reduction"], self.reductions)
        self._hparam_names = tuple(hparams)
        for key, value in hparams.items():
            if isinstance(value, (list, tuple)) and key in self.tensor_hparams:
                value = torch.tensor(value, dtype=torch.get_default_dtype())
            if isinstance(value, torch.Tensor) or (value is None and key in self.tensor_hparams):
                self.register_buffer(key, None if value is None else value.detach().clone())
            else:
                setattr(self, key, value)

    def hparams(self) -> Dict[str, Any]:
        """The keyword arguments ``forward`` passes to the functional."""
        return {k: getattr(self, k) for k in self._hparam_names}

    def forward(self, input: torch.Tensor, target: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return type(self).functional(input, target, *args, **self.hparams(), **kwargs)

    def extra_repr(self) -> str:
        parts = []
        for k, v in self.hparams().items():
            if isinstance(v, torch.Tensor):
                v = v.tolist() if v.numel() <= 8 else f"tensor(shape={tuple(v.shape)})"
            parts.append(f"{k}={v!r}")
        return ", ".join(parts)

    def get_config(self) -> Dict[str, Any]:
        """Plain-Python hyperparameters, with the registry name under ``"name"``."""
        config: Dict[str, Any] = {"name": self.name}
        for k, v in self.hparams().items():
            config[k] = v.tolist() if isinstance(v, torch.Tensor) else v
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Loss":
        kwargs = {k: v for k, v in config.items() if k != "name"}
        for k in cls.tensor_hparams:
            if isinstance(kwargs.get(k), (list, tuple)):
                kwargs[k] = torch.tensor(kwargs[k], dtype=torch.get_default_dtype())
        return cls(**kwargs)


class ReductionLoss(Loss):
    """Base of the modules whose only hyperparameter is ``reduction``."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
