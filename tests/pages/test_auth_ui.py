"""Sign-in screens (AppTest): the built-in form with right and wrong passwords, the lock-out, the
session cookie (issued, honoured on a refresh, refused when forged, expired, signed out of or of
a disabled account), sign-out, the first-admin form, and the mapping of an ``st.login`` (OIDC)
email to an account."""

from __future__ import annotations

import time

import re

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from salesplan import ui
from salesplan.ui import auth as ui_auth
from salesplan.store import Store
from tests.helpers.pages import ADMIN, OIDC_SECRETS, app, fresh_db, goto, open_store, texts

@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


def sign_in_form(at, email: str, password: str):
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="FormSubmitter:sign_in_form-Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def landed_on(at, title: str):
    """Signed in, on the page of that title. The tests whose subject is the session's cookie sign in
    at the Upload page's address and land there (the sign-in screen is served at every page's
    address): My plan, where a sign-in lands by default, computes the engine's numbers afresh on a
    database the sign-in has written to, and that is test_right_password_signs_in_and_issues_a_cookie's."""
    assert at.title[0].value == title and not at.error, [e.value for e in at.error]
    return at


def signed_out(at) -> bool:
    return bool([t for t in at.text_input if t.key == "sign_in_email"]) and not at.metric and not at.dataframe


def cookie_scripts(at) -> list[str]:
    return [element.proto.body for element in at.get("html") if "document.cookie" in element.proto.body]


def token_in(script: str) -> str:
    return re.search(rf"{ui.SESSION_COOKIE}=([^;]*);", script).group(1)


def session_secret(db) -> str:
    store = open_store(db)
    try:
        return store.server_secret("session")
    finally:
        store.close()


def with_browser_cookie(monkeypatch, token: str | None) -> None:
    """What st.context.cookies would hold after a page load (AppTest cannot send cookies)."""
    monkeypatch.setattr(ui_auth, "browser_cookie", lambda: token)


# ---------------------------------------------------------------- built-in accounts


def test_signed_out_visitor_sees_only_the_sign_in_form(monkeypatch, db):
    at = app(monkeypatch, db, user=None)
    assert signed_out(at)
    assert at.title[0].value == "salesplan"
    assert not at.sidebar.button and "Signed in" not in texts(at)
    assert not at.get("plotly_chart") and not at.get("file_uploader") and not at.tabs


def test_right_password_signs_in_and_issues_a_cookie(monkeypatch, db):
    at = app(monkeypatch, db, user=None)
    sign_in_form(at, "  Manager1@Demo.test ", "demo")
    assert at.title[0].value == "My plan"
    assert at.session_state[ui.SIGNED_IN_KEY] == "manager1@demo.test"
    assert "Signed in as <b>manager1@demo.test</b> (manager)" in at.sidebar.get("html")[0].proto.body
    [script] = cookie_scripts(at)
    assert f"Max-Age={ui.SESSION_SECONDS}" in script and "SameSite=Strict" in script
    token = token_in(script)
    serializer = URLSafeTimedSerializer(session_secret(db), salt="salesplan.sign-in")
    assert serializer.loads(token, max_age=ui.SESSION_SECONDS) == {"email": "manager1@demo.test"}
    at.run()
    assert cookie_scripts(at) == [script], "the same token is kept while the session lasts"


def test_wrong_password_and_unknown_email_get_the_same_answer(monkeypatch, db):
    at = app(monkeypatch, db, user=None)
    sign_in_form(at, "rep1@demo.test", "not-demo")
    assert [e.value for e in at.error] == ["Wrong email or password."]
    sign_in_form(at, "nobody@demo.test", "demo")
    assert [e.value for e in at.error] == ["Wrong email or password."]
    assert signed_out(at) and not cookie_scripts(at)
    sign_in_form(at, "", "")
    assert [e.value for e in at.error] == ["Enter your email and your password."]


