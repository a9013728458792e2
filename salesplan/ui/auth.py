"""Who is looking: sign-in (built-in accounts with a signed cookie, or ``st.login``), sessions and
sign-out, and the sign-in screens."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
from itsdangerous import BadSignature, URLSafeTimedSerializer
from streamlit.errors import StreamlitAuthError

from salesplan import notify
from salesplan.errors import BadInput, NotAllowed, SalesplanError
from salesplan.principal import Principal
from salesplan.store import resolve_db_path
from salesplan.ui.data import PRINCIPAL_KEY, _open_store, store
from salesplan.ui.formatting import md
from salesplan.ui.widgets import show_problems

#
# Two ways to sign in, chosen by the secrets:
#
# * an ``[auth]`` section in ``.streamlit/secrets.toml``: Streamlit's own ``st.login`` (OpenID
#   Connect); ``st.user.email`` is mapped to an account with ``Store.principal_for_email``;
# * otherwise the built-in accounts: an email + password form checked by ``Store.authenticate``
#   (argon2id, lock-out). The session remembers the email; the browser keeps a signed, expiring
#   cookie (itsdangerous, keyed by ``Store.server_secret``) so that a page refresh or a new tab
#   stays signed in. Streamlit hands the cookies of the page request to the script
#   (``st.context.cookies``) on the first run of a session, so a refresh is recognised before
#   anything renders; the cookie is written by a two-line script (``st.html``), with no
#   third-party component.
#
# Every run maps the email to the account again, so a disabled account or a changed role takes
# effect at the next click.

SESSION_COOKIE = "salesplan_session"
SESSION_HOURS = 12
SESSION_SECONDS = SESSION_HOURS * 3600
SIGNED_IN_KEY = "_signed_in"  # session state: the email of the signed-in built-in account (tests set it too)
_TOKEN = "_session_token"  # session state: the token of this session (to revoke on sign-out)
_SET_COOKIE = "_set_cookie"  # session state: a token this session issued, for the browser to keep
_CLEAR_COOKIE = "_clear_cookie"  # session state: the browser must drop its cookie (signed out)
_IGNORED_COOKIE = "_ignored_cookie"  # session state: the cookie this session signed out of
_NOTICE = "_sign_in_notice"
_GO_HOME = "_go_home"  # session state: signed out on some page; the sign-in screen moves to the home page


def oidc_enabled() -> bool:
    """Whether sign-in is ``st.login`` (an ``[auth]`` section in the secrets)."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # noqa: BLE001 - an unreadable secrets file is reported by Streamlit itself
        return False


def oidc_providers() -> list[str | None]:
    """The ``st.login`` providers: ``[None]`` for a single ``[auth]`` section, else the names of
    its ``[auth.<name>]`` sub-sections."""
    section = st.secrets["auth"]
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return list(named) or [None]


@st.cache_resource(show_spinner=False)
def _session_secret(path: str) -> str:
    return _open_store(path).server_secret("session")


def _serializer() -> URLSafeTimedSerializer:
    # the real database name, never ``store().path``: that one has a PostgreSQL password redacted
    return URLSafeTimedSerializer(_session_secret(str(resolve_db_path())), salt="salesplan.sign-in")


