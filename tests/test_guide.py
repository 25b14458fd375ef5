"""The which-loss guide (``losskit.guide``) and its terminal form, ``losskit guide [PROBLEM]``."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import losskit as lk
from losskit import guide
from losskit.cli import app

runner = CliRunner()

#: the problems issue 19 asks the guide to cover
PROBLEM_KEYS = {
    "regression-outliers",
    "imbalanced",
    "noisy-labels",
    "rare-events",
    "small-objects",
    "metric-learning",
    "boxes",
    "sequences",
    "gans",
    "large-vocab",
}


def run(*args: str, **env: str):
    return runner.invoke(app, ["guide", *args], catch_exceptions=False, env=env or None)


def test_the_guide_covers_every_problem_once() -> None:
    keys = [p.key for p in guide.PROBLEMS]
    assert len(keys) == len(set(keys))
    assert set(keys) == PROBLEM_KEYS


def test_every_problem_has_a_registered_loss_to_try_first() -> None:
    for problem in guide.PROBLEMS:
        assert guide.choices(problem), f"{problem.key}: no registered loss to try first"


def _registered_choices():
    names = set(lk.available())
    for problem in guide.PROBLEMS:
        for choice in (*problem.try_first, *problem.then):
            if choice.loss in names:
                yield problem.key, choice


@pytest.mark.parametrize("key,choice", list(_registered_choices()), ids=lambda v: getattr(v, "loss", v))
def test_each_call_names_the_loss_class_and_its_real_arguments(key: str, choice: guide.Choice) -> None:
    """``SoftmaxFocalLoss(gamma=2.0)`` must be the module of the loss it names, with keywords it takes."""
    call = ast.parse(choice.call, mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), choice.call
    cls = lk.get_class(choice.loss)
    assert call.func.id == cls.__name__, f"{key}: {choice.call} is not {cls.__name__}"
    accepted = set(inspect.signature(cls.__init__).parameters) | {h.name for h in lk.describe(choice.loss).hparams}
    for keyword in call.keywords:
        assert keyword.arg in accepted, f"{key}: {cls.__name__} takes no {keyword.arg!r}"
    assert choice.why.strip()


def test_choices_leave_out_losses_that_are_not_registered() -> None:
    problem = guide.Problem(
        "x",
        "X",
        "a situation",
        (guide.Choice("not_a_loss_yet", "NotALossYet()", "later"), guide.Choice("huber", "HuberLoss()", "now")),
    )
    assert [c.loss for c in guide.choices(problem)] == ["huber"]


def test_find_takes_a_key_or_a_unique_prefix() -> None:
    assert guide.find("imbalanced").key == "imbalanced"
    assert guide.find("  Large").key == "large-vocab"
    with pytest.raises(ValueError, match="ambiguous problem 'r'"):
        guide.find("r")  # regression-outliers, rare-events
    with pytest.raises(ValueError, match="unknown problem 'cooking'.*regression-outliers"):
        guide.find("cooking")


def test_verdicts_are_read_from_the_json_file_and_never_made_up(tmp_path: Path) -> None:
    problem = guide.find("imbalanced")
    assert guide.load_verdicts(tmp_path / "absent.json") == {}
    placeholder = guide.verdict_line(problem, {})
    assert placeholder == "[no verdict recorded yet for imbalanced-digits in docs/lab-verdicts.json]"
    path = tmp_path / "verdicts.json"
    path.write_text(json.dumps({"imbalanced-digits": {"verdict": "weighted CE leads", "date": "2026-11-28"}}))
    verdicts = guide.load_verdicts(path)
    assert guide.verdict_line(problem, verdicts) == "weighted CE leads (2026-11-28)"
    assert guide.verdict_line(guide.find("boxes"), verdicts) == "— (no lab task)"
    path.write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(ValueError, match="JSON object"):
        guide.load_verdicts(path)


def test_cli_guide_overview_lists_every_problem() -> None:
    result = run()
    assert result.exit_code == 0
    for problem in guide.PROBLEMS:
        assert problem.key in result.output
    assert "imbalanced-digits" in result.output


def test_cli_guide_problem_shows_advice_lab_task_and_verdict(tmp_path: Path) -> None:
    result = run("small-objects", LOSSKIT_LAB_VERDICTS=str(tmp_path / "none.json"))
    assert result.exit_code == 0, result.output
    assert "Segmentation with small objects" in result.output
    assert "DiceCELoss" in result.output and "Try first" in result.output
    assert "losskit compare --task small-objects" in result.output
    assert "no verdict recorded yet for small-objects" in result.output
    path = tmp_path / "verdicts.json"
    path.write_text(json.dumps({"small-objects": {"verdict": "dice_ce beats ce on small-object IoU"}}))
    result = run("small", LOSSKIT_LAB_VERDICTS=str(path))
    assert "Latest verdict: dice_ce beats ce on small-object IoU" in " ".join(result.output.split())


def test_cli_guide_unknown_problem_is_one_line_and_status_2() -> None:
    result = run("cooking")
    assert result.exit_code == 2
    assert "unknown problem 'cooking'" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
