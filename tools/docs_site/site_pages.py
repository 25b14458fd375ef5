"""The generated pages of the documentation site, as Markdown strings and PNG bytes.

``write_site(write, root)`` calls ``write(path, content)`` for every page;
``gen_pages.py`` passes mkdocs-gen-files' writer, the tests a dict's. Each page
is derived from the registry, the docstrings, ``losskit plot``, ``peers.py``,
``losskit.guide`` and ``benchmarks/results`` — see ``gen_pages.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import peers

Writer = Callable[[str, Union[str, bytes]], None]

#: how a family is titled on the site (a family without an entry gets its name, capitalised)
FAMILY_TITLES = {
    "regression": "Regression",
    "distribution": "Distributions",
    "classification": "Classification",
    "large_vocab": "Large vocabulary",
    "sequence": "Sequences",
    "adversarial": "Adversarial training",
    "segmentation": "Segmentation",
    "detection": "Box detection",
    "embedding": "Ranking and metric learning",
}

CAPABILITY_TEXT = {
    "class_weight": "per-class `weight`",
    "sample_weight": "call-time `sample_weight`",
    "ignore_index": "`ignore_index`",
    "index_targets": "class-index targets",
    "probability_targets": "probability targets",
    "label_smoothing": "`label_smoothing`",
    "gather": "`gather=True` over `torch.distributed`",
    "double_backward": "double backward",
    "compile": "`torch.compile(fullgraph=True)`",
    "parameters": "owns learnable parameters",
}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


def family_order(families: Iterable[str]) -> List[str]:
    """The declared families in the order of ``losskit._families`` (the README's order), new ones last."""
    from losskit._core.registry import all_specs

    seen: List[str] = []
    for spec in all_specs():
        if spec.family not in seen:
            seen.append(spec.family)
    return [f for f in seen if f in set(families)]


def specs_by_family() -> Dict[str, list]:
    from losskit._core.registry import all_specs

    out: Dict[str, list] = {}
    for spec in all_specs():
        out.setdefault(spec.family, []).append(spec)
    return {family: sorted(out[family], key=lambda s: s.name) for family in family_order(out)}


# --- Markdown helpers -------------------------------------------------------------------------------------------

_MATH = re.compile(r"(\$[^$]+\$)")


def cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped (in maths as ``\\vert``, which tables cannot split)."""
    text = " ".join(str(text).split())
    parts = _MATH.split(text)
    for i, part in enumerate(parts):
        if i % 2:  # maths
            parts[i] = part.replace(r"\|", r"\Vert ").replace("|", r"\vert ")
        else:
            parts[i] = part.replace("|", r"\|")
    return "".join(parts)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: Optional[Sequence[str]] = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def code(text: Any) -> str:
    text = str(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _default_text(value: Any) -> str:
    if hasattr(value, "tolist"):
        value = value.tolist()
    return repr(value)


# --- family pages -----------------------------------------------------------------------------------------------


def _signature(spec: Any) -> str:
    roles = ", ".join(r.name for r in spec.roles)
    keywords = [f"{h.name}={_default_text(h.default)}" for h in spec.hparams]
    keywords += [f"{k}=None" for k in spec.call_kwargs]
    rest = (", *, " + ", ".join(keywords)) if keywords else ""
    return f"losskit.functional.{spec.functional.__name__}({roles}{rest})"


def _module_line(spec: Any) -> str:
    ctor = ", ".join(f"{h.name}={_default_text(h.default)}" for h in spec.hparams)
    return f"losskit.{spec.module_name}({ctor})"


def loss_section(spec: Any, picture: str) -> str:
    from losskit._core.rst import doc_sections_markdown, rst_to_markdown
    from losskit._core.spec import _arg_docs

    doc = doc_sections_markdown(spec.functional.__doc__)
    arg_docs = _arg_docs(spec.functional.__doc__)
    out = [f"## {spec.name} {{#{spec.name}}}\n"]
    out.append(f"```python\n{_signature(spec)}\n{_module_line(spec)}\n```\n")
    out.append(doc["summary"] + "\n")
    if doc["formula"]:
        out.append('??? abstract "Formula"\n')
        out.append("\n".join("    " + line if line else "" for line in doc["formula"].splitlines()) + "\n")
    names = ", ".join(code(n) for n in (spec.name, *spec.aliases, spec.module_name))
    out.append(f"**Registry names** (`losskit.get(...)`, case-insensitive): {names}\n")
    out.append("**Inputs** (positional, in order):\n")
    out.append(
        table(
            ["role", "shape and meaning", "differentiable"],
            [
                (f"`{r.name}`", rst_to_markdown(arg_docs.get(r.name) or r.shape), "yes" if r.differentiable else "no")
                for r in spec.roles
            ],
        )
    )
    if spec.hparams or spec.call_kwargs:
        out.append("**Hyperparameters** (module constructor and functional keywords):\n")
        rows = [
            (f"`{h.name}`", code(_default_text(h.default)), h.check.text, rst_to_markdown(h.doc)) for h in spec.hparams
        ]
        rows += [
            (f"`{k}`", "`None`", "per call (a `forward` keyword)", rst_to_markdown(arg_docs.get(k, "")))
            for k in spec.call_kwargs
        ]
        out.append(table(["name", "default", "accepts", "meaning"], rows))
    reductions = ", ".join(f'`"{r}"`' for r in spec.reductions) or "none (the loss is returned as computed)"
    out.append(f"**Reductions**: {reductions}\n")
    capabilities = ", ".join(CAPABILITY_TEXT.get(c, c) for c in sorted(spec.capabilities)) or "none declared"
    out.append(f"**Capabilities**: {capabilities}\n")
    verified = ", ".join(spec.references) or "its independent NumPy reference in the test battery"
    out.append(f"**Verified against** (in the test suite): {verified}\n")
    replaced = peers.replaced_by(spec.name)
    if replaced:
        items = "; ".join(f"{lib}: {', '.join(code(n) for n in names)}" for lib, names in replaced.items())
        out.append(f"**Replaces**: {items} ([migration guides](../migration/index.md))\n")
    else:
        out.append("**Replaces**: no loss of torch.nn, Keras or the peer libraries the migration guides cover\n")
    if doc.get("Returns"):
        out.append(f"**Returns**: {' '.join(doc['Returns'].split())}\n")
    if doc.get("Example"):
        out.append(f"```pycon\n{doc['Example']}\n```\n")
    if doc.get("Reference"):
        out.append(f"**Reference**: {' '.join(doc['Reference'].split())}\n")
    out.append(f"![{spec.name}: the loss and its gradient]({picture})\n")
    out.append(f"[API reference](../api/{spec.family}.md#{_api_anchor(spec)})\n")
    return "\n".join(out)


def _api_anchor(spec: Any) -> str:
    return f"{spec.functional.__module__}.{spec.functional.__name__}"


def family_page(family: str, specs: list) -> str:
    head = [
        f"# {family_title(family)}\n",
        f"{len(specs)} losses, generated from their declarations (`losskit.describe`) and docstrings. "
        f"`losskit list --family {family}` lists them in a terminal, `losskit info NAME` prints one.\n",
        table(
            ["loss", "module", "summary"],
            [(f"[`{s.name}`](#{s.name})", f"`{s.module_name}`", _summary_markdown(s)) for s in specs],
        ),
    ]
    return "\n".join(head) + "\n" + "\n".join(loss_section(s, f"../gallery/{s.name}.png") for s in specs)


def _summary_markdown(spec: Any) -> str:
    from losskit._core.rst import rst_to_markdown

    return rst_to_markdown(spec.summary)


def families_index(groups: Dict[str, list]) -> str:
    total = sum(len(v) for v in groups.values())
    out = [
        "# Losses by family\n",
        f"{total} losses in {len(groups)} families. Each family page is generated from the declarations: "
        "formula, inputs and shapes, hyperparameters with defaults, reductions, what the numbers are verified "
        "against, the torch / Keras / peer losses it replaces, and its picture.\n",
    ]
    for family, specs in groups.items():
        out.append(f"## [{family_title(family)}]({family}.md)\n")
        out.append(
            table(["loss", "summary"], [(f"[`{s.name}`]({family}.md#{s.name})", _summary_markdown(s)) for s in specs])
        )
    return "\n".join(out)


# --- gallery ----------------------------------------------------------------------------------------------------


def _picture_key(spec: Any) -> str:
    """What a loss's picture depends on: its family file, the plotting code, the package version and the libraries."""
    import sys

    import matplotlib
    import torch

    import losskit.lab.curves as curves

    digest = hashlib.sha256()
    for module_name in (spec.functional.__module__, curves.__name__, "losskit._core.module", "losskit._core.spec"):
        digest.update(Path(sys.modules[module_name].__file__ or "").read_bytes())
    digest.update(f"{spec.name}|{matplotlib.__version__}|{torch.__version__}".encode())
    return digest.hexdigest()[:20]


def cache_dir(root: Path) -> Path:
    return Path(os.environ.get("LOSSKIT_DOCS_CACHE") or root / ".cache" / "docs-gallery")


def picture(spec: Any, root: Path) -> bytes:
    """``losskit plot NAME``'s PNG, from the cache when nothing it depends on changed."""
    from losskit.lab.curves import plot_loss

    cache = cache_dir(root)
    cached = cache / f"{spec.name}-{_picture_key(spec)}.png"
    if cached.is_file():
        return cached.read_bytes()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        path = plot_loss(spec.name, {}, Path(tmp) / f"{spec.name}.png")
        data = path.read_bytes()
        for stale in cache.glob(f"{spec.name}-*.png"):
            stale.unlink(missing_ok=True)
        os.replace(path, cached)  # atomic: two builds at once (pytest-xdist workers) see one whole file
    return data


def gallery_page(groups: Dict[str, list]) -> str:
    out = [
        "# Gallery\n",
        "Every loss with its gradient, drawn at build time by the code of `losskit plot NAME` "
        "(`losskit.lab.curves`): the value and the gradient along the axis that explains the loss, with its "
        "shape parameter's values overlaid where it has one. Click a picture for the loss's entry.\n",
    ]
    for family, specs in groups.items():
        out.append(f"## {family_title(family)}\n")
        for s in specs:
            out.append(f"### {s.name} {{#{s.name}}}\n")
            out.append(f"[![{s.name}](gallery/{s.name}.png)](families/{family}.md#{s.name})\n")
    return "\n".join(out)


# --- API reference ----------------------------------------------------------------------------------------------


def api_page(family: str, specs: list) -> str:
    out = [
        f"# API: {family_title(family)}\n",
        "The functionals' docstrings, rendered by mkdocstrings. Each module class "
        "(`losskit.<Module>`) takes the functional's keyword arguments in its constructor and its "
        "positional tensors in `forward`; see the [family page](../families/" + family + ".md).\n",
    ]
    for s in specs:
        out.append(f"::: {_api_anchor(s)}\n    options:\n      heading_level: 2\n")
    return "\n".join(out)


def api_index(groups: Dict[str, list]) -> str:
    out = [
        "# API reference\n",
        "The registry and helpers, then the functionals of each family.\n",
    ]
    out += [f"- [{family_title(f)}]({f}.md)" for f in groups]
    out.append("")
    for target in (
        "losskit._core.registry.get",
        "losskit._core.registry.get_fn",
        "losskit._core.registry.get_class",
        "losskit._core.registry.describe",
        "losskit._core.registry.available",
        "losskit._core.registry.from_config",
        "losskit._core.combine.combine",
        "losskit._core.validation.set_validation",
        "losskit._core.validation.validation",
    ):
        out.append(f"::: {target}\n    options:\n      heading_level: 2\n")
    return "\n".join(out)


# --- migration --------------------------------------------------------------------------------------------------


def migration_page(library: peers.Library) -> str:
    from losskit._core.registry import describe

    out = [f"# Coming from {library.title}\n", library.intro.strip() + "\n"]
    rows = []
    for row in library.rows:
        if row.losskit:
            spec = describe(row.losskit.split("(")[0].strip())
            target = f"[`{row.losskit}`](../families/{spec.family}.md#{spec.name}) · `losskit.{spec.module_name}`"
        else:
            target = "—"
        rows.append((f"`{row.peer}`", target, row.arguments or "same", row.differences or "none"))
    out.append(table([f"{library.title}", "losskit", "arguments", "differences"], rows))
    covered = sum(1 for r in library.rows if r.losskit)
    out.append(f"\n{covered} of {len(library.rows)} {library.title} losses have a losskit equivalent.\n")
    if library.notes:
        out.append(library.notes.strip() + "\n")
    return "\n".join(out)


def migration_index() -> str:
    out = [
        "# Migration guides\n",
        "One table per library: each of its losses, the losskit loss that replaces it with the arguments to pass, "
        "and every documented difference. A loss with no equivalent says so. The tables are checked by the "
        "test suite against the libraries' own loss lists and against `losskit.describe`.\n",
        table(
            ["library", "losses", "with a losskit equivalent"],
            [
                (f"[{lib.title}]({lib.slug}.md)", len(lib.rows), sum(1 for r in lib.rows if r.losskit))
                for lib in peers.LIBRARIES
            ],
        ),
    ]
    return "\n".join(out)


# --- the which-loss guide ---------------------------------------------------------------------------------------


def guide_page(root: Path) -> str:
    from losskit import guide
    from losskit._core.registry import describe

    verdicts = guide.load_verdicts(root / "docs" / "lab-verdicts.json")
    out = [
        "# Which loss?\n",
        "A decision guide by problem: what to try first and why, and the lab task (`losskit compare --task T`) "
        "that tests the advice, with its latest recorded verdict. The same guide in a terminal: "
        "`losskit guide` (all problems) or `losskit guide PROBLEM`.\n",
        table(
            ["problem", "try first", "lab task"],
            [
                (
                    f"[{p.title}](#{p.key})",
                    ", ".join(f"`{c.loss}`" for c in guide.choices(p)),
                    f"`{p.lab_task}`" if p.lab_task else "—",
                )
                for p in guide.PROBLEMS
            ],
        ),
    ]
    for p in guide.PROBLEMS:
        out.append(f"## {p.title} {{#{p.key}}}\n")
        out.append(f"`losskit guide {p.key}`\n")
        out.append(p.situation + "\n")
        out.append("**Try first**\n")
        for c in guide.choices(p):
            spec = describe(c.loss)
            out.append(f"- [`{c.call}`](families/{spec.family}.md#{spec.name}) — {c.why}")
        out.append("")
        then = guide.choices(p, "then")
        if then:
            out.append("**Then**\n")
            for c in then:
                spec = describe(c.loss)
                out.append(f"- [`{c.call}`](families/{spec.family}.md#{spec.name}) — {c.why}")
            out.append("")
        if p.avoid:
            out.append(f"**Avoid**: {p.avoid}\n")
        out.append(f"**Lab task**: {guide.lab_line(p)}\n")
        out.append(f"**Latest verdict**: {guide.verdict_line(p, verdicts)}\n")
    out.append(
        'Verdicts are read from `docs/lab-verdicts.json` (`{"<task>": {"verdict": "...", "date": "..."}}`), '
        "written from the lab's runs; a problem without one says so.\n"
    )
    return "\n".join(out)


# --- benchmarks -------------------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}"


def _flatten(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list) and not all(isinstance(v, (int, float, str)) for v in value):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = " × ".join(map(str, value)) if isinstance(value, list) else value


def _ratio(entry: Dict[str, Any]) -> str:
    return f"{entry['median']:.2f} [{entry['min']:.2f}–{entry['max']:.2f}]"


def benchmark_section(name: str, data: Any) -> str:
    """One result file as tables: its machine and settings, then its rows (the harness's files differ in layout)."""
    out = [f"## {name}\n", f"From `benchmarks/results/{name}.json`.\n"]
    machine = {k: data[k] for k in ("meta", "machine") if isinstance(data, dict) and k in data}
    settings: Dict[str, Any] = {}
    for value in machine.values():
        _flatten("", value, settings)
    for key in ("rounds", "threads", "shape"):
        if isinstance(data, dict) and key in data:
            _flatten(key, data[key], settings)
    if settings:
        out.append("**Machine and settings**: " + "; ".join(f"{k} = {_number(v)}" for k, v in settings.items()) + "\n")
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        flat = []
        for row in data["rows"]:
            item: Dict[str, Any] = {}
            _flatten("", row, item)
            flat.append(item)
        columns: List[str] = []
        for item in flat:
            columns += [c for c in item if c not in columns]
        out.append(table(columns, [[_number(item.get(c, "")) for c in columns] for item in flat]))
    elif isinstance(data, dict) and isinstance(data.get("cases"), dict):
        rows = []
        for case, entry in data["cases"].items():
            for other, ratio in entry.get("ratio_losskit_over", {}).items():
                seconds = entry.get("seconds_median", {})
                rows.append(
                    (
                        case,
                        other,
                        _ratio(ratio),
                        _number(1e3 * seconds.get("losskit", float("nan"))),
                        _number(1e3 * seconds.get(other, float("nan"))),
                    )
                )
        out.append(table(["case", "vs", "ratio losskit / other, median [min–max]", "losskit ms", "other ms"], rows))
    elif isinstance(data, dict):
        rest = {k: v for k, v in data.items() if k not in ("meta", "machine", "rounds", "threads", "shape")}
        flat_rest: Dict[str, Any] = {}
        _flatten("", rest, flat_rest)
        out.append(table(["measure", "value"], [(k, _number(v)) for k, v in flat_rest.items()]))
    return "\n".join(out)


def benchmarks_page(root: Path) -> str:
    results = root / "benchmarks" / "results"
    out = [
        "# Benchmarks\n",
        "The harness's latest results (`python -m benchmarks`, `python -m benchmarks.segmentation`, "
        "`.detection`, `.embedding`, `.sequence`, `.large_vocab`), read from the files it wrote in "
        "`benchmarks/results/` when this site was built. Ratio = losskit time / other time; below 1 losskit "
        "is faster. Paired runs in one process, the order alternated, median with min–max over the rounds.\n",
        "**The machine**: each file records the device, torch version and threads it ran with (below). They "
        "were recorded on the project's shared 2-core x86_64 CPU machine (no GPU), loaded by other work "
        "at the time, so small ratios carry that noise; GPU rows (Liger-Kernel, cut-cross-entropy) need a "
        "GPU run.\n",
    ]
    for path in sorted(results.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            out.append(f"## {path.stem}\n\n`{path.name}` could not be read: {exc}\n")
            continue
        markdown = path.with_suffix(".md")
        if markdown.is_file():  # the harness's own table, headings moved under this page's
            text = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", markdown.read_text(), flags=re.M)
            out.append(f"## {path.stem}\n\nFrom `benchmarks/results/{markdown.name}`.\n\n{text}\n")
        else:
            out.append(benchmark_section(path.stem, data))
    return "\n".join(out)


# --- everything -------------------------------------------------------------------------------------------------


def pages(root: Path, with_pictures: bool = True) -> Dict[str, Union[str, bytes]]:
    groups = specs_by_family()
    out: Dict[str, Union[str, bytes]] = {"families/index.md": families_index(groups)}
    for family, specs in groups.items():
        out[f"families/{family}.md"] = family_page(family, specs)
        out[f"api/{family}.md"] = api_page(family, specs)
        if with_pictures:
            for s in specs:
                out[f"gallery/{s.name}.png"] = picture(s, root)
    out["api/index.md"] = api_index(groups)
    out["gallery.md"] = gallery_page(groups)
    out["migration/index.md"] = migration_index()
    for library in peers.LIBRARIES:
        out[f"migration/{library.slug}.md"] = migration_page(library)
    out["guide.md"] = guide_page(root)
    out["benchmarks.md"] = benchmarks_page(root)
    return out


def write_site(write: Writer, root: Path) -> None:
    for path, content in pages(root).items():
        write(path, content)
