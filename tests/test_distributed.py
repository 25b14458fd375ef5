"""``gather=True`` over torch.distributed: two gloo processes on CPU against one process on the concatenated batch.

Each rank holds a different number of samples (5 and 7). For every batch loss the loss on
each rank must equal the single-process loss of the whole batch, and the parameter
gradients of a model wrapped in DistributedDataParallel (which averages the ranks'
gradients) must equal the single-process gradients (rtol 1e-5). The workers run as
subprocesses with a hard timeout, so a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import pytest
import torch

from .distributed_launch import run_ranks

# a hang fails after this long; generous, because under `pytest -n 2` the ranks share 2 cores with the suite
TIMEOUT_S = 150

WORKER = r"""
import datetime, json, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
import losskit.functional as LF

rank, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.set_num_threads(1)
dist.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=90)
)
sizes = [5, 7]
start, stop = sum(sizes[:rank]), sum(sizes[: rank + 1])
g = torch.Generator().manual_seed(0)
X = torch.randn(12, 6, generator=g, dtype=torch.float64)
X2 = X + 0.3 * torch.randn(12, 6, generator=g, dtype=torch.float64)  # a second view / the keys
NEG = torch.randn(8, 6, generator=g, dtype=torch.float64)  # explicit negatives, split 3 / 5
neg_sizes = [3, 5]
labels = torch.randint(0, 3, (12,), generator=g)
torch.manual_seed(1)
base = torch.nn.Linear(6, 4).double()


def run(model, x, x2, neg, lab, case, gather):
    name, kw = case
    n, m = x.shape[0], x2.shape[0]
    z = model(torch.cat([x, x2, neg]))  # one forward per step: DDP marks each parameter once
    a, b, c = z[:n], z[n : n + m], z[n + m :]
    if name == "info_nce":
        extra = {"negatives": c} if kw.pop("with_negatives", False) else {}
        return LF.info_nce_loss(a, b, gather=gather, **kw, **extra)
    if name == "supervised_contrastive":
        use_labels = kw.pop("labels", True)
        return LF.supervised_contrastive_loss(torch.stack([a, b], 1), lab if use_labels else None, gather=gather, **kw)
    return getattr(LF, name + "_loss")(a, lab, gather=gather, **kw)


CASES = [
    ("batch_triplet", {"mining": "batch_all"}),
    ("batch_triplet", {"mining": "batch_all", "reduction": "sum"}),
    ("batch_triplet", {"mining": "batch_hard", "distance": "squared_euclidean"}),
    ("batch_triplet", {"mining": "batch_hard", "soft": True}),
    ("batch_triplet", {"mining": "semi_hard", "distance": "cosine"}),
    ("contrastive", {"neg_margin": 2.0}),
    ("contrastive", {"reduction": "sum", "distance": "cosine"}),
    ("circle", {"gamma": 16.0}),
    ("supervised_contrastive", {"temperature": 0.5}),
    ("supervised_contrastive", {"temperature": 0.5, "labels": False}),
    ("info_nce", {"temperature": 0.5}),
    ("info_nce", {"temperature": 0.5, "symmetric": True}),
    ("info_nce", {"temperature": 0.5, "with_negatives": True, "symmetric": True}),
]
report = []
nstart, nstop = sum(neg_sizes[:rank]), sum(neg_sizes[: rank + 1])
for name, kw in CASES:
    single = torch.nn.Linear(6, 4).double()
    single.load_state_dict(base.state_dict())
    expected = run(single, X, X2, NEG, labels, (name, dict(kw)), False)
    expected_grads = torch.autograd.grad(expected, list(single.parameters()))
    local = torch.nn.Linear(6, 4).double()
    local.load_state_dict(base.state_dict())
    ddp = DDP(local)
    loss = run(ddp, X[start:stop], X2[start:stop], NEG[nstart:nstop], labels[start:stop], (name, dict(kw)), True)
    loss.backward()
    grads = [p.grad for p in local.parameters()]
    report.append(
        {
            "case": f"{name} {kw}",
            "loss": float(loss),
            "expected": float(expected),
            "grad_ok": all(torch.allclose(a, b, rtol=1e-5, atol=1e-9) for a, b in zip(grads, expected_grads)),
            "max_grad_diff": max(float((a - b).abs().max()) for a, b in zip(grads, expected_grads)),
        }
    )
# "none": this rank's anchors against the global batch
none = LF.batch_triplet_loss(base(X[start:stop]), labels[start:stop], gather=True, reduction="none")
full = LF.batch_triplet_loss(base(X), labels, reduction="none")
report.append({"case": "none", "none_ok": bool(torch.allclose(none, full[start:stop]))})
dist.barrier()
dist.destroy_process_group()
with open(out, "w") as f:
    json.dump(report, f)
"""


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_gather_over_two_gloo_processes(tmp_path):
    reports = run_ranks(WORKER, tmp_path, world=2, timeout_s=TIMEOUT_S)
    for r, report in enumerate(reports):
        for row in report:
            if row["case"] == "none":
                assert row["none_ok"], f"rank {r}: 'none' is not this rank's rows of the global loss"
                continue
            assert row["loss"] == pytest.approx(row["expected"], rel=1e-5, abs=1e-12), (r, row)
            assert row["grad_ok"], (r, row)
