"""One LossInfo entry per registered loss (OpInfo-style); test_common.py runs the battery over them.

Each entry says how to make sample inputs (float64 tensors), which reference
backs its numbers, which error inputs it must reject, and which edge inputs it
must survive. Adding a loss means adding its entry here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

import losskit as lk
import losskit.functional as LF  # noqa: F401  (error cases call functionals directly)
from losskit._core.spec import LossSpec

from .reference import distribution as ref_dist
from .reference import regression as ref_reg

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: call-time keywords: passed to forward, not to the module's constructor
CALL_KWARGS = ("sample_weight",)


@dataclasses.dataclass
class Sample:
    """One call: positional tensors, keywords, and which positional tensors get gradients."""

    args: Tuple[Any, ...]
    kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    #: positional tensors that get gradients; filled from the declaration's differentiable roles
    #: (the floating ones) by ``finalize`` — a sample sets it only to narrow that set, with a reason
    grad_args: Optional[Tuple[int, ...]] = None
    desc: str = ""

    def with_kwargs(self, **kw) -> Sample:
        return dataclasses.replace(self, kwargs={**self.kwargs, **kw})

    def materialize(self, dtype: Optional[torch.dtype] = None, requires_grad: bool = False) -> Tuple[list, dict]:
        """Fresh copies (floating tensors cast to ``dtype``), grad args as leaves."""
        args = []
        for i, a in enumerate(self.args):
            if isinstance(a, torch.Tensor):
                a = a.detach().clone()
                if a.is_floating_point() and dtype is not None:
                    a = a.to(dtype)
                if requires_grad and i in (self.grad_args or ()):
                    a.requires_grad_(True)
            args.append(a)
        kwargs = {}
        for k, v in self.kwargs.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and dtype is not None and k in CALL_KWARGS:
                v = v.to(dtype)
            kwargs[k] = v
        return args, kwargs

    def numpy_args(self, dtype: Optional[torch.dtype] = None):
        """float64 NumPy copies of the args and kwargs, after rounding floats to ``dtype``."""

        def conv(v, round_it):
            if isinstance(v, torch.Tensor):
                if v.is_floating_point() and dtype is not None and round_it:
                    v = v.to(dtype)
                v = v.detach()
                return v.double().numpy() if v.is_floating_point() else v.numpy()
            return v

        args = [conv(a, True) for a in self.args]
        kwargs = {k: conv(v, k in CALL_KWARGS) for k, v in self.kwargs.items()}
        return args, kwargs


@dataclasses.dataclass
class ErrorCase:
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any]
    exc: type
    match: str
    #: the keywords are bad hyperparameters: building the module with them must raise too
    at_construction: bool = False


def hp_error(kwargs, match, exc=ValueError, args=None) -> ErrorCase:
    """A bad-hyperparameter case, checked on the functional and at module construction."""
    args = args if args is not None else (torch.randn(3), torch.randn(3))
    return ErrorCase(args, kwargs, exc, match, at_construction=True)


@dataclasses.dataclass
class LossInfo:
    """What only the tests know about a loss; everything else comes from its declaration (``spec``)."""

    name: str  # canonical registry name
    reference: Callable  # (*numpy args, reduction=..., **kwargs) -> numpy value
    samples: Callable[[np.random.Generator], List[Sample]]
    empty: Callable[[], Sample]
    errors: Callable[[], List[ErrorCase]]
    extremes: Callable[[], List[Sample]] = lambda: []
    #: mean(none) == mean and sum(none) == sum (false for rmse: the root comes after pooling)
    reduction_consistent: bool = True
    dtypes: Sequence[torch.dtype] = DTYPES
    #: (rtol, atol) against the float64 reference for float32 / float16 / bfloat16 inputs (all computed in
    #: float32 from the same rounded inputs the reference sees); widen only with a reason in ``reasons``
    float32_tol: Tuple[float, float] = (2e-5, 1e-5)
    #: a sample whose input[0] may be set to NaN for the passthrough test
    nan_sample: Optional[Callable[[], Sample]] = None
    #: differentiable roles (by index) the battery must not differentiate yet, each with its reason
    grad_exempt: Dict[int, str] = dataclasses.field(default_factory=dict)
    #: the written reason for every other exemption: "double_backward" (the declaration does not claim
    #: it), "reduction_consistent", "float32_tol" (a wider tolerance); the skip message shows it
    reasons: Dict[str, str] = dataclasses.field(default_factory=dict)
    #: samples with ±inf inputs: the loss equals the reference (infinities included) and nothing is NaN
    inf_extremes: Callable[[], List[Sample]] = lambda: []
    #: why the gradient is, on purpose, not the numerical derivative of the value (gradcheck and
    #: gradgradcheck then skip with this reason; the family's tests check the gradient instead)
    gradcheck_exempt: str = ""
    #: a module that owns parameters (CenterLoss's centres, ArcFace's class weights): role index -> the module
    #: attribute holding that tensor. The battery builds such a module from the sample (see ``build_module``),
    #: puts the sample's tensor in the attribute and calls forward without that role.
    owned_roles: Dict[int, str] = dataclasses.field(default_factory=dict)
    #: the constructor arguments such a module requires, from a sample's args (None: any valid values)
    module_args: Callable[[Optional[Sequence[Any]]], Dict[str, Any]] = lambda args: {}
    #: a module that owns some of the functional's arguments (linear_cross_entropy's projection):
    #: ``owned(args, call_kwargs) -> (constructor keywords, forward args, forward keywords, load)``, where
    #: ``load(module)`` copies the owned tensors into the module's parameters; None: the module takes every role
    owned: Optional[Callable[[Sequence[Any], Dict[str, Any]], Tuple[Dict[str, Any], list, dict, Callable]]] = None
    #: constructor keywords a module needs when built without a sample (registry, construction errors)
    module_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def spec(self) -> LossSpec:
        return lk.describe(self.name)

    @property
    def fn(self) -> Callable:
        return self.spec.functional

    @property
    def module(self) -> type:
        return lk.get_class(self.name)

    @property
    def reductions(self) -> Sequence[str]:
        return self.spec.reductions

    @property
    def gradgrad(self) -> bool:
        return "double_backward" in self.spec.capabilities

    def ctor_kwargs(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """The sample keywords the module's constructor takes (the rest go to forward)."""
        names = {h.name for h in self.spec.hparams}
        return {k: v for k, v in kwargs.items() if k in names}

    def required_ctor(self, args: Optional[Sequence[Any]] = None) -> Dict[str, Any]:
        """Constructor keywords the module needs (modules that own parameters), with or without a sample."""
        return {**self.module_args(args), **self.module_kwargs}

    def new_module(self, args: Optional[Sequence[Any]] = None, **ctor: Any):
        """A module with the required constructor arguments; owned tensors in the dtype of the sample's roles."""
        module = self.module(**self.module_args(args), **ctor)
        for i in self.owned_roles:
            if args is not None and isinstance(args[i], torch.Tensor):
                module = module.to(args[i].dtype)
        return module

    def build_module(self, args: Sequence[Any], kwargs: Dict[str, Any]) -> Tuple[Any, list, dict]:
        """(module, forward's positional args, forward's keywords) for a sample.

        Two kinds of modules own tensors: ``owned`` (linear_cross_entropy's projection: the entry says how to
        build and load it) and ``owned_roles`` (CenterLoss's centres, ArcFace's weights: the sample's role
        tensor becomes the module's attribute and forward no longer takes it).
        """
        ctor = self.ctor_kwargs(kwargs)
        call = {k: v for k, v in kwargs.items() if k not in ctor}
        if self.owned is not None:
            extra, owned_args, call, load = self.owned(args, call)
            module = self.module(**extra, **ctor)
            load(module)
            return module, list(owned_args), call
        module = self.new_module(args, **ctor)
        for i, attr in self.owned_roles.items():
            value = args[i].detach().clone()
            if isinstance(getattr(module, attr), torch.nn.Parameter):
                value = torch.nn.Parameter(value)
            setattr(module, attr, value)
        return module, [a for i, a in enumerate(args) if i not in self.owned_roles], call

    def finalize(self, sample: Sample) -> Sample:
        """Fill ``grad_args`` from the declaration: every differentiable role given as a floating tensor."""
        if sample.grad_args is not None:
            return sample
        grads = tuple(
            i
            for i in self.spec.differentiable_roles()
            if i not in self.grad_exempt
            and i < len(sample.args)
            and isinstance(sample.args[i], torch.Tensor)
            and sample.args[i].is_floating_point()
        )
        return dataclasses.replace(sample, grad_args=grads)


