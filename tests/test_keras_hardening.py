"""losskit.keras hardening, against Keras 3 itself (KERAS_BACKEND=torch).

Class-index range errors, Keras's exact reduction message, the loss ``dtype``
(inputs cast to it, output in Keras's dtype) and ``get_config`` with a dtype.
"""

import ast
import re

import numpy as np
import pytest
import torch

import losskit.keras as lkk

from .parity import keras

# dtype-appropriate tolerances: the value Keras computes in that dtype against losskit's
DTYPE_TOL = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-5, "atol": 1e-5},  # mean reductions come back in float32 (see test below)
    torch.float16: {"rtol": 3e-3, "atol": 3e-3},
    torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2},
}


def _keras_error(make):
    with pytest.raises(ValueError) as info:
        make()
    return str(info.value)


def _without_set_order(message):
    """Keras prints a Python set, in an order that changes with the process's string hashing: sort it."""
    match = re.search(r"\{.*?\}", message)
    items = ast.literal_eval("[" + match.group(0)[1:-1] + "]")
    return message[: match.start()] + repr(sorted(items, key=repr)) + message[match.end() :]


# ---------------------------------------------------------------------------------------------
# 1. sparse categorical crossentropy: class range and C = 0
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("bad", [4, 7, -1, -3])
def test_sparse_out_of_range_class_is_a_clear_error(from_logits, bad):
    y_pred = torch.softmax(torch.randn(3, 4), -1)
    labels = torch.tensor([0, bad, 2])
    pattern = rf"class {bad}, outside the valid range \[0, 3\]"
    with pytest.raises(
        ValueError, match=r"losskit\.keras\.sparse_categorical_crossentropy: y_true contains " + pattern
    ):
        lkk.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    with pytest.raises(ValueError, match=r"losskit\.keras\.SparseCategoricalCrossentropy: y_true contains " + pattern):
        lkk.SparseCategoricalCrossentropy(from_logits=from_logits)(labels, y_pred)


def test_sparse_range_check_respects_ignore_class():
    y_pred = torch.softmax(torch.randn(4, 3), -1)
    # the ignored label may lie outside [0, C): it is masked, not looked up
    for ignore in (-1, 255):
        labels = torch.tensor([0, ignore, 2, ignore])
        got = lkk.SparseCategoricalCrossentropy(ignore_class=ignore)(labels, y_pred)
        expected = keras().losses.SparseCategoricalCrossentropy(ignore_class=ignore)(labels, y_pred)
        np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    # ...but any other out-of-range label is still an error, and the message says which label is allowed
    with pytest.raises(
        ValueError, match=r"y_true contains class 3, outside the valid range \[0, 2\] \(or ignore_class=-1\)"
    ):
        lkk.sparse_categorical_crossentropy(torch.tensor([0, -1, 3]), y_pred[:3], ignore_class=-1)
    with pytest.raises(
        ValueError, match=r"y_true contains class -2, outside the valid range \[0, 2\] \(or ignore_class=255\)"
    ):
        lkk.SparseCategoricalCrossentropy(ignore_class=255)(torch.tensor([0, 255, -2, 1]), y_pred)


def test_sparse_float_labels_are_range_checked_after_keras_cast():
    with pytest.raises(ValueError, match=r"y_true contains class 5, outside the valid range \[0, 3\]"):
        lkk.sparse_categorical_crossentropy(torch.tensor([[0.0], [5.0]]), torch.softmax(torch.randn(2, 4), -1))


def test_sparse_range_check_on_a_class_axis_that_is_not_last():
    y_pred = torch.softmax(torch.randn(2, 3, 5), 1)  # classes on axis 1: C = 3
    with pytest.raises(ValueError, match=r"class 3, outside the valid range \[0, 2\]"):
        lkk.sparse_categorical_crossentropy(torch.tensor([[0, 1, 2, 0, 3], [0, 0, 0, 0, 0]]), y_pred, axis=1)


def test_sparse_zero_classes_is_a_clear_error():
    match = r"losskit\.keras\.sparse_categorical_crossentropy: y_pred has no classes \(size 0 along axis -1"
    with pytest.raises(ValueError, match=match):
        lkk.sparse_categorical_crossentropy(torch.zeros(3, dtype=torch.long), torch.zeros(3, 0))
    with pytest.raises(ValueError, match=r"losskit\.keras\.SparseCategoricalCrossentropy: y_pred has no classes"):
        lkk.SparseCategoricalCrossentropy()(torch.zeros(3, dtype=torch.long), torch.zeros(3, 0))


def test_sparse_empty_batch_is_not_a_range_error():
    loss = lkk.SparseCategoricalCrossentropy()(torch.zeros(0, dtype=torch.long), torch.zeros(0, 4, requires_grad=True))
    assert loss.item() == 0.0


# ---------------------------------------------------------------------------------------------
# 2. invalid reduction: Keras's own message
# ---------------------------------------------------------------------------------------------

KERAS_CLASSES = [
    "MeanSquaredError",
    "Hinge",
    "Huber",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "CosineSimilarity",
    "CategoricalGeneralizedCrossEntropy",
]


