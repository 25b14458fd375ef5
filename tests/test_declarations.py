"""The "one place" promise, tested: a loss declared once (here, inside a test) is everywhere it should be.

A throwaway loss goes through a declaration alone and must appear in ``get``,
``get_class``, ``get_fn``, ``available``, ``describe``, the module's
construction-time validation and the battery's case list, and pass the
battery. A second throwaway loss has a hand-written module that owns a
parameter, which must survive state_dict, get_config/from_config, ``.to()``,
pickling and deepcopy.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import pickle

import numpy as np
import pytest
import torch

import losskit as lk
from losskit._core import checks
from losskit._core.module import Loss, _constructor_signature
from losskit._core.reduction import reduce_loss
from losskit._core.registry import unregister
from losskit._core.spec import Curve, Role, loss, module_for
from losskit._core.validation import prepare_pair

from . import loss_db, test_common
from .loss_db import ErrorCase, LossInfo, Sample, hp_error


def _declare_scaled_l1():
    @loss(
        "test_scaled_l1",
        family="regression",
        module="TestScaledL1Loss",
        aliases=("test_sl1",),
        hparams={"scale": checks.positive},
        references=("NumPy reference (this test)",),
        curve=Curve("residual", "scale", (0.5, 2.0)),
    )
    def test_scaled_l1_loss(input, target, *, scale=1.0, reduction="mean", sample_weight=None):
        r"""Scaled absolute error, a throwaway loss.

        .. math::
            \ell_i = s |x_i - y_i|

        Args:
            input: predictions ``(*)``.
            target: targets, the input's shape.
            scale: the factor :math:`s > 0`.
            reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
            sample_weight: optional weights broadcastable to ``(*)``.

        Returns:
            A scalar, or ``(*)`` with ``reduction="none"``.
        """
        input, target = prepare_pair("test_scaled_l1_loss", input, target)
        return reduce_loss(scale * (input - target).abs(), reduction, weight=sample_weight, fn="test_scaled_l1_loss")

    return test_scaled_l1_loss


def _reference(x, y, *, scale=1.0, reduction="mean", sample_weight=None):
    per = scale * np.abs(x - y)
    w = np.ones_like(per) if sample_weight is None else np.broadcast_to(sample_weight, per.shape)
    if reduction == "none":
        return per * w
    if reduction == "sum":
        return (per * w).sum()
    return (per * w).sum() / w.sum() if w.sum() else 0.0


@pytest.fixture
def throwaway():
    fn = _declare_scaled_l1()
    entry = loss_db.register_entry(
        LossInfo(
            name="test_scaled_l1",
            reference=_reference,
            samples=loss_db.elementwise_samples(
                loss_db.normal(), loss_db.normal(), lambda rng: {"scale": float(rng.choice([0.5, 2.0]))}
            ),
            empty=loss_db.empty_pair(),
            errors=lambda: [hp_error({"scale": 0.0}, r"scale must be in \(0, inf\)"), *loss_db.shape_errors()],
        )
    )
    try:
        yield fn, entry
    finally:
        unregister("test_scaled_l1")
        loss_db.unregister_entry("test_scaled_l1")


def test_a_declaration_alone_makes_a_loss(throwaway):
    fn, entry = throwaway
    cls = lk.get_class("test_scaled_l1")
    assert cls.__name__ == "TestScaledL1Loss" and issubclass(cls, Loss)
    assert lk.get_class("TEST_SL1") is cls and lk.get_class("TestScaledL1Loss") is cls
    assert isinstance(lk.get("test_sl1", scale=2.0), cls)
    assert lk.get_fn("test_scaled_l1") is fn
    assert "test_scaled_l1" in lk.available() and "test_scaled_l1" in lk.available(family="regression")
    spec = lk.describe("test_sl1")
    assert spec.name == "test_scaled_l1" and spec.family == "regression"
    assert [r.name for r in spec.roles] == ["input", "target"]
    assert spec.defaults == {"scale": 1.0, "reduction": "mean"}
    assert spec.reductions == ("mean", "sum", "none") and spec.call_kwargs == ("sample_weight",)
    assert spec.references == ("NumPy reference (this test)",) and spec.curve.shape_param == "scale"
    # the module's constructor runs the declared validator; so does the functional
    with pytest.raises(ValueError, match=r"TestScaledL1Loss: scale must be in \(0, inf\); got -1.0"):
        cls(scale=-1.0)
    with pytest.raises(ValueError, match=r"test_scaled_l1_loss: scale must be in \(0, inf\); got 0.0"):
        fn(torch.zeros(2), torch.zeros(2), scale=0.0)
    with pytest.raises(ValueError, match=r"invalid reduction 'avg'"):
        cls(reduction="avg")
    # the battery's case list comes from the declarations
    assert entry in loss_db.battery_cases()
    assert "test_scaled_l1" in {e.name for e in loss_db.battery_cases()}
    assert cls.__doc__.startswith("Scaled absolute error") and "scale" in cls.__doc__


BATTERY = [
    "test_reference_value",
    "test_gradcheck",
    "test_gradgradcheck",
    "test_reduction_consistency",
    "test_module_equals_functional",
    "test_config_pickle_state_dict",
    "test_empty_batch",
    "test_nan_passthrough",
    "test_error_inputs",
    "test_invalid_reduction",
    "test_hyperparameter_errors_at_construction",
    "test_registry",
]


@pytest.mark.parametrize("check", BATTERY)
def test_the_battery_runs_on_a_declared_loss(throwaway, check):
    _, entry = throwaway
    getattr(test_common, check)(entry)


def test_the_battery_catches_a_wrong_loss(throwaway):
    """The same battery fails when the functional disagrees with its reference (the battery has teeth)."""
    _, entry = throwaway
    wrong = LossInfo(
        name=entry.name,
        reference=lambda x, y, **kw: 1.01 * _reference(x, y, **kw),
        samples=entry.samples,
        empty=entry.empty,
        errors=entry.errors,
    )
    with pytest.raises(AssertionError):
        test_common.test_reference_value(wrong)


# ---------------------------------------------------------------------------------------------
# a module that owns a parameter
# ---------------------------------------------------------------------------------------------


def _declare_learned_scale():
    @loss(
        "test_learned_scale",
        family="regression",
        module=None,
        roles=(Role("input", "(N, D)"), Role("target", "(N, D)"), Role("log_scale", "()")),
        hparams={},
        capabilities=("compile", "double_backward", "parameters"),
        references=("closed form (this test)",),
    )
    def test_learned_scale_loss(input, target, log_scale, *, reduction="mean"):
        """Squared error divided by a learned scale, plus its log (a throwaway heteroscedastic loss).

        Args:
            input: predictions ``(N, D)``.
            target: targets ``(N, D)``.
            log_scale: ``()`` log of the scale.
            reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        """
        per = (input - target).square() * torch.exp(-log_scale) + log_scale
        return reduce_loss(per, reduction, fn="test_learned_scale_loss")

    @module_for(test_learned_scale_loss)
    class TestLearnedScaleLoss(Loss):
        """Owns ``log_scale`` (learned by gradient); forward(input, target)."""

        config_args = ("features", "init")

        def __init__(self, features: int, *, init: float = 0.0, reduction: str = "mean") -> None:
            super().__init__(reduction=reduction)
            self.features, self.init = features, init
            self.log_scale = torch.nn.Parameter(torch.full((), float(init)))

        def forward(self, input, target):
            return type(self).functional(input, target, self.log_scale, **self.hparams())

    return test_learned_scale_loss, TestLearnedScaleLoss


def test_a_module_that_owns_parameters_is_first_class():
    fn, cls = _declare_learned_scale()
    # pickle finds classes by module and qualified name: publish the test's class like a family file would
    cls.__qualname__ = cls.__name__
    globals()[cls.__name__] = cls
    try:
        assert lk.get_class("test_learned_scale") is cls
        module = lk.get("TestLearnedScaleLoss", features=3, init=0.5)
        assert set(module.state_dict()) == {"log_scale"}
        assert [name for name, _ in module.named_parameters()] == ["log_scale"]
        x, y = torch.randn(4, 3), torch.randn(4, 3)
        expected = module(x, y)
        torch.testing.assert_close(expected, fn(x, y, module.log_scale))
        config = module.get_config()
        assert config == {"name": "test_learned_scale", "features": 3, "init": 0.5, "reduction": "mean"}
        rebuilt = lk.from_config(config)
        torch.testing.assert_close(rebuilt(x, y), expected)
        with torch.no_grad():
            module.log_scale.fill_(1.25)
        buf = io.BytesIO()
        torch.save(module.state_dict(), buf)
        buf.seek(0)
        fresh = cls(3)
        fresh.load_state_dict(torch.load(buf))
        torch.testing.assert_close(fresh(x, y), module(x, y))
        for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
            torch.testing.assert_close(clone(x, y), module(x, y))
        double = copy.deepcopy(module).to(torch.float64)
        assert double.log_scale.dtype == torch.float64
        module(x, y).backward()
        assert module.log_scale.grad is not None
        with pytest.raises(ValueError, match="invalid reduction"):
            cls(3, reduction="avg")
        assert "parameters" in lk.describe("test_learned_scale").capabilities
    finally:
        unregister("test_learned_scale")
        globals().pop(cls.__name__, None)


def test_declaration_mistakes_are_caught_at_import():
    with pytest.raises(TypeError, match=r"keyword 'delta' has no validator"):

        @loss("test_bad", family="regression", module="TestBadLoss", hparams={}, references=("x",))
        def bad(input, target, *, delta=1.0, reduction="mean"):
            """Bad."""

    with pytest.raises(ValueError, match=r"delta must be in \(0, inf\); got -1.0"):

        @loss(
            "test_bad", family="regression", module="TestBadLoss", hparams={"delta": checks.positive}, references=("x",)
        )
        def bad2(input, target, *, delta=-1.0, reduction="mean"):
            """A default that fails its own validator."""

    with pytest.raises(ValueError, match=r"already names 'huber'"):

        @loss(
            "test_bad3", family="regression", module="TestBad3Loss", aliases=("huber",), hparams={}, references=("x",)
        )
        def bad3(input, target, *, reduction="mean"):
            """An alias taken by another loss."""

    for name in ("test_bad", "test_bad3"):
        if name in lk.available():
            unregister(name)
    assert not [n for n in lk.available() if n.startswith("test_")]


def test_describe_focal():
    spec = lk.describe("focal")
    assert [r.name for r in spec.roles] == ["input", "target"]
    assert spec.defaults == {"alpha": None, "gamma": 2.0, "weight": None, "ignore_index": -100, "reduction": "mean"}
    assert spec.reductions == ("mean", "sum", "none")
    assert {"class_weight", "ignore_index", "probability_targets", "compile"} <= spec.capabilities
    assert "Keras categorical_focal_crossentropy" in spec.references
    assert spec.as_dict()["module"] == "losskit.SoftmaxFocalLoss"


def test_error_case_for_missing_entry_is_reported():
    """A declared loss without a loss_db entry fails the meta-test (checked here without leaving one behind)."""
    _declare_scaled_l1()
    try:
        with pytest.raises(AssertionError, match="registered without a loss_db entry"):
            test_common.test_every_registered_loss_has_an_entry()
    finally:
        unregister("test_scaled_l1")


def test_a_callable_role_is_checked_as_a_callable():
    """``Role(..., also="callable")`` (gradient_penalty's critic): a function or module passes, a tensor does not."""

    @loss(
        "test_callable_role",
        family="regression",
        module="TestCallableRoleLoss",
        roles=(Role("critic", "a callable", differentiable=False, also="callable"), Role("input")),
        hparams={},
        reductions=None,
        capabilities=(),
        references=("this test",),
    )
    def test_callable_role_loss(critic, input):
        """Mean of a critic's scores (a throwaway loss with a callable role)."""
        return critic(input).mean()

    try:
        x = torch.arange(3.0)
        assert float(test_callable_role_loss(lambda z: 2 * z, x)) == 2.0
        assert float(lk.get("test_callable_role")(torch.nn.Identity(), x)) == 1.0
        for bad, what in ((x, "a tensor"), (3.0, "float"), (None, "NoneType")):
            with pytest.raises(TypeError, match=rf"test_callable_role_loss: critic must be a callable .*; got {what}$"):
                test_callable_role_loss(bad, x)
        # the other roles are still checked as tensors
        with pytest.raises(TypeError, match=r"test_callable_role_loss: input must be a torch.Tensor; got list"):
            test_callable_role_loss(lambda z: z, [1.0])
    finally:
        unregister("test_callable_role")


def test_a_declaration_never_gets_the_constructor_of_a_dropped_one():
    """A module's constructor signature is cached per declaration. Cached by ``id(spec)`` alone, a declaration
    allocated where a dropped one lived (an unregistered throwaway loss, once garbage-collected) got the old
    one's signature, and its module the old one's hyperparameters ("got an unexpected keyword argument"):
    the likely cause of the callable-role test's one failure under xdist, whose ``lk.get`` may land where
    ``test_scaled_l1``'s declaration was. Copies of two declarations, each dropped at once, take turns at
    (usually) the same address here."""
    huber, mse = lk.describe("huber"), lk.describe("mse")
    for _ in range(20):
        for spec in (huber, mse):
            copy_of = dataclasses.replace(spec)
            parameters = list(_constructor_signature(copy_of).parameters)
            assert parameters == [h.name for h in spec.hparams], spec.name
            del copy_of  # freed here: the next copy may be allocated where it was


_unused = (ErrorCase, Sample)  # re-exported helpers some readers look for here


def test_a_rule_between_hyperparameters_runs_in_the_module_and_the_functional():
    """``hparam_rule=``: a rule no single validator sees runs after the per-argument validators, in the module
    constructor on every argument and in the functional with the defaults filled in."""
    seen = []

    def ordered(fn, values):
        seen.append(dict(values))
        if values["low"] >= values["high"]:
            raise ValueError(f"{fn}: low must be below high; got low={values['low']}, high={values['high']}")

    @loss(
        "test_band",
        family="regression",
        module="TestBandLoss",
        hparams={"low": checks.real, "high": checks.real},
        references=("this test",),
        hparam_rule=ordered,
    )
    def test_band_loss(input, target, *, low=-1.0, high=1.0, reduction="mean"):
        """Distance outside a band, a throwaway loss."""
        r = input - target
        return reduce_loss((r - high).clamp(min=0) + (low - r).clamp(min=0), reduction, fn="test_band_loss")

    try:
        cls = lk.get_class("test_band")
        assert lk.describe("test_band").hparam_rule is ordered
        with pytest.raises(ValueError, match=r"TestBandLoss: low must be below high; got low=2.0, high=1.0"):
            cls(low=2.0)  # the default high takes part
        with pytest.raises(ValueError, match=r"test_band_loss: low must be below high; got low=-1.0, high=-3.0"):
            test_band_loss(torch.zeros(2), torch.zeros(2), high=-3.0)  # the default low takes part
        with pytest.raises(TypeError, match=r"TestBandLoss: low must be a real number"):
            cls(low="x")  # the argument's own validator first: the rule never sees a bad value
        assert all(isinstance(v["low"], float) for v in seen)
        module = cls(low=-0.5, high=0.5)
        assert lk.from_config(module.get_config()).hparams() == module.hparams()
        x = torch.tensor([0.0, 1.0, -2.0])
        torch.testing.assert_close(module(x, torch.zeros(3)), torch.tensor((0.5 + 1.5) / 3))
    finally:
        unregister("test_band")
    assert "test_band" not in lk.available()
