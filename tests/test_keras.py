"""losskit.keras against Keras 3 itself (KERAS_BACKEND=torch): every function and class, rtol = atol = 1e-5."""

import numpy as np
import pytest
import torch

import losskit.keras as lkk

from .parity import keras

TOL = dict(rtol=1e-5, atol=1e-5)
SHAPES = {"2d": (5, 4), "3d": (3, 6, 4)}


def _data(kind, shape, seed):
    rng = np.random.default_rng(seed)
    if kind == "real":
        return rng.normal(size=shape) * 2
    if kind == "positive":
        return rng.uniform(0.1, 3.0, size=shape)
    if kind == "prob":
        return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if kind == "unit":
        return rng.uniform(0.02, 0.98, size=shape)
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    if kind == "counts":
        return rng.poisson(2.0, size=shape).astype(np.float64)
    raise ValueError(kind)


# name -> (y_true kind, y_pred kind, list of kwargs)
CASES = {
    "mean_squared_error": ("real", "real", [{}]),
    "mean_absolute_error": ("real", "real", [{}]),
    "mean_absolute_percentage_error": ("real", "real", [{}]),
    "mean_squared_logarithmic_error": ("positive", "real", [{}]),
    "huber": ("real", "real", [{}, {"delta": 0.4}]),
    "log_cosh": ("real", "real", [{}]),
    "hinge": ("binary", "real", [{}]),
    "squared_hinge": ("pm1", "real", [{}]),
    "categorical_hinge": ("onehot", "real", [{}]),
    "kl_divergence": ("prob", "prob", [{}]),
    "poisson": ("counts", "positive", [{}]),
    "cosine_similarity": ("real", "real", [{}, {"axis": 1}]),
    "binary_crossentropy": ("unit", "unit", [{}, {"label_smoothing": 0.2}]),
    "binary_crossentropy@logits": (
        "binary",
        "real",
        [{"from_logits": True}, {"from_logits": True, "label_smoothing": 0.1}],
    ),
    "binary_focal_crossentropy": ("binary", "unit", [{}, {"gamma": 0.5, "apply_class_balancing": True, "alpha": 0.4}]),
    "binary_focal_crossentropy@logits": (
        "binary",
        "real",
        [
            {"from_logits": True},
            {"from_logits": True, "gamma": 3.0, "label_smoothing": 0.1, "apply_class_balancing": True},
        ],
    ),
    "categorical_crossentropy": ("onehot", "prob", [{}, {"label_smoothing": 0.1}]),
    "categorical_crossentropy@logits": (
        "prob",
        "real",
        [{"from_logits": True}, {"from_logits": True, "label_smoothing": 0.3}],
    ),
    "categorical_focal_crossentropy": ("onehot", "prob", [{}, {"alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.1}]),
    "categorical_focal_crossentropy@logits": (
        "onehot",
        "real",
        [{"from_logits": True, "gamma": 0.0}, {"from_logits": True}],
    ),
}

FUNCTION_CASES = [(name, shape, kw) for name, (_, _, kws) in CASES.items() for shape in SHAPES for kw in kws]


def _pair(name, shape, seed=0):
    kt, kp, _ = CASES[name]
    return _data(kt, SHAPES[shape], seed), _data(kp, SHAPES[shape], seed + 1)


def _keras_out(fn, *args, **kw):
    out = fn(
        *[
            torch.as_tensor(a, dtype=torch.float32)
            if isinstance(a, np.ndarray) and a.dtype.kind == "f"
            else torch.as_tensor(a)
            if a is not None
            else None
            for a in args
        ],
        **kw,
    )
    return out.detach().cpu().double().numpy()


@pytest.mark.parametrize("name,shape,kw", FUNCTION_CASES, ids=lambda v: str(v))
def test_functions_match_keras(name, shape, kw):
    k = keras()
    fname = name.split("@")[0]
    y_true, y_pred = _pair(name, shape)
    expected = _keras_out(getattr(k.losses, fname), y_true, y_pred, **kw)
    yp = torch.tensor(y_pred, dtype=torch.float32, requires_grad=True)
    ours = getattr(lkk, fname)(torch.tensor(y_true, dtype=torch.float32), yp, **kw)
    np.testing.assert_allclose(ours.detach().double().numpy(), expected, **TOL)
    ours.sum().backward()
    assert yp.grad is not None and torch.isfinite(yp.grad).all()


CLASS_OF = {
    "mean_squared_error": ("MeanSquaredError", {}),
    "mean_absolute_error": ("MeanAbsoluteError", {}),
    "mean_absolute_percentage_error": ("MeanAbsolutePercentageError", {}),
    "mean_squared_logarithmic_error": ("MeanSquaredLogarithmicError", {}),
    "huber": ("Huber", {"delta": 0.7}),
    "log_cosh": ("LogCosh", {}),
    "hinge": ("Hinge", {}),
    "squared_hinge": ("SquaredHinge", {}),
    "categorical_hinge": ("CategoricalHinge", {}),
    "kl_divergence": ("KLDivergence", {}),
    "poisson": ("Poisson", {}),
    "cosine_similarity": ("CosineSimilarity", {}),
    "binary_crossentropy@logits": ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    "binary_focal_crossentropy": ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "gamma": 1.5}),
    "categorical_crossentropy": ("CategoricalCrossentropy", {"label_smoothing": 0.2}),
    "categorical_focal_crossentropy@logits": ("CategoricalFocalCrossentropy", {"from_logits": True, "alpha": 0.3}),
}
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


def _sample_weights(shape):
    n = SHAPES[shape][0]
    rng = np.random.default_rng(7)
    out = {"none": None, "per-sample-col": rng.uniform(0.1, 2.0, size=(n, 1))}
    if shape == "3d":  # Keras rejects (N,) against an (N, T) per-sample loss; so does losskit, with a clear message
        out["per-step"] = rng.uniform(0.0, 2.0, size=SHAPES[shape][:2])
    else:
        out["per-sample"] = rng.uniform(0.1, 2.0, size=(n,))
    return out


@pytest.mark.parametrize("name", list(CLASS_OF), ids=str)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS, ids=str)
def test_classes_match_keras(name, shape, reduction):
    k = keras()
    cls_name, kw = CLASS_OF[name]
    y_true, y_pred = _pair(name, shape, seed=3)
    theirs = getattr(k.losses, cls_name)(reduction=reduction, **kw)
    ours = getattr(lkk, cls_name)(reduction=reduction, **kw)
    for label, sw in _sample_weights(shape).items():
        expected = _keras_out(theirs, y_true, y_pred, sw)
        yp = torch.tensor(y_pred, dtype=torch.float32, requires_grad=True)
        got = ours(
            torch.tensor(y_true, dtype=torch.float32), yp, None if sw is None else torch.tensor(sw, dtype=torch.float32)
        )
        np.testing.assert_allclose(got.detach().double().numpy(), expected, err_msg=label, **TOL)
        got.sum().backward()
        assert torch.isfinite(yp.grad).all()
    config = theirs.get_config()
    ours_config = ours.get_config()
    assert {k_: v for k_, v in ours_config.items() if k_ in config} == config


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_class", [None, 2, -1])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)], ids=str)
def test_sparse_categorical_crossentropy(from_logits, ignore_class, reduction, shape):
    k = keras()
    rng = np.random.default_rng(11)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    if ignore_class is not None:
        labels.reshape(-1)[::3] = ignore_class
    y_pred = rng.normal(size=shape) if from_logits else rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    sw = rng.uniform(0.2, 1.5, size=shape[:-1])
    expected_fn = _keras_out(
        k.losses.sparse_categorical_crossentropy, labels, y_pred, from_logits=from_logits, ignore_class=ignore_class
    )
    got_fn = lkk.sparse_categorical_crossentropy(
        torch.tensor(labels),
        torch.tensor(y_pred, dtype=torch.float32),
        from_logits=from_logits,
        ignore_class=ignore_class,
    )
    np.testing.assert_allclose(got_fn.double().numpy(), expected_fn, **TOL)
    theirs = k.losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, ignore_class=ignore_class, reduction=reduction
    )
    ours = lkk.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class, reduction=reduction)
    for weight in (None, sw):
        expected = _keras_out(theirs, labels, y_pred, weight)
        got = ours(
            torch.tensor(labels),
            torch.tensor(y_pred, dtype=torch.float32),
            None if weight is None else torch.tensor(weight, dtype=torch.float32),
        )
        np.testing.assert_allclose(got.double().numpy(), expected, **TOL)


