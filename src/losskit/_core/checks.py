"""The hyperparameter validators declarations use: ``hparams={"delta": positive}``.

Each is a :class:`~losskit._core.spec.Check`: it raises with losskit's one
message form (function, argument, what was expected, what was received) and
carries a short text of what it accepts, which ``describe``, ``losskit info``
and the module docstrings show. The functional and the module constructor run
the same instance, so a rule is written once.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from .spec import Check
from .validation import check_class_weight, check_number

__all__ = [
    "number",
    "positive",
    "non_negative",
    "unit_interval",
    "open_unit_interval",
    "real",
    "optional_positive",
    "boolean",
    "integer",
    "optional_integer",
    "class_weight",
    "optional_tensor",
    "one_of",
    "custom",
]


def _interval_text(low: Optional[float], high: Optional[float], low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (")" if high_open or high is None else "]")


def number(
    low: Optional[float] = None,
    high: Optional[float] = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> Check:
    """A real number in an interval (``None`` too with ``allow_none``)."""

    def run(fn: str, name: str, value: Any) -> None:
        check_number(fn, name, value, low=low, high=high, low_open=low_open, high_open=high_open, allow_none=allow_none)

    text = "a real number in " + _interval_text(low, high, low_open, high_open) + (", or None" if allow_none else "")
    return Check(run, text)


positive = number(0.0, low_open=True)
non_negative = number(0.0)
unit_interval = number(0.0, 1.0)
open_unit_interval = number(0.0, 1.0, low_open=True, high_open=True)
real = number()
optional_positive = number(0.0, low_open=True, allow_none=True)


def _check_bool(fn: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be True or False; got {value!r}")


def _check_int(fn: str, name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fn}: {name} must be an integer{' or None' if allow_none else ''}; got {value!r}")


boolean = Check(_check_bool, "True or False")
integer = Check(_check_int, "an integer")
optional_integer = Check(lambda fn, name, value: _check_int(fn, name, value, allow_none=True), "an integer or None")
class_weight = Check(
    lambda fn, name, value: check_class_weight(fn, value, None, name),
    "a 1-D floating tensor of per-class weights (C,), or None",
    tensor=True,
)


def _check_optional_tensor(fn: str, name: str, value: Any) -> None:
    if value is not None and not isinstance(value, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor or None; got {type(value).__name__}")


optional_tensor = Check(_check_optional_tensor, "a floating tensor broadcastable to the loss, or None", tensor=True)


def one_of(*choices: Any) -> Check:
    """One of a few exact values (``p`` of multi_margin: 1 or 2)."""

    def run(fn: str, name: str, value: Any) -> None:
        if isinstance(value, bool) or value not in choices or type(value) not in {type(c) for c in choices}:
            raise ValueError(f"{fn}: {name} must be {' or '.join(repr(c) for c in choices)}; got {value!r}")

    return Check(run, " or ".join(repr(c) for c in choices))


def custom(run: Callable[[str, str, Any], None], text: str, *, tensor: bool = False) -> Check:
    """A loss-specific validator (a number or a tensor of quantiles, ...)."""
    return Check(run, text, tensor)
