"""The amounts an actuals import hands to the store as Arrow (revenue, cost) are decimal64(18, 4),
DuckDB's own eight bytes per DECIMAL(18,4) (the parse's Arrow output: the parser database's, or the
workspace connection's set by files.parsing_session; docs/decisions.md, issue 17 sessions 14 and
15): half the memory of the default decimal128, with every value the same. (A parse kept in DuckDB
hands no Arrow: tests/storage/test_import_amounts_both.py holds those amounts to the ledger.)"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from salesplan import imports
from salesplan.files import limits
from salesplan.principal import SYSTEM
from tests.helpers.actuals import actuals

HEADER = "date,rep,order_id,line,revenue,cost,profit,territory\n"
# the extremes of DECIMAL(18,4) and the usual cents, signed and not
_AMOUNTS = ["99999999999999.9999", "-99999999999999.9999", "0.0001", "-0.0001", "0", "1234.5", "702.80", "-3"]


@pytest.fixture
def handed(reps_store, monkeypatch):
    """The rows each import handed to the store (an Arrow table here: neither file's parse is kept
    in DuckDB)."""
    seen: list[pa.Table] = []
    original = reps_store.apply_actuals

    def recorded(principal, rows, *args, **kwargs):
        seen.append(rows if isinstance(rows, pa.Table) else rows.to_table())
        return original(principal, rows, *args, **kwargs)

    monkeypatch.setattr(reps_store, "apply_actuals", recorded)
    return seen


@pytest.mark.parametrize("rows", [len(_AMOUNTS), imports.parser._SMALL_FILE_ROWS + 40], ids=["small", "large"])
@pytest.mark.parametrize("refused", [False, True], ids=["all kept", "one refused"])
def test_the_amounts_handed_to_the_store_are_decimal64_with_the_files_values(reps_store, handed, rows, refused):
    lines = [
        f"2025-03-{1 + i % 28:02d},R001,O{i},1,{_AMOUNTS[i % len(_AMOUNTS)]},{_AMOUNTS[(i + 3) % len(_AMOUNTS)]},"
        f"{_AMOUNTS[(i + 5) % len(_AMOUNTS)]},Nordics\n"
        for i in range(rows)
    ]
    if refused:  # a valid-only import leaves a row out: the rows written are fetched again
        lines[1] = "2025-03-02,R001,O1,1,not a number,1,1,Nordics\n"
    result = actuals(reps_store, HEADER + "".join(lines), valid_only=refused)
    assert (result.inserted, result.rejected) == (rows - refused, int(refused))
    (table,) = handed
    # (the profit is the file's or revenue - cost, a DECIMAL(19,4): decimal128 either way)
    for name in ("revenue", "cost"):
        assert table.schema.field(name).type == pa.decimal64(18, 4)
    expected = {
        f"O{i}": tuple(Decimal(_AMOUNTS[(i + shift) % len(_AMOUNTS)]) for shift in (0, 3, 5))
        for i in range(rows) if not (refused and i == 1)
    }
    got = dict(zip(table["order_id"].to_pylist(),
                   zip(table["revenue"].to_pylist(), table["cost"].to_pylist(), table["profit"].to_pylist()), strict=True))
    assert got == expected
    # and the ledger holds them (read back as floats)
    stored = reps_store.actuals(SYSTEM).set_index("order_id")
    assert {key: float(stored.loc[key, "revenue"]) for key in expected} == {key: float(value[0]) for key, value in expected.items()}


def test_the_parser_databases_arrow_output_is_set_where_the_database_is_made():
    # a database-wide setting (DuckDB holds it for every connection): made with the database, never
    # set by one import while another's fetch runs
    with limits.quiet_connection() as connection:
        table = connection.sql("SELECT 1.5::DECIMAL(18,4) AS amount, 'x' AS text").to_arrow_table()
    assert table.schema.types == [pa.decimal64(18, 4), pa.string()]
