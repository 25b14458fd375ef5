"""The ``losskit`` command: list, info, plot, the which-loss guide and the loss lab (compare).

    losskit list [--family F]
    losskit info NAME
    losskit plot NAME [--param k=v ...] [--out FILE.png]
    losskit guide [PROBLEM]
    losskit compare [--task T] [--losses a,b(k=v)] [--epochs N] [--seeds K] [--first-seed S]
                    [--lr LR] [--tune lr] [--jobs N] [--out DIR] [--overwrite] [--resume DIR]
    losskit --version

Also ``python -m losskit``. Mistakes (an unknown name, a loss that does not fit
the task) print one message and exit with status 2, without a traceback.
"""

from __future__ import annotations

import pathlib
import re
import sys
import time
from typing import Any, Dict, List, Optional, cast

try:
    import typer
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - the cli extra is missing
    raise SystemExit(f"the losskit command needs the cli extra: pip install 'losskit[cli]' ({exc})") from None

from ._core.registry import all_specs, available, describe, get_class
from ._core.rst import doc_sections, rst_to_text

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="losskit: every loss for PyTorch, verified — and a lab to pick one.",
)
# piped output (CI logs, files) gets a wide console instead of rich's 80 columns, so tables do not fold
console = Console(width=None if sys.stdout.isatty() else 140)


def verified_against() -> Dict[str, str]:
    """What each loss's numbers are verified against, read from the declarations (``references=``)."""
    return {spec.name: ", ".join(spec.references) for spec in all_specs() if spec.references}


def __getattr__(name: str) -> object:
    # VERIFIED_AGAINST is computed on first use: reading the declarations imports torch, which
    # `losskit --help` and `--version` do not need
    if name == "VERIFIED_AGAINST":
        return verified_against()
    raise AttributeError(f"module 'losskit.cli' has no attribute {name!r}")


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


def _resolve(name: str):
    try:
        return get_class(name)
    except ValueError as exc:
        _fail(str(exc).replace("losskit.get_class: ", ""))


@app.command("list")
def list_losses(family: Optional[str] = typer.Option(None, "--family", "-f", help="only this family")) -> None:
    """A table of every registered loss: name, family, aliases, summary."""
    rows = _catalogue()
    families = sorted({row["family"] for row in rows})
    if family is not None and family not in families:
        _fail(f"unknown family {family!r}; expected one of {', '.join(families)}")
    rows = [row for row in rows if family is None or row["family"] == family]
    table = Table(title=f"losskit — {len(rows)} losses" + (f" ({family})" if family else ""))
    for col in ("name", "family", "aliases", "summary"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["family"], row["aliases"], row["summary"])
    console.print(table, markup=False)


