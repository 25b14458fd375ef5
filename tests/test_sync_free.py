"""No host sync on accelerators (issue 17): every loss's forward and backward, and its data checks.

On an accelerator, reading a tensor's values on the host makes the host wait
for the device. losskit's data checks run there as device-side assertions,
and its looks at a fused kernel's result (the limits at ±inf, torch's "mean"
of nothing) give way to the careful path on every call. These tests run the
battery's samples with CPU tensors treated as accelerator tensors
(``tests/sync_free.py``): no operator that reads data on the host may run,
the values and gradients must be the ones the host paths give (the ±inf
samples included), and bad data must still fail, as an assertion. Where a
CUDA device is present, the same runs on it under
``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Dict

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import losskit as lk
import losskit.functional as LF
import losskit.keras as lkk

from .loss_db import LossInfo, Sample, battery_cases
from .sync_free import HostRead, HostReads, as_accelerator, no_host_reads
from .test_common import _call_fn, _pick, _reductions, _samples, _with_reduction

ENTRIES = battery_cases()
IDS = [e.name for e in ENTRIES]

#: losses that read device data on the host by design, each with the reason
HOST_BOUND = {
    "ctc": "torch's ctc_loss copies the lengths to the host itself (its tensor-lengths overload calls .to('cpu'))",
}


@pytest.fixture(params=ENTRIES, ids=IDS)
def entry(request) -> LossInfo:
    return request.param


def _step(entry: LossInfo, sample: Sample, reduction):
    """(loss, gradients of the sample's grad args) for one forward and backward."""
    args, kwargs = _with_reduction(sample, reduction).materialize(requires_grad=True)
    out = _call_fn(entry, args, kwargs)
    grads = []
    if sample.grad_args and out.requires_grad:
        out.sum().backward()
        grads = [args[i].grad for i in sample.grad_args]
    return out.detach(), grads


def test_no_host_reads(entry):
    """Forward and backward of the battery's samples, every reduction: no operator reads device data."""
    if entry.name in HOST_BOUND:
        pytest.skip(HOST_BOUND[entry.name])
    for sample in _samples(entry)[:3]:
        for reduction in _reductions(entry):
            with no_host_reads():
                _step(entry, sample, reduction)


def test_host_bound_losses_still_read_on_the_host():
    """The exemptions stay true: a loss removed from the host-bound list would fail the test above."""
    for name in HOST_BOUND:
        entry = next(e for e in ENTRIES if e.name == name)
        with pytest.raises(HostRead):
            with no_host_reads():
                _step(entry, _samples(entry)[0], _reductions(entry)[0])


def _assert_same(actual, expected, what):
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12, equal_nan=True, msg=what)


def test_accelerator_paths_give_the_host_values(entry):
    """The sync-free paths (careful every call, device-side checks) give the host paths' values and gradients.

    Over ordinary samples, the saturated extremes and the ±inf samples, where the host paths look at a
    result and only then take the limits.
    """
    samples = [*_samples(entry)[:2], *entry.extremes(), *entry.inf_extremes()]
    for sample in samples:
        for reduction in _pick(entry, "none", "sum", "mean"):
            expected, expected_grads = _step(entry, sample, reduction)
            with as_accelerator():
                actual, grads = _step(entry, sample, reduction)
            what = f"{entry.name} {sample.desc} {reduction}"
            _assert_same(actual, expected, what)
            for g, e in zip(grads, expected_grads):
                _assert_same(g, e, f"{what} gradient")


KERAS_EXTRA = {  # losses outside test_keras.CASES, each (y_true, y_pred, keywords)
    "sparse_categorical_crossentropy": (torch.tensor([0, 2, 1, 3, 3]), torch.randn(5, 4), {"from_logits": True}),
    "sparse_categorical_crossentropy@ignore": (
        torch.tensor([0, 2, -1, 3, 3]),
        torch.randn(5, 4),
        {"from_logits": True, "ignore_class": -1},
    ),
    "dice": (torch.randint(0, 2, (2, 4, 4, 3)).float(), torch.rand(2, 4, 4, 3), {}),
    "tversky": (torch.randint(0, 2, (2, 4, 4, 3)).float(), torch.rand(2, 4, 4, 3), {"alpha": 0.3, "beta": 0.7}),
    "circle": (torch.tensor([0, 0, 1, 1, 2]), torch.randn(5, 3), {}),
}


