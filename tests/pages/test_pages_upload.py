"""Upload page: import → counts and changed figures; problems listed and valid-only import;
the column-mapping step; undo; open deals (a CRM export as the snapshot of its date, mapped,
undone; a rep sends their own deals only)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan import ui
from tests.helpers.pages import (ADMIN, DEMO_TODAY, ROOT, app, click, engine_year, fresh_db, goto, metric_value,
                                open_store, texts, upload)


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture(scope="module")
def demo_year(tmp_path_factory):
    """The engine's FY2026 rows of the demo that every test's database copies, computed once per
    module (the tests that change figures ask the engine again)."""
    return engine_year(fresh_db(tmp_path_factory.mktemp("upload-year")))


def rep_with_target(year):
    return year[year["target"] > 0].iloc[0]


def test_import_shows_counts_and_changes_the_figures(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)
    at = app(monkeypatch, db, page="my_plan")
    # picked by hand (not by its address): that the choice is kept across pages is checked below
    at.selectbox(key="rep_picker").set_value(rep["owner_id"]).run()
    before = metric_value(at, "Attainment")
    assert before == ui.pct(rep["attainment"])

    goto(at, "upload")
    sale = f"date,rep,order_id,revenue\n{DEMO_TODAY.isoformat()},{rep['owner_id']},UI-TEST-1,\"50,000.00\"\n"
    upload(at, "one-sale.csv", sale)
    assert "UI-TEST-1" in at.dataframe[0].value.to_string(), "the preview shows the rows"
    click(at, "Import")
    assert any("as batch" in s.value for s in at.success)
    assert metric_value(at, "Inserted") == "1" and metric_value(at, "Rejected") == "0"

    goto(at, "my_plan")
    assert at.selectbox(key="rep_picker").value == rep["owner_id"], "the chosen rep is kept across pages"
    after = engine_year(db).set_index("owner_id").loc[rep["owner_id"]]
    assert after["actual_to_date"] == pytest.approx(rep["actual_to_date"] + 50_000)
    assert metric_value(at, "Attainment") == ui.pct(after["attainment"]) != before

    goto(at, "upload")
    upload(at, "one-sale.csv", sale)
    click(at, "Import")
    assert metric_value(at, "Unchanged") == "1" and metric_value(at, "Inserted") == "0", "idempotent"


def test_problems_are_listed_and_valid_rows_can_be_imported(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    upload(at, "mixed.csv", f"date,rep,revenue\n2026-11-02,{rep},100\n2026-02-30,{rep},200\n2026-11-03,NOBODY,300\n")
    click(at, "Import")
    assert any("Nothing was imported: 2 problem(s)" in e.value for e in at.error)
    problems = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert problems["line"].tolist() == [3, 4]
    assert problems["column"].tolist() == ["date", "rep"]
    assert "not a real date" in problems["reason"].iloc[0]
    assert any(d.label == "Download the problems (CSV)" for d in at.get("download_button"))
    store = open_store(db)
    counts = store.table_counts()
    store.close()
    click(at, "Import the valid rows only")
    assert metric_value(at, "Inserted") == "1" and metric_value(at, "Rejected") == "2"
    store = open_store(db)
    try:
        assert store.table_counts()["actuals"] == counts["actuals"] + 1
        batch = store.batches(ADMIN).iloc[0]
        assert store.rejected_rows(ADMIN, int(batch["batch_id"]))["line"].tolist() == [3, 4]
    finally:
        store.close()
    assert any(d.label == "Download rejected rows (CSV)" for d in at.get("download_button"))


def test_unrecognised_headers_get_a_mapping_step_that_is_remembered(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    upload(at, "export.csv", f"Wann;Wer;Betrag\n2026-11-02;{rep};1.234,50\n")
    assert any("not recognised" in w.value for w in at.warning)
    assert next(b for b in at.button if b.label == "Import").disabled
    digest_keys = [s.key for s in at.selectbox if s.key and s.key.startswith("map_actuals_")]
    key = {k.split("_")[2]: k for k in digest_keys}
    # the three choices in one run, as the page reads them together (no choice changes the others)
    at.selectbox(key=key["date"]).set_value("Wann")
    at.selectbox(key=key["rep"]).set_value("Wer")
    at.selectbox(key=key["revenue"]).set_value("Betrag").run()
    assert not at.error, [e.value for e in at.error]
    click(at, "Import")
    assert metric_value(at, "Inserted") == "1"

    upload(at, "export-2.csv", f"Wann;Wer;Betrag\n2026-11-03;{rep};99\n")
    assert not at.warning, "the mapping is remembered for the same header"
    assert not next(b for b in at.button if b.label == "Import").disabled
    click(at, "Import")
    assert metric_value(at, "Inserted") == "1"

    # a new session (another day, another browser) finds the mapping in the database
    fresh = app(monkeypatch, db, page="upload")
    upload(fresh, "export-3.csv", f"Wann;Wer;Betrag\n2026-11-04;{rep};7\n")
    assert not fresh.warning, "the mapping is remembered across sessions"
    click(fresh, "Import")
    assert metric_value(fresh, "Inserted") == "1"


def test_undo_reverts_a_batch(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    upload(at, "sale.csv", f"date,rep,revenue\n2026-11-02,{rep},12345\n")
    click(at, "Import")
    store = open_store(db)
    try:
        batch_id = int(store.batches(ADMIN).iloc[0]["batch_id"])
        total = store.actual_totals(ADMIN)["revenue"]
        at.selectbox(key="undo_batch").set_value(batch_id)
        at.button(key="FormSubmitter:undo_form-Undo").click().run()
        assert any("Tick the box" in e.value for e in at.error), "an undo asks for confirmation"
        at.selectbox(key="undo_batch").set_value(batch_id)
        at.checkbox(key="undo_sure").check()
        at.button(key="FormSubmitter:undo_form-Undo").click().run()
        assert any(f"Batch {batch_id} undone" in s.value for s in at.success)
        assert store.actual_totals(ADMIN)["revenue"] == pytest.approx(total - 12345)
        assert pd.notna(store.batches(ADMIN).set_index("batch_id").loc[batch_id, "reverted_at"])
    finally:
        store.close()
    assert "undone" in at.dataframe[-1].value["state"].tolist()


def test_a_targets_file_with_its_reason(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    at.segmented_control(key="upload_kind").set_value("targets").run()
    upload(at, "targets.csv", f"owner,month,amount\n{rep},2026-12,99000\n", kind="targets")
    at.text_input(key="upload_reason").set_value("December push")
    click(at, "Import")
    assert metric_value(at, "Updated") == "1"
    store = open_store(db)
    try:
        history = store.target_history(ADMIN, "rep", rep)
    finally:
        store.close()
    assert "December push" in history["reason"].tolist()


TEMPLATES = ROOT / "data" / "templates"


def test_every_template_previews_and_imports_through_the_pages(monkeypatch, tmp_path):
    """The product's own templates: holidays on the Admin page, then people, targets and actuals on
    the Upload page, each previewed (the actuals template has a `line` column, which once crashed the
    preview with "Duplicate column names found") and imported without a rejected row."""
    # the templates name the demo's people (docs/files.md, Templates): they import into the demo
    db = fresh_db(tmp_path)
    at = app(monkeypatch, db, page="admin", state={"admin_tabs": "Calendar"})
    data = (TEMPLATES / "holidays.csv").read_bytes()
    at.file_uploader(key="holidays_upload").set_value(("holidays.csv", data, "text/csv")).run()
    at.button(key="holidays_upload_import").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert any("Holidays imported" in s.value for s in at.success)
    goto(at, "upload")
    for kind in ("reps", "targets", "actuals"):
        text = (TEMPLATES / f"{kind}.csv").read_text(encoding="utf-8")
        at.segmented_control(key="upload_kind").set_value(kind).run()
        upload(at, f"{kind}.csv", text, kind=kind)
        assert not at.error, [e.value for e in at.error]
        rows = at.dataframe[0].value
        header = text.splitlines()[0].split(",")
        assert rows.columns.tolist() == ["Line in file", *header]
        assert rows.iloc[:, 0].tolist() == list(range(2, 2 + len(text.strip().splitlines()) - 1)), "file lines"
        if kind == "actuals":
            assert rows["line"].tolist() == ["1", "1", "1"], "the order-line column is the file's own"
        store = open_store(db)
        try:
            before = store.table_counts()
        finally:
            store.close()
        click(at, "Import")
        assert metric_value(at, "Rejected") == "0", texts(at)
        store = open_store(db)
        try:
            after = store.table_counts()
        finally:
            store.close()
        if kind == "actuals":  # every row of the template is a new sale of the demo
            assert after["actuals"] - before["actuals"] == len(text.strip().splitlines()) - 1


def test_markdown_in_a_file_name_is_shown_literally(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    name = "**big** [click](https://evil.test) `x`.csv"
    upload(at, name, f"date,rep,revenue\n2026-11-02,{rep},10\n")
    click(at, "Import")
    [message] = [s.value for s in at.success if "as batch" in s.value]
    assert ui.md(name) in message and "[click](https" not in message and "**big**" not in message


def test_ambiguous_dates_are_stated_on_the_page_with_a_preview_of_how_they_read(monkeypatch, db, demo_year):
    rep = rep_with_target(demo_year)["owner_id"]
    at = app(monkeypatch, db, page="upload")
    upload(at, "early-month.csv", f"date,rep,revenue\n02/11/2026,{rep},10\n03/11/2026,{rep},\"1,5\"\n")
    assert any("no date in the file tells which" in w.value for w in at.warning)
    click(at, "Import")
    shown = texts(at) + "\n".join(str(d.value) for d in at.dataframe)
    assert "--date-format" not in shown, "no page message names a command-line flag"
    assert "Dates in the file" in shown and "Nothing was imported" in shown

    [choice] = [s for s in at.selectbox if s.label == "Dates in the file"]
    choice.set_value("DMY").run()
    assert not at.warning, [w.value for w in at.warning]
    readings = at.dataframe[1].value
    assert readings["date"].tolist() == ["2026-11-02", "2026-11-03"]
    assert readings["revenue"].tolist() == [10.0, 1.5], "a decimal comma, read as the import reads it"
    click(at, "Import")
    assert metric_value(at, "Inserted") == "2"
    store = open_store(db)
    try:
        batch = int(store.batches(ADMIN).iloc[0]["batch_id"])
        assert store.batches(ADMIN).iloc[0]["rows_inserted"] == 2 and batch
    finally:
        store.close()

    [choice] = [s for s in at.selectbox if s.label == "Dates in the file"]
    choice.set_value("MDY").run()
    assert at.dataframe[1].value["date"].tolist() == ["2026-02-11", "2026-03-11"], "the other reading, shown"


# ---------------------------------------------------------------- open deals (docs/pipeline.md)

SNAPSHOT = DEMO_TODAY - dt.timedelta(days=3)


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


def snapshot_deals(db, rep: str, day: dt.date) -> list[str]:
    store = open_store(db)
    try:
        deals = store.deal_history(ADMIN)
    finally:
        store.close()
    rows = deals[(deals["rep_id"] == rep) & (pd.to_datetime(deals["snapshot_date"]).dt.date == day)]
    return sorted(rows["deal_id"].tolist())


def test_a_deals_export_is_imported_as_the_snapshot_of_its_date_and_undone(monkeypatch, db, demo_year):
    rep = demo_year["owner_id"].iloc[0]
    before = snapshot_deals(db, rep, SNAPSHOT)
    at = choose_deals(app(monkeypatch, db, page="upload"))
    assert any(d.label == "Download the template" for d in at.get("download_button"))
    upload(at, "crm-export.csv", crm_export(rep), kind="deals")
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


def test_unrecognised_deal_header_is_mapped_on_the_page(monkeypatch, db, demo_year):
    rep = demo_year["owner_id"].iloc[0]
    at = choose_deals(app(monkeypatch, db, page="upload"))
    upload(at, "export.csv", crm_export(rep, first="Opp Ref"), kind="deals")
    assert any("not recognised" in w.value for w in at.warning)
    assert next(b for b in at.button if b.label == "Import").disabled
    [key] = [s.key for s in at.selectbox if s.key and s.key.startswith("map_deals_deal_id_")]
    at.selectbox(key=key).set_value("Opp Ref").run()
    assert not at.error, [e.value for e in at.error]
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3"
    assert snapshot_deals(db, rep, SNAPSHOT) == ["UI-D1", "UI-D2", "UI-D3"]


def test_a_rep_uploads_their_own_deals_only(monkeypatch, db, demo_year):
    store = open_store(db)
    try:
        own = store.users(ADMIN).set_index("email").loc["rep1@demo.test", "rep_id"]
    finally:
        store.close()
    other = next(r for r in demo_year["owner_id"] if r != own)
    at = app(monkeypatch, db, page="upload", user="rep1@demo.test")
    assert at.segmented_control(key="upload_kind").options == ["Actuals (sales)", "Open deals (pipeline)"]
    choose_deals(at)
    before = snapshot_deals(db, other, SNAPSHOT)
    upload(at, "theirs.csv", crm_export(other), kind="deals")
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert at.error and not at.get("metric"), "another rep's deals are refused"
    assert snapshot_deals(db, other, SNAPSHOT) == before
    upload(at, "mine.csv", crm_export(own), kind="deals")
    at.date_input(key="deals_as_of").set_value(SNAPSHOT)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3"
    assert snapshot_deals(db, own, SNAPSHOT) == ["UI-D1", "UI-D2", "UI-D3"]
