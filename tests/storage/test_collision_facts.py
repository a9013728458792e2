"""The key-collision flag left out when no row of a batch can collide (salesplan/storage/refusals.py,
``collision_impossible``; docs/decisions.md, "issue 17, session 14: the store"): a large batch in
memory whose order lines are all given, none starting with ``#``, and whose order ids and lines
hold no ``|`` is compared with the ledger without the flag's four ``LIKE``s per row. The fact is
held to the flag's own SQL on random texts, any chunking and slice; a batch with such a row still
computes the flag (its refusals: tests/storage/test_key_collisions_across_files.py)."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from salesplan import imports
from salesplan.storage import ledger
from salesplan.storage.refusals import COLLISION_POSSIBLE, collision_impossible
from tests.helpers.ledger_writes import FIRST, _file, _spy_sql

_PIECES = ["A", "1", "12", "#", "|", "x", "", "#1", "1|2", "é"]


def _text(rng: random.Random) -> str | None:
    if rng.random() < 0.05:
        return None
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 3)))


def _batch(rng: random.Random, rows: int, clean: bool) -> pa.Table:
    """Order ids and lines, random (``clean``: from pieces without ``#`` or ``|``, every line
    given), cut into random chunks and sliced."""
    pieces = [piece for piece in _PIECES if "#" not in piece and "|" not in piece]

    def text(line: bool) -> str | None:
        if clean:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        return _text(rng)

    # the two rows before the slice and the two after it are odd: only the slice may be looked at
    ids = ["A|1", None, *(text(False) for _ in range(rows)), "B|2", "C"]
    lines = [None, "#1", *(text(True) for _ in range(rows)), "1|2", None]
    kind = rng.choice([pa.string(), pa.large_string()])
    cuts = sorted(rng.sample(range(1, rows + 4), k=min(3, rows + 2)))

    def chunked(values: list) -> pa.ChunkedArray:
        bounds = [0, *cuts, len(values)]
        return pa.chunked_array([pa.array(values[a:b], type=kind) for a, b in zip(bounds, bounds[1:])], type=kind)

    table = pa.table({"row_key": [f"o|{i}" for i in range(rows + 4)], "order_id": chunked(ids),
                      "order_line": chunked(lines)})
    return table.slice(2, rows)  # a slice: its chunks' offsets start inside the buffers


def _flagged(table: pa.Table) -> bool:
    """Whether the flag's SQL flags a row of ``table``."""
    connection = duckdb.connect()
    connection.register("t", table)
    return bool(connection.execute(f"SELECT coalesce(bool_or({COLLISION_POSSIBLE.format(t='t')}), false) FROM t")
                .fetchall()[0][0])


def _by_hand(table: pa.Table) -> bool:
    """The fact as its docstring says it: every line given, none starting with #, no | anywhere."""
    lines, ids = table["order_line"].to_pylist(), table["order_id"].to_pylist()
    return all(line is not None and not line.startswith("#") and "|" not in line for line in lines) and all(
        "|" not in order for order in ids if order is not None)


@pytest.mark.parametrize("seed", range(40))
def test_the_fact_is_what_it_says_and_never_hides_a_row_the_flag_would_see(seed):
    rng = random.Random(seed)
    table = _batch(rng, rng.randint(1, 40), clean=seed % 2 == 0)
    told = collision_impossible(table)
    assert told == _by_hand(table)
    if told:
        assert not _flagged(table)


def test_every_kind_of_row_the_flag_sees_is_told_apart():
    clean = pa.table({"row_key": ["o|A|1", "o|B|2"], "order_id": ["A", "B"], "order_line": ["1", "2"]})
    assert collision_impossible(clean)
    for column, value in (("order_line", None), ("order_line", "#1"), ("order_line", "1|2"), ("order_id", "A|1")):
        odd = clean.set_column(clean.schema.get_field_index(column), column,
                               pa.array([clean[column][0].as_py(), value], type=pa.string()))
        assert _flagged(odd) and not collision_impossible(odd), (column, value)
    # a batch without order ids or lines, or of another text type, is not looked into
    assert not collision_impossible(clean.drop_columns(["order_line"]))
    assert not collision_impossible(clean.set_column(2, "order_line", clean["order_line"].cast(pa.string_view())))


@pytest.mark.parametrize("backend", ["duckdb"])  # (the view of a batch in memory is DuckDB's: PostgreSQL stages a copy)
def test_a_clean_batch_is_compared_without_the_flags_likes_and_an_odd_one_with_them(org, monkeypatch):
    monkeypatch.setattr(ledger, "_VIEW_ROWS", 0)  # every batch through the view (the large batch's path)
    seen = _spy_sql(org, monkeypatch)

    def comparison(rows: list[tuple]) -> str:
        seen.clear()
        imports.import_file(org, "actuals", _file(rows), file_name="sales.csv")
        return next(sql for sql in seen if "count(*) AS n FROM" in sql)

    comparison(FIRST)  # the first import: every row new, no comparison with the ledger
    assert "LIKE" not in comparison(FIRST)
    odd = [*FIRST[:-1], FIRST[-1][:5] + ("1|2",) + FIRST[-1][6:]]
    assert "LIKE" in comparison(odd)
