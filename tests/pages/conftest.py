"""The demo database that the read-only page tests of every module share.

A page's first run on a database misses every cached read (salesplan/ui/data.py keys them by the
database file and its data version) and computes the engine's report, year curves, chances and
backtest afresh. Modules whose tests only read used to get a copy each, so each paid those misses
again; on one shared file (one per test process) the reads one module's runs cached serve the
next module's. A test that writes takes its own copy (``fresh_db``); a module that wrote to the
shared file fails at its end, naming the rule. Until a copy is written to, its runs share the
cached reads of this file and of the other untouched copies (tests/helpers/pages.py, ``_demo_key``).
"""

from __future__ import annotations

import pytest

from tests.helpers.pages import fresh_db, open_store


def _version(db) -> int:
    store = open_store(db)
    try:
        return store.data_version()
    finally:
        store.close()


@pytest.fixture(scope="session")
def _read_only_demo_file(tmp_path_factory):
    return fresh_db(tmp_path_factory.mktemp("read-only-demo"))


@pytest.fixture(scope="module")
def read_only_demo(_read_only_demo_file):
    """The shared demo database (12 reps, today 2026-11-26), for tests that never write to it."""
    before = _version(_read_only_demo_file)
    yield _read_only_demo_file
    assert _version(_read_only_demo_file) == before, \
        "a test of this module wrote to the shared read-only demo database: give it its own copy (fresh_db)"
