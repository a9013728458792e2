"""Everything a user can name is documented in docs/: each report column, each command with each of
its long options and choices, each setting. A new column, command, option or setting fails here
until its description lands in the same change (the way sqlite-utils checks its commands).

Conventions (docs/development.md, Documentation): a command has a heading ``### salesplan NAME``
in docs/cli.md (``#### salesplan user add`` for an action of ``user``) and its options and choices
appear in that section; report and watch-list columns appear in backticks in docs/cli.md; a
setting (a field of ``salesplan.settings.Settings``) appears in backticks in docs/settings.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from salesplan import report
from salesplan.cli import build_parser
from salesplan.engine import WATCHLIST_COLUMNS
from salesplan.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLI_DOC = DOCS / "cli.md"
SETTINGS_DOC = DOCS / "settings.md"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
NOT_SETTINGS = {"extra"}  # a spare mapping on the dataclass, not a setting anyone can set


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) for every subcommand, depth first: ("user",), ("user", "add"), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _subcommands(sub, (*path, name))


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings
            if option.startswith("--") and option != "--help"]


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    return [str(choice) for action in parser._actions
            if action.choices and not isinstance(action, argparse._SubParsersAction)
            for choice in action.choices]


PARSER = build_parser()
COMMANDS = dict(_subcommands(PARSER))


def section(text: str, title: str) -> str | None:
    """The text under the heading whose title (backticks and a trailing '(planned)' aside) is
    ``title``, up to the next heading of the same or a higher level; None when there is none."""
    headings = list(HEADING.finditer(text))
    for index, match in enumerate(headings):
        name = re.sub(r"\s*\(planned\)$", "", match.group(2).replace("`", "")).strip()
        if name != title:
            continue
        level = len(match.group(1))
        end = next((later.start() for later in headings[index + 1:] if len(later.group(1)) <= level), len(text))
        return text[match.end():end]
    return None


@pytest.fixture(scope="module")
def cli_doc() -> str:
    return CLI_DOC.read_text(encoding="utf-8")


def all_docs() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md")))


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_a_section_in_cli_md(cli_doc, path):
    title = "salesplan " + " ".join(path)
    assert section(cli_doc, title) is not None, f"docs/cli.md has no heading '### {title}'"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_and_choice_is_in_its_command_section(cli_doc, path):
    title = "salesplan " + " ".join(path)
    body = section(cli_doc, title) or ""
    missing = [option for option in _long_options(COMMANDS[path]) if option not in body]
    missing += [choice for choice in _choices(COMMANDS[path]) if not re.search(rf"\b{re.escape(choice)}\b", body)]
    assert not missing, f"the section '{title}' of docs/cli.md does not mention {missing}"


def test_the_global_options_are_documented(cli_doc):
    missing = [option for option in _long_options(PARSER) if option not in cli_doc]
    assert not missing, f"docs/cli.md does not mention {missing}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help(path):
    parser = COMMANDS[path]
    assert parser.description, f"salesplan {' '.join(path)} has no description for --help"


@pytest.mark.parametrize("column", list(dict.fromkeys([*report.REPORT_COLUMNS, *WATCHLIST_COLUMNS])))
def test_every_report_column_is_documented(cli_doc, column):
    assert f"`{column}`" in cli_doc, f"the report column {column} is not described in docs/cli.md"


@pytest.mark.parametrize("name", [field.name for field in dataclasses.fields(Settings) if field.name not in NOT_SETTINGS])
def test_every_setting_is_documented(name):
    assert f"`{name}`" in SETTINGS_DOC.read_text(encoding="utf-8"), f"the setting {name} is not described in docs/settings.md"


def test_docs_link_only_to_files_that_exist():
    """A relative link in docs/ or the README leads to a file of the repository."""
    root = DOCS.parent
    broken = []
    for path in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(root)} -> {target}")
    assert not broken, broken


def test_nothing_points_outside_the_repository():
    """The product is described here: no document leans on a contract kept elsewhere."""
    root = DOCS.parent
    for path in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for needle in ("../shared", "shared/SPEC", "SPEC.md"):
            assert needle not in text, f"{path.relative_to(root)} mentions {needle}"


def test_the_section_finder_stops_at_the_next_heading_of_its_level():
    text = "## A\n### salesplan x\none --a\n#### salesplan x y\ntwo --b\n### salesplan z\nthree --c\n"
    assert "--b" in section(text, "salesplan x") and "--c" not in section(text, "salesplan x")
    assert section(text, "salesplan x y").strip() == "two --b"
    assert section(text, "salesplan q") is None
