"""The tokenization package's shape (issue 14): no import cycle, short functions, and every
name that notebooks, tests and the rest of bertlab import keeps working."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import bertlab

PACKAGE = Path(bertlab.__file__).parent
MODULES = sorted((PACKAGE / "tokenization").glob("*.py")) + [PACKAGE / "wordpiece_training.py"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _bertlab_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bertlab"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("bertlab"))
    return names


def test_no_import_cycle_and_submodules_never_import_the_package():
    graph = {_module_name(path): _bertlab_imports(path) for path in MODULES}
    for module, imports in graph.items():
        if module.startswith("bertlab.tokenization."):
            assert "bertlab.tokenization" not in imports, f"{module} imports its own package"
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path, module))
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    algorithm = graph["bertlab.tokenization.basic"]
    assert algorithm == {"bertlab.tokenization.unicode_tables"}, "basic.py stands alone"


def test_no_function_longer_than_100_lines():
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 100, f"{path.name}: {node.name} has {length} lines"


def test_every_name_imported_elsewhere_still_imports():
    """The names notebooks 05-09, tests, benchmarks and bertlab import today."""
    expected = {
        "bertlab.tokenization": [
            "BasicTokenizer",
            "BertTokenizer",
            "WordpieceTokenizer",
            "SPECIAL_TOKENS",
            "train_wordpiece_vocab",
            "load_vocab",
        ],
        "bertlab.wordpiece_training": ["count_words", "train_wordpiece_vocab", "save_vocab"],
    }
    for module_name, names in expected.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"
    from bertlab.tokenization import train_wordpiece_vocab
    from bertlab.wordpiece_training import train_wordpiece_vocab as old_path

    assert train_wordpiece_vocab is old_path


def test_the_ascii_fast_path_uses_the_algorithms_punctuation():
    """bert.py's regular-expression fast path must split exactly where basic.py would."""
    import re

    from bertlab.tokenization import bert
    from bertlab.tokenization.unicode_tables import ASCII_PUNCTUATION, is_punctuation

    ascii_chars = "".join(map(chr, range(128)))
    in_class = set(re.findall(f"[{bert._ASCII_PUNCT_CLASS}]", ascii_chars))
    assert in_class == set(ASCII_PUNCTUATION) == {c for c in ascii_chars if is_punctuation(c)}
