"""A large batch's comparison with the ledger keeps no row it found unchanged or new
(salesplan/storage/ledger.py, the ``streamed`` path; docs/decisions.md, "The store's side of a
re-import"): only the number of rows per status and current batch, and the keys of the rows changed
or to check. The holds, counts, versions and undo must be those of the typed copy of every row,
whose ``staged_actuals`` keeps each row's key and status (batches held whole and in part, new rows
beside unchanged ones, rows compared text by text, lines a direct caller repeats or leaves out).

Each case runs the same steps twice into copies of one store, once with every batch through the
view (``_VIEW_ROWS`` 0) and once with none, as tests/storage/test_large_write_view.py does; on
PostgreSQL both runs take the copy and must agree all the same.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM, Principal
from salesplan.storage import ledger, refusals
from salesplan.store import Store
from tests.helpers.ledger_writes import FIRST, SECOND, _file, _spy_sql, _state
from tests.helpers.storage_fixtures import another_database, from_template, import_contract_reps

_SHARE = imports.actuals._PARSE_IN_MEMORY_SHARE
# (date, rep, amount, cost, order, line, customer, territory), as in test_large_write_view
NEWER = [
    ("2025-03-08", "R2", 70, 3, "F", 1, "c5", "Benelux"),
    ("2025-03-09", "R1", 80, 2, "G", 1, "c6", "Nordics"),
]
CHANGE = [("2025-03-03", "R1", 21, 5, "A", 2, "c2", "")]  # A/2: 20 -> 21
# every current row as it stands after FIRST, NEWER and CHANGE: FIRST's batch is held in part (A/2
# is CHANGE's now), NEWER's and CHANGE's whole
EVERYTHING = [row for row in FIRST if row[4:6] != ("A", 2)] + CHANGE + NEWER


def _forget_fingerprints(store: Store) -> None:
    """Versions as a salesplan before migration 81 wrote them: every row is compared text by text."""
    with store.atomic() as cursor:
        cursor.execute("UPDATE actual_versions SET row_hash = NULL")


def _run(store: Store, steps: list) -> list:
    """Uploads (a list of rows), undos (the index of an earlier upload) and other changes (a
    callable of the store), in order; the counts of each upload."""
    counts, batches = [], []
    for step in steps:
        if isinstance(step, int):
            store.undo(SYSTEM, batches[step])
        elif callable(step):
            step(store)
        else:
            result = imports.import_file(store, "actuals", _file(step), file_name="sales.csv")
            batches.append(result.batch_id)
            counts.append((result.inserted, result.updated, result.unchanged))
    return counts


def _both_ways(request, db_target: str, monkeypatch, run: Callable[[Store], object], *,
               rows_file: bool = False) -> list[tuple]:
    """(what ``run`` returned, the store's state, SQL written) with every batch through the view
    (``rows_file``: every import handing the store its rows as a Parquet file, the large file's
    path, a dataset on both backends), then the same for a second copy of the store with none
    through it."""
    out = []
    for view_rows in (0, 10**12):
        monkeypatch.setattr(ledger, "_VIEW_ROWS", 10**12 if rows_file else view_rows)
        if rows_file:  # every file's parse past the parser's share of memory: the large file's path
            monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if view_rows == 0 else _SHARE)
        target = (from_template(request, db_target, "contract-reps", import_contract_reps) if view_rows == 0
                  else another_database(request, "copy-run", "contract-reps", import_contract_reps))
        with Store.open(target) as store:
            seen = _spy_sql(store, monkeypatch)
            returned = run(store)
            out.append((returned, _state(store), seen))
    return out


# steps, and the counts (inserted, updated, unchanged) of their uploads
CASES = {
    # the re-import of everything holds NEWER and CHANGE whole and FIRST in part; undoing FIRST keeps
    # what the re-import holds, undoing the re-import then leaves FIRST's other keys to nobody, and
    # FIRST again brings them back beside a change of A/2
    "held whole and in part, undo, new and changed": (
        [FIRST, NEWER, CHANGE, EVERYTHING, 0, 3, FIRST],
        [(5, 0, 0), (2, 0, 0), (0, 1, 0), (0, 0, 7), (4, 1, 0)],
    ),
    # a file of part of FIRST: FIRST held in part, two of its keys still current without this batch;
    # undoing FIRST leaves only the three rows the second file holds
    "part of an earlier file, then undo of it": ([FIRST, FIRST[:3], 0], [(5, 0, 0), (0, 0, 3)]),
    # new rows beside unchanged ones, nothing changed: the new rows are written, FIRST is held whole
    "new beside unchanged, then undo of the first": ([FIRST, FIRST + NEWER, 0], [(5, 0, 0), (2, 0, 5)]),
    # without fingerprints every row not new is compared text by text ('check'): B/1's customer
    # changed, the others are unchanged
    "compared text by text": (
        [FIRST, _forget_fingerprints, SECOND, _forget_fingerprints, FIRST, 1],
        [(5, 0, 0), (1, 3, 1), (0, 3, 2)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_grouped_comparison_leaves_the_store_as_the_copy_does(case, request, db_target, monkeypatch, backend):
    steps, counts = CASES[case]
    (view_counts, view_state, view_sql), (copy_counts, copy_state, _) = _both_ways(
        request, db_target, monkeypatch, lambda store: _run(store, steps))
    assert view_counts == copy_counts == counts
    assert view_state == copy_state
    # on DuckDB the view's batches grouped their comparison (PostgreSQL writes from its copy)
    grouped = any("count(*) AS n FROM" in sql for sql in view_sql)
    assert grouped == (backend == "duckdb")


@pytest.mark.parametrize("case", list(CASES))
def test_a_rows_file_leaves_the_store_as_the_copy_does(case, request, db_target, monkeypatch):
    """The large file's path (a dataset, grouped on PostgreSQL too) against the copy."""
    steps, counts = CASES[case]
    (file_counts, file_state, file_sql), (copy_counts, copy_state, copy_sql) = _both_ways(
        request, db_target, monkeypatch, lambda store: _run(store, steps), rows_file=True)
    assert file_counts == copy_counts == counts
    assert file_state == copy_state
    assert any("count(*) AS n FROM" in sql for sql in file_sql)
    assert not any("count(*) AS n FROM" in sql for sql in copy_sql)


def test_a_reimport_holding_batches_whole_and_in_part_keeps_their_rows_through_undo(org, monkeypatch):
    monkeypatch.setattr(ledger, "_VIEW_ROWS", 0)
    assert _run(org, [FIRST, NEWER, CHANGE, EVERYTHING]) == [(5, 0, 0), (2, 0, 0), (0, 1, 0), (0, 0, 7)]
    with org.cursor() as cursor:
        batches = [row[0] for row in cursor.execute(
            "SELECT batch_id FROM upload_batches WHERE kind = 'actuals' ORDER BY batch_id").fetchall()]
        whole = cursor.execute("SELECT source_batch_id FROM actual_batch_holds ORDER BY 1").fetchall()
        keys = cursor.execute("SELECT source_batch_id, count(*) FROM actual_key_holds GROUP BY 1").fetchall()
    assert [row[0] for row in whole] == batches[1:3]  # NEWER's and CHANGE's
    assert [tuple(row) for row in keys] == [(batches[0], 4)]  # FIRST's four keys A/2 is not among
    expected = sorted(org.actuals(SYSTEM)["revenue"])
    org.undo(SYSTEM, batches[0])
    org.undo(SYSTEM, batches[1])
    org.undo(SYSTEM, batches[2])
    # the re-import holds every row: A/2 at CHANGE's amount
    assert sorted(org.actuals(SYSTEM)["revenue"]) == expected == [10, 21, 30, 40, 50, 70, 80]


def _direct_rows(lines: list, revenue: list[float], keys: list | None = None) -> pd.DataFrame:
    n = len(lines)  # every amount given: a missing one reads back as NaN, which equals nothing
    return pd.DataFrame({
        "row_key": keys or [f"k{i}" for i in range(n)], "line": pd.array(lines, dtype="Int64"),
        "sale_date": ["2025-03-04"] * n, "rep_id": ["R1"] * n, "territory": ["Nordics"] * n, "revenue": revenue,
        "cost": [1.0] * n, "profit": [value - 1.0 for value in revenue], "order_id": [f"O{i}" for i in range(n)], "order_line": ["1"] * n,
        "customer": [None] * n, "product": [None] * n, "territory_from_file": [True] * n,
    })


def _apply(store: Store, rows: pd.DataFrame) -> tuple[int, int, int]:
    _, counts = store.apply_actuals(SYSTEM, rows, rows.iloc[0:0].assign(record="", problems=""),
                                    file_name="direct.csv", sha256=None, valid_only=False)
    return counts.inserted, counts.updated, counts.unchanged


def test_a_direct_callers_repeated_or_missing_lines_do_not_mix_its_rows(request, db_target, monkeypatch):
    """A row's line is what the caller says it is: it may repeat or be missing, and must not tell
    rows apart (only the row key does)."""
    lines = [None, None, 7, 7, 7]

    def run(store: Store) -> list:
        first = _direct_rows(lines, [1.0, 2.0, 3.0, 4.0, 5.0])
        # rows 0 and 2 change, row 5 is new: they share their lines with unchanged rows
        second = _direct_rows(lines + [None], [9.0, 2.0, 9.0, 4.0, 5.0, 6.0])
        return [_apply(store, first), _apply(store, first), _apply(store, second)]

    (view_counts, view_state, _), (copy_counts, copy_state, _) = _both_ways(request, db_target, monkeypatch, run)
    assert view_counts == copy_counts == [(5, 0, 0), (0, 0, 5), (1, 2, 3)]
    assert view_state == copy_state
    assert sorted(revenue for _, _, _, _, _, revenue, *rest in view_state["ledger"]) == [2, 4, 5, 6, 9, 9]


@pytest.mark.parametrize("view_rows", [0, 10**12], ids=["view", "copy"])
def test_keys_whose_hashes_collide_are_told_apart_by_their_texts(view_rows, request, db_target, monkeypatch, backend):
    """Distinct hashes prove distinct keys; equal ones (here every key's, as a crafted file could
    make two) send the check to the keys' texts: distinct keys are written, a repeated or missing
    key is refused and nothing is written. Only DuckDB's view of a batch in memory checks by hashes
    (the copy, and PostgreSQL, count the keys in the statement that counts the rows): there the
    texts must have been counted after the hashes met."""
    monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
    monkeypatch.setattr(refusals, "KEY_HASH", "length(row_key)")
    target = from_template(request, db_target, "contract-reps", import_contract_reps)
    with Store.open(target) as store:
        seen = _spy_sql(store, monkeypatch)
        assert _apply(store, _direct_rows([1, 2, 3], [1.0, 2.0, 3.0])) == (3, 0, 0)
        texts_counted = any("count(DISTINCT row_key) FROM incoming_actuals" in sql for sql in seen)
        assert texts_counted == (view_rows == 0 and backend == "duckdb")
        before = _state(store)
        for keys in (["k0", "k1", "k1"], ["k0", "k1", None]):
            with pytest.raises(BadInput) as refused:
                _apply(store, _direct_rows([1, 2, 3], [1.0, 2.0, 3.0], keys))
            assert refused.value.problems[0].column == "row_key"
            assert _state(store) == before


@pytest.mark.parametrize("view_rows", [0, 10**12], ids=["view", "copy"])
def test_a_row_without_a_key_is_refused_and_nothing_written(view_rows, request, db_target, monkeypatch):
    """A missing key is no key (its hash is a value like any other: it proves nothing)."""
    monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
    target = from_template(request, db_target, "contract-reps", import_contract_reps)
    with Store.open(target) as store:
        before = _state(store)
        with pytest.raises(BadInput) as refused:
            _apply(store, _direct_rows([1, 2, 3], [1.0, 2.0, 3.0], ["k0", None, "k2"]))
        assert refused.value.problems[0].column == "row_key"
        assert _state(store) == before


def test_new_rows_beside_others_are_written_by_one_anti_join_in_the_insert(org, monkeypatch, backend):
    """A mixed batch through the view (new rows beside changed and unchanged ones) keeps no key of
    its new rows: the insert reads the rows whose key is not current once the changed rows' versions
    stopped being current (no second comparison filling ``staged_actuals`` with the new keys), and
    writes exactly the new and changed rows. On PostgreSQL, which writes a batch in memory from its
    copy, the case holds the counts and that the copy's insert is not the anti-join (the anti-join
    there is the rows file's: test_a_rows_file_leaves_the_store_as_the_copy_does)."""
    monkeypatch.setattr(ledger, "_VIEW_ROWS", 0)
    _run(org, [FIRST])
    seen = _spy_sql(org, monkeypatch)
    assert _run(org, [FIRST[:1] + CHANGE + FIRST[2:] + NEWER]) == [(2, 1, 4)]
    streamed = backend == "duckdb"  # PostgreSQL writes a batch in memory from its copy
    assert not any("INSERT INTO staged_actuals" in sql for sql in seen)
    assert any("INSERT INTO actual_versions" in sql and ledger._NOT_CURRENT in sql for sql in seen) == streamed
    with org.cursor() as cursor:
        written = cursor.execute("SELECT count(*) FROM actual_versions WHERE batch_id = "
                                 "(SELECT max(batch_id) FROM upload_batches WHERE kind = 'actuals')").fetchall()[0][0]
    assert written == 3


# ---------------------------------------------------------------- a large batch compared by hashes
# (salesplan/storage/comparison.py): DuckDB tells a large import's new and unchanged rows by a
# hash of the key and a fingerprint of the row, and compares the rest by their key texts
def _by_hash(seen: list[str]) -> bool:
    return any("AS fingerprint" in sql for sql in seen)


def _staged(seen: list[str]) -> int:
    """How many times ``staged_actuals`` was made (twice in one write: the texts after the hashes)."""
    return sum(sql.startswith("TEMP TABLE staged_actuals AS") for sql in seen)


# a re-import of FIRST with A/2 changed and NEWER's two rows new: the changed row alone is
# compared by its text (one row of seven)
MIXED = FIRST[:1] + CHANGE + FIRST[2:] + NEWER
# A/1 again under order F: another key whose every other value is A/1's
TWIN = [("2025-03-03", "R1", 10, 4, "F", 1, "c1", "Nordics")]
# F's and G's keys take A's and B's hashes: a new row meets another key's current version
NEW_KEY_COLLIDES = "hash(replace(replace({t}.row_key, 'F', 'A'), 'G', 'B'))"


@pytest.mark.parametrize("share", [0.5, 0.1], ids=["changed row looked for", "every row by text"])
def test_a_large_reimport_tells_new_and_unchanged_rows_by_hashes(share, request, db_target, monkeypatch, backend):
    """One row of seven is to compare by text: under the share, it is looked for among the rows
    (its key hash), over it every row is compared by its text, staged one row each; the same
    store either way."""
    from salesplan.storage import comparison

    monkeypatch.setattr(comparison, "BY_TEXT_SHARE", share)
    (file_counts, file_state, file_sql), (copy_counts, copy_state, copy_sql) = _both_ways(
        request, db_target, monkeypatch, lambda store: _run(store, [FIRST, MIXED]), rows_file=True)
    assert file_counts == copy_counts == [(5, 0, 0), (2, 1, 4)]
    assert file_state == copy_state
    # DuckDB's only, a large import's only (the copy is a batch in memory)
    duckdb = backend == "duckdb"
    assert _by_hash(file_sql) == duckdb
    assert not _by_hash(copy_sql)
    looked_for = any("UNION ALL" in sql and "IN (SELECT key_hash FROM compared_hashes)" in sql for sql in file_sql)
    assert looked_for == (duckdb and share == 0.5)
    # every row by text is staged one row each (grouped by millions of changed keys it did not fit at L)
    one_row_each = any("CAST(1 AS BIGINT) AS n" in sql for sql in file_sql)
    assert one_row_each == (duckdb and share == 0.1)
    # the hashes' result is the one kept: staged once, not again by the texts after a failed count
    assert _staged(file_sql) == 2  # (the first upload's, and the re-import's)


def test_a_batch_in_memory_is_compared_by_its_key_texts(request, db_target, monkeypatch, backend):
    """Through DuckDB's view (at 1M rows in memory) the comparison fits in memory: by the texts,
    as fast as by hashes, and exact (PostgreSQL writes such a batch from its copy)."""
    (view_counts, _, view_sql), _ = _both_ways(request, db_target, monkeypatch, lambda store: _run(store, [FIRST, MIXED]))
    assert view_counts == [(5, 0, 0), (2, 1, 4)]
    assert any("count(*) AS n FROM" in sql for sql in view_sql) == (backend == "duckdb")
    assert not _by_hash(view_sql)


@pytest.mark.parametrize("key_hash", ["length({t}.row_key)", NEW_KEY_COLLIDES],
                         ids=["current keys share hashes", "a new key has a current one's hash"])
@pytest.mark.parametrize("case", list(CASES))
def test_keys_whose_hashes_collide_leave_the_store_as_the_copy_does(key_hash, case, request, db_target, monkeypatch, backend):
    """A key hash another key has (crafted here: every key of one length, or F's as A's) decides
    nothing: a row meeting two current versions, or compared by text beside a row of its hash
    decided by hashes, sends the whole batch to the texts."""
    from salesplan.storage import comparison

    if backend != "duckdb":
        pytest.skip("PostgreSQL compares every batch by its key texts")

    monkeypatch.setattr(comparison, "KEY_HASH", key_hash)
    monkeypatch.setattr(comparison, "BY_TEXT_SHARE", 1.0)  # (the rows to compare looked for, whatever their number)
    steps, counts = CASES[case]
    (file_counts, file_state, _), (copy_counts, copy_state, _) = _both_ways(
        request, db_target, monkeypatch, lambda store: _run(store, steps), rows_file=True)
    assert file_counts == copy_counts == counts
    assert file_state == copy_state


def test_a_new_key_with_a_current_ones_hash_and_values_is_written(request, db_target, monkeypatch, backend):
    """The fingerprint hashes the key again, another way: a new key sharing a current key's hash
    and every other value (date, amounts, texts) is still new."""
    from salesplan.storage import comparison

    monkeypatch.setattr(comparison, "KEY_HASH", NEW_KEY_COLLIDES)
    monkeypatch.setattr(comparison, "BY_TEXT_SHARE", 1.0)
    (file_counts, file_state, file_sql), (copy_counts, copy_state, _) = _both_ways(
        request, db_target, monkeypatch, lambda store: _run(store, [FIRST, FIRST + TWIN]), rows_file=True)
    assert file_counts == copy_counts == [(5, 0, 0), (1, 0, 5)]
    assert file_state == copy_state
    assert _by_hash(file_sql) == (backend == "duckdb")
    # A/1 was decided by hashes and compared again beside F/1 (its key hash): counted twice, so
    # the batch was staged again by the texts (the first upload staged once)
    assert _staged(file_sql) == (3 if backend == "duckdb" else 2)


def test_a_row_decided_by_hashes_is_still_held_to_its_order(request, db_target, monkeypatch, backend):
    """Order A line '1|2' and order 'A|1' line 2 make one key; the second file's row has every value
    of the first's, so the hashes find it unchanged: it is still refused as another order's sale
    (the collision flag is carried for the rows decided by hashes), nothing written."""
    first = [("2025-03-03", "R1", 10, 4, "A", "1|2", "c1", "Nordics")]
    again = [("2025-03-03", "R1", 10, 4, "A|1", 2, "c1", "Nordics")]

    def run(store: Store) -> tuple:
        _run(store, [first])
        before = _state(store)
        with pytest.raises(BadInput) as refused:
            _run(store, [again])
        return [(problem.line, problem.column) for problem in refused.value.problems], _state(store) == before

    (file_out, _, file_sql), (copy_out, _, _) = _both_ways(request, db_target, monkeypatch, run, rows_file=True)
    assert file_out == copy_out == ([(2, "order_id")], True)
    assert _by_hash(file_sql) == (backend == "duckdb")


def test_a_row_a_rep_crafted_to_meet_a_later_one_does_not_make_it_unchanged(request, db_target, monkeypatch, backend):
    """A rep's current sale whose key hash and fingerprint were crafted to equal those of a row an
    admin's large file will bring as new (crafted here: F's key hashed as A's, both ways) does
    not make that row unchanged: a version of an uploader with a scope is compared by its text,
    and the later row is written."""
    from salesplan.storage import comparison

    monkeypatch.setattr(comparison, "KEY_HASH", NEW_KEY_COLLIDES)
    monkeypatch.setattr(comparison, "FINGERPRINT", comparison.FINGERPRINT.replace(
        "'#' || {t}.row_key", "replace(replace('#' || {t}.row_key, 'F', 'A'), 'G', 'B')"))
    monkeypatch.setattr(comparison, "BY_TEXT_SHARE", 1.0)
    rep = Principal("ann@x.test", "rep", "R1")

    def run(store: Store) -> list:
        imports.import_file(store, "actuals", _file(FIRST[:1]), file_name="mine.csv", principal=rep)  # A/1
        return _run(store, [FIRST[:1] + TWIN])  # A/1 again and F/1, every value A/1's: the system's

    (file_counts, file_state, file_sql), (copy_counts, copy_state, _) = _both_ways(
        request, db_target, monkeypatch, run, rows_file=True)
    assert file_counts == copy_counts == [(1, 0, 1)]
    assert file_state == copy_state
    assert _by_hash(file_sql) == (backend == "duckdb")
