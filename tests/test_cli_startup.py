"""The command starts quickly: ``import losskit``, ``--help``, ``--version`` and a cached ``list`` never import torch.

Issue 11 item 20. Each check runs in a fresh interpreter (the test process has torch loaded already).
"""

import json
import os
import subprocess
import sys

import pytest


def _run(code: str, tmp_path) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys, contextlib, io
{body}
print(json.dumps({{"torch": "torch" in sys.modules, "result": result}}))
"""

CLI = """
from losskit.cli import app
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    try:
        app({args!r}, standalone_mode=False)
    except SystemExit:
        pass
result = buffer.getvalue()
"""


def test_import_losskit_does_not_import_torch(tmp_path):
    probe = _run(PROBE.format(body="import losskit\nresult = losskit.__version__"), tmp_path)
    assert probe == {"torch": False, "result": probe["result"]} and probe["result"]


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_do_not_import_torch(tmp_path, args):
    probe = _run(PROBE.format(body=CLI.format(args=args)), tmp_path)
    assert not probe["torch"]
    assert ("Usage" in probe["result"]) if args == ["--help"] else probe["result"].startswith("losskit ")


def test_list_is_served_from_a_cache_after_the_first_call(tmp_path):
    first = _run(PROBE.format(body=CLI.format(args=["list"])), tmp_path)
    second = _run(PROBE.format(body=CLI.format(args=["list"])), tmp_path)
    assert first["torch"] and not second["torch"]
    assert first["result"] == second["result"] and "huber" in second["result"]
    assert list((tmp_path / "cache" / "losskit").glob("list-*.json"))


def test_lazy_package_attributes():
    import losskit as lk

    assert lk.get_class("huber") is lk.HuberLoss
    assert "HuberLoss" in dir(lk) and "HuberLoss" in lk.__all__ and "functional" in lk.__all__
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchLoss'"):
        lk.NoSuchLoss  # noqa: B018
