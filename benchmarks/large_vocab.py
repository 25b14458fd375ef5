"""Peak memory and time of linear_cross_entropy against the naive path and torch's chunked path, forward + backward.

    python -m benchmarks.large_vocab [--n 4096 --h 256 --v 65536 --rounds 15]

Peak memory: each contender runs in a fresh subprocess; after the inputs exist
and one warm-up step, the resident high-water mark is reset
(``/proc/self/clear_refs``) and the next step's peak (``VmHWM``) minus the
resident size at the reset is its peak *extra* memory (torch does not track
CPU allocations itself). Time: paired samples in one process, losskit against
each other contender, the order alternating every round, the values checked
first. Results: benchmarks/results/large_vocab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

from .measure import paired, value_check

RESULTS = pathlib.Path(__file__).parent / "results"
KINDS = ("losskit", "naive", "torch chunked")


def _step(kind: str, n: int, h: int, v: int):
    import torch
    import torch.nn.functional as F

    import losskit.functional as LF

    torch.manual_seed(0)
    hidden = torch.randn(n, h, requires_grad=True)
    weight = (torch.randn(v, h) * 0.02).requires_grad_()
    target = torch.randint(0, v, (n,))
    options = torch.nn.LinearCrossEntropyOptions() if hasattr(torch.nn, "LinearCrossEntropyOptions") else None

    def run():
        hidden.grad = weight.grad = None
        if kind == "naive":
            loss = F.cross_entropy(hidden @ weight.T, target)
        elif kind == "torch chunked":
            loss = F.linear_cross_entropy(hidden, weight, target, options=options)
        else:
            loss = LF.linear_cross_entropy(hidden, weight, target)
        loss.backward()
        return loss.detach()

    run.inputs = [hidden, weight, target]  # type: ignore[attr-defined]
    return run


def _peak_extra_mib(kind: str, n: int, h: int, v: int) -> float:
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    code = (
        "import sys; from benchmarks.large_vocab import _step; from benchmarks.measure import measure_peak_here; "
        f"print(measure_peak_here(_step({kind!r}, {n:d}, {h:d}, {v:d})))"
    )
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=os.environ.get("MALLOC_MMAP_THRESHOLD_", str(128 * 1024)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--v", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--skip-torch-chunked", action="store_true", help="torch's chunked path takes 3-4x as long")
    args = ap.parse_args(argv)
    kinds = [k for k in KINDS if not (args.skip_torch_chunked and k == "torch chunked")]
    mem = {kind: _peak_extra_mib(kind, args.n, args.h, args.v) for kind in kinds}
    runs = {kind: _step(kind, args.n, args.h, args.v) for kind in kinds}
    timings = {}
    for i, kind in enumerate(k for k in kinds if k != "losskit"):
        check = value_check(runs["losskit"], runs[kind], 1e-5, 1e-6)
        timings[kind] = {**paired(runs["losskit"], runs[kind], torch.device("cpu"), args.rounds, 0.02, i % 2 == 0)}
        timings[kind]["value_check"] = check
    result = {
        "shape": {"N": args.n, "H": args.h, "V": args.v, "dtype": "float32", "device": "cpu"},
        "threads": torch.get_num_threads(),
        "weight_gradient_mib": args.v * args.h * 4 / 2**20,
        "peak_extra_mib": mem,
        "memory_fraction_of_naive": {k: mem[k] / mem["naive"] for k in kinds},
        "time": timings,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "large_vocab.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
