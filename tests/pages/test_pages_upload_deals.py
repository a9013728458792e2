"""Upload page, open deals (docs/pipeline.md): a CRM export previewed with the import's own mapping,
imported as the snapshot of the chosen date, its counts shown, and undone; a rep uploads their own
deals, not another rep's."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.helpers.pages import ADMIN, DEMO_TODAY, app, engine_year, fresh_db, metric_value, open_store, texts

SNAPSHOT = DEMO_TODAY - dt.timedelta(days=3)


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


def crm_export(rep: str, *, first: str = "Opportunity ID") -> str:
    """Three open deals of one rep as a CRM exports them (its header names, percent probabilities)."""
    return (f"{first},Opportunity Owner,Opportunity Name,Stage,Probability (%),Amount,Close Date\n"
            f"UI-D1,{rep},Renewal,Proposal,40,\"12,000.00\",2026-12-15\n"
            f"UI-D2,{rep},Expansion,Negotiation,70,8500,2027-01-20\n"
            f"UI-D3,{rep},Pilot,Discovery,10,3000,2026-12-01\n")


def choose_deals(at):
    at.segmented_control(key="upload_kind").set_value("deals").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at, name: str, text: str):
    at.file_uploader(key="upload_file_deals").set_value((name, text.encode("utf-8"), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, label: str):
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def snapshot_deals(db, rep: str, day: dt.date) -> list[str]:
    store = open_store(db)
    try:
        deals = store.deal_history(ADMIN)
    finally:
        store.close()
    rows = deals[(deals["rep_id"] == rep) & (pd.to_datetime(deals["snapshot_date"]).dt.date == day)]
    return sorted(rows["deal_id"].tolist())


def test_a_deals_export_is_imported_as_the_snapshot_of_its_date_and_undone(monkeypatch, db):
    rep = engine_year(db)["owner_id"].iloc[0]
    before = snapshot_deals(db, rep, SNAPSHOT)
    at = choose_deals(app(monkeypatch, db, page="upload"))
    assert any(d.label == "Download the template" for d in at.get("download_button"))
    upload(at, "crm-export.csv", crm_export(rep))
    assert not at.error, [e.value for e in at.error]
    assert "UI-D2" in at.dataframe[0].value.to_string(), "the preview shows the rows"
    reading = texts(at)
    assert "deal_id from “Opportunity ID”" in reading and "expected_close from “Close Date”" in reading
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3" and metric_value(at, "Rejected") == "0"
    assert f"open deals as of {SNAPSHOT.isoformat()}" in texts(at).replace("\\", "")
    assert snapshot_deals(db, rep, SNAPSHOT) == ["UI-D1", "UI-D2", "UI-D3"]

    store = open_store(db)
    try:
        batch = store.batches(ADMIN).iloc[0]
    finally:
        store.close()
    assert batch["kind"] == "deals"
    batch_id = int(batch["batch_id"])
    assert at.selectbox(key="undo_batch").value == batch_id, "the new deals batch is offered first"
    at.checkbox(key="undo_sure").check()
    at.button(key="FormSubmitter:undo_form-Undo").click().run()
    assert any(f"Batch {batch_id} undone" in s.value for s in at.success)
    assert snapshot_deals(db, rep, SNAPSHOT) == before, "the snapshot of that date is what it was"


def test_unrecognised_deal_header_is_mapped_on_the_page(monkeypatch, db):
    rep = engine_year(db)["owner_id"].iloc[0]
    at = choose_deals(app(monkeypatch, db, page="upload"))
    upload(at, "export.csv", crm_export(rep, first="Opp Ref"))
    assert any("not recognised" in w.value for w in at.warning)
    assert next(b for b in at.button if b.label == "Import").disabled
    [key] = [s.key for s in at.selectbox if s.key and s.key.startswith("map_deals_deal_id_")]
    at.selectbox(key=key).set_value("Opp Ref").run()
    assert not at.error, [e.value for e in at.error]
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3"
    assert snapshot_deals(db, rep, SNAPSHOT) == ["UI-D1", "UI-D2", "UI-D3"]


def test_a_rep_uploads_their_own_deals_only(monkeypatch, db):
    store = open_store(db)
    try:
        own = store.users(ADMIN).set_index("email").loc["rep1@demo.test", "rep_id"]
    finally:
        store.close()
    other = next(r for r in engine_year(db)["owner_id"] if r != own)
    at = app(monkeypatch, db, page="upload", user="rep1@demo.test")
    assert at.segmented_control(key="upload_kind").options == ["Actuals (sales)", "Open deals (pipeline)"]
    choose_deals(at)
    before = snapshot_deals(db, other, SNAPSHOT)
    upload(at, "theirs.csv", crm_export(other))
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert at.error and not at.get("metric"), "another rep's deals are refused"
    assert snapshot_deals(db, other, SNAPSHOT) == before
    upload(at, "mine.csv", crm_export(own))
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3"
    assert snapshot_deals(db, own, SNAPSHOT) == ["UI-D1", "UI-D2", "UI-D3"]
