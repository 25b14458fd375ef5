"""losskit eager against ``torch.compile`` of the plain formula, forward + backward (issue 17).

    python -m benchmarks.compiled [--sizes 1e6,1e7] [--rounds 15] [--threads 1]

The row: ``sigmoid_focal_loss`` (α = 0.25, γ = 2, mean) against torchvision's
``sigmoid_focal_loss`` formula (p = σ(x), ce = BCE-with-logits, p_t = p t +
(1 - p)(1 - t), loss = α_t ce (1 - p_t)^γ, mean) written out in torch and
compiled with inductor (``dynamic=False``, one compilation per size; the CPU
backend generates C++ and needs a compiler). The compiled step is called until
it has compiled its forward and backward before anything is timed, the values
are checked against each other, and then the two steps run as paired samples in
one process (``benchmarks.measure.paired``), the order alternating every round,
on both clocks: wall time and this process's CPU time (the CPU clock leaves out
the time a single-threaded step waits for a core on a loaded machine). Ratio =
losskit / compiled (< 1: losskit is faster). Output:
benchmarks/results/compiled.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time
from typing import Any, Dict, List

import torch
import torch.nn.functional as F

import losskit.functional as LF

from .measure import paired, value_check
from .suite import _elementwise, _step

RESULTS = pathlib.Path(__file__).parent / "results"
ALPHA, GAMMA = 0.25, 2.0


def torchvision_sigmoid_focal(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss's formula (reduction "mean"), as the compiler sees it."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** GAMMA)
    alpha_t = ALPHA * t + (1 - ALPHA) * (1 - t)
    return (alpha_t * loss).mean()


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def measure(size: int, rounds: int, min_time: float, ours_first: bool) -> Dict[str, Any]:
    x, t = _elementwise(size, torch.device("cpu"))
    t = (t > 0).float()
    compiled = torch.compile(torchvision_sigmoid_focal, dynamic=False)
    ours = _step(lambda: LF.sigmoid_focal_loss(x, t, alpha=ALPHA, gamma=GAMMA), [x])
    other = _step(lambda: compiled(x, t), [x])
    start = time.perf_counter()
    other()  # compiles the forward and, at the first backward, the backward
    first_call_s = time.perf_counter() - start
    other()
    check = value_check(ours, other, rtol=1e-5, atol=1e-7)
    x.grad = None
    ours()
    grad_ours = x.grad.clone()
    x.grad = None
    other()
    grad_max_rel = float(((grad_ours - x.grad).abs() / x.grad.abs().clamp_min(1e-12)).max())
    grad_close = bool(torch.allclose(grad_ours, x.grad, rtol=1e-4, atol=1e-9))
    row: Dict[str, Any] = {
        "loss": "sigmoid_focal",
        "elements": size,
        "other": "torch.compile(torchvision formula)",
        "first_call_s": first_call_s,
        "value_check": check,
        "gradient_check": {"ok": grad_close, "max_rel_diff": grad_max_rel},
    }
    if not (check["ok"] and grad_close):
        row["skipped"] = "values or gradients differ: not timed"
        return row
    device = torch.device("cpu")
    row["load_before"] = _load()
    row["wall"] = paired(ours, other, device, rounds, min_time, ours_first)
    row["cpu"] = paired(ours, other, device, rounds, min_time, not ours_first, clock=time.process_time)
    row["load_after"] = _load()
    return row


def _markdown(result: Dict[str, Any]) -> str:
    lines = [
        f"# losskit eager vs torch.compile ({result['device']}, torch {result['torch']}, {result['threads']} threads)",
        "",
        "Forward + backward, paired in one process, order alternating every round; "
        f"{result['rounds']} rounds of samples ≥ {result['min_time'] * 1e3:.0f} ms, on the wall clock and on this "
        "process's CPU clock. Ratio = losskit time / compiled time, median [min–max] over rounds (< 1: losskit is "
        "faster). The compiled function ran (forward and backward compiled) before timing; first call s: that first "
        "call, compilation included (or a hit in inductor's on-disk cache); value and gradient checked against "
        "losskit's first. Load: 1-minute load average before / after the row (2 cores, shared).",
        "",
        "| loss | elements | vs | wall ratio | cpu ratio | losskit ms (cpu) | compiled ms (cpu) | value | gradient "
        "| first call s | load |",
        "|---|---:|---|---|---|---:|---:|---|---|---:|---|",
    ]
    for row in result["rows"]:
        value = f"ok ({row['value_check']['max_rel_diff']:.0e})" if row["value_check"]["ok"] else "DIFFERS"
        grad = f"ok ({row['gradient_check']['max_rel_diff']:.0e})" if row["gradient_check"]["ok"] else "DIFFERS"
        if "skipped" in row:
            head = f"| {row['loss']} | {row['elements']:.0e} | {row['other']}"
            lines.append(f"{head} | — | — | | | {value} | {grad} | | |")
            continue
        w, c = row["wall"], row["cpu"]
        lines.append(
            f"| {row['loss']} | {row['elements']:.0e} | {row['other']} "
            f"| {w['ratio_median']:.2f} [{w['ratio_min']:.2f}–{w['ratio_max']:.2f}] "
            f"| {c['ratio_median']:.2f} [{c['ratio_min']:.2f}–{c['ratio_max']:.2f}] "
            f"| {c['losskit_ms']:.2f} | {c['other_ms']:.2f} | {value} | {grad} | {row['first_call_s']:.0f} "
            f"| {row['load_before']:.1f} / {row['load_after']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> Dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e6,1e7", help="element counts (comma-separated)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per sample")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    ap.add_argument("--out", default=str(RESULTS / "compiled"), help="output path without extension")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: List[Dict[str, Any]] = []
    for i, size in enumerate(int(float(s)) for s in args.sizes.split(",")):
        rows.append(measure(size, args.rounds, args.min_time, ours_first=i % 2 == 0))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "min_time": args.min_time,
        "rows": rows,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(result))
    print(_markdown(result))
    return result


if __name__ == "__main__":
    main()
