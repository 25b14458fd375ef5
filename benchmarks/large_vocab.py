"""Peak memory and time of linear_cross_entropy against the naive path and torch's chunked path, forward + backward.

    python -m benchmarks.large_vocab [--n 4096 --h 256 --v 65536 --rounds 15] [--device cuda] [--out FILE]

Peak memory on CPU: each contender runs in a fresh subprocess; after the inputs
exist and one warm-up step, the resident high-water mark is reset
(``/proc/self/clear_refs``) and the next step's peak (``VmHWM``) minus the
resident size at the reset is its peak *extra* memory (torch does not track
CPU allocations itself). On CUDA: ``torch.cuda.max_memory_allocated`` over one
step after a warm-up, minus what was allocated before it. Time: paired samples
in one process, losskit against each other contender, the order alternating
every round, the values checked first. Results:
benchmarks/results/large_vocab.json (``large_vocab-<device>.json`` off the CPU).
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


def _step(kind: str, n: int, h: int, v: int, device: str = "cpu"):
    import torch
    import torch.nn.functional as F

    import losskit.functional as LF

    torch.manual_seed(0)
    hidden = torch.randn(n, h, device=device, requires_grad=True)
    weight = (torch.randn(v, h, device=device) * 0.02).requires_grad_()
    target = torch.randint(0, v, (n,), device=device)
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


def _peak_extra_mib(kind: str, n: int, h: int, v: int, device: str = "cpu") -> float:
    if device != "cpu":
        return _device_peak_extra_mib(_step(kind, n, h, v, device), device)
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    code = (
        "import sys; from benchmarks.large_vocab import _step; from benchmarks.measure import measure_peak_here; "
        f"print(measure_peak_here(_step({kind!r}, {n:d}, {h:d}, {v:d})))"
    )
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=os.environ.get("MALLOC_MMAP_THRESHOLD_", str(128 * 1024)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root)
    return float(out.stdout.strip().splitlines()[-1])


def _device_peak_extra_mib(step, device: str) -> float:
    """Peak MiB a step allocates on an accelerator beyond what is allocated before it (after a warm-up step)."""
    import torch

    step()
    for t in step.inputs:
        if t.grad is not None:
            t.grad = None
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def main(argv=None) -> dict:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--h", type=int, default=256)
    ap.add_argument("--v", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--skip-torch-chunked", action="store_true", help="torch's chunked path takes 3-4x as long")
    ap.add_argument("--device", default="cpu", help="cpu, or an accelerator such as cuda")
    ap.add_argument("--out", type=pathlib.Path, default=None, help="default: results/large_vocab[-<device>].json")
    args = ap.parse_args(argv)
    device = args.device
    out = args.out or RESULTS / ("large_vocab.json" if device == "cpu" else f"large_vocab-{device.split(':')[0]}.json")
    kinds = [k for k in KINDS if not (args.skip_torch_chunked and k == "torch chunked")]
    mem = {kind: _peak_extra_mib(kind, args.n, args.h, args.v, device) for kind in kinds}
    runs = {kind: _step(kind, args.n, args.h, args.v, device) for kind in kinds}
    timings = {}
    for i, kind in enumerate(k for k in kinds if k != "losskit"):
        check = value_check(runs["losskit"], runs[kind], 1e-5, 1e-6)
        timings[kind] = {**paired(runs["losskit"], runs[kind], torch.device(device), args.rounds, 0.02, i % 2 == 0)}
        timings[kind]["value_check"] = check
    result = {
        "shape": {"N": args.n, "H": args.h, "V": args.v, "dtype": "float32", "device": device},
        "threads": torch.get_num_threads(),
        "weight_gradient_mib": args.v * args.h * 4 / 2**20,
        "peak_extra_mib": mem,
        "memory_fraction_of_naive": {k: mem[k] / mem["naive"] for k in kinds},
        "time": timings,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
