"""Sequence family: ctc_loss against torch and the NumPy reference, Keras's CTC conventions, and the metrics.

References: torch.nn.functional.ctc_loss (same kernel: value and gradient to
float64 rtol 1e-6), tests/reference/sequence.py (float64 NumPy forward
algorithm, Levenshtein recurrence), Keras 3 on the torch backend (ctc, CTC),
rapidfuzz (edit distance), jiwer (CER, WER), tf.edit_distance's documented
example, torchmetrics where installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF
import losskit.keras as lkk

from .parity import assert_same_value_and_grad, keras
from .reference import sequence as ref_seq

RTOL = dict(rtol=1e-6, atol=1e-9)


def _problem(seed=0, t=9, n=4, c=6, s=4, blank=0, infeasible=False):
    """Normalised log-probs (T, N, C), padded targets avoiding the blank, lengths; optionally one target too long."""
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(t, n, c, generator=g, dtype=torch.float64).log_softmax(2)
    labels = [k for k in range(c) if k != blank]
    targets = torch.tensor(labels)[torch.randint(0, len(labels), (n, s), generator=g)]
    input_lengths = torch.randint(s + 2, t + 1, (n,), generator=g)
    target_lengths = torch.randint(0, s + 1, (n,), generator=g)
    target_lengths[0] = s
    if infeasible:  # s equal labels need 2s - 1 frames
        targets[1] = targets[1, 0]
        target_lengths[1], input_lengths[1] = s, s
    return log_probs, targets, input_lengths, target_lengths


def _concatenated(targets, target_lengths):
    return torch.cat([targets[i, : int(n)] for i, n in enumerate(target_lengths)])


# ---------------------------------------------------------------------------------------------
# ctc_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("blank", [0, 2, 5])
def test_ctc_equals_torch_value_and_grad(layout, reduction, zero_infinity, blank):
    log_probs, targets, il, tl = _problem(seed=blank, blank=blank, infeasible=zero_infinity)
    if layout == "concatenated":
        targets = _concatenated(targets, tl)
    kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    log_probs.requires_grad_(True)
    assert_same_value_and_grad(
        lambda x: LF.ctc_loss(x, targets, il, tl, **kw),
        lambda x: F.ctc_loss(x, targets, il, tl, **kw),
        [log_probs],
        **RTOL,
    )
    expected = ref_seq.ctc_loss(log_probs.detach().numpy(), targets.numpy(), il.numpy(), tl.numpy(), **kw)
    np.testing.assert_allclose(LF.ctc_loss(log_probs, targets, il, tl, **kw).detach().numpy(), expected, rtol=1e-9)


def test_ctc_gradient_through_log_softmax_is_exact():
    """With log_probs = log_softmax(logits), the gradient w.r.t. the logits is the true derivative (gradcheck)."""
    _, targets, il, tl = _problem(seed=3, t=6, n=3, c=4, s=2)
    logits = torch.randn(6, 3, 4, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum"):
        assert torch.autograd.gradcheck(
            lambda x: LF.ctc_loss(x.log_softmax(2), targets, il, tl, reduction=reduction), (logits,)
        )


def test_ctc_log_probs_gradient_is_torchs_with_its_extra_term():
    """Documented: like torch's, the gradient w.r.t. log_probs is d(loss)/d(log_probs) + exp(log_probs)·g in the input length."""
    log_probs, targets, il, tl = _problem(seed=4, t=5, n=2, c=3, s=2)
    x = log_probs.clone().requires_grad_(True)
    LF.ctc_loss(x, targets, il, tl, reduction="sum").backward()
    numerical = torch.zeros_like(log_probs)
    eps = 1e-6
    for index in np.ndindex(*log_probs.shape):
        up, down = log_probs.clone(), log_probs.clone()
        up[index] += eps
        down[index] -= eps
        numerical[index] = (
            LF.ctc_loss(up, targets, il, tl, reduction="sum") - LF.ctc_loss(down, targets, il, tl, reduction="sum")
        ) / (2 * eps)
    inside = (torch.arange(5).unsqueeze(1) < il).unsqueeze(2).to(log_probs.dtype)
    torch.testing.assert_close(x.grad, numerical + log_probs.exp() * inside, rtol=1e-5, atol=1e-7)


