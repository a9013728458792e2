"""Where an actuals import spends its time: every DuckDB statement and the Python phases around them.

    python -m bench.profile_import FOLDER [--reimport]

FOLDER holds the generated files (``python -m bench.generate M FOLDER``). The import runs into a
fresh store (reps, holidays and targets imported first), with every DuckDB connection of
``salesplan.files``, ``salesplan.imports`` and the store wrapped so that each statement (and the
fetch of its result) is timed. Prints the statements by time, then a cProfile summary.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.steps import peak_rss_mb

READ_PEAK_MB: list[float] = []  # the process's peak resident memory when the file's read ended

DUMPED: list[str] = []  # the full text of every statement, in order (--dump)

TIMES: dict[str, float] = defaultdict(float)
CPU: dict[str, float] = defaultdict(float)  # process CPU seconds (all threads): steadier than wall time on a busy machine
COUNTS: dict[str, int] = defaultdict(int)


def _label(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return text[:150]


class _Result:
    def __init__(self, owner: "_Timed", label: str):
        self._owner, self._label = owner, label

    def _fetch(self, name: str, *args):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return getattr(self._owner._con, name)(*args)
        finally:
            TIMES[self._label] += time.perf_counter() - t0
            CPU[self._label] += time.process_time() - c0

    def fetchall(self):
        return self._fetch("fetchall")

    def fetchone(self):
        return self._fetch("fetchone")

    def df(self):
        return self._fetch("df")

    @property
    def description(self):
        return self._owner._con.description


class _Relation:
    def __init__(self, rel, label: str):
        self._rel, self._label = rel, label

    def to_arrow_table(self):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self._rel.to_arrow_table()
        finally:
            TIMES[self._label] += time.perf_counter() - t0
            CPU[self._label] += time.process_time() - c0

    def __getattr__(self, name):
        return getattr(self._rel, name)


class _Timed:
    def __init__(self, con, where: str):
        self._con, self._where = con, where

    def execute(self, sql, params=None):
        label = f"[{self._where}] {_label(sql)}"
        COUNTS[label] += 1
        DUMPED.append(f"-- [{self._where}]\n{sql};\n")
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            if params is None:
                self._con.execute(sql)
            else:
                self._con.execute(sql, params)
        finally:
            TIMES[label] += time.perf_counter() - t0
            CPU[label] += time.process_time() - c0
        return _Result(self, label)

    def sql(self, sql, **kwargs):
        label = f"[{self._where}] {_label(sql)}"
        COUNTS[label] += 1
        DUMPED.append(f"-- [{self._where}] (relation)\n{sql};\n")
        t0, c0 = time.perf_counter(), time.process_time()
        rel = self._con.sql(sql, **kwargs)
        TIMES[label] += time.perf_counter() - t0
        CPU[label] += time.process_time() - c0
        return _Relation(rel, label)

    def cursor(self):
        return _Timed(self._con.cursor(), self._where)

    def __getattr__(self, name):
        return getattr(self._con, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_import")
    parser.add_argument("folder")
    parser.add_argument("--reimport", action="store_true", help="profile the second import of the same file")
    parser.add_argument("--dump", help="write the full text of every statement of the profiled import to this file")
    args = parser.parse_args(argv)

    from salesplan import files, imports

    plain = files.quiet_connection

    def quiet(*args, **kwargs):
        return _Timed(plain(*args, **kwargs), "parser")

    # patched where it is called: the import's one connection (imports.flow), and the CSV reader
    # (files.csvtext) and the parser (imports.parser) when called without it
    imports.flow.quiet_connection = quiet
    # the connection an embedded store lends the import (its workspace)
    lent = imports.flow.parsing_session
    imports.flow.parsing_session = lambda connection: _Timed(lent(connection), "parser")
    files.csvtext.quiet_connection = quiet
    imports.parser.quiet_connection = quiet
    # the whole read of the file (decode, records, DuckDB's reader, header), timed apart
    read_table = imports.flow.read_table

    def timed_read_table(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return read_table(*args, **kwargs)
        finally:
            TIMES["[phase] files.read_table (all of it, DuckDB reader included)"] += time.perf_counter() - t0
            CPU["[phase] files.read_table (all of it, DuckDB reader included)"] += time.process_time() - c0
            COUNTS["[phase] files.read_table (all of it, DuckDB reader included)"] += 1
            READ_PEAK_MB.append(peak_rss_mb())

    imports.flow.read_table = timed_read_table
    folder = Path(args.folder)
    # the profiled store's folder goes with the run (at L it holds ~640 MB: left behind, a night's
    # profiles filled the disk)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as work:
        return _profile(args, folder, Path(work) / "p.duckdb")


def _profile(args: argparse.Namespace, folder: Path, db: Path) -> int:
    """The profile itself, once ``main`` has wrapped the import's connections: prints it, returns
    the exit status."""
    from salesplan import imports  # (the module ``main`` patched)
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    store = Store.open(db)
    store.save_settings(SYSTEM, upload_limit_mb=10_000)
    for kind in ("reps", "holidays", "targets"):
        imports.import_file(store, kind, folder / f"{kind}.csv")
    if args.reimport:
        imports.import_file(store, "actuals", folder / "actuals.csv")
    # every operation of the store gets its cursor from the file's hold (salesplan.storage.duckfile)
    hold = store._backend._hold
    acquire = hold.acquire
    hold.acquire = lambda: _Timed(acquire(), "store")
    TIMES.clear()
    CPU.clear()
    COUNTS.clear()
    DUMPED.clear()
    profile = cProfile.Profile()
    t0, c0 = time.perf_counter(), time.process_time()
    profile.enable()
    result = imports.import_file(store, "actuals", folder / "actuals.csv")
    profile.disable()
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(result.summary())
    if args.dump:
        Path(args.dump).write_text("\n".join(DUMPED))
    statements = sum(seconds for label, seconds in TIMES.items() if not label.startswith("[phase]"))
    print(f"total {total:.2f} s ({cpu:.2f} s CPU); DuckDB statements {statements:.2f} s; "
          f"peak resident memory {peak_rss_mb():,.0f} MB ({READ_PEAK_MB[-1]:,.0f} MB when the file's read ended)")
    print("   wall     CPU")
    for label, seconds in sorted(TIMES.items(), key=lambda kv: -CPU[kv[0]])[:25]:
        print(f"{seconds:7.2f} s {CPU[label]:6.2f} s  x{COUNTS[label]:<3} {label}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
