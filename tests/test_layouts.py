"""Memory layouts, over every battery entry: strided inputs give the contiguous inputs' numbers, and no loss
writes into a tensor it was given.

The battery's samples are fresh, contiguous tensors. Users pass slices, transposes and views; a fused path that
reads ``data_ptr`` as if the memory were contiguous (torch's CPU CTC kernel did, for 1-D targets: a wrong loss
or a crash), or an in-place operation on an input, passes every other test.
"""

from __future__ import annotations

import pytest
import torch

from .loss_db import LossInfo, Sample, battery_cases
from .test_common import _call_fn, _reductions, _samples, _with_reduction

ENTRIES = battery_cases()


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def entry(request) -> LossInfo:
    return request.param


def _strided(t: torch.Tensor) -> torch.Tensor:
    """The same values as ``t``, every other element of a buffer twice its size (not contiguous)."""
    buffer = torch.zeros(t.shape + (2,), dtype=t.dtype)
    buffer[..., 0] = t
    return buffer[..., 0]


def _step(entry: LossInfo, sample: Sample, args: list, kwargs: dict, leaves: list):
    out = _call_fn(entry, args, kwargs)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True) if leaves and out.requires_grad else ()
    return out.detach(), grads


def test_strided_inputs_give_the_contiguous_values(entry):
    for sample in _samples(entry)[:2]:
        for reduction in _reductions(entry):
            s = _with_reduction(sample, reduction)
            args, kwargs = s.materialize(requires_grad=True)
            grad_args = [i for i in (s.grad_args or ()) if isinstance(args[i], torch.Tensor)]
            expected, expected_grads = _step(entry, s, args, kwargs, [args[i] for i in grad_args])
            strided, _ = s.materialize()
            leaves = []
            for i, a in enumerate(strided):
                if not isinstance(a, torch.Tensor) or a.dim() == 0:
                    continue
                if i in grad_args:  # a leaf whose strided view is what the loss receives
                    buffer = torch.zeros(a.shape + (2,), dtype=a.dtype)
                    buffer[..., 0] = a
                    buffer.requires_grad_()
                    leaves.append(buffer)
                    strided[i] = buffer[..., 0]
                else:
                    strided[i] = _strided(a)
            actual, grads = _step(entry, s, strided, kwargs, leaves)
            what = f"{entry.name} {sample.desc} {reduction}"
            torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12, equal_nan=True, msg=what)
            for g, e in zip(grads, expected_grads):
                if e is None:
                    continue
                torch.testing.assert_close(g[..., 0], e, rtol=1e-10, atol=1e-12, equal_nan=True, msg=f"{what} grad")


def test_inputs_are_not_written_to(entry):
    for sample in _samples(entry)[:2]:
        for reduction in _reductions(entry):
            s = _with_reduction(sample, reduction)
            args, kwargs = s.materialize(requires_grad=True)
            before = [a.detach().clone() if isinstance(a, torch.Tensor) else None for a in args]
            kw_before = {k: v.clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)}
            out = _call_fn(entry, args, kwargs)
            if out.requires_grad:
                out.sum().backward()
            for i, (a, b) in enumerate(zip(args, before)):
                if b is not None:
                    assert (
                        torch.equal(a.detach(), b)
                        or torch.equal(a.detach().isnan(), b.isnan())
                        and torch.equal(a.detach().nan_to_num(), b.nan_to_num())
                    ), f"{entry.name} {sample.desc} {reduction}: argument {i} was modified"
            for k, v in kw_before.items():
                assert torch.equal(kwargs[k], v), f"{entry.name} {sample.desc} {reduction}: {k} was modified"
