"""The one renderer of docstring markup: reST roles and LaTeX maths to plain text (terminals) or Markdown (the site).

``losskit info`` and ``losskit list`` print docstrings written for Sphinx /
MkDocs (``:math:`...```, ``.. math::`` blocks, double backticks). This turns
them into readable text: LaTeX commands become their Unicode symbols,
``\\frac{a}{b}`` becomes ``(a)/(b)``, roles lose their markup. The documentation
site reads the same sections as Markdown with the maths kept as LaTeX
(``$...$`` inline, ``$$...$$`` blocks), which the site's KaTeX typesets.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Dict, List, Optional

__all__ = ["latex_to_text", "rst_to_text", "rst_to_markdown", "doc_sections", "doc_sections_markdown"]

_SYMBOLS = {
    r"\ell": "ℓ",
    r"\varepsilon": "ε",
    r"\epsilon": "ε",
    r"\alpha": "α",
    r"\beta": "β",
    r"\gamma": "γ",
    r"\delta": "δ",
    r"\lambda": "λ",
    r"\sigma": "σ",
    r"\tau": "τ",
    r"\mu": "μ",
    r"\pi": "π",
    r"\theta": "θ",
    r"\rho": "ρ",
    r"\Sigma": "Σ",
    r"\sum": "Σ",
    r"\prod": "Π",
    r"\infty": "∞",
    r"\le": "≤",
    r"\ge": "≥",
    r"\leq": "≤",
    r"\geq": "≥",
    r"\ne": "≠",
    r"\neq": "≠",
    r"\cdot": "·",
    r"\times": "×",
    r"\to": "→",
    r"\approx": "≈",
    r"\in": "∈",
    r"\notin": "∉",
    r"\|": "‖",
    r"\lVert": "‖",
    r"\rVert": "‖",
    r"\partial": "∂",
    r"\nabla": "∇",
    r"\mid": "|",
    r"\ldots": "…",
    r"\dots": "…",
    r"\;": " ",
    r"\,": " ",
    r"\!": "",
    r"\ ": " ",
    r"\qquad": "    ",
    r"\quad": "  ",
    r"\log": " log ",
    r"\exp": " exp ",
    r"\max": " max ",
    r"\min": " min ",
    r"\tanh": " tanh ",
    r"\cosh": " cosh ",
    r"\sqrt": "√",
    r"\lfloor": "⌊",
    r"\rfloor": "⌋",
}
# longest first, so \le does not eat \left and \leq
_SYMBOL_RE = re.compile("|".join(re.escape(k) for k in sorted(_SYMBOLS, key=len, reverse=True)) + r"(?![A-Za-z])")


def _strip_braces_command(text: str, command: str, fmt: str = "{}") -> str:
    pattern = re.compile(re.escape(command) + r"\{([^{}]*)\}")
    while True:
        new = pattern.sub(lambda m: fmt.format(m.group(1)), text)
        if new == text:
            return new
        text = new


def latex_to_text(tex: str) -> str:
    """LaTeX maths to readable Unicode text (good enough for a terminal, not a typesetter)."""
    text = tex
    for command in (r"\operatorname", r"\text", r"\mathrm", r"\mathbf", r"\textstyle", r"\displaystyle", r"\mathcal"):
        text = _strip_braces_command(text, command)
    text = re.sub(r"\\(textstyle|displaystyle|left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", text)
    text = re.sub(r"\\begin\{cases\}|\\end\{cases\}", "", text)
    text = text.replace(r"\\", ";").replace("&", " ")
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    # innermost groups first: sub/superscripts, then fractions, until nothing changes
    while True:
        new = re.sub(r"\^\{([^{}]*)\}", r"^(\1)", text)
        new = re.sub(r"_\{([^{}]*)\}", r"_\1", new)
        new = re.sub(r"\\[td]?frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", new)
        if new == text:
            break
        text = new
    text = text.replace("{", "").replace("}", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def rst_to_text(text: str) -> str:
    """Inline reST to plain text: ``:math:`x```, ``:func:`f```, ````code```` and *emphasis* markers."""
    text = re.sub(r":math:`([^`]*)`", lambda m: latex_to_text(m.group(1)), text)
    text = re.sub(r":(func|class|meth|attr|mod|data|obj):`~?([^`]*)`", r"\2", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    return text


def rst_to_markdown(text: str) -> str:
    """Inline reST to Markdown: ``:math:`x``` to ``$x$``, roles and double backticks to code spans."""
    text = re.sub(r":math:`([^`]*)`", lambda m: f"${m.group(1).strip()}$", text)
    text = re.sub(r":(func|class|meth|attr|mod|data|obj):`~?([^`]*)`", r"`\2`", text)
    return re.sub(r"``([^`]*)``", r"`\1`", text)


def _split_sections(doc: Optional[str], math_in_place: bool = False) -> Dict[str, List[str]]:
    """A Google-style docstring's lines by section; ``formula`` holds the ``.. math::`` blocks' LaTeX lines.

    With ``math_in_place`` each block also stays where it stands in its section, as a ``$$`` display block.
    """
    sections: Dict[str, List[str]] = {"summary": [], "formula": []}
    current = "summary"
    in_math = False

    def close_math() -> None:
        if in_math and math_in_place:
            sections[current].extend(["$$", ""])

    for line in inspect.cleandoc(doc or "").splitlines():
        header = re.match(r"^(Args|Returns|Example|Reference|Raises|Shape):\s*$", line)
        if header:
            close_math()
            current, in_math = header.group(1), False
            sections[current] = []
            continue
        if line.strip() == ".. math::":
            close_math()
            in_math = True
            if sections["formula"]:
                sections["formula"].append("")  # a blank line between two blocks
            if math_in_place:
                sections[current].extend(["", "$$"])
            continue
        if in_math and (not line.strip() or line.startswith((" ", "\t"))):
            if line.strip():
                sections["formula"].append(line.strip())
                if math_in_place:
                    sections[current].append(line.strip())
            continue
        close_math()
        in_math = False
        sections[current].append(line)
    close_math()
    return sections


def doc_sections(doc: Optional[str]) -> Dict[str, str]:
    """A Google-style docstring as plain text: summary, formula (from ``.. math::`` blocks) and named sections."""
    sections = _split_sections(doc)
    sections["formula"] = [latex_to_text(line) if line else "" for line in sections["formula"]]
    out = {k: textwrap.dedent("\n".join(v)).strip() for k, v in sections.items()}
    return {k: (v if k in ("formula", "Example") else rst_to_text(v)) for k, v in out.items()}


def doc_sections_markdown(doc: Optional[str]) -> Dict[str, str]:
    """The sections of :func:`doc_sections` as Markdown, for the documentation site.

    Each ``.. math::`` block becomes a ``$$`` display block, both where it
    stands in its section and in ``formula``; the text outside the blocks
    gets inline ``$...$`` maths and code spans.
    """
    sections = _split_sections(doc, math_in_place=True)
    blocks = "\n".join(sections.pop("formula")).split("\n\n")
    out = {k: rst_to_markdown(textwrap.dedent("\n".join(v)).strip()) for k, v in sections.items() if k != "Example"}
    out["Example"] = textwrap.dedent("\n".join(sections.get("Example", []))).strip()
    out["formula"] = "\n\n".join(f"$$\n{block.strip()}\n$$" for block in blocks if block.strip())
    return out
