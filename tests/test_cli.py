"""The losskit command end to end: list, info, plot, compare (tiny settings), and its error messages."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import losskit as lk
from losskit.cli import VERIFIED_AGAINST, app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_list_and_family():
    result = run("list")
    assert result.exit_code == 0
    for name in lk.available():
        assert name in result.output
    result = run("list", "--family", "regression")
    assert result.exit_code == 0 and "huber" in result.output and "cross_entropy" not in result.output
    result = run("list", "--family", "nope")
    assert result.exit_code == 2 and "unknown family" in result.output


def test_info_shows_formula_args_and_provenance():
    result = run("info", "HuberLoss")
    assert result.exit_code == 0
    for text in ("huber", "Formula", "delta", "1.0", "Verified against", "torch.nn.functional.huber_loss", "Huber, "):
        assert text in result.output, text


def test_info_unknown_name_suggests():
    result = run("info", "focl")
    assert result.exit_code == 2
    assert "unknown loss 'focl'" in result.output and "focal" in result.output
    assert "Traceback" not in result.output


def test_every_loss_has_provenance():
    assert set(lk.available()) <= set(VERIFIED_AGAINST)


@pytest.mark.parametrize("name,params", [("huber", []), ("focal", []), ("quantile", ["--param", "quantile=0.8"]),
                                         ("hinge", []), ("kl_div", []), ("poisson_nll", []), ("gaussian_nll", [])])
def test_plot_writes_png(tmp_path, name, params):
    out = tmp_path / f"{name}.png"
    result = run("plot", name, *params, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_every_registered_loss(tmp_path):
    for name in lk.available():
        out = tmp_path / f"{name}.png"
        result = run("plot", name, "--out", str(out))
        assert result.exit_code == 0, (name, result.output)
        assert out.stat().st_size > 1000


def test_compare_classification_writes_all_files(tmp_path):
    result = run("compare", "--epochs", "2", "--seeds", "2", "--losses", "cross_entropy,focal(gamma=1),multi_margin",
                 "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["task"] == "imbalanced-digits" and len(data["runs"]) == 6
    assert [row["rank"] for row in data["summary"]] == [1, 2, 3]
    values = [row["balanced_accuracy"] for row in data["summary"]]
    assert values == sorted(values, reverse=True)
    csv_lines = (tmp_path / "results.csv").read_text().strip().splitlines()
    assert csv_lines[0].startswith("rank,loss,seeds,balanced_accuracy") and len(csv_lines) == 4
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "focal(gamma=1)" in result.output


def test_compare_regression(tmp_path):
    result = run("compare", "--task", "noisy-regression", "--epochs", "2", "--seeds", "1", "--losses", "mse,huber(delta=0.5)",
                 "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert {row["loss"] for row in data["summary"]} == {"mse", "huber(delta=0.5)"}
    assert all(row["mae"] > 0 for row in data["summary"])


@pytest.mark.parametrize("args,message", [
    (["--task", "mnist"], "unknown task 'mnist'"),
    (["--losses", "focl"], "unknown loss 'focl'"),
    (["--losses", "mse"], "does not fit the classification task"),
    (["--task", "noisy-regression", "--losses", "cross_entropy"], "does not fit the regression task"),
    (["--losses", "huber(delta=-1)", "--task", "noisy-regression", "--epochs", "1", "--seeds", "1"], "delta must be in"),
    (["--seeds", "0"], "--seeds must be at least 1"),
])
def test_compare_errors_are_clean(args, message, tmp_path):
    result = run("compare", *args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "losskit", "list", "--family", "distribution"], capture_output=True, text=True)
    assert out.returncode == 0 and "kl_div" in out.stdout
