"""Checking that a loss reads no accelerator data on the host, on a machine without an accelerator.

``torch.cuda.set_sync_debug_mode("error")`` catches host syncs on a GPU. Here
the same is checked on CPU: :func:`as_accelerator` makes losskit treat CPU
tensors as accelerator tensors (its sync-free paths run: device-side asserts,
no host looks at results), and :class:`HostReads` fails on every operator
that would synchronise a device with the host — a scalar read (``item``,
``bool``, ``float``, ``int`` of a tensor all go through
``aten._local_scalar_dense``), ``nonzero`` and the operators whose output size
depends on the data (boolean-mask indexing calls ``nonzero``), copies to
NumPy or Python lists, and ``torch.tensor`` of host data (a blocking copy to
the device).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import traceback
from typing import Iterator, List

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# by module path: ``losskit._core.validation`` as an attribute is the context manager of that name
_validation = importlib.import_module("losskit._core.validation")

aten = torch.ops.aten

#: operators whose result needs the device's data on the host (a scalar, or an output size from the data)
SYNCING = {
    aten._local_scalar_dense,
    aten.nonzero,
    aten.masked_select,
    aten.is_nonzero,
    aten.equal,
    aten._unique2,
    aten.unique_dim,
    aten.unique_consecutive,
    aten.unique_dim_consecutive,
    aten.repeat_interleave,
    aten.bincount,
    aten.histc,
    # torch.tensor(host data): a blocking host-to-device copy on an accelerator, which
    # set_sync_debug_mode("error") also refuses (torch.full or a Python scalar operand copy nothing)
    aten.lift_fresh,
    aten.lift_fresh_copy,
}
_FROM_HOST = {aten.lift_fresh, aten.lift_fresh_copy}


class HostRead(AssertionError):
    """A loss read tensor data on the host where it would synchronise with an accelerator."""


_TORCH_DIR = os.path.dirname(torch.__file__)


def _called_from_losskit(frames: List[traceback.FrameSummary]) -> bool:
    """Whether the innermost frame outside torch (and this file) is losskit's: an operator a loss runs, not one
    that user code it calls runs (a critic, a sample's derivation)."""
    for frame in reversed(frames):
        if frame.filename.startswith(_TORCH_DIR) or frame.filename == __file__:
            continue
        return f"{os.sep}losskit{os.sep}" in frame.filename
    return False


class HostReads(TorchDispatchMode):
    """Raise :class:`HostRead` (with the caller's frames) on every operator in :data:`SYNCING` a loss runs."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in SYNCING and not (
            func.overloadpacket is aten.repeat_interleave and (kwargs or {}).get("output_size") is not None
        ):
            stack = traceback.extract_stack()
            if _called_from_losskit(stack):
                frames = [f for f in stack if f"{os.sep}losskit{os.sep}" in f.filename]
                where = "; ".join(f"{f.filename.rsplit('/losskit/', 1)[1]}:{f.lineno} {f.name}" for f in frames[-3:])
                what = "copies host data to the device" if func.overloadpacket in _FROM_HOST else "reads device data"
                raise HostRead(f"{func} {what} (at {where})")
        return func(*args, **(kwargs or {}))


def _refuse(name: str):
    def refused(self, *args, **kwargs):
        raise HostRead(f"Tensor.{name} copies device data to the host")

    return refused


@contextlib.contextmanager
def as_accelerator() -> Iterator[None]:
    """Within the block, losskit treats CPU tensors as accelerator tensors (its sync-free paths run)."""
    previous = _validation._AS_ACCELERATOR
    _validation._AS_ACCELERATOR = True
    try:
        yield
    finally:
        _validation._AS_ACCELERATOR = previous


@contextlib.contextmanager
def no_host_reads() -> Iterator[None]:
    """:func:`as_accelerator` and :class:`HostReads`, with ``Tensor.tolist`` / ``numpy`` refused too."""
    patched: List[str] = ["tolist", "numpy"]
    saved = {name: getattr(torch.Tensor, name) for name in patched}
    try:
        for name in patched:
            setattr(torch.Tensor, name, _refuse(name))
        with as_accelerator(), HostReads():
            yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)