# ---------------------------------------------------------------------------------------------
# sample builders
# ---------------------------------------------------------------------------------------------

ELEMENTWISE_SHAPES = [(), (5,), (4, 3), (2, 3, 4, 5)]


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def elementwise_samples(
    make_input: Callable[[np.random.Generator, tuple], np.ndarray],
    make_target: Callable[[np.random.Generator, tuple], np.ndarray],
    hparams: Callable[[np.random.Generator], Dict[str, Any]] = lambda rng: {},
) -> Callable[[np.random.Generator], List[Sample]]:
    """One sample per shape in ELEMENTWISE_SHAPES, plus one with a sample_weight."""

    def build(rng: np.random.Generator) -> List[Sample]:
        out = []
        for shape in ELEMENTWISE_SHAPES:
            out.append(
                Sample(
                    (_t(make_input(rng, shape)), _t(make_target(rng, shape))), dict(hparams(rng)), desc=f"shape={shape}"
                )
            )
        shape = (4, 3)
        out.append(
            Sample(
                (_t(make_input(rng, shape)), _t(make_target(rng, shape))),
                {**hparams(rng), "sample_weight": _t(rng.uniform(0.1, 2.0, size=(4, 1)))},
                desc="sample_weight (4, 1)",
            )
        )
        return out

    return build


def normal(scale: float = 1.0):
    return lambda rng, shape: rng.normal(0.0, scale, size=shape)


def uniform(lo: float, hi: float):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def log_probs(rng, shape):
    """Log-probabilities along dim 1 (dim 0 for 1-D); a scalar is log of a probability."""
    x = rng.normal(size=shape)
    if len(shape) == 0:
        return np.log(rng.uniform(0.05, 0.95))
    axis = 1 if len(shape) > 1 else 0
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def probs(rng, shape):
    return np.exp(log_probs(rng, shape))


def empty_pair(*extra_shape_args) -> Callable[[], Sample]:
    return lambda: Sample((torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)))


def shape_errors() -> List[ErrorCase]:
    return [
        ErrorCase((torch.randn(4, 1), torch.randn(4)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
        ErrorCase(
            (torch.randn(3), torch.tensor([1, 2, 3]) * 1j),
            {},
            TypeError,
            r"target must be a real tensor; got complex64",
        ),
        ErrorCase((torch.tensor([1, 2, 3]), torch.randn(3)), {}, TypeError, r"input must be a floating"),
    ]


def regression_entry(
    name,
    reference,
    *,
    make_input=normal(),
    make_target=normal(),
    hparams=lambda rng: {},
    errors=(),
    extremes=lambda: [],
    **kw,
) -> LossInfo:
    return LossInfo(
        name=name,
        reference=reference,
        samples=elementwise_samples(make_input, make_target, hparams),
        empty=empty_pair(),
        errors=lambda: shape_errors() + list(errors),
        extremes=extremes,
        **kw,
    )


def _extreme_pair(values) -> Callable[[], List[Sample]]:
    def build():
        x = torch.tensor(values, dtype=torch.float64)
        return [Sample((x, torch.zeros_like(x)), {}, desc="extreme residuals")]

    return build


HUGE = [1e4, -1e4, 1e-30, 0.0, 3.0]

# ---------------------------------------------------------------------------------------------
# regression
# ---------------------------------------------------------------------------------------------

ENTRIES: List[LossInfo] = [
    regression_entry("l1", ref_reg.l1, extremes=_extreme_pair(HUGE)),
    regression_entry("mse", ref_reg.mse, extremes=_extreme_pair(HUGE)),
    regression_entry(
        "rmse",
        ref_reg.rmse,
        hparams=lambda rng: {"eps": float(rng.choice([0.0, 1e-6]))},
        errors=[hp_error({"eps": -1.0}, r"eps must be in \[0, inf\)")],
        extremes=lambda: [
            Sample(
                (torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)), {}, desc="zero residual"
            ),
            *_extreme_pair(HUGE)(),
        ],
        reduction_consistent=False,
        reasons={"reduction_consistent": "the root is taken after pooling, so mean/sum of 'none' are not 'mean'/'sum'"},
    ),
    regression_entry(
        "smooth_l1",
        ref_reg.smooth_l1,
        hparams=lambda rng: {"beta": float(rng.choice([0.0, 0.5, 1.0, 2.0]))},
        errors=[hp_error({"beta": -0.1}, r"beta must be in \[0, inf\)")],
        extremes=_extreme_pair(HUGE),
    ),
    regression_entry(
        "huber",
        ref_reg.huber,
        hparams=lambda rng: {"delta": float(rng.choice([0.3, 1.0, 2.5]))},
        errors=[
            hp_error({"delta": 0.0}, r"delta must be in \(0, inf\)"),
            hp_error({"delta": -1.0}, r"delta"),
        ],
        extremes=_extreme_pair(HUGE),
    ),
    regression_entry("log_cosh", ref_reg.log_cosh, make_input=normal(3.0), extremes=_extreme_pair(HUGE)),
    regression_entry(
        "mape",
        ref_reg.mape,
        make_target=lambda rng, shape: rng.uniform(0.5, 3.0, size=shape) * rng.choice([-1, 1], size=shape),
        errors=[hp_error({"eps": 0.0}, r"eps must be in \(0, inf\)")],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([1e4, -1e4, 0.0], dtype=torch.float64),
                    torch.tensor([0.0, 1e-30, 0.0], dtype=torch.float64),
                ),
                {},
                desc="zero targets",
            )
        ],
    ),
    regression_entry(
        "msle",
        ref_reg.msle,
        make_input=uniform(0.1, 5.0),
        make_target=uniform(0.1, 5.0),
        errors=[hp_error({"eps": -1e-3}, r"eps")],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([1e30, -5.0, 0.0], dtype=torch.float64),
                    torch.tensor([0.0, 1e4, 0.0], dtype=torch.float64),
                ),
                {},
                desc="huge and negative",
            )
        ],
    ),
    regression_entry(
        "quantile",
        ref_reg.quantile,
        hparams=lambda rng: {"quantile": float(rng.choice([0.1, 0.5, 0.9]))},
        errors=[
            hp_error({"quantile": 1.0}, r"quantile must be in \(0, 1\)"),
            hp_error({"quantile": 0.0}, r"quantile"),
            hp_error(
                {"quantile": torch.tensor([0.2, 1.5])}, r"every quantile", args=(torch.randn(3, 2), torch.randn(3))
            ),
            ErrorCase(
                (torch.randn(3, 2), torch.randn(3, 2)),
                {"quantile": torch.tensor([0.2, 0.5])},
                ValueError,
                r"input must have shape \(\*, 2\) and target \(\*\)",
            ),
        ],
        extremes=_extreme_pair(HUGE),
    ),
]


