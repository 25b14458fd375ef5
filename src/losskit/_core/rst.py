"""The one renderer of docstring markup for terminals: reST roles and LaTeX maths to plain text.

``losskit info`` and ``losskit list`` print docstrings written for Sphinx /
MkDocs (``:math:`...```, ``.. math::`` blocks, double backticks). This turns
them into readable text: LaTeX commands become their Unicode symbols,
``\\frac{a}{b}`` becomes ``(a)/(b)``, roles lose their markup.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Dict, List, Optional

__all__ = ["latex_to_text", "rst_to_text", "doc_sections"]

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


def doc_sections(doc: Optional[str]) -> Dict[str, str]:
    """A Google-style docstring as plain text: summary, formula (from ``.. math::`` blocks) and named sections."""
    sections: Dict[str, List[str]] = {"summary": [], "formula": []}
    current = "summary"
    in_math = False
    for line in inspect.cleandoc(doc or "").splitlines():
        header = re.match(r"^(Args|Returns|Example|Reference|Raises|Shape):\s*$", line)
        if header:
            current, in_math = header.group(1), False
            sections[current] = []
            continue
        if line.strip() == ".. math::":
            in_math = True
            if sections["formula"]:
                sections["formula"].append("")
            continue
        if in_math and (not line.strip() or line.startswith((" ", "\t"))):
            if line.strip():
                sections["formula"].append(latex_to_text(line))
            continue
        in_math = False
        sections[current].append(line)
    out = {k: textwrap.dedent("\n".join(v)).strip() for k, v in sections.items()}
    return {k: (v if k in ("formula", "Example") else rst_to_text(v)) for k, v in out.items()}
