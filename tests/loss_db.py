"""One LossInfo entry per registered loss (OpInfo-style); test_common.py runs the battery over them.

Each entry says how to make sample inputs (float64 tensors), which reference
backs its numbers, which error inputs it must reject, and which edge inputs it
must survive. Adding a loss means adding its entry here.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

import losskit as lk
import losskit.functional as LF

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
    grad_args: Tuple[int, ...] = (0,)
    desc: str = ""

    def with_kwargs(self, **kw) -> "Sample":
        return dataclasses.replace(self, kwargs={**self.kwargs, **kw})

    def materialize(self, dtype: Optional[torch.dtype] = None, requires_grad: bool = False) -> Tuple[list, dict]:
        """Fresh copies (floating tensors cast to ``dtype``), grad args as leaves."""
        args = []
        for i, a in enumerate(self.args):
            if isinstance(a, torch.Tensor):
                a = a.detach().clone()
                if a.is_floating_point() and dtype is not None:
                    a = a.to(dtype)
                if requires_grad and i in self.grad_args:
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
    name: str  # canonical registry name
    fn: Callable
    module: type
    reference: Callable  # (*numpy args, reduction=..., **kwargs) -> numpy value
    samples: Callable[[np.random.Generator], List[Sample]]
    empty: Callable[[], Sample]
    errors: Callable[[], List[ErrorCase]]
    extremes: Callable[[], List[Sample]] = lambda: []
    reductions: Sequence[str] = ("mean", "sum", "none")
    #: mean(none) == mean and sum(none) == sum (false for rmse: the root comes after pooling)
    reduction_consistent: bool = True
    gradgrad: bool = True
    dtypes: Sequence[torch.dtype] = DTYPES
    #: (rtol, atol) against the reference for float16/bfloat16 inputs (computed in float32)
    half_tol: Tuple[float, float] = (2e-3, 2e-3)
    #: the module is constructed from these sample keywords (all but the call-time ones)
    ctor_kwargs: Callable[[Dict[str, Any]], Dict[str, Any]] = lambda kw: {
        k: v for k, v in kw.items() if k not in CALL_KWARGS
    }
    #: a sample whose input[0] may be set to NaN for the passthrough test
    nan_sample: Optional[Callable[[], Sample]] = None
    #: references from other libraries this entry is also checked against (documentation)
    backed_by: str = ""


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
    grad_args: Tuple[int, ...] = (0, 1),
) -> Callable[[np.random.Generator], List[Sample]]:
    """One sample per shape in ELEMENTWISE_SHAPES, plus one with a sample_weight."""

    def build(rng: np.random.Generator) -> List[Sample]:
        out = []
        for shape in ELEMENTWISE_SHAPES:
            out.append(
                Sample((_t(make_input(rng, shape)), _t(make_target(rng, shape))), dict(hparams(rng)), grad_args, f"shape={shape}")
            )
        shape = (4, 3)
        out.append(
            Sample(
                (_t(make_input(rng, shape)), _t(make_target(rng, shape))),
                {**hparams(rng), "sample_weight": _t(rng.uniform(0.1, 2.0, size=(4, 1)))},
                grad_args,
                "sample_weight (4, 1)",
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


def shape_errors(fn) -> List[ErrorCase]:
    return [
        ErrorCase((torch.randn(4, 1), torch.randn(4)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
        ErrorCase((torch.randn(3), torch.tensor([1, 2, 3])), {}, TypeError, r"target must be a floating"),
        ErrorCase((torch.tensor([1, 2, 3]), torch.randn(3)), {}, TypeError, r"input must be a floating"),
    ]


def regression_entry(name, fn, module, reference, *, make_input=normal(), make_target=normal(), hparams=lambda rng: {},
                     errors=(), extremes=lambda: [], **kw) -> LossInfo:
    return LossInfo(
        name=name,
        fn=fn,
        module=module,
        reference=reference,
        samples=elementwise_samples(make_input, make_target, hparams),
        empty=empty_pair(),
        errors=lambda: shape_errors(fn) + list(errors),
        extremes=extremes,
        **kw,
    )


def _extreme_pair(values) -> Callable[[], List[Sample]]:
    def build():
        x = torch.tensor(values, dtype=torch.float64)
        return [Sample((x, torch.zeros_like(x)), {}, (0, 1), "extreme residuals")]

    return build


HUGE = [1e4, -1e4, 1e-30, 0.0, 3.0]

# ---------------------------------------------------------------------------------------------
# regression
# ---------------------------------------------------------------------------------------------

ENTRIES: List[LossInfo] = [
    regression_entry("l1", LF.l1_loss, lk.L1Loss, ref_reg.l1, extremes=_extreme_pair(HUGE), backed_by="torch, keras"),
    regression_entry("mse", LF.mse_loss, lk.MSELoss, ref_reg.mse, extremes=_extreme_pair(HUGE), backed_by="torch, keras"),
    regression_entry(
        "rmse",
        LF.rmse_loss,
        lk.RMSELoss,
        ref_reg.rmse,
        hparams=lambda rng: {"eps": float(rng.choice([0.0, 1e-6]))},
        errors=[hp_error({"eps": -1.0}, r"eps must be in \[0, inf\)")],
        extremes=lambda: [
            Sample((torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)), {}, (0, 1), "zero residual"),
            *_extreme_pair(HUGE)(),
        ],
        reduction_consistent=False,
        backed_by="numpy",
    ),
    regression_entry(
        "smooth_l1",
        LF.smooth_l1_loss,
        lk.SmoothL1Loss,
        ref_reg.smooth_l1,
        hparams=lambda rng: {"beta": float(rng.choice([0.0, 0.5, 1.0, 2.0]))},
        errors=[hp_error({"beta": -0.1}, r"beta must be in \[0, inf\)")],
        extremes=_extreme_pair(HUGE),
        backed_by="torch",
    ),
    regression_entry(
        "huber",
        LF.huber_loss,
        lk.HuberLoss,
        ref_reg.huber,
        hparams=lambda rng: {"delta": float(rng.choice([0.3, 1.0, 2.5]))},
        errors=[
            hp_error({"delta": 0.0}, r"delta must be in \(0, inf\)"),
            hp_error({"delta": -1.0}, r"delta"),
        ],
        extremes=_extreme_pair(HUGE),
        backed_by="torch, keras",
    ),
    regression_entry("log_cosh", LF.log_cosh_loss, lk.LogCoshLoss, ref_reg.log_cosh, make_input=normal(3.0),
                     extremes=_extreme_pair(HUGE), backed_by="keras, numpy"),
    regression_entry(
        "mape",
        LF.mape_loss,
        lk.MAPELoss,
        ref_reg.mape,
        make_target=lambda rng, shape: rng.uniform(0.5, 3.0, size=shape) * rng.choice([-1, 1], size=shape),
        errors=[hp_error({"eps": 0.0}, r"eps must be in \(0, inf\)")],
        extremes=lambda: [Sample((torch.tensor([1e4, -1e4, 0.0], dtype=torch.float64), torch.tensor([0.0, 1e-30, 0.0], dtype=torch.float64)), {}, (0, 1), "zero targets")],
        half_tol=(4e-3, 4e-3),
        backed_by="keras",
    ),
    regression_entry(
        "msle",
        LF.msle_loss,
        lk.MSLELoss,
        ref_reg.msle,
        make_input=uniform(0.1, 5.0),
        make_target=uniform(0.1, 5.0),
        errors=[hp_error({"eps": -1e-3}, r"eps")],
        extremes=lambda: [Sample((torch.tensor([1e30, -5.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1e4, 0.0], dtype=torch.float64)), {}, (0, 1), "huge and negative")],
        backed_by="keras",
    ),
    regression_entry(
        "quantile",
        LF.quantile_loss,
        lk.QuantileLoss,
        ref_reg.quantile,
        hparams=lambda rng: {"quantile": float(rng.choice([0.1, 0.5, 0.9]))},
        errors=[
            hp_error({"quantile": 1.0}, r"quantile must be in \(0, 1\)"),
            hp_error({"quantile": 0.0}, r"quantile"),
            hp_error({"quantile": torch.tensor([0.2, 1.5])}, r"every quantile", args=(torch.randn(3, 2), torch.randn(3))),
            ErrorCase((torch.randn(3, 2), torch.randn(3, 2)), {"quantile": torch.tensor([0.2, 0.5])}, ValueError, r"input must have shape \(\*, 2\) and target \(\*\)"),
        ],
        extremes=_extreme_pair(HUGE),
        backed_by="numpy",
    ),
]


def _quantile_tensor_samples(rng):
    q = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    return [
        Sample((_t(rng.normal(size=(6, 3))), _t(rng.normal(size=(6,)))), {"quantile": q}, (0, 1), "3 quantiles"),
        Sample((_t(rng.normal(size=(2, 4, 3))), _t(rng.normal(size=(2, 4)))), {"quantile": q, "sample_weight": _t(rng.uniform(size=(2, 1, 1)))}, (0, 1), "3 quantiles, weighted"),
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
        out.append(Sample((_t(log_probs(rng, shape)), _t(target)), {"log_target": log_target}, (0, 1), f"shape={shape}"))
    out.append(Sample((_t(log_probs(rng, (4, 3))), _t(probs(rng, (4, 3)))), {"sample_weight": _t(rng.uniform(0.1, 1, (4, 1)))}, (0, 1), "weighted"))
    return out


def _js_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        log_target = bool(rng.integers(2))
        target = log_probs(rng, shape) if log_target else probs(rng, shape)
        out.append(Sample((_t(log_probs(rng, shape)), _t(target)), {"log_target": log_target}, (0, 1), f"shape={shape}"))
    out.append(Sample((_t(rng.normal(size=(4, 5))), _t(rng.normal(size=(4, 5)))), {"from_logits": True, "log_target": True}, (0, 1), "logits"))
    out.append(Sample((_t(rng.normal(size=(2, 3, 4))), _t(probs(rng, (2, 3, 4)))), {"from_logits": True}, (0, 1), "logits (N,C,d)"))
    return out


def _zero_target_extremes():
    logp = torch.log_softmax(torch.tensor([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype=torch.float64), 1)
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return [Sample((logp, target), {}, (0, 1), "zero targets, saturated log-probs")]


def _poisson_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        log_input = bool(rng.integers(2))
        x = rng.normal(size=shape) if log_input else rng.uniform(0.1, 4.0, size=shape)
        y = rng.poisson(2.0, size=shape).astype(np.float64)
        out.append(Sample((_t(x), _t(y)), {"log_input": log_input, "full": bool(rng.integers(2))}, (0,), f"shape={shape}"))
    out.append(Sample((_t(rng.normal(size=(4, 3))), _t(rng.poisson(3.0, size=(4, 3)).astype(float))), {"full": True, "sample_weight": _t(rng.uniform(size=(4, 3)))}, (0,), "weighted"))
    return out


def _gaussian_samples(rng):
    out = []
    for shape in ELEMENTWISE_SHAPES:
        var_shape = shape
        out.append(
            Sample((_t(rng.normal(size=shape)), _t(rng.normal(size=shape)), _t(rng.uniform(0.2, 2.0, size=var_shape))),
                   {"full": bool(rng.integers(2))}, (0, 1, 2), f"shape={shape}")
        )
    out.append(Sample((_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4, 1)))), {}, (0, 1, 2), "var (N, 1)"))
    out.append(Sample((_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4,)))), {}, (0, 1, 2), "var (N,)"))
    out.append(Sample((_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(rng.uniform(0.2, 2, size=(4, 3)))), {"sample_weight": _t(rng.uniform(size=(4, 1)))}, (0, 1, 2), "weighted"))
    return out


ENTRIES += [
    LossInfo(
        name="kl_div",
        fn=LF.kl_div,
        module=lk.KLDivLoss,
        reference=ref_dist.kl_div,
        samples=_kl_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors(LF.kl_div),
        extremes=_zero_target_extremes,
        reductions=KL_REDUCTIONS,
        backed_by="torch, scipy.special.rel_entr",
    ),
    LossInfo(
        name="js_div",
        fn=LF.js_div,
        module=lk.JSDivLoss,
        reference=ref_dist.js_div,
        samples=_js_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors(LF.js_div),
        extremes=_zero_target_extremes,
        reductions=KL_REDUCTIONS,
        half_tol=(1e-2, 5e-3),
        backed_by="scipy.spatial.distance.jensenshannon",
    ),
    LossInfo(
        name="poisson_nll",
        fn=LF.poisson_nll_loss,
        module=lk.PoissonNLLLoss,
        reference=ref_dist.poisson_nll,
        samples=_poisson_samples,
        empty=empty_pair(),
        errors=lambda: shape_errors(LF.poisson_nll_loss)
        + [hp_error({"eps": 0.0}, r"eps must be in \(0, inf\)")],
        extremes=lambda: [Sample((torch.tensor([50.0, -1e4, 0.0], dtype=torch.float64), torch.tensor([0.0, 3.0, 1e4], dtype=torch.float64)), {}, (0,), "extreme log-rates")],
        backed_by="torch, keras (log_input=False)",
    ),
    LossInfo(
        name="gaussian_nll",
        fn=LF.gaussian_nll_loss,
        module=lk.GaussianNLLLoss,
        reference=ref_dist.gaussian_nll,
        samples=_gaussian_samples,
        empty=lambda: Sample((torch.zeros(0, dtype=torch.float64),) * 3, {}, (0, 1, 2)),
        errors=lambda: [
            ErrorCase((torch.randn(4, 1), torch.randn(4), torch.ones(4, 1)), {}, ValueError, r"\(4, 1\).*\(4,\)"),
            ErrorCase((torch.randn(3), torch.randn(3), torch.tensor([1.0, -1.0, 1.0])), {}, ValueError, r"var must be non-negative"),
            ErrorCase((torch.randn(4, 3), torch.randn(4, 3), torch.ones(4, 2)), {}, ValueError, r"var must have the input's shape"),
            hp_error({"eps": 0.0}, r"eps", args=(torch.randn(3), torch.randn(3), torch.ones(3))),
        ],
        extremes=lambda: [Sample((torch.tensor([1e4, 0.0], dtype=torch.float64), torch.tensor([-1e4, 0.0], dtype=torch.float64), torch.tensor([0.0, 1e-30], dtype=torch.float64)), {}, (0, 1, 2), "zero variance, huge residual")],
        half_tol=(4e-3, 4e-3),
        backed_by="torch",
    ),
]

BY_NAME: Dict[str, LossInfo] = {e.name: e for e in ENTRIES}
