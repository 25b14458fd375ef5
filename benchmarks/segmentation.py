"""Segmentation losses against MONAI, kornia and segmentation_models_pytorch: forward + backward time and peak memory.

    python -m benchmarks.segmentation [--rounds 15] [--threads 1] [--device cpu|cuda] [--shapes 2d,3d]
                                      [--only dice,...] [--clock wall|cpu]

For each loss and each peer that has it, the two implementations run as paired
steps in one process, in alternating order (A B, B A, ...), after warm-up; the
reported number is the median over rounds of the per-round ratio
losskit / peer (below 1: losskit is faster), with the smallest and largest
per-round ratio. ``--clock cpu`` times with the process's CPU time instead of
the wall clock (on a shared CPU machine the wall clock counts the time other
processes hold the cores). Peak memory: on CUDA
``torch.cuda.max_memory_allocated`` over one step; on CPU the peak of the
running sum of the profiler's allocation and free events over one step
(``profile_memory=True``), the gradient of the input included. Peers that do not import are listed with the reason.

Each pair is value-checked first (the same loss on the inputs timed, rtol 1e-4), and a sample repeats the
step until it lasts ``--min-time`` (20 ms), as in the main harness (:mod:`benchmarks.measure`).

On CPU a step's time depends on the allocator's state: glibc gives the heap top back to the OS when enough of
it is free and faults the pages in again on the next step (the fresh MBs of a step are then a large part of
its time), until a large enough allocation, freed, raises its dynamic mmap/trim thresholds. At 2-D, 1 thread,
in a fresh process MONAI's GeneralizedDiceLoss faulted ~1000 pages per step and losskit none (ratio 0.65);
after any earlier row had freed a 12 MB block neither faulted (0.80-0.88). The harness therefore settles the
allocator first (:func:`benchmarks.measure.settle_allocator`), the state of a training process that has run
for a while, so a row's figure does not depend on which rows ran before it.

segmentation_models_pytorch's package ``__init__`` imports timm and torchvision;
where those do not import next to this torch, its ``losses`` subpackage (pure
torch) is loaded from its files on its own.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pathlib
import sys
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch

import losskit.functional as LF

from .measure import CLOCKS, paired, settle_allocator, value_check

RESULTS = pathlib.Path(__file__).parent / "results"
SHAPES = {"2d": (8, 4, 128, 128), "3d": (2, 4, 64, 64, 64)}
Step = Callable[[], torch.Tensor]


def _import(name: str) -> Tuple[Optional[object], str]:
    try:
        return importlib.import_module(name), ""
    except Exception as exc:  # any failure: a peer that does not import is skipped and reported
        return None, f"{type(exc).__name__}: {exc}"


def _smp_losses() -> Tuple[Optional[object], str]:
    module, why = _import("segmentation_models_pytorch.losses")
    if module is not None:
        return module, ""
    spec = importlib.util.find_spec("segmentation_models_pytorch")
    if spec is None or spec.origin is None:
        return None, why
    path = os.path.join(os.path.dirname(spec.origin), "losses")
    sub = importlib.util.spec_from_file_location(
        "_smp_losses", os.path.join(path, "__init__.py"), submodule_search_locations=[path]
    )
    if sub is None or sub.loader is None:
        return None, why
    module = importlib.util.module_from_spec(sub)
    sys.modules["_smp_losses"] = module
    sub.loader.exec_module(module)
    return module, f"package __init__ does not import ({why}); losses/ loaded on its own"


def peers() -> Tuple[Dict[str, object], Dict[str, str]]:
    found, notes = {}, {}
    for key, loader in (
        ("monai", lambda: _import("monai.losses")),
        ("kornia", lambda: _import("kornia.losses")),
        ("smp", _smp_losses),
    ):
        module, note = loader()
        if module is not None:
            found[key] = module
        if note:
            notes[key] = note
    return found, notes


def cases(x: torch.Tensor, y: torch.Tensor, mods: Dict[str, object]) -> List[Tuple[str, Step, Dict[str, Step]]]:
    """(loss, losskit step, {peer: step}) with the same numbers on each side (the tests check parity)."""
    y1 = y.unsqueeze(1)
    m, k, s = mods.get("monai"), mods.get("kornia"), mods.get("smp")
    out = []

    def add(name, ours, others):
        out.append((name, ours, {p: f for p, f in others.items() if f is not None}))

    add(
        "dice",
        lambda: LF.dice_loss(x, y),
        {
            "monai DiceLoss": (lambda c=m.DiceLoss(softmax=True, to_onehot_y=True): c(x, y1)) if m else None,
            # kornia's default average="micro" pools the classes (another loss); "macro" is the per-class mean
            "kornia dice_loss": (lambda: k.dice_loss(x, y, average="macro")) if k and x.dim() == 4 else None,
            "smp DiceLoss": (lambda c=s.DiceLoss("multiclass", from_logits=True): c(x, y)) if s else None,
        },
    )
    add(
        "generalized_dice",
        lambda: LF.generalized_dice_loss(x, y),
        {
            "monai GeneralizedDiceLoss": (lambda c=m.GeneralizedDiceLoss(softmax=True, to_onehot_y=True): c(x, y1))
            if m
            else None
        },
    )
    add(
        "tversky",
        lambda: LF.tversky_loss(x, y, alpha=0.3, beta=0.7),
        {
            "monai TverskyLoss": (lambda c=m.TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7): c(x, y1))
            if m
            else None,
            "kornia tversky_loss": (lambda: k.tversky_loss(x, y, alpha=0.3, beta=0.7)) if k and x.dim() == 4 else None,
        },
    )
    add(
        "jaccard",
        lambda: LF.jaccard_loss(x, y),
        {"smp JaccardLoss": (lambda c=s.JaccardLoss("multiclass", from_logits=True): c(x, y)) if s else None},
    )
    add(
        "dice_ce",
        lambda: LF.dice_ce_loss(x, y),
        {"monai DiceCELoss": (lambda c=m.DiceCELoss(softmax=True, to_onehot_y=True): c(x, y1)) if m else None},
    )
    add(
        "lovasz_softmax",
        lambda: LF.lovasz_softmax_loss(x, y),
        {"smp LovaszLoss": (lambda c=s.LovaszLoss("multiclass", per_image=False): c(x, y)) if s else None},
    )
    return out


def _cpu_peak(step: Step, leaf: torch.Tensor) -> int:
    """Peak of the bytes allocated during one step, from the profiler's allocation and free events in order."""
    from torch.profiler import ProfilerActivity, profile

    leaf.grad = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step().backward()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak


