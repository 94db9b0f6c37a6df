"""The page of `bertlab serve` in a real browser: headless Debian Chromium, every request that
does not go to the local server refused.

A person types a review and sees its label; types a sentence and sees its entities
highlighted; sends a blank text and reads the server's error. What the page shows must
equal the in-process pipeline's answer. The models are tiny random BERTs (the page's job is
to show what the model says, whatever it says). Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bertlab.checkpoints import save_folder
from bertlab.serving import ServerProcess, pipeline

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CONLL_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
REVIEW = "An utterly charming and hilarious film that reaches across time and distance."
SENTENCE = "Ada Lovelace worked with Charles Babbage in London on the Analytical Engine."


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
def folders(tmp_path_factory, tiny_config, tokenizer):
    from bertlab.tasks.classification import BertForSequenceClassification
    from bertlab.tasks.ner import BertForTokenClassification

    made = {}
    for name, model_class, labels in (
        ("classification", BertForSequenceClassification, ["negative", "positive"]),
        ("ner", BertForTokenClassification, CONLL_TAGS),
    ):
        torch.manual_seed(0)
        config = tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512,
                             id2label=dict(enumerate(labels)))  # fmt: skip
        model = model_class(config)
        torch.nn.init.normal_(model.classifier.weight, std=2.0)  # varied labels, entities
        made[name] = save_folder(tmp_path_factory.mktemp(name) / "model", model.eval(), tokenizer)
    return made


class LocalOnlyPage:
    """A page that may load from `origin` alone; it records what else it asked for and any error."""

    def __init__(self, browser, origin: str):
        self.origin = origin
        self.context = browser.new_context(viewport={"width": 1000, "height": 700})
        self.page = self.context.new_page()
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def _route(self, route):
        if route.request.url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def ask(self, text: str):
        """Type `text`, press the button, wait for the answer (or the error) to be drawn."""
        self.page.fill("#input", text)
        self.page.click("#submit")
        self.page.wait_for_function(
            "() => document.querySelector('#result').dataset.done === 'true'"
            " || !document.querySelector('#error').hidden",
            timeout=30_000,
        )

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    def close(self) -> None:
        self.context.close()


def open_page(browser, server) -> LocalOnlyPage:
    page = LocalOnlyPage(browser, server.url)
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("#form:not([hidden])", timeout=15_000)
    return page


def test_type_a_review_and_see_its_label(browser, folders):
    expected = pipeline(model=folders["classification"], device="cpu")(REVIEW)
    with ServerProcess(folders["classification"]) as server:
        page = open_page(browser, server)
        assert page.page.locator("#submit").inner_text() == "Classify"
        page.ask(REVIEW)
        assert page.page.locator("#label").inner_text() == expected["label"]
        bars = page.page.locator(".bar").all_inner_texts()
        assert len(bars) == 2 and any(f"{expected['score']:.3f}" in bar for bar in bars)
        page.screenshot("serving_classification.png")

        page.page.evaluate("document.querySelector('#result').dataset.done = ''")
        page.ask("   ")  # the browser sends it; the server's 422 message is shown
        error = page.page.locator("#error")
        assert (
            error.is_visible() and "422" in error.inner_text() and "is empty" in error.inner_text()
        )
        page.screenshot("serving_error.png")
        assert page.refused == []
        assert all("status of 422" in e for e in page.errors), page.errors  # the browser's own note
        page.close()


def test_type_a_sentence_and_see_its_entities_highlighted(browser, folders):
    expected = pipeline(model=folders["ner"], device="cpu")(SENTENCE)
    assert expected, "the test model should find some entities in the sentence"
    with ServerProcess(folders["ner"]) as server:
        page = open_page(browser, server)
        page.ask(SENTENCE)
        marks = page.page.locator("mark.entity")
        assert marks.count() == len(expected)
        for index, entity in enumerate(expected):
            mark = marks.nth(index)
            assert mark.get_attribute("data-type") == entity["entity_group"]
            shown = mark.evaluate("m => m.firstChild.textContent")  # the text, without its <sup>
            assert shown == entity["word"] == SENTENCE[entity["start"] : entity["end"]]
        # The whole sentence is still there, in order, around the highlights.
        text = page.page.locator("p.highlighted").evaluate(
            "p => [...p.childNodes].map(n => n.nodeType === 3 ? n.textContent : n.firstChild.textContent).join('')"
        )
        assert text == SENTENCE
        page.screenshot("serving_entities.png")
        assert page.refused == [] and page.errors == []
        page.close()
