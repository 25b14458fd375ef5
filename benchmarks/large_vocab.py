"""Peak memory and time of linear_cross_entropy against the naive path, forward + backward.

    python -m benchmarks.large_vocab [--n 4096 --h 256 --v 65536 --repeats 3]

Each measurement runs in a fresh subprocess: the peak resident set size
(``ru_maxrss``) after the inputs exist is subtracted from the peak after
forward+backward, which gives the peak *extra* memory of the step on CPU (torch
does not track CPU allocations itself). Time is the median of paired runs
(naive, fused, naive, fused, ...) in one process.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

RESULTS = pathlib.Path(__file__).parent / "results"


def _step(kind: str, n: int, h: int, v: int):
    import torch
    import torch.nn.functional as F

    import losskit.functional as LF

    torch.manual_seed(0)
    hidden = torch.randn(n, h, requires_grad=True)
    weight = (torch.randn(v, h) * 0.02).requires_grad_()
    target = torch.randint(0, v, (n,))

    def run():
        if kind == "naive":
            loss = F.cross_entropy(hidden @ weight.T, target)
        else:
            loss = LF.linear_cross_entropy(hidden, weight, target)
        loss.backward()
        hidden.grad = weight.grad = None

    return run


def _peak_extra_mib(kind: str, n: int, h: int, v: int) -> float:
    root = str(pathlib.Path(__file__).parent.parent)
    code = (
        f"import resource, sys; sys.path.insert(0, {root!r}); from benchmarks.large_vocab import _step; "
        f"run = _step({kind!r}, {n:d}, {h:d}, {v:d}); import gc; gc.collect(); "
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; run(); "
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--v", type=int, default=65536)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    mem = {kind: _peak_extra_mib(kind, args.n, args.h, args.v) for kind in ("naive", "fused")}
    runs = {kind: _step(kind, args.n, args.h, args.v) for kind in ("naive", "fused")}
    for r in runs.values():
        r()  # warm up
    times = {"naive": [], "fused": []}
    for _ in range(args.repeats):
        for kind in ("naive", "fused"):
            start = time.perf_counter()
            runs[kind]()
            times[kind].append(time.perf_counter() - start)
    ratios = [f / nv for f, nv in zip(times["fused"], times["naive"])]
    result = {
        "shape": {"N": args.n, "H": args.h, "V": args.v, "dtype": "float32", "device": "cpu"},
        "peak_extra_mib": mem,
        "memory_fraction": mem["fused"] / mem["naive"],
        "seconds_median": {k: statistics.median(v) for k, v in times.items()},
        "time_ratio_median": statistics.median(ratios),
        "time_ratio_range": [min(ratios), max(ratios)],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "large_vocab.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