@pytest.mark.parametrize("name", KERAS_CLASSES)
@pytest.mark.parametrize("reduction", ["abc", "avg", "Sum", "", 1, "batchmean"])
def test_invalid_reduction_raises_keras_message(name, reduction):
    expected = _keras_error(lambda: getattr(keras().losses, name)(reduction=reduction))
    got = _keras_error(lambda: getattr(lkk, name)(reduction=reduction))
    assert _without_set_order(got).startswith(_without_set_order(expected)), (got, expected)
    assert got.endswith(f" (losskit.keras.{name}: invalid reduction {reduction!r})")  # and which loss refused it


def test_invalid_reduction_message_text():
    got = _keras_error(lambda: lkk.Hinge(reduction="abc"))
    assert re.match(r"Invalid value for argument `reduction`\. Expected one of \{.*\}\. Received: reduction=abc", got)
    for allowed in ("'sum_over_batch_size'", "'sum'", "None", "'none'", "'mean'", "'mean_with_sample_weight'"):
        assert allowed in got


def test_reduction_is_validated_when_reassigned():
    loss = lkk.MeanSquaredError()
    loss.reduction = "sum"
    assert loss(torch.ones(2, 3), torch.zeros(2, 3)).item() == 2.0
    expected = _without_set_order(_keras_error(lambda: keras().losses.MeanSquaredError(reduction="total")))
    for make in (
        lambda: setattr(loss, "reduction", "total"),
        lambda: lkk.MeanSquaredError.from_config({"name": "m", "reduction": "total"}),
    ):
        assert _without_set_order(_keras_error(make)).startswith(expected)
    assert loss.reduction == "sum"


# ---------------------------------------------------------------------------------------------
# 3. dtype, as Keras 3 honours it
# ---------------------------------------------------------------------------------------------

DTYPE_CASES = {  # class -> (y_true kind, kwargs)
    "MeanSquaredError": ("real", {}),
    "Huber": ("real", {"delta": 0.5}),
    "Hinge": ("binary", {}),
    "MeanSquaredLogarithmicError": ("positive", {}),
    "BinaryCrossentropy": ("binary", {"from_logits": True}),
    "CategoricalCrossentropy": ("onehot", {"from_logits": True}),
    "SparseCategoricalCrossentropy": ("labels", {"from_logits": True}),
    "CosineSimilarity": ("real", {}),
}
DTYPES = [None, "float32", "float64", "bfloat16", "float16", "mixed_bfloat16"]
RED = ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"]


def _dtype_data(kind, seed=0):
    rng = np.random.default_rng(seed)
    y_pred = torch.tensor(rng.normal(size=(6, 4)), dtype=torch.float64)  # float64, as numpy hands it over
    if kind == "real":
        y_true = torch.tensor(rng.normal(size=(6, 4)))
    elif kind == "positive":
        y_true = torch.tensor(rng.uniform(0.1, 3.0, size=(6, 4)))
        y_pred = y_pred.abs()
    elif kind == "binary":
        y_true = torch.tensor(rng.integers(0, 2, size=(6, 4)), dtype=torch.float64)
    elif kind == "onehot":
        y_true = torch.tensor(np.eye(4)[rng.integers(0, 4, size=6)])
    else:
        y_true = torch.tensor(rng.integers(0, 4, size=6))
    return y_true, y_pred, torch.tensor(rng.uniform(0.2, 2.0, size=6))


@pytest.mark.parametrize("name", list(DTYPE_CASES))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduction", RED)
def test_dtype_matches_keras(name, dtype, reduction):
    kind, kw = DTYPE_CASES[name]
    y_true, y_pred, sw = _dtype_data(kind)
    theirs = getattr(keras().losses, name)(reduction=reduction, dtype=dtype, **kw)
    ours = getattr(lkk, name)(reduction=reduction, dtype=dtype, **kw)
    assert ours.dtype == theirs.dtype
    for weight in (None, sw):
        expected = theirs(y_true, y_pred, weight).detach()
        yp = y_pred.clone().requires_grad_(True)
        got = ours(y_true, yp, weight)
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        torch.testing.assert_close(got.detach().double(), expected.double(), **DTYPE_TOL[expected.dtype])
        got.float().sum().backward()
        assert yp.grad.dtype == torch.float64 and torch.isfinite(yp.grad).all()


def test_float64_default_dtype_computes_in_float32_like_keras():
    y_true, y_pred, _ = _dtype_data("real")
    got = lkk.MeanSquaredError()(y_true, y_pred)
    assert got.dtype == torch.float32
    # the inputs are rounded to float32 first, as Keras's convert_to_tensor(x, dtype="float32") does
    assert got.item() == lkk.MeanSquaredError()(y_true.float(), y_pred.float()).item()