def _quantile_tensor_samples(rng):
    q = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    return [
        Sample((_t(rng.normal(size=(6, 3))), _t(rng.normal(size=(6,)))), {"quantile": q}, desc="3 quantiles"),
        Sample(
            (_t(rng.normal(size=(2, 4, 3))), _t(rng.normal(size=(2, 4)))),
            {"quantile": q, "sample_weight": _t(rng.uniform(size=(2, 1, 1)))},
            desc="3 quantiles, weighted",
        ),
    ]


_q_entry = ENTRIES[-1]
_q_scalar_samples = _q_entry.samples
_q_entry.samples = lambda rng: _q_scalar_samples(rng) + _quantile_tensor_samples(rng)

# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------

KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


def _kl_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        log_target = bool(rng.integers(2))
        target = log_probs(rng, shape) if log_target else probs(rng, shape)
        out.append(Sample((_t(log_probs(rng, shape)), _t(target)), {"log_target": log_target}, desc=f"shape={shape}"))
    out.append(
        Sample(
            (_t(log_probs(rng, (4, 3))), _t(probs(rng, (4, 3)))),
            {"sample_weight": _t(rng.uniform(0.1, 1, (4, 1)))},
            desc="weighted",
        )
    )
    return out


def _js_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        log_target = bool(rng.integers(2))
        target = log_probs(rng, shape) if log_target else probs(rng, shape)
        out.append(Sample((_t(log_probs(rng, shape)), _t(target)), {"log_target": log_target}, desc=f"shape={shape}"))
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 5))), _t(rng.normal(size=(4, 5)))),
            {"from_logits": True, "log_target": True},
            desc="logits",
        )
    )
    out.append(
        Sample(
            (_t(rng.normal(size=(2, 3, 4))), _t(probs(rng, (2, 3, 4)))), {"from_logits": True}, desc="logits (N,C,d)"
        )
    )
    return out


def _zero_target_extremes():
    logp = torch.log_softmax(torch.tensor([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype=torch.float64), 1)
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return [Sample((logp, target), {}, desc="zero targets, saturated log-probs")]


def _poisson_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        log_input = bool(rng.integers(2))
        x = rng.normal(size=shape) if log_input else rng.uniform(0.1, 4.0, size=shape)
        y = rng.poisson(2.0, size=shape).astype(np.float64)
        out.append(
            Sample((_t(x), _t(y)), {"log_input": log_input, "full": bool(rng.integers(2))}, desc=f"shape={shape}")
        )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.poisson(3.0, size=(4, 3)).astype(float))),
            {"full": True, "sample_weight": _t(rng.uniform(size=(4, 3)))},
            desc="weighted",
        )
    )
    return out


def _gaussian_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        var_shape = shape
        out.append(
            Sample(
                (_t(rng.normal(size=shape)), _t(rng.normal(size=shape)), _t(rng.uniform(0.2, 2.0, size=var_shape))),
                {"full": bool(rng.integers(2))},
                desc=f"shape={shape}",
            )
        )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4, 1)))),
            {},
            desc="var (N, 1)",
        )
    )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4,)))),
            {},
            desc="var (N,)",
        )
    )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4, 3)))),
            {"sample_weight": _t(rng.uniform(size=(4, 1)))},
            desc="weighted",
        )
    )
    return out


ENTRIES += [
    LossInfo(
        name="kl_div",
        reference=ref_dist.kl_div,
        samples=_kl_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors(),
        extremes=_zero_target_extremes,
    ),
    LossInfo(
        name="js_div",
        reference=ref_dist.js_div,
        samples=_js_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors(),
        extremes=_zero_target_extremes,
    ),
    LossInfo(
        name="poisson_nll",
        reference=ref_dist.poisson_nll,
        samples=_poisson_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors() + [hp_error({"eps": 0.0}, r"eps must be in \(0, inf\)")],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([50.0, -1e4, 0.0], dtype=torch.float64),
                    torch.tensor([0.0, 3.0, 1e4], dtype=torch.float64),
                ),
                {},
                desc="extreme log-rates",
            )
        ],
    ),
    LossInfo(
        name="gaussian_nll",
        reference=ref_dist.gaussian_nll,
        samples=_gaussian_samples,
        empty=lambda: Sample((torch.zeros(0, dtype=torch.float64),) * 3, {}),
        errors=lambda: [
            ErrorCase((torch.randn(4, 1), torch.randn(4), torch.ones(4, 1)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
            ErrorCase(
                (torch.randn(3), torch.randn(3), torch.tensor([1.0, -1.0, 1.0])),
                {},
                ValueError,
                r"var must be non-negative",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.randn(4, 3), torch.ones(4, 2)),
                {},
                ValueError,
                r"var must have the input's shape",
            ),
            hp_error({"eps": 0.0}, r"eps", args=(torch.randn(3), torch.randn(3), torch.ones(3))),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([1e4, 0.0], dtype=torch.float64),
                    torch.tensor([-1e4, 0.0], dtype=torch.float64),
                    torch.tensor([0.0, 1e-30], dtype=torch.float64),
                ),
                {},
                desc="zero variance, huge residual",
            )
        ],
    ),
]

BY_NAME: Dict[str, LossInfo] = {e.name: e for e in ENTRIES}

# ---------------------------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------------------------

from .reference import classification as ref_cls  # noqa: E402

CLASS_SHAPES = [(5,), (6, 4), (2, 3, 4, 5)]  # (C,), (N, C), (N, C, d1, d2)
MATRIX_SHAPES = [(5,), (6, 4)]  # losses torch defines on (C,) and (N, C) only


def _long(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.long)


def _target_shape(shape):
    return shape[:0] if len(shape) == 1 else shape[:1] + shape[2:]


def class_index_samples(
    hparams: Callable[[np.random.Generator, int], Dict[str, Any]] = lambda rng, c: {},
    *,
    shapes=CLASS_SHAPES,
    weight: bool = True,
    ignore: bool = True,
    prob_targets: bool = False,
    sample_weight: bool = True,
):
    """Index-target samples over ``shapes`` with random class weights / ignore_index, plus probability targets."""

    def build(rng: np.random.Generator) -> List[Sample]:
        out = []
        for k, shape in enumerate(shapes):
            c = shape[0 if len(shape) == 1 else 1]
            x = rng.normal(0, 2, size=shape)
            y = rng.integers(0, c, size=_target_shape(shape))
            kw = dict(hparams(rng, c))
            if weight and k % 2 == 0:
                kw["weight"] = _t(rng.uniform(0.2, 2.0, size=c))
            if ignore and len(shape) > 1:
                ignore_index = int(rng.choice([-100, 1, -1]))
                kw["ignore_index"] = ignore_index
                flat = y.reshape(-1)
                flat[rng.random(flat.size) < 0.25] = ignore_index
                flat[0] = 0 if ignore_index != 0 else 2  # at least one target counts
            out.append(Sample((_t(x), _long(y)), kw, desc=f"index {shape} {sorted(kw)}"))
        if prob_targets:
            for shape in shapes[1:]:
                c = shape[1]
                out.append(
                    Sample(
                        (_t(rng.normal(0, 2, size=shape)), _t(probs(rng, shape))),
                        dict(hparams(rng, c)),
                        desc=f"probabilities {shape}",
                    )
                )
        if sample_weight:
            shape = shapes[1]
            c = shape[-1] if len(shape) == 2 else shape[1]
            out.append(
                Sample(
                    (_t(rng.normal(0, 2, size=shape)), _long(rng.integers(0, c, size=shape[:1]))),
                    {**hparams(rng, c), "sample_weight": _t(rng.uniform(0.1, 2, size=shape[:1]))},
                    desc="sample_weight",
                )
            )
        return out

    return build


