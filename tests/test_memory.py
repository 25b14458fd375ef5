"""_core/memory.py: the large buffers the fused-gradient paths write, advised onto transparent huge pages."""

import pytest
import torch

from losskit._core import memory

LARGE = memory._MIN_BYTES // 4 + 1000  # float32 elements: just over the 32 MiB the advice starts at


@pytest.fixture
def recorded_advice(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_madvise", lambda start, length, advice: calls.append((start, length, advice)) or 0)
    monkeypatch.setattr(memory, "_looked_up", True)
    return calls


def test_large_buffers_are_advised_on_their_aligned_interior(recorded_advice):
    like = torch.zeros(LARGE)
    out = memory.empty_like_on_huge_pages(like)
    assert out.shape == like.shape and out.dtype == like.dtype and out.is_contiguous()
    assert out.data_ptr() != like.data_ptr()
    ((start, length, advice),) = recorded_advice
    begin, nbytes = out.data_ptr(), out.numel() * out.element_size()
    assert advice == memory._MADV_HUGEPAGE
    assert start % memory._HUGE_PAGE == 0 and length % memory._HUGE_PAGE == 0 and length > 0
    assert begin <= start and start + length <= begin + nbytes
    assert nbytes - length < 2 * memory._HUGE_PAGE  # every whole huge page inside the buffer
    out.fill_(2.0)  # the memory is the tensor's, whatever the kernel made of the advice
    assert out.sum().item() == 2.0 * LARGE


def test_small_and_non_contiguous_inputs(recorded_advice):
    small = memory.empty_like_on_huge_pages(torch.zeros(1000))
    assert small.shape == (1000,) and not recorded_advice
    strided = torch.zeros(LARGE // 2, 2).t()
    out = memory.empty_like_on_huge_pages(strided)
    assert out.shape == strided.shape and out.is_contiguous() and len(recorded_advice) == 1


def test_without_the_call_the_buffer_is_a_plain_empty_like(monkeypatch):
    monkeypatch.setattr(memory, "_madvise", None)
    monkeypatch.setattr(memory, "_looked_up", True)
    out = memory.empty_like_on_huge_pages(torch.zeros(LARGE, dtype=torch.float64))
    assert out.shape == (LARGE,) and out.dtype == torch.float64


def test_the_real_call_succeeds_where_the_kernel_lends_huge_pages_on_request():
    madvise = memory.huge_page_advice()
    if madvise is None:
        pytest.skip("no transparent huge pages on request here (another OS, or THP 'always' / 'never')")
    out = torch.empty(LARGE)
    start = (out.data_ptr() + memory._HUGE_PAGE - 1) & ~(memory._HUGE_PAGE - 1)
    assert madvise(start, memory._HUGE_PAGE, memory._MADV_HUGEPAGE) == 0
