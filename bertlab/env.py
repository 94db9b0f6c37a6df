"""Environment checker: `python -m bertlab.env`.

Prints [OK] or [FAIL] for every package the series needs, the device, and
which datasets and pretrained weights it can find. It never crashes on a
missing or broken package: it reports it. The README's troubleshooting
section starts here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import platform
import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def required_distributions(extra: str | None = None) -> list[str]:
    """The distributions pyproject.toml lists: its dependencies, or those of one extra ("dev").

    Read from pyproject.toml in a source checkout, else from the installed package's metadata
    (which pip wrote from it), so this list is never a second copy to keep in step.
    """
    if PYPROJECT.is_file():
        requirements = _pyproject_requirements()
    else:
        requirements = importlib.metadata.requires("bertlab") or []
    names = []
    for requirement in requirements:
        name = re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0]
        marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if (marker.group(1) if marker else None) == extra:
            names.append(name)
    return names


def _pyproject_requirements() -> list[str]:
    import tomllib

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return list(project["dependencies"]) + [
        f'{r}; extra == "{extra}"' for extra, reqs in extras.items() for r in reqs
    ]


def import_name(distribution: str) -> str:
    """The module a distribution installs (scikit-learn -> sklearn)."""
    wanted = re.sub(r"[-_.]+", "-", distribution).lower()
    plain = wanted.replace("-", "_")
    modules = [
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", owner).lower() == wanted for owner in owners)
        and not module.startswith("_")
    ]
    if plain in modules or not modules:
        return plain
    return min(modules, key=len)


# (import name, distribution name) for everything the notebooks and tests use.
PACKAGES = [(import_name(d), d) for d in required_distributions()]
DEV_PACKAGES = [(import_name(d), d) for d in required_distributions("dev")]

# folder under BERTLAB_DATA -> files the loaders read
DATASETS = {
    "sst2": ["train.tsv", "dev.tsv"],
    "ag_news": ["test.csv", "classes.txt"],
    "conll2003": ["train.txt", "valid.txt"],
    "wnut17": ["wnut17train.conll", "emerging.dev.conll"],
    "squad_v1.1": ["train.json", "dev.json"],
    "corpus": ["war_and_peace.txt"],
}


def check_package(module: str, distribution: str) -> tuple[bool, str]:
    """Import one package; return (ok, version or the reason it failed)."""
    try:
        importlib.import_module(module)
    except Exception as error:  # a broken install raises more than ImportError
        return False, f"{type(error).__name__}: {error}".splitlines()[0]
    try:
        return True, importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return True, "version unknown"


def check_device() -> tuple[bool, str]:
    try:
        import torch
    except Exception as error:
        return False, f"torch unavailable ({type(error).__name__})"
    if torch.cuda.is_available():
        return True, f"cuda: {torch.cuda.get_device_name(0)}"
    return True, f"cpu ({torch.get_num_threads()} threads); no GPU, which is fine"


def check_datasets() -> list[tuple[bool, str, str]]:
    try:
        from bertlab.hub import data_root

        root = data_root()
    except Exception as error:
        return [(False, "BERTLAB_DATA", str(error))]
    if root is None:
        return [(False, "BERTLAB_DATA", "not set: notebooks use the Hub or the samples in data/")]
    rows = []
    for folder, files in DATASETS.items():
        missing = [name for name in files if not (root / folder / name).exists()]
        detail = f"{root / folder}" if not missing else f"missing {', '.join(missing)}"
        rows.append((not missing, folder, detail))
    return rows


def check_weights() -> tuple[bool, str]:
    try:
        from bertlab.hub import minilm_dir

        return True, str(minilm_dir())
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


def report(dev: bool = True) -> list[tuple[bool, str, str]]:
    """All checks as (ok, name, detail) rows."""
    rows = [(True, "python", platform.python_version())]
    for module, distribution in PACKAGES + (DEV_PACKAGES if dev else []):
        ok, detail = check_package(module, distribution)
        rows.append((ok, distribution, detail))
    ok, detail = check_device()
    rows.append((ok, "device", detail))
    ok, detail = check_weights()
    rows.append((ok, "MiniLM weights", detail))
    for ok, name, detail in check_datasets():
        rows.append((ok, f"data: {name}", detail))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print only failures of packages")
    args = parser.parse_args(argv)
    rows = report()
    package_names = {distribution for _, distribution in PACKAGES + DEV_PACKAGES}
    failed_packages = [name for ok, name, _ in rows if not ok and name in package_names]
    for ok, name, detail in rows:
        if args.quiet and (ok or name not in package_names):
            continue
        print(f"[{'OK' if ok else 'FAIL'}] {name:<22} {detail}")
    if failed_packages:
        print(f"{len(failed_packages)} package(s) failed: {', '.join(failed_packages)}")
    elif args.quiet:
        print(f"bertlab environment OK (python {sys.version.split()[0]}, {Path(sys.prefix).name})")
    return 1 if failed_packages else 0


if __name__ == "__main__":
    sys.exit(main())