def token_digest(token: str) -> str:
    """What the store keeps of a signed-out token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_token(email: str) -> str:
    """A signed token naming the account, valid for SESSION_HOURS."""
    return _serializer().dumps({"email": email})


def email_from_token(token: str | None) -> str | None:
    """The email a valid, unexpired, not signed-out token names; else None."""
    if not token:
        return None
    try:
        data, issued = _serializer().loads(token, max_age=SESSION_SECONDS, return_timestamp=True)
    except BadSignature:  # also SignatureExpired
        return None
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str):
        return None
    # signed out: kept in the database, so a restart of the dashboard does not bring it back
    if store().is_session_revoked(token_digest(token)):
        return None
    # a password change (or disabling the account) ends the sessions signed in before it
    valid_after = store().sessions_valid_after(email)
    if valid_after is not None and issued.replace(tzinfo=None) < valid_after.replace(microsecond=0):
        return None
    return email


def browser_cookie() -> str | None:
    """The session cookie the browser sent when this Streamlit session started (a page load)."""
    return st.context.cookies.get(SESSION_COOKIE)


# the secret that accepts single sign-on emails without ``email_verified`` (docs/security.md): only
# for an identity provider that never sends the claim and verifies every email itself
TRUST_UNVERIFIED_SECRET = "oidc_trust_unverified_email"


def _email_verified() -> bool:
    """Whether the provider vouches for the email (claim ``email_verified`` true), or the secret
    ``oidc_trust_unverified_email = true`` (top level of the secrets) accepts emails without it."""
    claim = st.user.get("email_verified")
    if claim is True or str(claim).strip().lower() == "true":
        return True
    try:
        return st.secrets.get(TRUST_UNVERIFIED_SECRET, False) is True
    except Exception:  # noqa: BLE001 - an unreadable secrets file is reported by Streamlit itself
        return False


def _user_email() -> str | None:
    """The email ``st.login`` signed in, or None (also when the provider did not verify it: anyone
    could otherwise claim an account's email at a provider that lets users type theirs)."""
    if not st.user.get("is_logged_in", False):
        return None
    email = st.user.get("email")
    return str(email) if email and _email_verified() else None


def current_principal() -> Principal | None:
    """The signed-in user, or None when nobody is (the app then shows only the sign-in page).

    Mapped from the account once per run (app.py asks, then the page's guard): the run keeps what
    it got until :func:`salesplan.ui.data.start_run` begins the next run, or a sign-out clears the
    session."""
    memo = st.session_state.get(PRINCIPAL_KEY)
    if memo is not None:
        return memo[0]
    principal = _principal_of_session()
    st.session_state[PRINCIPAL_KEY] = (principal,)
    return principal


def _principal_of_session() -> Principal | None:
    the_store = store()
    if oidc_enabled():
        email = _user_email()
        return the_store.principal_for_email(email) if email else None
    email = st.session_state.get(SIGNED_IN_KEY)
    if email is None:
        token = browser_cookie()
        if token and token != st.session_state.get(_IGNORED_COOKIE):
            email = email_from_token(token)
            if email is not None:
                st.session_state[SIGNED_IN_KEY] = email
                st.session_state[_TOKEN] = token
    if email is None:
        return None
    principal = the_store.principal_for_email(email)
    if principal is None:  # disabled or removed since the sign-in
        _forget_session()
    return principal


def _start_session(email: str) -> None:
    token = session_token(email)
    st.session_state[SIGNED_IN_KEY] = email
    st.session_state[_TOKEN] = token
    st.session_state[_SET_COOKIE] = token
    st.session_state.pop(_CLEAR_COOKIE, None)
    st.session_state.pop(PRINCIPAL_KEY, None)  # this run's "nobody" is out of date


def _forget_session(notice: str | None = None) -> None:
    """Sign this session out: revoke its token, clear everything it kept, drop the browser's cookie."""
    cookie = browser_cookie()
    expires = datetime.now(UTC) + timedelta(seconds=SESSION_SECONDS)
    for token in {st.session_state.get(_TOKEN), cookie}:
        if isinstance(token, str) and token:
            store().revoke_session(token_digest(token), expires)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[_IGNORED_COOKIE] = cookie
    st.session_state[_CLEAR_COOKIE] = True
    if notice:
        st.session_state[_NOTICE] = notice


def sign_out() -> None:
    """The sidebar's Sign out button (built-in accounts). The sign-in screen then moves to the home
    page (see :func:`sign_in_page`)."""
    _forget_session("You are signed out.")
    st.session_state[_GO_HOME] = True


def email_text(email: str) -> str:
    """An email address for markdown, shown as typed (not turned into a mailto link)."""
    return f"`{str(email).replace('`', '')}`"


def _cookie_script(value: str, max_age: int) -> str:
    return (
        "<script>(function () {"
        "var secure = window.location.protocol === 'https:' ? '; Secure' : '';"
        f"document.cookie = '{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; SameSite=Strict' + secure;"
        "})();</script>"
    )


def sync_cookie(container: Any = None) -> None:
    """Write (after a sign-in) or drop (after a sign-out) the browser's session cookie."""
    container = container or st
    token = st.session_state.get(_SET_COOKIE)
    if token:
        container.html(_cookie_script(token, SESSION_SECONDS), unsafe_allow_javascript=True)
    elif st.session_state.get(_CLEAR_COOKIE):
        container.html(_cookie_script("", 0), unsafe_allow_javascript=True)


def account_box(principal: Principal) -> None:
    """The sidebar's footer: who is signed in, their e-mail choices, and the sign-out button."""
    sidebar = st.sidebar
    # plain HTML: markdown would turn the address into a mailto link
    sidebar.html(f'<div style="font-size: 0.875rem; opacity: 0.7">Signed in as <b>{html.escape(principal.email)}</b> '
                 f"({principal.role})</div>")
    with sidebar.popover("My e-mails", icon=":material/mail:"):
        email_choices(principal)
    if oidc_enabled():
        if sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
            st.logout()
    else:
        sidebar.button("Sign out", icon=":material/logout:", key="sign_out", on_click=sign_out)
        sync_cookie(sidebar)


EMAIL_CHOICES = {"digest": "Weekly digest", "alert": "Alerts (watch list, point of no return, too late)"}


def email_choices(principal: Principal) -> None:
    """Two toggles: whether this user gets the weekly digest and the alerts (docs/notifications.md).
    A change is saved at once; a refusal is shown in words."""
    the_store = store()
    try:
        current = notify.email_preferences(the_store, principal)
    except SalesplanError as error:
        st.caption(md(error))
        return

    def save(kind: str) -> None:
        try:
            notify.set_email_preferences(the_store, principal, **{kind: bool(st.session_state[f"email_{kind}"])})
        except SalesplanError as error:
            st.session_state["_email_choice_error"] = str(error)

    for kind, label in EMAIL_CHOICES.items():
        st.toggle(label, value=current[kind], key=f"email_{kind}", on_change=save, args=(kind,))
    problem = st.session_state.pop("_email_choice_error", None)
    if problem:
        st.error(md(problem))
    st.caption("Sent to your sign-in address, computed from what you may see.")


def sign_in_page() -> None:
    """The only screen a signed-out visitor sees. Right after a sign-out it moves to the home page
    (the address of the dashboard), so that whoever signs in next in this browser lands on their own
    home page, not on the page the previous account had open (a rep on the Admin page)."""
    if st.session_state.pop(_GO_HOME, False):
        from salesplan.ui.navigation import sign_in_pages  # navigation imports this module

        st.switch_page(sign_in_pages()[0])  # the default page, served at "/"
    # after a sign-out in this session the browser would keep showing an empty sidebar
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'] "
            "{ display: none; }</style>")
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("salesplan", anchor=False)
        notice = st.session_state.pop(_NOTICE, None)
        if notice:
            st.success(notice, icon=":material/check_circle:")
        if oidc_enabled():
            _oidc_screen()
        elif not store().has_ever_had_account():  # only a database that never had an account
            _first_admin_form()
        else:
            _password_form()
    sync_cookie()


