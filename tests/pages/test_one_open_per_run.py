"""A page run opens the DuckDB file once (salesplan.ui.data.held_for_the_run), however long the
gaps between its reads: the store otherwise closes the file a moment after each operation."""

from __future__ import annotations

from salesplan.storage import duckfile
from tests.helpers.pages import app, fresh_db


def test_a_page_run_opens_the_database_file_once(monkeypatch, tmp_path):
    db = fresh_db(tmp_path)
    # no lingering: without the hold for the run, every read of the run would open the file again
    monkeypatch.setattr(duckfile, "LINGER_SECONDS", 0.0)
    opened: list[str] = []
    connect = duckfile.FileHold._connect

    def counting(self):
        opened.append(self.path)
        return connect(self)

    monkeypatch.setattr(duckfile.FileHold, "_connect", counting)
    at = app(monkeypatch, db, page="my_plan")  # signs in, reads the accounts, the report, the plan...
    assert at.metric and at.get("plotly_chart"), "the page did its reads"
    assert opened == [str(db)], f"opened {len(opened)} times in the first run"
    opened.clear()
    at.selectbox(key="rep_picker").set_value("R004").run()
    assert not at.exception
    assert len(opened) == 1, f"opened {len(opened)} times in a rerun"
