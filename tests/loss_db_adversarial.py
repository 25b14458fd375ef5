"""loss_db entries of the adversarial family (issue 16): GAN losses, gradient penalty, R1.

Kept in their own file (imported by loss_db.py) so families merge without conflicts. Two things the generic
battery meets here for the first time:

* a role that is not a tensor: gradient_penalty's ``critic``. Samples carry a :class:`Critic`, a fixed
  tanh network with NumPy parameters and a torch forward, which the reference differentiates by hand. The
  interpolation weights are passed explicitly (``interpolation=``) so every call is deterministic (module ==
  functional, pickle round-trips, gradcheck). The random draw and the linear-critic closed forms are in
  test_adversarial.py: a linear critic with constant parameters has a constant input gradient, so its
  penalty is not on any graph and the battery's backward() has nothing to run.
* a role computed from another: r1_penalty's ``real_logits = D(real_inputs)``. Samples carry a
  :class:`CriticScores` in its place, which the battery resolves when it calls the loss
  (``test_common._resolve``), so gradients flow from the penalty through D to the inputs.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np
import torch

from .loss_db import ErrorCase, LossInfo, Sample, hp_error
from .reference import adversarial as ref_adv

KINDS = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein", "relativistic_average")
SMOOTHABLE = ("minimax", "non_saturating", "least_squares", "relativistic_average")
SCORE_SHAPES = [(), (5,), (6, 1), (2, 1, 3, 3)]
#: tensor keywords that are per-call inputs: cast with the positional tensors in the dtype test and rounded
#: for the reference the same way (loss_db casts only ``sample_weight``)
TENSOR_KWARGS = ("real_logits", "interpolation")


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


class KwSample(Sample):
    """A Sample whose tensor keywords (real_logits, interpolation) follow the dtype of the positional tensors."""

    def materialize(self, dtype=None, requires_grad=False):
        args, kwargs = super().materialize(dtype, requires_grad)
        for k in TENSOR_KWARGS:
            v = kwargs.get(k)
            if isinstance(v, torch.Tensor):
                v = v.detach().clone()
                kwargs[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
        return args, kwargs

    def numpy_args(self, dtype=None):
        args, kwargs = super().numpy_args(dtype)
        for k in TENSOR_KWARGS:
            v = self.kwargs.get(k)
            if isinstance(v, torch.Tensor):
                kwargs[k] = (v.to(dtype) if dtype is not None else v).detach().double().numpy()
        return args, kwargs


class Critic:
    """A fixed critic: D(x) = <w, flat(x)> + b, or <v, tanh(W flat(x) + c)> + b; NumPy parameters in ``params``.

    It computes in at least float32 (as autocast does for half inputs) and returns ``(N,)`` scores, or
    ``(N, 1)`` with ``column=True``.
    """

    def __init__(self, column: bool = False, **params: Any) -> None:
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        self.column = column

    @classmethod
    def linear(cls, rng: np.random.Generator, d: int, **kw: Any) -> Critic:
        return cls(w=rng.normal(size=d), b=rng.normal(), **kw)

    @classmethod
    def mlp(cls, rng: np.random.Generator, d: int, h: int = 5, **kw: Any) -> Critic:
        return cls(W=rng.normal(size=(h, d)), c=rng.normal(size=h), v=rng.normal(size=h), b=rng.normal(), **kw)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(x.dtype, torch.float32)
        flat = x.reshape(x.shape[0], math.prod(x.shape[1:])).to(dtype)
        p = {k: torch.as_tensor(v, dtype=dtype) for k, v in self.params.items()}
        if "w" in p:
            out = flat @ p["w"] + p["b"]
        else:
            out = torch.tanh(flat @ p["W"].T + p["c"]) @ p["v"] + p["b"]
        return out.unsqueeze(1) if self.column else out

    def __repr__(self) -> str:
        return f"Critic({'linear' if 'w' in self.params else 'mlp'})"


class CriticScores:
    """Stands for ``real_logits = critic(real_inputs)`` (args[1]); the battery derives it when it calls the loss."""

    def __init__(self, critic: Critic) -> None:
        self.critic = critic

    def derive(self, args: List[Any]) -> List[Any]:
        x = args[1]
        if not x.requires_grad:  # a sample without gradients: R1 differentiates D(x) by x all the same
            x = x.detach().requires_grad_(True)
        return [self.critic(x), x, *args[2:]]

    def __repr__(self) -> str:
        return f"CriticScores({self.critic!r})"


# ---------------------------------------------------------------------------------------------
# GAN losses
# ---------------------------------------------------------------------------------------------


def _smoothing(rng, kind) -> Dict[str, Any]:
    return {"label_smoothing": float(rng.choice([0.0, 0.1, 0.3]))} if kind in SMOOTHABLE else {}


def _discriminator_samples(rng: np.random.Generator) -> List[Sample]:
    # "none" (declared) is per pair, so the battery's samples pair equal shapes; unequal batch sizes are in
    # test_adversarial.py for every kind and the "mean" and "sum" reductions
    out: List[Sample] = []
    for i, kind in enumerate(KINDS):
        shape = SCORE_SHAPES[i % len(SCORE_SHAPES)]
        kw = {"kind": kind, **_smoothing(rng, kind)}
        r, f = _t(rng.normal(0.5, 2.0, size=shape)), _t(rng.normal(-0.5, 2.0, size=shape))
        out.append(Sample((r, f), kw, desc=f"{kind} {shape}"))
    return out


def _generator_samples(rng: np.random.Generator) -> List[Sample]:
    out: List[Sample] = []
    for i, kind in enumerate(KINDS):
        shape = SCORE_SHAPES[(i + 1) % len(SCORE_SHAPES)]
        kw: Dict[str, Any] = {"kind": kind}
        if kind == "relativistic_average":
            kw["real_logits"] = _t(rng.normal(0.5, 2.0, size=shape))
        out.append(KwSample((_t(rng.normal(-0.5, 2.0, size=shape)),), kw, desc=f"{kind} {shape}"))
    return out


_SATURATED_REAL = [1e4, -1e4, 0.0, 1e4, -3.0]
_SATURATED_FAKE = [-1e4, 1e4, 1e4, 0.0, 2.0]


def _discriminator_extremes() -> List[Sample]:
    return [
        Sample((_t(_SATURATED_REAL), _t(_SATURATED_FAKE)), {"kind": kind}, desc=f"±1e4 {kind}") for kind in KINDS
    ] + [
        Sample((_t(_SATURATED_REAL), _t(_SATURATED_FAKE)), {"kind": kind, "label_smoothing": 0.2}, desc=f"±1e4 {kind}")
        for kind in SMOOTHABLE
    ]


def _generator_extremes() -> List[Sample]:
    return [
        KwSample(
            (_t(_SATURATED_FAKE),),
            {"kind": kind, **({"real_logits": _t(_SATURATED_REAL)} if kind == "relativistic_average" else {})},
            desc=f"±1e4 {kind}",
        )
        for kind in KINDS
    ]


def _discriminator_errors() -> List[ErrorCase]:
    r, f = torch.randn(4), torch.randn(6)
    return [
        hp_error({"kind": "vanilla"}, r"kind must be 'minimax' or 'non_saturating' or .*; got 'vanilla'"),
        hp_error({"label_smoothing": 1.5}, r"label_smoothing must be in \[0, 1\]; got 1.5"),
        ErrorCase(
            (r, f),
            {"kind": "hinge", "label_smoothing": 0.1},
            ValueError,
            r"discriminator_loss: label_smoothing applies to the kinds with a real target .*kind='hinge'",
        ),
        ErrorCase(
            (r, f),
            {"reduction": "none"},
            ValueError,
            r"discriminator_loss: reduction='none' .* real_logits and fake_logits must have one shape; got \(4,\) and \(6,\)",
        ),
        ErrorCase(
            (torch.ones(4, dtype=torch.long), f),
            {},
            TypeError,
            r"discriminator_loss: real_logits must be a floating-point tensor",
        ),
        ErrorCase((r, [0.0, 1.0]), {}, TypeError, r"discriminator_loss: fake_logits must be a torch.Tensor; got list"),
    ]


def _generator_errors() -> List[ErrorCase]:
    f = torch.randn(6)
    return [
        hp_error({"kind": "vanilla"}, r"kind must be 'minimax' or .*; got 'vanilla'", args=(f,)),
        ErrorCase(
            (f,),
            {"kind": "relativistic_average"},
            ValueError,
            r"generator_loss: kind='relativistic_average' compares fake with real scores: pass real_logits",
        ),
        ErrorCase(
            (f,),
            {"kind": "relativistic_average", "real_logits": torch.randn(4), "reduction": "none"},
            ValueError,
            r"generator_loss: reduction='none' .* got \(4,\) and \(6,\)",
        ),
        ErrorCase(
            (f,),
            {"kind": "relativistic_average", "real_logits": torch.ones(6, dtype=torch.long)},
            TypeError,
            r"generator_loss: real_logits must be a floating-point tensor",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# penalties
# ---------------------------------------------------------------------------------------------

PENALTY_INPUTS = [(5, 3), (4, 3), (3, 2, 2), (5,), (2, 1, 2, 2)]


def _penalty_hparams(rng) -> Dict[str, Any]:
    return {"target_norm": float(rng.choice([0.0, 1.0, 2.5])), "weight": float(rng.choice([1.0, 10.0]))}


def _gp_samples(rng: np.random.Generator) -> List[Sample]:
    out: List[Sample] = []
    for i, shape in enumerate(PENALTY_INPUTS):
        n, d = shape[0], math.prod(shape[1:])
        kw = {**_penalty_hparams(rng), "interpolation": _t(rng.uniform(0.0, 1.0, size=n))}
        critic = Critic.mlp(rng, d, column=i % 2 == 1)
        out.append(KwSample((critic, _t(rng.normal(size=shape)), _t(rng.normal(size=shape))), kw, desc=f"{shape}"))
    return out


def _gp_errors() -> List[ErrorCase]:
    critic = Critic.mlp(np.random.default_rng(0), 3)
    x = torch.randn(4, 3)
    return [
        hp_error({"target_norm": -1.0}, r"target_norm must be in \[0, inf\)", args=(critic, x, x)),
        hp_error({"weight": -1.0}, r"weight must be in \[0, inf\)", args=(critic, x, x)),
        ErrorCase(
            (critic, x, torch.randn(4, 2)),
            {},
            ValueError,
            r"gradient_penalty: fake must have the real's shape \(4, 3\); got \(4, 2\)",
        ),
        ErrorCase((x, x, x), {}, TypeError, r"gradient_penalty: critic must be a callable .*; got a tensor"),
        ErrorCase(
            (lambda z: torch.zeros(z.shape[0]), x, x),
            {},
            ValueError,
            r"gradient_penalty: critic's output does not depend on the input",
        ),
        ErrorCase(
            (lambda z: z.sum(1).detach(), x, x),
            {},
            ValueError,
            r"gradient_penalty: critic's output does not depend on the input",
        ),
        ErrorCase(
            (lambda z: z.sum(), x, x),
            {},
            ValueError,
            r"gradient_penalty: critic's output must hold one score per sample.* N = 4; got \(\)",
        ),
        ErrorCase((lambda z: (z, z), x, x), {}, TypeError, r"gradient_penalty: critic's output must be a tensor"),
        ErrorCase(
            (critic, x, x),
            {"interpolation": torch.rand(3)},
            ValueError,
            r"gradient_penalty: interpolation must have one weight per sample, shape \(4,\); got \(3,\)",
        ),
        ErrorCase(
            (critic, torch.tensor(1.0), torch.tensor(2.0)),
            {},
            ValueError,
            r"gradient_penalty: real and fake must have a batch dimension",
        ),
    ]


def _gp_extremes() -> List[Sample]:
    rng = np.random.default_rng(16)
    critic = Critic.mlp(rng, 3)
    real = _t([[1e4, -1e4, 1e4], [-1e4, 1e4, 0.0], [1e4, 1e4, 1e4]])
    fake = _t([[1e4, -1e4, 1e4], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    return [
        KwSample(
            (critic, real, fake),
            {"interpolation": _t([0.3, 0.0, 0.9])},
            desc="±1e4 inputs: a saturated critic, zero gradient",
        )
    ]


def _r1_samples(rng: np.random.Generator) -> List[Sample]:
    out: List[Sample] = []
    for i, shape in enumerate(PENALTY_INPUTS):
        d = math.prod(shape[1:])
        critic = Critic.mlp(rng, d, column=i % 2 == 1)
        kw = {"gamma": float(rng.choice([1.0, 10.0, 0.5]))}
        out.append(Sample((CriticScores(critic), _t(rng.normal(size=shape))), kw, desc=f"{critic!r} {shape}"))
    return out


def _r1_errors() -> List[ErrorCase]:
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(3)
    return [
        hp_error({"gamma": -1.0}, r"gamma must be in \[0, inf\)", args=(torch.randn(4), torch.randn(4, 3))),
        ErrorCase(
            (torch.randn(4, 3) @ w, torch.randn(4, 3)),
            {},
            ValueError,
            r"r1_penalty: real_inputs must require grad, and real_logits be computed from it",
        ),
        ErrorCase(
            (torch.randn(4, requires_grad=True), x),
            {},
            ValueError,
            r"r1_penalty: real_logits does not depend on the input",
        ),
        ErrorCase(
            ((x @ w)[:3], x),
            {},
            ValueError,
            r"r1_penalty: real_logits must hold one score per sample.* N = 4; got \(3,\)",
        ),
        ErrorCase(
            (x @ w, torch.tensor(2.0, requires_grad=True)),
            {},
            ValueError,
            r"r1_penalty: real_inputs must have a batch dimension",
        ),
    ]


def _r1_extremes() -> List[Sample]:
    critic = Critic.mlp(np.random.default_rng(61), 3)
    x = _t([[1e4, -1e4, 1e4], [-1e4, 1e4, 1e4]])
    return [Sample((CriticScores(critic), x), {}, desc="±1e4 inputs: a saturated critic, zero gradient")]


_NO_COMPILE = (
    "it differentiates the critic with torch.autograd.grad(create_graph=True), which Dynamo does not trace "
    "(trace_autograd_ops is off by default): the penalty runs eagerly inside a compiled training step"
)
_HALF_GRADIENT = (
    "autograd returns the critic's input gradient in the inputs' dtype, so half-precision inputs give a "
    "half-precision gradient (and gradient_penalty half-precision interpolates, which the critic is meant to see); "
    "the norm is then summed in float32, but the rounding of the gradient itself (2^-11 for float16, 2^-8 for "
    "bfloat16) bounds the agreement with the float64 reference"
)

ENTRIES: List[LossInfo] = [
    LossInfo(
        name="gan_discriminator",
        reference=ref_adv.discriminator,
        samples=_discriminator_samples,
        empty=lambda: Sample((torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)), {}),
        errors=_discriminator_errors,
        extremes=_discriminator_extremes,
    ),
    LossInfo(
        name="gan_generator",
        reference=ref_adv.generator,
        samples=_generator_samples,
        empty=lambda: Sample((torch.zeros(0, dtype=torch.float64),), {}),
        errors=_generator_errors,
        extremes=_generator_extremes,
    ),
    LossInfo(
        name="gradient_penalty",
        reference=ref_adv.gradient_penalty,
        samples=_gp_samples,
        empty=lambda: KwSample(
            (
                Critic.mlp(np.random.default_rng(1), 3),
                torch.zeros(0, 3, dtype=torch.float64),
                torch.zeros(0, 3, dtype=torch.float64),
            ),
            {"interpolation": torch.zeros(0, dtype=torch.float64)},
        ),
        errors=_gp_errors,
        extremes=_gp_extremes,
        nan_sample=lambda: _gp_samples(np.random.default_rng(7))[1],
        float32_tol=(3e-2, 1e-3),
        reasons={"compile": _NO_COMPILE, "float32_tol": _HALF_GRADIENT},
    ),
    LossInfo(
        name="r1",
        reference=ref_adv.r1,
        samples=_r1_samples,
        empty=lambda: Sample(
            (CriticScores(Critic.mlp(np.random.default_rng(2), 3)), torch.zeros(0, 3, dtype=torch.float64)), {}
        ),
        errors=_r1_errors,
        extremes=_r1_extremes,
        nan_sample=lambda: _r1_samples(np.random.default_rng(7))[1],
        float32_tol=(1e-2, 1e-3),
        reasons={"compile": _NO_COMPILE, "float32_tol": _HALF_GRADIENT},
    ),
]
