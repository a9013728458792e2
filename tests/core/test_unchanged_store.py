"""The shared store of the "changes nothing" tests (tests/helpers/unchanged.py) sees every change:
its quick comparison (one fingerprint query) must fail wherever comparing every row would."""

from __future__ import annotations

import pytest

from tests.helpers.unchanged import UnchangedStore, fingerprint


@pytest.mark.parametrize("change", [
    "UPDATE reps SET name = name || ' ' WHERE rep_id = 'R001'",  # one cell, same row count
    "UPDATE reps SET email = NULL WHERE rep_id = 'R002'",  # a value to NULL
    "DELETE FROM reps WHERE rep_id = 'R003'",
    "INSERT INTO settings VALUES ('window', '30')",  # a table other than the one the tests import to
])
def test_a_change_to_any_row_fails_the_check_and_the_next_test_gets_a_fresh_copy(tmp_path, reps_template, change):
    with UnchangedStore(reps_template, tmp_path) as shared:
        shared.assert_unchanged()  # as copied
        as_copied = fingerprint(shared.store)
        with shared.store.cursor() as cursor:
            cursor.execute(change)
        with pytest.raises(AssertionError, match="a test left a change"):
            shared.assert_unchanged("a test left a change")
        assert shared.copies == 2
        # the fresh copy is the template's again, not the changed store's state taken anew
        assert fingerprint(shared.store) == as_copied
        shared.assert_unchanged()


def test_rows_swapping_their_values_fail_the_check(tmp_path, reps_template):
    """The same values in other rows: each table's count and the multiset of its column values stay."""
    with UnchangedStore(reps_template, tmp_path) as shared:
        with shared.store.cursor() as cursor:
            names = dict(cursor.execute("SELECT rep_id, name FROM reps WHERE rep_id IN ('R001', 'R002')").fetchall())
            cursor.execute("UPDATE reps SET name = ? WHERE rep_id = 'R001'", [names["R002"]])
            cursor.execute("UPDATE reps SET name = ? WHERE rep_id = 'R002'", [names["R001"]])
        with pytest.raises(AssertionError):
            shared.assert_unchanged()
