"""Losses under ``torch.autocast``: float32 inside, as torch's own losses (autocast's float32 list).

A training step under ``torch.autocast`` calls the loss with autocast on. losskit's losses run with it off
(``_core.spec``): inputs in half precision are computed in float32 as always, and the loss's own matrix
products and reductions stay float32. Before, the embedding losses came back in bfloat16 (0.5% off) and
``contrastive``, ``info_nce`` and ``linear_cross_entropy`` raised: their custom Functions met a bfloat16
product next to float32 tensors.
"""

from __future__ import annotations

import pytest
import torch

import losskit.keras as lkk

from .loss_db import LossInfo, battery_cases
from .test_common import _call_fn, _reductions, _samples, _with_reduction

ENTRIES = battery_cases()


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def entry(request) -> LossInfo:
    return request.param


def _step(entry, sample, autocast: bool):
    args, kwargs = sample.materialize(torch.float32, requires_grad=True)
    leaves = [args[i] for i in (sample.grad_args or ()) if isinstance(args[i], torch.Tensor)]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = _call_fn(entry, args, kwargs)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True) if leaves and out.requires_grad else ()
    return out, grads


def test_a_loss_under_autocast_is_the_float32_loss(entry):
    for sample in _samples(entry)[:2]:
        # a critic passed in, or an argument the sample derives through one (r1's D(x)): the caller's network
        calls_user_code = any(role.also == "callable" for role in entry.spec.roles) or any(
            callable(getattr(a, "derive", None)) for a in sample.args
        )
        for reduction in _reductions(entry):
            s = _with_reduction(sample, reduction)
            expected, expected_grads = _step(entry, s, autocast=False)
            actual, grads = _step(entry, s, autocast=True)
            what = f"{entry.name} {sample.desc} {reduction}"
            assert actual.dtype == torch.float32, f"{what}: {actual.dtype}"
            if calls_user_code:  # the caller's critic runs under the caller's autocast: a bfloat16 network
                torch.testing.assert_close(actual, expected, rtol=0.05, atol=1e-3, msg=what)
                continue
            torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=what)
            for g, e in zip(grads, expected_grads):
                if e is not None:
                    torch.testing.assert_close(g, e, rtol=0, atol=0, equal_nan=True, msg=f"{what} gradient")


def test_keras_functions_under_autocast_are_float32():
    from .test_sync_free import _keras_cases

    for name, y_true, y_pred, kwargs in _keras_cases():
        y_pred = y_pred.float()
        y_true = y_true.float() if y_true.is_floating_point() else y_true
        expected = getattr(lkk, name)(y_true, y_pred, **kwargs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            actual = getattr(lkk, name)(y_true, y_pred, **kwargs)
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=f"keras {name} {kwargs}")


def test_a_bfloat16_model_output_under_autocast_gives_a_float32_loss():
    """The usual step: the model's logits come out of autocast in bfloat16; the loss is float32 (DESIGN §4)."""
    import losskit.functional as LF

    model = torch.nn.Linear(6, 4)
    x, t = torch.randn(8, 6), torch.randint(0, 4, (8,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        assert logits.dtype == torch.bfloat16
        loss = LF.softmax_focal_loss(logits, t)
        infonce = LF.info_nce_loss(model(x), model(x + 0.1))
    assert loss.dtype == torch.float32 and infonce.dtype == torch.float32
    (loss + infonce).backward()
    assert model.weight.grad is not None and torch.isfinite(model.weight.grad).all()
