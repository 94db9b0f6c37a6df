"""The web book (`make book`) in a real browser: headless Debian Chromium, nothing but the book.

The module builds the book first (Sphinx reads again only the notebooks that changed), serves
build/book/ on 127.0.0.1 from a thread, and opens the landing page, every chapter and every
solution page once, refusing every request that is not for the book. The tests then check what
that visit saw: no console error, no failed or refused request, every widget drawn from its
saved state, the math typeset, links that resolve, previous/next in reading order; and, on their
own pages, notebook 08's attention views, a quiz that answers a click, and search. Screenshots
go to artifacts/screenshots/book_*.png (git-ignored) so a person can look at what rendered.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "build" / "book"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHAPTERS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))
# Reading order: the landing page, the chapters, then the solutions (the book's two toctrees).
PAGES = ["index", *(f"notebooks/{c}" for c in CHAPTERS), *(f"solutions/{s}" for s in SOLUTIONS)]

# The page is ready when MathJax has typeset it, every saved widget view is drawn and every
# attention view has run its script.
READY = """() => {
  if (!(window.MathJax && MathJax.isReady)) return false;
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  const drawn = [...document.querySelectorAll('.widget-subarea')].filter(a => a.childElementCount);
  const attention = document.querySelectorAll('.bertlab-attention-view:not([data-rendered])');
  return drawn.length === views.length && attention.length === 0;
}"""
MATHJAX_DONE = "() => new Promise(done => MathJax.Hub.Queue(() => done(true)))"
PAGE_FACTS = """() => ({
  widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  widgetPictures: document.querySelectorAll('.widget-subarea img').length,
  math: document.querySelectorAll('.math.notranslate').length,
  mathUntypeset: [...document.querySelectorAll('.math.notranslate')]
    .filter(m => !m.querySelector('.MathJax, .MathJax_Display')).length,
  mathErrors: document.querySelectorAll('.MathJax_Error, .noError, merror').length,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  previous: document.querySelector('.prev-next-area a.left-prev')?.href ?? null,
  next: document.querySelector('.prev-next-area a.right-next')?.href ?? null,
  solutionsLink: document.querySelector('p.bertlab-solutions-link a')?.href ?? null,
})"""


@dataclass
class PageVisit:
    """What one page did while it loaded: problems, and the facts the tests check."""

    problems: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports failed requests itself
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: `make browser` installs /usr/bin/chromium")
        pytest.skip("/usr/bin/chromium is absent: `make browser` installs it (Debian chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def book() -> Path:
    """build/book/, brought up to date with the notebooks as they are on disk."""
    missing = [
        name
        for name in ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the book: `make setup` installs {missing}")
        pytest.skip(f"the book's build dependencies are not installed: {missing}")
    built = subprocess.run(
        [sys.executable, str(ROOT / "book" / "build.py"), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, (
        f"book/build.py failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}"
    )
    return BOOK


@pytest.fixture(scope="module")
def site(book):
    """The book served on 127.0.0.1 by a thread; its base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(book))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


class BookTab:
    """A browser tab that lets through requests for the book only and records what went wrong."""

    def __init__(self, browser, site: str):
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _route(self, route) -> None:
        if route.request.url.startswith(self.site):
            route.continue_()
        else:
            self.problems.append(f"request outside the book: {route.request.url}")
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _request_failed(self, request) -> None:
        if request.url.startswith(self.site):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, page: str):
        """Open a page of the book ('notebooks/08_encoder') and wait until it is drawn."""
        self.page.goto(self.site + page + ".html")
        self.page.wait_for_function(READY, timeout=30_000)
        self.page.evaluate(MATHJAX_DONE)
        return self.page

    def screenshot(self, name: str, locator=None, **options) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"book_{name}.png"
        (locator or self.page).screenshot(path=str(path), **options)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def visits(browser, site) -> dict[str, PageVisit]:
    """Every page of the book opened once, in reading order."""
    tab = BookTab(browser, site)
    seen = {}
    for page in PAGES:
        tab.problems = []
        try:
            tab.open(page)
            facts = tab.page.evaluate(PAGE_FACTS)
        except Exception as error:  # a page that never gets ready is reported, not fatal
            tab.problems.append(f"not ready: {error}")
            facts = {}
        seen[page] = PageVisit(problems=tab.problems, facts=facts)
        if page == "index":
            tab.screenshot("landing", full_page=True)
        elif page == "notebooks/06_attention":
            tab.screenshot("chapter_06")
        elif page == "notebooks/01_neurons":
            tab.screenshot("widget_01", tab.page.locator(".widget-subarea").first)
    tab.close()
    return seen