def class_empty() -> Sample:
    return Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.long)), {})


def class_nan_sample() -> Sample:
    return Sample((torch.randn(3, 4, dtype=torch.float64), torch.tensor([0, 1, 2])), {})


def class_errors(extra=()) -> Callable[[], List[ErrorCase]]:
    def build():
        return [
            ErrorCase(
                (torch.randn(4, 3), torch.tensor([0.0, 1.0, 2.0, 1.0])),
                {},
                TypeError,
                r"class-index targets must be an integer tensor; got float32",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.tensor([0, 1, 3, 1])),
                {},
                ValueError,
                r"target contains class 3, outside the valid range \[0, 2\]",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.tensor([0, 1, -5, 1])), {}, ValueError, r"class -5, outside the valid range"
            ),
            ErrorCase((torch.randn(4, 3), torch.tensor([0, 1])), {}, ValueError, r"target must have shape \(4,\)"),
            ErrorCase(
                (torch.randn(4, 3).int(), torch.tensor([0, 1, 2, 1])), {}, TypeError, r"input must be a floating"
            ),
            *extra,
        ]

    return build


def weight_error():
    return ErrorCase(
        (torch.randn(4, 3), torch.tensor([0, 1, 2, 1])),
        {"weight": torch.ones(2)},
        ValueError,
        r"weight must have one entry per class \(3\); got 2",
    )


def saturated_logit_extremes(gammas=(None,), **fixed) -> Callable[[], List[Sample]]:
    def build():
        x = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0], [-1e4, -1e4, 1e4]], dtype=torch.float64)
        out = []
        for g in gammas:
            kw = dict(fixed) if g is None else {**fixed, "gamma": g}
            for y in (torch.tensor([0, 1, 2, 2]), torch.tensor([2, 0, 1, 0])):  # confident right / confident wrong
                out.append(Sample((x, y), kw, desc=f"saturated logits {kw}"))
        return out

    return build


def binary_extremes(targets=(0.0, 1.0), **fixed) -> Callable[[], List[Sample]]:
    def build():
        x = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], dtype=torch.float64)
        t = torch.tensor([targets[1], targets[0], targets[0], targets[1], targets[1]], dtype=torch.float64)
        return [Sample((x, t), fixed, desc="saturated logits")]

    return build


def binary_samples(target_values, hparams=lambda rng: {}, soft=False):
    def make_target(rng, shape):
        if soft:
            return rng.uniform(0, 1, size=shape)
        return rng.choice(target_values, size=shape).astype(np.float64)

    return elementwise_samples(normal(2.0), make_target, hparams)


