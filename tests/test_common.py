"""The generic battery (DESIGN §6), run over every entry of loss_db.

reference value · dtypes · float64 gradcheck (+gradgradcheck) · reduction
consistency · module == functional · registry names · config / pickle /
deepcopy / state_dict round-trips · empty batch · NaN passthrough · extreme
inputs · error inputs · invalid reduction · torch.compile(fullgraph=True).
"""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import torch

import losskit as lk
from losskit._core.registry import aliases_of

from .loss_db import BY_NAME, LossInfo, Sample, battery_cases

ENTRIES = battery_cases()

IDS = [e.name for e in ENTRIES]


def _samples(entry: LossInfo, salt: int = 0):
    return entry.samples(np.random.default_rng(sum(map(ord, entry.name)) + 7919 * salt))


def _call_fn(entry: LossInfo, args, kwargs):
    return entry.fn(*args, **kwargs)


def _call_module(entry: LossInfo, args, kwargs):
    ctor = entry.ctor_kwargs(kwargs)
    call = {k: v for k, v in kwargs.items() if k not in ctor}
    return entry.module(**ctor)(*args, **call)


def _reductions(entry: LossInfo):
    """The declared reductions, or one call without a ``reduction`` keyword for losses that take none."""
    return entry.reductions or (None,)


def _pick(entry: LossInfo, *wanted):
    """The wanted reductions the loss declares (in order, without repeats); None for a loss without reduction."""
    if not entry.reductions:
        return [None]
    return list(dict.fromkeys(w if w in entry.reductions else entry.reductions[0] for w in wanted))


def _with_reduction(sample: Sample, reduction):
    return sample if reduction is None else sample.with_kwargs(reduction=reduction)


def _reference(entry: LossInfo, sample: Sample, dtype=None):
    args, kwargs = sample.numpy_args(dtype)
    return np.asarray(entry.reference(*args, **kwargs), dtype=np.float64)


def _close(actual: torch.Tensor, expected: np.ndarray, rtol: float, atol: float, what: str):
    actual_np = actual.detach().double().cpu().numpy()
    assert actual_np.shape == expected.shape, f"{what}: shape {actual_np.shape} != reference {expected.shape}"
    np.testing.assert_allclose(actual_np, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.fixture(params=ENTRIES, ids=IDS)
def entry(request) -> LossInfo:
    return request.param


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------


def test_reference_value(entry):
    """float64 value against the independent reference, for every sample and reduction."""
    for sample in _samples(entry):
        for reduction in _reductions(entry):
            s = _with_reduction(sample, reduction)
            args, kwargs = s.materialize()
            _close(
                _call_fn(entry, args, kwargs), _reference(entry, s), 1e-7, 1e-10, f"{entry.name} {s.desc} {reduction}"
            )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_dtypes(entry, dtype):
    """Half precision computes in float32 and returns float32; gradients come back in the input's dtype."""
    if dtype not in entry.dtypes:
        pytest.skip(f"{entry.name} does not support {dtype}")
    rtol, atol = entry.half_tol if dtype in (torch.float16, torch.bfloat16) else (2e-5, 1e-5)
    for sample in _samples(entry, salt=1):
        s = _with_reduction(sample, _pick(entry, "mean")[0])
        args, kwargs = s.materialize(dtype, requires_grad=True)
        out = _call_fn(entry, args, kwargs)
        assert out.dtype == torch.float32, f"{entry.name}: {dtype} input gave a {out.dtype} loss"
        _close(out, _reference(entry, s, dtype), rtol, atol, f"{entry.name} {s.desc} {dtype}")
        out.backward()
        for i in s.grad_args:
            assert args[i].grad is not None and args[i].grad.dtype == dtype, f"{entry.name}: grad of arg {i}"


def _differentiable(entry, sample, reduction="sum"):
    reduction = _pick(entry, reduction)[0]
    args, kwargs = _with_reduction(sample, reduction).materialize(torch.float64, requires_grad=True)
    leaves = tuple(args[i] for i in sample.grad_args)

    def f(*xs):
        full = list(args)
        for i, x in zip(sample.grad_args, xs):
            full[i] = x
        return _call_fn(entry, full, kwargs)

    return f, leaves


def test_gradcheck(entry):
    if entry.gradcheck_exempt:
        pytest.skip(f"{entry.name}: {entry.gradcheck_exempt}")
    for sample in _samples(entry, salt=2)[:3]:
        for reduction in _pick(entry, "mean", "none"):
            f, leaves = _differentiable(entry, sample, reduction)
            assert torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6, rtol=1e-4), f"{entry.name} {sample.desc}"


