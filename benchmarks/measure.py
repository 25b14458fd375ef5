"""The measurements the harness makes, one function each: paired timing, the value check, saved bytes, peak memory.

* :func:`paired` times two steps in one process: after a warm-up, each round
  takes one sample of each, alternating which goes first (A B, B A, ...), and
  which starts the first round alternates between comparisons too. A sample
  repeats the step until it lasts at least ``min_time`` seconds.
  :func:`paired_many` is the same for any number of steps (each round in
  order, every other round reversed), for harnesses that compare losskit
  with several peers at once.
* :func:`value_check` runs both steps once and compares the losses they
  return, so a ratio is only ever reported between two computations of the
  same loss (or flagged).
* :func:`saved_bytes` runs one step under ``torch.autograd.graph.saved_tensors_hooks``
  and counts the bytes autograd keeps for backward beyond the step's inputs.
* :func:`peak_extra_mib` measures a step's peak extra resident memory in a
  fresh subprocess: the inputs are built, the high-water mark is reset
  (``/proc/self/clear_refs``) and the step's peak (``VmHWM``) is read back.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

Step = Callable[[], Optional[torch.Tensor]]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


Clock = Callable[[], float]

#: "wall": time.perf_counter. "cpu": this process's CPU time (time.process_time), which leaves out the time the
#: process waits for a core: with one torch thread on a shared, loaded CPU machine the wall clock mostly measures
#: the other tenants. Accelerators are timed on the wall clock (the host waits in ``sync``).
CLOCKS: Dict[str, Clock] = {"wall": time.perf_counter, "cpu": time.process_time}


def settle_allocator() -> None:
    """Put the CPU allocator in the state of a process that has run for a while, before anything is timed.

    glibc's malloc serves blocks above its mmap threshold (128 KiB at start) with their own mappings and gives
    the heap top back to the OS above its trim threshold, so in a fresh process every step faults its fresh
    megabytes in again; the first freed mapped block of up to 32 MiB raises both thresholds to its size (and
    twice it), after which such blocks are reused from the heap. Without this, a row's figure depended on
    whether an earlier row had freed a large block. One 30 MiB tensor, freed, raises them for both contenders.
    """
    block = torch.empty(30 * 2**20, dtype=torch.uint8)
    block.fill_(0)  # touched, so it is a real mapping
    del block


def _time(step: Step, device: torch.device, loops: int, clock: Clock = time.perf_counter) -> float:
    sync(device)
    start = clock()
    for _ in range(loops):
        step()
    sync(device)
    return (clock() - start) / loops


def loops_for(step: Step, device: torch.device, min_time: float, clock: Clock = time.perf_counter) -> int:
    """Calls per sample so that a sample lasts at least ``min_time`` (the step is warm: it ran already)."""
    once = max(min(_time(step, device, 1, clock), _time(step, device, 1, clock)), 1e-7)
    return max(1, -int(-min_time // once))


def sample_rounds(
    steps: Dict[str, Step],
    device: torch.device,
    rounds: int,
    min_time: float,
    clock: Clock = time.perf_counter,
) -> Tuple[Dict[str, List[float]], Dict[str, int]]:
    """Per-round seconds per call of every step, and the calls per sample.

    After a warm-up (two calls each: allocator, thread pools, lazy imports) each step gets the number of calls
    that makes a sample last ``min_time``; each round then takes one sample of every step, in the dict's order
    in even rounds and reversed in odd ones (A B C, C B A, ...)."""
    for _ in range(2):
        for step in steps.values():
            step()
    loops = {name: loops_for(step, device, min_time, clock) for name, step in steps.items()}
    names = list(steps)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(_time(steps[name], device, loops[name], clock))
    return times, loops


def paired_many(
    steps: Dict[str, Step],
    ours: str,
    device: torch.device,
    rounds: int,
    min_time: float,
    clock: Clock = time.perf_counter,
) -> Dict[str, Any]:
    """:func:`sample_rounds` of every step: the median seconds per call of each, and for every step but
    ``ours`` the median [min, max] over rounds of the per-round ratio ours / that step."""
    times, loops = sample_rounds(steps, device, rounds, min_time, clock)
    ratios = {}
    for name, other in times.items():
        if name == ours:
            continue
        per_round = [a / b for a, b in zip(times[ours], other)]
        ratios[name] = {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}
    return {
        "seconds_median": {name: statistics.median(t) for name, t in times.items()},
        "ratio_losskit_over": ratios,
        "loops": loops,
    }


def paired(
    ours: Step,
    other: Step,
    device: torch.device,
    rounds: int,
    min_time: float,
    ours_first: bool = True,
    clock: Clock = time.perf_counter,
) -> Dict[str, Any]:
    """Median and range of ours/other over ``rounds`` paired samples, the order alternating every round.

    ``clock``: wall time by default; ``time.process_time`` leaves out the time a single-threaded step waits
    for a core on a loaded machine."""
    steps = {"losskit": ours, "other": other} if ours_first else {"other": other, "losskit": ours}
    times, loops = sample_rounds(steps, device, rounds, min_time, clock)
    a, b = times["losskit"], times["other"]
    loops_a, loops_b = loops["losskit"], loops["other"]
    ratios = [x / y for x, y in zip(a, b)]
    return {
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "losskit_ms": statistics.median(a) * 1e3,
        "other_ms": statistics.median(b) * 1e3,
        "loops": [loops_a, loops_b],
        "rounds": rounds,
        "first": "losskit" if ours_first else "other",
    }


def value_check(ours: Step, other: Step, rtol: float, atol: float) -> Dict[str, Any]:
    """Both losses on the exact configuration timed; ``ok`` is None when a step returns no value."""
    a, b = ours(), other()
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return {"ok": None, "note": "a step returns no value"}
    a, b = a.detach().double().cpu().reshape(-1), b.detach().double().cpu().reshape(-1)
    if a.shape != b.shape:
        return {"ok": False, "note": f"shapes {tuple(a.shape)} vs {tuple(b.shape)}"}
    diff = (a - b).abs()
    ok = bool((diff <= atol + rtol * b.abs()).all())
    rel = float((diff / b.abs().clamp_min(atol)).max()) if a.numel() else 0.0
    return {"ok": ok, "losskit": float(a.sum()), "other": float(b.sum()), "max_rel_diff": rel, "rtol": rtol}


def saved_bytes(step: Step, inputs: Sequence[torch.Tensor]) -> int:
    """Bytes autograd saves for backward during one step, beyond the storages of ``inputs`` (counted once each)."""
    skip = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)}
    seen: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided and t.device.type != "meta":
            storage = t.untyped_storage()
            if storage.data_ptr() not in skip:
                seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def _read_status(field: str) -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure_peak_here(step: Step) -> float:
    """Peak extra resident MiB of one step in this process (run in a fresh subprocess: see peak_extra_mib)."""
    import gc

    step()  # warm-up: one-time allocations (thread pools, kernels' scratch) are not the step's
    for t in getattr(step, "inputs", ()):  # the gradients are the step's: drop the warm-up's before the reset
        if isinstance(t, torch.Tensor) and t.grad is not None:
            t.grad = None
    gc.collect()
    rss = _read_status("VmRSS")
    pathlib.Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    step()
    return (_read_status("VmHWM") - rss) / 2**20


def peak_extra_mib(case: str, size: int, variant: Dict[str, Any], label: str, device: str = "cpu") -> Optional[float]:
    """Peak extra MiB of one contender's step, measured in a fresh subprocess (None where /proc is not available)."""
    if not pathlib.Path("/proc/self/clear_refs").exists() or device != "cpu":
        return None
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    # a fixed mmap threshold: glibc then returns every large block to the system when it is freed,
    # so the resident size follows the live tensors (its dynamic threshold would keep freed blocks cached)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    args = json.dumps(
        {"case": case, "size": size, "variant": variant, "label": label, "threads": torch.get_num_threads()}
    )
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", args], capture_output=True, text=True, env=env, cwd=root
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory subprocess failed for {case} {label}: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _subprocess_main(spec: str) -> None:
    from .suite import peer_modules, select

    args = json.loads(spec)
    if args.get("threads"):
        torch.set_num_threads(args["threads"])
    (case,) = [c for c in select([args["case"]]) if c.name == args["case"]]
    # peers are imported only when the contender is one (Keras, MONAI, ... take seconds to import)
    built = case.build(args["size"], torch.device("cpu"), {}, **args["variant"])
    if args["label"] != "losskit" and args["label"] not in built.others:
        built = case.build(args["size"], torch.device("cpu"), peer_modules(), **args["variant"])
    step = built.ours if args["label"] == "losskit" else built.others[args["label"]]
    print(measure_peak_here(step))


if __name__ == "__main__":
    _subprocess_main(sys.argv[1])