def _keras_cases():
    from .test_keras import CASES, _pair

    for name, (_, _, kws) in CASES.items():
        y_true, y_pred = _pair(name, "2d")
        for kw in kws:
            yield name.split("@")[0], torch.tensor(y_true), torch.tensor(y_pred), kw
    for name, (y_true, y_pred, kw) in KERAS_EXTRA.items():
        yield name.split("@")[0], y_true, y_pred.double(), kw


def test_keras_layer_reads_nothing_on_the_device():
    """losskit.keras: every function's forward and backward without a host read, with the host path's values."""
    for name, y_true, y_pred, kw in _keras_cases():
        results = []
        for mode in (None, no_host_reads):
            pred = y_pred.clone().requires_grad_()
            if mode is None:
                out = getattr(lkk, name)(y_true, pred, **kw)
                out.sum().backward()
            else:
                with mode():
                    out = getattr(lkk, name)(y_true, pred, **kw)
                    out.sum().backward()
            results.append((out.detach(), pred.grad))
        (expected, expected_grad), (actual, grad) = results
        _assert_same(actual, expected, f"keras {name} {kw}")
        _assert_same(grad, expected_grad, f"keras {name} {kw} gradient")


@pytest.mark.parametrize(
    "kwargs",
    [{"padding_value": 0}, {"hypothesis_lengths": torch.tensor([3, 2]), "truth_lengths": torch.tensor([3, 1])}],
    ids=["padding", "lengths"],
)
def test_edit_distance_on_the_device_is_the_tensor_dynamic_programme(kwargs):
    """Off the host edit_distance runs its batched dynamic programme in tensors (no copy to rapidfuzz)."""
    hyp = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    ref = torch.tensor([[1, 3, 3, 0], [4, 0, 0, 0]])
    for normalize in (False, True):
        expected = LF.edit_distance(hyp, ref, normalize=normalize, **kwargs)
        with no_host_reads():
            actual = LF.edit_distance(hyp, ref, normalize=normalize, **kwargs)
        _assert_same(actual, expected, f"edit_distance normalize={normalize}")


class _Counts(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls: Dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


SINGLE_PASS = {  # (call, the operator the loss's main computation runs once)
    "cross_entropy": (lambda x: LF.cross_entropy(x, torch.tensor([0, 1, 2, 0])), "_log_softmax"),
    "cross_entropy probabilities": (lambda x: LF.cross_entropy(x, torch.softmax(_logits, 1)), "_log_softmax"),
    "dice": (lambda x: LF.dice_loss(x.reshape(2, 3, 2, 1), torch.tensor([[[0], [1]], [[2], [2]]])), "_softmax"),
    "sigmoid focal": (lambda x: LF.sigmoid_focal_loss(x, torch.ones(4, 3)), "sigmoid"),
}


@pytest.mark.parametrize("case", list(SINGLE_PASS), ids=list(SINGLE_PASS))
def test_the_careful_path_is_not_a_second_computation(case):
    """On an accelerator the careful path replaces the fused one (no look to choose between them): the main
    computation runs once, as on the host, not once fast and again careful."""
    call, op = SINGLE_PASS[case]
    counts = []
    for accelerator in (False, True):
        x = _logits.clone().requires_grad_()
        with contextlib.ExitStack() as stack:
            if accelerator:
                stack.enter_context(as_accelerator())
            mode = stack.enter_context(_Counts())
            call(x)
        counts.append(mode.calls.get(op, 0))
    assert counts[0] >= 1 and counts[1] == counts[0], f"{case}: {op} ran {counts[0]} / {counts[1]} times"


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_fused_gradient_regression_reads_nothing_on_the_device(name):
    """The fused-gradient path (2^17 elements and more, the battery's samples are smaller) skips its host-side
    shortcut for ``loss.backward()`` on accelerators, with the same gradient."""
    generator = torch.Generator().manual_seed(3)
    x, y = torch.randn(1 << 17, generator=generator), torch.randn(1 << 17, generator=generator)
    results = []
    for mode in (contextlib.nullcontext, no_host_reads):
        leaf = x.clone().requires_grad_()
        with mode():
            out = getattr(LF, name)(leaf, y)
            out.backward()
        results.append((out.detach(), leaf.grad))
    _assert_same(results[1][0], results[0][0], name)
    _assert_same(results[1][1], results[0][1], f"{name} gradient")


def test_bce_with_logits_on_the_device_skips_the_kernel_it_could_not_look_at():
    x = _logits.clone().requires_grad_()
    with as_accelerator(), _Counts() as mode:
        LF.binary_cross_entropy_with_logits(x, torch.ones(4, 3))
    assert mode.calls.get("binary_cross_entropy_with_logits", 0) == 0 and mode.calls.get("softplus", 0) >= 1


# ---------------------------------------------------------------------------------------------
# data checks on the device: an assertion, not a host read; off with set_validation(False)
# ---------------------------------------------------------------------------------------------

_rng = np.random.default_rng(17)
_logits = torch.tensor(_rng.standard_normal((4, 3)))
_seg = torch.tensor(_rng.standard_normal((2, 3, 4, 4)))
_boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])