def test_keras_dtype_policy_objects():
    k = keras()
    y_true, y_pred, sw = _dtype_data("real")
    for policy in (
        k.DTypePolicy("bfloat16"),
        k.DTypePolicy("mixed_float16"),
        k.DTypePolicy("float64"),
        k.dtype_policies.get("mixed_bfloat16"),
    ):
        theirs = k.losses.MeanAbsoluteError(dtype=policy, reduction="sum")
        ours = lkk.MeanAbsoluteError(dtype=policy, reduction="sum")
        expected = theirs(y_true, y_pred, sw).detach()
        got = ours(y_true, y_pred, sw)
        assert ours.dtype == theirs.dtype and got.dtype == expected.dtype
        torch.testing.assert_close(got.double(), expected.double(), **DTYPE_TOL[expected.dtype])


def test_torch_dtype_is_accepted_like_keras():
    theirs = keras().losses.MeanSquaredError(dtype=torch.bfloat16)
    ours = lkk.MeanSquaredError(dtype=torch.bfloat16)
    assert ours.dtype == theirs.dtype == "bfloat16"
    assert ours(torch.ones(2, 2), torch.zeros(2, 2)).dtype == torch.bfloat16


def test_invalid_dtype_raises_keras_message():
    expected = _keras_error(lambda: keras().losses.MeanSquaredError(dtype="abc"))
    got = _keras_error(lambda: lkk.MeanSquaredError(dtype="abc"))
    assert got.startswith(expected)
    with pytest.raises(ValueError, match=r"losskit\.keras\.Huber: dtype must be a floating dtype"):
        lkk.Huber(dtype="int32")


def test_integer_labels_are_not_rounded_through_a_half_dtype():
    # Keras casts y_true to the loss dtype too; for labels that would round 257 to 256 in bfloat16.
    # losskit casts floating y_true only, so the label stays exact.
    logits = torch.zeros(1, 300)
    logits[0, 257] = 10.0
    loss = lkk.SparseCategoricalCrossentropy(from_logits=True, dtype="bfloat16")(torch.tensor([257]), logits)
    assert loss.dtype == torch.bfloat16
    assert loss.item() < 0.1  # log(1 + 299 e^-10) = 0.013; the rounded label 256 would give 10


# ---------------------------------------------------------------------------------------------
# plain functions: Keras's output dtype
# ---------------------------------------------------------------------------------------------

FUNCTION_DTYPE_CASES = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "kl_divergence",
    "poisson",
    "cosine_similarity",
    "sparse_categorical_crossentropy",
    "categorical_generalized_cross_entropy",
]


@pytest.mark.parametrize("name", FUNCTION_DTYPE_CASES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64], ids=str)
def test_function_output_dtype_matches_keras(name, dtype):
    rng = np.random.default_rng(2)
    y_pred = torch.tensor(rng.uniform(0.1, 0.9, size=(5, 4)), dtype=dtype)
    if name in ("sparse_categorical_crossentropy", "categorical_generalized_cross_entropy"):
        y_true = torch.tensor(rng.integers(0, 4, size=5))
    else:
        y_true = torch.tensor(rng.uniform(0.1, 0.9, size=(5, 4)), dtype=dtype)
    kw = {"q": 0.5} if name == "categorical_generalized_cross_entropy" else {}
    expected = getattr(keras().losses, name)(y_true, y_pred, **kw).detach()
    got = getattr(lkk, name)(y_true, y_pred, **kw)
    assert got.dtype == expected.dtype
    tol = DTYPE_TOL[dtype] if dtype in (torch.float16, torch.bfloat16) else DTYPE_TOL[torch.float32]
    torch.testing.assert_close(got.double(), expected.double(), **tol)


# ---------------------------------------------------------------------------------------------
# 4. get_config with a dtype
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["bfloat16", "float64", "mixed_float16"])
@pytest.mark.parametrize(
    "name,kw",
    [
        ("MeanSquaredError", {}),
        ("Huber", {"delta": 0.3}),
        ("SparseCategoricalCrossentropy", {"from_logits": True}),
        ("CategoricalGeneralizedCrossEntropy", {"q": 0.7}),
    ],
)
def test_config_with_dtype_round_trips(name, kw, dtype):
    k = keras()
    theirs = getattr(k.losses, name)(dtype=dtype, **kw)
    ours = getattr(lkk, name)(dtype=dtype, **kw)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert {key: v for key, v in config.items() if key in keras_config} == keras_config
    # Keras forgets the dtype (a reloaded Keras loss computes in float32); losskit saves it, and both load it
    assert config["dtype"] == dtype
    assert getattr(lkk, name).from_config(config).dtype == ours.dtype
    assert getattr(k.losses, name).from_config(config).dtype == theirs.dtype
    assert lkk.get({"class_name": name, "config": config}).dtype == ours.dtype


def test_config_of_a_policy_object_is_its_name():
    k = keras()
    ours = lkk.MeanSquaredError(dtype=k.DTypePolicy("mixed_bfloat16"))
    assert ours.get_config()["dtype"] == "mixed_bfloat16"
    assert lkk.MeanSquaredError(dtype=torch.float16).get_config()["dtype"] == "float16"


def test_config_without_dtype_is_unchanged():
    assert "dtype" not in lkk.MeanSquaredError().get_config()
    assert (
        lkk.CategoricalGeneralizedCrossEntropy(q=0.4).get_config()
        == keras().losses.CategoricalGeneralizedCrossEntropy(q=0.4).get_config()
    )