def test_gradgradcheck(entry):
    if not entry.gradgrad:
        pytest.skip(f"{entry.name} is not flagged twice-differentiable")
    if entry.gradcheck_exempt:
        pytest.skip(f"{entry.name}: {entry.gradcheck_exempt}")
    for sample in _samples(entry, salt=3)[:2]:
        f, leaves = _differentiable(entry, sample, "sum")
        assert torch.autograd.gradgradcheck(f, leaves, eps=1e-6, atol=1e-5, rtol=1e-3), f"{entry.name} {sample.desc}"


def test_reduction_consistency(entry):
    if not entry.reductions:
        pytest.skip(f"{entry.name} declares no reduction")
    if not entry.reduction_consistent:
        pytest.skip(f"{entry.name}: reduction is applied before a nonlinearity (documented)")
    for sample in _samples(entry, salt=4):
        if "sample_weight" in sample.kwargs:
            continue  # the weighted mean is Σw·l/Σw, checked against the reference instead
        args, kwargs = sample.materialize()
        none = _call_fn(entry, args, {**kwargs, "reduction": "none"})
        total = _call_fn(entry, args, {**kwargs, "reduction": "sum"})
        mean = _call_fn(entry, args, {**kwargs, "reduction": "mean"})
        torch.testing.assert_close(none.sum(), total, rtol=1e-10, atol=1e-12)
        if "weight" not in kwargs and "ignore_index" not in kwargs:
            torch.testing.assert_close(none.mean(), mean, rtol=1e-10, atol=1e-12)