@pytest.mark.parametrize("q", [0.3, 0.5, 0.9])
def test_generalized_cross_entropy(q):
    k = keras()
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=6)
    probs = rng.dirichlet(np.ones(4), size=6)
    expected = _keras_out(k.losses.categorical_generalized_cross_entropy, labels, probs, q=q)
    np.testing.assert_allclose(
        lkk.categorical_generalized_cross_entropy(
            torch.tensor(labels), torch.tensor(probs, dtype=torch.float32), q=q
        ).numpy(),
        expected,
        **TOL,
    )
    theirs = k.losses.CategoricalGeneralizedCrossEntropy(q=q)
    ours = lkk.CategoricalGeneralizedCrossEntropy(q=q)
    np.testing.assert_allclose(
        ours(torch.tensor(labels), torch.tensor(probs, dtype=torch.float32)).numpy(),
        _keras_out(theirs, labels, probs),
        **TOL,
    )
    assert ours.get_config() == theirs.get_config()


def test_sample_weight_shape_errors_are_clear():
    with pytest.raises(
        ValueError,
        match=r"sample_weight of shape \(3,\) does not broadcast against the per-sample loss of shape \(3, 6\)",
    ):
        lkk.MeanSquaredError()(torch.zeros(3, 6, 4), torch.zeros(3, 6, 4), torch.ones(3))
    k = keras()
    with pytest.raises(ValueError):
        k.losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\)"):
        lkk.CategoricalGeneralizedCrossEntropy(q=1.0)


