"""A griffe extension: the docstrings' reST markup as Markdown for mkdocstrings (the API reference pages).

The functionals' docstrings are Google style with reST maths (``.. math::``
blocks, ``:math:`` roles) and double backticks, written for ``help()`` and the
terminal (``losskit info``). mkdocstrings renders Markdown, so before it parses
a docstring this rewrites the markup with ``losskit._core.rst`` — the one
renderer the CLI and the generated family pages use — into ``$$`` blocks and
``$...$`` inline maths, which the site's KaTeX typesets.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

from losskit._core.rst import rst_to_markdown


def _markdown(doc: str) -> str:
    lines = doc.splitlines()
    out = []
    in_math = False
    indent = ""
    for line in lines:
        stripped = line.strip()
        if stripped == ".. math::":
            in_math, indent = True, line[: len(line) - len(line.lstrip())]
            out += ["", indent + "$$"]
            continue
        if in_math:
            if not stripped:
                continue
            if len(line) - len(line.lstrip()) > len(indent):
                out.append(indent + stripped)
                continue
            out += [indent + "$$", ""]
            in_math = False
        if re.match(r"^\s*Example:\s*$", line):
            # griffe reads doctests only in an "Examples:" section; "Example:" would be an admonition of text
            out.append(line.replace("Example:", "Examples:"))
            continue
        out.append(line if re.match(r"^\s*>>>|^\s*\.\.\.", line) else rst_to_markdown(line))
    if in_math:
        out += [indent + "$$"]
    return "\n".join(out)


class RstMath(griffe.Extension):
    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