def test_ctc_batch_first_and_list_lengths():
    log_probs, targets, il, tl = _problem(seed=5)
    for reduction in ("mean", "none"):
        time_first = LF.ctc_loss(log_probs, targets, il, tl, reduction=reduction)
        assert_same_value_and_grad(
            lambda x: LF.ctc_loss(x, targets, il, tl, reduction=reduction, batch_first=True),
            lambda x: LF.ctc_loss(x.transpose(0, 1), targets, il, tl, reduction=reduction),
            [log_probs.transpose(0, 1).contiguous().requires_grad_(True)],
            rtol=0,
            atol=0,
        )
        torch.testing.assert_close(
            LF.ctc_loss(log_probs, targets, il.tolist(), tuple(tl.tolist()), reduction=reduction), time_first
        )


def test_ctc_unbatched_matches_batch_of_one():
    log_probs, targets, il, tl = _problem(seed=6, n=1)
    one = LF.ctc_loss(log_probs[:, 0], targets[0, : int(tl[0])], int(il[0]), tl[0], reduction="none")
    assert one.shape == ()
    torch.testing.assert_close(one, LF.ctc_loss(log_probs, targets, il, tl, reduction="none")[0])


def test_ctc_module_takes_torchs_positional_arguments():
    log_probs, targets, il, tl = _problem(seed=7, blank=2)
    ours, theirs = lk.CTCLoss(2, "sum", True), torch.nn.CTCLoss(2, "sum", True)
    torch.testing.assert_close(ours(log_probs, targets, il, tl), theirs(log_probs, targets, il, tl), **RTOL)
    assert lk.get("ctc", blank=2).blank == 2 and isinstance(lk.get("CTCLoss"), lk.CTCLoss)
    assert "ctc" in lk.available(family="sequence")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ctc_half_precision_computes_in_float32(dtype):
    log_probs, targets, il, tl = _problem(seed=8)
    x = log_probs.to(dtype).requires_grad_(True)
    out = LF.ctc_loss(x, targets, il, tl)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, F.ctc_loss(x.detach().float(), targets, il, tl), rtol=0, atol=0)
    out.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_ctc_empty_batch_and_no_frames():
    x = torch.zeros(5, 0, 4, dtype=torch.float64, requires_grad=True)
    empty = torch.zeros(0, dtype=torch.long)
    out = LF.ctc_loss(x, torch.zeros(0, 2, dtype=torch.long), empty, empty)
    assert out.item() == 0.0
    out.backward()
    assert x.grad.abs().sum() == 0
    no_frames = torch.zeros(0, 2, 3, dtype=torch.float64)
    got = LF.ctc_loss(no_frames, torch.tensor([[1], [1]]), [0, 0], [0, 1], reduction="none")
    assert got.tolist() == [0.0, float("inf")]
    got = LF.ctc_loss(no_frames, torch.tensor([[1], [1]]), [0, 0], [0, 1], reduction="none", zero_infinity=True)
    assert got.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_ctc_compiles_fullgraph_with_torchs_numbers(layout, reduction):
    """torch's own ctc_loss breaks the graph (its output shape depends on the lengths); losskit's traces."""
    torch._dynamo.reset()
    log_probs, targets, il, tl = _problem(seed=9, infeasible=True)
    if layout == "concatenated":
        targets = _concatenated(targets, tl)
    kw = dict(reduction=reduction, zero_infinity=True)
    compiled = torch.compile(lambda x: LF.ctc_loss(x, targets, il, tl, **kw), fullgraph=True, backend="aot_eager")
    log_probs.requires_grad_(True)
    assert_same_value_and_grad(compiled, lambda x: F.ctc_loss(x, targets, il, tl, **kw), [log_probs], **RTOL)