def elementwise_class_entry(
    name, reference, target_values=(0.0, 1.0), *, soft=False, hparams=lambda rng: {}, errors=(), extremes=None, **kw
) -> LossInfo:
    return LossInfo(
        name=name,
        reference=reference,
        samples=binary_samples(target_values, hparams, soft),
        empty=empty_pair(),
        errors=lambda: [
            ErrorCase((torch.randn(4, 1), torch.ones(4)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
            ErrorCase((torch.randn(3), torch.tensor([1, 0, 1]) * 1j), {}, TypeError, r"target must be a real tensor"),
            *errors,
        ],
        extremes=extremes or binary_extremes(target_values),
        **kw,
    )


def _focal_gamma(rng):
    return float(rng.choice([0.0, 0.5, 1.0, 2.0, 3.5]))


def _bce_hparams(rng):
    kw = {}
    if rng.random() < 0.5:
        kw["label_smoothing"] = float(rng.choice([0.1, 0.3]))
    return kw


def _bce_weighted_samples(rng):
    return [
        Sample(
            (_t(rng.normal(size=(6, 4))), _t(rng.uniform(size=(6, 4)))),
            {"weight": _t(rng.uniform(0.2, 2, size=(6, 1))), "pos_weight": _t(rng.uniform(0.5, 3, size=(4,)))},
            desc="weight + pos_weight",
        ),
    ]


def _bce_prob_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        out.append(
            Sample((_t(rng.uniform(0.02, 0.98, size=shape)), _t(rng.uniform(size=shape))), {}, desc=f"shape={shape}")
        )
    out.append(
        Sample(
            (_t(rng.uniform(0.02, 0.98, size=(5, 3))), _t(rng.integers(0, 2, size=(5, 3)))),
            {"weight": _t(rng.uniform(0.5, 2, size=(3,)))},
            desc="weight (C,)",
        )
    )
    out.append(
        Sample(
            (_t(rng.uniform(0.02, 0.98, size=(5, 3))), _t(rng.uniform(size=(5, 3)))),
            {"sample_weight": _t(rng.uniform(size=(5, 1)))},
            desc="sample_weight",
        )
    )
    return out


def _multilabel_margin_samples(rng):
    out = []
    for shape in MATRIX_SHAPES:
        c = shape[-1]
        y = np.full(shape, -1)
        for row in np.atleast_2d(y) if len(shape) == 2 else [y]:
            k = rng.integers(1, c)
            row[:k] = rng.permutation(c)[:k]
        out.append(Sample((_t(rng.normal(size=shape)), _long(y)), {}, desc=f"shape={shape}"))
    return out


def _multilabel_soft_samples(rng):
    return [
        Sample((_t(rng.normal(size=(6, 4))), _t(rng.integers(0, 2, size=(6, 4)))), {}, desc="(N, C)"),
        Sample(
            (_t(rng.normal(size=(6, 4))), _t(rng.uniform(size=(6, 4)))),
            {"weight": _t(rng.uniform(0.2, 2, size=4))},
            desc="weight",
        ),
        Sample((_t(rng.normal(size=(2, 3, 4))), _t(rng.integers(0, 2, size=(2, 3, 4)))), {}, desc="(N, d, C)"),
    ]


def _categorical_hinge_samples(rng):
    out = class_index_samples(weight=False, ignore=False, prob_targets=False, sample_weight=True)(rng)
    for shape in CLASS_SHAPES[1:]:
        c = shape[1]
        y = rng.integers(0, c, size=_target_shape(shape))
        onehot = np.moveaxis(np.eye(c)[y], -1, 1)
        out.append(Sample((_t(rng.normal(size=shape)), _t(onehot)), {}, desc=f"one-hot {shape}"))
    return out


def _focal_probability_weighted_samples(rng):
    """Soft targets with per-class alpha and weight tensors (the Keras CategoricalFocalCrossentropy path)."""
    out = []
    for shape in ((6, 4), (2, 3, 4, 2)):
        c = shape[1]
        kw = {
            "gamma": float(rng.choice([0.5, 2.0])),
            "alpha": _t(rng.uniform(0.2, 1, size=c)),
            "weight": _t(rng.uniform(0.5, 2, size=c)),
        }
        out.append(
            Sample(
                (_t(rng.normal(0, 2, size=shape)), _t(probs(rng, shape))),
                kw,
                desc=f"probabilities {shape} alpha+weight",
            )
        )
    return out


def _hp(rng_fn):
    return lambda rng, c: rng_fn(rng)


ENTRIES += [
    LossInfo(
        name="cross_entropy",
        reference=ref_cls.cross_entropy,
        samples=class_index_samples(
            _hp(lambda rng: {"label_smoothing": float(rng.choice([0.0, 0.0, 0.1, 0.4]))}), prob_targets=True
        ),
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error(
                    {"label_smoothing": 1.5},
                    r"label_smoothing must be in \[0, 1\]",
                    args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1])),
                ),
            ]
        ),
        extremes=saturated_logit_extremes(),
    ),
    LossInfo(
        name="nll",
        reference=ref_cls.nll,
        samples=lambda rng: [
            Sample((torch.log_softmax(s.args[0], 1 if s.args[0].dim() > 1 else 0), s.args[1]), s.kwargs, desc=s.desc)
            for s in class_index_samples(sample_weight=False)(rng)
        ],
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error(
                    {"weight": torch.ones(2, 2)},
                    r"weight must be a 1-D tensor",
                    args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1])),
                ),
            ]
        ),
        extremes=lambda: [
            Sample((torch.log_softmax(s.args[0], 1), s.args[1]), s.kwargs, desc=s.desc)
            for s in saturated_logit_extremes()()
        ],
    ),
    LossInfo(
        name="binary_cross_entropy",
        reference=ref_cls.binary_cross_entropy,
        samples=_bce_prob_samples,
        empty=empty_pair(),
        errors=lambda: [
            hp_error(
                {"weight": "heavy"},
                r"weight must be a torch.Tensor or None; got str",
                TypeError,
                args=(torch.rand(3), torch.rand(3)),
            ),
            ErrorCase((torch.rand(4, 1), torch.rand(4)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
            ErrorCase(
                (torch.tensor([0.5, 1.5]), torch.rand(2)),
                {},
                ValueError,
                r"input must hold probabilities in \[0, 1\]; got values in \[0.5, 1.5\]",
            ),
            ErrorCase(
                (torch.rand(3, 2), torch.rand(3, 2)), {"weight": torch.ones(3)}, ValueError, r"weight must broadcast"
            ),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-30], dtype=torch.float64),
                    torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64),
                ),
                {},
                desc="probabilities 0 and 1",
            )
        ],
    ),
    elementwise_class_entry(
        "bce",
        ref_cls.bce_with_logits,
        soft=True,
        hparams=_bce_hparams,
        errors=[
            hp_error({"label_smoothing": -0.1}, r"label_smoothing"),
            ErrorCase(
                (torch.randn(3, 2), torch.rand(3, 2)),
                {"pos_weight": torch.ones(3)},
                ValueError,
                r"pos_weight must broadcast",
            ),
        ],
    ),
    elementwise_class_entry(
        "balanced_bce",
        ref_cls.balanced_bce,
        hparams=lambda rng: {} if rng.random() < 0.5 else {"beta": float(rng.uniform(0.1, 0.9))},
        errors=[hp_error({"beta": 1.5}, r"beta must be in \[0, 1\]")],
    ),
    elementwise_class_entry(
        "sigmoid_focal",
        ref_cls.sigmoid_focal,
        hparams=lambda rng: {
            "gamma": _focal_gamma(rng),
            "alpha": [None, 0.25, 0.6][rng.integers(3)],
            "label_smoothing": float(rng.choice([0.0, 0.1])),
        },
        errors=[
            hp_error({"gamma": -1.0}, r"gamma must be in \[0, inf\)"),
            hp_error({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ],
        extremes=lambda: [s for g in (0.0, 0.5, 1.0, 2.0) for s in binary_extremes(gamma=g)()],
    ),
    LossInfo(
        name="focal",
        reference=ref_cls.softmax_focal,
        samples=lambda rng: (
            class_index_samples(
                lambda rng, c: {
                    "gamma": _focal_gamma(rng),
                    **(
                        {}
                        if rng.random() < 0.4
                        else {"alpha": _t(rng.uniform(0.2, 1, size=c)) if rng.random() < 0.5 else 0.25}
                    ),
                },
                prob_targets=True,
            )(rng)
            + _focal_probability_weighted_samples(rng)
        ),
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error(
                    {"gamma": -0.5},
                    r"gamma must be in \[0, inf\)",
                    args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1])),
                ),
                ErrorCase(
                    (torch.randn(4, 3), torch.tensor([0, 1, 2, 1])),
                    {"alpha": torch.ones(2)},
                    ValueError,
                    r"alpha must have one entry per class \(3\)",
                ),
            ]
        ),
        extremes=saturated_logit_extremes(gammas=(0.0, 0.5, 1.0, 2.0)),
    ),
    LossInfo(
        name="poly1",
        reference=ref_cls.poly1,
        samples=class_index_samples(
            _hp(
                lambda rng: {
                    "epsilon": float(rng.choice([-1.0, 1.0, 2.0])),
                    "label_smoothing": float(rng.choice([0.0, 0.1])),
                }
            ),
            prob_targets=True,
        ),
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error(
                    {"label_smoothing": 2.0}, r"label_smoothing", args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]))
                ),
            ]
        ),
        extremes=saturated_logit_extremes(),
    ),
    LossInfo(
        name="generalized_cross_entropy",
        reference=ref_cls.gce,
        samples=class_index_samples(_hp(lambda rng: {"q": float(rng.choice([0.3, 0.7, 1.0]))}), prob_targets=True),
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error({"q": 0.0}, r"q must be in \(0, 1\]", args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]))),
                hp_error({"q": 1.5}, r"q must be in", args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]))),
            ]
        ),
        extremes=saturated_logit_extremes(),
    ),
    elementwise_class_entry(
        "hinge",
        ref_cls.hinge,
        target_values=(-1.0, 1.0),
        errors=[
            ErrorCase(
                (torch.randn(3), torch.tensor([0.0, 2.0, 1.0])),
                {},
                ValueError,
                r"target must hold labels in \{-1, 1\} or in \{0, 1\}; got 2",
            )
        ],
    ),
    elementwise_class_entry(
        "squared_hinge",
        ref_cls.squared_hinge,
        target_values=(0.0, 1.0),
        errors=[ErrorCase((torch.randn(3), torch.tensor([-1.0, 0.0, 1.0])), {}, ValueError, r"a mix of -1 and 0")],
    ),
    LossInfo(
        name="categorical_hinge",
        reference=ref_cls.categorical_hinge,
        samples=_categorical_hinge_samples,
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(),
        extremes=saturated_logit_extremes(),
    ),
    LossInfo(
        name="multi_margin",
        reasons={"double_backward": "torch's multi_margin_loss kernel has no double backward"},
        reference=ref_cls.multi_margin,
        samples=class_index_samples(
            _hp(lambda rng: {"p": int(rng.choice([1, 2])), "margin": float(rng.choice([0.5, 1.0, 2.0]))}),
            shapes=MATRIX_SHAPES,
            ignore=False,
            sample_weight=False,
        ),
        empty=class_empty,
        nan_sample=class_nan_sample,
        errors=class_errors(
            [
                weight_error(),
                hp_error({"p": 3}, r"p must be 1 or 2", args=(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]))),
            ]
        ),
        extremes=saturated_logit_extremes(),
    ),
    LossInfo(
        name="multilabel_margin",
        reasons={"double_backward": "torch's multilabel_margin_loss kernel has no double backward"},
        reference=ref_cls.multilabel_margin,
        samples=_multilabel_margin_samples,
        empty=lambda: Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.long)), {}),
        errors=lambda: [
            ErrorCase(
                (torch.randn(2, 3), torch.tensor([[0.0, 1.0, -1.0], [2.0, -1.0, 0.0]])),
                {},
                TypeError,
                r"target must be an integer tensor",
            ),
            ErrorCase(
                (torch.randn(2, 3), torch.tensor([[0, 3, -1], [2, -1, 0]])),
                {},
                ValueError,
                r"class 3, outside the valid range \[0, 2\]",
            ),
            ErrorCase(
                (torch.randn(2, 3), torch.tensor([[0, 1], [2, -1]])),
                {},
                ValueError,
                r"target must have the input's shape",
            ),
        ],
        extremes=lambda: [
            Sample(
                (torch.tensor([[1e4, -1e4, 0.0]], dtype=torch.float64), torch.tensor([[1, -1, 0]])),
                {},
                desc="saturated",
            )
        ],
        nan_sample=lambda: Sample(
            (torch.randn(3, 4, dtype=torch.float64), torch.tensor([[0, 2, -1, 0], [1, -1, 0, 0], [3, 0, 1, 2]])), {}
        ),
    ),
    elementwise_class_entry("soft_margin", ref_cls.soft_margin, target_values=(-1.0, 1.0)),
    LossInfo(
        name="multilabel_soft_margin",
        reference=ref_cls.multilabel_soft_margin,
        samples=_multilabel_soft_samples,
        empty=lambda: Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.float64)), {}),
        errors=lambda: [
            hp_error(
                {"weight": torch.ones(2, 2)}, r"weight must be a 1-D tensor", args=(torch.randn(4, 2), torch.rand(4, 2))
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.rand(4, 2)), {}, ValueError, r"target must have the input's shape \(4, 3\)"
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.rand(4, 3)),
                {"weight": torch.ones(2)},
                ValueError,
                r"weight must have one entry per class \(3\)",
            ),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([[1e4, -1e4, 1e4]], dtype=torch.float64),
                    torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64),
                ),
                {},
                desc="saturated",
            )
        ],
    ),
]

