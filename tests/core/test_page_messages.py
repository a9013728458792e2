"""A message the pages can show never names a command-line option or command (docs/decisions.md):
the core's messages say what to do in words that suit a page and the command line alike, and the
command line adds its own option on a line of its own (salesplan/cli.py)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesplan import imports
from salesplan.cli import build_parser, main
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from salesplan.ui.admin_data import SETTING_LABELS

ROOT = Path(__file__).resolve().parents[2]
# command-line programs themselves: their words are the options
COMMAND_LINE = {"salesplan/cli.py", "salesplan/engine/synthetic.py", "salesplan/engine/__main__.py"}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _commands() -> list[str]:
    parser = build_parser()
    [subparsers] = [action for action in parser._actions if action.dest == "command"]
    return sorted(subparsers.choices)


COMMAND = re.compile(rf"(?<!\ba )\bsalesplan ({'|'.join(_commands())})\b")  # "not a salesplan backup" is words


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string and f-string of a module but docstrings and the first argument of a
    ``str.replace`` (the words a page replaces by its own), with ``{}`` for a placeholder."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skip.add(id(node.body[0].value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace" and node.args:
            skip.add(id(node.args[0]))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(value) for value in node.values)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _mapped_by_the_admin_page(text: str) -> bool:
    """A settings refusal starts with its option ("--base-currency: ..."), which the Admin page
    replaces by its field's label (salesplan/ui/admin_data.py); the option alone is that map's key."""
    return any(text == option or text.startswith(f"{option}:") for option in SETTING_LABELS) \
        and not FLAG.search(text.split(":", 1)[1] if ":" in text else "")


def test_no_page_reachable_message_names_a_command_line_option_or_command():
    found = []
    for folder in ("salesplan", "pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in COMMAND_LINE:
                continue
            for line, text in _texts(ast.parse(path.read_text(encoding="utf-8"))):
                if COMMAND.search(text) or (FLAG.search(text) and not _mapped_by_the_admin_page(text)):
                    found.append(f"{name}:{line}: {text!r}")
    assert not found, "say it in words and let the command line add its option:\n" + "\n".join(found)


def test_the_scan_sees_the_old_messages():
    """The scan would have caught the messages it was written for."""
    old = ('f"--base-currency: the stored rates are in units of {old}; undo the rates batches first '
           '(salesplan uploads --undo ID) to change the base currency"')
    texts = [text for _, text in _texts(ast.parse(old))]
    assert texts and COMMAND.search(texts[0]) and not _mapped_by_the_admin_page(texts[0])
    assert COMMAND.search("no SMTP server: set it with `salesplan settings --smtp-host HOST`")
    assert not COMMAND.search("not a salesplan backup: manifest.json is incomplete")


def _bad(argv: list[str], capsys) -> tuple[str, str]:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    problems = [line for line in err.splitlines() if not line.startswith("  (on the command line:")]
    hints = [line for line in err.splitlines() if line.startswith("  (on the command line:")]
    return "\n".join(problems), "\n".join(hints)


def test_the_command_line_adds_its_option_to_the_currency_refusals(tmp_path, capsys):
    db = str(tmp_path / "c.duckdb")
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,month,rate\nUSD,2025-03,0.9\n", encoding="utf-8")
    # rates without a base currency: the reason in words, the option on a line of its own
    problem, hint = _bad(["--db", db, "import", "rates", str(rates)], capsys)
    assert "set the base currency first" in problem and "--" not in problem.split("problem(s):")[1]
    assert hint == "  (on the command line: salesplan settings --base-currency CODE)"
    with Store.open(db) as store:
        store.save_settings(SYSTEM, base_currency="EUR")
        imports.import_file(store, "rates", rates.read_bytes(), file_name="rates.csv", principal=SYSTEM)
        # the refusal the Admin page's Currencies tab shows too: no command in it
        with pytest.raises(BadInput) as caught:
            store.save_settings(SYSTEM, base_currency="GBP")
        [reason] = [p.reason for p in caught.value.problems]
        assert reason == "--base-currency: the stored rates are in units of EUR; undo the rates batches first " \
                         "to change the base currency"
    problem, hint = _bad(["--db", db, "settings", "--base-currency", "GBP"], capsys)
    assert "undo the rates batches first" in problem and "salesplan uploads" not in problem
    assert hint == "  (on the command line: salesplan uploads --undo ID)"