def test_ctc_bad_inputs_name_function_and_argument():
    log_probs, targets, il, tl = _problem(seed=10, t=6, n=3, s=2)
    cases = [
        (
            (log_probs, targets, torch.tensor([6, 7, 6]), tl),
            r"ctc_loss: input_lengths must be in \[0, T\] = \[0, 6\].*got 7 for sample 1",
        ),
        ((log_probs, targets, il, torch.tensor([2, 3, 0])), r"ctc_loss: target_lengths must be at most .* S = 2"),
        ((log_probs, torch.zeros_like(targets), il, torch.tensor([1, 0, 0])), r"contain the blank index 0"),
        ((log_probs, targets[:2], il, tl), r"ctc_loss: padded targets must be \(N, S\) with N = 3"),
        ((log_probs, targets, il, tl[:2]), r"ctc_loss: target_lengths must have one per sample"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            LF.ctc_loss(*args)
    with pytest.raises(ValueError, match=r"blank must be a class index in \[0, C\) = \[0, 6\); got 6"):
        LF.ctc_loss(log_probs, targets, il, tl, blank=6)


# ---------------------------------------------------------------------------------------------
# losskit.keras: ctc, CTC (Keras 3) and ctc_batch_cost (Keras 2 / TensorFlow)
# ---------------------------------------------------------------------------------------------


def _keras_problem(seed=0, n=4, t=8, c=5, s=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, c, generator=g) * 2
    y_true = torch.randint(1, c, (n, s), generator=g)
    for row, length in enumerate([s, 2, 0, 1][:n]):
        y_true[row, length:] = 0  # labels first, padding 0 after
    return y_true, logits


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_keras_ctc_function_equals_keras(dtype):
    y_true, logits = _keras_problem(seed=1)
    theirs = keras().losses.ctc(y_true, logits.to(dtype))
    ours = lkk.ctc(y_true, logits.to(dtype))
    assert ours.dtype == theirs.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None])
def test_keras_ctc_class_equals_keras(reduction):
    y_true, logits = _keras_problem(seed=2)
    weight = torch.tensor([0.5, 1.0, 2.0, 0.0])
    for sample_weight in (None, weight):
        theirs = keras().losses.CTC(reduction=reduction)(y_true, logits, sample_weight=sample_weight)
        ours = lkk.CTC(reduction=reduction)(y_true, logits, sample_weight=sample_weight)
        torch.testing.assert_close(ours, torch.as_tensor(theirs), rtol=1e-6, atol=1e-6)
    assert lkk.CTC().get_config() == keras().losses.CTC().get_config()
    assert lkk.get("ctc") is lkk.ctc and isinstance(lkk.get("CTC"), lkk.CTC)


def test_keras_ctc_gradient_equals_keras():
    y_true, logits = _keras_problem(seed=3)
    a, b = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
    lkk.CTC()(y_true, a).backward()
    keras().losses.CTC()(y_true, b).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)


def test_keras_ctc_errors():
    y_true, logits = _keras_problem(seed=4)
    with pytest.raises(ValueError, match=r"Targets `y_true` are expected to be a tensor of shape"):
        lkk.ctc(y_true[0], logits)
    with pytest.raises(ValueError, match=r"Logits `y_pred` are expected to be a tensor of shape"):
        lkk.ctc(y_true, logits[0])
    gap = y_true.clone()
    gap[0] = torch.tensor([1, 0, 2])
    with pytest.raises(ValueError, match=r"losskit.keras.ctc: y_true must hold .* row 0 has a 0 at position 1"):
        lkk.ctc(gap, logits)
    with pytest.raises(ValueError, match=r"losskit.keras.ctc: y_true and y_pred must have the same batch size"):
        lkk.ctc(y_true[:3], logits)


def test_ctc_batch_cost_equals_torch_with_last_class_blank():
    n, t, c = 4, 10, 6
    g = torch.Generator().manual_seed(5)
    y_pred = torch.softmax(torch.randn(n, t, c, generator=g, dtype=torch.float64), -1)
    y_true = torch.randint(0, c - 1, (n, 4), generator=g)
    y_true[2, 2:] = -1  # padding after label_length may hold anything
    input_length = torch.tensor([[10], [9], [10], [7]])
    label_length = torch.tensor([[4], [3], [2], [1]])
    out = lkk.ctc_batch_cost(y_true, y_pred, input_length, label_length)
    assert out.shape == (n, 1) and out.dtype == torch.float64
    expected = F.ctc_loss(
        y_pred.log().transpose(0, 1),
        y_true.clamp_min(0),
        input_length.squeeze(1),
        label_length.squeeze(1),
        blank=c - 1,
        reduction="none",
    )
    torch.testing.assert_close(out.squeeze(1), expected, rtol=1e-4, atol=0)
    # float labels, (N,) lengths and float32 probabilities are accepted as Keras 2 accepts them
    again = lkk.ctc_batch_cost(y_true.float(), y_pred.float(), input_length.squeeze(1), label_length.float())
    torch.testing.assert_close(again, out.float(), rtol=1e-5, atol=1e-5)
    x = y_pred.clone().requires_grad_(True)
    lkk.ctc_batch_cost(y_true, x, input_length, label_length).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_ctc_batch_cost_errors():
    y_pred = torch.softmax(torch.randn(2, 5, 4), -1)
    with pytest.raises(ValueError, match=r"contain the blank index 3"):
        lkk.ctc_batch_cost(torch.tensor([[1, 3], [0, 1]]), y_pred, [[5], [5]], [[2], [2]])
    with pytest.raises(ValueError, match=r"ctc_batch_cost: label_length must be \(N, 1\) with N = 2"):
        lkk.ctc_batch_cost(torch.tensor([[1, 2], [0, 1]]), y_pred, [[5], [5]], [[2], [2], [2]])
    with pytest.raises(ValueError, match=r"ctc_batch_cost: y_true must be padded labels \(N, S\) with N = 2"):
        lkk.ctc_batch_cost(torch.tensor([[1, 2]]), y_pred, [[5], [5]], [[2], [2]])


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------


