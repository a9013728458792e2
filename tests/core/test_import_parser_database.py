"""The parser database: one in-memory DuckDB per process, a private connection (cursor) per import
(docs/decisions.md, "One parser database per process")."""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import closing

import duckdb
import pyarrow as pa
import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.files import limits
from salesplan.principal import SYSTEM
from tests.helpers import templates


def _sales(rep: str, rows: int, start: int) -> bytes:
    return ("order_id,sale_date,rep_id,revenue\n" + "".join(
        f"O{start + n},2025-03-{1 + n % 28:02d},{rep},{start + n}.5\n" for n in range(rows)
    )).encode()


def test_imports_make_no_new_duckdb_database(reps_store, monkeypatch):
    imports.import_file(reps_store, "actuals", _sales("R001", 3, 0), file_name="first.csv")  # the process's one
    made = []
    plain = duckdb.connect

    def counted(*args, **kwargs):
        if str(kwargs.get("database", args[0] if args else ":memory:")) == ":memory:":
            made.append(args)  # the store's own file is opened too; only in-memory ones are parsers'
        return plain(*args, **kwargs)

    monkeypatch.setattr(limits.duckdb, "connect", counted)
    for index in range(3):
        imports.import_file(reps_store, "actuals", _sales("R001", 3, 10 * (index + 1)), file_name=f"{index}.csv")
    assert made == []
    assert len(reps_store.actuals(SYSTEM)) == 12


def test_connections_share_the_database_but_not_their_tables():
    first, second = limits.quiet_connection(), limits.quiet_connection()
    try:
        first.register("raw_arrow", pa.table({"x": [1, 2]}))
        second.register("raw_arrow", pa.table({"x": [7]}))
        first.execute("CREATE TEMP TABLE problem_rows AS SELECT 'first' AS who")
        second.execute("CREATE TEMP TABLE problem_rows AS SELECT 'second' AS who")
        assert first.execute("SELECT sum(x) FROM raw_arrow").fetchall() == [(3,)]
        assert second.execute("SELECT sum(x) FROM raw_arrow").fetchall() == [(7,)]
        assert first.execute("SELECT who FROM problem_rows").fetchall() == [("first",)]
        assert second.execute("SELECT who FROM problem_rows").fetchall() == [("second",)]
        # one database: the memory limit is the process's parsing budget, not each import's
        assert first.execute("SELECT current_setting('memory_limit')").fetchall() == \
            second.execute("SELECT current_setting('memory_limit')").fetchall()
        first.execute("CREATE TABLE IF NOT EXISTS shared_probe AS SELECT 1 AS x")
        assert second.execute("SELECT count(*) FROM shared_probe").fetchall() == [(1,)]
    finally:
        first.execute("DROP TABLE IF EXISTS shared_probe")
        first.close()
        second.close()
    third = limits.quiet_connection()
    try:
        with pytest.raises(duckdb.CatalogException):
            third.execute("SELECT * FROM problem_rows")  # a closed connection's temporary tables are gone
    finally:
        third.close()


def test_two_imports_parsing_at_the_same_time_keep_their_own_rows_and_problems(tmp_path, reps_template, monkeypatch):
    # both parsers hold their raw cells, views and problem tables under the same names at the
    # same moment: each import must still see only its own file
    barrier = threading.Barrier(2, timeout=60)
    plain = imports.parser._collect

    def together(parser, valid_only):
        barrier.wait()
        return plain(parser, valid_only)

    monkeypatch.setattr(imports.actuals, "_collect", together)
    good = _sales("R001", 500, 0)
    bad_lines = _sales("R002", 400, 1000).decode().splitlines()
    bad_lines[123] = "O9999,2025-13-45,R002,12"
    bad = ("\n".join(bad_lines) + "\n").encode()
    results: dict[str, object] = {}

    def run(name: str, data: bytes) -> None:
        with templates.open_copy(reps_template, tmp_path / f"{name}.duckdb") as store:
            try:
                results[name] = imports.import_file(store, "actuals", data, file_name=f"{name}.csv")
            except BadInput as error:
                results[name] = error.problems
            results[name + " rows"] = store.actuals(SYSTEM)[["order_id", "rep_id", "revenue"]]

    threads = [threading.Thread(target=run, args=("good", good)), threading.Thread(target=run, args=("bad", bad))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results["good"].inserted == 500
    rows = results["good rows"]
    assert set(rows["rep_id"]) == {"R001"} and len(rows) == 500
    assert float(rows["revenue"].sum()) == sum(n + 0.5 for n in range(500))
    problems = results["bad"]
    assert [(p.file, p.line, p.column) for p in problems] == [("bad.csv", 124, "sale_date")]
    assert len(results["bad rows"]) == 0


def test_a_child_process_gets_its_own_parser_database(monkeypatch):
    mine = limits.parser_database()
    monkeypatch.setattr(limits.os, "getpid", lambda: -1)  # as a forked child sees it
    child = limits.parser_database()
    assert child is not mine
    assert child.execute("SELECT 1").fetchall() == [(1,)]
    child.close()
    for key in [k for k in limits._parser_databases if k[0] == -1]:
        del limits._parser_databases[key]


def test_a_removed_spill_folder_gives_the_parser_a_new_one():
    """A long-running server whose spill folder was removed (a cleaner of /tmp) must still be able
    to spill: the parser database is made again with a new folder (a database keeps the folder it
    was made with; DuckDB then fails to open its spill files)."""
    with closing(limits.quiet_connection()) as first:
        folder = first.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    shutil.rmtree(folder)
    with closing(limits.quiet_connection()) as second:
        now = second.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert now != folder and os.path.isdir(now)
