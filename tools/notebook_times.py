"""Print how long each notebook took under nbval, from its JUnit XML report.

`make test-notebooks` writes `artifacts/nbval.xml` and calls this, so every
CI log shows the per-notebook run times that the README's table quotes.
"""

import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict


def notebook_seconds(report: str) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        notebook = case.get("classname", "?").removeprefix("notebooks.")
        seconds[notebook] += float(case.get("time", 0))
    return dict(seconds)


def main(report: str) -> None:
    times = notebook_seconds(report)
    print("\n| notebook | run time under nbval (s) |\n|---|---|")
    for notebook, seconds in sorted(times.items()):
        print(f"| {notebook} | {seconds:.0f} |")
    print(f"| total | {sum(times.values()):.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