BAD_DATA = {
    "cross_entropy class out of range": lambda: LF.cross_entropy(_logits.float(), torch.tensor([0, 1, 2, 3])),
    "cross_entropy class out of range, ignore_index": lambda: LF.cross_entropy(
        _logits, torch.tensor([0, -100, 2, 5]), ignore_index=-100
    ),
    "nll class out of range": lambda: LF.nll_loss(_logits.log_softmax(1), torch.tensor([0, 1, 2, -3])),
    "focal class out of range": lambda: LF.softmax_focal_loss(_logits, torch.tensor([0, 1, 7, 2])),
    "dice class out of range": lambda: LF.dice_loss(_seg, torch.full((2, 4, 4), 3)),
    "dice class out of range, ignore_index": lambda: LF.dice_loss(_seg, torch.full((2, 4, 4), 4), ignore_index=255),
    "hinge labels": lambda: LF.hinge_loss(_logits, torch.full((4, 3), 0.5, dtype=torch.float64)),
    "bce probabilities": lambda: LF.binary_cross_entropy(torch.tensor([0.5, 1.5]), torch.tensor([0.0, 1.0])),
    "gaussian_nll var": lambda: LF.gaussian_nll_loss(_logits, _logits, -torch.ones(4, 3, dtype=torch.float64)),
    "giou inverted box": lambda: LF.giou_loss(_boxes.flip(-1), _boxes),
    "arcface labels": lambda: lk.get("arcface", num_classes=3, embedding_dim=3)(
        torch.randn(4, 3), torch.tensor([0, 1, 2, 3])
    ),
    "logit_adjusted counts": lambda: LF.logit_adjusted_cross_entropy(
        _logits, torch.tensor([0, 1, 2, 0]), class_counts=torch.tensor([3.0, 0.0, 2.0])
    ),
    "edit_distance lengths": lambda: LF.edit_distance(
        torch.tensor([[1, 2], [3, 4]]),
        torch.tensor([[1, 2], [3, 4]]),
        hypothesis_lengths=torch.tensor([2, 3]),
        truth_lengths=torch.tensor([2, 2]),
    ),
    "keras sparse class out of range": lambda: lkk.sparse_categorical_crossentropy(
        torch.tensor([0, 4]), torch.randn(2, 4), from_logits=True
    ),
    "multilabel_margin class": lambda: LF.multilabel_margin_loss(
        _logits, torch.tensor([[0, 5, -1], [1, -1, 0], [2, -1, 0], [0, 1, -1]])
    ),
}


