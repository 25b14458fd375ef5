"""Benchmark cases: each losskit loss against torch.nn and every installed peer library with the same loss.

A case builds its inputs for a target element count (and a variant: the class
count C of the class cases) and returns callables that each run forward +
backward once and return the loss value, which the harness compares before it
times anything. Peers that do not import are skipped and listed in the output.

Adding a case: ``Case(name, build)`` with ``build(size, device, peers, **variant)
-> Built(ours, others, elements)``, steps made with :func:`_step`; append it
to :func:`all_cases`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

import losskit.functional as LF

os.environ.setdefault("KERAS_BACKEND", "torch")

Step = Callable[[], Optional[torch.Tensor]]

#: the class counts every class case runs at (the realistic ones hide costs C = 10 does not show)
CLASSES = (10, 100, 1000)
CLASS_VARIANTS: Tuple[Dict[str, Any], ...] = tuple({"classes": c} for c in CLASSES)


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except Exception:
        return None


def peer_modules() -> Dict[str, object]:
    mods = {
        "keras": _optional("keras"),
        "kornia": _optional("kornia.losses"),
        "monai": _optional("monai.losses"),
        "smp": _optional("segmentation_models_pytorch.losses"),
        "pml": _optional("pytorch_metric_learning.losses"),
        "torchvision": _optional("torchvision.ops"),
        "liger": _optional("liger_kernel.transformers") if torch.cuda.is_available() else None,
        "cce": _optional("cut_cross_entropy") if torch.cuda.is_available() else None,
    }
    if mods["keras"] is not None and mods["keras"].backend.backend() != "torch":
        mods["keras"] = None
    return mods


@dataclasses.dataclass
class Built:
    ours: Step
    others: Dict[str, Step]
    elements: int
    #: tolerance of the value check (losskit against each other contender, before it is timed)
    rtol: float = 1e-4
    atol: float = 1e-6
    #: contenders that compute a different quantity on purpose, with the reason (the check is reported, not failed)
    differs: Dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Case:
    name: str
    build: Callable[..., Built]
    #: keyword sets passed to ``build`` (one table row each, per size); class cases: CLASS_VARIANTS
    variants: Sequence[Dict[str, Any]] = ({},)
    #: measure peak memory (a fresh subprocess per contender) for every row, not only with --memory
    memory: bool = False
    #: sizes this case also runs at in a full run (not with --quick or an explicit --sizes)
    extra_sizes: Sequence[int] = ()


def _step(fn: Callable[[], torch.Tensor], leaves) -> Step:
    """Forward + backward once, returning the loss value; ``run.inputs`` lists the tensors the step reads
    (the leaves and every tensor ``fn`` closes over), which saved-bytes counts do not charge to the loss."""
    closure = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ()) if _filled(c)]

    def run():
        for t in leaves:
            t.grad = None
        loss = fn()
        loss.backward()
        return loss.detach()

    run.inputs = [*leaves, *(t for t in closure if isinstance(t, torch.Tensor))]  # type: ignore[attr-defined]
    return run


def _filled(cell) -> bool:
    try:
        return cell.cell_contents is not cell  # reading an empty cell raises
    except ValueError:
        return False


def _gen(seed: int = 0):
    return torch.Generator().manual_seed(seed)


def _elementwise(size, device, positive=False):
    g = _gen()
    x = torch.rand(size, generator=g) + 0.5 if positive else torch.randn(size, generator=g)
    y = torch.rand(size, generator=g) + 0.5 if positive else torch.randn(size, generator=g)
    return x.to(device).requires_grad_(), y.to(device)


def _keras_pair(x: torch.Tensor, y: torch.Tensor, cols: int = 10):
    """Keras reduces per sample over the last axis: give it (N, cols) views of the same data."""
    cols = min(cols, x.numel())
    n = x.numel() // cols
    return x[: n * cols].view(n, cols), y[: n * cols].view(n, cols)


#: the elementwise losses whose gradient is written in the forward pass (issue 17): at 2^24 elements the
#: allocations torch's forward and backward each make dominate, which the default sizes do not show
FUSED_GRADIENT_SIZE = 2**24


def regression_case(name, ours, torch_fn=None, keras_name=None, positive=False, extra_sizes=(), **kw) -> Case:
    def build(size, device, peers):
        x, y = _elementwise(size, device, positive)
        others = {}
        if torch_fn is not None:
            others["torch.nn"] = _step(lambda: torch_fn(x, y, **kw), [x])
        if keras_name and peers.get("keras") is not None:
            k_loss = getattr(peers["keras"].losses, keras_name)()
            xk, yk = _keras_pair(x, y)
            others["keras"] = _step(lambda: k_loss(yk, xk), [x])
        return Built(_step(lambda: ours(x, y, **kw), [x]), others, size)

    return Case(name, build, extra_sizes=extra_sizes)


def _logits(size, device, classes=10):
    """(N, C) scores and class targets with N·C ≈ size; at least N = 8 rows (size 8: the per-call overhead)."""
    n = max(8, size // classes)
    g = _gen(1)
    x = torch.randn(n, classes, generator=g).to(device).requires_grad_()
    y = torch.randint(0, classes, (n,), generator=g).to(device)
    return x, y


def classification_cases() -> List[Case]:
    cases = []

    def ce(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        others = {"torch.nn": _step(lambda: F.cross_entropy(x, y), [x])}
        if peers.get("keras") is not None:
            k_loss = peers["keras"].losses.SparseCategoricalCrossentropy(from_logits=True)
            others["keras"] = _step(lambda: k_loss(y, x), [x])
        return Built(_step(lambda: LF.cross_entropy(x, y), [x]), others, x.numel())

    cases.append(Case("cross_entropy", ce, CLASS_VARIANTS))

    def ce_ls(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        return Built(
            _step(lambda: LF.cross_entropy(x, y, label_smoothing=0.1), [x]),
            {"torch.nn": _step(lambda: F.cross_entropy(x, y, label_smoothing=0.1), [x])},
            x.numel(),
        )

    cases.append(Case("cross_entropy(label_smoothing=0.1)", ce_ls, CLASS_VARIANTS))

    def nll(size, device, peers, classes=10):
        x, y = _logits(size, device, classes)
        lp = torch.log_softmax(x.detach(), 1).requires_grad_()
        return Built(
            _step(lambda: LF.nll_loss(lp, y), [lp]), {"torch.nn": _step(lambda: F.nll_loss(lp, y), [lp])}, lp.numel()
        )

    cases.append(Case("nll", nll, CLASS_VARIANTS))

    def bce(size, device, peers):
        x, t = _elementwise(size, device)
        t = (t > 0).float()
        others = {"torch.nn": _step(lambda: F.binary_cross_entropy_with_logits(x, t), [x])}
        if peers.get("keras") is not None:
            k_loss = peers["keras"].losses.BinaryCrossentropy(from_logits=True)
            xk, tk = _keras_pair(x, t)
            others["keras"] = _step(lambda: k_loss(tk, xk), [x])
        return Built(_step(lambda: LF.binary_cross_entropy_with_logits(x, t), [x]), others, size)

    cases.append(Case("bce", bce))

    def bce_prob(size, device, peers):
        x, t = _elementwise(size, device)
        p = torch.sigmoid(x.detach()).requires_grad_()
        t = (t > 0).float()
        return Built(
            _step(lambda: LF.binary_cross_entropy(p, t), [p]),
            {"torch.nn": _step(lambda: F.binary_cross_entropy(p, t), [p])},
            size,
        )

    cases.append(Case("binary_cross_entropy", bce_prob))

    def sigmoid_focal(size, device, peers):
        x, t = _elementwise(size, device)
        t = (t > 0).float()

        def torchvision_formula():  # torchvision.ops.sigmoid_focal_loss, written out in eager torch
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            p_t = p * t + (1 - p) * (1 - t)
            return ((0.25 * t + 0.75 * (1 - t)) * ce * (1 - p_t) ** 2).mean()

        others = {"torchvision formula (eager)": _step(torchvision_formula, [x])}
        if peers.get("kornia") is not None:
            others["kornia"] = _step(
                lambda: peers["kornia"].binary_focal_loss_with_logits(
                    x.view(1, 1, -1), t.view(1, 1, -1), alpha=0.25, gamma=2.0, reduction="mean"
                ),
                [x],
            )
        if peers.get("monai") is not None:
            m = peers["monai"].FocalLoss(gamma=2.0, alpha=0.25, reduction="mean")
            others["monai"] = _step(lambda: m(x.view(1, 1, -1), t.view(1, 1, -1)), [x])
        if peers.get("torchvision") is not None:
            others["torchvision"] = _step(lambda: peers["torchvision"].sigmoid_focal_loss(x, t, reduction="mean"), [x])
        if peers.get("keras") is not None:
            k_loss = peers["keras"].losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True)
            xk, tk = _keras_pair(x, t)
            others["keras"] = _step(lambda: k_loss(tk, xk), [x])
        return Built(_step(lambda: LF.sigmoid_focal_loss(x, t), [x]), others, size)

    cases.append(Case("sigmoid_focal", sigmoid_focal))

    def softmax_focal(size, device, peers, classes=10):
        # The same loss everywhere: kornia and MONAI read a scalar alpha as 1 − α for class 0 (background) and
        # α for every other class, so losskit and Keras get that per-class alpha; reduction="sum", because
        # kornia's and MONAI's "mean" divide by N·C (they reduce the one-hot elementwise loss) and MONAI's
        # "sum" of an (N, C) input averages first (it takes every dimension after C as spatial): it gets (N, C, 1).
        x, y = _logits(size, device, classes)
        alpha = torch.full((classes,), 0.25, device=device)
        alpha[0] = 0.75
        others = {"torch.nn cross_entropy (floor)": _step(lambda: F.cross_entropy(x, y, reduction="sum"), [x])}
        if peers.get("kornia") is not None:
            others["kornia"] = _step(
                lambda: peers["kornia"].focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="sum"), [x]
            )
        if peers.get("monai") is not None:
            m = peers["monai"].FocalLoss(gamma=2.0, alpha=0.25, use_softmax=True, to_onehot_y=True, reduction="sum")
            others["monai"] = _step(lambda: m(x.unsqueeze(2), y.view(-1, 1, 1)), [x])
        if peers.get("keras") is not None:
            k_loss = peers["keras"].losses.CategoricalFocalCrossentropy(
                from_logits=True, alpha=alpha.tolist(), gamma=2.0, reduction="sum"
            )
            onehot = F.one_hot(y, x.shape[1]).float()
            others["keras"] = _step(lambda: k_loss(onehot, x), [x])
        ours = _step(lambda: LF.softmax_focal_loss(x, y, alpha=alpha, gamma=2.0, reduction="sum"), [x])
        differs = {"torch.nn cross_entropy (floor)": "plain cross-entropy: the floor a focal loss is measured against"}
        return Built(ours, others, x.numel(), differs=differs)

    cases.append(Case("focal", softmax_focal, CLASS_VARIANTS))

    def simple(
        name, ours, torch_fn=None, keras_name=None, keras_onehot=False, keras_probs=False, kw=None, keras_kw=None
    ):
        kw = kw or {}

        def build(size, device, peers, classes=10):
            x, y = _logits(size, device, classes)
            others = {}
            if torch_fn is not None:
                others["torch.nn"] = _step(lambda: torch_fn(x, y, **kw), [x])
            if keras_name and peers.get("keras") is not None:
                k_loss = getattr(peers["keras"].losses, keras_name)(**(keras_kw or {}))
                if keras_probs:
                    p = torch.softmax(x.detach(), 1).requires_grad_()
                    others["keras"] = _step(lambda: k_loss(y, p), [p])
                else:
                    yk = F.one_hot(y, x.shape[1]).float() if keras_onehot else y
                    others["keras"] = _step(lambda: k_loss(yk, x), [x])
            return Built(_step(lambda: ours(x, y, **kw), [x]), others, x.numel())

        return Case(name, build, CLASS_VARIANTS)

    cases += [
        simple("poly1", LF.poly1_cross_entropy),
        simple(
            "generalized_cross_entropy",
            LF.generalized_cross_entropy,
            keras_name="CategoricalGeneralizedCrossEntropy",
            keras_probs=True,
            keras_kw={"q": 0.7},  # losskit's default q (Keras's is 0.5): the same loss on both sides
        ),
        simple("multi_margin", LF.multi_margin_loss, F.multi_margin_loss),
        simple("categorical_hinge", LF.categorical_hinge_loss, keras_name="CategoricalHinge", keras_onehot=True),
    ]

    def balanced(size, device, peers):
        x, t = _elementwise(size, device)
        t = (t > 1.0).float()
        return Built(_step(lambda: LF.balanced_binary_cross_entropy_with_logits(x, t), [x]), {}, size)

    cases.append(Case("balanced_bce", balanced))

    def margin_elementwise(name, ours, torch_fn=None, keras_name=None):
        def build(size, device, peers):
            x, t = _elementwise(size, device)
            t = torch.where(t > 0, 1.0, -1.0)
            others = {}
            if torch_fn is not None:
                others["torch.nn"] = _step(lambda: torch_fn(x, t), [x])
            if keras_name and peers.get("keras") is not None:
                k_loss = getattr(peers["keras"].losses, keras_name)()
                xk, tk = _keras_pair(x, t)
                others["keras"] = _step(lambda: k_loss(tk, xk), [x])
            return Built(_step(lambda: ours(x, t), [x]), others, size)

        return Case(name, build)

    cases += [
        margin_elementwise("hinge", LF.hinge_loss, keras_name="Hinge"),
        margin_elementwise("squared_hinge", LF.squared_hinge_loss, keras_name="SquaredHinge"),
        margin_elementwise("soft_margin", LF.soft_margin_loss, F.soft_margin_loss),
    ]

    def multilabel_soft(size, device, peers):
        x, t = _elementwise(size, device)
        n = max(1, size // 10)  # at the per-call size (8) one row of 10 labels, not an empty batch
        if x.numel() < n * 10:
            x, t = _elementwise(n * 10, device)
        x2 = x.detach()[: n * 10].view(n, 10).clone().requires_grad_()
        t2 = (t[: n * 10].view(n, 10) > 0).float()
        return Built(
            _step(lambda: LF.multilabel_soft_margin_loss(x2, t2), [x2]),
            {"torch.nn": _step(lambda: F.multilabel_soft_margin_loss(x2, t2), [x2])},
            x2.numel(),
        )

    cases.append(Case("multilabel_soft_margin", multilabel_soft))

    def multilabel_margin(size, device, peers, classes=10):
        x, _ = _logits(size, device, classes)
        g = _gen(3)
        labels = torch.argsort(torch.rand(x.shape, generator=g), dim=1).to(device)
        labels[:, 3:] = -1  # three labels per row, then the -1 terminator
        return Built(
            _step(lambda: LF.multilabel_margin_loss(x, labels), [x]),
            {"torch.nn": _step(lambda: F.multilabel_margin_loss(x, labels), [x])},
            x.numel(),
        )

    cases.append(Case("multilabel_margin", multilabel_margin, CLASS_VARIANTS))
    return cases


def distribution_cases() -> List[Case]:
    def kl(size, device, peers):
        x, y = _logits(size, device)
        lp = torch.log_softmax(x.detach(), 1).requires_grad_()
        t = torch.softmax(torch.randn_like(lp), 1)
        others = {"torch.nn": _step(lambda: F.kl_div(lp, t, reduction="batchmean"), [lp])}
        if peers.get("keras") is not None:
            k_loss = peers["keras"].losses.KLDivergence()
            p = lp.detach().exp().requires_grad_()
            others["keras"] = _step(lambda: k_loss(t, p), [p])
        return Built(_step(lambda: LF.kl_div(lp, t, reduction="batchmean"), [lp]), others, lp.numel())

    def js(size, device, peers):
        x, _ = _logits(size, device)
        lp = torch.log_softmax(x.detach(), 1).requires_grad_()
        t = torch.softmax(torch.randn_like(lp), 1)
        return Built(_step(lambda: LF.js_div(lp, t, reduction="batchmean"), [lp]), {}, lp.numel())

    def gauss(size, device, peers):
        x, y = _elementwise(size, device)
        v = (torch.rand(size) + 0.1).to(device).requires_grad_()
        return Built(
            _step(lambda: LF.gaussian_nll_loss(x, y, v), [x, v]),
            {"torch.nn": _step(lambda: F.gaussian_nll_loss(x, y, v), [x, v])},
            size,
        )

    def poisson(size, device, peers):
        x, y = _elementwise(size, device)
        counts = torch.poisson(torch.full((size,), 2.0)).to(device)
        others = {"torch.nn": _step(lambda: F.poisson_nll_loss(x, counts), [x])}
        return Built(_step(lambda: LF.poisson_nll_loss(x, counts), [x]), others, size)

    return [Case("kl_div", kl), Case("js_div", js), Case("gaussian_nll", gauss), Case("poisson_nll", poisson)]


def adversarial_cases() -> List[Case]:
    """GAN losses against the lines GAN code writes by hand (BCE with logits on ones and zeros, WGAN-GP, R1)."""

    def scores(size, device):
        g = _gen(3)
        r = torch.randn(size, 1, generator=g).to(device).requires_grad_()
        f = torch.randn(size, 1, generator=g).to(device).requires_grad_()
        return r, f

    def disc(size, device, peers):
        r, f = scores(size, device)
        ones, zeros = torch.ones_like(r), torch.zeros_like(f)
        by_hand = _step(
            lambda: F.binary_cross_entropy_with_logits(r, ones) + F.binary_cross_entropy_with_logits(f, zeros), [r, f]
        )
        return Built(_step(lambda: LF.discriminator_loss(r, f), [r, f]), {"torch.nn (by hand)": by_hand}, 2 * size)

    def gen(size, device, peers):
        _, f = scores(size, device)
        ones = torch.ones_like(f)
        by_hand = _step(lambda: F.binary_cross_entropy_with_logits(f, ones), [f])
        return Built(_step(lambda: LF.generator_loss(f), [f]), {"torch.nn (by hand)": by_hand}, size)

    def critic_and_data(size, device):
        torch.manual_seed(4)
        n = max(2, size // 64)
        critic = torch.nn.Sequential(
            torch.nn.Linear(64, 64), torch.nn.LayerNorm(64), torch.nn.Tanh(), torch.nn.Linear(64, 1)
        )
        critic = critic.to(device)
        return critic, torch.randn(n, 64, device=device), torch.randn(n, 64, device=device), n

    def gp(size, device, peers):
        critic, real, fake, n = critic_and_data(size, device)
        eps = torch.rand(n, device=device)
        leaves = list(critic.parameters())

        def by_hand():
            x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
            (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
            return 10.0 * ((g.norm(2, dim=1) - 1.0) ** 2).mean()

        ours = _step(lambda: LF.gradient_penalty(critic, real, fake, interpolation=eps), leaves)
        return Built(ours, {"torch (by hand)": _step(by_hand, leaves)}, real.numel())

    def r1(size, device, peers):
        critic, real, _, _ = critic_and_data(size, device)
        leaves = list(critic.parameters())

        def ours():
            x = real.detach().requires_grad_(True)
            return LF.r1_penalty(critic(x), x)

        def by_hand():
            x = real.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
            return 5.0 * g.square().sum(1).mean()

        return Built(_step(ours, leaves), {"torch (by hand)": _step(by_hand, leaves)}, real.numel())

    return [
        Case("gan_discriminator", disc),
        Case("gan_generator", gen),
        Case("gradient_penalty", gp),
        Case("r1", r1),
    ]


def large_vocab_case() -> Case:
    """input (N, 256) @ linear_weight (V = 32768, 256): ``elements`` counts the logits the naive path materialises."""

    def build(size, device, peers, vocab=32768, width=256):
        n = max(8, size // vocab)
        g = _gen(2)
        hidden = torch.randn(n, width, generator=g).to(device).requires_grad_()
        weight = (torch.randn(vocab, width, generator=g) * 0.02).to(device).requires_grad_()
        target = torch.randint(0, vocab, (n,), generator=g).to(device)
        others = {"torch.nn (naive)": _step(lambda: F.cross_entropy(hidden @ weight.T, target), [hidden, weight])}
        if hasattr(torch.nn, "LinearCrossEntropyOptions"):  # torch 2.13's own chunked path
            options = torch.nn.LinearCrossEntropyOptions()
            others["torch chunked"] = _step(
                lambda: F.linear_cross_entropy(hidden, weight, target, options=options), [hidden, weight]
            )
        if peers.get("liger") is not None:
            liger = peers["liger"].LigerFusedLinearCrossEntropyLoss()
            others["liger"] = _step(lambda: liger(weight, hidden, target), [hidden, weight])
        if peers.get("cce") is not None:
            others["cut-cross-entropy"] = _step(
                lambda: peers["cce"].linear_cross_entropy(hidden, weight, target), [hidden, weight]
            )
        return Built(
            _step(lambda: LF.linear_cross_entropy(hidden, weight, target), [hidden, weight]), others, n * vocab
        )

    return Case("linear_cross_entropy", build, memory=True)


def ctc_case() -> Case:
    """CTC from logits (log_softmax included in every contender), T = 100, C = 32, S = 25; N grows with the size."""

    def build(size, device, peers):
        t, c, s = 100, 32, 25
        n = max(1, size // (t * c))
        g = _gen(3)
        logits = torch.randn(n, t, c, generator=g).to(device).requires_grad_()
        targets = torch.randint(1, c, (n, s), generator=g).to(device)
        input_lengths = torch.full((n,), t, dtype=torch.long, device=device)
        target_lengths = torch.full((n,), s, dtype=torch.long, device=device)

        def log_probs():
            return logits.log_softmax(2).transpose(0, 1)

        others = {"torch.nn": _step(lambda: F.ctc_loss(log_probs(), targets, input_lengths, target_lengths), [logits])}
        if (
            peers.get("keras") is not None
        ):  # Keras 3's ctc: the same problem (full input lengths, padding 0 after labels)
            keras_ctc = peers["keras"].losses.CTC()
            others["keras"] = _step(lambda: keras_ctc(targets, logits), [logits])
        ours = _step(lambda: LF.ctc_loss(log_probs(), targets, input_lengths, target_lengths), [logits])
        differs = {
            "keras": f"Keras averages the per-sample NLL; torch's 'mean' also divides each by its target length ({s})"
        }
        return Built(ours, others, n * t * c, differs=differs)

    return Case("ctc", build)


def segmentation_cases() -> List[Case]:
    """(N, 4, H, W) logits and class indices; the pairs of ``benchmarks/segmentation.py`` (run it for the full study)."""
    from .segmentation import cases as segmentation_pairs

    def inputs(size, device):
        side = max(4, int((size / 16) ** 0.5))
        g = _gen(3)
        x = torch.randn(4, 4, side, side, generator=g).to(device).requires_grad_()
        return x, torch.randint(0, 4, (4, side, side), generator=g).to(device)

    def pair(name):
        def build(size, device, peers):
            x, y = inputs(size, device)
            mods = {k: peers.get(k) for k in ("monai", "kornia", "smp") if peers.get(k) is not None}
            for loss_name, ours, others in segmentation_pairs(x, y, mods):
                if loss_name == name:
                    steps = {peer: _step(f, [x]) for peer, f in others.items()}
                    return Built(_step(ours, [x]), steps, x.numel())
            raise KeyError(name)

        return Case(name, build)

    def focal_tversky(size, device, peers):
        x, y = inputs(size, device)
        return Built(_step(lambda: LF.focal_tversky_loss(x, y), [x]), {}, x.numel())

    def lovasz_hinge(size, device, peers):
        x, y = inputs(size, device)
        x1, t = x[:, 0].detach().clone().requires_grad_(), (y > 1).long()
        others = {}
        if peers.get("smp") is not None:
            smp_hinge = peers["smp"].LovaszLoss("binary", per_image=True)
            others["smp"] = _step(lambda: smp_hinge(x1.unsqueeze(1), t.unsqueeze(1)), [x1])
        return Built(_step(lambda: LF.lovasz_hinge_loss(x1, t), [x1]), others, x1.numel())

    names = ("dice", "generalized_dice", "tversky", "jaccard", "dice_ce", "lovasz_softmax")
    return [*(pair(n) for n in names), Case("focal_tversky", focal_tversky), Case("lovasz_hinge", lovasz_hinge)]


def embedding_cases() -> List[Case]:
    """Metric learning (benchmarks/embedding.py's steps), embeddings (N, 128) with N = size / 128 in [16, 1024], CPU."""
    from .embedding import DIFFERS, DIM, steps_for

    def case(name: str, key: str) -> Case:
        def build(size, device, peers):
            n = min(1024, max(16, size // DIM))
            steps = steps_for(key, n)
            ours = steps.pop("losskit")
            return Built(ours, steps, n * DIM, differs=DIFFERS.get(key, {}))  # type: ignore[arg-type]

        return Case(name, build)

    keys = [
        "margin_ranking",
        "hinge_embedding",
        "cosine_embedding",
        "cosine_similarity_loss",
        "triplet_margin",
        "triplet_margin_with_distance",
        "batch_triplet:batch_all",
        "batch_triplet:batch_hard",
        "batch_triplet:semi_hard",
        "contrastive",
        "circle",
        "supervised_contrastive",
        "info_nce",
        "center",
        "arcface",
        "cosface",
    ]
    return [case(k.replace(":", "(") + (")" if ":" in k else ""), k) for k in keys]


def all_cases() -> List[Case]:
    return [
        regression_case("l1", LF.l1_loss, F.l1_loss, "MeanAbsoluteError", extra_sizes=(FUSED_GRADIENT_SIZE,)),
        regression_case("mse", LF.mse_loss, F.mse_loss, "MeanSquaredError", extra_sizes=(FUSED_GRADIENT_SIZE,)),
        regression_case("rmse", LF.rmse_loss),
        regression_case("smooth_l1", LF.smooth_l1_loss, F.smooth_l1_loss, extra_sizes=(FUSED_GRADIENT_SIZE,)),
        regression_case("huber", LF.huber_loss, F.huber_loss, "Huber", extra_sizes=(FUSED_GRADIENT_SIZE,)),
        regression_case("log_cosh", LF.log_cosh_loss, keras_name="LogCosh"),
        regression_case("mape", LF.mape_loss, keras_name="MeanAbsolutePercentageError", positive=True),
        regression_case("msle", LF.msle_loss, keras_name="MeanSquaredLogarithmicError", positive=True),
        regression_case("quantile", LF.quantile_loss, quantile=0.9),
        *distribution_cases(),
        *classification_cases(),
        large_vocab_case(),
        ctc_case(),
        *adversarial_cases(),
        *segmentation_cases(),
        *_detection_cases(),
        *embedding_cases(),
        *_long_tail_cases(),
    ]


def _detection_cases() -> List[Case]:
    from .detection import suite_cases  # box losses and their baselines live in benchmarks/detection.py

    return suite_cases()


def _long_tail_cases() -> List[Case]:
    from .long_tail import suite_cases  # logit_adjusted, ldam, symmetric_cross_entropy: benchmarks/long_tail.py

    return suite_cases()


def select(names: Optional[List[str]]) -> List[Case]:
    cases = all_cases()
    if not names:
        return cases
    chosen = [c for c in cases if c.name in names or c.name.split("(")[0] in names]
    missing = set(names) - {c.name for c in chosen} - {c.name.split("(")[0] for c in chosen}
    if missing:
        raise SystemExit(f"benchmarks: unknown case(s) {sorted(missing)}; known: {', '.join(c.name for c in cases)}")
    return chosen
