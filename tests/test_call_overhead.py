"""The per-call shortcuts (issue 17) change no result, gradient or error.

Two shortcuts keep small calls cheap. The ``@loss`` wrapper tests each role's
class once (the per-role rules run only for something other than a plain
tensor) and remembers scalar hyperparameters that passed their validator.
cross_entropy, nll_loss and multi_margin_loss send plain CPU ``(N, C)`` scores
with int64 ``(N,)`` targets straight to torch's kernel
(``targets.plain_cpu_index_batch``); everything else takes the checked path.
Here the two paths meet on the same numbers, the memo never lets a bad value
through, and the shortcut is taken exactly where it is meant to be.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import losskit.functional as LF
from losskit._core import checks, spec, targets
from losskit._core.reduction import reduce_loss
from losskit._core.registry import unregister
from losskit._core.spec import loss
from losskit._core.targets import plain_cpu_index_batch


def _scores(n=6, c=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=dtype) * 2


def _labels(n=6, c=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, c, (n,), generator=g)


# ------------------------------------------------------------------------------------------------
# where the plain path is taken
# ------------------------------------------------------------------------------------------------


def test_the_plain_path_is_eager_cpu_float_nc_scores_with_int64_n_targets(monkeypatch):
    x, y = _scores(), _labels()
    assert plain_cpu_index_batch(x, y)
    assert plain_cpu_index_batch(x.float().requires_grad_(), y)
    off = {
        "int32 targets": (x, y.int()),
        "uint8 targets": (x, y.to(torch.uint8)),
        "float targets": (x, y.double()),
        "half scores": (x.half(), y),
        "integer scores": (x.long(), y),
        "non-contiguous scores": (_scores(5, 6).t(), y),
        "unbatched scores": (x[0], y[0]),
        "(N, C, d) scores": (x.unsqueeze(-1), y.unsqueeze(-1)),
        "(N, 1) targets": (x, y.unsqueeze(1)),
        "fewer targets": (x, y[:-1]),
        "empty batch": (x[:0], y[:0]),
        "no classes": (x[:, :0], y),
        "a tensor subclass": (torch.nn.Parameter(x), y),
        "a list": (x.tolist(), y),
        "a list of targets": (x, y.tolist()),
    }
    for what, (a, b) in off.items():
        assert not plain_cpu_index_batch(a, b), what
    monkeypatch.setattr(targets, "_is_compiling", lambda: True)  # torch.compile traces the checked path
    assert not plain_cpu_index_batch(x, y)


# ------------------------------------------------------------------------------------------------
# the plain path and the checked path give the same numbers
# ------------------------------------------------------------------------------------------------


def _special(kind, x, y, ignore_index):
    """Scores and targets that reach the careful code after the kernel: ±inf, NaN, everything ignored."""
    x, y = x.clone(), y.clone()
    if kind == "plus_inf":
        x[1, 2] = math.inf
        x[3, :2] = math.inf
    elif kind == "minus_inf":
        x[2, 0] = -math.inf
    elif kind == "nan":
        x[4, y[4]] = math.nan  # the target's own score: nll reads no other
    elif kind == "all_ignored":
        y[:] = ignore_index
    elif kind == "some_ignored":
        y[::2] = ignore_index
    return x, y


def _both_paths(fn, x, y, **kwargs):
    """(value, grad) on the plain path (int64 targets) and on the checked path (the same targets as int32)."""
    out = []
    for target in (y, y.int()):
        leaf = x.clone().requires_grad_()
        value = fn(leaf, target, **kwargs)
        value.sum().backward() if value.dim() else value.backward()
        out.append((value.detach(), leaf.grad))
    assert plain_cpu_index_batch(x, y) and not plain_cpu_index_batch(x, y.int())
    return out


@pytest.mark.parametrize("kind", ["finite", "plus_inf", "minus_inf", "nan", "some_ignored", "all_ignored"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "fn, extra",
    [
        (LF.cross_entropy, {}),
        (LF.cross_entropy, {"label_smoothing": 0.2}),
        (LF.nll_loss, {}),
    ],
)
def test_cross_entropy_and_nll_agree_on_both_paths(fn, extra, weighted, reduction, kind):
    ignore_index = 1  # no target is 1 (they are 0, 4, 4, 3, 3, 3) until "some_ignored" / "all_ignored" set it
    x, y = _special(kind, _scores(), _labels(), ignore_index)
    kwargs = dict(extra, reduction=reduction, ignore_index=ignore_index)
    if weighted:
        kwargs["weight"] = torch.rand(5, generator=torch.Generator().manual_seed(3), dtype=torch.float64) + 0.5
    (plain, plain_grad), (checked, checked_grad) = _both_paths(fn, x, y, **kwargs)
    torch.testing.assert_close(plain, checked, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(plain_grad, checked_grad, rtol=0, atol=0, equal_nan=True)
    if kind == "all_ignored" and reduction == "mean":
        assert plain.item() == 0.0  # losskit's mean of nothing (torch: NaN)
    if kind == "nan":
        assert torch.isnan(plain).any()


@pytest.mark.parametrize("shape", [(6, 5), (8, 1000)])  # both sides of multi_margin's NaN probe switch (4096)
@pytest.mark.parametrize("kind", ["finite", "plus_inf", "minus_inf", "nan"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 0.5, True)])
def test_multi_margin_agrees_on_both_paths_and_keeps_nan(shape, kind, reduction, p, margin, weighted):
    n, c = shape
    x, y = _special(kind, _scores(n, c), _labels(n, c), None)
    kwargs = {"reduction": reduction, "p": p, "margin": margin}
    if weighted:
        kwargs["weight"] = torch.rand(c, generator=torch.Generator().manual_seed(3), dtype=torch.float64) + 0.5
    (plain, plain_grad), (checked, checked_grad) = _both_paths(LF.multi_margin_loss, x, y, **kwargs)
    torch.testing.assert_close(plain, checked, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(plain_grad, checked_grad, rtol=0, atol=0, equal_nan=True)
    if kind == "nan":  # torch's kernel drops the NaN score (NaN > 0 is false); losskit puts it back
        assert torch.isnan(plain[4]).item() if reduction == "none" else torch.isnan(plain).item()
        if reduction == "none":
            assert not torch.isnan(torch.cat([plain[:4], plain[5:]])).any()
    else:  # ±inf scores are valid: torch's own value, no NaN added
        torch.testing.assert_close(plain, F.multi_margin_loss(x, y, **kwargs), rtol=0, atol=0)


@pytest.mark.parametrize(
    "fn, pattern",
    [
        (LF.cross_entropy, r"^cross_entropy: target contains class 5, outside the valid range \[0, 4\] or "),
        (LF.nll_loss, r"^nll_loss: target contains class 5, outside the valid range \[0, 4\] or "),
        (LF.multi_margin_loss, r"^multi_margin_loss: target contains class 5, outside the valid range \[0, 4\]$"),
    ],
)
def test_the_plain_path_words_a_bad_class_and_a_bad_weight_as_the_checked_path_does(fn, pattern):
    x, y = _scores(), _labels()
    y[2] = 5
    assert plain_cpu_index_batch(x, y)
    with pytest.raises(ValueError, match=pattern):
        fn(x, y)
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: weight must have one entry per class \(5\); got 4$"):
        fn(x, _labels(), weight=torch.ones(4, dtype=torch.float64))


# ------------------------------------------------------------------------------------------------
# the wrapper's memo of scalar hyperparameters
# ------------------------------------------------------------------------------------------------


def test_a_scalar_is_validated_once_a_bad_value_or_a_tensor_every_time():
    seen = []

    def counted_positive(fn, name, value):
        seen.append(value)
        checks.positive(fn, name, value)

    def counted_optional_tensor(fn, name, value):
        seen.append(value)
        checks.optional_tensor(fn, name, value)

    @loss(
        "test_memo",
        family="regression",
        module="TestMemoLoss",
        hparams={
            "scale": checks.custom(counted_positive, "a positive number"),
            "power": checks.integer,
            "offset": checks.custom(counted_optional_tensor, "a tensor or None", tensor=True),
        },
        references=("this test",),
    )
    def test_memo_loss(input, target, *, scale=1.0, power=1, offset=None, reduction="mean"):
        """Scaled absolute error to a power, a throwaway loss."""
        r = (input - target).abs() if offset is None else (input - target - offset).abs()
        return reduce_loss(scale * r**power, reduction, fn="test_memo_loss")

    try:
        x, y = torch.tensor([1.0, -2.0]), torch.zeros(2)
        seen.clear()
        for _ in range(3):
            assert test_memo_loss(x, y, scale=2.0).item() == 3.0
        assert seen == [2.0]  # once
        test_memo_loss(x, y, scale=2)
        assert seen == [2.0, 2]  # the type is part of what is remembered
        for _ in range(2):  # a bad value is never remembered
            with pytest.raises(ValueError, match=r"^test_memo_loss: scale must be in \(0, inf\); got -1.0$"):
                test_memo_loss(x, y, scale=-1.0)
        assert seen[-2:] == [-1.0, -1.0]
        test_memo_loss(x, y, power=1)
        with pytest.raises(TypeError, match=r"^test_memo_loss: power must be an integer; got True$"):
            test_memo_loss(x, y, power=True)  # True == 1 and hashes alike, but is not an integer here
        seen.clear()
        offset = torch.zeros(2)
        test_memo_loss(x, y, offset=offset)
        test_memo_loss(x, y, offset=offset)
        test_memo_loss(x, y, offset=None)
        test_memo_loss(x, y, offset=None)
        assert len(seen) == 3 and seen[0] is offset and seen[1] is offset and seen[2] is None  # tensors each call
        with pytest.raises(TypeError, match=r"^test_memo_loss: offset must be a torch.Tensor or None; got list$"):
            test_memo_loss(x, y, offset=[0.0, 0.0])
        # a module passes every hyperparameter on every call: validated at construction, then remembered
        module = TestMemoLoss(scale=3.0)  # noqa: F821 - the declaration puts the class in this module
        seen.clear()
        for _ in range(3):
            assert module(x, y).item() == 4.5
        assert seen.count(3.0) == 1
        # the memo is bounded: once full, a new value is validated on every call
        for k in range(spec._MEMO_LIMIT + 10):
            test_memo_loss(x, y, scale=10.0 + k)
        seen.clear()
        test_memo_loss(x, y, scale=5.5)
        test_memo_loss(x, y, scale=5.5)
        assert seen == [5.5, 5.5]
        with pytest.raises(ValueError, match=r"scale must be in \(0, inf\); got 0.0$"):
            test_memo_loss(x, y, scale=0.0)
    finally:
        unregister("test_memo")


def test_roles_other_than_plain_tensors_take_the_per_role_rules():
    x, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    parameter = torch.nn.Parameter(x.clone())
    torch.testing.assert_close(LF.cross_entropy(parameter, y), F.cross_entropy(x, y))  # a subclass passes
    with pytest.raises(TypeError, match=r"^cross_entropy: target must be a torch.Tensor; got list — wrap it"):
        LF.cross_entropy(x, y.tolist())
    with pytest.raises(TypeError, match=r"^cross_entropy: input must be a torch.Tensor; got float$"):
        LF.cross_entropy(1.0, y)
    # a role that may be a number (gaussian_nll's var) still accepts one
    torch.testing.assert_close(
        LF.gaussian_nll_loss(x, x + 1, 2.0), F.gaussian_nll_loss(x, x + 1, torch.full_like(x, 2.0))
    )
