"""Currencies (docs/currencies.md): conversion at the month's rate, refusals, versioned rates."""

from __future__ import annotations


import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesplan import engine, imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates

REPS = "rep_id,name,territory,region\nR1,Ann,North,EU\nR2,Bob,South,EU\n"


def _load(store: Store, kind: str, text: str, name: str | None = None):
    return imports.import_file(store, kind, text.encode(), file_name=name or f"{kind}.csv", principal=SYSTEM)


@pytest.fixture(scope="module")
def usd_template(tmp_path_factory):
    """The database of usd_store, built once per module (two imports); tests get copies."""
    path = templates.duckdb_copy(tmp_path_factory.mktemp("currencies") / "usd.duckdb", templates.MIGRATED)
    with Store.open(path) as store:
        _load(store, "reps", REPS)
        store.save_settings(SYSTEM, base_currency="eur")
        _load(store, "rates", "currency,month,rate\nUSD,2025-03,0.9\nusd,2025-04,0.8\n")
    return path


@pytest.fixture
def usd_store(tmp_path, usd_template):
    """Base currency EUR, USD rates 0.9 (2025-03) and 0.8 (2025-04)."""
    with templates.open_copy(usd_template, tmp_path / "c.duckdb") as store:
        yield store


def _daily(store: Store) -> pd.DataFrame:
    return store.engine_inputs(SYSTEM).daily_actuals.sort_values(["date", "rep_id"]).reset_index(drop=True)


def test_a_usd_row_converts_at_its_months_rate_and_keeps_its_original(usd_store):
    _load(usd_store, "actuals", 'date,rep,amount\n2025-03-10,R1,USD 100\n2025-04-02,R1,$200\n2025-04-03,R2,"€50"\n')
    daily = _daily(usd_store)
    # 100 USD x 0.9 in March, 200 USD x 0.8 in April, 50 EUR as they are
    assert daily["revenue"].tolist() == pytest.approx([90.0, 160.0, 50.0])
    stored = usd_store.actuals(SYSTEM).sort_values("sale_date")
    assert stored["revenue"].tolist() == [100.0, 200.0, 50.0]
    assert usd_store.actuals(SYSTEM).sort_values("sale_date")["row_key"].notna().all()
    with usd_store.cursor() as cursor:
        currencies = [row[0] for row in cursor.execute("SELECT currency FROM actuals ORDER BY sale_date").fetchall()]
    assert currencies == ["USD", "USD", "EUR"]
    report = engine.report(usd_store.engine_inputs(SYSTEM), "2025-04-30", fy=2025, level="org")
    assert report["actual_to_date"].iloc[0] == pytest.approx(300.0)


def test_new_rates_reprice_stored_rows_and_undo_brings_the_old_ones_back(usd_store):
    _load(usd_store, "actuals", "date,rep,amount,currency\n2025-03-10,R1,100,USD\n")
    newer = _load(usd_store, "rates", "currency,month,rate\nUSD,2025-03,1.25\n", "rates2.csv")
    assert (newer.inserted, newer.updated) == (0, 1)
    assert _daily(usd_store)["revenue"].tolist() == pytest.approx([125.0])
    history = usd_store.rate_history(SYSTEM, "USD")
    march = history[history["month"] == pd.Timestamp("2025-03-01")]
    assert sorted(march["rate"]) == [0.9, 1.25]  # the previous rate is kept
    usd_store.undo(SYSTEM, newer.batch_id)
    assert _daily(usd_store)["revenue"].tolist() == pytest.approx([90.0])


def test_a_row_without_a_rate_for_its_month_is_refused_with_line_column_reason(usd_store):
    with pytest.raises(BadInput) as caught:
        _load(usd_store, "actuals", "date,rep,amount\n2025-03-10,R1,USD 5\n2025-05-10,R1,USD 100\n")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("actuals.csv", 3, "amount")
    assert problem.reason == "no USD rate for 2025-05"
    assert usd_store.actual_totals(SYSTEM)["rows"] == 0


def test_undoing_rates_that_stored_rows_need_is_refused(usd_store):
    _load(usd_store, "actuals", "date,rep,amount\n2025-03-10,R1,USD 5\n")
    rates_batch = int(usd_store.batches(SYSTEM).query("kind == 'rates'")["batch_id"].iloc[0])
    with pytest.raises(BadInput, match="no USD rate for 2025-03"):
        usd_store.undo(SYSTEM, rates_batch)
    assert _daily(usd_store)["revenue"].tolist() == pytest.approx([4.5])


