"""The benchmark's steps, each run in a process of its own by :mod:`bench.run`:

    python -m bench.steps STEP '{"json": "arguments"}'

A step prints one JSON line, its result, with ``peak_rss_mb``: the process's peak resident memory
(``VmHWM`` of /proc/self/status, else ``ru_maxrss``), so every step's memory is measured alone.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024 if sys.platform == "darwin" else 1024)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def _as_of() -> Any:
    from bench.generate import AS_OF

    return AS_OF


# ---------------------------------------------------------------------------- data
def step_generate(folder: str, reps: int) -> dict[str, Any]:
    from bench.generate import generate

    seconds, info = timed(lambda: generate(reps, folder))
    return {"seconds": seconds, **info}


def step_base_store(folder: str, db: str, actions: int) -> dict[str, Any]:
    """A store with the settings, reps, holidays, targets and some open actions (no actuals)."""
    import datetime as dt

    from salesplan import imports
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    if os.path.exists(db):
        os.remove(db)
    out: dict[str, Any] = {}
    with Store.open(db) as store:
        store.save_settings(SYSTEM, upload_limit_mb=10_000)  # the L actuals file is ~0.9 GB
        for kind in ("reps", "holidays", "targets"):
            seconds, result = timed(lambda: imports.import_file(store, kind, Path(folder) / f"{kind}.csv"))
            out[kind] = {"seconds": seconds, "inserted": result.inserted}
        reps = store.reps(SYSTEM)["rep_id"].tolist()
        step = max(1, len(reps) // max(actions, 1))
        t0 = time.perf_counter()
        for i, rep in enumerate(reps[::step][:actions]):
            store.add_action(SYSTEM, rep, 2025, description=f"Win back account {i}", owner=rep,
                             due_date=dt.date(2025, 11, 15), status="planned" if i % 2 else "in_progress",
                             expected_impact=5_000.0 + 250.0 * (i % 40))
        out["actions"] = {"seconds": time.perf_counter() - t0, "count": min(actions, len(reps[::step]))}
        if hasattr(store, "add_user"):  # the dashboard's sign-in (issue 5): an admin account for the pages
            store.add_user(SYSTEM, ADMIN_EMAIL, "admin", password="bench-password")
    return out


# ---------------------------------------------------------------------------- import
def step_import(db: str, csv: str, copy_from: str | None = None) -> dict[str, Any]:
    """``imports.import_file(store, "actuals", csv)``, timed (the store opened before the clock)."""
    from salesplan import imports
    from salesplan.store import Store

    if copy_from:
        shutil.copyfile(copy_from, db)
    with Store.open(db) as store:
        cpu = time.process_time()
        seconds, result = timed(lambda: imports.import_file(store, "actuals", csv))
        cpu = time.process_time() - cpu
        totals = store.actual_totals(store_principal())
    return {"seconds": seconds, "cpu": cpu, "inserted": result.inserted, "updated": result.updated,
            "unchanged": result.unchanged, "rejected": result.rejected, "ledger_rows": totals["rows"]}


def step_xlsx(db: str, csv: str, copy_from: str, xlsx: str, rows: int, reader: str) -> dict[str, Any]:
    """Import the first ``rows`` rows of the actuals CSV as an .xlsx, read by ``reader``:
    "calamine" (today's path) or "openpyxl" (the streamed reader every workbook used before).
    The workbook is written once (openpyxl, write-only) and reused; its writing is not timed."""
    from salesplan import imports
    from salesplan.store import Store

    if not os.path.exists(xlsx):
        import csv as csv_module

        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        with open(csv, newline="") as handle:
            for number, record in enumerate(csv_module.reader(handle)):
                if number > rows:
                    break
                sheet.append(record)
        book.save(xlsx)
    from salesplan.files import workbook

    streamed = workbook._read_xlsx_streamed
    used: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        used.append("openpyxl")
        return streamed(*args, **kwargs)

    # patched where _read_workbook looks them up (the module, not the package's re-export), and
    # put back afterwards: with --in-process the other reader's run follows in this process
    extent = workbook._xlsx_extent
    workbook._read_xlsx_streamed = counted
    if reader == "openpyxl":
        workbook._xlsx_extent = lambda archive, file_name: None  # the streamed reader, as before calamine
    try:
        shutil.copyfile(copy_from, db)
        with Store.open(db) as store:
            seconds, result = timed(lambda: imports.import_file(store, "actuals", xlsx))
    finally:
        workbook._read_xlsx_streamed, workbook._xlsx_extent = streamed, extent
    if ("openpyxl" in used) != (reader == "openpyxl"):
        raise RuntimeError(f"the {reader} run read the workbook with {'openpyxl' if used else 'calamine'}")
    return {"seconds": seconds, "inserted": result.inserted, "rejected": result.rejected}


def step_bulk_load(db: str, csv: str, copy_from: str) -> dict[str, Any]:
    """Fallback when the validated import cannot finish: the same rows written straight into the
    store's tables with SQL (keys (order_id, line) as the import makes them; no validation)."""
    from salesplan.store import Store

    shutil.copyfile(copy_from, db)
    columns = ("row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, order_line, "
               "customer, product")
    select = (
        "SELECT 'o|' || order_id || '|' || line AS row_key, row_number() OVER () + 1 AS line, date AS sale_date, "
        "rep AS rep_id, territory, revenue::DECIMAL(18,4) AS revenue, cost::DECIMAL(18,4) AS cost, "
        "(revenue - cost)::DECIMAL(18,4) AS profit, order_id, line::VARCHAR AS order_line, customer, product "
        f"FROM read_csv('{csv}')"
    )
    with Store.open(db) as store:
        t0 = time.perf_counter()
        with store.atomic() as cur:
            batch = int(cur.execute("SELECT nextval('batch_seq')").fetchall()[0][0])
            cur.execute("INSERT INTO upload_batches (batch_id, kind, file_name, uploaded_by, uploaded_at) "
                        "VALUES (?, 'actuals', ?, 'bench', current_timestamp)", [batch, Path(csv).name])
            cur.execute(f"CREATE TEMP TABLE bulk AS {select}")
            # the current ledger is the versions flagged current (migration 80): one write per row
            cur.execute(f"INSERT INTO actual_versions (batch_id, {columns}, is_current) "
                        f"SELECT {batch}, {columns}, true FROM bulk")
            cur.execute("DROP TABLE bulk")
            cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'data_version'")
        seconds = time.perf_counter() - t0
    return {"seconds": seconds}


def store_principal():
    from salesplan.principal import SYSTEM

    return SYSTEM


def _fresh_duckdb(db: str):
    """A new, empty DuckDB file at ``db`` (an earlier run's file and WAL removed), no progress bar."""
    import duckdb

    for suffix in ("", ".wal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    con = duckdb.connect(db)
    con.execute("SET enable_progress_bar = false")
    return con


def step_duckdb_csv(db: str, csv: str) -> dict[str, Any]:
    """The engine's limit: DuckDB reading the same CSV into a table of a database file."""
    con = _fresh_duckdb(db)
    cpu = time.process_time()
    seconds, _ = timed(lambda: con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')"))
    cpu = time.process_time() - cpu
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows}


def step_pandas_csv(db: str, csv: str) -> dict[str, Any]:
    """Plain pandas: ``read_csv`` and an insert of the frame into a DuckDB database file."""
    import pandas as pd

    con = _fresh_duckdb(db)

    def work() -> int:
        frame = pd.read_csv(csv)
        con.register("frame", frame)
        con.execute("CREATE TABLE t AS SELECT * FROM frame")
        con.unregister("frame")
        return len(frame)

    seconds, rows = timed(work)
    con.close()
    return {"seconds": seconds, "rows": rows}


# ---------------------------------------------------------------------------- report
def step_report_engine(db: str, repeat: int, out: str) -> dict[str, Any]:
    """``store.engine_inputs`` and ``engine.report`` (full year, every rep), each timed ``repeat`` times."""
    import dataclasses

    from salesplan import engine
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    with Store.open(db, migrate=False) as store:
        reads, runs = [], []
        for _ in range(repeat):
            seconds, inputs = timed(lambda: store.engine_inputs(SYSTEM))
            reads.append(seconds)
        for _ in range(repeat):
            # a new inputs object each time: the engine keeps its matrices with the object, so
            # the same one again would time a kept preparation, not the report
            fresh = dataclasses.replace(inputs)
            seconds, frame = timed(lambda: engine.report(fresh, _as_of(), level="rep"))
            runs.append(seconds)
    frame.to_pickle(out)
    return {"read": reads, "report": runs, "daily_rows": len(inputs.daily_actuals), "owners": len(frame),
            "statuses": frame["status"].value_counts().to_dict()}


DEALS_PER_REP = 20


def bench_deals(rep_ids: Any, as_of: Any, per_rep: int = DEALS_PER_REP, seed: int = 7) -> tuple[Any, Any]:
    """A deals snapshot (docs/numbers.md, "Pipeline") dated a few days before ``as_of`` with
    ``per_rep`` open deals per rep, and its scope (every rep), made with numpy in one go: amounts
    log-normal around 20,000, probabilities 0.1-0.9, expected close dates from 30 days before
    ``as_of`` (overdue) to 120 days after it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    reps = np.asarray(rep_ids, dtype=object)
    n = len(reps) * per_rep
    snapshot = np.datetime64(as_of, "D") - np.timedelta64(3, "D")
    deals = pd.DataFrame({
        "snapshot_date": np.full(n, snapshot),
        "deal_id": np.char.add("D", np.arange(n).astype(str)),
        "rep_id": np.repeat(reps, per_rep),
        "amount": np.round(rng.lognormal(np.log(20_000), 0.8, n), 2),
        "probability": np.round(rng.uniform(0.1, 0.9, n), 2),
        "expected_close": np.datetime64(as_of, "D") + rng.integers(-30, 121, n).astype("timedelta64[D]"),
    })
    scopes = pd.DataFrame({"snapshot_date": np.full(len(reps), snapshot), "rep_id": reps})
    return deals, scopes


def step_report_variants(db: str, repeat: int) -> dict[str, Any]:
    """Two more reports on the same store, each timed ``repeat`` times: the full-year rep report
    with ~20 open deals per rep (the pipeline columns filled) and the weekly report (every week of
    the year, every rep)."""
    import dataclasses

    from salesplan import engine
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    with Store.open(db, migrate=False) as store:
        inputs = store.engine_inputs(SYSTEM)
    deals, scopes = bench_deals(inputs.reps["rep_id"], _as_of())
    with_deals = dataclasses.replace(inputs, deals=deals, deal_scopes=scopes)
    deal_runs, week_runs = [], []
    for _ in range(repeat):  # interleaved, so a change in the machine's load hits both alike
        # new inputs objects each time (see step_report_engine: the engine keeps its matrices per object)
        deals_now, inputs_now = dataclasses.replace(with_deals), dataclasses.replace(inputs)
        seconds, frame = timed(lambda: engine.report(deals_now, _as_of(), level="rep"))
        deal_runs.append(seconds)
        seconds, weeks = timed(lambda: engine.report(inputs_now, _as_of(), level="rep", period="week"))
        week_runs.append(seconds)
    return {"deals": deal_runs, "week": week_runs, "deal_rows": len(deals),
            "with_pipeline": int(frame["pipeline"].notna().sum()), "week_rows": len(weeks)}


def step_report_command(db: str, repeat: int) -> dict[str, Any]:
    """``salesplan report`` as a whole command (a fresh interpreter each time: imports, opening the
    store, reading the engine inputs, the engine, rendering), timed from outside; interleaved with
    its floor, a fresh interpreter that only imports the libraries every report needs (pandas,
    numpy, pyarrow, DuckDB)."""
    import subprocess

    command = [sys.executable, "-m", "salesplan.cli", "--db", db, "report", "--as-of", _as_of().isoformat()]
    floor = [sys.executable, "-c", "import pandas, numpy, pyarrow, duckdb"]
    runs, floors = [], []
    for _ in range(repeat):
        for argv, into in ((command, runs), (floor, floors)):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            into.append(time.perf_counter() - t0)
    return {"runs": runs, "floor": floors}


def step_report_pandas(db: str, repeat: int, out: str) -> dict[str, Any]:
    """The pandas reference of the same report on the same inputs, timed ``repeat`` times."""
    from bench import pandas_reference
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    with Store.open(db, migrate=False) as store:
        inputs = store.engine_inputs(SYSTEM)
    runs = []
    for _ in range(repeat):
        seconds, frame = timed(lambda: pandas_reference.report(inputs, _as_of()))
        runs.append(seconds)
    frame.to_pickle(out)
    return {"report": runs}


def step_compare(engine_out: str, pandas_out: str) -> dict[str, Any]:
    import pandas as pd

    from bench import pandas_reference

    return pandas_reference.compare(pd.read_pickle(engine_out), pd.read_pickle(pandas_out))


# ---------------------------------------------------------------------------- pages
ADMIN_EMAIL = "admin@bench.test"
PAGES = {"my_plan": ("pages/my_plan.py", "My plan"), "team": ("pages/team.py", "Team overview"),
         "watchlist": ("pages/watchlist.py", "Watch list")}


def step_page(db: str, page: str, repeat: int, app: str = "app.py") -> dict[str, Any]:
    """First run and reruns of one dashboard page with streamlit's AppTest, in a fresh process
    (so the first run starts with empty caches, as after a deploy)."""
    os.environ["SALESPLAN_DB"] = db
    os.environ["SALESPLAN_TODAY"] = _as_of().isoformat()
    from streamlit.testing.v1 import AppTest

    path, title = PAGES[page]
    at = AppTest.from_file(str(Path(app).resolve()), default_timeout=300)
    from salesplan import ui

    if hasattr(ui, "SIGNED_IN_KEY"):  # signed in the way the sign-in form leaves the session
        at.session_state[ui.SIGNED_IN_KEY] = ADMIN_EMAIL
    t_first = None
    if page != "my_plan":  # the default page; others are reached by switching first
        at.switch_page(path)
    t_first, _ = timed(at.run)
    if at.exception:
        return {"error": "; ".join(str(e.value)[:300] for e in at.exception)}
    titles = [t.value for t in at.title]
    if title not in titles:
        return {"error": f"the page did not render (titles {titles}; errors {[e.value for e in at.error][:2]})"}
    reruns = []
    for _ in range(repeat):
        seconds, _ = timed(at.run)
        reruns.append(seconds)
    if at.exception:
        return {"error": "; ".join(str(e.value)[:300] for e in at.exception)}
    return {"first": t_first, "reruns": reruns, "titles": titles, "title_ok": title in titles,
            "errors": [str(e.value)[:200] for e in at.error]}


def step_pages(db: str, pages: list[str], repeat: int) -> dict[str, Any]:
    """:func:`step_page` for each of ``pages`` in one process (the quick mode: streamlit starts
    once, so only the first page's first run is a cold one); ``{page: result}``."""
    return {page: step_page(db, page, repeat) for page in pages}


# ---------------------------------------------------------------------------- machine
def step_first_touch(mb: int = 256) -> dict[str, Any]:
    """How fast this machine hands out fresh memory (first-touch page faults): MB/s."""
    import numpy as np

    seconds, a = timed(lambda: np.ones(mb * 131072))  # 8-byte floats
    seconds2, _ = timed(lambda: a.__iadd__(1))  # the same pages again: memory bandwidth
    return {"first_touch_mb_s": mb / seconds, "rewrite_mb_s": mb / seconds2}


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith("step_")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    result = STEPS[name](**args)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write("\n@@RESULT@@" + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
