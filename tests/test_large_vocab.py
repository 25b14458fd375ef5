"""linear_cross_entropy: every option against F.cross_entropy(hidden @ weight.T + bias) in float64, torch 2.13's
F.linear_cross_entropy and nn.LinearCrossEntropyLoss on the inputs its own tests use, edges, compile, CUDA."""

import itertools
import warnings

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
        linear_bias=leaves_a[2] if with_bias else None,
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
    module = lk.get(
        "fused_linear_cross_entropy", in_features=6, num_classes=41, bias=True, label_smoothing=0.1, softcap=4.0
    )
    assert isinstance(module, lk.LinearCrossEntropyLoss)
    module = module.double()
    with torch.no_grad():
        module.linear.weight.copy_(weight)
        module.linear.bias.copy_(bias)
    torch.testing.assert_close(
        module(hidden, target),
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
    out = LF.linear_cross_entropy(h, w, target, linear_bias=bias.to(dtype))
    assert out.dtype == torch.float32
    ref = _naive(h.detach().float(), w.detach().float(), target, bias=bias.to(dtype).float())
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    out.backward()
    assert h.grad.dtype == dtype and w.grad.dtype == dtype


def test_auto_chunk_size_bounds_the_block():
    assert auto_chunk_size(4096, 65536) * 65536 * 4 <= 16 * 2**20
    # the case: 3H/4 = 192 rows, a 48 MiB block beside the 64 MiB weight gradient
    assert auto_chunk_size(4096, 65536, 256) == 192
    assert auto_chunk_size(8192, 2**18, 4096) == 3072  # a wide H: three quarters of the weight gradient
    assert auto_chunk_size(4096, 1000, 64) == 4096  # a small vocabulary: every row in one 16 MiB chunk
    assert auto_chunk_size(3, 10) == 8  # never fewer than 8 rows, even for a 3-row input
    assert auto_chunk_size(100, 10) == 100  # a small vocabulary takes every row in one chunk
    assert auto_chunk_size(10**6, 2**20) == 8  # a huge vocabulary still gets the 8-row floor


def test_compile_module():
    torch._dynamo.reset()
    hidden, weight, bias, target = _inputs(n=12, dtype=torch.float32)
    module = lk.LinearCrossEntropyLoss(6, 41, bias=True, chunk_size=5, z_loss=1e-3)
    h1, h2 = hidden.clone().requires_grad_(), hidden.clone().requires_grad_()
    eager = module(h1, target)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")(h2, target)
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
    out = LF.linear_cross_entropy(a[0], a[1], target, linear_bias=a[2], reduction=reduction, chunk_size=8)
    ref = _naive(b[0], b[1], target, bias=b[2], reduction=reduction)
    torch.testing.assert_close(out, ref)
    go = torch.randn_like(out)
    for x, y in zip(torch.autograd.grad(out, a, go), torch.autograd.grad(ref, b, go)):
        torch.testing.assert_close(x, y)


# ---------------------------------------------------------------------------------------------
# a drop-in for torch 2.13's F.linear_cross_entropy and nn.LinearCrossEntropyLoss
# ---------------------------------------------------------------------------------------------

needs_torch_lce = pytest.mark.skipif(
    not hasattr(F, "linear_cross_entropy"), reason="torch < 2.13 has no F.linear_cross_entropy"
)


def _grads(out, leaves, grad_out):
    return torch.autograd.grad(out, leaves, grad_out)


# the grid of torch's own module tests (common_modules.module_inputs_torch_nn_LinearCrossEntropyLoss): two sizes
# (one unbatched), every reduction, ignore_index None / -100 / a class / out of range, label smoothing, class
# weights, K-dimensional out_features, bias, index and probability targets
MODULE_GRID = [
    c
    for c in itertools.product(
        [(8, 5, 4), (None, 8, 4)],
        ["sum", "mean", "none"],
        [None, -100, 1, 9],
        [0.0, 0.1],
        [False, True],
        [(), (3, 2, 4)],
        [False, True],
        ["index", "probability"],
    )
    if not (c[0][0] is None and c[5]) and not (c[7] == "probability" and c[2] is not None)
]


@needs_torch_lce
@pytest.mark.parametrize("case", MODULE_GRID[::7] + MODULE_GRID[3::11], ids=str)
def test_module_is_torchs_module(case):
    """Same constructor, same initial weights (same seed), same state_dict keys, same values and gradients."""
    (n, h, c), reduction, ignore_index, ls, weighted, out_features, bias, kind = case
    w = torch.rand(c, dtype=torch.float64) + 0.5 if weighted else None
    kwargs = dict(
        out_features=out_features,
        bias=bias,
        dtype=torch.float64,
        reduction=reduction,
        weight=w,
        ignore_index=ignore_index,
        label_smoothing=ls,
    )
    torch.manual_seed(1)
    theirs = torch.nn.LinearCrossEntropyLoss(h, c, **kwargs)
    torch.manual_seed(1)
    ours = lk.LinearCrossEntropyLoss(h, c, **kwargs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
    batch = () if n is None else (n,)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(*batch, h, dtype=torch.float64, generator=gen)
    if kind == "probability":
        t = torch.rand(*batch, c, *out_features, dtype=torch.float64, generator=gen)
    else:
        t = torch.randint(0, c, (*batch, *out_features), generator=gen)
        if ignore_index is not None and t.dim():
            t.view(-1)[1::3] = ignore_index
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, ref = ours(x1, t), theirs(x2, t)
    torch.testing.assert_close(out, ref)
    go = torch.randn_like(out)
    for a, b in zip(
        _grads(out, [x1, *ours.linear.parameters()], go), _grads(ref, [x2, *theirs.linear.parameters()], go)
    ):
        torch.testing.assert_close(a, b)


@needs_torch_lce
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weight": True},
        {"ignore_index": 1},
        {"weight": True, "ignore_index": 1, "linear_bias": True},
        {"label_smoothing": 0.2, "weight": True},
    ],
    ids=lambda o: ",".join(sorted(o)) or "plain",
)
@pytest.mark.parametrize("chunked", [False, True], ids=["reference", "chunked"])
def test_functional_is_torchs_functional(reduction, options, chunked):
    """torch's reference path and its chunked path (``options=LinearCrossEntropyOptions(...)``) give losskit's numbers."""
    if chunked and options.get("label_smoothing"):
        pytest.skip("torch's chunked path does not take label smoothing")
    hidden, weight, bias, target = _inputs()
    target[1::4] = 1
    kw = {k: v for k, v in options.items() if k not in ("weight", "linear_bias")}
    if options.get("weight"):
        kw["weight"] = torch.rand(41, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) + 0.5
    leaves_a = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    leaves_b = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    use_bias = options.get("linear_bias", False)
    extra = {"options": torch.nn.LinearCrossEntropyOptions(batch_chunk_size=4)} if chunked else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that its chunked path is experimental
        ref = F.linear_cross_entropy(
            leaves_b[0],
            leaves_b[1],
            target,
            linear_bias=leaves_b[2] if use_bias else None,
            reduction=reduction,
            **kw,
            **extra,
        )
    out = LF.linear_cross_entropy(
        leaves_a[0],
        leaves_a[1],
        target,
        linear_bias=leaves_a[2] if use_bias else None,
        reduction=reduction,
        **kw,
        **extra,
    )
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    n = 3 if use_bias else 2
    go = torch.randn_like(out)
    for a, b in zip(_grads(out, leaves_a[:n], go), _grads(ref, leaves_b[:n], go)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_bias_is_a_deprecated_alias_of_linear_bias():
    hidden, weight, bias, target = _inputs()
    with pytest.warns(DeprecationWarning, match=r"bias= is deprecated; pass linear_bias="):
        old = LF.linear_cross_entropy(hidden, weight, target, bias=bias)
    new = LF.linear_cross_entropy(hidden, weight, target, linear_bias=bias)
    assert torch.equal(old, new)
    # the positional call of losskit 0.x still works: only keyword names changed
    assert torch.equal(
        LF.linear_cross_entropy(hidden, weight, target),
        LF.linear_cross_entropy(input=hidden, linear_weight=weight, target=target),
    )
    with pytest.raises(TypeError, match="not both"):
        LF.linear_cross_entropy(hidden, weight, target, bias=bias, linear_bias=bias)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [{"softcap": 3.0}, {"z_loss": 1e-2, "label_smoothing": 0.2}, {"softcap": 2.0, "z_loss": 1e-2, "ignore_index": 3}],
    ids=lambda o: ",".join(sorted(o)),
)
def test_class_weights_with_losskits_extras(reduction, options):
    """Class weights weight each token's whole loss, z-loss included; "mean" divides by Σ w[y]."""
    hidden, weight, bias, target = _inputs()
    if "ignore_index" in options:
        target[::3] = options["ignore_index"]
    cw = torch.rand(41, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) + 0.5
    a = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    b = [t.clone().requires_grad_() for t in (hidden, weight, bias)]
    out = LF.linear_cross_entropy(
        a[0], a[1], target, linear_bias=a[2], weight=cw, reduction=reduction, chunk_size=6, **options
    )
    logits = b[0] @ b[1].T + b[2]
    if options.get("softcap"):
        logits = options["softcap"] * torch.tanh(logits / options["softcap"])
    ii = options.get("ignore_index", -100)
    per = F.cross_entropy(
        logits,
        target,
        weight=cw,
        ignore_index=ii,
        label_smoothing=options.get("label_smoothing", 0.0),
        reduction="none",
    )
    valid = target != ii
    w_y = torch.where(valid, cw[target.clamp_min(0)], 0.0)
    per = per + options.get("z_loss", 0.0) * w_y * logits.logsumexp(1).square()
    ref = {"none": per, "sum": per.sum(), "mean": per.sum() / w_y.sum()}[reduction]
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    go = torch.randn_like(out)
    for x, y in zip(_grads(out, a, go), _grads(ref, b, go)):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_second_backward_recomputes(reduction):
    """The first backward hands its precomputed gradients over (no copy); a second one, after
    retain_graph=True, recomputes them and gets the same numbers."""
    hidden, weight, _, target = _inputs()
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    out = LF.linear_cross_entropy(h, w, target, reduction=reduction, chunk_size=5)
    two = torch.tensor(2.0, dtype=out.dtype)
    out.backward(two, retain_graph=True)
    first = (h.grad.clone(), w.grad.clone())
    out.backward(two)
    torch.testing.assert_close(h.grad, 2 * first[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(w.grad, 2 * first[1], rtol=1e-12, atol=1e-14)
    h2, w2 = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    for a, b in zip(first, torch.autograd.grad(_naive(h2, w2, target, reduction=reduction), [h2, w2], two)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_only_the_gradients_asked_for_are_computed():
    """A frozen projection (a frozen head, tied embeddings outside the graph) gets no weight gradient."""
    hidden, weight, _, target = _inputs()
    h, h2 = hidden.clone().requires_grad_(), hidden.clone().requires_grad_()
    (g,) = torch.autograd.grad(LF.linear_cross_entropy(h, weight, target, chunk_size=4), h)
    (expected,) = torch.autograd.grad(_naive(h2, weight, target), h2)
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)
