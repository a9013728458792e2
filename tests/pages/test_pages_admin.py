"""Admin page: settings, calendar and holidays, reps import."""

from __future__ import annotations

import pytest

from salesplan.errors import BadInput

from tests.helpers.pages import ADMIN, app, fresh_db, open_store


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture
def admin_on(monkeypatch, db):
    """The Admin page opened on a tab (it runs only its open tab)."""
    return lambda tab: app(monkeypatch, db, page="admin", state={"admin_tabs": tab})


def test_settings_change_is_saved_and_used(admin_on, db):
    at = admin_on("Settings")
    at.number_input(key="setting_window").set_value(20)
    at.number_input(key="setting_at_risk").set_value(0.8)
    at.button(key="FormSubmitter:settings_form-Save settings").click().run()
    assert not at.exception
    assert any("Settings saved" in s.value for s in at.success)
    store = open_store(db)
    try:
        settings = store.settings()
    finally:
        store.close()
    assert settings.window == 20 and settings.at_risk == pytest.approx(0.8)
    assert at.number_input(key="setting_window").value == 20
    at.switch_page("pages/my_plan.py").run()
    assert any(m.label == "Best 20-day run" for m in at.metric), "the pages use the new window"


def test_out_of_range_setting_is_refused(admin_on, db):
    at = admin_on("Settings")
    at.number_input(key="setting_grace").set_value(1.0)
    at.number_input(key="setting_upload_limit").set_value(10_000)
    at.button(key="FormSubmitter:settings_form-Save settings").click().run()
    assert not at.error
    store = open_store(db)
    try:
        assert store.settings().upload_limit_mb == 10_000
        assert store.settings().grace == 1.0
        with pytest.raises(BadInput, match="upload-limit-mb"):
            store.save_settings(ADMIN, upload_limit_mb=10_001)
        assert store.settings().upload_limit_mb == 10_000
    finally:
        store.close()


def test_calendar_and_holiday_delete(admin_on, db):
    at = admin_on("Calendar")
    at.selectbox(key="fy_start_month").set_value(7)
    at.multiselect(key="weekdays").set_value(["Mon", "Tue", "Wed", "Thu"])
    at.button(key="FormSubmitter:calendar_form-Save calendar").click().run()
    store = open_store(db)
    try:
        settings = store.settings()
        assert settings.fy_start_month == 7 and settings.working_weekday_names == "Mon,Tue,Wed,Thu"
        before = len(store.holidays(ADMIN))
        at.selectbox(key="holiday_delete").set_value(0)
        at.button(key="FormSubmitter:holiday_delete_form-Delete").click().run()
        assert not at.exception
        assert len(store.holidays(ADMIN)) == before - 1
    finally:
        store.close()


def pick_user(at, email: str) -> None:
    """Choose the account to change, unless the page still has it chosen (a choice is kept across
    the page's runs: choosing it again would only run the page once more)."""
    if at.selectbox(key="user_pick").value != email:
        at.selectbox(key="user_pick").set_value(email).run()


def test_accounts_are_managed_on_the_admin_page_and_audited(admin_on, db):
    """Add, change role and linked rep, reset the password, disable and enable: no command line."""
    at = admin_on("Users")
    store = open_store(db)
    try:
        rep_id = store.reps(ADMIN)["rep_id"].iloc[0]
        at.text_input(key="user_add_email").set_value("New.Rep@Example.com")
        at.selectbox(key="user_add_role").set_value("rep")
        at.selectbox(key="user_add_rep").set_value(rep_id)
        at.text_input(key="user_add_password").set_value("first-pass")
        at.button(key="FormSubmitter:user_add_form-Add account").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert store.authenticate("new.rep@example.com", "first-pass").rep_id == rep_id

        pick_user(at, "new.rep@example.com")
        assert at.selectbox(key="user_role").value == "rep" and at.selectbox(key="user_rep").value == rep_id
        other = store.reps(ADMIN)["rep_id"].iloc[1]
        at.selectbox(key="user_role").set_value("manager")
        at.selectbox(key="user_rep").set_value(other)
        at.button(key="FormSubmitter:user_role_form-Save role and rep").click().run()
        principal = store.principal_for_email("new.rep@example.com")
        assert principal.role == "manager" and principal.rep_id == other

        pick_user(at, "new.rep@example.com")
        at.text_input(key="user_new_password").set_value("second-pass")
        at.button(key="FormSubmitter:user_password_form-Reset password").click().run()
        assert store.authenticate("new.rep@example.com", "second-pass").role == "manager"

        pick_user(at, "new.rep@example.com")
        at.button(key="user_disable").click().run()
        assert store.principal_for_email("new.rep@example.com") is None, "disabled"
        pick_user(at, "new.rep@example.com")
        assert at.button(key="user_disable").label == "Enable account"
        at.button(key="user_disable").click().run()
        assert store.principal_for_email("new.rep@example.com") is not None

        log = store.audit_log(ADMIN)
        mine = log[log["detail"].astype(str).str.contains("new.rep@example.com")]
        assert {"add user", "set role", "set password", "disable user", "enable user"} <= set(mine["action"])
    finally:
        store.close()


def test_the_last_admin_cannot_be_disabled_from_the_page(admin_on, db):
    at = admin_on("Users")
    at.selectbox(key="user_pick").set_value("admin@demo.test").run()
    at.button(key="user_disable").click().run()
    assert any("last enabled admin" in e.value for e in at.error)
    store = open_store(db)
    try:
        assert store.principal_for_email("admin@demo.test") is not None
    finally:
        store.close()
