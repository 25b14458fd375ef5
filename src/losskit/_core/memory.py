"""Large CPU buffers on transparent huge pages, where Linux lends them on request.

A fresh elementwise tensor costs a page fault per 4 KiB page the first time it is written: at
2^24 float32 elements (64 MiB) that is 16384 faults, about half the time of a fused loss step that
reads two such tensors and writes one. With ``MADV_HUGEPAGE`` the kernel backs the range with
2 MiB pages instead (32 faults). torch asks for this itself only under ``THP_MEM_ALLOC_ENABLE=1``,
read once at start-up; :func:`empty_like_on_huge_pages` asks for the one buffer a losskit step
allocates and writes in full (the gradient of a fused-gradient loss).

Only buffers of 32 MiB or more are advised: glibc serves them with their own mapping (its dynamic
mmap threshold stops at 32 MiB), which goes back to the system when the tensor is freed, so the
advice never outlives the tensor on memory the allocator reuses. Elsewhere (another OS, THP
``always`` or ``never``, no libc) the buffer is a plain ``torch.empty_like``.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Callable, Optional

import torch

_HUGE_PAGE = 1 << 21
_MIN_BYTES = 1 << 25
_MADV_HUGEPAGE = 14  # linux/mman.h
_THP_MODE = "/sys/kernel/mm/transparent_hugepage/enabled"

Madvise = Callable[[int, int, int], int]
_madvise: Optional[Madvise] = None
_looked_up = False


def _find_madvise() -> Optional[Madvise]:
    """libc's madvise where transparent huge pages are lent on request ("[madvise]"), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open(_THP_MODE) as mode:
            if "[madvise]" not in mode.read():  # "always": every range has them already; "never": none has
                return None
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def huge_page_advice() -> Optional[Madvise]:
    """The madvise call :func:`empty_like_on_huge_pages` makes, looked up once; None where it makes none."""
    global _madvise, _looked_up
    if not _looked_up:
        _madvise, _looked_up = _find_madvise(), True
    return _madvise


def empty_like_on_huge_pages(like: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like(like)`` (contiguous), its 2 MiB-aligned interior advised onto huge pages.

    The advice is given before anything touches the memory, so the first writes fault in huge pages.
    It is only advice: if the kernel has no huge page to give, or the call fails, the tensor is the
    same tensor on ordinary pages.

    Example:
        >>> empty_like_on_huge_pages(torch.zeros(3)).shape
        torch.Size([3])
    """
    out = torch.empty_like(like, memory_format=torch.contiguous_format)
    if out.device.type != "cpu" or out.numel() * out.element_size() < _MIN_BYTES:
        return out
    madvise = huge_page_advice()
    if madvise is not None:
        begin = out.data_ptr()
        start = (begin + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
        end = (begin + out.numel() * out.element_size()) & ~(_HUGE_PAGE - 1)
        if end > start:
            madvise(start, end - start, _MADV_HUGEPAGE)
    return out
