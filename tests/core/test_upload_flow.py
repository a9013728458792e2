"""salesplan.upload_flow: the Upload page's preview and import outcome, without the screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesplan import imports, upload_flow
from salesplan.errors import BadInput
from salesplan.files import UploadLimits
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers import templates

TEMPLATES = Path(__file__).resolve().parents[2] / "data" / "templates"
LIMITS = UploadLimits.for_upload_limit(10)
ADMIN = Principal("admin@local", "admin")


def new_db(tmp_path: Path) -> Path:
    """An empty migrated database of the test's own (a copy: migrating a new file costs ~0.12 s of CPU)."""
    return templates.duckdb_copy(tmp_path / "db.duckdb", templates.MIGRATED)


@pytest.mark.parametrize("kind", ["actuals", "reps", "targets", "holidays"])
def test_every_template_previews_with_its_own_header(kind):
    data = (TEMPLATES / f"{kind}.csv").read_bytes()
    view = upload_flow.preview(kind, data, f"{kind}.csv", None, limits=LIMITS)
    header = data.decode().splitlines()[0].split(",")
    assert view.header == header and view.header_line == 1 and not view.problems
    assert view.rows.columns.tolist() == [upload_flow.LINE_LABEL, *header]
    assert view.rows[upload_flow.LINE_LABEL].tolist() == list(range(2, 2 + view.total_rows))
    assert set(view.mapping) >= {f.name for f in imports.FIELDS[kind] if f.required}


def test_a_line_column_is_the_files_own_and_not_the_record_line():
    data = b"date,rep,revenue,line\n2026-01-05,R1,10,7\n"
    view = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS)
    assert view.rows.to_dict("records") == [
        {"Line in file": 2, "date": "2026-01-05", "rep": "R1", "revenue": "10", "line": "7"}]
    assert view.mapping["line"] == "line"


def test_an_unrecognised_header_is_previewed_for_the_mapping_step():
    data = b"Wann;Wer;Betrag\n2026-11-02;R1;1.234,50\n"
    view = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS)
    assert view.header == ["Wann", "Wer", "Betrag"]
    assert {p.column for p in view.problems} == {"date", "rep", "revenue"}
    mapped = upload_flow.preview("actuals", data, "x.csv", {"Wann": "date", "Wer": "rep", "Betrag": "revenue"},
                                 limits=LIMITS)
    assert not mapped.problems and mapped.mapping == {"date": "Wann", "rep": "Wer", "revenue": "Betrag"}


def test_repeated_and_empty_header_cells_get_unique_labels():
    assert upload_flow.unique_labels(["a", "", "a", "Line in file"], {"Line in file"}) == [
        "a", "(column 2)", "a (2)", "Line in file (2)"]


def test_an_unreadable_file_raises():
    with pytest.raises(BadInput, match="empty"):
        upload_flow.preview("actuals", b"   ", "x.csv", None, limits=LIMITS)


def test_run_import_turns_refusals_into_outcomes(tmp_path):
    with Store.open(new_db(tmp_path)) as store:
        bad = upload_flow.run_import(store, ADMIN, "actuals", b"date,rep,revenue\n2026-02-30,NOBODY,1\n",
                                     file_name="bad.csv", sha="s", header=["date", "rep", "revenue"],
                                     column_map=None, valid_only=False)
        assert not bad.imported and bad.problems is not None and bad.problems["line"].tolist() == [2, 2]
        rep = Principal("rep@x", "leader")
        refused = upload_flow.run_import(store, rep, "reps", (TEMPLATES / "reps.csv").read_bytes(),
                                         file_name="reps.csv", sha="s", header=[], column_map=None,
                                         valid_only=False)
        assert refused.error and not refused.imported
        ok = upload_flow.run_import(store, ADMIN, "reps", b"Kennung,Name\nR1,Ann\n", file_name="reps.csv",
                                    sha="s", header=["Kennung", "Name"], column_map={"Kennung": "rep_id"},
                                    valid_only=False)
        assert ok.imported and ok.counts["inserted"] == 1
        assert store.column_map(ADMIN, "reps", ["Kennung", "Name"]) == {"Kennung": "rep_id"}, "map kept"


