"""torch.func transforms over the battery: ``grad``, ``jacrev`` and ``vmap`` give plain autograd's numbers.

Inside a functorch transform losskit's losses leave their eager-only custom Functions (the fused-gradient
ones, which functorch refuses) for composable paths, read nothing on the host (``vmap`` batches the values)
and skip their data checks, as under ``torch.compile`` (``_core/validation.py``). Here, for every battery
entry, in float64:

* ``torch.func.grad_and_value`` equals the loss and ``torch.autograd.grad`` for every grad arg, over the
  ordinary samples, the saturated extremes and the ±inf samples;
* ``torch.func.jacrev`` of the ``reduction="none"`` loss (of the loss itself where it takes no reduction)
  equals the Jacobian built row by row with autograd;
* ``torch.func.vmap`` over a batch of two whole problems (targets batched too) equals the two calls
  stacked, for the loss and for its per-problem gradients (``vmap(grad(...))``), except the :data:`VMAP_EXEMPT` losses, each with its reason
  (and a test that the reason still holds).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from .loss_db import LossInfo, Sample, battery_cases
from .test_common import _call_fn, _pick, _samples, _with_reduction

ENTRIES = battery_cases()
IDS = [e.name for e in ENTRIES]

#: losses ``vmap`` cannot batch, with the reason; ``test_vmap_exemptions_still_hold`` checks each one
VMAP_EXEMPT = {
    "gradient_penalty": (
        "differentiates the critic inside the loss with torch.autograd.grad on an input it marks requires_grad_, "
        "which functorch refuses under vmap (grad and jacrev of the penalty work: see the tests above)"
    ),
    "r1": (
        "differentiates the discriminator inside the loss with torch.autograd.grad, which functorch refuses "
        "under vmap (grad and jacrev of the penalty work: see the tests above)"
    ),
}

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(params=ENTRIES, ids=IDS)
def entry(request) -> LossInfo:
    return request.param


@pytest.fixture(autouse=True)
def _quiet_batching_fallbacks():
    """vmap warns where torch has no batching rule for an operator and loops instead (slower, same numbers)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
        yield


def _every_sample(entry: LossInfo):
    """Ordinary samples, saturated extremes and ±inf samples: those with a differentiable argument."""
    samples = [*_samples(entry, salt=12), *entry.extremes(), *entry.inf_extremes()]
    return [s for s in samples if s.grad_args]


def _as_function(entry: LossInfo, sample: Sample, reduction):
    """(f(*grad_args) -> loss, the grad args' float64 values) for one sample and reduction."""
    args, kwargs = _with_reduction(sample, reduction).materialize(torch.float64)
    positions = sample.grad_args

    def f(*xs):
        full = list(args)
        for i, x in zip(positions, xs):
            full[i] = x
        return _call_fn(entry, full, kwargs)

    return f, [args[i] for i in positions]


def _autograd(f, xs):
    """The loss and the gradients of its sum by plain autograd (zeros for an argument it does not use)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in xs]
    out = f(*leaves)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    return out.detach(), [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]


def _same(actual, expected, what):
    torch.testing.assert_close(actual, expected, rtol=RTOL, atol=ATOL, equal_nan=True, msg=lambda m: f"{what}: {m}")


def test_grad_equals_autograd(entry):
    """torch.func.grad_and_value: eager's loss and gradients, samples, extremes and ±inf samples alike."""
    for sample in _every_sample(entry):
        for reduction in _pick(entry, "sum", "mean"):
            f, xs = _as_function(entry, sample, reduction)
            value, grads = _autograd(f, xs)
            argnums = tuple(range(len(xs)))
            func_grads, func_value = torch.func.grad_and_value(lambda *a: f(*a).sum(), argnums=argnums)(*xs)
            what = f"{entry.name} {sample.desc} {reduction}"
            _same(func_value, value.sum(), f"{what} value")
            for k, (actual, expected) in enumerate(zip(func_grads, grads)):
                _same(actual, expected, f"{what} grad of arg {sample.grad_args[k]}")


def test_jacrev_equals_autograd_jacobian(entry):
    """torch.func.jacrev of the per-element (or per-sample) loss: the Jacobian autograd builds row by row.

    A loss without reductions (the gradient penalties, means over samples) is taken as it is: one row."""
    for sample in _every_sample(entry):
        f, xs = _as_function(entry, sample, _pick(entry, "none")[0])
        argnums = tuple(range(len(xs)))
        jacobians = torch.func.jacrev(f, argnums=argnums)(*xs)
        leaves = [x.detach().clone().requires_grad_(True) for x in xs]
        out = f(*leaves)
        rows = [[] for _ in xs]
        for element in out.reshape(-1):
            grads = torch.autograd.grad(element, leaves, retain_graph=True, allow_unused=True)
            for k, (x, g) in enumerate(zip(xs, grads)):
                rows[k].append(torch.zeros_like(x) if g is None else g)
        for k, (x, jacobian) in enumerate(zip(xs, jacobians)):
            what = f"{entry.name} {sample.desc} jacobian of arg {sample.grad_args[k]}"
            if out.numel() == 0:
                assert jacobian.shape == (*out.shape, *x.shape), f"{what}: shape {tuple(jacobian.shape)}"
                continue
            _same(jacobian, torch.stack(rows[k]).reshape(tuple(out.shape) + tuple(x.shape)), what)