def test_module_equals_functional(entry):
    for sample in _samples(entry, salt=5):
        for reduction in _reductions(entry):
            args, kwargs = _with_reduction(sample, reduction).materialize()
            torch.testing.assert_close(_call_module(entry, args, kwargs), _call_fn(entry, args, kwargs), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# registry and serialisation
# ---------------------------------------------------------------------------------------------


def test_registry(entry):
    names = (entry.name, *aliases_of(entry.name), entry.module.__name__)
    for name in names:
        for spelled in (name, name.upper()):
            assert isinstance(lk.get(spelled), entry.module), spelled
            assert lk.get_fn(spelled) is entry.fn
    assert entry.name in lk.available()
    assert entry.name in lk.available(family=entry.module.family)
    assert entry.module.name == entry.name


def test_config_pickle_state_dict(entry):
    for sample in _samples(entry, salt=6)[:3]:
        args, kwargs = sample.materialize()
        module = entry.module(**entry.ctor_kwargs(kwargs))
        call = {k: v for k, v in kwargs.items() if k not in entry.ctor_kwargs(kwargs)}
        expected = module(*args, **call)
        config = module.get_config()
        assert config["name"] == entry.name
        for value in config.values():  # plain Python only
            assert isinstance(value, (str, int, float, bool, list, type(None))), config
        rebuilt = lk.from_config(config)
        torch.testing.assert_close(rebuilt(*args, **call), expected, rtol=1e-6, atol=1e-7)
        for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
            torch.testing.assert_close(clone(*args, **call), expected, rtol=0, atol=0)
        buf = io.BytesIO()
        torch.save(module.state_dict(), buf)
        buf.seek(0)
        fresh = entry.module(**entry.ctor_kwargs(kwargs))
        fresh.load_state_dict(torch.load(buf))
        torch.testing.assert_close(fresh(*args, **call), expected, rtol=0, atol=0)
        assert repr(module).startswith(entry.module.__name__ + "(")


# ---------------------------------------------------------------------------------------------
# edges
# ---------------------------------------------------------------------------------------------


def test_empty_batch(entry):
    sample = entry.empty()
    for reduction in _reductions(entry):
        args, kwargs = _with_reduction(sample, reduction).materialize(requires_grad=True)
        out = _call_fn(entry, args, kwargs)
        if reduction == "none":
            assert out.numel() == 0
            continue
        assert out.shape == () and float(out.detach()) == 0.0, f"{entry.name} {reduction}: {out}"
        out.backward()
        for i in sample.grad_args:
            assert args[i].grad is not None and args[i].grad.abs().sum() == 0


def test_nan_passthrough(entry):
    sample = entry.nan_sample() if entry.nan_sample else _samples(entry, salt=7)[2]
    for reduction in _pick(entry, "mean", "sum"):
        args, kwargs = _with_reduction(sample, reduction).materialize()
        args[0].view(-1)[0] = float("nan")
        out = _call_fn(entry, args, kwargs)
        assert torch.isnan(out).all(), f"{entry.name} {reduction}: NaN input gave {out}"


def test_extremes(entry):
    for sample in entry.extremes():
        for reduction in _pick(entry, "mean", "none"):
            args, kwargs = _with_reduction(sample, reduction).materialize(requires_grad=True)
            out = _call_fn(entry, args, kwargs)
            assert torch.isfinite(out).all(), f"{entry.name} {sample.desc}: loss {out}"
            out.sum().backward()
            for i in sample.grad_args:
                assert torch.isfinite(args[i].grad).all(), f"{entry.name} {sample.desc}: grad {args[i].grad}"


def test_error_inputs(entry):
    for case in entry.errors():
        with pytest.raises(case.exc, match=case.match):
            entry.fn(*case.args, **case.kwargs)


def test_invalid_reduction(entry):
    if not entry.reductions:
        pytest.skip(f"{entry.name} declares no reduction")
    sample = _samples(entry)[1]
    args, kwargs = sample.with_kwargs(reduction="avg").materialize()
    with pytest.raises(ValueError, match=r"invalid reduction 'avg'; expected one of 'mean', 'sum', 'none'"):
        _call_fn(entry, args, kwargs)
    with pytest.raises(ValueError, match=r"invalid reduction 'avg'"):
        _call_module(entry, args, kwargs)


def test_hyperparameter_errors_at_construction(entry):
    """A bad hyperparameter raises when the module is built, not only when the functional is called."""
    cases = [c for c in entry.errors() if c.at_construction]
    for case in cases:
        with pytest.raises(case.exc, match=case.match):
            entry.module(**case.kwargs)


# ---------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------


def test_compile_fullgraph(entry):
    """Dynamo traces the module without a graph break and gives eager's numbers (forward and backward)."""
    torch._dynamo.reset()
    samples = _samples(entry, salt=8)
    sample = samples[min(2, len(samples) - 1)]
    args, kwargs = sample.materialize(requires_grad=True)
    ctor = entry.ctor_kwargs(kwargs)
    call = {k: v for k, v in kwargs.items() if k not in ctor}
    module = entry.module(**ctor)
    eager = module(*args, **call)
    grads = torch.autograd.grad(eager, [args[i] for i in sample.grad_args])
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    out = compiled(*args, **call)
    cgrads = torch.autograd.grad(out, [args[i] for i in sample.grad_args])
    torch.testing.assert_close(out, eager, rtol=1e-6, atol=1e-9)
    for a, b in zip(cgrads, grads):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


INDUCTOR_SAMPLE = ["huber", "log_cosh", "kl_div", "gaussian_nll"]


@pytest.mark.parametrize("name", [n for n in INDUCTOR_SAMPLE if n in BY_NAME])
def test_compile_inductor(name):
    """A sampled subset through the real inductor backend (slow to compile on CPU)."""
    entry = BY_NAME[name]
    torch._dynamo.reset()
    samples = _samples(entry, salt=9)
    sample = samples[min(2, len(samples) - 1)]
    args, kwargs = sample.materialize(torch.float32)
    ctor = entry.ctor_kwargs(kwargs)
    call = {k: v for k, v in kwargs.items() if k not in ctor}
    module = entry.module(**ctor)
    torch.testing.assert_close(
        torch.compile(module, fullgraph=True)(*args, **call), module(*args, **call), rtol=1e-5, atol=1e-6
    )


# ---------------------------------------------------------------------------------------------
# meta
# ---------------------------------------------------------------------------------------------


def test_every_registered_loss_has_an_entry():
    registered = set(lk.available())
    declared = set(BY_NAME)
    assert registered - declared == set(), f"registered without a loss_db entry: {sorted(registered - declared)}"
    assert declared - registered == set(), f"loss_db entries that are not registered: {sorted(declared - registered)}"
    for e in ENTRIES:
        assert lk.get(e.name).__class__ is e.module


def test_every_declaration_is_complete():
    """Each declaration names its module, family, roles and the references that back its numbers."""
    for spec in lk.all_specs() if hasattr(lk, "all_specs") else [lk.describe(n) for n in lk.available()]:
        assert spec.module_name and lk.get_class(spec.name).__name__ == spec.module_name, spec.name
        assert spec.references, f"{spec.name}: declare references= (what backs its numbers)"
        assert spec.roles and spec.family and spec.summary, spec.name
        assert getattr(lk, spec.module_name) is lk.get_class(spec.name)
        assert getattr(lk.functional, spec.functional.__name__) is spec.functional
        assert lk.get_class(spec.name).__doc__.startswith(spec.summary), (
            f"{spec.name}: the module needs its own docstring"
        )
