"""Downloads are built when their button is clicked, not on every rerun of the page that offers
them (a callable as the button's data): the Upload page's problems and rejected rows and the Admin
page's current reps. Each file is still the one the button gave before. The Team overview's and
Watch list's exports are checked in their own page tests."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from salesplan import imports, ui
from tests.helpers.pages import ADMIN, app, click, engine_year, fresh_db, open_store, upload
from tests.helpers.downloads import capture_downloads, counting, download


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


def mixed_file(db) -> str:
    year = engine_year(db)
    rep = year[year["target"] > 0].iloc[0]["owner_id"]
    return f"date,rep,revenue\n2026-11-02,{rep},100\n2026-02-30,{rep},200\n2026-11-03,NOBODY,300\n"


def test_upload_problems_and_rejected_rows_are_built_on_click(monkeypatch, db):
    at = app(monkeypatch, db, page="upload")
    seen = capture_downloads(monkeypatch)
    built = counting(monkeypatch, ui, "csv_bytes")
    upload(at, "mixed.csv", mixed_file(db))
    click(at, "Import")
    at.run()
    assert any("Nothing was imported: 2 problem(s)" in e.value for e in at.error)
    assert built == [], "showing the problems builds no CSV until it is downloaded"
    problems = pd.read_csv(io.BytesIO(download(seen, "Download the problems (CSV)")))
    assert problems["line"].tolist() == [3, 4] and problems["column"].tolist() == ["date", "rep"]
    assert "not a real date" in problems["reason"].iloc[0]
    assert len(built) == 1

    click(at, "Import the valid rows only")
    at.run()
    assert len(built) == 1, "the rejected rows are built when asked, not on a rerun"
    now = pd.read_csv(io.BytesIO(download(seen, "Download the rejected rows (CSV, the file's own columns)")),
                      dtype=str)
    batch = pd.read_csv(io.BytesIO(download(seen, "Download rejected rows (CSV)")), dtype=str)
    store = open_store(db)
    try:
        rejected = store.rejected_rows(ADMIN, int(store.batches(ADMIN).iloc[0]["batch_id"]))
    finally:
        store.close()
    # the file's own columns, then its line and problems: what the button gave before
    expected = pd.read_csv(io.BytesIO(ui.csv_bytes(imports.rejected_table(rejected))), dtype=str)
    for frame in (now, batch):
        assert frame.columns.tolist() == ["date", "rep", "revenue", "line", "problems"]
        assert frame["line"].tolist() == ["3", "4"] and frame["revenue"].tolist() == ["200", "300"]
    pd.testing.assert_frame_equal(batch, expected)


def test_admin_reps_download_is_built_on_click(monkeypatch, db):
    at = app(monkeypatch, db, page="admin")
    seen = capture_downloads(monkeypatch)
    built = counting(monkeypatch, ui, "csv_bytes")
    at.run()  # a rerun without a click (the page's first run was before the counting)
    assert not at.exception
    assert built == [], "the People tab builds no CSV of the reps until it is downloaded"
    reps = pd.read_csv(io.BytesIO(download(seen, "Download current reps (CSV)")), dtype=str)
    store = open_store(db)
    try:
        known = store.reps(ADMIN)
    finally:
        store.close()
    assert reps["rep_id"].tolist() == known["rep_id"].tolist() and reps["name"].tolist() == known["name"].tolist()
    assert len(built) == 1
