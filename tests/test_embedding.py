"""The ranking and metric-learning family beyond the battery.

torch parity of the five torch.nn losses (value and gradient, every reduction and option);
every mining and distance against the NumPy loops; semi-hard mining against a port of
TF-Addons' algorithm; zero-distance gradients; batches without a valid pair or triplet;
sum("none") == "sum"; CenterLoss's alpha update; parameters in state_dict, .to() and an
optimiser; ArcFace/CosFace at cos θ = ±1; Keras 3's circle and Circle; error messages.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF
import losskit.keras as lkk

from .reference import embedding as ref

RTOL = 1e-6


def _leaves(*tensors):
    return [t.detach().clone().double().requires_grad_(True) for t in tensors]


def _value_and_grads(fn, leaves, *rest, **kw):
    out = fn(*leaves, *rest, **kw)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    return out, grads


def _assert_same(ours, theirs):
    (a, ga), (b, gb) = ours, theirs
    torch.testing.assert_close(a, b, rtol=RTOL, atol=1e-12)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, rtol=RTOL, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# torch's losses, drop-in
# ---------------------------------------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
def test_margin_ranking_equals_torch(reduction, margin, shape):
    g = torch.Generator().manual_seed(1)
    x1, x2 = _leaves(torch.randn(shape, generator=g), torch.randn(shape, generator=g))
    y = torch.randint(0, 2, shape, generator=g).double() * 2 - 1
    kw = {"margin": margin, "reduction": reduction}
    _assert_same(
        _value_and_grads(LF.margin_ranking_loss, [x1, x2], y, **kw),
        _value_and_grads(F.margin_ranking_loss, [x1, x2], y, **kw),
    )
    module = lk.MarginRankingLoss(margin, reduction=reduction)
    torch.testing.assert_close(module(x1, x2, y), torch.nn.MarginRankingLoss(margin, reduction=reduction)(x1, x2, y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_hinge_embedding_equals_torch(reduction, margin):
    g = torch.Generator().manual_seed(2)
    (x,) = _leaves(torch.rand(5, 4, generator=g) * 3)
    y = torch.randint(0, 2, (5, 4), generator=g).double() * 2 - 1
    kw = {"margin": margin, "reduction": reduction}
    _assert_same(
        _value_and_grads(LF.hinge_embedding_loss, [x], y, **kw), _value_and_grads(F.hinge_embedding_loss, [x], y, **kw)
    )
    torch.testing.assert_close(
        lk.HingeEmbeddingLoss(margin, reduction=reduction)(x, y),
        torch.nn.HingeEmbeddingLoss(margin, reduction=reduction)(x, y),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [-0.5, 0.0, 0.3])
@pytest.mark.parametrize("shape", [(6, 3), (4,)])
def test_cosine_embedding_equals_torch(reduction, margin, shape):
    g = torch.Generator().manual_seed(3)
    x1, x2 = _leaves(torch.randn(shape, generator=g), torch.randn(shape, generator=g))
    with torch.no_grad():
        x1[..., 0] = 0.0 if len(shape) == 1 else x1[..., 0]
        if len(shape) == 2:
            x1[0] = 0.0  # a zero vector: torch's 1e-12 keeps it finite, losskit calls the same kernel
    y = (torch.randint(0, 2, shape[:-1], generator=g).double() * 2 - 1) if len(shape) == 2 else torch.tensor(-1.0)
    kw = {"margin": margin, "reduction": reduction}
    ours = _value_and_grads(LF.cosine_embedding_loss, [x1, x2], y, **kw)
    _assert_same(ours, _value_and_grads(F.cosine_embedding_loss, [x1, x2], y, **kw))
    assert all(torch.isfinite(gr).all() for gr in ours[1])
    torch.testing.assert_close(
        lk.CosineEmbeddingLoss(margin, reduction=reduction)(x1, x2, y),
        torch.nn.CosineEmbeddingLoss(margin, reduction=reduction)(x1, x2, y),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options", [{}, {"margin": 0.3, "p": 1.0}, {"p": 3.0, "swap": True}, {"eps": 0.0, "swap": True, "margin": 2.0}]
)
@pytest.mark.parametrize("shape", [(5, 3), (4,)])
def test_triplet_margin_equals_torch(reduction, options, shape):
    g = torch.Generator().manual_seed(4)
    leaves = _leaves(*(torch.randn(shape, generator=g) for _ in range(3)))
    kw = {**options, "reduction": reduction}
    _assert_same(
        _value_and_grads(LF.triplet_margin_loss, leaves, **kw), _value_and_grads(F.triplet_margin_loss, leaves, **kw)
    )
    positional = [options.get(k, d) for k, d in (("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False))]
    torch.testing.assert_close(
        lk.TripletMarginLoss(*positional, reduction=reduction)(*leaves),
        torch.nn.TripletMarginLoss(*positional, reduction=reduction)(*leaves),
    )


def _cosine_distance(x, y):
    return 1.0 - F.cosine_similarity(x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("distance_function", [None, _cosine_distance, torch.nn.PairwiseDistance(p=1.0)])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_equals_torch(reduction, distance_function, swap):
    g = torch.Generator().manual_seed(5)
    leaves = _leaves(*(torch.randn(6, 3, generator=g) for _ in range(3)))
    kw = {"distance_function": distance_function, "margin": 0.7, "swap": swap, "reduction": reduction}
    _assert_same(
        _value_and_grads(LF.triplet_margin_with_distance_loss, leaves, **kw),
        _value_and_grads(F.triplet_margin_with_distance_loss, leaves, **kw),
    )
    torch.testing.assert_close(
        lk.TripletMarginWithDistanceLoss(**kw)(*leaves), torch.nn.TripletMarginWithDistanceLoss(**kw)(*leaves)
    )


def _huge_stand_in(x, value=1e60):
    """``x`` with ±inf replaced by ±1e60: far enough out that float64 values and gradients are the limit's (its cube still finite)."""
    return torch.where(torch.isinf(x), torch.sign(x) * value, x)


