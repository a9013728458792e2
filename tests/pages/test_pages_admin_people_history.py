"""Admin page, People tab (docs/people.md): the editor of a rep's territory and manager over time
and of a leaver's end date."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan.principal import SYSTEM

from tests.helpers.pages import app, fresh_db, open_store


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture
def at(monkeypatch, db):
    return app(monkeypatch, db, page="admin")


def _stored(db, read):
    store = open_store(db)
    try:
        return read(store)
    finally:
        store.close()


def _history_table(at) -> list[list]:
    table = [d.value for d in at.dataframe if list(d.value.columns) == ["from", "until", "territory", "manager"]][0]
    return table.astype(object).where(table.notna(), None).values.tolist()


def _form(at, rep: str) -> tuple[str | None, str | None]:
    return at.selectbox(key=f"history_territory_{rep}").value, at.selectbox(key=f"history_manager_{rep}").value


def test_a_move_is_added_shown_and_deleted(at, db):
    at.selectbox(key="history_rep").set_value("R004").run()
    assert _history_table(at) == [["since always", None, "Nordics", "R003"]]
    # the form starts from the rep's current values: only the territory and the day change
    assert _form(at, "R004") == ("Nordics", "R003")
    at.date_input(key="history_from").set_value(dt.date(2026, 3, 15))
    at.selectbox(key="history_territory_R004").set_value("Baltics")
    at.button(key="FormSubmitter:history_form-Save row").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _history_table(at) == [["since always", "2026-03-14", "Nordics", "R003"],
                                  ["2026-03-15", None, "Baltics", "R003"]]
    history = _stored(db, lambda s: s.rep_history(SYSTEM, "R004"))
    assert pd.to_datetime(history["effective_from"]).dt.date.tolist() == [dt.date(1900, 1, 1), dt.date(2026, 3, 15)]
    assert _stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R004", "territory"]) == "Baltics"
    assert "rep history" in _stored(db, lambda s: s.audit_log(SYSTEM))["action"].tolist()

    # deleting the move: the first row runs on
    at.selectbox(key="history_delete").set_value(dt.date(2026, 3, 15))
    at.button(key="FormSubmitter:history_delete_form-Delete row").click().run()
    assert not at.exception and not at.error
    assert _history_table(at) == [["since always", None, "Nordics", "R003"]]
    assert _stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R004", "territory"]) == "Nordics"
    # another rep: the form shows that rep's own territory and manager
    at.selectbox(key="history_rep").set_value("R007").run()
    assert _form(at, "R007") == ("UK & Ireland", "R002")


def test_the_manager_choice_leaves_out_the_rep_and_a_same_day_row_is_replaced(at, db):
    at.selectbox(key="history_rep").set_value("R004").run()
    before = _stored(db, lambda s: s.rep_history(SYSTEM))
    options = at.selectbox(key="history_manager_R004").options
    assert any(o.endswith("(R003)") for o in options) and not any(o.endswith("(R004)") for o in options)
    # two saves for the same day: the second replaces the first (one new row)
    for manager in ("R005", "R006"):
        at.date_input(key="history_from").set_value(dt.date(2026, 5, 1))
        at.selectbox(key="history_manager_R004").set_value(manager)
        at.button(key="FormSubmitter:history_form-Save row").click().run()
    assert _history_table(at)[-1] == ["2026-05-01", None, "Nordics", "R006"]
    assert len(_stored(db, lambda s: s.rep_history(SYSTEM))) == len(before) + 1


def test_a_leavers_end_date_is_saved_and_cleared(at, db):
    at.selectbox(key="history_rep").set_value("R005").run()
    at.checkbox(key="leaver_R005").check()
    at.date_input(key="leaver_end_R005").set_value(dt.date(2026, 9, 30))
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert not at.exception and not at.error
    assert pd.Timestamp(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"])) == \
        pd.Timestamp("2026-09-30")
    assert at.checkbox(key="leaver_R005").value and at.date_input(key="leaver_end_R005").value == dt.date(2026, 9, 30)
    # before the start date: refused in words, nothing changes
    at.date_input(key="leaver_end_R005").set_value(dt.date(2020, 1, 1))
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert any("before R005" in e.value.replace("\\", "") for e in at.error)
    assert pd.Timestamp(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"])) == \
        pd.Timestamp("2026-09-30")
    at.checkbox(key="leaver_R005").uncheck()
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert pd.isna(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"]))
