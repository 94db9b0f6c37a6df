"""Build the web book into build/book/: `make book` runs `.venv/bin/python book/build.py`.

Sphinx reads one source folder, and the book's pages live in three (book/index.md, notebooks/,
solutions/), so this lays out build/book-src/ with copies of them (and links to the package and
benchmarks, whose files the notebooks link to: those become downloads in the book), then runs
Sphinx with the configuration in book/conf.py. No notebook is executed: the pages show the
committed outputs. A second build reads again only the notebooks that changed.

Open build/book/index.html in a browser, or serve the folder:
`.venv/bin/python -m http.server -d build/book 8000` and visit http://127.0.0.1:8000/.
Extra arguments go to sphinx-build (`book/build.py -q` prints only warnings).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
SOURCE = ROOT / "build" / "book-src"
OUTPUT = ROOT / "build" / "book"
DOCTREES = ROOT / "build" / "book-doctrees"  # Sphinx's cache, kept out of the published site
COPIED = {"notebooks": ROOT / "notebooks", "solutions": ROOT / "solutions"}
# Links, not copies: the notebooks link to the package's files, which become downloads.
LINKED = {"bertlab": ROOT / "bertlab", "benchmarks": ROOT / "benchmarks"}


def copy_if_changed(source: Path, target: Path) -> None:
    """Copy with its time stamp, so Sphinx reads again only the notebooks that changed."""
    if target.exists():
        old, new = target.stat(), source.stat()
        if (old.st_size, old.st_mtime_ns) == (new.st_size, new.st_mtime_ns):
            return
    shutil.copy2(source, target)


def lay_out_source() -> None:
    """build/book-src/: the landing page and notebooks copied, the package linked.

    Copies, because Sphinx resolves a linked notebook to its real path, outside the source
    folder, and then cannot follow its relative links ("../solutions/..." and the like).
    """
    SOURCE.mkdir(parents=True, exist_ok=True)
    copy_if_changed(BOOK / "index.md", SOURCE / "index.md")
    for name, folder in COPIED.items():
        target_folder = SOURCE / name
        target_folder.mkdir(exist_ok=True)
        notebooks = {path.name: path for path in folder.glob("*.ipynb")}
        for stale in set(p.name for p in target_folder.glob("*.ipynb")) - set(notebooks):
            (target_folder / stale).unlink()
        for file_name, path in notebooks.items():
            copy_if_changed(path, target_folder / file_name)
    for name, target in LINKED.items():
        link = SOURCE / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            raise FileExistsError(f"{link} is a folder, not a link to {target}: delete it")
        link.symlink_to(os.path.relpath(target, link.parent))


def main(argv: list[str]) -> int:
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        print(
            "book/build.py: Sphinx is not installed in this environment; the book needs sphinx, "
            "myst-nb, sphinx-book-theme and jupyter-server-mathjax (`make setup` installs them).",
            file=sys.stderr,
        )
        return 1
    lay_out_source()
    jobs = ["-j", "auto"] if (os.cpu_count() or 1) > 1 else []
    return build_main(
        ["-b", "html", "-c", str(BOOK), "-d", str(DOCTREES), *jobs, *argv, str(SOURCE), str(OUTPUT)]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