def test_a_mixed_file_is_refused_without_a_base_currency(tmp_path):
    with Store.open(templates.duckdb_copy(tmp_path / "m.duckdb", templates.MIGRATED)) as store:
        _load(store, "reps", REPS)
        with pytest.raises(BadInput) as caught:
            _load(store, "actuals", "date,rep,amount\n2025-03-10,R1,EUR 10\n2025-03-11,R1,10 USD\n2025-03-12,R2,7\n")
        [problem] = caught.value.problems
        assert (problem.line, problem.column) == (3, "amount")
        assert "in USD but the file's first amounts are in EUR" in problem.reason
        assert store.actual_totals(SYSTEM)["rows"] == 0
        # one currency is fine, and then a file in another one is refused too
        _load(store, "actuals", "date,rep,amount\n2025-03-10,R1,EUR 10\n2025-03-12,R2,7\n")
        with pytest.raises(BadInput, match="already stored are in EUR"):
            _load(store, "actuals", "date,rep,amount,currency\n2025-03-10,R1,10,GBP\n", "gbp.csv")


def test_conflicting_and_unknown_currencies_are_refused(usd_store):
    with pytest.raises(BadInput) as caught:
        _load(usd_store, "actuals", "date,rep,amount,currency\n2025-03-10,R1,£10,USD\n2025-03-10,R1,10,XYZ\n2025-03-10,R1,EUR 1 $,\n")
    reasons = {(p.line, p.column): p.reason for p in caught.value.problems}
    assert reasons[(2, "amount")] == "£10 is in GBP but the row's currency is USD"
    assert reasons[(3, "currency")].startswith("unknown currency XYZ")
    assert reasons[(4, "amount")] == "EUR 1 $ names two currencies"


def test_targets_convert_at_their_months_rate(usd_store):
    _load(usd_store, "targets", "owner,month,amount\nR1,2025-03,USD 1000\nR1,2025-04,1000\n")
    targets = usd_store.engine_inputs(SYSTEM).targets.sort_values("month")
    assert targets["amount"].tolist() == pytest.approx([900.0, 1000.0])
    with pytest.raises(BadInput, match="no USD rate for 2025-06"):
        _load(usd_store, "targets", "owner,month,amount\nR1,2025-06,USD 1000\n", "t2.csv")


def test_base_currency_setting_is_checked(usd_store):
    with pytest.raises(BadInput, match="not an ISO 4217"):
        usd_store.save_settings(SYSTEM, base_currency="EURO")
    with pytest.raises(BadInput, match="stored rates are in units of EUR"):
        usd_store.save_settings(SYSTEM, base_currency="USD")
    assert usd_store.settings().base_currency == "EUR"
    with pytest.raises(BadInput, match="EUR is the base currency"):
        _load(usd_store, "rates", "currency,month,rate\nEUR,2025-03,1\n", "eur.csv")


def test_rates_need_a_base_currency_and_good_rows(tmp_path):
    with Store.open(templates.duckdb_copy(tmp_path / "r.duckdb", templates.MIGRATED)) as store:
        with pytest.raises(BadInput, match="set the base currency first"):
            _load(store, "rates", "currency,month,rate\nUSD,2025-03,0.9\n")
        store.save_settings(SYSTEM, base_currency="EUR")
        with pytest.raises(BadInput) as caught:
            _load(store, "rates", "currency,month,rate\nUSD,2025-13,0.9\nUSD,2025-03,-1\nUSD,2025-04,x\nUSD,2025-04,2\n")
        found = {(p.line, p.column) for p in caught.value.problems}
        assert {(2, "month"), (3, "rate"), (4, "rate"), (5, "month")} <= found
        assert store.rates(SYSTEM).empty


@pytest.fixture(scope="module")
def twin_stores(tmp_path_factory):
    """Two stores with the same reps and targets, base EUR and USD rates of 1 for every month of
    2025: one gets amounts without a currency, the other the same amounts in USD. The second is a
    copy of the first's closed file (the same imports again would only cost their time)."""
    folder = tmp_path_factory.mktemp("twins")
    plain = templates.duckdb_copy(folder / "plain.duckdb", templates.MIGRATED)
    with Store.open(plain) as store:
        _load(store, "reps", REPS)
        _load(store, "targets", "owner,month,amount\nR1,2025-03,1000\nR2,2025-05,500\n")
        store.save_settings(SYSTEM, base_currency="EUR")
        _load(store, "rates", "currency,month,rate\n" + "".join(f"USD,2025-{m:02d},1\n" for m in range(1, 13)))
    stores = [Store.open(plain), templates.open_copy(plain, folder / "usd.duckdb")]
    yield stores
    for store in stores:
        store.close()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(min_value=-10**7, max_value=10**7), min_size=1, max_size=6),
       days=st.lists(st.integers(min_value=0, max_value=200), min_size=6, max_size=6))
