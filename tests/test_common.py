"""The generic battery (DESIGN §6), run over every entry of loss_db.

reference value · dtypes · float64 gradcheck (+gradgradcheck) · reduction
consistency · module == functional · registry names · config / pickle /
deepcopy / state_dict round-trips · empty batch · NaN passthrough · extreme
inputs · error inputs · invalid reduction · torch.compile(fullgraph=True).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
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


def _resolve(args):
    """The positional arguments the loss receives.

    A sample argument that is not a tensor but has a ``derive`` method stands for a tensor computed from the
    other arguments when the loss is called: r1_penalty's ``real_logits = D(real_inputs)`` (a loss that
    differentiates one role with respect to another needs them connected by autograd, which fresh leaves are
    not). ``derive(args)`` returns the argument list with it filled in. Resolving at call time, inside the
    function gradcheck perturbs, lets gradients flow through the derivation; the reference receives the object.
    """
    for a in args:
        if not isinstance(a, torch.Tensor) and callable(getattr(a, "derive", None)):
            return a.derive(list(args))
    return args


def _call_fn(entry: LossInfo, args, kwargs):
    return entry.fn(*_resolve(args), **kwargs)


def _call_module(entry: LossInfo, args, kwargs):
    # a module that owns parameters gets the sample's tensor for them (entry.owned_roles); others: module(**ctor)
    module, forward_args, call = entry.build_module(_resolve(args), kwargs)
    return module(*forward_args, **call)


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
                _call_fn(entry, args, kwargs), _reference(entry, s), 1e-10, 1e-12, f"{entry.name} {s.desc} {reduction}"
            )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_dtypes(entry, dtype):
    """Half precision computes in float32 and returns float32; gradients come back in the input's dtype."""
    if dtype not in entry.dtypes:
        pytest.skip(f"{entry.name} does not support {dtype}")
    # half-precision inputs are computed in float32 and the reference sees the same rounded inputs,
    # so float32's tolerance applies to every floating dtype below float64 (issue 11 item 24)
    rtol, atol = entry.float32_tol
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
    for sample in _samples(entry, salt=2):  # every sample: weighted, probability-target and vector cases too
        for reduction in _pick(entry, "mean", "none"):
            f, leaves = _differentiable(entry, sample, reduction)
            assert torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6, rtol=1e-4), f"{entry.name} {sample.desc}"


def test_gradgradcheck(entry):
    if not entry.gradgrad:
        pytest.skip(f"{entry.name} is not declared twice-differentiable: {entry.reasons['double_backward']}")
    if entry.gradcheck_exempt:
        pytest.skip(f"{entry.name}: {entry.gradcheck_exempt}")
    for sample in _samples(entry, salt=3)[:3]:
        f, leaves = _differentiable(entry, sample, "sum")
        assert torch.autograd.gradgradcheck(f, leaves, eps=1e-6, atol=1e-7, rtol=1e-5), f"{entry.name} {sample.desc}"


def test_reduction_consistency(entry):
    if not entry.reductions:
        pytest.skip(f"{entry.name} declares no reduction")
    if not entry.reduction_consistent:
        pytest.skip(f"{entry.name}: {entry.reasons['reduction_consistent']}")
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
            assert isinstance(lk.get(spelled, **entry.required_ctor()), entry.module), spelled
            assert lk.get_fn(spelled) is entry.fn
    assert entry.name in lk.available()
    assert entry.name in lk.available(family=entry.module.family)
    assert entry.module.name == entry.name


def test_config_pickle_state_dict(entry):
    for sample in _samples(entry, salt=6)[:3]:
        sample_args, kwargs = sample.materialize()
        module, args, call = entry.build_module(_resolve(sample_args), kwargs)
        expected = module(*args, **call)
        config = module.get_config()
        assert config["name"] == entry.name
        assert json.loads(json.dumps(config)) == config, config  # plain, JSON-serialisable Python only
        rebuilt = lk.from_config(config)
        if entry.owned_roles:  # the config holds hyperparameters; learned tensors travel in the state_dict
            rebuilt = rebuilt.to(torch.float64)
            rebuilt.load_state_dict(module.state_dict())
        if entry.owned is not None:  # the config rebuilds the architecture; the weights come from the state_dict
            rebuilt.to(next(module.parameters()).dtype).load_state_dict(module.state_dict())
        torch.testing.assert_close(rebuilt(*args, **call), expected, rtol=1e-6, atol=1e-7)
        for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
            torch.testing.assert_close(clone(*args, **call), expected, rtol=0, atol=0)
        buf = io.BytesIO()
        torch.save(module.state_dict(), buf)
        buf.seek(0)
        fresh, _, _ = entry.build_module(_resolve(sample.materialize()[0]), kwargs)
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
        # the first floating tensor: args[0], or the input after a non-tensor role (gradient_penalty's critic)
        first = next(a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point())
        first.view(-1)[0] = float("nan")
        out = _call_fn(entry, args, kwargs)
        assert torch.isnan(out).all(), f"{entry.name} {reduction}: NaN input gave {out}"


