"""Warning track record (the backtest page): its numbers are salesplan.backtest's for the demo
organisation and the reliability diagram plots the calibration bins against the diagonal. That only
leaders and admins may open it is tests/pages/test_role_matrix.py."""

from __future__ import annotations

import pytest

from salesplan import backtest, ui
from tests.helpers.pages import ADMIN, add_admin, app, engine_inputs, figures, metric_value, shared_app, texts


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


@pytest.fixture(scope="module")
def inputs(db):
    """The demo's engine inputs as the admin sees them, read once per module (the backtests only read them)."""
    return engine_inputs(db)


@pytest.fixture(scope="module")
def result(inputs):
    return backtest.backtest(inputs)


@pytest.fixture(scope="module")
def shown(db):
    """The admin's Warning track record page as it opens, shared by the tests that only read it."""
    with shared_app(db, page="trust") as at:
        yield at


def test_the_page_shows_the_backtests_numbers(shown, result):
    at = shown
    assert at.title[0].value == "Warning track record" and not at.error
    s = result.summary
    assert s["checks"] > 0 and s["too_late_checks"] > 0, "the demo has past years to grade"
    assert metric_value(at, "“Too late” was right") == ui.pct(s["too_late_precision"], 0)
    assert metric_value(at, "Misses flagged in time") == ui.pct(s["flagged_in_time"], 0)
    assert metric_value(at, "Median lead") == f"{s['median_lead_weeks']:.0f} weeks"
    assert metric_value(at, "“On track” still missed") == ui.pct(s["on_track_miss_rate"], 0)
    table = at.dataframe[0].value
    assert table["status"].tolist() == [ui.status_label(v) for v in result.by_status["status"]]
    assert table["miss_rate"].tolist() == pytest.approx(result.by_status["miss_rate"].tolist())
    assert table["checks"].tolist() == result.by_status["checks"].tolist()
    [diagram] = [f for f in figures(at) if "predicted vs what happened" in f["layout"]["title"]["text"]]
    diagonal, points = diagram["data"]
    assert diagonal["x"] == [0, 1] and diagonal["y"] == [0, 1]
    filled = result.calibration[result.calibration["checks"] > 0]
    assert points["x"] == pytest.approx(filled["predicted"].tolist())
    assert points["y"] == pytest.approx(filled["observed"].tolist())
    assert f"Mean gap from the diagonal: **{ui.pct(s['calibration_gap'], 0)}**" in texts(at)


def test_one_fiscal_year_and_another_level(monkeypatch, db, inputs):
    at = app(monkeypatch, db, page="trust")
    years = [y for y in at.selectbox(key="trust_fy").options if y != "Every complete year"]
    assert years, "the demo has complete past years"
    at.selectbox(key="trust_fy").set_value(int(years[-1].removeprefix("FY"))).run()
    one = backtest.backtest(inputs, fy=int(years[-1].removeprefix("FY")))
    territory = backtest.backtest(inputs, level="territory")
    assert f"**{one.summary['checks']:,}** weekly checks" in texts(at)
    at.selectbox(key="trust_fy").set_value(None)  # both choices in one run
    at.segmented_control(key="trust_level").set_value("territory").run()
    assert f"**{territory.summary['checks']:,}** weekly checks" in texts(at)


def test_without_past_years_it_says_there_is_no_track_record(monkeypatch, tmp_path):
    from salesplan import imports
    from salesplan.store import Store

    empty = tmp_path / "empty.duckdb"
    add_admin(empty)
    at = app(monkeypatch, empty, page="trust")
    assert "No reps yet" in texts(at)
    assert not at.exception and not at.metric

    reps_only = tmp_path / "reps-only.duckdb"
    with Store.open(reps_only) as store:
        imports.import_file(store, "reps", b"rep_id,name,territory,region\nR1,Ann Lee,North,N\n", principal=ADMIN,
                            file_name="reps.csv")
    add_admin(reps_only)
    at = app(monkeypatch, reps_only, page="trust")
    assert "No track record" in texts(at) and not at.exception and not at.metric


def test_a_small_sample_says_so_with_its_counts(shown, result):
    """Review of issue 12: the 12-rep demo grades 18 owner-years with 2 misses; the page must not show
    its rates as if they were reliable."""
    s = result.summary
    assert s["owners"] < backtest.MIN_OWNER_YEARS and s["misses"] < backtest.MIN_MISSES
    at = shown
    [caution] = [w.value for w in at.warning if w.value.startswith("Small sample")]
    assert f"rest on {s['owners']} owner-years across 2 fiscal years, of which {s['misses']} missed" in caution
    assert "not yet reliable" in caution and f"{s['checks']:,} weekly checks are not independent" in caution
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Misses flagged in time"] == f"from {s['misses']} owner-years"
    assert deltas["“Too late” was right"] == f"from {s['too_late_owners']} owner-years"
    assert deltas["“On track” still missed"] == f"from {s['on_track_owners']} owner-years"
    owners = result.checks[result.checks["status"] == "too_late"].drop_duplicates(["fy", "owner_id"])
    assert s["too_late_owners"] == len(owners) > 0


def test_small_sample_thresholds():
    big = {"owners": backtest.MIN_OWNER_YEARS, "misses": backtest.MIN_MISSES, "checks": 5000, "fiscal_years": "2024"}
    assert backtest.small_sample(big) is None
    assert "1 owner-year across 1 fiscal year, of which 0 missed" in backtest.small_sample(
        {**big, "owners": 1, "misses": 0})
    assert backtest.small_sample({**big, "misses": backtest.MIN_MISSES - 1}) is not None
    assert backtest.small_sample({**big, "checks": 0}) is None