def test_lock_out_after_five_failures(monkeypatch, db):
    at = app(monkeypatch, db, user=None)
    for attempt in range(4):
        sign_in_form(at, "rep2@demo.test", f"guess {attempt}")
        assert [e.value for e in at.error] == ["Wrong email or password."]
    sign_in_form(at, "rep2@demo.test", "guess 5")
    [message] = [e.value for e in at.error]
    assert re.fullmatch(r"Too many failed sign-ins: this account is locked until \d\d:\d\d\. Try again later "
                        r"or ask an admin to reset the password\.", message)
    sign_in_form(at, "rep2@demo.test", "demo")
    assert [e.value for e in at.error] == [message], "the right password does not open a locked account"
    assert signed_out(at)
    sign_in_form(at, "rep1@demo.test", "demo")  # other accounts are not affected
    assert at.title[0].value == "My plan"


def test_sign_out_clears_the_session_and_the_cookie(monkeypatch, db):
    at = app(monkeypatch, db, user=None, page="upload")  # signed in, lands on Upload (see landed_on)
    landed_on(sign_in_form(at, "admin@demo.test", "demo"), "Upload")
    token = token_in(cookie_scripts(at)[0])
    at.session_state["selected_rep"] = "R008"
    at.sidebar.button(key="sign_out").click().run()
    assert signed_out(at)
    assert "You are signed out." in texts(at)
    [script] = cookie_scripts(at)
    assert token_in(script) == "" and "Max-Age=0" in script
    assert ui.SIGNED_IN_KEY not in at.session_state and "selected_rep" not in at.session_state
    at.run()
    assert signed_out(at) and "You are signed out." not in texts(at)

    # the browser still sending the old cookie (another tab, a copied cookie) does not sign in again
    with_browser_cookie(monkeypatch, token)
    again = app(monkeypatch, db, user=None)
    assert signed_out(again)


def test_a_refresh_is_signed_in_by_the_cookie(monkeypatch, db):
    at = app(monkeypatch, db, user=None, page="upload")  # signed in, lands on Upload (see landed_on)
    landed_on(sign_in_form(at, "rep1@demo.test", "demo"), "Upload")
    token = token_in(cookie_scripts(at)[0])
    with_browser_cookie(monkeypatch, token)
    refreshed = app(monkeypatch, db, user=None)  # a new session: only the cookie knows who it is
    assert refreshed.title[0].value == "My plan"
    assert refreshed.subheader[0].value.startswith("Nina Weber")
    assert not cookie_scripts(refreshed), "a session started from the cookie does not write it again"
    goto(refreshed, "admin")
    assert [e.value for e in refreshed.error] == ["Not allowed: the Admin page is not available to the rep role."]


def test_a_password_change_ends_the_sessions_signed_in_before_it(monkeypatch, db):
    at = app(monkeypatch, db, user=None, page="upload")  # signed in, lands on Upload (see landed_on)
    with monkeypatch.context() as earlier:
        # the token's timestamp has one-second resolution: sign in two seconds before the password
        # change (dated so rather than waited for)
        earlier.setattr(TimestampSigner, "get_timestamp", lambda signer: int(time.time()) - 2)
        landed_on(sign_in_form(at, "rep1@demo.test", "demo"), "Upload")
    token = token_in(cookie_scripts(at)[0])
    with Store.open(db) as store:
        store.set_password(ADMIN, "rep1@demo.test", "new-secret")
    with_browser_cookie(monkeypatch, token)
    assert signed_out(app(monkeypatch, db, user=None))
    fresh = app(monkeypatch, db, user=None, page="upload")
    landed_on(sign_in_form(fresh, "rep1@demo.test", "new-secret"), "Upload")
    with_browser_cookie(monkeypatch, token_in(cookie_scripts(fresh)[0]))
    assert app(monkeypatch, db, user=None).title[0].value == "My plan"