def test_extremes(entry):
    for sample in entry.extremes():
        for reduction in _pick(entry, "mean", "none"):
            args, kwargs = _with_reduction(sample, reduction).materialize(requires_grad=True)
            out = _call_fn(entry, args, kwargs)
            assert torch.isfinite(out).all(), f"{entry.name} {sample.desc}: loss {out}"
            # finite is not enough: where the float64 reference is finite, the value must match it
            with np.errstate(all="ignore"):
                expected = _reference(entry, _with_reduction(sample, reduction))
            actual = out.detach().double().numpy()
            finite = np.isfinite(expected)
            np.testing.assert_allclose(
                actual[finite],
                expected[finite],
                rtol=1e-7,
                atol=1e-9,
                err_msg=f"{entry.name} {sample.desc} {reduction}",
            )
            out.sum().backward()
            for i in sample.grad_args:
                assert torch.isfinite(args[i].grad).all(), f"{entry.name} {sample.desc}: grad {args[i].grad}"


def test_infinite_inputs(entry):
    """±inf inputs: the loss is the reference's value (an infinity where the loss is infinite), never NaN."""
    samples = entry.inf_extremes()
    if not samples:
        pytest.skip(f"{entry.name} has no ±inf samples")
    for sample in samples:
        for reduction in _pick(entry, "none", "sum"):
            s = _with_reduction(sample, reduction)
            args, kwargs = s.materialize(requires_grad=True)
            out = _call_fn(entry, args, kwargs)
            expected = _reference(entry, s)
            assert not np.isnan(expected).any(), f"{entry.name} {s.desc}: the reference is NaN"
            assert not torch.isnan(out).any(), f"{entry.name} {s.desc} {reduction}: loss {out}"
            _close(out, expected, 1e-10, 1e-12, f"{entry.name} {s.desc} {reduction}")
            out.sum().backward()
            for i in s.grad_args:
                assert not torch.isnan(args[i].grad).any(), f"{entry.name} {s.desc}: grad {args[i].grad}"


def test_error_inputs(entry):
    for case in entry.errors():
        with pytest.raises(case.exc, match=case.match):
            entry.fn(*_resolve(case.args), **case.kwargs)


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
    if not cases:
        assert not [
            h
            for h in entry.spec.hparams
            if h.name != "reduction" and not h.check.text.startswith(("True", "an integer"))
        ], f"{entry.name}: give its hyperparameters hp_error cases (range errors) in loss_db"
        pytest.skip(f"{entry.name}: no hyperparameter with a range to violate (types: test_hyperparameter_types)")
    for case in cases:
        with pytest.raises(case.exc, match=case.match):
            # merged, not unpacked twice: a case may replace a required argument (a bad class_counts)
            entry.module(**{**entry.required_ctor(), **case.kwargs})


def test_hyperparameter_types(entry):
    """Every declared hyperparameter rejects a value of the wrong kind, at construction and in the functional."""
    sample = _samples(entry, salt=11)[0]
    args, kwargs = sample.materialize()
    args = _resolve(args)
    for h in entry.spec.hparams:
        with pytest.raises((TypeError, ValueError), match=rf"{entry.module.__name__}: .*{h.name}"):
            entry.module(**{**entry.required_ctor(), h.name: "not a valid value"})
        with pytest.raises((TypeError, ValueError), match=rf"{entry.fn.__name__}: .*{h.name}"):
            entry.fn(*args, **{**kwargs, h.name: "not a valid value"})


