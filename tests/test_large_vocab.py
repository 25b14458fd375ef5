"""linear_cross_entropy: every option against F.cross_entropy(hidden @ weight.T + bias) in float64, edges, compile, CUDA."""

import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF
from losskit.large_vocab import auto_chunk_size


def _naive(h, w, y, bias=None, ignore_index=-100, label_smoothing=0.0, reduction="mean", softcap=None, z_loss=0.0):
    logits = h @ w.T
    if bias is not None:
        logits = logits + bias
    if softcap:
        logits = softcap * torch.tanh(logits / softcap)
    per = F.cross_entropy(logits, y, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none")
    valid = y != ignore_index
    if z_loss:
        per = per + z_loss * torch.where(valid, logits.logsumexp(1).square(), 0.0)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / valid.sum().clamp_min(1)


def _inputs(n=29, h=6, v=41, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, dtype=dtype)
    weight = torch.randn(v, h, generator=g, dtype=dtype)
    bias = torch.randn(v, generator=g, dtype=dtype)
    target = torch.randint(0, v, (n,), generator=g)
    return hidden, weight, bias, target


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"label_smoothing": 0.1},
        {"ignore_index": -100},
        {"ignore_index": 3, "label_smoothing": 0.3},
        {"softcap": 5.0},
        {"z_loss": 1e-3},
        {"softcap": 2.0, "z_loss": 1e-2, "label_smoothing": 0.2},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain",
)
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_matches_naive_value_and_every_gradient(reduction, with_bias, options, chunk_size):
    hidden, weight, bias, target = _inputs()
    if "ignore_index" in options:
        target[::3] = options["ignore_index"]
    bias = bias if with_bias else None
    leaves_a = [t.clone().requires_grad_() for t in (hidden, weight) + ((bias,) if with_bias else ())]
    leaves_b = [t.clone().requires_grad_() for t in (hidden, weight) + ((bias,) if with_bias else ())]
    out = LF.linear_cross_entropy(
        leaves_a[0],
        leaves_a[1],
        target,
        bias=leaves_a[2] if with_bias else None,
        reduction=reduction,
        chunk_size=chunk_size,
        **options,
    )
    ref = _naive(
        leaves_b[0], leaves_b[1], target, bias=leaves_b[2] if with_bias else None, reduction=reduction, **options
    )
    torch.testing.assert_close(out, ref, rtol=1e-8, atol=1e-10)
    grad_out = torch.randn_like(out)  # arbitrary grad_output, also per token under "none"
    for a, b in zip(torch.autograd.grad(out, leaves_a, grad_out), torch.autograd.grad(ref, leaves_b, grad_out)):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_module_and_registry():
    hidden, weight, bias, target = _inputs()
    module = lk.get("fused_linear_cross_entropy", label_smoothing=0.1, softcap=4.0)
    assert isinstance(module, lk.LinearCrossEntropyLoss)
    torch.testing.assert_close(
        module(hidden, weight, target, bias=bias),
        _naive(hidden, weight, target, bias=bias, label_smoothing=0.1, softcap=4.0),
        rtol=1e-8,
        atol=1e-10,
    )


def test_all_ignored_and_empty_are_zero_with_zero_grads():
    hidden, weight, _, target = _inputs()
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    loss = LF.linear_cross_entropy(h, w, torch.full_like(target, -100))
    loss.backward()
    assert loss.item() == 0.0 and h.grad.abs().max() == 0 and w.grad.abs().max() == 0
    h0 = torch.zeros(0, 6, requires_grad=True)
    loss = LF.linear_cross_entropy(h0, w, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_accumulate_in_float32(dtype):
    hidden, weight, bias, target = _inputs(dtype=torch.float32)
    h, w = hidden.to(dtype).requires_grad_(), weight.to(dtype).requires_grad_()
    out = LF.linear_cross_entropy(h, w, target, bias=bias.to(dtype))
    assert out.dtype == torch.float32
    ref = _naive(h.detach().float(), w.detach().float(), target, bias=bias.to(dtype).float())
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    out.backward()
    assert h.grad.dtype == dtype and w.grad.dtype == dtype


def test_auto_chunk_size_bounds_the_block():
    assert auto_chunk_size(4096, 65536) * 65536 * 4 <= 16 * 2**20
    assert auto_chunk_size(3, 10) == 8  # never fewer than 8 rows, even for a 3-row input
    assert auto_chunk_size(100, 10) == 100  # a small vocabulary takes every row in one chunk
    assert auto_chunk_size(10**6, 2**20) == 8  # a huge vocabulary still gets the 8-row floor


def test_compile_module():
    torch._dynamo.reset()
    hidden, weight, bias, target = _inputs(n=12, dtype=torch.float32)
    module = lk.LinearCrossEntropyLoss(chunk_size=5, z_loss=1e-3)
    h1, h2 = hidden.clone().requires_grad_(), hidden.clone().requires_grad_()
    eager = module(h1, weight, target, bias=bias)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")(h2, weight, target, bias=bias)
    torch.testing.assert_close(compiled, eager)
    eager.backward()
    compiled.backward()
    torch.testing.assert_close(h2.grad, h1.grad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cuda_matches_naive(reduction):
    hidden, weight, bias, target = (t.cuda() for t in _inputs())
    a = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    b = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    out = LF.linear_cross_entropy(a[0], a[1], target, bias=a[2], reduction=reduction, chunk_size=8)
    ref = _naive(b[0], b[1], target, bias=b[2], reduction=reduction)
    torch.testing.assert_close(out, ref)
    go = torch.randn_like(out)
    for x, y in zip(torch.autograd.grad(out, a, go), torch.autograd.grad(ref, b, go)):
        torch.testing.assert_close(x, y)
