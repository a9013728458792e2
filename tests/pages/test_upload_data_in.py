"""Upload page, getting data in (docs/files.md): the decimal separator and date format stated on the
page and remembered with the mapping; the mapping over synonyms; people through the mapping step
(admins); unknown reps created in one confirmed step; a rep taken from another column through a
lookup; what went in; the rejected rows as the file's own columns; undo held by a newer batch."""

from __future__ import annotations

import pytest

from tests.helpers.pages import ADMIN, app, click, fresh_db, goto, metric_value, open_store, upload
from tests.helpers.pages import texts as escaped_texts


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


def mapping_box(at, kind: str, field: str):
    [box] = [s for s in at.selectbox if s.key and s.key.startswith(f"map_{kind}_{field}_")]
    return box


def labelled(at, label: str):
    [box] = [s for s in at.selectbox if s.label == label]
    return box


def texts(at) -> str:
    """The page's texts as read (without the escapes that keep file contents from being markdown)."""
    return escaped_texts(at).replace("\\", "")


def with_store(db, work):
    store = open_store(db)
    try:
        return work(store)
    finally:
        store.close()


def test_decimal_and_date_format_are_stated_and_remembered_with_the_mapping(monkeypatch, db):
    export = "Wann;Wer;Betrag\n02/11/2026;R004;1,234\n03/11/2026;R004;2\n"
    at = app(monkeypatch, db, page="upload")
    upload(at, "export.csv", export)
    # the mapping and the date format in one run, as the page reads them together (no choice changes the others)
    for field, header in (("date", "Wann"), ("rep", "Wer"), ("revenue", "Betrag")):
        mapping_box(at, "actuals", field).set_value(header)
    labelled(at, "Dates in the file").set_value("DMY").run()
    assert at.dataframe[1].value["revenue"].tolist() == [1234.0, 2.0], "recognised: a decimal point"
    labelled(at, "Decimal separator").set_value("comma").run()
    readings = at.dataframe[1].value
    assert readings["date"].tolist() == ["2026-11-02", "2026-11-03"]
    assert readings["revenue"].tolist() == [1.234, 2.0], "stated: a decimal comma"
    click(at, "Import")
    assert metric_value(at, "Inserted") == "2"
    admin = with_store(db, lambda s: s.principal_for_email("admin@demo.test"))
    assert with_store(db, lambda s: s.column_choices(admin, "actuals", ["Wann", "Wer", "Betrag"])) == {
        "date_format": "DMY", "decimal": "comma"}

    # another session, the next file with the same header: mapping, date format and separator pre-set
    fresh = app(monkeypatch, db, page="upload")
    upload(fresh, "export-2.csv", "Wann;Wer;Betrag\n04/11/2026;R004;5,5\n")
    assert labelled(fresh, "Dates in the file").value == "DMY"
    assert labelled(fresh, "Decimal separator").value == "comma"
    assert not fresh.warning and not fresh.error
    assert fresh.dataframe[1].value["revenue"].tolist() == [5.5]
    shown = texts(fresh)
    assert "--date-format" not in shown and "--decimal" not in shown


def test_what_the_user_maps_decides_over_synonyms(monkeypatch, db):
    superstore = ("Order ID,Order Date,Sales Rep,Customer ID,Customer Name,Sales\n"
                  "CA-1,2026-11-02,R004,CG-12520,Claire Gute,261.96\n")
    at = app(monkeypatch, db, page="upload")
    upload(at, "superstore.csv", superstore)
    assert mapping_box(at, "actuals", "customer").value == "Customer ID", "pre-filled with the first one"
    mapping_box(at, "actuals", "customer").set_value("Customer Name").run()
    assert not at.error, [e.value for e in at.error]
    assert "Column 'Customer ID' ignored: 'Customer Name' is mapped to customer." in texts(at)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "1"
    sale = with_store(db, lambda s: s.actuals(ADMIN))
    assert sale[sale["order_id"] == "CA-1"]["customer"].tolist() == ["Claire Gute"]


PEOPLE_EXPORT = ("Sales Person,E-mail,Region Name\n"
                 "Ada Lovelace,ada@demo.test,North\n"
                 "Nina Weber,rep1@demo.test,North\n")


def test_people_come_in_through_the_mapping_step_for_admins_only(monkeypatch, db):
    at = app(monkeypatch, db, page="admin")
    [link] = at.get("page_link")
    assert link.proto.page.endswith("upload.py") or "upload" in link.proto.page, "People tab points to Upload"
    goto(at, "upload")
    at.segmented_control(key="upload_kind").set_value("reps").run()
    upload(at, "people-export.csv", PEOPLE_EXPORT, kind="reps")
    assert "no rep_id column" in texts(at)
    mapping_box(at, "reps", "region").set_value("Region Name").run()
    assert mapping_box(at, "reps", "name").value == "Sales Person"
    click(at, "Import")
    assert metric_value(at, "Inserted") == "1" and metric_value(at, "Updated") == "1"
    assert "new rep ids: R013 Ada Lovelace" in texts(at)
    reps = with_store(db, lambda s: s.reps(ADMIN)).set_index("rep_id")
    assert reps.loc["R013", "email"] == "ada@demo.test" and reps.loc["R004", "region"] == "North"

    # a refused people file says why and changes nothing
    before = with_store(db, lambda s: s.reps(ADMIN))
    upload(at, "bad.csv", "rep_id,name\nRX,\n", kind="reps")
    click(at, "Import")
    assert any("Nothing was imported" in e.value for e in at.error)
    assert next(d.value for d in at.dataframe if "reason" in d.value.columns)["column"].tolist() == ["name"]
    assert with_store(db, lambda s: s.reps(ADMIN)).equals(before)
    # that only admins are offered people files: test_role_matrix.test_role_page (the upload kinds by role)


