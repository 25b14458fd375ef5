"""Sequence benchmarks: ctc_loss against F.ctc_loss, and edit distance / CER against rapidfuzz, torchmetrics, jiwer.

    python -m benchmarks.sequence [--rounds 15] [--min-time 0.05] [--threads 1] [--quick]

Every comparison runs its contenders as paired measurements in one process:
after a warm-up, each round times every contender once, the order reversed
every other round (A B C, C B A, ...). One measurement repeats the step until
it lasts at least ``--min-time`` seconds. The report gives, per contender, the
median seconds per call and the median over rounds of losskit's time divided
by its time (below 1: losskit is faster). Peers that are not installed are
skipped. Results: benchmarks/results/sequence.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
from typing import Any, Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F

import losskit.functional as LF

from .measure import paired_many

RESULTS = pathlib.Path(__file__).parent / "results"
OURS = "losskit"


def paired(steps: Dict[str, Callable[[], object]], rounds: int, min_time: float) -> Dict[str, Any]:
    """Median seconds per call of each step and the median per-round ratio losskit / other
    (:func:`benchmarks.measure.paired_many`, on the CPU's wall clock)."""
    return paired_many(steps, OURS, torch.device("cpu"), rounds, min_time)  # type: ignore[arg-type]


def ctc_problem(t: int, n: int, c: int, s: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(t, n, c, generator=g)
    targets = torch.randint(1, c, (n, s), generator=g)
    input_lengths = torch.randint(max(2 * s + 1, t // 2), t + 1, (n,), generator=g)
    target_lengths = torch.randint(s // 2, s + 1, (n,), generator=g)
    return logits, targets, input_lengths, target_lengths


def ctc_steps(t: int, n: int, c: int, s: int) -> Dict[str, Callable[[], object]]:
    """Forward + backward from log-probabilities (the log_softmax is outside: overhead only, same kernel)."""
    logits, targets, il, tl = ctc_problem(t, n, c, s)
    log_probs = logits.log_softmax(2).detach().requires_grad_(True)

    def ours():
        log_probs.grad = None
        LF.ctc_loss(log_probs, targets, il, tl).backward()

    def torch_nn():
        log_probs.grad = None
        F.ctc_loss(log_probs, targets, il, tl).backward()

    return {OURS: ours, "torch.nn.functional.ctc_loss": torch_nn}


def _strings(rng: np.random.Generator, count: int, length: int) -> List[str]:
    alphabet = np.array(list("abcdefghij "))
    sizes = rng.integers(length // 2, length + 1, size=count)
    return ["".join(rng.choice(alphabet, size=k)) for k in sizes]


def _noisy_copy(rng: np.random.Generator, texts: List[str]) -> List[str]:
    out = []
    for text in texts:
        chars = list(text)
        for _ in range(max(1, len(chars) // 5)):
            if chars:
                chars[rng.integers(len(chars))] = "xyz"[rng.integers(3)]
        out.append("".join(chars))
    return out


def string_steps(pairs: int, length: int) -> Dict[str, Callable[[], object]]:
    from rapidfuzz.distance import Levenshtein

    rng = np.random.default_rng(1)
    refs = _strings(rng, pairs, length)
    hyps = _noisy_copy(rng, refs)
    steps: Dict[str, Callable[[], object]] = {
        OURS: lambda: LF.edit_distance(hyps, refs, normalize=False),
        "rapidfuzz loop": lambda: [Levenshtein.distance(h, r) for h, r in zip(hyps, refs)],
    }
    try:
        from torchmetrics.text import CharErrorRate

        def torchmetrics_cer():
            metric = CharErrorRate()
            metric.update(hyps, refs)
            return metric.compute()

        steps["torchmetrics CharErrorRate"] = torchmetrics_cer
    except Exception:  # not installed (or a broken optional dependency): skipped
        pass
    return steps


def cer_steps(pairs: int, length: int) -> Dict[str, Callable[[], object]]:
    """Corpus CER: the same number from each (jiwer strips the ends, as losskit does; the text has no end spaces)."""
    rng = np.random.default_rng(2)
    refs = [s.strip() or "a" for s in _strings(rng, pairs, length)]
    hyps = [s.strip() for s in _noisy_copy(rng, refs)]
    steps: Dict[str, Callable[[], object]] = {OURS: lambda: LF.char_error_rate(hyps, refs)}
    try:
        import jiwer

        steps["jiwer.cer"] = lambda: jiwer.cer(refs, hyps)
    except Exception:  # not installed (or a broken optional dependency): skipped
        pass
    try:
        from torchmetrics.functional.text import char_error_rate

        steps["torchmetrics char_error_rate"] = lambda: char_error_rate(hyps, refs)
    except Exception:  # not installed (or a broken optional dependency): skipped
        pass
    return steps


def token_steps(rows: int, width: int) -> Dict[str, Callable[[], object]]:
    """(rows, width) token tensors, padded with 0; every contender starts from the tensors."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cpdist

    g = torch.Generator().manual_seed(3)
    truth = torch.randint(1, 30, (rows, width), generator=g)
    hyp = torch.where(
        torch.rand(rows, width, generator=g) < 0.15, torch.randint(1, 30, (rows, width), generator=g), truth
    )
    truth_len = torch.randint(width // 2, width + 1, (rows,), generator=g)
    hyp_len = (truth_len + torch.randint(-3, 4, (rows,), generator=g)).clamp(0, width)

    def loop():
        h_rows, t_rows = hyp.tolist(), truth.tolist()
        return [
            Levenshtein.distance(h[:a], t[:b])
            for h, t, a, b in zip(h_rows, t_rows, hyp_len.tolist(), truth_len.tolist())
        ]

    def batched():
        h_rows = [h[:a] for h, a in zip(hyp.tolist(), hyp_len.tolist())]
        t_rows = [t[:b] for t, b in zip(truth.tolist(), truth_len.tolist())]
        return cpdist(h_rows, t_rows, scorer=Levenshtein.distance)

    from losskit.sequence import _levenshtein_tensors

    return {
        OURS: lambda: LF.edit_distance(hyp, truth, hypothesis_lengths=hyp_len, truth_lengths=truth_len),
        "rapidfuzz loop": loop,
        "rapidfuzz cpdist": batched,
        # the path losskit takes for tensors on an accelerator, timed here on the CPU for reference
        "losskit PyTorch DP (accelerator path)": lambda: _levenshtein_tensors(hyp, hyp_len, truth, truth_len),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS / "sequence.json")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    cases = {
        "ctc T=50 N=4 C=20 S=10": lambda: ctc_steps(50, 4, 20, 10),
        "ctc T=400 N=32 C=64 S=80": lambda: ctc_steps(40, 4, 64, 8) if quick else ctc_steps(400, 32, 64, 80),
        "edit_distance 10,000 string pairs (~30 chars)": lambda: string_steps(100 if quick else 10_000, 30),
        "char_error_rate 10,000 string pairs (~30 chars)": lambda: cer_steps(100 if quick else 10_000, 30),
        "edit_distance (4096, 64) token tensors": lambda: token_steps(64 if quick else 4096, 64),
    }
    result: Dict[str, object] = {
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "device": "cpu",
            "dtype": "float32 (ctc)",
        },
        "rounds": args.rounds,
        "cases": {},
    }
    for name, build in cases.items():
        measured = paired(build(), args.rounds, args.min_time)
        result["cases"][name] = measured  # type: ignore[index]
        ratios = ", ".join(f"{k}: {v['median']:.3g}" for k, v in measured["ratio_losskit_over"].items())  # type: ignore[union-attr]
        seconds = ", ".join(f"{k}: {v * 1e3:.3g} ms" for k, v in measured["seconds_median"].items())  # type: ignore[union-attr]
        print(f"{name}\n  median per call: {seconds}\n  losskit / other (median): {ratios}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
