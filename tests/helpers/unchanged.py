"""One store shared by the tests that must leave it exactly as it was (refused imports, reads).

A refused import changes nothing, so the tests that prove it need no store of their own: a copy
of a closed template, opened once per module, with its snapshot and table counts taken once. Each
test compares the store with them after its own action: the same check as a snapshot before and
after, and a stronger one, since it also catches a change an earlier test left behind. The
comparison reads every table's rows as a fingerprint (their count and the sum of their hashes) in
one query, which costs half of reading and sorting every row again in Python, and only when a
fingerprint differs reads the rows to compare them as before (and to show the difference). A test
that finds the store changed replaces it with a fresh copy before it fails, so that the failure
stays its own and the tests after it start from the template again (xdist may run them in any
order). A test that changes the store on purpose (a setting, an import that succeeds) takes a
copy of its own instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from salesplan.storage.base import data_names
from salesplan.store import Store
from tests.helpers import templates


def _counts(store: Store) -> dict[str, int]:
    return {name: count for name, count in store.table_counts().items() if name != "audit_log"}


def fingerprint(store: Store) -> dict[str, tuple[int, int]]:
    """Per table and ledger view that Store.snapshot compares (all but the audit log): its number
    of rows and the sum of its rows' hashes, read in one query (half the CPU of a snapshot, which
    reads and sorts every row in Python). Rows added, removed or changed change the count or the
    sum (but for a 64-bit hash collision); the order of the rows does not matter, as it does not in
    a snapshot. For "changed nothing" checks: compare two with :func:`changed_tables`."""
    with store.cursor() as cursor:
        names = [name for name in data_names(cursor) if name != "audit_log"]
        query = " UNION ALL ".join(
            f"SELECT '{name}', count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM \"{name}\" AS t" for name in names)
        return {str(name): (int(rows), int(total)) for name, rows, total in cursor.execute(query).fetchall()}


def changed_tables(store: Store, before: dict[str, tuple[int, int]]) -> list[str]:
    """The tables (and ledger views) whose rows differ from the :func:`fingerprint` ``before``,
    with their row counts then and now; empty when the store is as it was."""
    now = fingerprint(store)
    return [f"{name}: {before.get(name, (None,))[0]} -> {now.get(name, (None,))[0]} rows"
            for name in sorted(set(before) | set(now)) if before.get(name) != now.get(name)]


class UnchangedStore:
    """A store on a private copy of ``template`` (a closed database file) in ``folder``, with its
    state when opened: ``snapshot`` (Store.snapshot) and ``counts`` (Store.table_counts without the
    audit log, which records refusals too)."""

    def __init__(self, template: Path, folder: Path):
        self.template, self.folder = Path(template), Path(folder)
        self.copies = 0
        self.checked = True
        self.store: Store = self._open()

    def _open(self) -> Store:
        self.copies += 1
        store = templates.open_copy(self.template, self.folder / f"unchanged-{self.copies}.duckdb")
        self._take_state(store)
        return store

    def _take_state(self, store: Store) -> None:
        self.snapshot: dict[str, list[tuple[Any, ...]]] = store.snapshot()
        self.counts: dict[str, int] = _counts(store)
        self.fingerprint = fingerprint(store)

    def keep_as_is(self) -> None:
        """Make the store's present state the one to keep: for a copy of a test's own after it
        changed a setting on purpose."""
        self._take_state(self.store)

    def assert_unchanged(self, what: str = "the database changed") -> None:
        """Fail (AssertionError, with the difference) when a table's rows or counts differ from
        the state the store was opened with; the store is then replaced by a fresh copy first."""
        if fingerprint(self.store) == self.fingerprint:
            self.checked = True
            return
        snapshot, counts = self.store.snapshot(), _counts(self.store)
        if snapshot == self.snapshot and counts == self.counts:
            self.checked = True
            return
        expected = (self.snapshot, self.counts)
        self._replace()
        assert (snapshot, counts) == expected, what

    def one_test(self) -> Iterator[UnchangedStore]:
        """Lend the store to one test (a function-scoped fixture yields from this): a test that
        ended without :meth:`assert_unchanged` passing (it failed before, or never checked) may
        have left a change, so the next test gets a fresh copy."""
        self.checked = False
        yield self
        if not self.checked:
            self._replace()

    def _replace(self) -> None:
        self.close()
        self.store = self._open()
        self.checked = True

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> UnchangedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lending(shared_fixture: str):
    """A function-scoped fixture that lends the UnchangedStore of the (module-scoped) fixture
    named ``shared_fixture`` to one test (see :meth:`UnchangedStore.one_test`)."""

    @pytest.fixture
    def lend(request: pytest.FixtureRequest) -> Iterator[UnchangedStore]:
        yield from request.getfixturevalue(shared_fixture).one_test()

    return lend