def test_undo_choices_are_the_current_actuals_and_targets_batches_newest_first():
    import pandas as pd

    batches = pd.DataFrame({
        "batch_id": [3, 7, 5, 9, 4],
        "kind": ["actuals", "targets", "actuals", "reps", "actuals"],
        "file_name": ["a.csv", None, "b.csv", "r.csv", "c.csv"],
        "reverted_at": [None, None, None, None, pd.Timestamp("2026-01-01")],
    })
    choices = upload_flow.undo_choices(batches)
    assert list(choices) == [7, 5, 3], "newest first, reps and undone batches left out"
    assert choices[7] == "Batch 7: targets from the editor"
    assert [upload_flow.batch_state(v) for v in batches["reverted_at"]] == ["current"] * 4 + ["undone"]


def test_the_first_rows_are_read_with_the_importers_parser_and_the_stated_format():
    data = b'date,rep,revenue,cost\n02/11/2026,R1,"1.234,5",\n03/11/2026,R1,7,1\n'
    automatic = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS)
    assert automatic.readings is None and "--date-format" not in automatic.reading_problem
    assert "Dates in the file" in automatic.reading_problem
    day_first = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS, date_format="DMY")
    assert day_first.reading_problem is None and day_first.decimal_comma
    readings = day_first.readings
    assert readings.columns.tolist() == ["Line in file", "date", "revenue", "cost"]
    assert readings["date"].tolist() == ["2026-11-02", "2026-11-03"]
    assert readings["revenue"].tolist() == [1234.5, 7.0] and readings["cost"].isna().tolist() == [True, False]
    iso = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS, date_format="ISO")
    assert iso.readings["date"].isna().all(), "31/12-style dates are no ISO dates: nothing is read"


def test_page_reason_never_names_the_command_line_option():
    reason = ("dates such as '02/11/2026' could be day-first or month-first and no date in the file tells which; "
              "state the format with --date-format DMY or MDY (or use ISO dates, YYYY-MM-DD)")
    assert "--" not in upload_flow.page_reason(reason)
    assert upload_flow.page_reason("plain") == "plain"


def test_a_stated_decimal_separator_decides_the_readings_and_the_import(tmp_path):
    # "1,234" alone reads as a decimal point (one thousand two hundred and thirty-four) unless stated
    data = b"date,rep,revenue\n2026-11-02,R1,\"1,234\"\n2026-11-03,R1,7\n"
    recognised = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS)
    assert recognised.readings["revenue"].tolist() == [1234.0, 7.0] and not recognised.decimal_comma
    comma = upload_flow.preview("actuals", data, "x.csv", None, limits=LIMITS, decimal="comma")
    assert comma.readings["revenue"].tolist() == [1.234, 7.0] and comma.decimal_comma
    with Store.open(new_db(tmp_path)) as store:
        imports.import_file(store, "reps", b"rep_id,name\nR1,Ann\n", file_name="reps.csv")
        header = ["date", "rep", "revenue"]
        done = upload_flow.run_import(store, ADMIN, "actuals", data, file_name="x.csv", sha="s", header=header,
                                      column_map=None, valid_only=False, decimal="comma", date_format="ISO")
        assert done.imported and store.actual_totals(ADMIN)["revenue"] == pytest.approx(8.234)
        # the choices are remembered with the (empty) mapping for the next file with this header
        assert upload_flow.remembered_choices(store, ADMIN, "actuals", header) == (None, "ISO", "comma")
        assert done.overview is not None and done.overview.rows == 2
        assert upload_flow.overview_table(done.overview).set_index("what")["value"].to_dict() == {
            "Rows": "2", "From": "2026-11-02", "To": "2026-11-03", "Total revenue": "8.23", "Total profit": "0.00",
            "Reps": "1: R1"}


