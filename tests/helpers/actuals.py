"""Small actuals files imported in tests: a header with order ids and the import or its problems."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import BadInput, Problem

HEADER = "date,rep,order_id,line,amount\n"


def actuals(store, text: str, **options):
    """Import ``text`` as an actuals file named sales.csv (``options`` go to import_file)."""
    return imports.import_file(store, "actuals", text.encode("utf-8"), file_name="sales.csv", **options)


def problems(store, text: str) -> list[Problem]:
    """The problems of an actuals file that must be refused."""
    with pytest.raises(BadInput) as caught:
        actuals(store, text)
    return caught.value.problems


# rows of a file just over the small-file size (the large paths of the import)
LARGE_ROWS = imports.parser._SMALL_FILE_ROWS + 20


def large_file(prefix: str = "O", amount: float = 0.25) -> str:
    """An actuals file of LARGE_ROWS sales of R001 and R002, order ids ``prefix``0, 1, ..., the i-th
    of amount i + ``amount``."""
    rows = [f"2025-03-{3 + i % 20:02d},R00{1 + i % 2},{prefix}{i},1,{i + amount}" for i in range(LARGE_ROWS)]
    return HEADER + "\n".join(rows) + "\n"


def attached_workspaces(store) -> list[str]:
    """The import workspaces attached to an embedded store's DuckDB now (none on PostgreSQL)."""
    if store.dialect != "duckdb":
        return []
    with store.cursor() as cursor:
        return [row[0] for row in cursor.execute(
            "SELECT database_name FROM duckdb_databases() WHERE database_name LIKE 'salesplan_import_%'").fetchall()]
