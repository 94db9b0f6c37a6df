"""Close every solution notebook with its chapter's References and previous/next links.

A learner who opens `solutions/NN_topic_solutions.ipynb` on its own (GitHub, the book) should
find the papers and reference code behind the exercises without going back to the chapter, and
the way on to the neighbouring solutions. The references are copied from the chapter's own
"## References" section, so the two cannot say different things: `--check` (run by
tests/test_exercises.py) fails when a solution's closing cell is not what this script writes.

    python tools/solution_references.py           # rewrite the closing cells
    python tools/solution_references.py --check   # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "## References"
CHAPTER_NAVIGATION = re.compile(r"\]\(\d\d[a-z]?_[^)/]*\.ipynb\)")
"""A line linking to a neighbouring chapter: the chapter's previous/next line."""
SIBLING_LINK = re.compile(r"\]\((?!https?:|\.\./|#|mailto:)([^)]+)\)")


def chapter_references(chapter: Path) -> str:
    """The chapter's References section, from its heading to the end of that cell, as seen
    from `solutions/`: the chapter's own previous/next line is left out (the solution has its
    own), and links to files beside the chapter point into `../notebooks/`."""
    for cell in json.loads(chapter.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and MARKER in text:
            section = text[text.index(MARKER) :]
            lines = [line for line in section.splitlines() if not CHAPTER_NAVIGATION.search(line)]
            section = SIBLING_LINK.sub(r"](../notebooks/\1)", "\n".join(lines)).strip()
            return section.removesuffix("---").strip()  # the rule above the chapter's links
    raise SystemExit(f"{chapter}: no '{MARKER}' section")


def title(chapter: Path) -> str:
    """The chapter's short title, as the README's series table links it ("Losses")."""
    target = f"](notebooks/{chapter.name})"
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if target in line:
            return line[: line.index(target)].rsplit("[", 1)[-1]
    raise SystemExit(f"README.md: no row links {chapter.name}")


def closing_cell(chapters: list[Path], index: int) -> str:
    chapter = chapters[index]
    number = chapter.stem.split("_", 1)[0]
    links = []
    if index > 0:
        before = chapters[index - 1]
        links.append(
            f"[← solutions {before.stem.split('_', 1)[0]} · {title(before)}]"
            f"({before.stem}_solutions.ipynb)"
        )
    links.append(f"[back to the chapter, notebook {number}](../notebooks/{chapter.name})")
    if index + 1 < len(chapters):
        after = chapters[index + 1]
        links.append(
            f"[solutions {after.stem.split('_', 1)[0]} · {title(after)} →]"
            f"({after.stem}_solutions.ipynb)"
        )
    references = chapter_references(chapter).replace(
        MARKER,
        f"{MARKER}\n\nThe papers and reference code behind these exercises (as chapter "
        f"{number} lists them):",
        1,
    )
    return f"{references}\n\n---\n\n{' · '.join(links)}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    args = parser.parse_args()
    chapters = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
    stale = []
    for index, chapter in enumerate(chapters):
        path = ROOT / "solutions" / f"{chapter.stem}_solutions.ipynb"
        notebook = json.loads(path.read_text(encoding="utf-8"))
        last = notebook["cells"][-1]
        wanted = closing_cell(chapters, index)
        if last["cell_type"] != "markdown" or "back to the chapter" not in "".join(last["source"]):
            raise SystemExit(f"{path}: the last cell is not the closing links cell")
        if "".join(last["source"]) == wanted:
            continue
        stale.append(path)
        if not args.check:
            last["source"] = wanted.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {'out of date' if args.check else 'rewritten'}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
