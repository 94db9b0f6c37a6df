"""The attention views in a real browser: headless Debian Chromium, no network.

`make test-browser` installs Chromium (`make browser`) and runs these. Outside CI
they skip, with the reason, when /usr/bin/chromium is absent. Screenshots go
to artifacts/screenshots/ (git-ignored) so a person can look at what rendered.
"""

from __future__ import annotations

import contextlib
import os
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
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
TEXT_A = "The quick brown fox jumps over the lazy dog."
TEXT_B = "It was not amused."


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


class OfflinePage:
    """A browser page that refuses every request but `allowed` ones and records what went wrong."""

    def __init__(self, browser, allowed: tuple[str, ...] = ()):
        self.allowed = ("file:", "data:", "about:", *allowed)
        self.context = browser.new_context(viewport={"width": 1100, "height": 800})
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.remote_requests: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(message.text),
        )

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.allowed):
            route.continue_()
        else:
            self.remote_requests.append(url)
            route.abort()

    def open(self, path: Path):
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function(
            "() => document.querySelectorAll('.bertlab-attention-view[data-rendered]').length > 0",
            timeout=15_000,
        )
        return self.page

    def screenshot(self, name: str, locator=None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        if locator is None:
            self.page.screenshot(path=str(path), full_page=True)
        else:
            locator.screenshot(path=str(path))
        return path

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def pair(minilm_path):
    """A real sentence pair through bertlab's own encoder and tokenizer (MiniLM weights)."""
    from bertlab.model import BertModel
    from bertlab.tokenization import BertTokenizer
    from bertlab.viz import compute_attention

    model = BertModel.from_pretrained(minilm_path, attn_implementation="explicit")
    tokenizer = BertTokenizer.from_pretrained(minilm_path)
    return compute_attention(model.eval(), tokenizer, TEXT_A, TEXT_B)


def svg_texts(view) -> list[str]:
    return view.locator("svg text").all_text_contents()


def check_head_view(view, tokens, n_layers, n_heads):
    assert view.locator("select[id$='-layer'] option").count() == n_layers
    assert view.locator("select[id$='-filter'] option").count() == 5  # All, A->A, B->B, A->B, B->A
    texts = svg_texts(view)
    assert texts.count("[CLS]") == 2 and texts.count("[SEP]") == 4  # left and right columns
    assert set(tokens) <= set(texts)
    assert len(texts) == 2 * len(tokens)
    # One coloured square per head above the token columns, one line per head and token pair.
    assert view.locator("svg > g > rect").count() == n_heads
    assert view.locator("svg g line").count() == n_heads * len(tokens) ** 2


def check_model_view(view, tokens, n_layers, n_heads):
    assert view.locator(".attn_background").count() == n_layers * n_heads
    texts = svg_texts(view)
    assert [str(h) for h in range(n_heads)] == texts[1 : n_heads + 1]  # "Heads", then 0..11
    assert texts[n_heads + 1] == "Layers"
    assert [str(i) for i in range(n_layers)] == texts[n_heads + 2 : n_heads + 2 + n_layers]


def test_saved_views_render_offline(browser, pair, tmp_path):
    from bertlab.viz import head_view, model_view

    attentions, tokens, sentence_b_start = pair
    n_layers, n_heads = len(attentions), attentions[0].shape[1]
    head_file = head_view(
        attentions, tokens, sentence_b_start, html_action="save", path=tmp_path / "head.html"
    )
    model_file = model_view(
        attentions, tokens, sentence_b_start, html_action="save", path=tmp_path / "model.html"
    )

    offline = OfflinePage(browser)
    page = offline.open(head_file)
    view = page.locator(".bertlab-attention-view")
    check_head_view(view, tokens, n_layers, n_heads)
    assert page.locator("[id$='-notice']").count() == 0  # the "run the cell" notice is gone
    offline.screenshot("head_view_layer0.png")
    # Layer 3, then hover "fox": the colour boxes on the right show where it attends.
    view.locator("select[id$='-layer']").select_option("3")
    view.locator("svg text", has_text="fox").first.hover()
    highlighted = view.locator("#right .attentionBoxes rect").evaluate_all(
        "rects => rects.filter(r => +getComputedStyle(r).opacity > 0).length"
    )
    assert highlighted > 0
    offline.screenshot("head_view_layer3_fox.png")
    # The "A -> B" filter: sentence A's tokens on the left, sentence B's on the right.
    view.locator("select[id$='-filter']").select_option(label="Sentence A -> Sentence B")
    assert view.locator("#left text").all_text_contents() == tokens[:sentence_b_start]
    assert view.locator("#right text").all_text_contents() == tokens[sentence_b_start:]
    offline.screenshot("head_view_a_to_b.png")

    page = offline.open(model_file)
    view = page.locator(".bertlab-attention-view")
    check_model_view(view, tokens, n_layers, n_heads)
    # Click layer 2, head 5: the enlarged view names it and lists the tokens.
    page.locator("#attn_background_2_5").click(force=True)
    assert "Layer 2, Head 5" in svg_texts(view)
    assert svg_texts(view).count("fox") == 2
    offline.screenshot("model_view_l2h5.png")

    assert offline.page_errors == [] and offline.console_errors == []
    assert offline.remote_requests == []
    offline.close()


def test_several_views_and_require_js_on_one_page(browser, pair, tmp_path):
    """Three views on one page that also has an AMD loader (as classic Jupyter has)."""
    from bertlab.viz import head_view, model_view

    attentions, tokens, sentence_b_start = pair
    views = [
        head_view(attentions, tokens, sentence_b_start, html_action="return"),
        head_view(attentions, tokens, layer=5, heads=[0, 1], html_action="return"),
        model_view(attentions, tokens, display_mode="light", html_action="return"),
    ]
    fake_amd = (
        "<script>window.define = function () { throw new Error('captured by AMD'); };"
        "window.define.amd = {};</script>"
    )
    page_file = tmp_path / "three.html"
    body = fake_amd + "\n".join(view.data for view in views)
    page_file.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")

    offline = OfflinePage(browser)
    page = offline.open(page_file)
    page.wait_for_function(
        "() => document.querySelectorAll('.bertlab-attention-view[data-rendered]').length === 3"
    )
    rendered = page.locator(".bertlab-attention-view")
    check_head_view(rendered.nth(0), tokens, len(attentions), attentions[0].shape[1])
    second = rendered.nth(1)
    assert second.locator("select[id$='-layer']").input_value() == "5"
    assert svg_texts(second).count("fox") == 2
    check_model_view(rendered.nth(2), tokens, len(attentions), attentions[0].shape[1])
    assert page.evaluate("() => typeof window.jQuery === 'undefined' && !('d3' in window)")
    offline.screenshot("three_views_one_page.png")
    assert offline.page_errors == [] and offline.console_errors == []
    assert offline.remote_requests == []
    offline.close()


def test_notebook_views_render_in_its_html_export(browser, minilm_path, tmp_path):
    """Notebook 08b's saved outputs, exported by nbconvert, draw offline.

    nbconvert's page itself asks a CDN for require.js and MathJax: those requests
    are refused (as in an offline classroom) and the views must draw regardless.
    """
    import re

    import nbformat
    import transformers
    from nbconvert import HTMLExporter

    notebook = nbformat.read(ROOT / "notebooks" / "08b_attention_heads.ipynb", as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    sentence_a = re.search(r'sentence_a = "(.*?)"', source).group(1)
    sentence_b = re.search(r'sentence_b = "(.*?)"', source).group(1)
    tokenizer = transformers.BertTokenizerFast.from_pretrained(minilm_path)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(sentence_a, sentence_b)["input_ids"])

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(notebook)
    page_file = tmp_path / "08b_attention_heads.html"
    page_file.write_text(body, encoding="utf-8")

    offline = OfflinePage(browser)
    page = offline.open(page_file)
    page.wait_for_function(
        "() => document.querySelectorAll('.bertlab-attention-view[data-rendered]').length === 2"
    )
    views = page.locator(".bertlab-attention-view")
    assert views.count() == 2
    head, model = views.nth(0), views.nth(1)
    check_head_view(head, tokens, 6, 12)
    assert head.locator("select[id$='-layer']").input_value() == "2"  # layer=2 in the notebook
    check_model_view(model, tokens, 6, 12)
    offline.screenshot("notebook_08b_head_view.png", head)
    offline.screenshot("notebook_08b_model_view.png", model)

    assert offline.page_errors == []
    template_urls = (
        exporter.require_js_url,
        exporter.mathjax_url.split("?")[0],
        "https://unpkg.com",
    )
    assert all(url.startswith(template_urls) for url in offline.remote_requests), (
        offline.remote_requests
    )
    assert all("Failed to load resource" in e for e in offline.console_errors), (
        offline.console_errors
    )
    offline.close()


LAB_NOTEBOOK_CODE = """\
from bertlab.hub import minilm_dir
from bertlab.model import BertModel
from bertlab.tokenization import BertTokenizer
from bertlab.viz import show_attention

model = BertModel.from_pretrained(minilm_dir(), attn_implementation="explicit")
tokenizer = BertTokenizer.from_pretrained(minilm_dir())
show_attention(model, tokenizer, "The cat sat on the mat.", "It purred.", view="head")
show_attention(model, tokenizer, "The cat sat on the mat.", view="head", layer=3)
show_attention(model, tokenizer, "The cat sat on the mat.", "It purred.", view="model")
"""


@contextlib.contextmanager
def jupyterlab_notebook(tmp_path: Path, code: str):
    """Start JupyterLab on 127.0.0.1 with a one-cell notebook; yield (base url, notebook url)."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(
        cells=[new_code_cell(code)],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(notebook, tmp_path / "views.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            f"--port={port}", "--ip=127.0.0.1", "--IdentityProvider.token=",
            "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "jupyter lab exited at start-up"
            try:
                urllib.request.urlopen(base + "/api/status", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "jupyter lab did not start within 2 minutes"
                time.sleep(0.2)
        yield base, base + "/lab/tree/views.ipynb"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def run_the_cell(page, notebook_url: str) -> None:
    page.goto(notebook_url)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")


def test_views_render_in_jupyterlab(browser, tmp_path):
    """A notebook run in JupyterLab (which has no require.js): three views in one cell all draw."""
    with jupyterlab_notebook(tmp_path, LAB_NOTEBOOK_CODE) as (base, notebook_url):
        offline = OfflinePage(browser, allowed=(base, "ws://127.0.0.1", "blob:"))
        page = offline.page
        run_the_cell(page, notebook_url)
        page.wait_for_function(
            "() => document.querySelectorAll('.bertlab-attention-view[data-rendered]').length === 3",
            timeout=90_000,
        )
        views = page.locator(".bertlab-attention-view")
        pair_tokens = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
        pair_tokens += ["it", "pu", "##rred", ".", "[SEP]"]
        check_head_view(views.nth(0), pair_tokens, 6, 12)
        assert views.nth(1).locator("select[id$='-layer']").input_value() == "3"
        assert len(svg_texts(views.nth(1))) == 2 * 9
        check_model_view(views.nth(2), pair_tokens, 6, 12)
        offline.screenshot("jupyterlab_three_views.png")
        offline.screenshot("jupyterlab_model_view.png", views.nth(2))
        assert_all_head_columns_visible(views.nth(2), 12)
        assert offline.page_errors == []
        assert offline.remote_requests == []
        assert not [e for e in offline.console_errors if "bertlab" in e or "attention" in e]
        offline.close()


def assert_all_head_columns_visible(view, n_heads: int) -> None:
    """Every head label of a model view lies inside the visible width of its output."""
    box = view.bounding_box()
    labels = view.locator("svg text").all()[1 : n_heads + 1]
    assert [label.text_content() for label in labels] == [str(h) for h in range(n_heads)]
    right_edges = [label.bounding_box()["x"] + label.bounding_box()["width"] for label in labels]
    assert max(right_edges) <= box["x"] + box["width"] + 0.5, (right_edges, box)


def test_model_view_shrinks_to_a_narrow_page(browser, pair, tmp_path):
    """bertviz draws 970 px wide: in a 700-px page all 12 head columns must still show."""
    from bertlab.viz import model_view

    attentions, tokens, sentence_b_start = pair
    path = model_view(
        attentions, tokens, sentence_b_start, html_action="save", path=tmp_path / "model.html"
    )
    offline = OfflinePage(browser)
    offline.page.set_viewport_size({"width": 700, "height": 900})
    page = offline.open(path)
    view = page.locator(".bertlab-attention-view")
    svg_box = view.locator("svg").first.bounding_box()
    assert svg_box["width"] <= 700 and svg_box["height"] < 700  # scaled, aspect kept
    assert_all_head_columns_visible(view, len(attentions[0][0]))
    page.locator("#attn_background_5_11").click(force=True)  # the last head still answers
    assert "Layer 5, Head 11" in svg_texts(view)
    offline.screenshot("model_view_700px.png")
    assert offline.page_errors == [] and offline.console_errors == []
    offline.close()


EXPLORER_CODE = """\
from bertlab.hub import minilm_dir
from bertlab.model import BertModel
from bertlab.tokenization import BertTokenizer
from bertlab.viz import attention_explorer

model = BertModel.from_pretrained(minilm_dir(), attn_implementation="explicit")
tokenizer = BertTokenizer.from_pretrained(minilm_dir())
attention_explorer(model, tokenizer, "The cat sat on the mat because it was warm.")
"""


def test_attention_explorer_is_sharp_and_fits_a_screen_in_jupyterlab(browser, tmp_path):
    """Notebook 06's explorer: picture at its own size (never stretched, twice the pixels),
    text boxes wide enough for a sentence, everything inside a 1000-pixel-high window."""
    with jupyterlab_notebook(tmp_path, EXPLORER_CODE) as (base, notebook_url):
        offline = OfflinePage(browser, allowed=(base, "ws://127.0.0.1", "blob:"))
        page = offline.page
        page.set_viewport_size({"width": 1280, "height": 1000})
        run_the_cell(page, notebook_url)
        picture = page.locator(".jp-OutputArea-output .widget-image")
        picture.wait_for(timeout=90_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('.jp-OutputArea-output .widget-image');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=90_000,
        )

        def measure():
            return picture.evaluate(
                "i => [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width,"
                " i.getBoundingClientRect().height]"
            )

        natural_width, natural_height, width, height = measure()
        assert abs(natural_width - 2 * width) <= 2 and abs(natural_height - 2 * height) <= 2
        explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
        explorer.scroll_into_view_if_needed()
        assert explorer.bounding_box()["height"] < 1000 - 100  # room for the notebook's toolbar
        text_box = explorer.locator("input[type=text]").first
        assert text_box.bounding_box()["width"] >= 600
        long_sentence = "The keys to the old wooden cabinet in the hall are on the kitchen table."
        text_box.fill(long_sentence)
        text_box.press("Enter")
        page.wait_for_function(
            f"() => document.querySelector('.jp-OutputArea-output .widget-image')"
            f".naturalWidth !== {natural_width}",
            timeout=60_000,
        )
        natural_width, natural_height, width, height = measure()
        assert abs(natural_width - 2 * width) <= 2 and height <= 560
        assert explorer.bounding_box()["height"] < 1000 - 100
        offline.screenshot("jupyterlab_attention_explorer.png", explorer)
        assert offline.page_errors == [] and offline.remote_requests == []
        offline.close()
