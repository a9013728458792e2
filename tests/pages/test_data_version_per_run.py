"""The dashboard reads the data version once per run (salesplan.ui.data.start_run), yet a write
of this process shows at once and another writer's at the next run."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from salesplan.store import Store


def _script() -> None:
    import streamlit as st

    from salesplan import ui
    from salesplan.principal import SYSTEM
    from salesplan.store import Store
    from salesplan.ui import data

    ui.start_run()
    seen = [data._key()[2]]
    if st.session_state.get("write_here"):
        ui.store().save_settings(SYSTEM, fy_start_month=4)  # this process's store: seen at once
    if st.session_state.get("write_elsewhere"):
        # another Store object writes, as another process would: this run keeps its version
        other = Store.open(ui.store().path, migrate=False)
        other.save_settings(SYSTEM, fy_start_month=7)
        other.close()
    seen.append(data._key()[2])
    seen.append(data._key()[2])
    st.session_state["seen"] = seen


def _started(script, tmp_path, monkeypatch) -> tuple[AppTest, Path]:
    """``script`` as an AppTest on a new empty database, run once."""
    db = tmp_path / "run.duckdb"
    Store.open(db).close()
    monkeypatch.setenv("SALESPLAN_DB", str(db))
    return AppTest.from_function(script, default_timeout=30).run(), db


def test_the_version_is_read_once_per_run_and_again_after_a_write_of_this_process(tmp_path, monkeypatch):
    at, db = _started(_script, tmp_path, monkeypatch)
    first = at.session_state["seen"]
    assert len(set(first)) == 1
    at.session_state["write_here"] = True
    at.run()
    before, after_write, again = at.session_state["seen"]
    assert after_write == again != before  # the cached reads after the write see it in the same run
    at.session_state["write_here"] = False
    at.session_state["write_elsewhere"] = True
    at.run()
    start, during, _ = at.session_state["seen"]
    assert start == during == again  # read once: another writer's change is not seen mid-run...
    at.session_state["write_elsewhere"] = False
    at.run()
    assert at.session_state["seen"][0] > during  # ...and is seen from the next run on
    with Store.open(db, migrate=False) as store:
        assert store.settings().fy_start_month == 7


def _settings_script() -> None:
    import streamlit as st

    from salesplan import ui
    from salesplan.principal import SYSTEM
    from salesplan.ui import data

    ui.start_run()
    calls = st.session_state.setdefault("reads", [])
    read = data._settings

    def counting(*args):
        calls.append(args[2])  # the data version
        return read(*args)

    data._settings = counting
    try:
        months = {ui.settings().fy_start_month for _ in range(50)}
        if st.session_state.get("write"):
            ui.store().save_settings(SYSTEM, fy_start_month=4)
            months |= {ui.settings().fy_start_month for _ in range(50)}
    finally:
        data._settings = read
    st.session_state["months"] = sorted(months)


def test_the_settings_are_read_once_per_data_version(tmp_path, monkeypatch):
    at, _ = _started(_settings_script, tmp_path, monkeypatch)
    assert len(at.session_state["reads"]) == 1 and at.session_state["months"] == [1]
    at.run()
    assert len(at.session_state["reads"]) == 1, "an unchanged version is not read again in the next run"
    at.session_state["write"] = True
    at.run()
    assert len(at.session_state["reads"]) == 2, "a write is read once, at once"
    assert at.session_state["months"] == [1, 4]
