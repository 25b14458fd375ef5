"""The documentation site: built with ``mkdocs build --strict``, compared with the registry, driven in a browser.

The site is built once per test session: from ``$LOSSKIT_DOCS_SITE`` when ``.ci/run`` built it already, else
into a directory shared by the pytest-xdist workers (the first worker builds under a file lock, the others
reuse it). Without the docs extra (mkdocs) the site tests are skipped with that reason; without Playwright or
Debian's ``chromium`` only the browser tests are.

The browser test serves the built site on 127.0.0.1 and drives Debian's chromium through Playwright (its own
browser download cannot reach the internet here): the home page renders, the search finds "focal", a family
page shows typeset maths (no raw ``$$`` or ``\\(``) and its pictures load, and no page logs a console error
or fails a request. Set ``LOSSKIT_SCREENSHOTS_DIR`` to keep its screenshots (``docs/screenshots`` holds the
committed ones).
"""

from __future__ import annotations

import fcntl
import functools
import html.parser
import http.server
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

import losskit
from losskit import guide
from losskit._core.registry import describe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "docs_site"))
import peers  # noqa: E402

CHROMIUM = os.environ.get("LOSSKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
BUILD_TIMEOUT_S = 900


# --- the built site ---------------------------------------------------------------------------------------------


def _build(out: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.setdefault("DISABLE_MKDOCS_2_WARNING", "true")
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("LOSSKIT_DOCS_SITE")
    if prebuilt:
        path = Path(prebuilt)
        assert (path / "index.html").is_file(), f"LOSSKIT_DOCS_SITE={prebuilt} holds no built site"
        return path
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_gen_files", "pymdownx"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"the docs extra is not installed ({module} missing): pip install -e '.[docs]'")
    # one build for every xdist worker: under xdist the session's base temp's parent is shared by the workers (and
    # is this session's); without xdist that parent holds every session's base temp, so a build there would be
    # reused, stale, by later sessions: the base temp itself
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "docs-site"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (out / ".complete").is_file():
                shutil.rmtree(out, ignore_errors=True)
                _build(out)
                (out / ".complete").write_text("built\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


class _Page(html.parser.HTMLParser):
    """The ids, links and image sources of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: Set[str] = set()
        self.links: List[str] = []
        self.images: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in ("img", "script") and values.get("src"):
            self.images.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.links.append(values["href"] or "")


@functools.cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _text(path: Path) -> str:
    """A page's text without its tags (code is highlighted token by token)."""
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _html_files(site: Path) -> List[Path]:
    return sorted(site.rglob("*.html"))


def _target(site: Path, page: Path, href: str) -> Tuple[Path, str] | None:
    """The file and fragment an internal link points at; None for external links."""
    parsed = urllib.parse.urlparse(href)
    if parsed.scheme or parsed.netloc or href.startswith(("mailto:", "javascript:", "data:")):
        return None
    if not parsed.path:
        return page, parsed.fragment
    base = site if parsed.path.startswith("/") else page.parent  # 404.html links from the site's root
    path = (base / urllib.parse.unquote(parsed.path).lstrip("/")).resolve()
    if path.is_dir() or parsed.path.endswith("/"):
        path = path / "index.html"
    return path, parsed.fragment


# --- the site against the registry ------------------------------------------------------------------------------


def test_every_registered_loss_is_on_its_family_page_and_in_the_gallery(site: Path) -> None:
    gallery = _parse(site / "gallery" / "index.html")
    missing = []
    for name in losskit.available():
        spec = describe(name)
        family_page = site / "families" / spec.family / "index.html"
        assert family_page.is_file(), f"no page for the family {spec.family!r}"
        page = _parse(family_page)
        if name not in page.ids:
            missing.append(f"{name}: no section on families/{spec.family}")
        if not any(src.endswith(f"gallery/{name}.png") for src in page.images):
            missing.append(f"{name}: no picture on families/{spec.family}")
        if not any(src.endswith(f"{name}.png") for src in gallery.images):
            missing.append(f"{name}: not in the gallery")
        png = site / "gallery" / f"{name}.png"
        if not png.is_file() or not png.read_bytes().startswith(b"\x89PNG"):
            missing.append(f"{name}: gallery/{name}.png is missing or not a PNG")
    assert not missing, "\n".join(missing)


def test_family_pages_show_each_declaration(site: Path) -> None:
    text = _text(site / "families" / "classification" / "index.html")
    spec = describe("focal")
    for fact in (
        spec.module_name,
        f"losskit.functional.{spec.functional.__name__}",
        "Verified against",
        *spec.references,
        "gamma",
        "Reductions",
        "torch.nn.CrossEntropyLoss",  # the "Replaces" line of cross_entropy
        "CategoricalFocalCrossentropy",
    ):
        assert fact in text, f"{fact!r} is not on the classification page"


def test_every_internal_link_resolves(site: Path) -> None:
    broken = []
    for page in _html_files(site):
        parsed = _parse(page)
        for href in parsed.links + parsed.images:
            target = _target(site, page, href)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                broken.append(f"{page.relative_to(site)}: {href} (no file)")
            elif fragment and path.suffix == ".html" and fragment not in _parse(path).ids:
                broken.append(f"{page.relative_to(site)}: {href} (no id {fragment!r})")
    assert not broken, "\n".join(broken[:50])


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    """Offline: scripts, styles and images are the site's own (links to other sites are fine)."""
    foreign = []
    for page in _html_files(site):
        parsed = _parse(page)
        for src in parsed.images:
            if urllib.parse.urlparse(src).netloc:
                foreign.append(f"{page.relative_to(site)}: {src}")
        text = page.read_text(encoding="utf-8")
        foreign += [f"{page.relative_to(site)}: {m}" for m in re.findall(r'<link[^>]+href="(https?://[^"]+)"', text)]
    assert not foreign, "\n".join(foreign[:20])


def test_guide_page_has_every_problem_and_a_verdict_line(site: Path) -> None:
    page = _parse(site / "guide" / "index.html")
    text = (site / "guide" / "index.html").read_text(encoding="utf-8")
    verdicts = guide.load_verdicts(ROOT / "docs" / "lab-verdicts.json")
    for problem in guide.PROBLEMS:
        assert problem.key in page.ids
        if problem.lab_task:
            assert f"--task {problem.lab_task}" in text
            line = guide.verdict_line(problem, verdicts)
            assert html_escape(line) in text, line


def html_escape(text: str) -> str:
    import html as html_module

    return html_module.escape(text, quote=False)


def test_benchmarks_page_has_every_result_file_and_its_machine(site: Path) -> None:
    text = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    for result in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        assert f"benchmarks/results/{result.stem}" in text, result.name
    assert "torch 2.13.0+cpu" in text or "2.13.0+cpu" in text
    assert "threads" in text


# --- the migration tables against the peers' own loss lists -----------------------------------------------------


def _loss_classes(module_name: str) -> Set[str]:
    import torch

    module = __import__(module_name, fromlist=["_"])
    out = set()
    for name, value in vars(module).items():
        if not inspect.isclass(value) or name.startswith("_"):
            continue
        if module_name == "torch.nn":
            if name.endswith("Loss") and value.__module__.startswith("torch.nn.modules"):
                out.add(name)
        elif module_name == "keras.losses":
            import keras

            if issubclass(value, keras.losses.Loss) and value is not keras.losses.Loss:
                out.add(name)
        elif issubclass(value, torch.nn.Module):
            out.add(name)
    return out


def _from_source(package: str, relative: str, pattern: str) -> Set[str]:
    """Names exported by a package file, read from its source (for packages that do not import here)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    source = Path(list(spec.submodule_search_locations)[0]) / relative
    return set(re.findall(pattern, source.read_text(encoding="utf-8"), re.M))


def _peer_losses(library: peers.Library) -> Set[str]:
    if library.slug == "smp":  # its __init__ imports torchvision, which does not import beside torch 2.13
        return _from_source("segmentation_models_pytorch", "losses/__init__.py", r"^from \.\w+ import (\w+Loss)$")
    if library.slug == "torchvision":
        found = _from_source("torchvision", "ops/__init__.py", r"\b(\w+_loss)\b")
        return found
    assert library.module is not None
    try:
        return _loss_classes(library.module)
    except ImportError as exc:
        pytest.skip(f"{library.module} does not import here: {exc}")


@pytest.mark.parametrize("library", peers.LIBRARIES, ids=lambda lib: lib.slug)
def test_migration_table_has_a_row_for_every_peer_loss(library: peers.Library) -> None:
    rows = [r.peer for r in library.rows]
    assert len(rows) == len(set(rows)), f"duplicate rows in {library.title}"
    theirs = _peer_losses(library)
    assert theirs, f"found no losses in {library.title}"
    assert sorted(theirs - set(rows)) == [], f"{library.title} losses without a row"
    assert sorted(set(rows) - theirs) == [], f"rows for losses {library.title} does not have"


def test_migration_rows_name_registered_losses() -> None:
    registered = set(losskit.available())
    for library in peers.LIBRARIES:
        for row in library.rows:
            if row.losskit is not None:
                assert describe(row.losskit).name == row.losskit in registered, (library.title, row)


def test_replaced_by_reads_the_tables_backwards() -> None:
    assert peers.replaced_by("cross_entropy")["torch.nn"] == ["torch.nn.CrossEntropyLoss"]
    assert "FocalLoss" in peers.replaced_by("focal")["kornia"]
    assert peers.replaced_by("rmse") == {}


# --- the browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright is not installed (the docs extra): pip install -e '.[docs]'")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM} missing): apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


class _Watched:
    """A page that records console errors, uncaught exceptions and failed or 4xx/5xx requests."""

    def __init__(self, browser: object, base: str) -> None:
        self.base = base
        self.problems: List[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))

    def open(self, path: str) -> object:
        self.page.goto(self.base + path, wait_until="networkidle")
        return self.page


def _screenshot(page: object, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LOSSKIT_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # let the header's title transition finish
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    try:  # a 256-colour palette keeps the committed screenshots small (a third of the size)
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(256).save(path, optimize=True)
    except ImportError:
        pass
    return path


def test_browser_home_search_maths_pictures_and_console(browser: object, served: str, tmp_path: Path) -> None:
    watched = _Watched(browser, served)
    page = watched.open("/")
    assert "losskit" in page.title()  # type: ignore[attr-defined]
    assert page.locator("h1").first.inner_text().startswith("losskit")  # type: ignore[attr-defined]
    _screenshot(page, "home", tmp_path)

    # the search (Material's worker over search_index.json, offline) finds "focal"
    page.locator(".md-search__input").click()  # type: ignore[attr-defined]
    page.keyboard.type("focal", delay=20)  # type: ignore[attr-defined]  # key events, as a reader types
    results = page.locator(".md-search-result__item")  # type: ignore[attr-defined]
    results.first.wait_for(timeout=20_000)
    assert "focal" in page.locator(".md-search-result").inner_text().lower()  # type: ignore[attr-defined]

    # a family page: the maths typeset by the bundled KaTeX, no raw delimiters left, every picture loaded
    page = watched.open("/families/classification/")
    page.wait_for_function("document.querySelectorAll('.arithmatex .katex').length > 0", timeout=20_000)  # type: ignore[attr-defined]
    untypeset = page.evaluate(  # type: ignore[attr-defined]
        "Array.from(document.querySelectorAll('.arithmatex')).filter(e => !e.querySelector('.katex')).length"
    )
    assert untypeset == 0
    visible = page.evaluate(  # type: ignore[attr-defined]
        "(() => { const c = document.querySelector('.md-content').cloneNode(true);"
        " c.querySelectorAll('.katex-mathml, pre, code').forEach(e => e.remove()); return c.textContent; })()"
    )
    assert "$$" not in visible and "\\(" not in visible and "\\[" not in visible
    errors = page.evaluate("document.querySelectorAll('.katex-error').length")  # type: ignore[attr-defined]
    assert errors == 0, "KaTeX could not parse some maths"
    widths = page.evaluate(  # type: ignore[attr-defined]
        "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null).then(() => [i.src, i.naturalWidth])))"
    )
    assert widths, "no pictures on the family page"
    assert [src for src, width in widths if width == 0] == []
    names = set(losskit.available(family="classification"))
    assert {Path(urllib.parse.urlparse(src).path).stem for src, _ in widths} >= names
    page.locator("#focal").scroll_into_view_if_needed()  # type: ignore[attr-defined]  # a section: maths and a picture
    _screenshot(page, "family-classification", tmp_path)

    page = watched.open("/gallery/")
    widths = page.evaluate(  # type: ignore[attr-defined]
        "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null).then(() => i.naturalWidth)))"
    )
    assert len(widths) >= len(losskit.available()) and min(widths) > 0
    _screenshot(page, "gallery", tmp_path)

    for path in ("/guide/", "/migration/torch-nn/", "/api/regression/", "/benchmarks/", "/examples/wgan-gp/"):
        watched.open(path)
    assert watched.problems == [], "\n".join(watched.problems)


# --- the generator without mkdocs -------------------------------------------------------------------------------


def test_generated_pages_cover_the_registry_without_a_build() -> None:
    """The generator alone (no mkdocs): a family page and an API page per family, a section per loss."""
    import site_pages

    pages = site_pages.pages(ROOT, with_pictures=False)
    for family in losskit._core.registry.families():
        page = pages[f"families/{family}.md"]
        api = pages[f"api/{family}.md"]
        assert isinstance(page, str) and isinstance(api, str)
        for name in losskit.available(family=family):
            spec = describe(name)
            assert f"## {name} {{#{name}}}" in page
            assert f"(../gallery/{name}.png)" in page
            assert f"::: {spec.functional.__module__}.{spec.functional.__name__}" in api
            assert f"(gallery/{name}.png)" in pages["gallery.md"]
    for library in peers.LIBRARIES:
        assert f"migration/{library.slug}.md" in pages


def test_markdown_sections_keep_the_maths_for_katex() -> None:
    from losskit._core.rst import doc_sections, doc_sections_markdown

    doc = describe("focal").functional.__doc__
    markdown = doc_sections_markdown(doc)
    assert markdown["formula"].startswith("$$\n\\ell_i = ") and markdown["formula"].endswith("\n$$")
    assert "\n$$\n\\ell_i = " in markdown["summary"]  # the block also stays where the docstring has it
    assert "$\\sum_i \\ell_i / \\sum_i w_{y_i}$" in markdown["summary"]
    assert ":math:" not in markdown["summary"] and "``" not in markdown["summary"]
    assert markdown["Example"].startswith(">>> softmax_focal_loss(")
    # the terminal's rendering of the same docstring is plain text
    assert doc_sections(doc)["formula"].startswith("ℓ_i = -α_y_i")


def test_table_cells_escape_pipes_outside_and_inside_maths() -> None:
    import site_pages

    assert site_pages.cell("a | b") == "a \\| b"
    assert site_pages.cell("norm $\\|x\\|$ and $|y|$") == "norm $\\Vert x\\Vert $ and $\\vert y\\vert $"
    assert site_pages.cell("two\nlines") == "two lines"


def test_api_docstrings_become_markdown_for_mkdocstrings() -> None:
    if importlib.util.find_spec("griffe") is None:
        pytest.skip("griffe (the docs extra) is not installed")
    import griffe_rst_math

    text = griffe_rst_math._markdown(
        "Summary with :math:`x^2` and ``code``.\n\n.. math::\n    a = b\n\nExample:\n    >>> f(``1``)\n    2\n"
    )
    assert "$x^2$" in text and "`code`" in text
    assert "$$\na = b\n$$" in text
    assert "Examples:" in text and ">>> f(``1``)" in text  # doctest lines untouched
