"""Execute notebooks in place and print how long each took.

`make notebooks` runs this so that every output committed in `notebooks/`
comes from a real, top-to-bottom run. The printed table is the one the
README shows (measured on a 2-core CPU, no GPU).
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main(paths: list[str]) -> None:
    rows = []
    for name in paths:
        path = Path(name)
        print(f"running {path} ...", flush=True)
        seconds = run(path)
        print(f"  {seconds:.0f} s", flush=True)
        rows.append((path.name, seconds))
    print("\n| notebook | run time (s) |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