def _catalogue() -> List[Dict[str, str]]:
    """The rows of ``losskit list``, from a cache written the first time, so later calls need not import torch.

    The cache is keyed by losskit's version and the size and modification
    time of every file of the installed package, so an upgrade or an edit
    rebuilds it; it lists the losses losskit ships (not ones a program
    declares at run time). Failing to read or write the cache only costs time.
    """
    import hashlib
    import json
    import os

    from ._version import __version__

    package = pathlib.Path(__file__).resolve().parent
    fingerprint = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        fingerprint.update(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    cache_home = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    cache = cache_home / "losskit" / f"list-{fingerprint.hexdigest()[:16]}.json"
    try:
        return list(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    rows = []
    for name in available():
        spec = describe(name)
        aliases = ", ".join((*spec.aliases, spec.module_name))
        rows.append({"name": name, "family": spec.family, "aliases": aliases, "summary": rst_to_text(spec.summary)})
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(rows))
        os.replace(partial, cache)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass
    return rows


@app.command()
def info(name: str = typer.Argument(..., help="a loss name, alias or class name")) -> None:
    """The formula, roles, hyperparameters, reductions, capabilities and references of a loss (its declaration)."""
    _resolve(name)
    spec = describe(name)
    doc = doc_sections(spec.functional.__doc__)
    console.rule(f"[bold]{spec.name}[/]  —  losskit.functional.{spec.functional.__name__} / losskit.{spec.module_name}")
    console.print(doc["summary"], markup=False, highlight=False)
    if doc["formula"]:
        console.print("\n[bold]Formula[/]")
        console.print(doc["formula"], markup=False, highlight=False)
    roles = Table(title="Inputs (positional, in order)", title_justify="left")
    for col in ("role", "shape", "differentiable"):
        roles.add_column(col)
    args = doc_sections(spec.functional.__doc__).get("Args", "")
    arg_text = {m.group(1): m.group(2) for m in re.finditer(r"^(\w+):\s*(.*(?:\n {2,}.*)*)", args, re.M)}
    for role in spec.roles:
        shape = " ".join(arg_text.get(role.name, role.shape).split())
        roles.add_row(role.name, shape, "yes" if role.differentiable else "no")
    console.print(roles)
    hparams = Table(title="Hyperparameters (module constructor and functional keywords)", title_justify="left")
    for col in ("name", "default", "accepts", "meaning"):
        hparams.add_column(col, overflow="fold")
    for h in spec.hparams:
        hparams.add_row(h.name, repr(h.default), h.check.text, rst_to_text(h.doc))
    for call in spec.call_kwargs:
        hparams.add_row(call, "None", "per call (forward keyword)", " ".join(arg_text.get(call, "").split()))
    console.print(hparams)
    console.print("[bold]Reductions[/]: " + (", ".join(spec.reductions) or "none (the loss is returned as computed)"))
    console.print("[bold]Capabilities[/]: " + ", ".join(sorted(spec.capabilities)))
    if doc.get("Returns"):
        console.print("\n[bold]Returns[/]")
        console.print(doc["Returns"], markup=False, highlight=False)
    console.print(
        "\n[bold]Registry names[/]: " + ", ".join((spec.name, *spec.aliases, spec.module_name)), highlight=False
    )
    if doc.get("Reference"):
        console.print("\n[bold]References[/]")
        console.print(doc["Reference"], markup=False, highlight=False)
    console.print(
        "\n[bold]Verified against[/]: " + (", ".join(spec.references) or "its loss_db entry"), highlight=False
    )


def _parse_params(pairs: List[str]) -> Dict[str, object]:
    from .lab.compare import _value

    out = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"--param takes key=value; got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = _value(value)
    return out


@app.command()
def plot(
    name: str = typer.Argument(..., help="a loss name"),
    param: List[str] = typer.Option([], "--param", "-p", help="a fixed hyperparameter, key=value (repeatable)"),
    out: Optional[pathlib.Path] = typer.Option(None, "--out", "-o", help="PNG file (default: NAME.png)"),
) -> None:
    """Plot the loss and its gradient, with a shape parameter's values overlaid where the loss has one."""
    from .lab.curves import plot_loss

    cls = _resolve(name)
    params = _parse_params(param)
    path = out or pathlib.Path(f"{cls.name}.png")
    try:
        plot_loss(cls.name, params, path)
    except (TypeError, ValueError) as exc:
        _fail(f"cannot plot {cls.name} with {params}: {exc}")
    console.print(f"wrote {path}")


@app.command()
def guide(
    problem: Optional[str] = typer.Argument(
        None, help="a problem (or the start of one): regression-outliers, imbalanced, noisy-labels, ..."
    ),
) -> None:
    """Which loss to try first for a problem, and why; the lab task that tests the advice and its latest verdict."""
    from . import guide as advice

    verdicts = advice.load_verdicts()
    if problem is None:
        table = Table(title="losskit guide — which loss for which problem (losskit guide PROBLEM for the details)")
        for col in ("problem", "key", "try first", "lab task"):
            table.add_column(col, overflow="fold")
        for p in advice.PROBLEMS:
            first = ", ".join(c.loss for c in advice.choices(p))
            table.add_row(p.title, p.key, first, p.lab_task or "—")
        console.print(table, markup=False)
        return
    try:
        chosen = advice.find(problem)
    except ValueError as exc:
        _compare_error(str(exc).replace("losskit guide: ", ""))
        return
    console.rule(f"[bold]{chosen.title}[/]  —  losskit guide {chosen.key}")
    console.print(chosen.situation, markup=False, highlight=False)
    for heading, which in (("Try first", "try_first"), ("Then", "then")):
        picks = advice.choices(chosen, which)
        if picks:
            console.print(f"\n[bold]{heading}[/]")
            for c in picks:
                console.print(f"  • lk.{c.call}", markup=False, highlight=False)
                console.print(f"      {c.why}", markup=False, highlight=False)
    if chosen.avoid:
        console.print("\n[bold]Avoid[/]: ", end="")
        console.print(chosen.avoid, markup=False, highlight=False)
    console.print("\n[bold]Lab task[/]: ", end="")
    console.print(advice.lab_line(chosen), markup=False, highlight=False)
    console.print("[bold]Latest verdict[/]: ", end="")
    console.print(advice.verdict_line(chosen, verdicts), markup=False, highlight=False)


def _compare_error(message: str, code: int = 2) -> None:
    """One line, whatever the message holds: no rich markup read from it, no folding at the console width."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=code)


def _whole_number(text: Optional[str], option: str) -> Optional[int]:
    """``"60"`` or ``"6e1"`` -> 60; the range is checked by the lab, so its messages are the same for the Python API."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():  # also NaN and inf
        _compare_error(f"{option} takes a whole number; got {text!r}")
    if abs(value) >= 2**53:  # 1e23 is "whole" only because floats lose the digits; no setting is near this
        _compare_error(f"{option} is far out of range; got {text!r}")
    return int(value)


def _real_number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        _compare_error(f"{option} takes a number; got {text!r}")
        raise  # unreachable: _compare_error exits


@app.command()
def compare(
    task: str = typer.Option(
        "imbalanced-digits",
        "--task",
        "-t",
        help="imbalanced-digits | noisy-regression | noisy-labels | rare-event | small-objects | open-set-retrieval",
    ),
    losses: Optional[str] = typer.Option(
        None, "--losses", "-l", help="comma-separated: name or name(key=value,...); each once"
    ),
    # numbers are read as text and checked here, so a bad value is one line, like every other mistake
    epochs: Optional[str] = typer.Option(
        None, "--epochs", "-e", metavar="N", help="training epochs, 1-10000 (default: the task's)"
    ),
    seeds: str = typer.Option("3", "--seeds", "-s", metavar="K", help="runs per loss, 1-1000"),
    first_seed: str = typer.Option(
        "0",
        "--first-seed",
        "--seed-offset",
        metavar="S",
        help="the seeds are S, S+1, ..., S+K-1: use disjoint blocks to add runs",
    ),
    out: Optional[pathlib.Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="directory for the results, checked before training (default: a new losskit-results/<task>-<time>/)",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace results already in --out (refused without it)"),
    lr: Optional[str] = typer.Option(
        None, "--lr", metavar="LR", help="AdamW learning rate, positive (default: the task's, 3e-3 for most)"
    ),
    tune: Optional[str] = typer.Option(
        None, "--tune", metavar="lr", help="lr: choose each run's learning rate from 1e-3, 3e-3, 1e-2 on validation"
    ),
    jobs: str = typer.Option("1", "--jobs", "-j", metavar="N", help="runs at once, one torch thread each"),
    resume: Optional[pathlib.Path] = typer.Option(
        None, "--resume", metavar="DIR", help="complete an interrupted comparison in DIR (its settings are kept)"
    ),
    data: Optional[pathlib.Path] = typer.Option(
        None, "--data", metavar="FILE.npz", help="your own data: arrays X (N, D), y (N,) and kind (instead of --task)"
    ),
    sweep: bool = typer.Option(
        False, "--sweep", help="noisy-regression at 0/10/20/40% outliers, one directory each, and a summary"
    ),
) -> None:
    """Train the same small model with each loss on a bundled dataset and rank the losses, with a verdict.

    Protocol: each seed splits the data into train / validation / test; each run keeps the epoch (and with
    --tune lr the learning rate) with the best validation metric and is scored once on the test set. Losses are
    compared pairwise on the same seeds (paired t-tests against the best, Holm-corrected); "1=" marks the losses
    that cannot be told from the best.

    Each finished run is appended to DIR/runs.jsonl; Ctrl-C writes the partial results (results.json
    "interrupted": true) and --resume DIR completes them.
    """
    # imported here, not at the top: they pull in torch, scikit-learn and matplotlib, which --help does not need
    from .lab import report
    from .lab.compare import LabError, plan_compare, plan_from_json
    from .lab.tasks import sweep_tasks, task_from_npz

    # every check, the output directory included, before the first epoch: a mistake costs no training
    done: List[Any] = []
    n_jobs = cast(int, _whole_number(jobs, "--jobs"))
    plans = []
    try:
        if resume is not None:
            recorded, done = report.read_log(resume)
            plans = [(plan_from_json(recorded, jobs=n_jobs), resume)]
        else:
            chosen: Any = task
            if data is not None:
                try:
                    chosen = task_from_npz(data)
                except ValueError as exc:
                    raise LabError(str(exc)) from None
            settings = dict(
                epochs=_whole_number(epochs, "--epochs"),
                seeds=cast(int, _whole_number(seeds, "--seeds")),  # never None: the option has a default
                first_seed=cast(int, _whole_number(first_seed, "--first-seed")),
                lr=None if lr is None else _real_number(lr, "--lr"),
                tune=tune,
                jobs=n_jobs,
            )
            base = plan_compare(chosen, losses, **settings)  # type: ignore[arg-type]
            root = report.default_out_dir(base.task.name) if out is None else out
            if sweep:
                try:
                    variants = sweep_tasks(base.task)
                except ValueError as exc:
                    raise LabError(str(exc)) from None
                report.check_out_dir(root, overwrite=overwrite)
                for variant in variants:
                    plans.append((plan_compare(variant, losses, **settings), root / variant.name))  # type: ignore[arg-type]
            else:
                plans = [(base, root)]
            for _, directory in plans:
                report.check_out_dir(directory, overwrite=overwrite)
    except LabError as exc:
        _compare_error(str(exc))
    results = []
    for plan, directory in plans:
        result = _compare_one(plan, directory, overwrite, done, resume is not None)
        results.append(result)
        if result.interrupted:
            console.print(f"interrupted: resume with  losskit compare --resume {directory}", soft_wrap=True)
            raise typer.Exit(code=130)
    if sweep:
        console.print(report.sweep_table(results))
        files = report.write_sweep(results, cast(pathlib.Path, root))
        console.print("wrote " + ", ".join(str(f) for f in files), soft_wrap=True)


def _compare_one(plan: Any, out: pathlib.Path, overwrite: bool, done: List[Any], resuming: bool) -> Any:
    """Train one checked plan into ``out`` with a progress bar; print the table and the verdict; write the files."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .lab import report
    from .lab.compare import LabError, run_plan

    log = out / "runs.jsonl" if resuming else report.start_log(out, plan.to_json(), overwrite=overwrite)
    start = time.perf_counter()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        total = len(plan.specs) * len(plan.seeds)
        bar = progress.add_task(f"{plan.task.name}: training", total=total, completed=len(done))
        try:
            result = run_plan(
                plan,
                progress=lambda label: progress.update(bar, advance=1, description=f"{plan.task.name}: {label}"),
                on_run=lambda run: report.append_run(log, run),
                done=done,
            )
        except LabError as exc:
            progress.stop()
            _compare_error(f"{exc} (the finished runs are in {log})")
    if result.runs:
        console.print(report.table(result))
    console.print(f"[bold]Verdict:[/] {escape(result.verdict()['text'])}")
    try:
        files = report.write(result, out, overwrite=True)  # the directory was checked (or is being resumed)
    except (LabError, OSError) as exc:  # the table above still has the numbers
        _compare_error(f"could not write the results to {out}: {exc}", code=1)
    console.print(
        f"{len(result.runs)} runs in {time.perf_counter() - start:.1f} s; wrote "
        + ", ".join(str(f) for f in [log, *files]),
        soft_wrap=True,
    )
    return result


def _version() -> str:
    """The installed distribution's version; the package's ``__version__`` when it is not installed (a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("losskit")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        console.print(f"losskit {_version()}", highlight=False, markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """losskit: every loss for PyTorch, verified — and a lab to pick one."""
    # the callback exists for --version only: eager, so it answers before any command is parsed.
    # `losskit compare` (the lab, scikit-learn, matplotlib) is imported inside the command, not here.


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
