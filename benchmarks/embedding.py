"""Metric-learning benchmarks: losskit's batch losses against pytorch-metric-learning, pair/triplet losses against torch.

    python -m benchmarks.embedding [--rounds 15] [--min-time 0.05] [--threads 1] [--sizes 256,1024] [--quick]

Embeddings (N, 128) float32 on the CPU with 32 classes (labels drawn uniformly), N in
--sizes. Each step is one forward + backward from the embeddings. Contenders run as
paired measurements in one process: after a warm-up, each round times every contender
once, the order reversed every other round; the report gives the median seconds per call
and the median over rounds of losskit's time divided by the other's (below 1: losskit is
faster). Before the timing each pair's losses are compared (``value_check``; pairs in
``DIFFERS`` compute another quantity on purpose). Peak memory: each contender runs one warm-up
step and then a few steps in a fresh process and reports the growth of its peak resident set
over the resident set of the same process before those steps (CPU has no allocator statistics;
Linux's VmHWM, reset just before the steps, counts what a step allocates at its peak; glibc maps
each block of 64 KiB or more on its own, so that freed tensors leave the resident set).

The contenders compute the same loss where the peer has it. Where the definitions
differ, the row says so: pytorch-metric-learning's reducers average over the triplets or
pairs with a non-zero loss, its semi-hard miner keeps every semi-hard triplet (TF-Addons'
rule, which losskit follows, keeps one negative per positive pair), and its
ContrastiveLoss is not squared. Its distances are configured to the same Euclidean
distance on raw embeddings (``LpDistance(normalize_embeddings=False)``); its SupConLoss
and NTXentLoss use cosine similarity, as losskit does. InfoNCE is also run as plain torch
(normalise, one matrix product, ``F.cross_entropy``: what CLIP-style code writes), and pml's
NTXentLoss only up to ``NTXENT_MAX_N`` (its cost grows as N³ here). Results:
benchmarks/results/embedding.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
from typing import Callable, Dict, Optional, cast

import torch
import torch.nn.functional as F

import losskit.functional as LF

from .measure import value_check as shared_value_check
from .sequence import OURS, paired

RESULTS = pathlib.Path(__file__).parent / "results"
DIM = 128
CLASSES = 32

Step = Callable[[], object]

#: pml's NTXentLoss with one positive per query weighs each of the N positive pairs against all N (N − 1)
#: negative pairs, an (N, N (N − 1)) matrix: 4 GiB per buffer at N = 1024, so it runs up to N = 256 only
NTXENT_MAX_N = 256


def _pml():
    try:
        import pytorch_metric_learning.distances as distances
        import pytorch_metric_learning.losses as losses
        import pytorch_metric_learning.miners as miners

        return losses, miners, distances
    except Exception:  # not installed: the peers are skipped
        return None


def _inputs(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, DIM, generator=g).requires_grad_()
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    return x, labels


def _step(fn: Callable[[], torch.Tensor], leaves) -> Step:
    """One forward + backward from ``leaves``; returns the loss (detached), for the value check."""

    def run():
        for t in leaves:
            t.grad = None
        out = fn()
        out.backward()
        return out.detach()

    run.inputs = tuple(leaves)  # type: ignore[attr-defined]
    return run


def steps_for(case: str, n: int) -> Dict[str, Step]:
    """Every contender of ``case`` at batch size ``n`` (forward + backward)."""
    x, labels = _inputs(n)
    pml = _pml()
    out: Dict[str, Step] = {}
    if case.startswith("batch_triplet"):
        mining = case.split(":")[1]
        out[OURS] = _step(lambda: LF.batch_triplet_loss(x, labels, margin=0.2, mining=mining), [x])
        if pml is not None:
            losses, miners, distances = pml
            loss = losses.TripletMarginLoss(margin=0.2, distance=distances.LpDistance(normalize_embeddings=False))
            if mining == "batch_all":
                out["pml TripletMarginLoss (all triplets)"] = _step(lambda: loss(x, labels), [x])
            else:
                miner = (
                    miners.BatchHardMiner(distance=distances.LpDistance(normalize_embeddings=False))
                    if mining == "batch_hard"
                    else miners.TripletMarginMiner(
                        margin=0.2,
                        type_of_triplets="semihard",
                        distance=distances.LpDistance(normalize_embeddings=False),
                    )
                )
                name = (
                    "pml BatchHardMiner + TripletMarginLoss"
                    if mining == "batch_hard"
                    else "pml TripletMarginMiner(semihard) + TripletMarginLoss"
                )
                out[name] = _step(lambda: loss(x, labels, miner(x, labels)), [x])
    elif case == "supervised_contrastive":
        x2 = (x.detach() + 0.1).requires_grad_()
        out[OURS] = _step(
            lambda: LF.supervised_contrastive_loss(torch.stack([x, x2], 1), labels, temperature=0.1), [x, x2]
        )
        if pml is not None:
            loss = pml[0].SupConLoss(temperature=0.1)
            both = torch.cat([labels, labels])
            out["pml SupConLoss"] = _step(lambda: loss(torch.cat([x, x2]), both), [x, x2])
    elif case == "info_nce":
        k = (x.detach() + 0.1 * torch.randn_like(x)).requires_grad_()
        out[OURS] = _step(lambda: LF.info_nce_loss(x, k, temperature=0.1), [x, k])
        targets = torch.arange(n)
        out["torch (F.normalize, mm, F.cross_entropy)"] = _step(
            lambda: F.cross_entropy(F.normalize(x, dim=1) @ F.normalize(k, dim=1).T / 0.1, targets), [x, k]
        )
        if pml is not None and n <= NTXENT_MAX_N:
            loss = pml[0].NTXentLoss(temperature=0.1)
            ids, ref_ids = torch.arange(n), torch.arange(n)
            # two label tensors: given the labels object itself as ref_labels, pml takes the keys for the
            # embeddings' own batch and drops the diagonal pairs, the positives — its loss is then 0, with no work
            out["pml NTXentLoss (query vs keys)"] = _step(lambda: loss(x, ids, ref_emb=k, ref_labels=ref_ids), [x, k])
    elif case == "contrastive":
        out[OURS] = _step(lambda: LF.contrastive_loss(x, labels, pos_margin=0.0, neg_margin=1.0), [x])
        if pml is not None:
            losses, _, distances = pml
            loss = losses.ContrastiveLoss(
                pos_margin=0.0, neg_margin=1.0, distance=distances.LpDistance(normalize_embeddings=False)
            )
            out["pml ContrastiveLoss"] = _step(lambda: loss(x, labels), [x])
    elif case == "circle":
        out[OURS] = _step(lambda: LF.circle_loss(x, labels, gamma=80.0, margin=0.4), [x])
        if pml is not None:
            loss = pml[0].CircleLoss(m=0.4, gamma=80.0)
            out["pml CircleLoss"] = _step(lambda: loss(x, labels), [x])
    elif case in ("arcface", "cosface"):
        w = torch.randn(CLASSES, DIM).requires_grad_()
        fn = LF.arcface_loss if case == "arcface" else LF.cosface_loss
        out[OURS] = _step(lambda: fn(x, labels, w), [x, w])
        if pml is not None:
            if case == "arcface":
                peer = pml[0].ArcFaceLoss(CLASSES, DIM, margin=math.degrees(0.5), scale=64)  # losskit's 0.5 rad
            else:
                peer = pml[0].CosFaceLoss(CLASSES, DIM, margin=0.35, scale=64)
            with torch.no_grad():
                peer.W.copy_(w.detach().T)
            out[f"pml {type(peer).__name__}"] = _step(lambda: peer(x, labels), [x, peer.W])
    elif case == "triplet_margin":
        p, q = (torch.randn(n, DIM).requires_grad_() for _ in range(2))
        out[OURS] = _step(lambda: LF.triplet_margin_loss(x, p, q), [x, p, q])
        out["torch.nn.functional"] = _step(lambda: F.triplet_margin_loss(x, p, q), [x, p, q])
    elif case == "cosine_embedding":
        p = torch.randn(n, DIM).requires_grad_()
        y = labels.remainder(2).float() * 2 - 1
        out[OURS] = _step(lambda: LF.cosine_embedding_loss(x, p, y), [x, p])
        out["torch.nn.functional"] = _step(lambda: F.cosine_embedding_loss(x, p, y), [x, p])
    elif case == "margin_ranking":
        p = torch.randn(n, DIM).requires_grad_()
        y = torch.ones(n, DIM)
        out[OURS] = _step(lambda: LF.margin_ranking_loss(x, p, y, margin=0.1), [x, p])
        out["torch.nn.functional"] = _step(lambda: F.margin_ranking_loss(x, p, y, margin=0.1), [x, p])
    elif case == "hinge_embedding":
        d = torch.rand(n, DIM).requires_grad_()
        y = torch.ones(n, DIM) - 2 * (torch.rand(n, DIM) < 0.5).float()
        out[OURS] = _step(lambda: LF.hinge_embedding_loss(d, y), [d])
        out["torch.nn.functional"] = _step(lambda: F.hinge_embedding_loss(d, y), [d])
    elif case == "triplet_margin_with_distance":
        p, q = (torch.randn(n, DIM).requires_grad_() for _ in range(2))
        out[OURS] = _step(lambda: LF.triplet_margin_with_distance_loss(x, p, q), [x, p, q])
        out["torch.nn.functional"] = _step(lambda: F.triplet_margin_with_distance_loss(x, p, q), [x, p, q])
    elif case == "cosine_similarity_loss":
        p = torch.randn(n, DIM).requires_grad_()
        out[OURS] = _step(lambda: LF.cosine_similarity_loss(x, p), [x, p])
        out["-F.cosine_similarity"] = _step(lambda: -F.cosine_similarity(x, p).mean(), [x, p])
    elif case == "center":  # no peer has it (pytorch-metric-learning does not)
        centers = torch.randn(CLASSES, DIM).requires_grad_()
        out[OURS] = _step(lambda: LF.center_loss(x, labels, centers), [x, centers])
    else:
        raise SystemExit(f"benchmarks.embedding: unknown case {case!r}")
    return out


#: pairs that compute a different quantity on purpose (their value check is reported, not failed), with the reason
DIFFERS: Dict[str, Dict[str, str]] = {
    "batch_triplet:semi_hard": {
        "pml TripletMarginMiner(semihard) + TripletMarginLoss": "pml keeps every semi-hard triplet (losskit: "
        "one negative per positive pair, TF-Addons' rule) and averages over non-zero triplets"
    },
    "supervised_contrastive": {"pml SupConLoss": "pml leaves out the paper's τ / base_temperature factor"},
    "contrastive": {"pml ContrastiveLoss": "pml's hinge is not squared and averages over non-zero pairs"},
}

#: tolerances of the value check (float32 losses over a batch)
VALUE_ATOL = 1e-6
VALUE_RTOL = 1e-4


def value_check(case: str, steps: Dict[str, Step]) -> Dict[str, Dict[str, object]]:
    """Each contender's loss against losskit's, once, before anything is timed: a ratio compares the same loss.

    The comparison is the main harness's (:func:`benchmarks.measure.value_check`), with an absolute floor:
    a float32 loss near 0 (a confident InfoNCE, ~1e-3) carries ~1e-7 of rounding.
    """
    out: Dict[str, Dict[str, object]] = {}
    for name, step in steps.items():
        if name == OURS:
            continue
        check = shared_value_check(steps[OURS], step, VALUE_RTOL, VALUE_ATOL)  # type: ignore[arg-type]
        out[name] = {
            "losskit": check["losskit"],
            "other": check["other"],
            "rel_diff": check["max_rel_diff"],
            "ok": check["ok"],
            "differs": DIFFERS.get(case, {}).get(name),
        }
    return out


CASES = [
    "batch_triplet:batch_all",
    "batch_triplet:batch_hard",
    "batch_triplet:semi_hard",
    "supervised_contrastive",
    "info_nce",
    "contrastive",
    "circle",
    "arcface",
    "cosface",
    "triplet_margin",
    "cosine_embedding",
    "margin_ranking",
]


def _peak_rss_growth(case: str, n: int, contender: str) -> float:
    """MiB the contender's step adds at its peak to the resident set of a fresh process (three steps after one).

    The warm-up step leaves out what only a first call costs: the pages of library code each kernel
    touches the first time (most of the growth at N = 256, none of it the step's memory) and
    one-time allocations (thread pools, kernels' scratch), as benchmarks.measure does.
    """
    code = (
        "import torch; torch.set_num_threads(1); "
        "from benchmarks.embedding import steps_for, _proc_status, _reset_peak; "
        f"steps = steps_for({case!r}, {n}); step = steps[{contender!r}]; step(); "
        "[setattr(t, 'grad', None) for t in step.inputs]; import gc; gc.collect(); "
        "_reset_peak(); base = _proc_status('VmRSS'); [step() for _ in range(3)]; "
        "print(_proc_status('VmHWM') - base)"
    )
    root = pathlib.Path(__file__).resolve().parent.parent
    # every block of 64 KiB or more its own mapping, returned on free: the resident set then follows the live
    # tensors (glibc's default keeps freed blocks for reuse, and the growth depended on what the warm-up left)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return float("nan")
    return float(done.stdout.strip().splitlines()[-1])


def _proc_status(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak since the last reset), MiB."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    """Reset the peak resident set (VmHWM) to the current one (Linux: write 5 to /proc/self/clear_refs)."""
    pathlib.Path("/proc/self/clear_refs").write_text("5")


def main(argv: Optional[list] = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--quick", action="store_true", help="N = 64, 3 rounds (a smoke run)")
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS / "embedding.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [64] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 3 if args.quick else args.rounds
    result: Dict[str, object] = {
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "device": "cpu",
            "dtype": "float32",
            "D": DIM,
            "classes": CLASSES,
        },
        "rounds": rounds,
        "cases": {},
    }
    for case in args.cases.split(","):
        for n in sizes:
            steps = steps_for(case, n)
            checks = value_check(case, steps)
            measured = paired(steps, rounds, args.min_time)
            measured["value_check"] = checks
            memory: Dict[str, float] = {}
            if not args.no_memory:
                memory = {name: _peak_rss_growth(case, n, name) for name in steps}
                measured["peak_rss_growth_mib"] = memory
            key = f"{case} N={n}"
            result["cases"][key] = measured  # type: ignore[index]
            ratio = cast(Dict[str, Dict[str, float]], measured["ratio_losskit_over"])
            median_s = cast(Dict[str, float], measured["seconds_median"])
            ratios = ", ".join(f"{k}: {v['median']:.3g} [{v['min']:.3g}-{v['max']:.3g}]" for k, v in ratio.items())
            seconds = ", ".join(f"{k}: {v * 1e3:.3g} ms" for k, v in median_s.items())
            mem = ", ".join(f"{k}: {v:.1f} MiB" for k, v in memory.items())
            agree = ", ".join(
                f"{k}: {'same loss' if c['ok'] else 'differs by design' if c['differs'] else 'MISMATCH'}"
                f" (rel {c['rel_diff']:.0e})"
                for k, c in checks.items()
            )
            print(
                f"{key}\n  median per call: {seconds}\n  losskit / other (median [min-max]): {ratios}"
                f"\n  values: {agree}\n  peak RSS growth: {mem}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
