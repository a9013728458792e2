"""Amounts at DECIMAL(18,4)'s extremes go into the ledger exactly on both backends, through each way
an import hands its rows to the store: in memory (decimal64 Arrow), kept in DuckDB (the workspace on
DuckDB, the Parquet rows file and COPY on PostgreSQL), and a valid-only import that leaves a row out
(docs/decisions.md, issue 17 sessions 14 and 15)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salesplan import imports
from tests.helpers.actuals import actuals

HEADER = "date,rep,order_id,line,revenue,cost,profit,territory\n"
# the extremes of DECIMAL(18,4) and the usual cents, signed and not
_AMOUNTS = ["99999999999999.9999", "-99999999999999.9999", "0.0001", "-0.0001", "0", "1234.5", "702.80", "-3"]


@pytest.mark.parametrize("kept_in_duckdb", [False, True], ids=["in memory", "kept in DuckDB"])
@pytest.mark.parametrize("refused", [False, True], ids=["all kept", "one refused"])
def test_amounts_at_the_limits_are_stored_exactly(reps_org, monkeypatch, kept_in_duckdb, refused):
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if kept_in_duckdb else 1e9)
    rows = imports.parser._SMALL_FILE_ROWS + 40
    lines = [
        f"2025-03-{1 + i % 28:02d},R001,O{i},1,{_AMOUNTS[i % len(_AMOUNTS)]},{_AMOUNTS[(i + 3) % len(_AMOUNTS)]},"
        f"{_AMOUNTS[(i + 5) % len(_AMOUNTS)]},Nordics\n"
        for i in range(rows)
    ]
    if refused:
        lines[1] = "2025-03-02,R001,O1,1,not a number,1,1,Nordics\n"
    result = actuals(reps_org, HEADER + "".join(lines), valid_only=refused)
    assert (result.inserted, result.rejected) == (rows - refused, int(refused))
    expected = {
        f"O{i}": tuple(Decimal(_AMOUNTS[(i + shift) % len(_AMOUNTS)]) for shift in (0, 3, 5))
        for i in range(rows) if not (refused and i == 1)
    }
    with reps_org.cursor() as cursor:
        stored = cursor.execute(
            "SELECT order_id, CAST(revenue AS VARCHAR), CAST(cost AS VARCHAR), CAST(profit AS VARCHAR) FROM actuals"
        ).fetchall()
    assert {order: tuple(Decimal(text) for text in texts) for order, *texts in stored} == expected
