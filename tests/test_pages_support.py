"""Shared helpers of the dashboard tests (AppTest): one demo database per test session, copied for
each test that writes, and an AppTest pointed at it.

Kept in a test module of its own (imported by test_app.py and test_pages_*.py) because the
dashboard tests own no conftest; its single test checks the template itself.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from salesplan import engine
from salesplan.demo import load_demo
from salesplan.principal import Principal
from salesplan.store import Store

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
DEMO_TODAY = date(2026, 11, 26)
ADMIN = Principal("admin@local", "admin")

_templates: dict[int, Path] = {}


def demo_template(reps: int = 12) -> Path:
    """A demo database built once per test process (12 reps, seed 3, today 2026-11-26)."""
    if reps not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="salesplan-ui-tests-"))
        path = folder / f"demo-{reps}.duckdb"
        with Store.open(path) as store:
            load_demo(store, reps=reps, seed=3, today=DEMO_TODAY)
        _templates[reps] = path
    return _templates[reps]


def fresh_db(folder: Path, reps: int = 12) -> Path:
    """A private copy of the demo database, for a test that writes."""
    target = folder / "app.duckdb"
    shutil.copyfile(demo_template(reps), target)
    return target


def app(monkeypatch, db: Path, *, page: str | None = None) -> AppTest:
    """An AppTest of app.py on ``db`` with the as-of date pinned to the demo's today, already run."""
    monkeypatch.setenv("SALESPLAN_DB", str(db))
    monkeypatch.setenv("SALESPLAN_TODAY", DEMO_TODAY.isoformat())
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        goto(at, page)
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_store(db: Path) -> Store:
    """A second connection to the app's database (same process, same DuckDB instance)."""
    return Store.open(db, migrate=False)


def engine_year(db: Path, *, metric: str = "revenue", level: str = "rep", period: str = "year") -> pd.DataFrame:
    store = open_store(db)
    try:
        return engine.report(store.engine_inputs(ADMIN), DEMO_TODAY, level=level, metric=metric, period=period)
    finally:
        store.close()


def plotly_values(value):
    """Plotly 6 writes numeric arrays as {dtype, bdata[, shape]}: decode them to nested lists."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = value["shape"]
            array = array.reshape([int(n) for n in (shape.split(",") if isinstance(shape, str) else shape)])
        return array.tolist()
    return value


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as dicts with decoded arrays."""
    out = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec["data"]:
            for key in ("x", "y", "z", "text", "customdata"):
                if key in trace:
                    trace[key] = plotly_values(trace[key])
        out.append(spec)
    return out


def metric_value(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def texts(at: AppTest) -> str:
    """Every alert, markdown and caption text on the page, to search in."""
    parts = []
    for kind in ("success", "info", "warning", "error", "markdown", "caption"):
        parts += [element.value for element in getattr(at, kind)]
    return "\n".join(parts)


def test_demo_template_has_an_organisation():
    year = engine_year(demo_template())
    assert len(year) == 12
    assert (year["target"] > 0).sum() >= 6