def _random_strings(rng, count, alphabet="abcde ", max_len=12):
    return ["".join(rng.choice(list(alphabet), size=rng.integers(0, max_len + 1))) for _ in range(count)]


def test_edit_distance_strings_equals_rapidfuzz():
    from rapidfuzz.distance import Levenshtein

    rng = np.random.default_rng(0)
    hyps, refs = _random_strings(rng, 300), _random_strings(rng, 300)
    raw = LF.edit_distance(hyps, refs, normalize=False)
    assert raw.dtype == torch.float32 and raw.shape == (300,)
    assert raw.tolist() == [Levenshtein.distance(h, r) for h, r in zip(hyps, refs)]
    norm = LF.edit_distance(hyps, refs)
    for d, h, r, got in zip(raw.tolist(), hyps, refs, norm.tolist()):
        expected = d / len(r) if r else (0.0 if not h else float("inf"))
        assert got == pytest.approx(expected, rel=1e-6)
    assert float(LF.edit_distance("kitten", "sitting", normalize=False)) == 3.0


def test_edit_distance_token_lists():
    from rapidfuzz.distance import Levenshtein

    hyps = [["the", "cat", "sat"], [], [1, 2, 3]]
    refs = [["the", "cat", "sat", "down"], ["a"], [3, 2, 1]]
    expected = [Levenshtein.distance(h, r) for h, r in zip(hyps, refs)]
    assert LF.edit_distance(hyps, refs, normalize=False).tolist() == expected


@pytest.mark.parametrize("mode", ["lengths", "padding", "full"])
def test_edit_distance_token_rows_equal_rapidfuzz_and_reference(mode):
    from rapidfuzz.distance import Levenshtein

    g = torch.Generator().manual_seed(11)
    n, lh, lr = 200, 7, 11
    hyp = torch.randint(1, 4, (n, lh), generator=g)
    ref = torch.randint(1, 4, (n, lr), generator=g)
    hyp_len = torch.randint(0, lh + 1, (n,), generator=g)
    ref_len = torch.randint(0, lr + 1, (n,), generator=g)
    kw = {}
    if mode == "lengths":
        kw = dict(hypothesis_lengths=hyp_len, truth_lengths=ref_len)
    elif mode == "padding":  # padding placed inside and after the tokens: dropped wherever it is
        hyp = torch.where(torch.rand(n, lh, generator=g) < 0.2, torch.zeros_like(hyp), hyp)
        ref = torch.where(torch.rand(n, lr, generator=g) < 0.2, torch.zeros_like(ref), ref)
        kw = dict(padding_value=0)
    rows_h = [
        h[: int(k)].tolist() if mode == "lengths" else [v for v in h.tolist() if mode == "full" or v != 0]
        for h, k in zip(hyp, hyp_len)
    ]
    rows_r = [
        r[: int(k)].tolist() if mode == "lengths" else [v for v in r.tolist() if mode == "full" or v != 0]
        for r, k in zip(ref, ref_len)
    ]
    got = LF.edit_distance(hyp, ref, normalize=False, **kw)
    expected = [Levenshtein.distance(h, r) for h, r in zip(rows_h, rows_r)]
    assert got.tolist() == expected
    assert expected[:20] == [ref_seq.levenshtein(h, r) for h, r in zip(rows_h[:20], rows_r[:20])]
    # the shorter side may be either: swapping the arguments gives the same raw distances
    swapped = dict(hypothesis_lengths=kw.get("truth_lengths"), truth_lengths=kw.get("hypothesis_lengths"))
    swapped = {k: v for k, v in swapped.items() if v is not None}
    if "padding_value" in kw:
        swapped["padding_value"] = 0
    assert LF.edit_distance(ref, hyp, normalize=False, **swapped).tolist() == expected


