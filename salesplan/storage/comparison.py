"""A large batch of actual rows against the current ledger on DuckDB: by 64-bit hashes first.

The comparison of a re-import with the ledger is a hash join of every row of the file with every
current version. Joined on the row keys (texts) and carrying each side's date and amounts, at
10.8M rows it spills most of itself past the import's memory setting (docs/decisions.md, "A
large re-import compared by hashes"). Joined instead on a 64-bit hash of the key, carrying one
64-bit fingerprint of the rest, it spills less (1.4 GB written at that size, against 2.2) and
takes ~2 s less (6.6 -> 4.4 s, profiled). A batch in memory (at most a few million rows) keeps
the comparison by the texts: it fits in memory, and by hashes was no faster at 1M rows.

What a hash decides, and what it does not:
- a row whose key hash no current version has is new: exactly so (an equal key has an equal hash);
- a row whose key hash and fingerprint equal a current version's is unchanged. The fingerprint
  hashes the key again (another text: a collision of the two key hashes is not one of the
  other), the date, the amounts and the texts' fingerprint (``row_hash``, migration 81). A row
  of a current key whose date or amounts changed is taken as unchanged only when its fingerprint
  collides with the version's (one chance in 2**64, as a changed text's with ``row_hash``
  already); a row of another key only when both hashes collide at once (by chance; crafted
  keys: below);
- every other row (a changed row, a version without a fingerprint or with another backend's, a
  key whose hash is another key's) is compared as before, exactly, by its key text: the rows of
  the key hashes found so, when they are at most ``BY_TEXT_SHARE`` of the batch, else every row,
  staged one row each when more than that share changed (grouped by the keys of millions of
  changed rows, it did not fit);
- a version without a fingerprint (NULL ``row_hash``) is compared by text only as surely as the
  hash of NULL differs from a row's (one chance in 2**64);
- a key hash that is another key's (a row meeting two current versions, or a row decided by
  hashes beside a row of its key hash to compare) counts a row twice: the rows are counted once
  more, and when they are not the batch's number the whole batch is compared exactly.

DuckDB's hash is no secret one (its multi-column hash takes the last column by XOR, and an
integer's hash can be inverted). So the caller uses this path only for an uploader who sees every
rep (keys crafted to meet another rep's rows could make the batch hold another batch's rows), and
only a version of such an uploader's batch is taken as unchanged by its hashes: another's (a
rep's or a manager's, whose key and texts may have been crafted to meet a later row, which would
then not be written) is compared by text when its fingerprint is equal ('verify').
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from salesplan import policy
from salesplan.storage.backends import Cursor

# the most rows, as a share of the batch, that are compared by their texts after the hashes (their
# key hashes are held in Python meanwhile, 8 bytes each); past it every row is compared by its text
BY_TEXT_SHARE = 0.125
# the rows of the comparison by hashes read at a time
_BATCH_ROWS = 65_536
# a row ``{t}``'s key, hashed: what the rows are joined on
KEY_HASH = "hash({t}.row_key)"
# the date, the amounts and the texts of a row ``{t}``, and its key hashed a second way: one number
FINGERPRINT = "hash('#' || {t}.row_key, {t}.sale_date, {t}.revenue, {t}.cost, {t}.profit, {t}.row_hash)"


def stage_status(cursor: Cursor, rows_of: str, odd: str, row_count: int, compared: str, *, by_hash: bool) -> None:
    """Make ``staged_actuals`` (row_key, current_batch, status, odd, n): the typed rows
    ``rows_of`` (``row_count`` of them) against the current ledger, counted per status ('new',
    'changed', 'same', 'check'), current batch and ``odd``, or one row each (n = 1) when a large
    comparison finds many rows changed; a row changed or to check keeps its key. ``odd`` is SQL
    saying of a row ``t`` whether its key may collide with another order's (false for a new
    row). ``compared`` is the comparison's select list and FROM clause, reading the typed rows
    as ``{typed}`` (alias ``s``) and the current versions as ``a``. ``by_hash`` (a large import's
    rows, whose comparison spills, uploaded by someone who sees every rep): on DuckDB the rows
    new or unchanged are told by hashes first (module docstring). Raises what the cursor raises.
    """

    def exact(where: str, *, grouped: bool = True) -> str:
        # the rows ``t`` of ``rows_of`` that ``where`` keeps, each compared by its key text; counted
        # per group, else one row each (n = 1): grouped by the keys of millions of changed rows,
        # the count did not fit in the write's 512 MB at L (every revenue of the file changed),
        # where their rows alone did, spilling
        flagged = f"(SELECT t.*, {odd} AS odd FROM {rows_of} t{where})"
        return (
            "SELECT CASE WHEN status IN ('changed', 'check') THEN row_key END AS row_key, current_batch, status, "
            f"odd, {'count(*)' if grouped else 'CAST(1 AS BIGINT)'} AS n FROM (SELECT s.row_key, "
            "CASE WHEN a.row_key IS NULL THEN false ELSE s.odd END AS odd, "
            f"{compared.format(typed=flagged)}) c{' GROUP BY 1, 2, 3, 4' if grouped else ''}"
        )

    if not by_hash or cursor.dialect != "duckdb":
        cursor.temp_table("staged_actuals", exact(""))
        return
    # a version of a batch uploaded by someone who sees every rep is trusted to be unchanged by its
    # fingerprint; another's (a rep's or a manager's, whose keys and texts may be crafted to meet a
    # later row) is compared by text when its fingerprint is equal ('verify')
    trusted = ", ".join(f"'{role}'" for role in sorted(policy.SEES_EVERY_REP))
    decided, to_compare, changed = _decided_and_to_compare(
        cursor,
        "SELECT CASE WHEN status IN ('other', 'verify') THEN key_hash END AS key_hash, current_batch, status, odd, "
        "count(*) AS n FROM (SELECT s.key_hash, a.batch_id AS current_batch, "
        "CASE WHEN a.key_hash IS NULL THEN 'new' WHEN s.fingerprint <> a.fingerprint THEN 'other' "
        "WHEN a.trusted THEN 'same' ELSE 'verify' END AS status, "
        "CASE WHEN a.key_hash IS NULL THEN false ELSE s.odd END AS odd "
        f"FROM (SELECT {KEY_HASH.format(t='t')} AS key_hash, {FINGERPRINT.format(t='t')} AS fingerprint, {odd} AS odd "
        f"FROM {rows_of} t) s "
        f"LEFT JOIN (SELECT {KEY_HASH.format(t='v')} AS key_hash, v.batch_id, {FINGERPRINT.format(t='v')} AS fingerprint, "
        f"v.batch_id IN (SELECT batch_id FROM upload_batches WHERE uploader_role IN ({trusted})) AS trusted "
        "FROM actual_versions v WHERE v.is_current) a ON a.key_hash = s.key_hash) c GROUP BY 1, 2, 3, 4",
        row_count,
    )
    if decided is not None and to_compare is not None:
        cursor.stage("decided_status", decided)
        selected = "SELECT CAST(NULL AS VARCHAR) AS row_key, current_batch, status, odd, n FROM decided_status"
        if len(to_compare):
            cursor.stage("compared_hashes", pa.table({"key_hash": to_compare}))
            selected += " UNION ALL " + exact(f" WHERE {KEY_HASH.format(t='t')} IN (SELECT key_hash FROM compared_hashes)")
        cursor.temp_table("staged_actuals", selected)
        cursor.unstage("decided_status")
        if len(to_compare):
            cursor.unstage("compared_hashes")
        # each row counted once, else a key hash was another key's: a row decided by hashes met
        # two current versions, or is also among the rows compared by text (of its key hash)
        if int(cursor.execute("SELECT coalesce(sum(n), 0) FROM staged_actuals").fetchall()[0][0]) == row_count:
            return
    # many rows to compare by their texts, or a key hash that was another key's: every row
    # exactly, one row each when many rows changed (grouped by their keys it did not fit)
    cursor.temp_table("staged_actuals", exact("", grouped=changed <= row_count * BY_TEXT_SHARE))


def _decided_and_to_compare(
    cursor: Cursor, sql: str, row_count: int,
) -> tuple[pa.Table | None, pa.ChunkedArray | None, int]:
    """The comparison by hashes ``sql`` read as it comes: its groups of rows decided (new, same),
    the key hash of each row to compare by text (changed, 'other', or to verify, 'verify'), and
    how many rows changed. The hashes are None when more than the share of the ``row_count``
    rows are to compare by text (they are then not held: in a temporary table, those of 10.8M
    changed rows took ~430 MB of the write's 512 MB, beside the comparison by text that
    follows); the groups None when it gives no row. Raises what the cursor raises."""
    batches = cursor.batches(sql, _BATCH_ROWS)
    decided: list[pa.RecordBatch] = []
    to_compare: list[pa.Array] | None = []
    by_text = changed = 0
    try:
        for batch in batches:
            status = batch.column("status")
            to_check = pc.is_in(status, pa.array(["other", "verify"]))
            checked = batch.filter(to_check)
            by_text += int(pc.sum(checked.column("n")).as_py() or 0)
            changed += int(pc.sum(batch.filter(pc.equal(status, "other")).column("n")).as_py() or 0)
            if by_text > row_count * BY_TEXT_SHARE:
                to_compare = None  # (read on, for the number changed)
            elif to_compare is not None:
                to_compare.append(checked.column("key_hash"))
            decided.append(batch.filter(pc.invert(to_check)))
    finally:
        batches.close()  # (the rest of the result let go)
    return (
        pa.Table.from_batches(decided) if decided else None,
        None if to_compare is None else pa.chunked_array(to_compare, pa.uint64()),
        changed,
    )