_bce_entry = next(e for e in ENTRIES if e.name == "bce")
_bce_base_samples = _bce_entry.samples
_bce_entry.samples = lambda rng: _bce_base_samples(rng) + _bce_weighted_samples(rng)

BY_NAME = {e.name: e for e in ENTRIES}

# ---------------------------------------------------------------------------------------------
# large vocabulary
# ---------------------------------------------------------------------------------------------


def _lce_samples(rng):
    out = []
    for n, h, v, kw in [
        (9, 4, 7, {}),
        (12, 5, 11, {"label_smoothing": 0.2, "chunk_size": 5}),
        (10, 3, 6, {"softcap": 2.5, "z_loss": 1e-2, "chunk_size": 3}),
        (7, 4, 5, {"linear_bias": _t(rng.normal(size=5)), "ignore_index": 2, "chunk_size": 2}),
        (
            11,
            4,
            6,
            {
                "weight": _t(rng.uniform(0.5, 2.0, size=6)),
                "label_smoothing": 0.1,
                "z_loss": 1e-2,
                "ignore_index": 1,
                "chunk_size": 4,
            },
        ),
    ]:
        kw = {"ignore_index": -100, **kw}
        y = rng.integers(0, v, size=n)
        y[2::4] = kw["ignore_index"]
        y[0] = 0 if kw["ignore_index"] != 0 else 1
        out.append(
            Sample(
                (_t(rng.normal(size=(n, h))), _t(rng.normal(size=(v, h))), _long(y)),
                kw,
                desc=f"N={n} V={v} {sorted(kw)}",
            )
        )
    # torch's other inputs: probability targets (the unfused path, as in torch) and one unbatched row
    out.append(
        Sample(
            (_t(rng.normal(size=(6, 3))), _t(rng.normal(size=(5, 3))), _t(probs(rng, (6, 5)))),
            {"weight": _t(rng.uniform(0.5, 2.0, size=5)), "label_smoothing": 0.1, "z_loss": 1e-2},
            desc="probability targets (6, 5)",
        )
    )
    out.append(
        Sample((_t(rng.normal(size=4)), _t(rng.normal(size=(6, 4))), _long(np.int64(3))), {}, desc="unbatched (4,)")
    )
    return out


def _lce_owned(args, call):
    """LinearCrossEntropyLoss owns linear_weight (and linear_bias): the battery copies the sample's into it."""
    x, w, y = args
    call = dict(call)
    b = call.pop("linear_bias", None)

    def load(module):
        with torch.no_grad():
            module.linear.weight.copy_(w)
            if b is not None:
                module.linear.bias.copy_(b)

    ctor = {"in_features": w.shape[1], "num_classes": w.shape[0], "bias": b is not None, "dtype": w.dtype}
    return ctor, [x, y], call, load


ENTRIES.append(
    LossInfo(
        name="linear_cross_entropy",
        reference=ref_cls.linear_cross_entropy,
        samples=_lce_samples,
        owned=_lce_owned,
        module_kwargs={"in_features": 4, "num_classes": 7},
        empty=lambda: Sample(
            (
                torch.zeros(0, 4, dtype=torch.float64),
                torch.randn(6, 4, dtype=torch.float64),
                torch.zeros(0, dtype=torch.long),
            ),
            {},
        ),
        errors=lambda: [
            ErrorCase(
                (torch.randn(4, 3), torch.randn(6, 2), torch.zeros(4, dtype=torch.long)),
                {},
                ValueError,
                r"weight must be \(V, 3\)",
            ),
            ErrorCase(
                (torch.randn(2, 4, 3), torch.randn(6, 3), torch.zeros(2, 4, dtype=torch.long)),
                {},
                ValueError,
                r"input must be \(N, H\) or \(H,\)",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.randn(6, 3), torch.tensor([0, 1, 6, 2])),
                {},
                ValueError,
                r"class 6, outside the valid range \[0, 5\]",
            ),
            ErrorCase((torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4)), {}, TypeError, r"integer tensor"),
            ErrorCase(
                (torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4, dtype=torch.long)),
                {"linear_bias": torch.zeros(5)},
                ValueError,
                r"linear_bias must be \(6,\)",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4, dtype=torch.long)),
                {"weight": torch.ones(5)},
                ValueError,
                r"weight must have one entry per class \(6\)",
            ),
            ErrorCase(
                (torch.randn(3), torch.randn(6, 2, 3), torch.zeros(2, dtype=torch.long)),
                {},
                ValueError,
                r"K-dimensional loss .* needs a batched input",
            ),
            ErrorCase(
                (torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4, dtype=torch.long)),
                {"chunk_size": 0},
                ValueError,
                r"chunk_size must be a positive integer",
            ),
            hp_error(
                {"softcap": -1.0},
                r"softcap must be in \(0, inf\)",
                args=(torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4, dtype=torch.long)),
            ),
            hp_error(
                {"z_loss": -1e-4},
                r"z_loss must be in \[0, inf\)",
                args=(torch.randn(4, 3), torch.randn(6, 3), torch.zeros(4, dtype=torch.long)),
            ),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([[1e3, -1e3], [0.0, 0.0], [-1e3, 1e3]], dtype=torch.float64),
                    torch.tensor([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]], dtype=torch.float64),
                    torch.tensor([1, 0, 0]),
                ),
                {},
                desc="logits of ±1e4",
            )
        ],
    )
)
BY_NAME = {e.name: e for e in ENTRIES}