@pytest.mark.parametrize(
    "fn, options",
    [
        (LF.triplet_margin_loss, {}),
        (LF.triplet_margin_loss, {"p": 1.0, "swap": True}),
        (LF.triplet_margin_loss, {"p": 3.0, "margin": 0.5}),
        (LF.triplet_margin_with_distance_loss, {"swap": True}),
    ],
)
def test_triplet_gradients_at_infinity_are_the_limits(fn, options):
    """A positive at ±inf: loss +inf, the gradient of the distance's direction; a negative at ±inf: 0, gradient 0."""
    inf = float("inf")
    a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=torch.float64)
    p = torch.tensor([[inf, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, -inf, inf]], dtype=torch.float64)
    n = torch.tensor([[1.0, 1.0, 0.0], [-inf, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    value, grads = _value_and_grads(fn, _leaves(a, p, n), reduction="none", **options)
    stand_in_value, stand_in_grads = _value_and_grads(
        fn, _leaves(*(_huge_stand_in(t) for t in (a, p, n))), reduction="none", **options
    )
    assert value.tolist() == [inf, 0.0, inf]
    assert torch.all(stand_in_value[[0, 2]] > 1e59) and stand_in_value[1] == 0
    for grad, expected in zip(grads, stand_in_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)
    assert torch.all(grads[0][1] == 0) and torch.all(grads[2][1] == 0)


@pytest.mark.parametrize(
    "fn, args",
    [
        (LF.cosine_similarity_loss, ()),
        (LF.cosine_embedding_loss, (torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64),)),
        (LF.info_nce_loss, ()),
    ],
)
def test_normalising_losses_at_infinity_are_the_limits(fn, args):
    """An infinite entry: the loss and the partner's gradient are those at a huge stand-in; its own gradient is 0."""
    inf = float("inf")
    x = torch.tensor([[inf, 1.0, 0.0], [-inf, inf, 0.5], [1.0, 2.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 2.0, 0.0], [0.5, 1.0, -2.0], [0.0, 0.0, -inf]], dtype=torch.float64)
    value, grads = _value_and_grads(fn, _leaves(x, y), *args)
    stand_in_value, stand_in_grads = _value_and_grads(fn, _leaves(_huge_stand_in(x), _huge_stand_in(y)), *args)
    torch.testing.assert_close(value, stand_in_value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads[0], stand_in_grads[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads[1], stand_in_grads[1], rtol=1e-12, atol=1e-12)
    assert torch.all(grads[0][:2] == 0) and torch.all(grads[1][2] == 0)
    nan_input = x.clone()
    nan_input[0, 1] = float("nan")
    assert torch.isnan(fn(nan_input, y, *args)), "NaN in, NaN out"


@pytest.mark.parametrize("pos_margin", [0.0, 0.3])
def test_contrastive_euclidean_at_infinity_is_the_limit(pos_margin):
    """Far positive pairs: +inf, gradient ±inf along the infinite entries and the huge stand-in's elsewhere."""
    inf = float("inf")
    x = torch.tensor(
        [[inf, 1.0, 0.0], [1.0, 2.0, 3.0], [0.5, 0.0, 1.0], [0.0, 0.0, -inf], [1.0, -1.0, 0.5], [2.0, 1.0, 0.0]],
        dtype=torch.float64,
    )
    labels = torch.tensor([0, 1, 1, 2, 0, 1])
    kw = {"pos_margin": pos_margin, "neg_margin": 2.5, "reduction": "none"}
    value, (grad,) = _value_and_grads(LF.contrastive_loss, _leaves(x), labels, **kw)
    stand_in_value, (stand_in_grad,) = _value_and_grads(LF.contrastive_loss, _leaves(_huge_stand_in(x)), labels, **kw)
    assert value[0] == inf and value[4] == inf and torch.isfinite(value[[1, 2, 3, 5]]).all()
    torch.testing.assert_close(value[[1, 2, 3, 5]], stand_in_value[[1, 2, 3, 5]], rtol=1e-9, atol=1e-12)
    infinite = torch.isinf(grad)
    assert infinite[0, 0] and infinite[4, 0] and grad[0, 0] > 0 and grad[4, 0] < 0
    torch.testing.assert_close(grad[~infinite], stand_in_grad[~infinite], rtol=1e-9, atol=1e-9)
    nan_input = x.clone()
    nan_input[1, 0] = float("nan")
    assert torch.isnan(LF.contrastive_loss(nan_input, labels, **kw)[1])


@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean"])
@pytest.mark.parametrize(
    "options", [{"mining": "batch_all", "margin": 5.0}, {"mining": "batch_hard"}, {"mining": "semi_hard", "soft": True}]
)
def test_batch_triplet_far_negatives_are_the_limit(distance, options):
    """Samples at ±inf with labels of their own: the loss and gradients are those at a huge stand-in (theirs 0)."""
    inf = float("inf")
    x = torch.tensor(
        [[inf, 1.0, 0.0], [1.0, 2.0, 3.0], [0.5, 0.0, 1.0], [0.0, 0.0, -inf], [1.0, -1.0, 0.5], [2.0, 1.0, 0.0]],
        dtype=torch.float64,
    )
    labels = torch.tensor([3, 0, 0, 4, 1, 1])
    kw = {"distance": distance, "reduction": "none", **options}
    value, (grad,) = _value_and_grads(LF.batch_triplet_loss, _leaves(x), labels, **kw)
    stand_in_value, (stand_in_grad,) = _value_and_grads(
        LF.batch_triplet_loss, _leaves(_huge_stand_in(x, 1e30)), labels, **kw
    )
    torch.testing.assert_close(value, stand_in_value, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad, stand_in_grad, rtol=1e-9, atol=1e-9)
    assert torch.all(grad[[0, 3]] == 0)


def test_torch_names_resolve_to_losskit_modules():
    for name in ("MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss"):
        assert type(lk.get(name)).__name__ == name
    assert lk.get_class("triplet") is lk.TripletMarginLoss
    assert lk.get_class("TripletMarginWithDistanceLoss") is lk.TripletMarginWithDistanceLoss


def test_cosine_similarity_loss_equals_keras_and_is_finite_at_zero():
    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    x[0] = 0.0
    torch.testing.assert_close(LF.cosine_similarity_loss(x, y, reduction="none"), lkk.cosine_similarity(y, x))
    keras = pytest.importorskip("keras")
    expected = keras.losses.cosine_similarity(y.numpy(), x.numpy())
    np.testing.assert_allclose(
        LF.cosine_similarity_loss(x, y, reduction="none").numpy(), np.asarray(expected), rtol=1e-6
    )
    (leaf,) = _leaves(x)
    LF.cosine_similarity_loss(leaf, y.double()).backward()
    assert torch.isfinite(leaf.grad).all() and float(LF.cosine_similarity_loss(leaf[:1], y[:1].double())) == 0.0


def test_negative_margin_is_refused_where_meaningless():
    with pytest.raises(ValueError, match=r"margin_ranking_loss: margin must be in \[0, inf\); got -1.0"):
        LF.margin_ranking_loss(torch.randn(3), torch.randn(3), torch.ones(3), margin=-1.0)
    with pytest.raises(ValueError, match=r"TripletMarginLoss: margin must be in \[0, inf\)"):
        lk.TripletMarginLoss(-0.5)
    LF.cosine_embedding_loss(torch.randn(3, 2), torch.randn(3, 2), -torch.ones(3), margin=-0.5)  # meaningful there


# ---------------------------------------------------------------------------------------------
# batch losses
# ---------------------------------------------------------------------------------------------


def _batch(n=10, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    labels = rng.integers(0, classes, size=n)
    return x, labels, torch.tensor(x), torch.tensor(labels)


@pytest.mark.parametrize(
    "mining,soft",
    [("batch_all", False), ("batch_hard", False), ("batch_hard", True), ("semi_hard", False), ("semi_hard", True)],
)
@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean", "cosine"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_mining_and_distance_against_the_loops(mining, soft, distance, reduction):
    for seed in range(3):
        x, labels, xt, lt = _batch(seed=seed)
        kw = {"mining": mining, "distance": distance, "soft": soft, "margin": 0.3, "reduction": reduction}
        got = LF.batch_triplet_loss(xt, lt, **kw)
        np.testing.assert_allclose(got.numpy(), ref.batch_triplet(x, labels, **kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("margin", [0.1, 1.0])
def test_semi_hard_is_tf_addons(margin):
    for seed in range(5):
        x, labels, xt, lt = _batch(n=16, d=3, classes=4, seed=seed)
        labels = labels.copy()
        labels[:4] = [0, 1, 2, 3]  # every anchor has negatives (TF-Addons' one difference is when none exist)
        expected = ref.tfa_triplet_semihard(labels, x, margin=margin)
        got = LF.batch_triplet_loss(xt, torch.tensor(labels), mining="semi_hard", margin=margin)
        np.testing.assert_allclose(float(got), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["batch_triplet", "contrastive", "circle", "supervised_contrastive"])
def test_sum_of_none_is_sum(name):
    fn = lk.get_fn(name)
    _, _, x, labels = _batch(n=9, seed=3)
    minings = ["batch_all", "batch_hard", "semi_hard"] if name == "batch_triplet" else [None]
    for mining in minings:
        kw = {"mining": mining} if mining else {}
        torch.testing.assert_close(fn(x, labels, reduction="none", **kw).sum(), fn(x, labels, reduction="sum", **kw))


@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean", "cosine"])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_zero_distance_gives_finite_gradients(distance, mining):
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    loss = LF.batch_triplet_loss(x, labels, mining=mining, distance=distance, margin=1.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    y = x.detach().clone().requires_grad_(True)
    LF.contrastive_loss(y, labels, distance=distance).backward()
    assert torch.isfinite(y.grad).all()


@pytest.mark.parametrize(
    "name,kw",
    [
        ("batch_triplet", {"mining": "batch_all"}),
        ("batch_triplet", {"mining": "batch_hard"}),
        ("batch_triplet", {"mining": "semi_hard"}),
        ("batch_triplet", {"mining": "batch_hard", "soft": True}),
        ("circle", {}),
        ("supervised_contrastive", {}),
    ],
)
@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3], [5]])
def test_no_valid_pair_or_triplet_gives_zero_on_the_graph(name, kw, labels):
    x = torch.randn(len(labels), 3, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum"):
        out = lk.get_fn(name)(x, torch.tensor(labels), reduction=reduction, **kw)
        if name == "supervised_contrastive" and labels == [0, 0, 0, 0]:
            continue  # positives everywhere: a real loss
        assert float(out) == 0.0 and out.requires_grad
        (grad,) = torch.autograd.grad(out, x)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_supcon_two_views_without_labels_is_simclr_nt_xent():
    """NT-Xent (SimCLR): 2N−1-way cross-entropy towards the other view, averaged over the 2N views."""
    g = torch.Generator().manual_seed(7)
    z = torch.randn(6, 2, 5, generator=g, dtype=torch.float64)
    tau = 0.3
    flat = F.normalize(torch.cat([z[:, 0], z[:, 1]]), dim=1)
    sim = flat @ flat.T / tau
    sim.fill_diagonal_(-float("inf"))
    target = torch.cat([torch.arange(6, 12), torch.arange(6)])
    expected = F.cross_entropy(sim, target)
    got = LF.supervised_contrastive_loss(z, None, temperature=tau, base_temperature=tau)
    torch.testing.assert_close(got, expected)


def test_info_nce_is_cross_entropy_and_clip_is_symmetric():
    g = torch.Generator().manual_seed(8)
    q, k = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.1
    target = torch.arange(7)
    torch.testing.assert_close(LF.info_nce_loss(q, k, temperature=0.1), F.cross_entropy(logits, target))
    clip = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    torch.testing.assert_close(LF.info_nce_loss(q, k, temperature=0.1, symmetric=True), clip)


def test_info_nce_negatives_get_gradients_and_match_the_loop():
    rng = np.random.default_rng(9)
    q, k, n = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    leaves = _leaves(torch.tensor(q), torch.tensor(k), torch.tensor(n))
    for symmetric in (False, True):
        out = LF.info_nce_loss(leaves[0], leaves[1], negatives=leaves[2], temperature=0.2, symmetric=symmetric)
        np.testing.assert_allclose(float(out), ref.info_nce(q, k, negatives=n, temperature=0.2, symmetric=symmetric))
    assert torch.autograd.gradcheck(
        lambda a, b, c: LF.info_nce_loss(a, b, negatives=c, temperature=0.5, symmetric=True), tuple(leaves)
    )


def _plain_info_nce(q, k, temperature, symmetric):
    """InfoNCE through autograd (torch's cross-entropy on normalised rows), per query."""
    logits = F.normalize(q, dim=1, eps=1e-12) @ F.normalize(k, dim=1, eps=1e-12).T / temperature
    target = torch.arange(q.shape[0])
    per = F.cross_entropy(logits, target, reduction="none")
    return 0.5 * (per + F.cross_entropy(logits.T, target, reduction="none")) if symmetric else per


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("temperature", [0.5, 0.07, 1e-3])  # 1e-3 in float32: exp(1/τ) overflows, rows are shifted
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_fused_backward_matches_autograd(dtype, temperature, symmetric):
    """The analytic backward against autograd of the plain formula: every reduction, a weighted "none", a key
    without gradient (MoCo) or a query without one, a zero query, and a second backward of the same graph."""
    g = torch.Generator().manual_seed(21)
    q0, k0 = torch.randn(9, 5, generator=g, dtype=dtype), torch.randn(9, 5, generator=g, dtype=dtype)
    q0[3] = 0.0
    weights = torch.rand(9, generator=g, dtype=dtype)
    tol = {"rtol": 1e-9, "atol": 1e-9} if dtype == torch.float64 else {"rtol": 2e-4, "atol": 2e-5}
    wanted = ((True, True), (True, False), (False, True))  # (query, key) requires grad
    for reduction, (query_grad, key_grad) in itertools.product(("mean", "sum", "none"), wanted):
        q, k = q0.clone().requires_grad_(query_grad), k0.clone().requires_grad_(key_grad)
        q2, k2 = q0.clone().requires_grad_(query_grad), k0.clone().requires_grad_(key_grad)
        ours = LF.info_nce_loss(q, k, temperature=temperature, symmetric=symmetric, reduction=reduction)
        per = _plain_info_nce(q2, k2, temperature, symmetric)
        plain = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
        torch.testing.assert_close(ours, plain, **tol)
        w = weights if reduction == "none" else torch.ones((), dtype=dtype)
        leaves = tuple(t for t in (q, k) if t.requires_grad)
        first = torch.autograd.grad((ours * w).sum(), leaves, retain_graph=True)
        again = torch.autograd.grad((ours * w).sum(), leaves)
        expected = torch.autograd.grad((plain * w).sum(), tuple(t for t in (q2, k2) if t.requires_grad))
        for a, b, c in zip(first, again, expected):
            torch.testing.assert_close(a, c, **tol)
            torch.testing.assert_close(b, a, rtol=0, atol=0)


def _plain_contrastive(x, labels, pos_margin, neg_margin, distance):
    """Contrastive loss over pairs i < j through autograd, per anchor (each sample's half of its pairs)."""
    diff = x[:, None, :] - x[None, :, :]
    sq = diff.square().sum(-1)
    d = sq if distance == "squared_euclidean" else torch.where(sq > 0, sq, torch.ones_like(sq)).sqrt() * (sq > 0)
    same = labels[:, None] == labels[None, :]
    hinge = torch.relu(torch.where(same, d - pos_margin, neg_margin - d)).square()
    hinge = hinge * (1 - torch.eye(x.shape[0], dtype=x.dtype))
    return 0.5 * hinge.sum(1)


@pytest.mark.parametrize("distance", ["euclidean", "squared_euclidean"])
def test_contrastive_fused_backward_matches_autograd(distance):
    """The analytic backward (a symmetric product for a scalar gradient, two products for a weighted "none")
    against autograd of the pairwise-difference formula, and a second backward of the same graph."""
    g = torch.Generator().manual_seed(22)
    x0 = torch.randn(10, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (10,), generator=g)
    weights = torch.rand(10, generator=g, dtype=torch.float64)
    for reduction, (pos_margin, neg_margin) in itertools.product(("mean", "sum", "none"), ((0.0, 1.0), (0.3, 4.0))):
        x, x2 = x0.clone().requires_grad_(), x0.clone().requires_grad_()
        kw = {"pos_margin": pos_margin, "neg_margin": neg_margin, "distance": distance}
        ours = LF.contrastive_loss(x, labels, reduction=reduction, **kw)
        per = _plain_contrastive(x2, labels, pos_margin, neg_margin, distance)
        pairs = 10 * 9 / 2
        plain = {"mean": per.sum() / pairs, "sum": per.sum(), "none": per}[reduction]
        torch.testing.assert_close(ours, plain, rtol=1e-9, atol=1e-12)
        w = weights if reduction == "none" else torch.ones((), dtype=torch.float64)
        (first,) = torch.autograd.grad((ours * w).sum(), x, retain_graph=True)
        (again,) = torch.autograd.grad((ours * w).sum(), x)
        (expected,) = torch.autograd.grad((plain * w).sum(), x2)
        torch.testing.assert_close(first, expected, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(again, first, rtol=0, atol=0)


def test_gather_without_a_process_group_is_a_no_op():
    _, _, x, labels = _batch(seed=4)
    for name in ("batch_triplet", "contrastive", "circle", "supervised_contrastive"):
        fn = lk.get_fn(name)
        torch.testing.assert_close(fn(x, labels, gather=True), fn(x, labels))
    torch.testing.assert_close(LF.info_nce_loss(x, x.flip(0), gather=True), LF.info_nce_loss(x, x.flip(0)))
    assert "gather" in lk.describe("info_nce").capabilities


def test_batch_losses_run_without_python_loops_at_scale():
    """N = 512 in well under a second on CPU: matrices and sorts, not loops over anchors or triplets."""
    import time

    x = torch.randn(512, 64, requires_grad=True)
    labels = torch.randint(0, 32, (512,))
    start = time.perf_counter()
    for mining in ("batch_all", "batch_hard", "semi_hard"):
        LF.batch_triplet_loss(x, labels, mining=mining).backward()
    assert time.perf_counter() - start < 5.0


# ---------------------------------------------------------------------------------------------
# modules that own parameters
# ---------------------------------------------------------------------------------------------


def test_center_loss_alpha_update_is_wen_et_al():
    torch.manual_seed(0)
    module = lk.CenterLoss(3, 2, alpha=0.5)
    assert "centers" in module.state_dict() and not list(module.parameters())
    before = module.centers.clone()
    x = torch.randn(5, 2, requires_grad=True)
    y = torch.tensor([0, 0, 2, 2, 2])
    loss = module(x, y)
    torch.testing.assert_close(loss, LF.center_loss(x, y, before))  # the centres from before the update
    expected = before.clone()
    for j in range(3):
        members = (y == j).nonzero().flatten()
        delta = (before[j] - x.detach()[members]).sum(0) if len(members) else torch.zeros(2)
        expected[j] = before[j] - 0.5 * delta / (1 + len(members))
    torch.testing.assert_close(module.centers, expected)
    loss.backward()
    assert x.grad is not None
    module.eval()
    module(x, y)
    torch.testing.assert_close(module.centers, expected)  # no update in eval mode


def test_center_loss_centres_learned_by_an_optimiser():
    torch.manual_seed(1)
    module = lk.CenterLoss(2, 3)
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    y = torch.tensor([0, 1])
    for _ in range(200):
        opt.zero_grad()
        module(x, y).backward()
        opt.step()
    torch.testing.assert_close(module.centers.detach(), x, atol=1e-4, rtol=0)


@pytest.mark.parametrize("cls", ["ArcFaceLoss", "CosFaceLoss"])
def test_margin_softmax_weights_train_and_follow_to(cls):
    torch.manual_seed(2)
    module = getattr(lk, cls)(4, 3, scale=8.0)
    assert [n for n, _ in module.named_parameters()] == ["weight"] and set(module.state_dict()) == {"weight"}
    double = module.to(torch.float64)
    assert double.weight.dtype == torch.float64
    module = module.float()
    x, y = torch.randn(16, 3), torch.randint(0, 4, (16,))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    first = float(module(x, y))
    for _ in range(30):
        opt.zero_grad()
        module(x, y).backward()
        opt.step()
    assert float(module(x, y)) < first
    config = module.get_config()
    assert config == {
        "name": module.name,
        "num_classes": 4,
        "embedding_dim": 3,
        "scale": 8.0,
        "margin": module.margin,
        "reduction": "mean",
    }


@pytest.mark.parametrize("fn", [LF.arcface_loss, LF.cosface_loss])
def test_margin_softmax_finite_at_cos_plus_minus_one(fn):
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[2.0, 0.0], [-3.0, 0.0], [0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 0, 1])
    out = fn(x, y, w, reduction="none")
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all() and torch.isfinite(w.grad).all()
    expected = (ref.arcface if fn is LF.arcface_loss else ref.cosface)(
        x.detach().numpy(), y.numpy(), w.detach().numpy(), reduction="none"
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10)


def test_module_construction_errors():
    with pytest.raises(ValueError, match=r"CenterLoss: alpha must be in \(0, 1\]"):
        lk.CenterLoss(3, 2, alpha=1.5)
    with pytest.raises(ValueError, match=r"ArcFaceLoss: num_classes must be a positive integer; got 0"):
        lk.ArcFaceLoss(0, 3)
    with pytest.raises(TypeError, match=r"CosFaceLoss: embedding_dim must be a positive integer"):
        lk.CosFaceLoss(3, 2.5)
    with pytest.raises(ValueError, match=r"ArcFaceLoss: scale must be in \(0, inf\)"):
        lk.ArcFaceLoss(3, 2, scale=-1.0)


# ---------------------------------------------------------------------------------------------
# Keras 3: circle and Circle
# ---------------------------------------------------------------------------------------------


def _unit_batch(n=8, d=4, seed=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = rng.integers(0, 3, size=n)
    labels[-1] = 7  # a sample without positives: loss 0, masked out of Circle's mean
    return x.astype(np.float32), labels


@pytest.mark.parametrize("gamma,margin", [(80.0, 0.4), (16.0, 0.25), (1.0, 0.0)])
def test_keras_circle_function(gamma, margin):
    keras = pytest.importorskip("keras")
    x, labels = _unit_batch()
    expected = np.asarray(keras.losses.circle(labels, x, gamma=gamma, margin=margin))
    got = lkk.circle(torch.tensor(labels), torch.tensor(x), gamma=gamma, margin=margin)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        got.numpy(), ref.keras_circle(labels, x.astype(np.float64), gamma, margin), rtol=1e-4, atol=1e-4
    )
    # on unit-norm embeddings losskit's circle_loss is the same per-sample loss
    torch.testing.assert_close(
        LF.circle_loss(torch.tensor(x), torch.tensor(labels), gamma=gamma, margin=margin, reduction="none"),
        got,
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None])
@pytest.mark.parametrize("weighted", [False, True])
def test_keras_circle_class(reduction, weighted):
    keras = pytest.importorskip("keras")
    x, labels = _unit_batch(seed=11)
    w = np.linspace(0.5, 2.0, len(labels)).astype(np.float32) if weighted else None
    expected = np.asarray(keras.losses.Circle(reduction=reduction)(labels, x, sample_weight=w))
    got = lkk.Circle(reduction=reduction)(
        torch.tensor(labels), torch.tensor(x), sample_weight=None if w is None else torch.tensor(w)
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    circle = lkk.Circle(reduction="sum_over_batch_size")
    torch.testing.assert_close(
        circle(torch.tensor(labels), torch.tensor(x)),
        LF.circle_loss(torch.tensor(x), torch.tensor(labels)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_keras_circle_get_and_config():
    assert lkk.get("circle") is lkk.circle
    c = lkk.get("Circle")
    assert isinstance(c, lkk.Circle)
    config = lkk.Circle(gamma=32.0, margin=0.3).get_config()
    assert config == {
        "name": "circle",
        "reduction": "sum_over_batch_size",
        "gamma": 32.0,
        "margin": 0.3,
        "remove_diagonal": True,
    }
    assert lkk.Circle.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"Circle: gamma must be in \(0, inf\)"):
        lkk.Circle(gamma=0.0)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: LF.batch_triplet_loss(torch.randn(4, 3), torch.tensor([0, 1, 0])),
            ValueError,
            r"batch_triplet_loss: labels must have shape \(4,\)",
        ),
        (
            lambda: LF.batch_triplet_loss(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), mining="hard"),
            ValueError,
            r"batch_triplet_loss: mining must be",
        ),
        (
            lambda: LF.batch_triplet_loss(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), distance="l1"),
            ValueError,
            r"batch_triplet_loss: distance must be",
        ),
        (lambda: lk.BatchTripletLoss(margin=-1.0), ValueError, r"BatchTripletLoss: margin must be in \[0, inf\)"),
        (
            lambda: LF.contrastive_loss(torch.randn(4, 3, 2), torch.tensor([0, 1, 0, 1])),
            ValueError,
            r"contrastive_loss: embeddings must be 2-D",
        ),
        (
            lambda: LF.circle_loss(torch.randn(4, 3), torch.tensor([0.0, 1, 0, 1])),
            TypeError,
            r"circle_loss: labels must be an integer tensor",
        ),
        (
            lambda: LF.supervised_contrastive_loss(torch.randn(4, 3), temperature=0.0),
            ValueError,
            r"supervised_contrastive_loss: temperature must be in \(0, inf\)",
        ),
        (lambda: lk.InfoNCELoss(temperature=-0.1), ValueError, r"InfoNCELoss: temperature must be in \(0, inf\)"),
        (
            lambda: LF.info_nce_loss(torch.randn(4, 3), torch.randn(3, 3)),
            ValueError,
            r"info_nce_loss: key must have the query's shape",
        ),
        (
            lambda: LF.center_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 9]), torch.randn(3, 3)),
            ValueError,
            r"center_loss: labels contain class 9",
        ),
    ],
)
def test_errors_name_function_and_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_every_embedding_loss_is_in_the_family():
    names = set(lk.available(family="embedding"))
    assert names == {
        "margin_ranking",
        "hinge_embedding",
        "cosine_embedding",
        "cosine_similarity_loss",
        "triplet_margin",
        "triplet_margin_with_distance",
        "batch_triplet",
        "contrastive",
        "circle",
        "supervised_contrastive",
        "info_nce",
        "center",
        "arcface",
        "cosface",
    }
    for a, b in itertools.combinations(["supcon", "SupConLoss", "supervised_contrastive"], 2):
        assert lk.get_class(a) is lk.get_class(b)
