"""salesplan.upload_flow: the Upload page's preview and import outcome, without the screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesplan import imports, upload_flow
from salesplan.errors import BadInput
from salesplan.files import UploadLimits
from salesplan.principal import Principal
from salesplan.store import Store

TEMPLATES = Path(__file__).resolve().parents[2] / "data" / "templates"
LIMITS = UploadLimits.for_upload_limit(10)
ADMIN = Principal("admin@local", "admin")


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
    with Store.open(tmp_path / "db.duckdb") as store:
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
