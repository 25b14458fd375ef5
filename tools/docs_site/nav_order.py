"""A mkdocs hook: the sidebar in reading order (home, guide, families, gallery, migration, examples, ...).

Without an explicit ``nav`` mkdocs lists the pages alphabetically, and an explicit one cannot name the
family pages, which are generated from the registry. This keeps the automatic navigation (every generated
page appears) and only orders its top level.
"""

from __future__ import annotations

from typing import Any

ORDER = ("index.md", "guide.md", "families/", "gallery.md", "migration/", "examples/", "benchmarks.md", "api/")


def _first_page(item: Any) -> str:
    while getattr(item, "children", None):
        # a section's index page (families/index.md) names it; otherwise its first page does
        item = next(
            (c for c in item.children if getattr(c, "file", None) and c.file.src_uri.endswith("index.md")),
            item.children[0],
        )
    file = getattr(item, "file", None)
    return file.src_uri if file is not None else ""


def _rank(item: Any) -> int:
    uri = _first_page(item)
    for i, prefix in enumerate(ORDER):
        if uri == prefix or (prefix.endswith("/") and uri.startswith(prefix)):
            return i
    return len(ORDER)


def on_nav(nav: Any, config: Any, files: Any) -> Any:
    nav.items.sort(key=_rank)  # stable: pages the order does not name keep mkdocs's order, last
    for section in nav.items:
        if getattr(section, "title", None) == "Api":  # the folder's name, capitalised
            section.title = "API reference"
        children = getattr(section, "children", None)
        if children:  # the section's index page first (Losses by family, Migration guides, Examples)
            children.sort(key=lambda c: 0 if getattr(c, "file", None) and c.file.src_uri.endswith("index.md") else 1)
    return nav