def test_unknown_reps_are_created_after_confirming_and_the_file_imported(monkeypatch, db):
    sales = ("Close Date,Opportunity Owner,Email,Amount\n"
             "2026-11-02,Zoe Newcomer,zoe.newcomer@demo.test,100\n"
             "2026-11-03,Zoe Newcomer,zoe.newcomer@demo.test,40\n"
             "2026-11-03,Yan Lee,,50\n"
             "2026-11-04,R004,,10\n")
    at = app(monkeypatch, db, page="upload")
    upload(at, "crm.csv", sales)
    click(at, "Import")
    assert any("Nothing was imported: 3 problem(s)" in e.value for e in at.error)
    assert "2 people in the file are not known as reps." in texts(at)
    submit = "FormSubmitter:create_reps_form-Create these 2 reps and import again"
    at.button(key=submit).click().run()
    assert any("Tick the box" in e.value for e in at.error), "creating reps asks for confirmation"
    assert "Zoe Newcomer" not in with_store(db, lambda s: s.reps(ADMIN))["name"].tolist()
    at.checkbox(key="create_reps_sure").check()
    at.button(key=submit).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Created the new reps: R013 Zoe Newcomer, R014 Yan Lee." in texts(at)
    assert metric_value(at, "Inserted") == "4"
    reps = with_store(db, lambda s: s.reps(ADMIN)).set_index("rep_id")
    assert reps.loc["R013", "email"] == "zoe.newcomer@demo.test" and reps.loc["R014", "name"] == "Yan Lee"
    batches = with_store(db, lambda s: s.batches(ADMIN))
    assert {"reps", "actuals"} <= set(batches["kind"].head(2)), "the new reps are a batch of their own"
    log = with_store(db, lambda s: s.audit_log(ADMIN))
    assert log["detail"].astype(str).str.contains("new reps").any(), "audited"


def test_a_rep_taken_from_another_column_through_a_confirmed_lookup(monkeypatch, db):
    sales = "Order Date,Region,Sales\n2026-11-02,Nordics,100\n2026-11-03,Baltics,50\n2026-11-04,Nordics,5\n"
    at = app(monkeypatch, db, page="upload")
    upload(at, "by-region.csv", sales)
    assert "No person column? Take the rep from another column" in texts(at)
    [column] = [s for s in at.selectbox if s.label == "Column"]
    column.set_value("Region").run()
    click(at, "Use this lookup")  # each territory's manager, suggested: Nordics R003, Baltics R010
    assert not at.error, [e.value for e in at.error]
    assert "The rep of each row is taken through your lookup." in texts(at)
    click(at, "Import")
    assert metric_value(at, "Inserted") == "3"
    sales_in = with_store(db, lambda s: s.actuals(ADMIN))
    mine = sales_in[sales_in["batch_id"] == sales_in["batch_id"].max()]
    assert sorted(mine["rep_id"]) == ["R003", "R003", "R010"]


def test_what_went_in_and_the_rejected_rows_as_the_files_columns(monkeypatch, db):
    sales = "Order Date,Sales Rep,Sales,Note\n2026-11-02,R004,100,first\n2026-02-30,R004,5,bad day\n"
    at = app(monkeypatch, db, page="upload")
    upload(at, "week.csv", sales)
    at.toggle(key="valid_only").set_value(True)  # sent with the click, as the snapshot date is
    click(at, "Import")
    assert metric_value(at, "Rejected") == "1"
    went_in = next(d.value for d in at.dataframe if "what" in d.value.columns).set_index("what")["value"]
    assert went_in["Rows"] == "1" and went_in["From"] == "2026-11-02" and went_in["Total revenue"] == "100.00"
    assert went_in["Reps"] == "1: R004"
    labels = [d.label for d in at.get("download_button")]
    assert "Download the rejected rows (CSV, the file's own columns)" in labels
    assert "Download rejected rows (CSV)" in labels, "and from the history"


def test_undo_says_when_a_newer_batch_keeps_the_rows(monkeypatch, db):
    at = app(monkeypatch, db, page="upload")
    upload(at, "first.csv", "date,rep,order_id,revenue\n2026-11-02,R004,UNDO-1,100\n")
    click(at, "Import")
    upload(at, "second.csv", "date,rep,order_id,revenue\n2026-11-02,R004,UNDO-1,100\n2026-11-03,R004,UNDO-2,7\n")
    click(at, "Import")
    batches = with_store(db, lambda s: s.batches(ADMIN))
    newest, older = (int(b) for b in batches["batch_id"].head(2))
    assert at.selectbox(key="undo_batch").value == newest, "the picker defaults to the newest batch"
    at.selectbox(key="undo_batch").set_value(older)
    at.checkbox(key="undo_sure").check()
    at.button(key="FormSubmitter:undo_form-Undo").click().run()
    [message] = [s.value for s in at.success if "undone" in s.value]
    assert f"also in the newer batch {newest}" in message and "back to their previous values" in message