def test_the_mapping_decides_over_synonyms_and_says_what_it_ignored(tmp_path):
    data = (b"Order Date,Sales Rep,Customer ID,Customer Name,Sales\n"
            b"2026-11-02,R1,C-1,Acme,10\n")
    header = data.decode().splitlines()[0].split(",")
    automatic = upload_flow.preview("actuals", data, "s.csv", None, limits=LIMITS)
    assert any("both mean customer" in p.reason for p in automatic.problems)
    # the mapping step pre-fills customer with the first column; the user picks the name instead
    chosen = {**automatic.mapping, "customer": "Customer Name"}
    mapping = upload_flow.column_map_from_choices("actuals", header, chosen)
    mapped = upload_flow.preview("actuals", data, "s.csv", mapping, limits=LIMITS)
    assert not mapped.problems and mapped.mapping["customer"] == "Customer Name"
    assert mapped.notes == ["column 'Customer ID' ignored: 'Customer Name' is mapped to customer"]
    # a field set to "not in the file" leaves both of its synonyms unread
    neither = upload_flow.column_map_from_choices("actuals", header, {**automatic.mapping, "customer": None})
    assert neither["Customer ID"] == "" and neither["Customer Name"] == ""
    assert "customer" not in upload_flow.preview("actuals", data, "s.csv", neither, limits=LIMITS).mapping
    with Store.open(new_db(tmp_path)) as store:
        imports.import_file(store, "reps", b"rep_id,name\nR1,Ann\n", file_name="reps.csv")
        done = upload_flow.run_import(store, ADMIN, "actuals", data, file_name="s.csv", sha="s", header=header,
                                      column_map=mapping, valid_only=False)
        assert done.imported and any("'Customer ID' ignored" in note for note in done.notes)
        assert store.actuals(ADMIN)["customer"].tolist() == ["Acme"]


def test_a_people_export_without_rep_ids_gets_them_and_keeps_known_people(tmp_path):
    export = b"Sales Person,E-mail,Region Name\nAda Lovelace,ada@acme.test,North\nBrian K,brian@acme.test,South\n"
    header = ["Sales Person", "E-mail", "Region Name"]
    view = upload_flow.preview("reps", export, "people.csv", {"Region Name": "region"}, limits=LIMITS)
    assert not view.problems and view.makes_rep_ids
    assert view.mapping == {"name": "Sales Person", "email": "E-mail", "region": "Region Name"}
    with Store.open(new_db(tmp_path)) as store:
        imports.import_file(store, "reps", b"rep_id,name,email\nR007,Old Hand,brian@acme.test\n", file_name="r.csv")
        done = upload_flow.run_import(store, ADMIN, "reps", export, file_name="people.csv", sha="s", header=header,
                                      column_map={"Region Name": "region"}, valid_only=False)
        assert done.imported, done.problems
        assert done.counts["inserted"] == 1 and done.counts["updated"] == 1
        assert "new rep ids: R008 Ada Lovelace" in done.notes
        reps = store.reps(ADMIN).set_index("rep_id")
        assert reps.loc["R008", "email"] == "ada@acme.test" and reps.loc["R007", "region"] == "South"
        # the same export again finds everyone by e-mail: nothing new
        again = upload_flow.run_import(store, ADMIN, "reps", export, file_name="people.csv", sha="s", header=header,
                                       column_map={"Region Name": "region"}, valid_only=False)
        assert again.counts["inserted"] == 0 and again.counts["unchanged"] == 2 and not again.notes
        # a people file missing its name is refused for that, never for the rep_id it may lack
        refused = upload_flow.preview("reps", b"E-mail,Region\nx@y.test,North\n", "p.csv", None, limits=LIMITS)
        assert [p.column for p in refused.problems] == ["name"]


def test_rejected_rows_come_back_as_the_files_own_columns(tmp_path):
    data = b"Order Date,Sales Rep,Sales,Note\n2026-11-02,R1,10,ok\n2026-02-30,R1,5,bad day\n"
    with Store.open(new_db(tmp_path)) as store:
        imports.import_file(store, "reps", b"rep_id,name\nR1,Ann\n", file_name="reps.csv")
        done = upload_flow.run_import(store, ADMIN, "actuals", data, file_name="x.csv", sha="s",
                                      header=["Order Date", "Sales Rep", "Sales", "Note"], column_map=None,
                                      valid_only=True)
    assert done.counts["rejected"] == 1
    assert done.rejected.columns.tolist() == ["Order Date", "Sales Rep", "Sales", "Note", "line", "problems"]
    assert done.rejected.iloc[0][["Order Date", "Note", "line"]].tolist() == ["2026-02-30", "bad day", 3]


