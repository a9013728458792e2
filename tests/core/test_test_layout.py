"""The suite's own habits: shared code lives in conftest.py files and tests/helpers, never in a test
module that others import (a test module imported elsewhere runs its tests twice under some
collectors and ties unrelated files together)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_no_test_module_is_imported_by_another_file():
    offenders = [
        f"{path.relative_to(TESTS)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in _imported_modules(path)
        if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert not offenders, "move what they share into tests/helpers or a conftest.py:\n" + "\n".join(offenders)


def test_the_layers_hold_only_test_modules_and_their_conftest():
    strays = [
        str(path.relative_to(TESTS))
        for layer in ("core", "storage", "pages", "browser")
        for path in sorted((TESTS / layer).glob("*.py"))
        if not (path.name.startswith("test_") or path.name in ("conftest.py", "__init__.py"))
    ]
    assert not strays, f"shared code belongs in tests/helpers: {strays}"


MAX_MODULE_LINES = 600


def test_no_module_of_the_product_is_over_600_lines():
    # a module that long has grown several concerns: split it by concern (docs/development.md)
    root = TESTS.parent
    long = [
        f"{path.relative_to(root)}: {count} lines"
        for folder in ("salesplan", "pages")
        for path in sorted((root / folder).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ] + [f"app.py: {n} lines" for n in [len((root / "app.py").read_text(encoding="utf-8").splitlines())]
         if n > MAX_MODULE_LINES]
    assert not long, f"over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)
