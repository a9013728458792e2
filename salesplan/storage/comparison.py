"""A large batch of actual rows against the current ledger on DuckDB: by 64-bit hashes first.

The comparison of a re-import with the ledger is a hash join of every row of the file with every
current version. Joined on the row keys (texts) and carrying each side's date and amounts, at
10.8M rows it spills most of itself past the import's memory setting (docs/decisions.md, "A
re-import compared by fingerprints"). Joined instead on a 64-bit hash of the key, carrying one
64-bit fingerprint of the rest, it holds a third as much and takes ~2 s less at that size.

What a hash decides, and what it does not:
- a row whose key hash no current version has is new: exactly so (an equal key has an equal hash);
- a row whose key hash and fingerprint equal a current version's is unchanged. The fingerprint
  hashes the key again (another text: a collision of the two key hashes is not one of the
  other), the date, the amounts and the texts' fingerprint (``row_hash``, migration 81). A row
  of a current key whose date or amounts changed is taken as unchanged only when its fingerprint
  collides with the version's (one chance in 2**64, as a changed text's with ``row_hash``
  already); a row of another key only when both hashes collide at once;
- every other row (a changed row, a version without a fingerprint or with another backend's, a
  key whose hash is another key's) is compared as before, exactly, by its key text;
- a key hash that is another key's (two current versions meeting one row, or a row decided by
  hashes beside a row of its hash to compare) counts a row twice: the rows are counted once
  more, and when they are not the batch's number the whole batch is compared exactly.
"""

from __future__ import annotations

from salesplan.storage.backends import Cursor

# a row ``{t}``'s key, hashed: what the rows are joined on
KEY_HASH = "hash({t}.row_key)"
# the date, the amounts and the texts of a row ``{t}``, and its key hashed a second way: one number
FINGERPRINT = "hash('#' || {t}.row_key, {t}.sale_date, {t}.revenue, {t}.cost, {t}.profit, {t}.row_hash)"


def stage_status(cursor: Cursor, rows_of: str, odd: str, row_count: int, compared: str, *, by_hash: bool) -> None:
    """Make ``staged_actuals`` (row_key, current_batch, status, odd, n): the typed rows
    ``rows_of`` (``row_count`` of them) against the current ledger, counted per status
    ('new', 'changed', 'same', 'check'), current batch and ``odd`` (SQL saying of a row ``t``
    whether its key may collide with another order's, false for a new row); a row changed or to
    check keeps its key. ``compared`` is the comparison's select list and FROM clause, reading the
    typed rows as ``{typed}`` (alias ``s``) and the current versions as ``a``. ``by_hash`` (a large
    import's rows, whose comparison spills): on DuckDB the rows new or unchanged are told by hashes
    first (module docstring). Raises what the cursor raises.
    """

    def exact(where: str) -> str:
        # the rows ``t`` of ``rows_of`` that ``where`` keeps, each compared by its key text
        flagged = f"(SELECT t.*, {odd} AS odd FROM {rows_of} t{where})"
        return (
            "SELECT CASE WHEN status IN ('changed', 'check') THEN row_key END AS row_key, current_batch, status, "
            "odd, count(*) AS n FROM (SELECT s.row_key, CASE WHEN a.row_key IS NULL THEN false ELSE s.odd END AS odd, "
            f"{compared.format(typed=flagged)}) c GROUP BY 1, 2, 3, 4"
        )

    if not by_hash or cursor.dialect != "duckdb":
        cursor.temp_table("staged_actuals", exact(""))
        return
    cursor.temp_table(
        "fingerprinted_status",
        "SELECT CASE WHEN status = 'other' THEN key_hash END AS key_hash, current_batch, status, odd, count(*) AS n "
        "FROM (SELECT s.key_hash, a.batch_id AS current_batch, "
        "CASE WHEN a.key_hash IS NULL THEN 'new' WHEN s.fingerprint = a.fingerprint THEN 'same' ELSE 'other' END AS status, "
        "CASE WHEN a.key_hash IS NULL THEN false ELSE s.odd END AS odd "
        f"FROM (SELECT {KEY_HASH.format(t='t')} AS key_hash, {FINGERPRINT.format(t='t')} AS fingerprint, {odd} AS odd "
        f"FROM {rows_of} t) s "
        f"LEFT JOIN (SELECT {KEY_HASH.format(t='v')} AS key_hash, v.batch_id, {FINGERPRINT.format(t='v')} AS fingerprint "
        "FROM actual_versions v WHERE v.is_current) a ON a.key_hash = s.key_hash) c GROUP BY 1, 2, 3, 4",
    )
    others = int(cursor.execute(
        "SELECT coalesce(sum(n) FILTER (WHERE status = 'other'), 0) FROM fingerprinted_status").fetchall()[0][0])
    if 2 * others > row_count:
        # most rows are to be compared by their texts (e.g. every amount changed): every row
        # exactly, without first looking for them among the others
        cursor.temp_table("staged_actuals", exact(""))
    else:
        decided = "SELECT CAST(NULL AS VARCHAR) AS row_key, current_batch, status, odd, n FROM fingerprinted_status"
        cursor.temp_table(
            "staged_actuals",
            f"{decided} WHERE status <> 'other'" + (
                " UNION ALL " + exact(f" WHERE {KEY_HASH.format(t='t')} IN "
                                      "(SELECT key_hash FROM fingerprinted_status WHERE status = 'other')")
                if others else ""
            ),
        )
        # each row counted once, or a key hash was another key's: a row met two current versions,
        # or a row decided by hashes was also among the rows compared by text (of its hash)
        if int(cursor.execute("SELECT coalesce(sum(n), 0) FROM staged_actuals").fetchall()[0][0]) != row_count:
            cursor.temp_table("staged_actuals", exact(""))
    cursor.execute("DROP TABLE fingerprinted_status")