@pytest.mark.parametrize("dtype", [torch.long, torch.int32, torch.uint8, torch.float32])
def test_edit_distance_vectorised_path_equals_rapidfuzz_path(dtype):
    """The PyTorch dynamic program (accelerators, torch.compile) and the rapidfuzz path (CPU) agree exactly."""
    from losskit.sequence import _levenshtein_rapidfuzz, _levenshtein_tensors

    g = torch.Generator().manual_seed(12)
    for n, lh, lr in [(300, 9, 5), (300, 5, 13), (7, 0, 4), (0, 3, 3)]:
        hyp = torch.randint(0, 4, (n, lh), generator=g).to(dtype)
        ref = torch.randint(0, 4, (n, lr), generator=g).to(dtype)
        hyp_len = torch.randint(0, lh + 1, (n,), generator=g)
        ref_len = torch.randint(0, lr + 1, (n,), generator=g)
        expected = _levenshtein_rapidfuzz(hyp, hyp_len, ref, ref_len)
        assert _levenshtein_tensors(hyp, hyp_len, ref, ref_len).tolist() == expected.tolist()
        rows = [
            ref_seq.levenshtein(h[: int(a)].tolist(), r[: int(b)].tolist())
            for h, a, r, b in zip(hyp, hyp_len, ref, ref_len)
        ]
        assert expected.tolist() == rows


def test_edit_distance_tokens_that_python_hashes_alike_stay_distinct():
    """-1 and -2 have the same Python hash; large and float tokens too: they are renumbered before rapidfuzz."""
    assert LF.edit_distance(torch.tensor([[-1, 5]]), torch.tensor([[-2, 5]]), normalize=False).tolist() == [1.0]
    big = torch.tensor([[2**61 - 1, 0]])
    assert LF.edit_distance(big, torch.tensor([[0, 0]]), normalize=False).tolist() == [1.0]
    assert LF.edit_distance(torch.tensor([[0.5, 1.0]]), torch.tensor([[0.5, 1.5]]), normalize=False).tolist() == [1.0]


def test_edit_distance_reproduces_tf_documented_example():
    """tf.edit_distance's docstring: hypothesis ["a"], [], ["b"], []; truth [], ["a"], ["b", "c"], ["a"]."""
    expected = [[float("inf"), 1.0], [0.5, 1.0]]
    # as token tensors of batch shape (2, 2): a=1, b=2, c=3, 0 pads
    hypothesis = torch.tensor([[[1], [0]], [[2], [0]]])
    truth = torch.tensor([[[0, 0], [1, 0]], [[2, 3], [1, 0]]])
    assert LF.edit_distance(hypothesis, truth, padding_value=0).tolist() == expected
    # as lists of tokens
    got = LF.edit_distance([["a"], [], ["b"], []], [[], ["a"], ["b", "c"], ["a"]])
    assert got.reshape(2, 2).tolist() == expected
    # and unnormalised
    assert LF.edit_distance(hypothesis, truth, padding_value=0, normalize=False).tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_edit_distance_empty_truth_and_empty_batch():
    assert LF.edit_distance(["", "a"], ["", ""]).tolist() == [0.0, float("inf")]
    assert LF.edit_distance([], []).shape == (0,)
    assert LF.edit_distance(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 5, dtype=torch.long)).shape == (0,)
    assert LF.edit_distance(torch.tensor([1, 2]), torch.tensor([1, 2, 3])).shape == ()


def test_edit_distance_bad_inputs():
    with pytest.raises(
        ValueError, match=r"edit_distance: truth must have the hypothesis's batch shape \(3,\).*got \(4,\)"
    ):
        LF.edit_distance(torch.zeros(3, 5, dtype=torch.long), torch.zeros(4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"edit_distance: truth must have one entry per hypothesis entry \(2\); got 3"):
        LF.edit_distance(["a", "b"], ["a", "b", "c"])
    with pytest.raises(
        TypeError, match=r"edit_distance: hypothesis and truth must both be token tensors or both strings"
    ):
        LF.edit_distance(torch.zeros(2, 3), ["a", "b"])
    with pytest.raises(ValueError, match=r"edit_distance: hypothesis_lengths must be in \[0, 3\].*got 4 for row 1"):
        LF.edit_distance(torch.zeros(2, 3), torch.zeros(2, 3), hypothesis_lengths=torch.tensor([1, 4]))
    with pytest.raises(ValueError, match=r"edit_distance: truth_lengths must have one per sample, shape \(2,\)"):
        LF.edit_distance(torch.zeros(2, 3), torch.zeros(2, 3), truth_lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"apply to token tensors"):
        LF.edit_distance(["a"], ["b"], padding_value=0)


def _corpus(rng, count):
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]
    return [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(count)]


