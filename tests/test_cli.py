"""The losskit command end to end: list, info, plot, compare (tiny settings), and its error messages."""

import json
import pathlib
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


@pytest.mark.parametrize(
    "name,params",
    [
        ("huber", []),
        ("focal", []),
        ("quantile", ["--param", "quantile=0.8"]),
        ("hinge", []),
        ("kl_div", []),
        ("poisson_nll", []),
        ("gaussian_nll", []),
    ],
)
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
    result = run(
        "compare",
        "--epochs",
        "2",
        "--seeds",
        "2",
        "--losses",
        "cross_entropy,focal(gamma=1),multi_margin",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["task"] == "imbalanced-digits" and len(data["runs"]) == 6
    ranks = [row["rank"] for row in data["summary"]]
    assert ranks[0] == 1 and ranks == sorted(ranks)  # the tied-best set shares rank 1
    values = [row["balanced_accuracy"] for row in data["summary"] if row["rank"] > 1]
    assert values == sorted(values, reverse=True)
    assert set(data["verdict"]["best"]) == {row["loss"] for row in data["summary"] if row["rank"] == 1}
    assert "Best:" in data["verdict"]["text"] and "Verdict:" in result.output
    csv_lines = (tmp_path / "results.csv").read_text().strip().splitlines()
    assert csv_lines[0].startswith("rank,rank_label,loss,seeds,mean,ci95_low,ci95_high") and len(csv_lines) == 4
    assert len((tmp_path / "runs.csv").read_text().strip().splitlines()) == 1 + 6
    assert len((tmp_path / "runs.jsonl").read_text().strip().splitlines()) == 6
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "focal(gamma=1)" in result.output


def test_compare_regression(tmp_path):
    result = run(
        "compare",
        "--task",
        "noisy-regression",
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--losses",
        "mse,huber(delta=0.5)",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert {row["loss"] for row in data["summary"]} == {"mse", "huber(delta=0.5)"}
    assert all(row["mae"] > 0 for row in data["summary"])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--task", "mnist"], "unknown task 'mnist'"),
        (["--losses", "focl"], "unknown loss 'focl'"),
        (["--losses", "mse"], "does not fit the classification task"),
        (["--task", "noisy-regression", "--losses", "cross_entropy"], "does not fit the regression task"),
        (
            ["--losses", "huber(delta=-1)", "--task", "noisy-regression", "--epochs", "1", "--seeds", "1"],
            "delta must be in",
        ),
        (["--seeds", "0"], "--seeds must be at least 1"),
    ],
)
def test_compare_errors_are_clean(args, message, tmp_path):
    result = run("compare", *args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_python_dash_m():
    out = subprocess.run(
        [sys.executable, "-m", "losskit", "list", "--family", "distribution"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "kl_div" in out.stdout


# --- the lab hardening: user errors, output directory, --version, seeds, best-validation-epoch reporting ---


@pytest.fixture
def no_training(monkeypatch):
    """Make any training fail loudly: the checks under test must all happen before the first epoch."""
    from losskit.lab import compare as compare_mod

    def boom(*args, **kwargs):
        raise AssertionError("training started before the settings were checked")

    monkeypatch.setattr(compare_mod, "_train_one", boom)


def _assert_one_line_error(result, message=None):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = result.output.strip()
    assert text.startswith("error:") and "\n" not in text, text  # one line, no progress bar before it
    if message:
        assert message in text, text


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lr", "nan"], "--lr must be a positive, finite number"),
        (["--lr", "-1"], "--lr must be a positive, finite number"),
        (["--lr", "inf"], "--lr must be a positive, finite number"),
        (["--lr", "fast"], "--lr takes a number"),
        (["--epochs", "1e23"], "--epochs"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--epochs", "10000000"], "at most 10000"),
        (["--epochs", "2.5"], "--epochs takes a whole number"),
        (["--epochs", "nan"], "--epochs takes a whole number"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--seeds", "-2"], "--seeds must be at least 1"),
        (["--seeds", "1e9"], "at most 1000"),
        (["--seeds", "three"], "--seeds takes a whole number"),
        (["--first-seed", "-1"], "--first-seed must be at least 0"),
        (["--seed-offset", "4294967295", "--seeds", "2"], "--first-seed must be"),
        (["--task", "mnist"], "unknown task 'mnist'"),
        (["--losses", "focl"], "unknown loss 'focl'"),
        (["--losses", "cross_entropy,focal,cross_entropy"], "listed twice"),
        (["--losses", "ce,cross_entropy(label_smoothing=0)"], "listed twice"),
        (["--losses", "focal,focal(gamma=2.0)"], "listed twice"),
        (["--losses", "focal(gamma=abc)"], "gamma"),
        (["--losses", "focal(gamma=[red]x[/red])"], "[red]"),  # printed as written, not read as rich markup
        (["--task", "noisy-regression", "--losses", "huber(delta=-1)"], "delta must be in"),
    ],
)
def test_compare_user_errors_are_one_line_before_training(args, message, tmp_path, no_training):
    result = run("compare", *args, "--out", str(tmp_path / "out"))
    _assert_one_line_error(result, message)
    assert not (tmp_path / "out").exists()


def _unwritable_dir(tmp_path):
    import os
    import tempfile

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        fd, probe = tempfile.mkstemp(dir=locked)  # root ignores the mode bits
    except OSError:
        return locked / "out"
    os.close(fd)
    os.unlink(probe)
    if pathlib.Path("/proc/self").is_dir():  # procfs takes no new files, not even from root
        return pathlib.Path("/proc/self/losskit-out")
    pytest.skip("no directory this user cannot write to")


@pytest.mark.parametrize(
    "kind,message",
    [
        ("file", "is a file, not a directory"),
        ("under-file", "is a file, not a directory"),
        ("unwritable", "is not writable"),
    ],
)
def test_compare_bad_out_fails_before_training(kind, message, tmp_path, no_training):
    a_file = tmp_path / "results.txt"
    a_file.write_text("an earlier, unrelated file\n")
    out = {
        "file": lambda: a_file,
        "under-file": lambda: a_file / "sub",
        "unwritable": lambda: _unwritable_dir(tmp_path),
    }[kind]()
    try:
        result = run(
            "compare",
            "--task",
            "noisy-regression",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--losses",
            "mse",
            "--out",
            str(out),
        )
    finally:
        if (tmp_path / "locked").exists():  # so that pytest can clean tmp_path up
            (tmp_path / "locked").chmod(0o755)
    _assert_one_line_error(result, message)
    assert a_file.read_text() == "an earlier, unrelated file\n"


def test_compare_never_overwrites_silently(tmp_path):
    args = [
        "compare",
        "--task",
        "noisy-regression",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--losses",
        "mse",
        "--out",
        str(tmp_path),
    ]
    assert run(*args).exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(before) == {"plan.json", "runs.jsonl", "results.json", "results.csv", "runs.csv", "results.png"}
    result = run(*args[:-2], "--losses", "l1", "--out", str(tmp_path))
    _assert_one_line_error(result, "already holds results")
    assert "--overwrite" in result.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    result = run(*args[:-2], "--losses", "l1", "--out", str(tmp_path), "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)  # no temporary files
    assert json.loads((tmp_path / "results.json").read_text())["settings"]["losses"] == ["l1"]


def test_compare_reports_test_metrics_at_best_validation_epoch(tmp_path):
    result = run(
        "compare",
        "--task",
        "noisy-regression",
        "--epochs",
        "4",
        "--seeds",
        "2",
        "--losses",
        "mse,l1",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert "test metrics at the best validation epoch" in " ".join(result.output.split())  # the title may wrap
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["selection"] == "test metrics at the best validation epoch"
    for r in data["runs"]:
        assert 1 <= r["best_epoch"] <= 4 and len(r["val_curve"]) == 4 and len(r["val_mae_curve"]) == 4
        # the chosen epoch is the (first) best validation epoch
        assert r["best_epoch"] == 1 + min(range(4), key=lambda i: r["val_mae_curve"][i])
        assert r["val_mae"] == r["val_mae_curve"][r["best_epoch"] - 1]
        assert "test_curve" not in r
    assert (tmp_path / "results.csv").read_text().splitlines()[0].endswith(",best_epoch")


def test_compare_first_seed_gives_disjoint_blocks(tmp_path):
    result = run(
        "compare",
        "--task",
        "noisy-regression",
        "--epochs",
        "1",
        "--seeds",
        "2",
        "--first-seed",
        "3",
        "--losses",
        "mse",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert [r["seed"] for r in data["runs"]] == [3, 4]
    assert data["settings"]["first_seed"] == 3 and data["settings"]["seed_list"] == [3, 4]


def test_version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("losskit")
    except PackageNotFoundError:
        expected = lk.__version__
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"losskit {expected}"


def test_help_does_not_load_the_lab():
    code = (
        "import sys; from typer.testing import CliRunner; from losskit.cli import app; "
        "r1 = CliRunner().invoke(app, ['--help']); r2 = CliRunner().invoke(app, ['compare', '--help']); "
        "assert r1.exit_code == 0 and r2.exit_code == 0 and '--overwrite' in r2.output, (r1.output, r2.output); "
        "heavy = [m for m in ('losskit.lab', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