def _second_problem(x: torch.Tensor) -> torch.Tensor:
    """Another problem of the same shape and domain: a floating argument's rows (first dimension) reversed.

    Rows of probabilities stay probabilities, boxes stay boxes, CTC frames stay log-probabilities (batch-first
    or not, every length still fits). Integer arguments (class indices, labels, lengths) and 0-d or 1-d floating
    ones (a box, a probability vector) are kept, so the batch's two entries differ through the others; they are
    batched all the same (vmap over whole problems, targets included).
    """
    return x.flip(0) if x.dim() >= 2 and x.is_floating_point() else x


def _vmapped(entry: LossInfo, sample: Sample):
    """(f(*tensor args), the tensor args, the second problem's, both stacked, the grad args' places among them)."""
    reduction = _pick(entry, "none")[0]
    args, kwargs = _with_reduction(sample, reduction).materialize(torch.float64)
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]

    def f(*xs):
        full = list(args)
        for i, x in zip(positions, xs):
            full[i] = x
        return _call_fn(entry, full, kwargs)

    xs = [args[i] for i in positions]
    ys = [_second_problem(x) for x in xs]
    argnums = tuple(positions.index(i) for i in sample.grad_args)
    return f, xs, ys, [torch.stack([x, y]) for x, y in zip(xs, ys)], argnums


def _grads(f, xs, argnums):
    """Plain autograd's gradients of ``f(*xs).sum()`` for the arguments at ``argnums``."""
    leaves = [x.detach().clone().requires_grad_(k in argnums) for k, x in enumerate(xs)]
    wanted = [leaves[k] for k in argnums]
    grads = torch.autograd.grad(f(*leaves).sum(), wanted, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(wanted, grads)]


def test_vmap_equals_stacked_calls(entry):
    """vmap over two whole problems: the per-sample losses and the per-problem gradients of the two calls, stacked."""
    if entry.name in VMAP_EXEMPT:
        pytest.skip(VMAP_EXEMPT[entry.name])
    for sample in _samples(entry, salt=13):
        if not sample.grad_args:
            continue
        f, xs, ys, batched, argnums = _vmapped(entry, sample)
        what = f"{entry.name} {sample.desc}"
        _same(torch.func.vmap(f)(*batched), torch.stack([f(*xs), f(*ys)]), f"{what} vmap value")
        grads = torch.func.vmap(torch.func.grad(lambda *a: f(*a).sum(), argnums=argnums))(*batched)
        for k, (first, second) in enumerate(zip(_grads(f, xs, argnums), _grads(f, ys, argnums))):
            _same(grads[k], torch.stack([first, second]), f"{what} vmap(grad) of arg {sample.grad_args[k]}")


def test_vmap_exemptions_still_hold():
    """Each vmap exemption's reason is still true: vmap refuses the loss (drop the entry once it works)."""
    by_name = {e.name: e for e in ENTRIES}
    for name in VMAP_EXEMPT:
        entry = by_name[name]
        sample = next(s for s in _samples(entry, salt=13) if s.grad_args)
        f, _, _, batched, _ = _vmapped(entry, sample)
        with pytest.raises(RuntimeError, match="functorch transform"):
            torch.func.vmap(f)(*batched)


def test_checks_skip_and_host_reads_stop_inside_transforms():
    """Inside a transform nothing is read on the host and data checks do not run; outside, both as before."""
    from losskit._core import validation

    x = torch.zeros(3)
    seen = {}

    def probe(t):
        seen["host_readable"] = validation.host_readable(t)
        validation.require(t > 0, "never raised inside a transform")  # all false: raises outside
        return t.sum()

    torch.func.grad(probe)(x)
    assert seen["host_readable"] is False
    torch.func.vmap(probe)(torch.zeros(2, 3))
    assert validation.host_readable(x) is True
    with pytest.raises(ValueError, match="never raised"):
        probe(x)


def test_create_graph_gradients_at_infinity_are_the_first_order_ones():
    """The differentiable (create_graph) gradients the transforms use have the limits at ±inf, not NaN.

    IoU of a box of infinite width (∂L/∂I was ∞/∞) and sigmoid focal at ±inf logits (0 · inf) were NaN there
    while the first-order gradient had the limit; eager double backward takes the same formulas.
    """
    import losskit.functional as LF

    inf = float("inf")
    cases = [
        (lambda x: LF.iou_loss(x, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).double(), reduction="sum"), [[0, 0, inf, 1]]),
        (
            lambda x: LF.sigmoid_focal_loss(x, torch.tensor([1.0, 0.0, 0.5, 0.0]).double(), reduction="sum"),
            [inf, -inf, 1.0, inf],
        ),
    ]
    for loss, values in cases:
        x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        out = loss(x)
        (first,) = torch.autograd.grad(out, x, retain_graph=True)
        (graphed,) = torch.autograd.grad(out, x, create_graph=True)
        assert not torch.isnan(first).any()
        _same(graphed, first, "create_graph gradient")
        _same(torch.func.grad(lambda a: loss(a))(x.detach()), first, "torch.func.grad")