@pytest.mark.parametrize("case", ["forged", "other database", "expired", "disabled"])
def test_a_bad_cookie_signs_nobody_in(monkeypatch, db, tmp_path, case):
    secret = session_secret(db)
    serializer = URLSafeTimedSerializer(secret, salt="salesplan.sign-in")
    token = serializer.dumps({"email": "manager1@demo.test"})
    if case == "forged":
        token = URLSafeTimedSerializer("guessed", salt="salesplan.sign-in").dumps({"email": "admin@demo.test"})
    elif case == "other database":
        other = tmp_path / "other"
        other.mkdir()
        token = URLSafeTimedSerializer(session_secret(fresh_db(other)), salt="salesplan.sign-in").dumps(
            {"email": "admin@demo.test"})
    elif case == "expired":
        class Yesterday(TimestampSigner):
            def get_timestamp(self) -> int:
                return super().get_timestamp() - ui.SESSION_SECONDS - 60

        token = URLSafeTimedSerializer(secret, salt="salesplan.sign-in", signer=Yesterday).dumps(
            {"email": "admin@demo.test"})
    else:
        with Store.open(db) as store:
            store.disable_user(ADMIN, "manager1@demo.test")
    with_browser_cookie(monkeypatch, token)
    at = app(monkeypatch, db, user=None)
    assert signed_out(at), case


def test_a_disabled_account_is_signed_out_at_the_next_click(monkeypatch, db):
    at = app(monkeypatch, db, user="manager1@demo.test", page="upload")  # any page: see landed_on
    assert at.title[0].value == "Upload"
    store = open_store(db)
    try:
        store.disable_user(ADMIN, "manager1@demo.test")
    finally:
        store.close()
    at.run()
    assert signed_out(at)


def test_first_start_offers_the_first_admin_form(monkeypatch, tmp_path):
    db = tmp_path / "new.duckdb"
    at = app(monkeypatch, db, user=None)
    assert [s.value for s in at.subheader] == ["Create the first admin"]
    assert not [t for t in at.text_input if t.key == "sign_in_email"]
    at.text_input(key="first_admin_email").input("Boss@Example.com")
    at.text_input(key="first_admin_password").input("correct horse")
    at.text_input(key="first_admin_repeat").input("correct horse!")
    at.button(key="FormSubmitter:first_admin_form-Create the admin account").click().run()
    assert [e.value for e in at.error] == ["The two passwords differ."]
    at.text_input(key="first_admin_repeat").input("correct horse")
    at.button(key="FormSubmitter:first_admin_form-Create the admin account").click().run()
    assert not at.exception
    assert at.title[0].value == "My plan" and "No reps yet" in texts(at)
    assert at.session_state[ui.SIGNED_IN_KEY] == "boss@example.com"
    store = open_store(db)
    try:
        assert store.authenticate("boss@example.com", "correct horse").role == "admin"
    finally:
        store.close()

    later = app(monkeypatch, db, user=None)  # once an admin exists: the sign-in form, never the first-admin form
    assert signed_out(later) and not later.subheader


# ---------------------------------------------------------------- st.login (OIDC)


def oidc_app(monkeypatch, db, user: dict, secrets: dict = OIDC_SECRETS):
    # a provider that verified the email, unless the test says otherwise
    user = {"email_verified": True, **user} if "email" in user else user
    return app(monkeypatch, db, user=None, secrets=secrets, oidc_user=user)


@pytest.mark.parametrize("verified", [False, None, "false"])
def test_oidc_email_the_provider_did_not_verify_signs_in_nobody(monkeypatch, db, verified):
    # None: the claim is missing
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": "admin@demo.test", "email_verified": verified})
    assert [e.value for e in at.error][0].startswith("Your identity provider did not confirm")
    assert not at.sidebar.button and not at.metric and not at.dataframe
    assert not at.subheader, "never the first-admin form either"


def test_oidc_unverified_email_is_accepted_only_with_the_documented_secret(monkeypatch, db):
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": "Manager1@demo.test", "email_verified": "True"})
    assert at.title[0].value == "My plan", "a provider sending the claim as text"
    trusting = {**OIDC_SECRETS, "oidc_trust_unverified_email": True}
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": "Manager1@demo.test", "email_verified": None},
                  secrets=trusting)
    assert at.title[0].value == "My plan"


def test_oidc_email_is_mapped_to_its_account(monkeypatch, db):
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": "Manager1@demo.test", "name": "M"})
    assert at.title[0].value == "My plan"
    assert "(manager)" in at.sidebar.get("html")[0].proto.body
    assert set(at.selectbox(key="rep_picker").options) == {
        "Aoife Andersen (R003)", "Nina Weber (R004)", "Luca Ferrari (R005)", "Grace Virtanen (R006)"}
    goto(at, "admin")
    assert [e.value for e in at.error] == ["Not allowed: the Admin page is not available to the manager role."]
    assert not cookie_scripts(at), "st.login keeps its own cookie"
    at.sidebar.button(key="sign_out").click().run()  # st.logout (a server then reloads the page)
    assert not at.user.get("is_logged_in")
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.dataframe