def test_unknown_people_are_offered_to_who_may_create_reps(tmp_path):
    data = b"Close Date,Opportunity Owner,Email,Amount\n2026-11-02,Zoe New,zoe@x.test,5\n2026-11-02,R1,,7\n"
    with Store.open(new_db(tmp_path)) as store:
        imports.import_file(store, "reps", b"rep_id,name\nR1,Ann\n", file_name="reps.csv")
        found = upload_flow.unknown_people(store, ADMIN, "actuals", data, file_name="x.csv", column_map=None)
        assert found[["name", "email", "rows"]].to_dict("records") == [{"name": "Zoe New", "email": "zoe@x.test",
                                                                        "rows": 1}]
        rep = Principal("r@x.test", "rep", "R1")
        assert upload_flow.unknown_people(store, rep, "actuals", data, file_name="x.csv", column_map=None).empty
        assert upload_flow.unknown_people(store, ADMIN, "deals", data, file_name="x.csv", column_map=None).empty


def test_the_upload_kinds_follow_the_policy():
    assert upload_flow.kinds_for(ADMIN) == ["actuals", "targets", "deals", "reps"]
    assert upload_flow.kinds_for(Principal("m@x", "manager", "M1")) == ["actuals", "targets", "deals"]
    assert upload_flow.kinds_for(Principal("r@x", "rep", "R1")) == ["actuals", "deals"]
    assert upload_flow.kinds_for(Principal("l@x", "leader")) == []


def test_the_page_asks_for_a_people_files_name_but_not_its_rep_id():
    asked = {spec.name for spec in imports.FIELDS["reps"] if upload_flow.required("reps", spec)}
    assert asked == {"name"}
    assert {spec.name for spec in imports.FIELDS["actuals"] if upload_flow.required("actuals", spec)} == {
        "date", "rep", "revenue"}
    assert upload_flow.has_amounts("actuals") and upload_flow.has_amounts("deals")
    assert not upload_flow.has_amounts("reps")


def test_a_people_export_with_title_lines_is_refused_with_its_own_line_numbers(tmp_path):
    # the export is rewritten with the rep ids it lacks before the import; its problems must still
    # name the lines of the user's file (title lines and blank lines above and between the records)
    export = (b"People export\nGenerated on 2026-12-01\n\nSales Person,E-mail,Start Date\n"
              b"Ada Lovelace,ada@acme.test,2026-01-05\n\nBrian K,brian@acme.test,2026-02-30\n"
              b"Cleo M,cleo@acme.test,2026-13-01\n")
    lines = export.decode().split("\n")
    assert lines[7 - 1].startswith("Brian K") and lines[8 - 1].startswith("Cleo M")
    header = ["Sales Person", "E-mail", "Start Date"]
    with Store.open(new_db(tmp_path)) as store:
        refused = upload_flow.run_import(store, ADMIN, "reps", export, file_name="people.csv", sha="s", header=header,
                                         column_map=None, valid_only=False)
        assert refused.problems is not None and not refused.imported
        assert refused.problems["line"].tolist() == [7, 8]
        assert refused.problems["column"].tolist() == ["Start Date", "Start Date"]
        done = upload_flow.run_import(store, ADMIN, "reps", export, file_name="people.csv", sha="s", header=header,
                                      column_map=None, valid_only=True)
        assert done.imported and done.counts["inserted"] == 1 and done.counts["rejected"] == 2


def test_a_valid_only_people_import_says_which_rows_it_left_out(tmp_path):
    # people files keep no rejected rows with their batch (only actuals do): the outcome still
    # lists the rows left out and why, and offers no empty download
    data = b"rep_id,name,email\nR1,Ann,ann@x.test\nR2,,bob@x.test\nR3,Cem,not-an-address\n"
    with Store.open(new_db(tmp_path)) as store:
        done = upload_flow.run_import(store, ADMIN, "reps", data, file_name="reps.csv", sha="s",
                                      header=["rep_id", "name", "email"], column_map=None, valid_only=True)
        assert done.imported and done.counts["inserted"] == 1 and done.counts["rejected"] == 2
        assert done.rejected is None
        assert done.left_out[["line", "column"]].values.tolist() == [[3, "name"], [4, "email"]]
        assert "not an email address" in done.left_out["reason"].iloc[1]
    # an actuals file keeps its rejected rows and lists them too (into the same database: R1 is known)
    actuals = b"date,rep,revenue\n2026-11-02,R1,10\n2026-02-30,R1,5\n"
    with Store.open(tmp_path / "db.duckdb") as store:
        done = upload_flow.run_import(store, ADMIN, "actuals", actuals, file_name="a.csv", sha="t",
                                      header=["date", "rep", "revenue"], column_map=None, valid_only=True)
        assert done.rejected["line"].tolist() == [3] and done.left_out["line"].tolist() == [3]