def test_cer_and_wer_equal_jiwer():
    jiwer = pytest.importorskip("jiwer")
    rng = np.random.default_rng(1)
    refs, preds = _corpus(rng, 50), _corpus(rng, 50)
    assert float(LF.char_error_rate(preds, refs)) == pytest.approx(jiwer.cer(refs, preds), rel=1e-6)
    assert float(LF.word_error_rate(preds, refs)) == pytest.approx(jiwer.wer(refs, preds), rel=1e-6)
    # jiwer's default transforms: strip the ends (CER); collapse whitespace runs, strip, split on spaces (WER)
    messy_refs = ["  the cat\tsat ", "a  b", "x"]
    messy_preds = ["the  cat sat", " a b ", "x\ty z"]
    assert float(LF.char_error_rate(messy_preds, messy_refs)) == pytest.approx(
        jiwer.cer(messy_refs, messy_preds), rel=1e-6
    )
    assert float(LF.word_error_rate(messy_preds, messy_refs)) == pytest.approx(
        jiwer.wer(messy_refs, messy_preds), rel=1e-6
    )
    assert float(LF.word_error_rate("the cat sat", "the cat sat down")) == pytest.approx(0.25)


def test_cer_and_wer_equal_torchmetrics_on_clean_text():
    try:
        import torchmetrics.functional.text as tm
    except Exception as exc:  # not installed, or a torchvision built for another torch breaks its import
        pytest.skip(f"torchmetrics does not import here: {type(exc).__name__}: {exc}")
    rng = np.random.default_rng(2)
    refs, preds = _corpus(rng, 40), _corpus(rng, 40)
    torch.testing.assert_close(LF.char_error_rate(preds, refs), tm.char_error_rate(preds, refs))
    torch.testing.assert_close(LF.word_error_rate(preds, refs), tm.word_error_rate(preds, refs))


def test_cer_wer_edges_and_errors():
    assert float(LF.char_error_rate([""], [""])) == 0.0
    assert float(LF.char_error_rate(["a"], [""])) == float("inf")
    assert float(LF.word_error_rate(["x y"], ["x"])) == 1.0
    with pytest.raises(
        ValueError, match=r"word_error_rate: references must have one entry per predictions entry \(2\); got 1"
    ):
        LF.word_error_rate(["a", "b"], ["a"])
    with pytest.raises(TypeError, match=r"char_error_rate: predictions must hold strings; item 1 is a int"):
        LF.char_error_rate(["a", 3], ["a", "b"])
    assert {"edit_distance", "char_error_rate", "word_error_rate"} <= set(LF.__all__)
    assert "edit_distance" not in lk.available()


@pytest.mark.parametrize("layout", ["concatenated", "padded"])
def test_ctc_strided_targets_give_the_contiguous_value(layout):
    """torch's CPU kernel read concatenated 1-D targets given as a strided view past their end (a crash, or a
    wrong loss); losskit passes a contiguous copy, so any layout gives the same loss and gradient."""
    generator = torch.Generator().manual_seed(4)
    log_probs = torch.randn(7, 3, 5, generator=generator, dtype=torch.float64).log_softmax(2)
    lengths = [3, 1, 4]
    if layout == "concatenated":
        targets = torch.randint(1, 5, (sum(lengths),), generator=generator)
    else:
        targets = torch.randint(1, 5, (3, 4), generator=generator)
    buffer = torch.zeros(targets.shape + (2,), dtype=targets.dtype)
    buffer[..., 0] = targets
    strided = buffer[..., 0]  # the same values, every other element of a buffer
    assert not strided.is_contiguous()
    results = []
    for t in (targets, strided):
        x = log_probs.clone().requires_grad_()
        loss = LF.ctc_loss(x, t, [7, 6, 7], lengths, reduction="sum")
        loss.backward()
        results.append((loss.detach(), x.grad))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=0, atol=0)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=0, atol=0)
