"""The same numbers on every backend, and the migration path between them.

The demo organisation is loaded through the real import path into DuckDB and into PostgreSQL;
the report (engine.report over store.engine_inputs) must be identical cell by cell at every level,
metric and period. Then the documented migration: ``salesplan backup`` from DuckDB, ``salesplan
restore`` into PostgreSQL, and back into a new DuckDB file: every table and every report cell the
same.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from salesplan import engine
from salesplan.cli import main
from salesplan.demo import load_demo
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.demo import demo_copy
from tests.helpers.storage_fixtures import from_template

# the demo the pages' tests use (tests/helpers/pages.py: 12 reps, seed 3): a run builds each demo once
SEED = 3
TODAY = date(2026, 11, 26)
AS_OF = date(2026, 11, 23)
VIEWS = [
    (level, metric, period)
    for level in ("rep", "territory", "region", "org")
    for metric in ("revenue", "profit")
    for period in ("year", "quarter", "month")
]


def reports(store: Store) -> dict[tuple[str, str, str], pd.DataFrame]:
    inputs = store.engine_inputs(SYSTEM)
    return {view: engine.report(inputs, AS_OF, level=view[0], metric=view[1], period=view[2]) for view in VIEWS}


def assert_same_reports(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for view, frame in expected.items():
        assert len(frame) > 0, view
        pd.testing.assert_frame_equal(actual[view], frame, check_exact=True, obj=str(view))


@pytest.fixture(scope="module")
def duckdb_demo(tmp_path_factory):
    path = demo_copy(tmp_path_factory.mktemp("report"), reps=12, seed=SEED, today=TODAY)
    with Store.open(path) as store:
        return path, reports(store)


def test_the_demo_report_is_identical_on_duckdb_and_postgresql(duckdb_demo, pg_url, request):
    _, expected = duckdb_demo
    # a copy of the migrated template: what Store.open makes of the new database, without migrating it again
    with Store.open(from_template(request, pg_url, templates.MIGRATED)) as store:
        assert store.dialect == "postgres"
        load_demo(store, reps=12, seed=SEED, today=TODAY)
        assert_same_reports(expected, reports(store))


def test_backup_from_duckdb_restore_into_postgresql_and_back(duckdb_demo, pg_url, tmp_path, capsys, request):
    path, expected = duckdb_demo
    # the databases restored into are copies of the migrated template: what the command line's
    # Store.open makes of a new database, without migrating it again
    from_template(request, pg_url, templates.MIGRATED)
    assert main(["--db", str(path), "backup", str(tmp_path / "from-duckdb")]) == 0
    assert main(["--db", pg_url, "restore", str(tmp_path / "from-duckdb")]) == 0
    # the demo's rows, read once (~0.4 s of CPU): nothing below writes to its file
    with Store.open(path) as original:
        rows = original.snapshot()
    with Store.open(pg_url) as server:
        assert server.dialect == "postgres"
        assert server.snapshot() == rows
        assert_same_reports(expected, reports(server))
    assert main(["--db", pg_url, "backup", str(tmp_path / "from-postgres")]) == 0
    back = templates.duckdb_copy(tmp_path / "back.duckdb", templates.MIGRATED)
    assert main(["--db", str(back), "restore", str(tmp_path / "from-postgres")]) == 0
    with Store.open(back) as restored:
        assert restored.snapshot() == rows
        assert_same_reports(expected, reports(restored))
    # the command-line report prints the same text from either database
    capsys.readouterr()
    assert main(["--db", str(back), "report", "--as-of", AS_OF.isoformat(), "--level", "territory", "--format", "csv"]) == 0
    from_duckdb = capsys.readouterr().out
    assert main(["--db", pg_url, "report", "--as-of", AS_OF.isoformat(), "--level", "territory", "--format", "csv"]) == 0
    assert capsys.readouterr().out == from_duckdb
