"""Generate the site's pages from the declarations (run by mkdocs-gen-files during ``mkdocs build``).

Nothing here lists losses: every page is derived from ``losskit``'s registry
(``all_specs()``, ``describe()``), the docstrings (through
``losskit._core.rst``), ``losskit plot``'s drawing code, the peer table in
``peers.py``, the which-loss guide in ``losskit.guide`` and the benchmark
harness's result files. A loss added to a family file appears on its family
page, in the gallery, in the API reference and in the site's search on the next
build.

Pages written (virtual files, nothing lands in ``docs/``):

* ``families/index.md`` and ``families/<family>.md``: one section per loss;
* ``gallery.md`` and ``gallery/<name>.png``: ``losskit plot``'s picture of each loss;
* ``api/<family>.md``: mkdocstrings directives for each family's functionals;
* ``migration/index.md`` and ``migration/<library>.md``: the peer tables;
* ``guide.md``: the which-loss guide, with each problem's lab verdict;
* ``benchmarks.md``: the harness's latest tables with the machine they came from.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# the site documents the checkout it is built from, not whatever losskit is installed
for path in (str(ROOT / "src"), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import mkdocs_gen_files  # noqa: E402
from site_pages import write_site  # noqa: E402


def _write(path: str, content: str | bytes) -> None:
    mode = "wb" if isinstance(content, bytes) else "w"
    with mkdocs_gen_files.open(path, mode) as handle:
        handle.write(content)


write_site(_write, ROOT)