from .loss_db_sequence import ENTRIES as _SEQUENCE_ENTRIES  # noqa: E402

ENTRIES += _SEQUENCE_ENTRIES

from .loss_db_embedding import ENTRIES as _EMBEDDING_ENTRIES  # noqa: E402

ENTRIES += _EMBEDDING_ENTRIES


from .loss_db_adversarial import ENTRIES as _ADVERSARIAL_ENTRIES  # noqa: E402

ENTRIES += _ADVERSARIAL_ENTRIES

from .loss_db_segmentation import ENTRIES as _SEGMENTATION_ENTRIES  # noqa: E402

ENTRIES += _SEGMENTATION_ENTRIES


from .loss_db_detection import ENTRIES as _DETECTION_ENTRIES  # noqa: E402

ENTRIES += _DETECTION_ENTRIES

# every family's entry by name, so that the ±inf table below can reach all of them
BY_NAME = {e.name: e for e in ENTRIES}


# ---------------------------------------------------------------------------------------------
# ±inf inputs (issue 11: no loss returns NaN where its value is finite or infinite)
# ---------------------------------------------------------------------------------------------

_INF = float("inf")


def _inf_pairs(targets) -> Callable[[], List[Sample]]:
    """Scores ±inf (and one finite) against labels, both signs of each."""

    def build():
        x = torch.tensor([_INF, -_INF, _INF, -_INF, 0.5], dtype=torch.float64)
        t = torch.tensor(targets, dtype=torch.float64)
        return [Sample((x, t), {}, desc="±inf inputs")]

    return build


def _inf_class_scores(targets) -> Callable[[], List[Sample]]:
    def build():
        x = torch.tensor(
            [[_INF, 0.0, -_INF], [0.0, _INF, 1.0], [-_INF, 0.0, 0.0], [1.0, -_INF, 2.0]], dtype=torch.float64
        )
        return [Sample((x, targets()), {}, desc="±inf scores")]

    return build


def _f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _inf_targets() -> List[Sample]:
    """Infinite targets against finite predictions (the opposite side of _inf_pairs)."""
    return [Sample((_f64([0.5, -2.0, 3.0, 0.0]), _f64([_INF, -_INF, 1.0, _INF])), {}, desc="±inf targets")]


def _inf_regression_both_sides(targets) -> Callable[[], List[Sample]]:
    return lambda: _inf_pairs(targets)() + _inf_targets()


def _inf_poisson() -> List[Sample]:
    # a log-rate of +inf (loss +inf), of -inf with count 0 (loss 0) and with count 3 (loss +inf); a rate of +inf
    log_rates, counts = _f64([_INF, -_INF, -_INF, 0.5]), _f64([2.0, 0.0, 3.0, 1.0])
    return [
        Sample((log_rates, counts), {"log_input": True, "full": full}, desc=f"±inf log-rates, full={full}")
        for full in (False, True)
    ] + [Sample((_f64([_INF, 0.5]), _f64([2.0, 1.0])), {"log_input": False}, desc="+inf rate")]


def _inf_gaussian() -> List[Sample]:
    # infinite means and observations (loss +inf), and an infinite variance with a finite residual (loss +inf,
    # gradient 0 for the mean); an infinite variance against an infinite residual is ∞/∞ and is left out
    mean, obs, var = _f64([_INF, -_INF, 0.5, 1.0]), _f64([0.0, 1.0, _INF, 0.0]), _f64([1.0, 2.0, 3.0, _INF])
    return [
        Sample((mean, obs, var), {"full": full}, desc=f"±inf mean / observation / var, full={full}")
        for full in (False, True)
    ]


