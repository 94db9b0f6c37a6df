"""The install stays one command: pyproject, environment.yml and constraints agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return {r.strip() for r in requirements}


def _environment_pip_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    items = [
        line.strip()[2:].strip() for line in lines[start + 1 :] if line.strip().startswith("- ")
    ]
    return {item for item in items if not item.startswith("-")}


def test_environment_yml_matches_pyproject():
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_every_dependency_is_pinned_in_constraints():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.lower().replace("_", "-")] = version
    for requirement in _pyproject_requirements():
        assert _name(requirement).replace("_", "-") in pinned, (
            f"{requirement} not in constraints.txt"
        )
    assert pinned["torch"] == "2.13.0", "CI must install the CPU torch 2.13.0 from disk"


def test_env_checker_reports_a_missing_package(capsys, monkeypatch):
    from bertlab import env

    monkeypatch.setattr(env, "PACKAGES", env.PACKAGES + [("no_such_module_xyz", "no-such-dist")])
    assert env.main([]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] no-such-dist" in out
    assert "[OK] torch" in out


def test_env_checker_reports_a_bad_data_folder(capsys, monkeypatch):
    from bertlab import env

    monkeypatch.setenv("BERTLAB_DATA", "/no/such/folder")
    env.main([])
    assert "[FAIL] data: BERTLAB_DATA" in capsys.readouterr().out
