"""What the web book adds to Sphinx + myst-nb: the chapter map, solution links, local MathJax.

- ``{chapter-map}`` (a directive, used on the landing page) lists every notebook that exists,
  with its title (the notebook's own first heading), its run time (from the README's
  "Run times" table) and a link to its solution notebook when there is one.
- Each chapter page gets a line under its title linking to its solution notebook, and each
  solution page one linking back to its chapter.
- MathJax 2 is copied from the PyPI package ``jupyter-server-mathjax`` into ``_static/mathjax``
  and loaded on every page (widget outputs hold math too), so no page fetches it from a CDN.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# "| 08b attention heads | 12 |": a chapter number, its name, then seconds.
RUN_TIME_CELLS = re.compile(r"^(\d\d[a-z]?) .+$")


def chapter_key(stem: str) -> str:
    """'08b_attention_heads' -> '08b'."""
    return stem.split("_", 1)[0]


def readme_run_times(readme: Path = README) -> dict[str, str]:
    """Chapter -> run time in seconds, read from the README's "### Run times" table."""
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"^### Run times\n(.*?)(?=^#)", text, flags=re.M | re.S)
    if section is None:
        LOG.warning("%s: no '### Run times' section; the chapter map shows no run times", readme)
        return {}
    times = {}
    for line in section.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for name, seconds in zip(cells, cells[1:]):  # the table is two tables side by side
            match = RUN_TIME_CELLS.match(name)
            if match and seconds.isdigit():
                times[match.group(1)] = seconds
    if not times:
        LOG.warning("%s: the 'Run times' table has no '| NN name | seconds |' row", readme)
    return times


def notebook_title(path: Path) -> str:
    """The first '# ' heading of a notebook's first markdown cell, without its number."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = next((cell for cell in cells if cell["cell_type"] == "markdown"), None)
    lines = "".join(markdown["source"]).lstrip().splitlines() if markdown else []
    if lines and lines[0].startswith("# "):
        return lines[0][2:].split("·", 1)[-1].strip()
    raise ValueError(f"{path}: the first markdown cell does not start with a '# ' title")


def solution_doc(env, chapter_doc: str) -> str | None:
    """'notebooks/08_encoder' -> 'solutions/08_encoder_solutions' when that page exists."""
    name = "solutions/" + chapter_doc.split("/", 1)[1] + "_solutions"
    return name if name in env.found_docs else None


class ChapterMap(SphinxDirective):
    """A table of every chapter: number, title, run time, solutions."""

    def run(self) -> list[nodes.Node]:
        times = readme_run_times()
        self.env.note_dependency(str(README))
        rows = [
            "| # | chapter | run time (s) | solutions |",
            "|---|---|---|---|",
        ]
        for path in sorted((Path(self.env.srcdir) / "notebooks").glob("*.ipynb")):
            doc = f"notebooks/{path.stem}"
            key = chapter_key(path.stem)
            solutions = solution_doc(self.env, doc)
            rows.append(
                f"| {key} | {{doc}}`{notebook_title(path)} </{doc}>` "
                f"| {times.get(key, 'not yet measured')} "
                f"| {f'{{doc}}`solutions </{solutions}>`' if solutions else 'not yet written'} |"
            )
        container = nodes.container(classes=["bertlab-chapter-map"])
        self.state.nested_parse(
            StringList(rows, source=README.name), self.content_offset, container
        )
        return [container]


def _doc_link(target: str, text: str) -> addnodes.pending_xref:
    link = addnodes.pending_xref(
        "", refdomain="std", reftype="doc", reftarget="/" + target, refexplicit=True
    )
    link += nodes.inline(text, text)
    return link


def add_solution_links(app: Sphinx, doctree: nodes.document) -> None:
    """Under the title of a chapter, a link to its solutions; on a solution page, back."""
    docname = app.env.docname
    if docname.startswith("notebooks/"):
        partner = solution_doc(app.env, docname)
        words = ("Worked solutions to this chapter's exercises: ", "the solution notebook")
    elif docname.startswith("solutions/"):
        partner = "notebooks/" + docname.split("/", 1)[1].removesuffix("_solutions")
        partner = partner if partner in app.env.found_docs else None
        words = ("These solve the exercises of ", "the chapter")
    else:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if partner is None or section is None:
        return
    line = nodes.paragraph(classes=["bertlab-solutions-link"])
    line += nodes.Text(words[0])
    line += _doc_link(partner, words[1])
    line += nodes.Text(".")
    title_index = section.first_child_matching_class(nodes.title)
    section.insert(0 if title_index is None else title_index + 1, line)


def unlink_dead_anchors(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """A link the book cannot resolve becomes plain text instead of a dead '#...' link.

    MyST turns a link it cannot resolve (a notebook's link to a folder of the repository, to a
    notebook not written yet) into a link to an anchor of that name on the same page, and warns.
    The warning stays in the build's output; the reader gets the words without a dead link.
    """
    ids = {node_id for node in doctree.findall(nodes.Element) for node_id in node["ids"]}
    for reference in list(doctree.findall(nodes.reference)):
        if reference.get("refid") and reference["refid"] not in ids:
            reference.replace_self(nodes.inline("", "", *reference.children))


def always_reread_landing_page(app, env, added, changed, removed) -> list[str]:
    """The chapter map lists the notebooks there are: read the landing page again every build."""
    return [env.config.root_doc] if env.config.root_doc not in changed else []


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """MathJax 2.7 from the jupyter-server-mathjax package, into _static/mathjax."""
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(source, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    app.add_directive("chapter-map", ChapterMap)
    app.connect("doctree-read", add_solution_links)
    app.connect("doctree-resolved", unlink_dead_anchors)
    app.connect("env-get-outdated", always_reread_landing_page)
    app.connect("build-finished", copy_mathjax)
    # Sphinx loads MathJax only on pages with math in their prose; widget and output math too.
    app.set_html_assets_policy("always")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