def test_rank_alignment_like_keras():
    k = keras()
    y_true = np.array([1.0, 0.0, 1.0])
    y_pred = np.array([[0.7], [0.2], [0.9]])
    for name in ("MeanSquaredError", "BinaryCrossentropy"):
        expected = _keras_out(getattr(k.losses, name)(), y_true, y_pred)
        got = getattr(lkk, name)()(torch.tensor(y_true, dtype=torch.float32), torch.tensor(y_pred, dtype=torch.float32))
        np.testing.assert_allclose(got.numpy(), expected, **TOL)


def test_get_accepts_keras_identifiers():
    assert lkk.get("mse") is lkk.mean_squared_error
    assert lkk.get("MAE") is lkk.mean_absolute_error
    for alias, fn in [
        ("mape", lkk.mean_absolute_percentage_error),
        ("msle", lkk.mean_squared_logarithmic_error),
        ("bce", lkk.binary_crossentropy),
        ("kld", lkk.kl_divergence),
        ("logcosh", lkk.log_cosh),
        ("cosine_proximity", lkk.cosine_similarity),
        ("categorical_crossentropy", lkk.categorical_crossentropy),
    ]:
        assert lkk.get(alias) is fn
    assert isinstance(lkk.get("CategoricalCrossentropy"), lkk.CategoricalCrossentropy)
    loss = lkk.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert loss.fn_kwargs["from_logits"] is True
    with pytest.raises(ValueError, match=r"unknown loss 'mean_squared_eror'; did you mean 'mean_squared_error'"):
        lkk.get("mean_squared_eror")


def test_config_round_trip_keeps_what_keras_forgets():
    h = lkk.Huber(delta=0.3, reduction="sum", name="h")
    assert lkk.Huber.from_config(h.get_config()).fn_kwargs["delta"] == 0.3
    with pytest.raises(ValueError, match="invalid reduction 'avg'"):
        lkk.MeanSquaredError(reduction="avg")


def test_empty_batch_is_zero():
    loss = lkk.MeanSquaredError()(torch.zeros(0, 3), torch.zeros(0, 3, requires_grad=True))
    assert loss.item() == 0.0