#: bad data that only losskit's check catches: with validation off the call goes through
UNCHECKED_BY_TORCH = {"hinge labels", "gaussian_nll var", "giou inverted box", "logit_adjusted counts"}


@pytest.mark.parametrize("case", list(BAD_DATA), ids=list(BAD_DATA))
def test_bad_data_is_a_device_assertion(case):
    """Bad data still stops the call on the device (torch._assert_async; an error at the next sync there),
    reading nothing on the host; on the host it is losskit's ValueError; set_validation(False) skips it."""
    call = BAD_DATA[case]
    with pytest.raises(ValueError):
        call()
    with pytest.raises(RuntimeError) as raised:  # torch._assert_async on a CPU tensor raises at once
        with as_accelerator(), HostReads():
            call()
    assert not isinstance(raised.value, HostRead), raised.value
    if case in UNCHECKED_BY_TORCH:  # elsewhere torch's own kernel still checks (a device assert on a GPU)
        with as_accelerator(), lk.validation(False):
            call()


def test_require_names_the_check_on_the_host_and_on_the_device():
    from losskit._core.validation import require

    ok = torch.tensor([True, False])
    with pytest.raises(ValueError, match="^f: detail$"):
        require(ok, "f: message", lambda: "f: detail")
    with pytest.raises(ValueError, match="^f: message$"):
        require(ok, "f: message")
    with as_accelerator(), pytest.raises(RuntimeError, match="f: message"):
        require(ok, "f: message", lambda: pytest.fail("detail must not be built on the device"))
    require(torch.tensor([True, True]), "f: message")
    with as_accelerator():
        require(torch.ones(3, dtype=torch.bool), "f: message")


def test_a_device_without_async_asserts_reads_on_the_host(monkeypatch):
    """torch has ``_assert_async`` kernels for CPU and CUDA only: on another accelerator (MPS) a check falls back to
    the host read (one sync, a ValueError) instead of failing with NotImplementedError or checking nothing."""
    module = importlib.import_module("losskit._core.validation")  # the attribute of that name is a function

    def no_kernel(*args, **kwargs):
        raise NotImplementedError("_assert_async: no kernel for this backend")

    monkeypatch.setattr(torch, "_assert_async", no_kernel)
    monkeypatch.setattr(module, "_NO_ASYNC_ASSERT", set())
    with as_accelerator():
        with pytest.raises(ValueError, match="target contains a class outside the valid range"):
            LF.cross_entropy(_logits, torch.tensor([0, 1, 2, 3]))
        assert module._NO_ASYNC_ASSERT == {"cpu"}  # remembered: later checks go to the host at once
        with pytest.raises(ValueError, match="var must be non-negative"):
            LF.gaussian_nll_loss(_logits, _logits, -torch.ones(4, 3, dtype=torch.float64))
        LF.cross_entropy(_logits, torch.tensor([0, 1, 2, 0]))  # good data passes


# ---------------------------------------------------------------------------------------------
# on a real accelerator
# ---------------------------------------------------------------------------------------------


def _to_cuda(sample: Sample) -> Sample:
    def move(v):
        return v.cuda() if isinstance(v, torch.Tensor) else v

    return Sample(
        tuple(move(a) for a in sample.args),
        {k: move(v) for k, v in sample.kwargs.items()},
        sample.grad_args,
        sample.desc,
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_and_backward_without_sync(entry):
    """Under torch.cuda.set_sync_debug_mode("error"): any synchronising call in a loss raises."""
    if entry.name in HOST_BOUND:
        pytest.skip(HOST_BOUND[entry.name])
    for sample in _samples(entry)[:2]:
        sample = _to_cuda(sample)
        for reduction in _reductions(entry):
            args, kwargs = _with_reduction(sample, reduction).materialize(requires_grad=True)
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
            try:
                out = _call_fn(entry, args, kwargs)
                if sample.grad_args and out.requires_grad:
                    out.sum().backward()
            finally:
                torch.cuda.set_sync_debug_mode("default")
            torch.cuda.synchronize()