def test_every_page_loads_only_from_the_book_without_errors(visits):
    problems = [f"{page}: {problem}" for page, v in visits.items() for problem in v.problems]
    assert problems == []


def test_widgets_and_math_render_on_every_page(visits):
    for page, visit in visits.items():
        facts = visit.facts
        assert facts, f"{page} never got ready: {visit.problems}"
        assert facts["mathUntypeset"] == 0, f"{page}: math left as TeX source"
        assert facts["mathErrors"] == 0, f"{page}: MathJax could not typeset some math"
    assert all(visits[f"notebooks/{c}"].facts["math"] > 0 for c in ("01_neurons", "06_attention"))
    # 01's decision-boundary widget: sliders, and its plot drawn from the saved Output widget.
    assert visits["notebooks/01_neurons"].facts["widgetViews"] > 0
    assert visits["notebooks/01_neurons"].facts["widgetPictures"] > 0


def test_previous_and_next_follow_the_reading_order(site, visits):
    urls = [site + page + ".html" for page in PAGES]
    for i, page in enumerate(PAGES):
        facts = visits[page].facts
        assert facts["previous"] == (urls[i - 1] if i > 0 else None), page
        assert facts["next"] == (urls[i + 1] if i + 1 < len(urls) else None), page


def test_each_chapter_links_its_solutions(site, visits):
    for chapter in CHAPTERS:
        solutions = f"{chapter}_solutions"
        expected = site + f"solutions/{solutions}.html" if solutions in SOLUTIONS else None
        assert visits[f"notebooks/{chapter}"].facts["solutionsLink"] == expected, chapter
    for solutions in SOLUTIONS:
        chapter = solutions.removesuffix("_solutions")
        link = visits[f"solutions/{solutions}"].facts["solutionsLink"]
        assert link == site + f"notebooks/{chapter}.html", solutions


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


def _anchors(url: str) -> set[str]:
    parser = _Anchors()
    with urllib.request.urlopen(url, timeout=30) as response:
        parser.feed(response.read().decode("utf-8", errors="replace"))
    return parser.ids


def test_every_link_within_the_book_resolves(site, visits):
    """Every link on every page to a page or file of the book is there, #anchor included."""
    targets = {link for v in visits.values() for link in v.facts["links"] if link.startswith(site)}
    anchors: dict[str, set[str]] = {}
    broken = []
    for target in sorted(targets):
        url, _, fragment = target.partition("#")
        try:
            if url not in anchors:
                anchors[url] = _anchors(url) if url.endswith(".html") else set()
        except urllib.error.HTTPError as error:
            broken.append(f"{target}: HTTP {error.code}")
            continue
        if fragment and url.endswith(".html") and fragment not in anchors[url]:
            broken.append(f"{target}: no element with id {fragment!r}")
    assert broken == []
    assert {site + page + ".html" for page in PAGES} <= set(anchors)  # every page is linked


def test_landing_page_maps_every_chapter(browser, site):
    tab = BookTab(browser, site)
    page = tab.open("index")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = page.locator(".bertlab-chapter-map tbody tr")
    assert rows.count() == len(CHAPTERS)
    for row, chapter in zip(rows.all(), CHAPTERS):
        link = row.locator("a").first
        assert link.get_attribute("href") == f"notebooks/{chapter}.html"
        # The README's run-time table has rows like "| 08b attention heads | 12 |".
        measured = re.search(rf"\| {chapter.split('_')[0]} [^|]+\| (\d+) \|", readme)
        expected = measured.group(1) if measured else "not yet measured"
        assert row.locator("td").nth(2).inner_text() == expected, chapter
    assert page.get_by_text("make lab").count() > 0
    page.set_viewport_size({"width": 1280, "height": 2400})  # the whole table, no sticky header
    tab.screenshot("chapter_map", page.locator(".bertlab-chapter-map"))
    assert tab.problems == []
    tab.close()