def test_nothing_counts(entry):
    """All-zero sample weights or every target ignored: "mean" is 0 on the graph and every gradient is 0."""
    spec = entry.spec
    cases = []
    for sample in _samples(entry, salt=10):
        if "mean" not in entry.reductions:
            break
        if "sample_weight" in spec.call_kwargs and "sample_weight" in sample.kwargs:
            weight = sample.kwargs["sample_weight"]
            cases.append(sample.with_kwargs(sample_weight=torch.zeros_like(weight)))
        roles = [r.name for r in spec.roles]
        t = roles.index("target") if "target" in roles else None
        if "ignore_index" in spec.capabilities and "ignore_index" in sample.kwargs and t is not None:
            if not sample.args[t].is_floating_point():
                ignored = torch.full_like(sample.args[t], sample.kwargs["ignore_index"])
                cases.append(dataclasses.replace(sample, args=(*sample.args[:t], ignored, *sample.args[t + 1 :])))
    if not cases:
        pytest.skip(f"{entry.name} takes neither sample_weight nor ignore_index")
    for case in cases:
        args, kwargs = case.with_kwargs(reduction="mean").materialize(requires_grad=True)
        out = _call_fn(entry, args, kwargs)
        assert out.shape == () and float(out.detach()) == 0.0, f"{entry.name} {case.desc}: {out}"
        out.backward()
        for i in case.grad_args:
            assert args[i].grad is not None and args[i].grad.numel() > 0
            assert torch.equal(args[i].grad, torch.zeros_like(args[i].grad)), (
                f"{entry.name} {case.desc}: {args[i].grad}"
            )


def test_exemptions_carry_reasons(entry):
    if not entry.gradgrad:
        assert entry.reasons.get("double_backward"), f"{entry.name}: write why it is not twice differentiable"
    if not entry.reduction_consistent:
        assert entry.reasons.get("reduction_consistent"), entry.name
    if entry.float32_tol != (2e-5, 1e-5):
        assert entry.reasons.get("float32_tol"), entry.name
    if "compile" not in entry.spec.capabilities:
        assert entry.reasons.get("compile"), f"{entry.name}: write why it does not trace under torch.compile"
    assert all(entry.grad_exempt.values()), entry.name


# ---------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------


def test_compile_fullgraph(entry):
    """Dynamo traces the module without a graph break and gives eager's numbers (forward and backward)."""
    if "compile" not in entry.spec.capabilities:
        pytest.skip(f"{entry.name} is not declared compilable: {entry.reasons['compile']}")
    torch._dynamo.reset()
    samples = _samples(entry, salt=8)
    sample = samples[min(2, len(samples) - 1)]
    args, kwargs = sample.materialize(requires_grad=True)
    args = _resolve(args)
    module, forward_args, call = entry.build_module(args, kwargs)
    grad_args = [args[i] for i in sample.grad_args if i not in entry.owned_roles]
    if entry.owned is not None:  # the module's own parameters, and the roles it still takes
        grad_args = [a for a in forward_args if isinstance(a, torch.Tensor) and a.requires_grad] + list(
            module.parameters()
        )
    eager = module(*forward_args, **call)
    grads = torch.autograd.grad(eager, grad_args)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    out = compiled(*forward_args, **call)
    cgrads = torch.autograd.grad(out, grad_args)
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
    module, args, call = entry.build_module(args, kwargs)
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
        assert lk.get(e.name, **e.required_ctor()).__class__ is e.module


def test_every_declaration_is_complete():
    """Each declaration names its module, family, roles and the references that back its numbers."""
    for spec in lk.all_specs() if hasattr(lk, "all_specs") else [lk.describe(n) for n in lk.available()]:
        assert spec.module_name and lk.get_class(spec.name).__name__ == spec.module_name, spec.name
        assert spec.references, f"{spec.name}: declare references= (what backs its numbers)"
        assert spec.roles and spec.family and spec.summary, spec.name
        assert getattr(lk, spec.module_name) is lk.get_class(spec.name)
        assert getattr(lk.functional, spec.functional.__name__) is spec.functional
        cls = lk.get_class(spec.name)
        own_doc = cls.__dict__.get("__doc__")  # a hand-written module (it owns parameters) writes its own
        doc = own_doc or cls.__doc__
        assert doc and doc != lk.Loss.__doc__, f"{spec.name}: the module needs its own docstring"
        assert own_doc or doc.startswith(spec.summary), f"{spec.name}: the generated docstring starts with the summary"