def test_oidc_signed_out_gets_the_sign_in_button_only(monkeypatch, db):
    at = oidc_app(monkeypatch, db, {"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input, "no password form when sign-in is OIDC"
    assert not at.metric and not at.dataframe


@pytest.mark.parametrize("email", ["stranger@example.com", "rep2@demo.test"])
def test_oidc_email_without_an_enabled_account_sees_no_data(monkeypatch, db, email):
    if email == "rep2@demo.test":
        with Store.open(db) as store:
            store.disable_user(ADMIN, email)
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": email})
    [message] = [e.value for e in at.error]
    assert message.startswith(f"There is no salesplan account for `{email}` (or it is disabled). Ask an admin")
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart") and not at.sidebar.button
    at.button(key="oidc_sign_out").click().run()
    assert [b.label for b in at.button] == ["Sign in"]


def test_oidc_first_start_makes_the_signed_in_email_the_first_admin(monkeypatch, tmp_path):
    db = tmp_path / "new.duckdb"
    at = oidc_app(monkeypatch, db, {"is_logged_in": True, "email": "boss@example.com"})
    assert [s.value for s in at.subheader] == ["Create the first admin"]
    assert not at.text_input, "single sign-on: no password to choose"
    at.button(key="FormSubmitter:first_admin_form-Create the admin account").click().run()
    assert at.title[0].value == "My plan"
    assert "(admin)" in at.sidebar.get("html")[0].proto.body


def test_a_signed_out_cookie_stays_dead_after_a_server_restart(monkeypatch, db):
    at = app(monkeypatch, db, user=None, page="upload")  # signed in, lands on Upload (see landed_on)
    landed_on(sign_in_form(at, "admin@demo.test", "demo"), "Upload")
    token = token_in(cookie_scripts(at)[0])
    at.sidebar.button(key="sign_out").click().run()
    assert signed_out(at)
    # a restart: a new process starts with empty Streamlit caches (and a new store connection)
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    with_browser_cookie(monkeypatch, token)
    again = app(monkeypatch, db, user=None)
    assert signed_out(again), "the signed-out cookie must not sign in after a restart"
    store = open_store(db)
    try:
        assert store.is_session_revoked(ui_auth.token_digest(token))
    finally:
        store.close()


def test_no_first_admin_form_on_a_database_that_had_accounts(monkeypatch, tmp_path):
    """An organisation whose accounts are all non-admins (or whose admins were removed) is not
    handed to the first visitor: only a database that never had an account offers the form."""
    db = tmp_path / "no-admin.duckdb"
    with Store.open(db) as store:
        store.add_user(ADMIN, "someone@example.com", "leader", password="pass-word")
    at = app(monkeypatch, db, user=None)
    assert signed_out(at) and not at.subheader
    assert not [t for t in at.text_input if t.key == "first_admin_email"]


def test_an_admin_clears_a_lock_out_on_the_admin_page(monkeypatch, db):
    store = open_store(db)
    try:
        for attempt in range(5):
            try:
                store.authenticate("rep2@demo.test", f"guess {attempt}")
            except Exception:  # noqa: BLE001 - each wrong password is refused; the fifth locks
                pass
        assert store.users(ADMIN).set_index("email").loc["rep2@demo.test", "locked_until"] is not None
        at = app(monkeypatch, db, page="admin", state={"admin_tabs": "Users"})
        at.selectbox(key="user_pick").set_value("rep2@demo.test").run()
        assert not at.button(key="user_unlock").disabled
        at.button(key="user_unlock").click().run()
        assert any("Lock-out of" in s.value for s in at.success)
        assert store.authenticate("rep2@demo.test", "demo").email == "rep2@demo.test"
        log = store.audit_log(ADMIN)
        assert "clear lock-out" in set(log["action"])
    finally:
        store.close()
