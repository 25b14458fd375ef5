"""The documentation's code runs: every Python block of the examples pages and of the README.

Each page's ```python blocks are joined in order and run in a fresh interpreter (the examples import torch,
train a few steps and assert that the loss went down or stayed finite), so a renamed argument or a changed
default fails here instead of on the site. The metric-learning page runs in two gloo processes, as torchrun
would start it. The tour page must hold the README's tour verbatim.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from .distributed_launch import aborted_in_teardown, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
TIMEOUT_S = 240
#: printed after the page's last line
END_MARKER = "-- the page ran to its end --"

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> List[str]:
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


def _run(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(**extra), capture_output=True, text=True, timeout=TIMEOUT_S
    )


PAGES = sorted(p.name for p in EXAMPLES.glob("*.md") if python_blocks(p))


def test_the_examples_pages_exist() -> None:
    assert {"tour.md", "segmentation.md", "metric-learning-ddp.md", "wgan-gp.md", "lm-head.md"} <= set(PAGES)


@pytest.mark.parametrize("page", [p for p in PAGES if p != "metric-learning-ddp.md"])
def test_example_page_runs(page: str) -> None:
    code = "\n".join(python_blocks(EXAMPLES / page))
    result = _run(code)
    assert result.returncode == 0, f"{page} failed:\n{result.stdout}\n{result.stderr}"


def test_metric_learning_page_runs_under_two_gloo_processes() -> None:
    # the marker: the page's last line ran (a rank that dies after it of gloo's teardown abort still passed)
    code = "\n".join(python_blocks(EXAMPLES / "metric-learning-ddp.md")) + f"\nprint({END_MARKER!r}, flush=True)"
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT_S)
            outputs.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (code_, out, err) in enumerate(outputs):
        if not aborted_in_teardown(code_, err, done=END_MARKER in out):
            assert code_ == 0, f"rank {rank} failed:\n{out}\n{err}"


def test_metric_learning_page_runs_alone_as_one_process_group() -> None:
    code = "\n".join(python_blocks(EXAMPLES / "metric-learning-ddp.md"))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        # no torchrun variables: the page makes its own one-process group
        env={k: v for k, v in _env().items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr


def test_tour_page_is_the_readme_tour() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = re.search(r"## A tour\n\n```python\n(.*?)```", readme, re.S)
    assert tour is not None, "README.md lost its '## A tour' section"
    assert tour.group(1) in python_blocks(EXAMPLES / "tour.md")


def test_readme_python_blocks_run() -> None:
    # the "Coming from Keras" block is two columns side by side (Keras | losskit), not one program
    blocks = [b for b in python_blocks(ROOT / "README.md") if not b.startswith("# Keras ")]
    assert len(blocks) >= 3
    result = _run("\n".join(blocks))
    assert result.returncode == 0, f"README's Python blocks failed:\n{result.stdout}\n{result.stderr}"
