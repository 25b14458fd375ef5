"""The ``losskit`` command: list, info, plot and the loss lab (compare).

    losskit list [--family F]
    losskit info NAME
    losskit plot NAME [--param k=v ...] [--out FILE.png]
    losskit compare [--task T] [--losses a,b(k=v)] [--epochs N] [--seeds K] [--out DIR]

Also ``python -m losskit``. Mistakes (an unknown name, a loss that does not fit
the task) print one message and exit with status 2, without a traceback.
"""
from __future__ import annotations

import pathlib
import re
import sys
import time
from typing import Dict, List, Optional

try:
    import typer
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - the cli extra is missing
    raise SystemExit(f"the losskit command needs the cli extra: pip install 'losskit[cli]' ({exc})")

from ._core.registry import all_specs, available, describe, get_class
from ._core.rst import doc_sections, rst_to_text

app = typer.Typer(add_completion=False, no_args_is_help=True, help="losskit: every loss for PyTorch, verified — and a lab to pick one.")
# piped output (CI logs, files) gets a wide console instead of rich's 80 columns, so tables do not fold
console = Console(width=None if sys.stdout.isatty() else 140)

#: what each loss's numbers are verified against, read from the declarations (``references=``)
VERIFIED_AGAINST: Dict[str, str] = {spec.name: ", ".join(spec.references) for spec in all_specs() if spec.references}


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
    try:
        names = available(family=family)
    except ValueError as exc:
        _fail(str(exc).replace("losskit.available: ", ""))
    table = Table(title=f"losskit — {len(names)} losses" + (f" ({family})" if family else ""))
    for col in ("name", "family", "aliases", "summary"):
        table.add_column(col, overflow="fold")
    for name in names:
        spec = describe(name)
        table.add_row(name, spec.family, ", ".join((*spec.aliases, spec.module_name)), rst_to_text(spec.summary))
    console.print(table, markup=False)


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
    console.print("\n[bold]Registry names[/]: " + ", ".join((spec.name, *spec.aliases, spec.module_name)), highlight=False)
    if doc.get("Reference"):
        console.print("\n[bold]References[/]")
        console.print(doc["Reference"], markup=False, highlight=False)
    console.print("\n[bold]Verified against[/]: " + (", ".join(spec.references) or "its loss_db entry"), highlight=False)


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
def compare(
    task: str = typer.Option("imbalanced-digits", "--task", "-t", help="imbalanced-digits | noisy-regression"),
    losses: Optional[str] = typer.Option(None, "--losses", "-l", help="comma-separated: name or name(key=value,...)"),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", help="training epochs (default: 60 classification, 80 regression)"),
    seeds: int = typer.Option(3, "--seeds", "-s", help="runs per loss"),
    out: pathlib.Path = typer.Option(pathlib.Path("losskit-results"), "--out", "-o", help="directory for results.json/.csv/.png"),
    lr: float = typer.Option(3e-3, "--lr", help="Adam learning rate"),
) -> None:
    """Train the same small model with each loss on a bundled dataset and rank the losses."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .lab import report
    from .lab.compare import LabError, parse_loss_specs, run_compare
    from .lab.tasks import TASKS

    if task not in TASKS:
        _fail(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    try:
        specs = parse_loss_specs(losses if losses else TASKS[task].default_losses, TASKS[task])
    except LabError as exc:
        _fail(str(exc))
    start = time.perf_counter()
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        bar = progress.add_task(f"{task}: training", total=len(specs) * max(seeds, 0))
        try:
            result = run_compare(task, [s.text for s in specs], epochs=epochs, seeds=seeds, lr=lr,
                                 progress=lambda label: progress.update(bar, advance=1, description=f"{task}: {label}"))
        except LabError as exc:
            progress.stop()
            _fail(str(exc))
    console.print(report.table(result))
    files = report.write(result, out)
    console.print(f"{len(result.runs)} runs in {time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(f) for f in files))


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