def test_converting_at_rate_one_changes_nothing(twin_stores, amounts, days):
    dates = [(pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)).date() for d in days[: len(amounts)]]
    rows = [(d, f"R{1 + i % 2}", f"{a / 100:.2f}") for i, (d, a) in enumerate(zip(dates, amounts))]
    bodies = ("date,rep,amount\n" + "".join(f"{d},{r},{a}\n" for d, r, a in rows),
              "date,rep,amount,currency\n" + "".join(f"{d},{r},{a},USD\n" for d, r, a in rows))
    reports = []
    for store, body in zip(twin_stores, bodies):
        batch = _load(store, "actuals", body).batch_id
        reports.append(engine.report(store.engine_inputs(SYSTEM), "2025-06-30", fy=2025, level="territory", period="month"))
        store.undo(SYSTEM, batch)
    pd.testing.assert_frame_equal(reports[0], reports[1], rtol=1e-12)


# ------------------------------------------------------------------ deals in another currency
def _deals(store: Store, text: str, as_of: str, name: str = "deals.csv"):
    return imports.import_file(store, "deals", text.encode(), file_name=name, principal=SYSTEM,
                               as_of=pd.Timestamp(as_of).date())


def test_a_usd_deal_converts_at_its_snapshots_months_rate_in_the_pipeline(usd_store):
    # snapshot of 2025-03-20: USD 1,000 at March's 0.9 = 900 EUR, weighted 0.5 = 450; 200 EUR as it is
    _deals(usd_store, "deal_id,owner,amount,expected_close,probability\n"
                      "D1,R1,USD 1000,2025-04-15,0.5\nD2,R1,€200,2025-04-20,1\n", "2025-03-20")
    deals = usd_store.open_deals(SYSTEM, pd.Timestamp("2025-03-25").date()).set_index("deal_id")
    assert deals.loc["D1", "amount"] == pytest.approx(900.0)
    assert (deals.loc["D1", "original_amount"], deals.loc["D1", "currency"]) == (1000.0, "USD")
    assert (deals.loc["D2", "amount"], deals.loc["D2", "currency"]) == (200.0, "EUR")
    year = engine.report(usd_store.engine_inputs(SYSTEM), "2025-03-25", fy=2025, level="rep").set_index("owner_id")
    assert year.loc["R1", "pipeline"] == pytest.approx(1100.0)
    assert year.loc["R1", "weighted_pipeline"] == pytest.approx(650.0)
    # new rates re-price the stored snapshot, as they do actuals
    _load(usd_store, "rates", "currency,month,rate\nUSD,2025-03,1.1\n", "rates2.csv")
    history = usd_store.deal_history(SYSTEM).set_index("deal_id")
    assert history.loc["D1", "amount"] == pytest.approx(1100.0)


def test_a_deal_without_a_rate_for_its_snapshots_month_is_refused(usd_store):
    before = usd_store.snapshot()
    with pytest.raises(BadInput) as caught:  # no USD rate for May, the snapshot's month
        _deals(usd_store, "deal_id,owner,amount,expected_close,probability,currency\n"
                          "D1,R1,100,2025-06-01,0.5,EUR\nD2,R1,100,2025-06-01,0.5,USD\n", "2025-05-02")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column, problem.reason) == (
        "deals.csv", 3, "currency", "no USD rate for 2025-05")
    assert usd_store.snapshot() == before


def test_undoing_the_rates_a_stored_deal_needs_is_refused(usd_store):
    _deals(usd_store, "deal_id,owner,amount,expected_close,probability\nD1,R1,USD 10,2025-04-15,0.5\n", "2025-04-01")
    rates_batch = int(usd_store.batches(SYSTEM).query("kind == 'rates'")["batch_id"].iloc[0])
    with pytest.raises(BadInput, match=r"no USD rate for 2025-04 \(1 deals\)"):
        usd_store.undo(SYSTEM, rates_batch)
    assert usd_store.open_deals(SYSTEM, pd.Timestamp("2025-04-02").date())["amount"].tolist() == pytest.approx([8.0])