def _password_form() -> None:
    st.caption("Sign in with your salesplan account.")
    with st.form("sign_in_form"):
        email = st.text_input("Email", key="sign_in_email", autocomplete="username",
                              placeholder="you@example.com")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        if not email.strip() or not password:
            st.error("Enter your email and your password.")
            return
        try:
            principal = store().authenticate(email, password)
        except NotAllowed as error:
            # the store's own words, never the typed email (unknown and real accounts answer alike)
            st.error(str(error), icon=":material/lock:")
            return
        except SalesplanError as error:
            st.error(md(error))
            return
        _start_session(principal.email)
        st.rerun()
    st.caption("Forgot your password, or locked out? Ask an admin to set a new one.")


def _first_admin_form(email: str | None = None) -> None:
    """First start: no admin account yet. With ``email`` (signed in through ``st.login``) the account
    needs no password."""
    st.subheader("Create the first admin", anchor=False)
    st.caption("This database has no admin account yet. The first admin manages people, settings and the other "
               "accounts on the Admin page.")
    with st.form("first_admin_form"):
        if email is None:
            new_email = st.text_input("Email", key="first_admin_email", autocomplete="username",
                                      placeholder="you@example.com")
            password = st.text_input("Password", type="password", key="first_admin_password",
                                     autocomplete="new-password")
            repeat = st.text_input("Repeat the password", type="password", key="first_admin_repeat",
                                   autocomplete="new-password")
        else:
            st.markdown(f"Admin account for {email_text(email)}, who signs in with single sign-on.")
            new_email, password, repeat = email, None, None
        submitted = st.form_submit_button("Create the admin account", type="primary", icon=":material/person_add:")
    if not submitted:
        return
    if email is None and password != repeat:
        st.error("The two passwords differ.")
        return
    the_store = store()
    try:
        the_store.add_user(Principal(str(new_email).strip().lower(), "admin"), new_email, "admin", password=password)
    except BadInput as error:
        show_problems(error, title="No account was created")
        return
    except SalesplanError as error:
        st.error(md(error))
        return
    if email is None:
        _start_session(the_store.principal_for_email(new_email).email)
    st.rerun()


def _oidc_screen() -> None:
    email = _user_email()
    if email is None:
        if st.user.get("is_logged_in", False) and st.user.get("email"):
            st.error("Your identity provider did not confirm that your email address is verified, so "
                     "salesplan cannot trust it. Ask an admin to check the identity provider's settings.")
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="oidc_sign_out")
            return
        if st.user.get("is_logged_in", False):
            st.error("Your sign-in did not share an email address, so salesplan cannot tell who you are. "
                     "Ask an admin to add the `email` scope to the identity provider's settings.")
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="oidc_sign_out")
            return
        st.caption("Sign in with your organisation's account.")
        for provider in oidc_providers():
            label = "Sign in" if provider is None else f"Sign in with {provider.replace('_', ' ').title()}"
            if st.button(label, type="primary", icon=":material/login:", key=f"oidc_login_{provider or 'default'}"):
                try:
                    st.login(provider)
                except StreamlitAuthError as error:  # Authlib missing, or an [auth] setting wrong
                    st.error(f"Single sign-on is not set up correctly: {md(error)}")
        return
    if not store().has_ever_had_account():
        _first_admin_form(email)
        return
    st.error(f"There is no salesplan account for {email_text(email)} (or it is disabled). Ask an admin to add it "
             "on the Admin page (Users tab).", icon=":material/person_off:")
    st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="oidc_sign_out")


