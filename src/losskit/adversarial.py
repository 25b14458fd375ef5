"""Adversarial training: discriminator and generator losses of six GAN formulations, gradient penalty and R1.

Critic outputs are raw scores (logits): ``r`` for real samples, ``f`` for
generated ones. ``kind`` picks the formulation:

===================== ============================================== ===========================================
kind                  discriminator (minimised)                      generator (minimised)
===================== ============================================== ===========================================
minimax               −log σ(r) − log(1 − σ(f))                      log(1 − σ(f))  (saturating; Goodfellow 2014)
non_saturating        −log σ(r) − log(1 − σ(f))                      −log σ(f)
least_squares         ½ (r − 1)² + ½ f²                              ½ (f − 1)²  (Mao et al. 2017, 0–1 coding)
hinge                 relu(1 − r) + relu(1 + f)                      −f  (Miyato et al. 2018)
wasserstein           f − r                                          −f  (Arjovsky et al. 2017)
relativistic_average  −log σ(r − E f) − log(1 − σ(f − E r))         −log σ(f − E r) − log(1 − σ(r − E f))
===================== ============================================== ===========================================

Conventions the numbers depend on:

* each loss is the **sum of its per-term means**, mean(real term) + mean(fake
  term), so real and fake batches may differ in size; ``reduction="sum"``
  sums each term, and ``"none"`` returns the per-pair loss real term + fake
  term, which needs real and fake scores of one shape;
* critic outputs of shape ``(N, 1)`` are read as ``(N,)``; any other shape
  (a PatchGAN's ``(N, 1, H, W)`` map) is kept, and its mean is over every
  element;
* everything is computed from logits (torch's fused, stable
  ``binary_cross_entropy_with_logits`` for the log-sigmoid terms; no
  probability is ever formed), so the losses and their gradients are finite
  at ±1e4;
* least squares uses the factor ½ of the paper and of TF-GAN;
* ``label_smoothing=s`` is one-sided (Salimans et al. 2016): the real target
  becomes 1 − s and fake targets stay 0;
* ``E r`` and ``E f`` (relativistic) are the batch means, differentiated like
  everything else; the mean of an empty batch is 0 (DESIGN §3).

The penalties differentiate the critic with respect to its input with
``create_graph=True``, so they train the critic; they are means over samples
and take no ``reduction``. They call ``torch.autograd.grad`` and therefore do
not trace under ``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from ._core import checks
from ._core.reduction import fast_or_exact, fused_or_reduce, reduce_loss
from ._core.spec import Curve, Role, loss
from ._core.validation import check_floating, check_same_shape, compute_dtype, fmt_shape, to_compute

__all__ = ["discriminator_loss", "generator_loss", "gradient_penalty", "r1_penalty", "KINDS"]

FAMILY = "adversarial"

#: the GAN formulations ``kind`` accepts
KINDS = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein", "relativistic_average")
#: the kinds with a real target that ``label_smoothing`` can soften
_SMOOTHABLE = ("minimax", "non_saturating", "least_squares", "relativistic_average")
_KIND = checks.one_of(*KINDS)
_NUMPY = "NumPy reference (tests/reference/adversarial.py)"


def _scores(fn: str, name: str, x: Any) -> torch.Tensor:
    """Critic scores as the losses read them: a floating tensor, ``(N, 1)`` viewed as ``(N,)``."""
    check_floating(fn, name, x)
    if x.dim() == 2 and x.shape[1] == 1:
        x = x.squeeze(1)
    return x


def _bce(x: torch.Tensor, target: float, reduction: str, fn: str) -> torch.Tensor:
    """−t log σ(x) − (1 − t) log σ(−x) for a constant target t, reduced: torch's fused kernel, stable at ±1e4.

    The target is a 0-stride view of one number (no allocation); the kernel reduces in the same pass
    (``fused_or_reduce``: an empty batch still gives 0, not torch's NaN).
    """
    t = x.new_full((), target).expand_as(x)
    return fast_or_exact(
        x,
        lambda: fused_or_reduce(F.binary_cross_entropy_with_logits, x, t, reduction, fn=fn),
        lambda: reduce_loss(_bce_at_infinity(x, target), reduction, fn=fn),
    )


def _bce_at_infinity(x: torch.Tensor, target: float) -> torch.Tensor:
    """t · softplus(-x) + (1 - t) · softplus(x), with a zero coefficient's term left out.

    torch's kernel computes (1 - t) · x + softplus(-x), which at x = -inf with t = 1 is 0 · (-inf) = NaN
    although the loss is −log σ(-inf) = +inf. Written with softplus on both sides, an infinite score
    gives the limit (0 or +inf) and its gradient the limit (0 or ±1). The threshold keeps softplus exact
    in float64 (its default, 20, drops log1p(e^-20) ≈ 2e-9).
    """
    loss = torch.zeros_like(x)
    if target != 0.0:
        loss = loss + target * F.softplus(-x, threshold=50.0)
    if target != 1.0:
        loss = loss + (1.0 - target) * F.softplus(x, threshold=50.0)
    return loss


def _reduce(term: torch.Tensor, reduction: str, fn: str) -> torch.Tensor:
    return term if reduction == "none" else reduce_loss(term, reduction, fn=fn)


def _batch_mean(x: torch.Tensor, fn: str) -> torch.Tensor:
    return reduce_loss(x, "mean", fn=fn)  # 0, on the graph, for an empty batch


def _check_pair_for_none(fn: str, reduction: str, real: torch.Tensor, fake: torch.Tensor) -> None:
    if reduction == "none" and real.shape != fake.shape:
        raise ValueError(
            f"{fn}: reduction='none' returns the per-pair loss (real term + fake term), so real_logits and "
            f"fake_logits must have one shape; got {fmt_shape(real.shape)} and {fmt_shape(fake.shape)} — "
            "use 'mean' or 'sum' for batches of different sizes"
        )


# ---------------------------------------------------------------------------------------------
# functionals
# ---------------------------------------------------------------------------------------------


@loss(
    "gan_discriminator",
    family=FAMILY,
    module="DiscriminatorLoss",
    aliases=("discriminator",),
    roles=(Role("real_logits", "(N,), (N, 1) or (N, *)"), Role("fake_logits", "(M,), (M, 1) or (M, *)")),
    hparams={"kind": _KIND, "label_smoothing": checks.unit_interval},
    capabilities=("compile", "double_backward", "label_smoothing"),
    references=(
        _NUMPY,
        "torch.nn.functional.binary_cross_entropy_with_logits on real = 1, fake = 0 (seed 004's form, non_saturating)",
    ),
    curve=Curve("score", "kind", KINDS),
)
def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    *,
    kind: str = "non_saturating",
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Discriminator (critic) loss of a GAN: mean real term + mean fake term, for six formulations.

    .. math::
        \mathcal{L}_D = \text{mean}_i\, \ell_{\text{real}}(r_i) + \text{mean}_j\, \ell_{\text{fake}}(f_j)

    with, per ``kind`` (:math:`s` the label smoothing, :math:`\mathrm{E}[r], \mathrm{E}[f]` the batch means):
    minimax and non_saturating :math:`\ell_{\text{real}} = -(1-s)\log\sigma(r) - s\log\sigma(-r)`,
    :math:`\ell_{\text{fake}} = -\log(1-\sigma(f))`; least_squares :math:`\tfrac{1}{2} (r - (1-s))^2`,
    :math:`\tfrac{1}{2} f^2`; hinge :math:`\max(0, 1-r)`, :math:`\max(0, 1+f)`; wasserstein :math:`-r`,
    :math:`f`; relativistic_average :math:`-(1-s)\log\sigma(r-\mathrm{E}[f]) - s\log\sigma(\mathrm{E}[f] - r)`,
    :math:`-\log(1-\sigma(f-\mathrm{E}[r]))`.

    ``non_saturating`` (the default) is
    ``binary_cross_entropy_with_logits(r, ones) + binary_cross_entropy_with_logits(f, zeros)``;
    ``minimax`` has the same discriminator and differs in the generator. The real
    and fake batches may differ in size (each term is averaged over its own
    batch). ``label_smoothing`` is one-sided (the real target becomes
    :math:`1 - s`, fake targets stay 0) and applies to the kinds with a real
    target; with ``hinge`` or ``wasserstein`` a non-zero value raises.

    Args:
        real_logits: critic scores of real samples, ``(N,)``, ``(N, 1)`` (read as ``(N,)``) or any shape ``(N, *)``.
        fake_logits: critic scores of generated samples, ``(M,)``, ``(M, 1)`` or ``(M, *)``; M may differ from N.
        kind: ``"minimax"`` | ``"non_saturating"`` | ``"least_squares"`` | ``"hinge"`` | ``"wasserstein"``
            | ``"relativistic_average"``.
        label_smoothing: one-sided smoothing :math:`s \in [0, 1]` of the real target.
        reduction: ``"mean"`` (sum of the two term means) | ``"sum"`` (sum of the two term sums) |
            ``"none"`` (real term + fake term per pair; needs scores of one shape).

    Returns:
        A scalar, or the scores' shape with ``reduction="none"`` (``(N,)`` for ``(N, 1)`` scores).

    Example:
        >>> r, f = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.0, 1.0])
        >>> discriminator_loss(r, f, kind="hinge")
        tensor(1.2500)
        >>> discriminator_loss(r, f, kind="wasserstein")
        tensor(-1.2500)

    Reference:
        Goodfellow et al. 2014, "Generative Adversarial Nets"; Mao et al. 2017, "Least Squares Generative
        Adversarial Networks"; Miyato et al. 2018, "Spectral Normalization for GANs" (hinge); Arjovsky et al.
        2017, "Wasserstein GAN"; Jolicoeur-Martineau 2019, "The relativistic discriminator"; Salimans et al.
        2016, "Improved Techniques for Training GANs" (one-sided label smoothing).
    """
    fn = "discriminator_loss"
    real = _scores(fn, "real_logits", real_logits)
    fake = _scores(fn, "fake_logits", fake_logits)
    _check_pair_for_none(fn, reduction, real, fake)
    s = float(label_smoothing)
    if s != 0.0 and kind not in _SMOOTHABLE:
        raise ValueError(
            f"{fn}: label_smoothing applies to the kinds with a real target ({', '.join(_SMOOTHABLE)}); "
            f"got label_smoothing={label_smoothing!r} with kind={kind!r}"
        )
    real, fake = to_compute(compute_dtype(real, fake), real, fake)
    target = 1.0 - s
    # each term reduced on its own (mean over its own batch), then added; "none" adds them per pair
    if kind in ("minimax", "non_saturating"):
        return _bce(real, target, reduction, fn) + _bce(fake, 0.0, reduction, fn)
    if kind == "relativistic_average":
        real_rel = real - _batch_mean(fake, fn)
        fake_rel = fake - _batch_mean(real, fn)
        return _bce(real_rel, target, reduction, fn) + _bce(fake_rel, 0.0, reduction, fn)
    if kind == "least_squares":
        real_term, fake_term = 0.5 * (real - target).square(), 0.5 * fake.square()
    elif kind == "hinge":
        real_term, fake_term = F.relu(1.0 - real), F.relu(1.0 + fake)
    else:  # wasserstein
        real_term, fake_term = -real, fake
    return _reduce(real_term, reduction, fn) + _reduce(fake_term, reduction, fn)


@loss(
    "gan_generator",
    family=FAMILY,
    module="GeneratorLoss",
    aliases=("generator",),
    roles=(Role("fake_logits", "(M,), (M, 1) or (M, *)"),),
    hparams={"kind": _KIND},
    call_kwargs=("real_logits",),
    references=(_NUMPY,),
    curve=Curve("score", "kind", KINDS),
)
def generator_loss(
    fake_logits: torch.Tensor,
    *,
    kind: str = "non_saturating",
    real_logits: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generator loss of a GAN for six formulations (minimised; the non-saturating form by default).

    .. math::
        \mathcal{L}_G = \text{mean}_j\, g(f_j) \quad\text{with } g(f) = \log(1-\sigma(f)) \text{ (minimax)},\;
        -\log\sigma(f) \text{ (non_saturating)},\; \tfrac{1}{2} (f-1)^2 \text{ (least_squares)},\;
        -f \text{ (hinge, wasserstein)}

    and for relativistic_average, with :math:`\mathrm{E}[r], \mathrm{E}[f]` the batch means,
    :math:`\mathcal{L}_G = \text{mean}_j -\log\sigma(f_j - \mathrm{E}[r]) + \text{mean}_i -\log(1-\sigma(r_i - \mathrm{E}[f]))`.

    ``minimax`` is the saturating generator of the original GAN objective
    (its gradient vanishes when the discriminator rejects the samples);
    ``non_saturating`` is what GAN code means by "the GAN loss".
    ``real_logits`` is needed by ``relativistic_average`` (a clear error
    without it) and ignored by the other kinds, so one training loop can pass
    it whatever the kind.

    Args:
        fake_logits: critic scores of generated samples, ``(M,)``, ``(M, 1)`` (read as ``(M,)``) or ``(M, *)``.
        kind: ``"minimax"`` | ``"non_saturating"`` | ``"least_squares"`` | ``"hinge"`` | ``"wasserstein"``
            | ``"relativistic_average"``.
        real_logits: critic scores of real samples ``(N, *)``; required for ``"relativistic_average"``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per sample; relativistic: fake term + real term per
            pair, which needs scores of one shape).

    Returns:
        A scalar, or the scores' shape with ``reduction="none"`` (``(M,)`` for ``(M, 1)`` scores).

    Example:
        >>> generator_loss(torch.tensor([0.0, 2.0]), kind="least_squares")
        tensor(0.5000)

    Reference:
        Goodfellow et al. 2014 (minimax and non-saturating); Mao et al. 2017; Miyato et al. 2018; Arjovsky et al.
        2017; Jolicoeur-Martineau 2019, "The relativistic discriminator" (RaSGAN).
    """
    fn = "generator_loss"
    fake = _scores(fn, "fake_logits", fake_logits)
    if kind == "relativistic_average":
        if real_logits is None:
            raise ValueError(
                f"{fn}: kind='relativistic_average' compares fake with real scores: pass real_logits=D(real) "
                "(the critic's scores of a real batch)"
            )
        real = _scores(fn, "real_logits", real_logits)
        _check_pair_for_none(fn, reduction, real, fake)
        real, fake = to_compute(compute_dtype(real, fake), real, fake)
        fake_rel = fake - _batch_mean(real, fn)
        real_rel = real - _batch_mean(fake, fn)
        return _bce(real_rel, 0.0, reduction, fn) + _bce(fake_rel, 1.0, reduction, fn)
    if real_logits is not None:
        check_floating(fn, "real_logits", real_logits)
    fake = to_compute(compute_dtype(fake), fake)
    if kind == "minimax":
        return -_bce(fake, 0.0, reduction, fn)  # log(1 − σ(f))
    if kind == "non_saturating":
        return _bce(fake, 1.0, reduction, fn)  # −log σ(f)
    if kind == "least_squares":
        term = 0.5 * (fake - 1.0).square()
    else:  # hinge, wasserstein
        term = -fake
    return reduce_loss(term, reduction, fn=fn)


def _input_gradient(fn: str, what: str, scores: Any, inputs: torch.Tensor, n: int) -> torch.Tensor:
    """∂ Σ scores / ∂ inputs with ``create_graph`` (per-sample gradients for a critic that treats samples apart)."""
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"{fn}: {what} must be a tensor of scores; got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(
            f"{fn}: {what} must be a floating tensor of scores; got {str(scores.dtype).replace('torch.', '')}"
        )
    if scores.dim() == 0 or scores.shape[0] != n:
        raise ValueError(
            f"{fn}: {what} must hold one score per sample, shape (N,), (N, 1) or (N, *) with N = {n}; "
            f"got {fmt_shape(scores.shape)}"
        )
    grad = None
    if scores.requires_grad:
        (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True, allow_unused=True)
    if grad is None:
        raise ValueError(
            f"{fn}: {what} does not depend on the input it is differentiated by (no gradient flows from the scores "
            "to the inputs); the penalty needs scores computed from the inputs with autograd on"
        )
    return grad


def _per_sample_sq_norm(grad: torch.Tensor) -> torch.Tensor:
    grad = to_compute(compute_dtype(grad), grad)  # half precision: the norm in float32
    return grad.reshape(grad.shape[0], math.prod(grad.shape[1:])).square().sum(1)  # (N, -1) fails for N = 0


@loss(
    "gradient_penalty",
    family=FAMILY,
    module="GradientPenalty",
    aliases=("wgan_gp",),
    roles=(
        Role("critic", "a callable (N, *) -> (N,) or (N, 1)", differentiable=False, also="callable"),
        Role("real", "(N, *)"),
        Role("fake", "(N, *)"),
    ),
    hparams={"target_norm": checks.non_negative, "weight": checks.non_negative},
    reductions=None,
    call_kwargs=("interpolation",),
    capabilities=("double_backward",),
    references=("NumPy reference (tests/reference/adversarial.py): closed form on a linear critic, an MLP critic",),
    curve=Curve("gradient_norm", "target_norm", (0.0, 1.0)),
)
def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    target_norm: float = 1.0,
    weight: float = 10.0,
    interpolation: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty: λ · mean over samples of (‖∇ₓ critic(x̂)‖ − target_norm)² at random interpolates.

    .. math::
        x^{\text{mix}}_i = \epsilon_i x^{\text{real}}_i + (1 - \epsilon_i) x^{\text{fake}}_i,\quad
        \epsilon_i \in [0, 1) \text{ uniform}, \qquad
        \mathcal{L} = \lambda \cdot \text{mean}_i \left(\lVert \nabla_x D(x^{\text{mix}}_i) \rVert_2 - c\right)^2

    One :math:`\epsilon` per sample, broadcast over the sample's other
    dimensions, so any input rank works (vectors, images, sequences). The
    gradient is taken with ``create_graph=True``: the penalty trains the
    critic. The norm is the exact Euclidean norm over all of a sample's
    dimensions; where the gradient is exactly zero it is 0 with a zero
    (sub)gradient instead of the NaN of ``sqrt`` at 0, so the penalty is
    :math:`\lambda c^2` there and finite.

    The interpolates have the inputs' dtype (a half-precision critic gets
    half-precision inputs); the norm is computed in float32 for half inputs.
    The critic must score samples independently (no batch normalisation —
    Gulrajani et al. use layer normalisation), since the per-sample gradient
    is read from the gradient of the summed scores. Gradients also reach
    ``real`` and ``fake`` when they require them; pass ``fake.detach()`` in a
    critic step. Under ``torch.no_grad()`` the value is still computed (the
    input gradient needs autograd), without a graph to the critic.

    Args:
        critic: the critic, a callable mapping ``(N, *)`` to scores ``(N,)``, ``(N, 1)`` or ``(N, *)``.
        real: real samples ``(N, *)``.
        fake: generated samples, the shape of ``real``.
        target_norm: the gradient norm :math:`c \ge 0` the penalty pulls towards (1 in WGAN-GP).
        weight: the penalty weight :math:`\lambda \ge 0` (10 in WGAN-GP).
        interpolation: optional ``(N,)`` interpolation weights :math:`\epsilon` (for reproducible penalties);
            drawn uniformly from [0, 1) when None.

    Returns:
        A scalar.

    Example:
        >>> critic = torch.nn.Linear(3, 1)
        >>> with torch.no_grad():
        ...     _ = critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))
        >>> gradient_penalty(critic, torch.randn(8, 3), torch.randn(8, 3))  # linear critic: 10·(5 − 1)²
        tensor(160., grad_fn=<MulBackward0>)

    Reference:
        Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".
    """
    fn = "gradient_penalty"
    check_floating(fn, "real", real)
    check_floating(fn, "fake", fake)
    check_same_shape(fn, real, fake, input_name="real", target_name="fake")
    if real.dim() == 0:
        raise ValueError(f"{fn}: real and fake must have a batch dimension, shape (N, *); got ()")
    n = real.shape[0]
    dtype = torch.promote_types(real.dtype, fake.dtype)
    if interpolation is None:
        draw = torch.float64 if dtype == torch.float64 else torch.float32
        eps = torch.rand(n, dtype=draw, device=real.device).to(dtype)
    else:
        check_floating(fn, "interpolation", interpolation)
        if interpolation.shape != (n,):
            raise ValueError(
                f"{fn}: interpolation must have one weight per sample, shape ({n},); "
                f"got {fmt_shape(interpolation.shape)}"
            )
        eps = interpolation.to(device=real.device, dtype=dtype)
    eps = eps.reshape((n,) + (1,) * (real.dim() - 1))
    grad_enabled = torch.is_grad_enabled()
    with torch.enable_grad():
        x_hat = eps * real + (1.0 - eps) * fake
        if not x_hat.requires_grad:
            x_hat.requires_grad_(True)
        grad = _input_gradient(fn, "critic's output", critic(x_hat), x_hat, n)
        sq = _per_sample_sq_norm(grad)
        # the exact norm, with a safe branch only where the gradient is exactly zero (sqrt'(0) = inf)
        zero = sq == 0
        norm = torch.where(zero, torch.zeros_like(sq), torch.sqrt(torch.where(zero, torch.ones_like(sq), sq)))
        penalty = _batch_mean((norm - target_norm).square(), fn) * weight
    return penalty if grad_enabled else penalty.detach()


@loss(
    "r1",
    family=FAMILY,
    module="R1Penalty",
    aliases=("r1_penalty",),
    roles=(
        Role("real_logits", "(N,), (N, 1) or (N, *), computed from real_inputs", differentiable=False),
        Role("real_inputs", "(N, *)"),
    ),
    hparams={"gamma": checks.non_negative},
    reductions=None,
    capabilities=("double_backward",),
    references=("NumPy reference (tests/reference/adversarial.py): closed form on a linear critic, an MLP critic",),
    curve=Curve("gradient_norm", "gamma", (1.0, 10.0)),
)
def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor, *, gamma: float = 10.0) -> torch.Tensor:
    r"""R1 regulariser: γ/2 · mean over real samples of ‖∇ₓ D(x)‖², with ``create_graph=True``.

    .. math::
        \mathcal{L} = \tfrac{\gamma}{2}\, \text{mean}_i \lVert \nabla_x D(x_i) \rVert_2^2

    ``real_logits`` must be the discriminator's scores computed from
    ``real_inputs`` with autograd on (call ``real_inputs.requires_grad_(True)``
    before the discriminator); only its graph is used, not its values. The
    gradient is taken with ``create_graph=True``, so the penalty trains the
    discriminator. The discriminator must score samples independently (the
    per-sample gradient is read from the gradient of the summed scores).
    Half-precision gradients are squared and summed in float32.

    Args:
        real_logits: discriminator scores of ``real_inputs``, ``(N,)``, ``(N, 1)`` or ``(N, *)``.
        real_inputs: the real samples ``(N, *)``, requiring grad.
        gamma: the weight :math:`\gamma \ge 0`.

    Returns:
        A scalar.

    Example:
        >>> w, x = torch.tensor([3.0, 4.0], requires_grad=True), torch.randn(4, 2, requires_grad=True)
        >>> r1_penalty(x @ w, x, gamma=2.0)  # linear critic: γ/2·‖w‖², gradient γ·w reaches w
        tensor(25., grad_fn=<MulBackward0>)

    Reference:
        Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?".
    """
    fn = "r1_penalty"
    check_floating(fn, "real_logits", real_logits)
    check_floating(fn, "real_inputs", real_inputs)
    if real_inputs.dim() == 0:
        raise ValueError(f"{fn}: real_inputs must have a batch dimension, shape (N, *); got ()")
    if not real_inputs.requires_grad:
        raise ValueError(
            f"{fn}: real_inputs must require grad, and real_logits be computed from it — call "
            "real_inputs.requires_grad_(True) before the discriminator"
        )
    grad = _input_gradient(fn, "real_logits", real_logits, real_inputs, real_inputs.shape[0])
    return _batch_mean(_per_sample_sq_norm(grad), fn) * (0.5 * gamma)