def _run(step: Step, leaf: torch.Tensor) -> None:
    leaf.grad = None
    step().backward()


def peak_memory(step: Step, leaf: torch.Tensor) -> int:
    if leaf.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _run(step, leaf)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    return _cpu_peak(step, leaf)


def _step(loss: Step, leaf: torch.Tensor) -> Callable[[], torch.Tensor]:
    """One forward + backward, returning the loss (for the value check)."""

    def run() -> torch.Tensor:
        leaf.grad = None
        value = loss()
        value.backward()
        return value

    return run


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--shapes", default="2d,3d")
    ap.add_argument("--only", default="", help="comma-separated loss names")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per sample (the step repeats until then)")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="cpu: process CPU time (CPU device only)")
    ap.add_argument("--out", default=str(RESULTS / "segmentation.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    settle_allocator()
    warnings.simplefilter("ignore")
    mods, notes = peers()
    device = torch.device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        ap.error("--clock cpu measures host CPU time; use the wall clock on an accelerator")
    print(
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} thread(s), rounds {args.rounds}, "
        f"{args.clock} clock"
    )
    for key, note in notes.items():
        print(f"  {key}: {note}")
    rows = []
    for shape_name in args.shapes.split(","):
        shape = SHAPES[shape_name]
        g = torch.Generator().manual_seed(0)
        x = torch.randn(*shape, generator=g).to(device).requires_grad_(True)
        y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g).to(device)
        for name, ours, others in cases(x, y, mods):
            if args.only and name not in args.only.split(","):
                continue
            mem_ours = peak_memory(ours, x)
            for index, (peer, theirs) in enumerate(others.items()):
                check = value_check(_step(ours, x), _step(theirs, x), rtol=1e-4, atol=1e-6)
                if not check["ok"]:
                    raise SystemExit(f"benchmarks.segmentation: {name} and {peer} differ on the inputs timed: {check}")
                timing = paired(
                    _step(ours, x),
                    _step(theirs, x),
                    device,
                    args.rounds,
                    args.min_time,
                    ours_first=(len(rows) + index) % 2 == 0,
                    clock=CLOCKS[args.clock],
                )
                timing = {
                    "ratio": timing["ratio_median"],
                    "ratio_min": timing["ratio_min"],
                    "ratio_max": timing["ratio_max"],
                    "ours_ms": timing["losskit_ms"],
                    "peer_ms": timing["other_ms"],
                    "value_check": check,
                }
                mem_peer = peak_memory(theirs, x)
                row = {
                    "shape": list(shape),
                    "loss": name,
                    "peer": peer,
                    **timing,
                    "ours_peak_mb": mem_ours / 2**20,
                    "peer_peak_mb": mem_peer / 2**20,
                    "memory_ratio": mem_ours / mem_peer if mem_peer else float("nan"),
                }
                rows.append(row)
                print(
                    f"{shape_name} {name:17s} vs {peer:26s} time {row['ratio']:.2f}x "
                    f"[{row['ratio_min']:.2f}-{row['ratio_max']:.2f}] "
                    f"({row['ours_ms']:.1f} / {row['peer_ms']:.1f} ms)  "
                    f"peak {row['ours_peak_mb']:.1f} / {row['peer_peak_mb']:.1f} MB ({row['memory_ratio']:.2f}x)"
                )
    meta = {
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "clock": args.clock,
        "min_time_s": args.min_time,
    }
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps({"meta": meta, "peers": notes, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