def test_attention_views_of_notebook_08_draw_their_svg(browser, site):
    tab = BookTab(browser, site)
    page = tab.open("notebooks/08_encoder")
    views = page.locator(".bertlab-attention-view[data-rendered]")
    assert views.count() >= 2  # a head view and a model view
    for view in views.all():
        assert view.locator("[id$='-notice']").count() == 0  # "run the cell" is gone
        assert view.locator("svg").count() > 0
        texts = view.locator("svg text").all_text_contents()
        assert "[CLS]" in texts or "Layers" in texts, texts[:20]
    head_view = page.locator(".bertlab-attention-view[data-view='head_view']").first
    head_view.scroll_into_view_if_needed()
    head_view.locator("svg text", has_text="[CLS]").first.hover()
    lines = head_view.locator("svg g line").count()
    assert lines > 0
    tab.screenshot("attention_view_08", head_view)
    model_view = page.locator(".bertlab-attention-view[data-view='model_view']").first
    tab.screenshot("model_view_08", model_view)
    assert tab.problems == []
    tab.close()


def test_a_quiz_answers_a_click_without_a_kernel(browser, site):
    """Notebook 08's quiz: each letter shows its own explanation, one of them says it is right."""
    tab = BookTab(browser, site)
    page = tab.open("notebooks/08_encoder")
    questions = page.locator(".bertlab-quiz-question")
    # A question's output, then the next one: its letter buttons above the feedback.
    areas = [
        questions.nth(i).locator(
            "xpath=ancestor::div[contains(@class,'output')][1]/following-sibling::div[1]"
        )
        for i in range(2)
    ]
    verdicts = {letter: answer(areas[0], letter) for letter in letters(areas[0])}
    assert sum(verdicts.values()) == 1, verdicts
    answer(areas[0], next(letter for letter, right in verdicts.items() if right))
    wrong = next(letter for letter in letters(areas[1]) if not answer(areas[1], letter))
    assert wrong  # question 2 now shows why a wrong answer is wrong
    questions.first.evaluate("question => question.scrollIntoView({block: 'center'})")
    top, bottom = questions.nth(0).bounding_box(), areas[1].bounding_box()
    clip = {
        "x": 0,
        "y": top["y"],
        "width": 1280,
        "height": bottom["y"] + bottom["height"] - top["y"],
    }
    tab.screenshot("quiz_08", clip=clip)
    assert tab.problems == []
    tab.close()


def letters(answer_area) -> list[str]:
    found = answer_area.locator(".widget-toggle-buttons button").all_text_contents()
    assert found[:2] == ["a", "b"], found
    return found


def answer(answer_area, letter: str) -> bool:
    """Click a letter; the explanation shown must be that letter's. True if it says right."""
    answer_area.locator(".widget-toggle-buttons button", has_text=letter).click()
    feedback = answer_area.locator(".widget-htmlmath:visible").first
    feedback.wait_for()
    text = feedback.inner_text()
    assert text.startswith(("✓ Right", "✗ Not quite")) and f"{letter})" in text, text
    return text.startswith("✓")


def test_search_finds_chapters(browser, site):
    tab = BookTab(browser, site)
    tab.page.goto(site + "search.html?q=WordPiece")
    tab.page.wait_for_function(READY, timeout=30_000)
    results = tab.page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30_000)
    hrefs = results.evaluate_all("links => links.map(a => a.href)")
    assert site + "notebooks/05_tokenization.html" in hrefs, hrefs
    tab.screenshot("search")
    assert tab.problems == []
    tab.close()