def _inf_kl() -> List[Sample]:
    # log-probability -inf (a masked class): 0 where the target is 0, +inf where it is not
    log_q = _f64([[-_INF, math.log(0.5), math.log(0.5)], [-_INF, 0.0, -_INF]])
    p = _f64([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    return [
        Sample((log_q, p), {}, desc="-inf log-probabilities"),
        Sample((log_q, torch.log(p)), {"log_target": True}, desc="-inf log-probabilities and log targets"),
    ]


def _inf_js() -> List[Sample]:
    log_p = _f64([[-_INF, math.log(0.5), math.log(0.5)], [-_INF, 0.0, -_INF]])
    q = _f64([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    logits = _f64([[-_INF, 0.0, 1.0], [2.0, -_INF, -_INF]])
    q3 = _f64([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    return [
        Sample((log_p, q), {}, desc="-inf log-probabilities"),
        Sample((log_p, torch.log(q)), {"log_target": True}, desc="-inf log-probabilities and log targets"),
        Sample((logits, q), {"from_logits": True}, desc="-inf logits"),
        Sample(
            (_f64([[_INF, 0.0, 1.0], [_INF, _INF, -_INF], [0.5, _INF, -1.0]]), q3),
            {"from_logits": True},
            desc="+inf logits (the one-hot softmax limit, shared between tied +inf)",
        ),
        Sample(
            (_f64([[_INF, 0.0, 1.0], [0.0, 1.0, 2.0], [0.5, _INF, -1.0]]), torch.log(q3).clamp_min(-50.0)),
            {"from_logits": True, "log_target": True},
            desc="+inf logits, log targets",
        ),
    ]


def _inf_gan(kinds, generator: bool) -> Callable[[], List[Sample]]:
    real, fake = _f64([_INF, -_INF, 0.5, _INF]), _f64([-_INF, _INF, _INF, 0.3])

    def build():
        if generator:
            return [Sample((fake,), {"kind": kind}, desc=f"±inf scores {kind}") for kind in kinds]
        return [Sample((real, fake), {"kind": kind}, desc=f"±inf scores {kind}") for kind in kinds] + [
            Sample((real, fake), {"kind": "minimax", "label_smoothing": 0.2}, desc="±inf scores, smoothed")
        ]

    return build


def _inf_ctc() -> List[Sample]:
    # labels of probability 0 (log-probability -inf) in some frames; every target still has a path
    log_probs = torch.log_softmax(torch.linspace(-2.0, 2.0, 6 * 2 * 4, dtype=torch.float64).reshape(6, 2, 4).sin(), -1)
    log_probs[0, 0, 2] = log_probs[3, 1, 1] = log_probs[5, 0, 3] = log_probs[2, 1, 0] = -_INF
    targets = torch.tensor([[1, 2], [3, 1]])
    return [Sample((log_probs, targets, torch.tensor([6, 5]), torch.tensor([2, 2])), {}, desc="-inf log-probabilities")]


def _inf_iou() -> List[Sample]:
    # boxes with one infinite side against finite boxes: U = ∞, so the IoU is 0 and the loss 1, with gradient 0;
    # GIoU / DIoU / CIoU / EIoU compare the enclosing box and the centres, ∞/∞ there (no single limit), and an
    # infinite box against an infinite box is ∞/∞ for the IoU too, so those are left out
    boxes = _f64([[-_INF, 0.0, 1.0, 1.0], [0.0, 0.0, _INF, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    others = _f64([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], [0.5, -_INF, 1.5, 1.5], [0.5, 0.5, 1.5, 1.5]])
    return [Sample((boxes, others), {}, desc="boxes with a ±inf side")]


_INF_EXTREMES = {
    **{n: _inf_pairs([0.0, 0.0, 1.0, -1.0, 0.0]) for n in ("l1", "mse", "smooth_l1", "huber", "log_cosh", "quantile")},
    # regression with an infinite target as well (rmse's gradient is the limit a_i sign(r_i) / sqrt(Σ_inf a_j));
    # msle clamps -inf to eps and an infinite prediction and target would be ∞ - ∞, so each sample has one side
    **{n: _inf_regression_both_sides([0.0, 0.0, 1.0, -1.0, 0.0]) for n in ("rmse", "msle", "mape")},
    "poisson_nll": _inf_poisson,
    "gaussian_nll": _inf_gaussian,
    "kl_div": _inf_kl,
    "js_div": _inf_js,
    # wasserstein and relativistic_average take differences of scores (∞ - ∞ when both sides are infinite);
    # the generator's hinge and wasserstein terms are -f, whose sum over +inf and -inf scores is ∞ - ∞ too
    "gan_discriminator": _inf_gan(("minimax", "non_saturating", "least_squares", "hinge"), generator=False),
    "gan_generator": _inf_gan(("minimax", "non_saturating", "least_squares"), generator=True),
    "ctc": _inf_ctc,
    "iou": _inf_iou,
    "hinge": _inf_pairs([1.0, 1.0, -1.0, -1.0, 1.0]),
    "soft_margin": _inf_pairs([1.0, 1.0, -1.0, -1.0, 1.0]),
    "squared_hinge": _inf_pairs([1.0, 1.0, 0.0, 0.0, 1.0]),
    "categorical_hinge": _inf_class_scores(lambda: torch.tensor([0, 0, 1, 1])),
    "multi_margin": _inf_class_scores(lambda: torch.tensor([0, 0, 1, 1])),
    "multilabel_margin": _inf_class_scores(lambda: torch.tensor([[0, -1, 0], [1, 2, -1], [2, -1, 0], [0, 1, -1]])),
    "multilabel_soft_margin": _inf_class_scores(
        lambda: torch.tensor([[1.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float64)
    ),
}
for _name, _build in _INF_EXTREMES.items():
    BY_NAME[_name].inf_extremes = _build


def _inf_softmax_rows():
    """Class scores with ±inf: one +inf (the true class, or another), a tie of two +inf, -inf at the true class."""
    return torch.tensor(
        [
            [_INF, 0.0, -_INF],
            [0.0, _INF, 1.0],
            [-_INF, 0.0, 0.0],
            [1.0, -_INF, 2.0],
            [_INF, _INF, 0.0],
            [0.5, -1.0, 2.0],
        ],
        dtype=torch.float64,
    )


_INF_CLASS_TARGETS = torch.tensor([0, 0, 1, 1, 0, 2])


def _inf_soft_targets():
    """Probabilities with zeros where a score is -inf (0 · log 0 = 0) and mass where it is -inf (inf)."""
    return torch.tensor(
        [[1.0, 0, 0], [0.5, 0.5, 0], [0, 0.25, 0.75], [0.2, 0, 0.8], [0.5, 0.5, 0], [0, 1.0, 0]], dtype=torch.float64
    )


def _inf_softmax_samples(*index_kwargs, soft=True, soft_kwargs=({},)):
    def build():
        out = [
            Sample((_inf_softmax_rows(), _INF_CLASS_TARGETS.clone()), dict(kw), desc=f"±inf scores, index targets {kw}")
            for kw in index_kwargs
        ]
        if soft:
            out += [
                Sample((_inf_softmax_rows(), _inf_soft_targets()), dict(kw), desc=f"±inf scores, soft targets {kw}")
                for kw in soft_kwargs
            ]
        return out

    return build


def _inf_logit_samples(*kwargs_list):
    """Logits ±inf against targets 1, 0 and soft ones (0 · inf reads 0: the loss is 0 or inf, never NaN)."""

    def build():
        x = torch.tensor([_INF, -_INF, _INF, -_INF, _INF, -_INF, 0.5], dtype=torch.float64)
        t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.3, 1.0], dtype=torch.float64)
        return [Sample((x.clone(), t.clone()), dict(kw), desc=f"±inf logits {kw}") for kw in kwargs_list]

    return build


def _inf_log_probabilities():
    def build():
        lp = torch.tensor([[0.0, -_INF, -_INF], [-0.5, -1.0, -_INF], [-_INF, -0.1, -2.0]], dtype=torch.float64)
        return [Sample((lp, torch.tensor([0, 2, 0])), {}, desc="log-probabilities of -inf")]

    return build


_INF_EXTREMES_CLASSIFICATION = {
    "cross_entropy": _inf_softmax_samples(
        {},
        {"label_smoothing": 0.1},
        {"weight": torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)},
        soft_kwargs=({}, {"label_smoothing": 0.2}),
    ),
    "nll": _inf_log_probabilities(),
    "focal": _inf_softmax_samples({}, {"gamma": 0.5, "alpha": 0.25}, soft_kwargs=({}, {"gamma": 0.5})),
    "poly1": _inf_softmax_samples({}, {"label_smoothing": 0.1}, soft_kwargs=({}, {"label_smoothing": 0.1})),
    "generalized_cross_entropy": _inf_softmax_samples({}, {"q": 0.3}),
    "bce": _inf_logit_samples({}, {"pos_weight": torch.tensor(2.0, dtype=torch.float64)}, {"label_smoothing": 0.1}),
    "sigmoid_focal": _inf_logit_samples({}, {"alpha": None, "gamma": 0.5}, {"gamma": 0.0}),
    "balanced_bce": _inf_logit_samples({}, {"beta": 0.3}),
}
for _name, _build in _INF_EXTREMES_CLASSIFICATION.items():
    BY_NAME[_name].inf_extremes = _build

from .loss_db_long_tail import ENTRIES as _LONG_TAIL_ENTRIES  # noqa: E402

ENTRIES += _LONG_TAIL_ENTRIES


def _finalize_entry(entry: LossInfo) -> LossInfo:
    """Every sample the battery sees gets its grad_args from the declaration's differentiable roles."""
    samples, extremes, empty, nan_sample = entry.samples, entry.extremes, entry.empty, entry.nan_sample
    inf_extremes = entry.inf_extremes
    entry.samples = lambda rng: [entry.finalize(s) for s in samples(rng)]
    entry.extremes = lambda: [entry.finalize(s) for s in extremes()]
    entry.inf_extremes = lambda: [entry.finalize(s) for s in inf_extremes()]
    entry.empty = lambda: entry.finalize(empty())
    if nan_sample is not None:
        entry.nan_sample = lambda: entry.finalize(nan_sample())
    return entry


ENTRIES = [_finalize_entry(e) for e in ENTRIES]
BY_NAME = {e.name: e for e in ENTRIES}


def battery_cases() -> List[LossInfo]:
    """The battery's case list: one entry per declared loss, in name order (a declaration without an entry fails the meta-test)."""
    return [BY_NAME[name] for name in lk.available() if name in BY_NAME]


def register_entry(entry: LossInfo) -> LossInfo:
    """Add an entry (tests that declare a throwaway loss); :func:`unregister_entry` removes it."""
    entry = _finalize_entry(entry)
    ENTRIES.append(entry)
    BY_NAME[entry.name] = entry
    return entry


def unregister_entry(name: str) -> None:
    ENTRIES[:] = [e for e in ENTRIES if e.name != name]
    BY_NAME.pop(name, None)
