"""UI glue for the Streamlit dashboard: the one module of ``salesplan`` that imports streamlit and plotly.

What lives here, so the pages read like descriptions of their screens:

* who is looking (:func:`current_principal`: built-in accounts with a signed cookie, or ``st.login``), the
  sign-in screens, and which pages they get (:func:`menu`, :func:`page` refuses the others);
* one :class:`~salesplan.store.Store` per process and database file (:func:`store`);
* cached reads, keyed by the database file and ``store.data_version()`` so that any write (an
  upload, an undo, a target change) invalidates them at once;
* formatting (money, percentages, statuses), charts (plotly figures built from engine frames),
  exports (CSV / Excel with formula-like cells neutralised) and the printable plan.

No SPEC formula is computed here: every number comes from :mod:`salesplan.engine`; this module only
reshapes, labels and draws the engine's frames.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from itsdangerous import BadSignature, URLSafeTimedSerializer
from streamlit.errors import StreamlitAuthError

from salesplan import engine, upload_flow
from salesplan.calendar import fiscal_year_bounds, fiscal_year_of
from salesplan.errors import BadInput, DatabaseLocked, NotAllowed, SalesplanError
from salesplan.inputs import EngineInputs
from salesplan.principal import Principal
from salesplan.store import Store, resolve_db_path

# ============================================================================ who is looking
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
    return URLSafeTimedSerializer(_session_secret(store().path), salt="salesplan.sign-in")


@st.cache_resource(show_spinner=False)
def _revoked_tokens() -> dict[str, float]:
    """Tokens signed out of (token -> when it would expire anyway), for this server process."""
    return {}


def session_token(email: str) -> str:
    """A signed token naming the account, valid for SESSION_HOURS."""
    return _serializer().dumps({"email": email})


def email_from_token(token: str | None) -> str | None:
    """The email a valid, unexpired, not signed-out token names; else None."""
    if not token or token in _revoked_tokens():
        return None
    try:
        data, issued = _serializer().loads(token, max_age=SESSION_SECONDS, return_timestamp=True)
    except BadSignature:  # also SignatureExpired
        return None
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str):
        return None
    # a password change (or disabling the account) ends the sessions signed in before it
    valid_after = store().sessions_valid_after(email)
    if valid_after is not None and issued.replace(tzinfo=None) < valid_after.replace(microsecond=0):
        return None
    return email


def browser_cookie() -> str | None:
    """The session cookie the browser sent when this Streamlit session started (a page load)."""
    return st.context.cookies.get(SESSION_COOKIE)


def _user_email() -> str | None:
    """The email ``st.login`` signed in, or None."""
    if not st.user.get("is_logged_in", False):
        return None
    email = st.user.get("email")
    return str(email) if email else None


def current_principal() -> Principal | None:
    """The signed-in user, or None when nobody is (the app then shows only the sign-in page)."""
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


def _forget_session(notice: str | None = None) -> None:
    """Sign this session out: revoke its token, clear everything it kept, drop the browser's cookie."""
    revoked = _revoked_tokens()
    now = time.time()
    for token, expires in list(revoked.items()):
        if expires < now:
            revoked.pop(token, None)
    cookie = browser_cookie()
    for token in {st.session_state.get(_TOKEN), cookie} - {None}:
        revoked[token] = now + SESSION_SECONDS
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[_IGNORED_COOKIE] = cookie
    st.session_state[_CLEAR_COOKIE] = True
    if notice:
        st.session_state[_NOTICE] = notice


def sign_out() -> None:
    """The sidebar's Sign out button (built-in accounts)."""
    _forget_session("You are signed out.")


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
    """The sidebar's footer: who is signed in, and the sign-out button."""
    sidebar = st.sidebar
    # plain HTML: markdown would turn the address into a mailto link
    sidebar.html(f'<div style="font-size: 0.875rem; opacity: 0.7">Signed in as <b>{html.escape(principal.email)}</b> '
                 f"({principal.role})</div>")
    if oidc_enabled():
        if sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
            st.logout()
    else:
        sidebar.button("Sign out", icon=":material/logout:", key="sign_out", on_click=sign_out)
        sync_cookie(sidebar)


def sign_in_pages() -> list[Any]:
    """What a signed-out visitor gets: the sign-in screen, at every page's address (so that
    after signing in they land on the page they asked for, if their role may open it)."""
    return [
        st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path=key, default=(index == 0))
        for index, key in enumerate(PAGES)
    ]


def sign_in_page() -> None:
    """The only screen a signed-out visitor sees."""
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
        elif not store().has_admin():
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
            st.error(md(error), icon=":material/lock:")
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
               "accounts (or use `salesplan user add EMAIL --role admin` on the server).")
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
    if not store().has_admin():
        _first_admin_form(email)
        return
    st.error(f"There is no salesplan account for {email_text(email)} (or it is disabled). Ask an admin to add it; "
             "they can do so on the command line with `salesplan user add`.", icon=":material/person_off:")
    st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="oidc_sign_out")


@dataclass(frozen=True)
class PageSpec:
    key: str
    path: str
    title: str
    icon: str


PAGES: dict[str, PageSpec] = {
    spec.key: spec
    for spec in (
        PageSpec("my_plan", "pages/my_plan.py", "My plan", ":material/flag:"),
        PageSpec("plan", "pages/plan.py", "Plan", ":material/edit_note:"),
        PageSpec("upload", "pages/upload.py", "Upload actuals", ":material/upload_file:"),
        PageSpec("team", "pages/team.py", "Team overview", ":material/grid_view:"),
        PageSpec("watchlist", "pages/watchlist.py", "Watch list", ":material/notification_important:"),
        PageSpec("admin", "pages/admin.py", "Admin", ":material/settings:"),
    )
}

MENU: dict[str, tuple[str, ...]] = {
    "admin": ("my_plan", "plan", "upload", "team", "watchlist", "admin"),
    "leader": ("my_plan", "team", "watchlist"),
    "manager": ("my_plan", "plan", "upload", "team", "watchlist"),
    "rep": ("my_plan", "plan", "upload"),
}


def menu(principal: Principal) -> list[PageSpec]:
    """The pages this principal's role may open, in menu order."""
    return [PAGES[key] for key in MENU.get(principal.role, ())]


def pages_for(principal: Principal) -> list[Any]:
    """The st.navigation pages of a signed-in principal: their menu, plus every other page hidden
    from the menu, so that opening one by its address shows a refusal (see :func:`page`) instead
    of Streamlit's "page not found"."""
    allowed = menu(principal)
    others = [spec for key, spec in PAGES.items() if spec not in allowed]
    return [
        st.Page(spec.path, title=spec.title, icon=spec.icon, default=(index == 0),
                visibility="visible" if spec in allowed else "hidden")
        for index, spec in enumerate([*allowed, *others])
    ]


def may_open(principal: Principal, key: str) -> bool:
    return key in MENU.get(principal.role, ())


def mark_routed() -> None:
    """Called by app.py before it runs the chosen page (see :func:`page`)."""
    st.session_state["_routed"] = True


def page(key: str) -> Principal:
    """The first call of every page: makes sure the page runs under app.py's role-based navigation,
    refuses a page the role may not open (whether picked from the menu or typed as an address: it
    stops before reading anything), shows pending messages, and returns the principal.

    Streamlit treats an app whose entry script has a ``pages/`` folder beside it as a legacy
    multipage app until ``st.navigation`` runs once in the process: if the very first visitor
    opens ``/team`` directly, Streamlit runs ``pages/team.py`` without app.py (no menu by role, no
    wide layout) and stays in that mode. A page that finds itself started that way switches the
    process to ``st.navigation`` mode and reruns, which goes through app.py. (AppTest starts every
    run in that legacy mode: its runs go through app.py, and its sign-in, the same way.) The mark
    app.py leaves is used up by the page, so every run of a page needs a run of app.py before it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    routed = st.session_state.pop("_routed", False)
    if PagesManager.uses_pages_directory or not routed:
        PagesManager.uses_pages_directory = False
        st.rerun()
    principal = current_principal()
    if principal is None:  # app.py shows signed-out visitors nothing else; a page never does either
        sign_in_page()
        st.stop()
    st.title(PAGES[key].title)
    if not may_open(principal, key):
        st.error(f"Not allowed: the {PAGES[key].title} page is not available to the {principal.role} role.",
                 icon=":material/block:")
        home = menu(principal)
        if home:
            st.page_link(home[0].path, label=f"Go to {home[0].title}", icon=home[0].icon)
        st.stop()
    show_flash()
    return principal


def may_set_targets(principal: Principal) -> bool:
    return principal.role in ("admin", "manager")


def may_write(principal: Principal) -> bool:
    return principal.role in ("admin", "manager", "rep")


def go_to(key: str, *, rep: str | None = None) -> None:
    """Switch to another page, carrying the chosen rep in the URL (``?rep=R004``)."""
    st.switch_page(PAGES[key].path, query_params={"rep": rep} if rep else None)


def pick_rep(principal: Principal, reps: pd.DataFrame, container: Any = None, *,
             prefer: list[str] | None = None, key: str = "rep_picker", label: str = "Rep") -> str | None:
    """The rep a page is about. A rep always sees themself; others pick one. The choice follows the
    URL (``?rep=R004``, set by drill-downs) and is kept across pages for the session."""
    container = container or st
    ids = reps["rep_id"].tolist()
    if not ids:
        return None
    if principal.role == "rep":
        return principal.rep_id if principal.rep_id in ids else None
    wanted = st.query_params.get("rep")
    if wanted not in ids:
        wanted = st.session_state.get("selected_rep")
    if wanted not in ids:
        wanted = principal.rep_id if principal.rep_id in ids else next(iter(prefer or []), ids[0])
    if st.session_state.get(key) != wanted:
        st.session_state[key] = wanted
    st.session_state["selected_rep"] = wanted
    return container.selectbox(label, ids, key=key, format_func=rep_label(reps), on_change=_remember_rep, args=(key,))


def _remember_rep(key: str) -> None:
    st.session_state["selected_rep"] = st.session_state[key]
    st.query_params["rep"] = st.session_state[key]


def today() -> date:
    """The default as-of date: today, or ``$SALESPLAN_TODAY`` (ISO) to pin demos and tests."""
    pinned = os.environ.get("SALESPLAN_TODAY")
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            pass
    return date.today()


# ============================================================================ the store and cached reads


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    return Store.open(path)


def store() -> Store:
    """The process-wide store of the database named by $SALESPLAN_DB (else data/salesplan.duckdb)."""
    try:
        return _open_store(str(resolve_db_path()))
    except DatabaseLocked as error:
        st.error(md(error))
        st.stop()
    except SalesplanError as error:
        st.error(f"The database cannot be opened: {md(error)}")
        st.stop()
    raise AssertionError("unreachable")


def _key() -> tuple[Store, str, int]:
    the_store = store()
    return the_store, the_store.path, the_store.data_version()


@st.cache_data(show_spinner=False, max_entries=16)
def _inputs(_store: Store, db: str, version: int, principal: Principal) -> EngineInputs:
    return _store.engine_inputs(principal)


@st.cache_data(show_spinner=False, max_entries=128)
def _report(_store: Store, db: str, version: int, principal: Principal, as_of: date, fy: int | None,
            level: str, metric: str, period: str) -> pd.DataFrame:
    inputs = _inputs(_store, db, version, principal)
    return engine.report(inputs, as_of, fy=fy, level=level, metric=metric, period=period)


@st.cache_data(show_spinner=False, max_entries=64)
def _watchlist(_store: Store, db: str, version: int, principal: Principal, as_of: date, metric: str) -> pd.DataFrame:
    return engine.watchlist(_inputs(_store, db, version, principal), as_of, metric=metric)


@st.cache_data(show_spinner=False, max_entries=64)
def _history(_store: Store, db: str, version: int, principal: Principal, owner_type: str, owner_id: str,
             fy: int, metric: str) -> pd.DataFrame:
    inputs = _inputs(_store, db, version, principal)
    _, fy_end = fiscal_year_bounds(fy, inputs.settings.fy_start_month)
    return engine.status_history(inputs, fy_end, owner_type, owner_id, fy=fy, metric=metric)


@st.cache_data(show_spinner=False, max_entries=32)
def _allocation(_store: Store, db: str, version: int, principal: Principal, fy: int, metric: str) -> pd.DataFrame:
    return engine.allocation(_inputs(_store, db, version, principal), fy, metric)


@st.cache_data(show_spinner=False, max_entries=256)
def _read(_store: Store, db: str, version: int, principal: Principal, method: str, *args: Any) -> Any:
    return getattr(_store, method)(principal, *args)


@st.cache_data(show_spinner=False, max_entries=16)
def _settings(_store: Store, db: str, version: int) -> Any:
    return _store.settings()


def report(principal: Principal, as_of: date, *, fy: int | None = None, level: str = "rep",
           metric: str = "revenue", period: str = "year") -> pd.DataFrame:
    """engine.report for what the principal may see (cached until the next write)."""
    # the FY the engine would pick, so that fy=None and the explicit year share one cache entry
    fy = fiscal_year_of(as_of, settings().fy_start_month) if fy is None else int(fy)
    the_store, db, version = _key()
    return _report(the_store, db, version, principal, as_of, fy, level, metric, period)


def watchlist(principal: Principal, as_of: date, *, metric: str = "revenue") -> pd.DataFrame:
    the_store, db, version = _key()
    return _watchlist(the_store, db, version, principal, as_of, metric)


def year_curve(principal: Principal, owner_type: str, owner_id: str, fy: int, metric: str) -> pd.DataFrame:
    """engine.status_history at every Sunday of the whole FY: expected_to_date there is the
    cumulative target with its seasonality; actual_to_date is meaningful up to the as-of date."""
    the_store, db, version = _key()
    return _history(the_store, db, version, principal, owner_type, owner_id, fy, metric)


def allocation(principal: Principal, fy: int, metric: str) -> pd.DataFrame:
    the_store, db, version = _key()
    return _allocation(the_store, db, version, principal, fy, metric)


def read(principal: Principal, method: str, *args: Any) -> Any:
    """A cached ``store.<method>(principal, *args)`` (reps, batches, plan, targets, ...)."""
    the_store, db, version = _key()
    return _read(the_store, db, version, principal, method, *args)


def settings() -> Any:
    the_store, db, version = _key()
    return _settings(the_store, db, version)


def fy_of(as_of: date) -> int:
    return fiscal_year_of(as_of, settings().fy_start_month)


# ============================================================================ writes and messages


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Run a store write; show a refusal in words instead of a traceback. Returns (ok, result)."""
    try:
        return True, action(*args, **kwargs)
    except BadInput as error:
        show_problems(error)
    except NotAllowed as error:
        st.error(f"Not allowed: {md(error)}")
    except SalesplanError as error:
        st.error(md(error))
    return False, None


def show_problems(error: BadInput, *, title: str = "Nothing was changed") -> None:
    if len(error.problems) == 1:
        problem = error.problems[0]
        where = f" ({md(problem.column)})" if problem.column else ""
        st.error(f"{title}: {md(problem.reason)}{where}")
        return
    st.error(f"{title}: {len(error.problems)} problems.")
    st.dataframe(problems_frame(error), hide_index=True)


def table(frame: pd.DataFrame, **kwargs: Any) -> Any:
    """st.dataframe without the index and with a dash for empty cells."""
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("placeholder", "—")
    return st.dataframe(frame, **kwargs)


problems_frame = upload_flow.problems_frame


def flash(message: str) -> None:
    """A success message shown once, after the rerun that a write triggers."""
    st.session_state.setdefault("_flash", []).append(message)


def show_flash() -> None:
    slot = st.container()  # always present, so the elements below keep their place (and state)
    for message in st.session_state.pop("_flash", []):
        slot.success(message, icon=":material/check_circle:")


# ============================================================================ formatting

STATUS_LABEL = {
    "achieved": "Achieved",
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "too_late": "Too late",
    "not_started": "Not started",
}
STATUS_COLOR = {
    "achieved": "green",
    "on_track": "green",
    "at_risk": "orange",
    "off_track": "red",
    "too_late": "violet",
    "not_started": "gray",
}
STATUS_ICON = {
    "achieved": ":material/emoji_events:",
    "on_track": ":material/check_circle:",
    "at_risk": ":material/warning:",
    "off_track": ":material/trending_down:",
    "too_late": ":material/block:",
    "not_started": ":material/schedule:",
}
METRIC_LABEL = {"revenue": "Revenue", "profit": "Profit"}
LEVEL_LABEL = {"rep": "Reps", "territory": "Territories", "region": "Regions", "org": "Whole organisation"}


def is_empty(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def money(value: Any, decimals: int = 0) -> str:
    if is_empty(value):
        return "—"
    return f"{float(value):,.{decimals}f}"


def pct(value: Any, decimals: int = 1) -> str:
    if is_empty(value):
        return "—"
    return f"{float(value) * 100:,.{decimals}f} %"


def times(value: Any) -> str:
    if is_empty(value):
        return "—"
    return f"{float(value):,.2f}×"


def day_text(value: Any) -> str:
    """A date in words (``Thu 24 Dec 2026``)."""
    if is_empty(value):
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%a} {value.day} {value:%b %Y}"


def month_label(value: Any, *, short: bool = False) -> str:
    value = pd.Timestamp(value)
    return f"{value:%b}" if short else f"{value:%b %Y}"


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for on-screen tables: money rounded to whole units, ratios to 0.1 %. Exports use the
    unrounded engine frame."""
    out = frame.copy()
    for column in engine.MONEY_COLUMNS:
        if column in out.columns:
            out[column] = out[column].round(0)
    for column in (*engine.RATIO_COLUMNS, "acceleration"):
        if column in out.columns:
            out[column] = out[column].round(3 if column != "acceleration" else 2)
    return out


def status_label(status: Any) -> str:
    return STATUS_LABEL.get(str(status), str(status)) if not is_empty(status) else "—"


def status_badge(status: str) -> None:
    st.badge(status_label(status), icon=STATUS_ICON.get(status), color=STATUS_COLOR.get(status, "gray"))  # type: ignore[arg-type]


def ponr_text(value: Any) -> str:
    if is_empty(value):
        return "—"
    if value == engine.PASSED:
        return "passed"
    return day_text(value)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """User text made inert inside Streamlit markdown (no links, images, emphasis, HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", "" if is_empty(text) else str(text))


def plotly_text(text: Any) -> str:
    """User text made inert inside plotly labels, hover texts and axis ticks, which render a subset
    of HTML (``<a href>``, ``<b>``, ``<br>``...): the tags are shown as typed."""
    return html.escape("" if is_empty(text) else str(text), quote=False)


def rep_label(reps: pd.DataFrame) -> Callable[[str], str]:
    names = dict(zip(reps["rep_id"], reps["name"]))
    return lambda rep_id: f"{names.get(rep_id, rep_id)} ({rep_id})"


# ============================================================================ upload previews


@st.cache_data(show_spinner=False, max_entries=8)
def _preview(kind: str, data: bytes, file_name: str, column_map: tuple[tuple[str, str], ...],
             limit_mb: int) -> upload_flow.Preview:
    return upload_flow.preview(kind, data, file_name, dict(column_map) or None, limit_bytes=limit_mb * 1_048_576)


def preview(kind: str, data: bytes, file_name: str, column_map: dict[str, str] | None) -> upload_flow.Preview:
    """upload_flow.preview, cached per file and column map (raises BadInput for an unreadable file)."""
    return _preview(kind, data, file_name, tuple(sorted((column_map or {}).items())), settings().upload_limit_mb)


# ============================================================================ exports

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def _export_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v
            )
    return neutralise_frame(out)


WATCHLIST_PAGE_SIZE = 25  # cards per page of the watch list


def reps_or_stop(principal) -> pd.DataFrame:
    """The reps this principal may see; with none yet, the empty state that says what to do, and stop."""
    reps = read(principal, "reps")
    if reps.empty:
        st.info("No reps yet. An admin imports the reps file on the **Admin** page (or runs `salesplan demo`).")
        st.stop()
    return reps


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return _export_ready(frame).to_csv(index=False).encode("utf-8")


def excel_bytes(frame: pd.DataFrame, sheet: str = "salesplan") -> bytes:
    buffer = io.BytesIO()
    out = _export_ready(frame)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_localize(None)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


# ============================================================================ charts

COLORS = {
    "target": "#8c8c8c",
    "plan": "#1f77b4",
    "actual": "#2ca02c",
    "linear": "#ff7f0e",
    "seasonal": "#9467bd",
    "required": "#d62728",
}


def burnup_figure(curve: pd.DataFrame, row: pd.Series, metric: str) -> go.Figure:
    """Cumulative plan (with its seasonality), cumulative actuals, both projections and the required
    path, from engine numbers only: ``curve`` is :func:`year_curve`, ``row`` the owner's year row."""
    start, end = row["period_start"], row["period_end"]
    as_of = row["as_of"]
    e = min(as_of, end)
    target = float(row["target"])
    fig = go.Figure()
    plan_x = [start, *curve["week_end"].tolist(), end]
    plan_y = [0.0, *curve["expected_to_date"].astype(float).tolist(), target]
    fig.add_trace(go.Scatter(x=plan_x, y=plan_y, name="Plan (cumulative target)", mode="lines",
                             line={"color": COLORS["plan"], "width": 2}))
    past = curve[curve["week_end"] <= e]
    actual_x = [start, *past["week_end"].tolist(), e]
    actual_y = [0.0, *past["actual_to_date"].astype(float).tolist(), float(row["actual_to_date"])]
    fig.add_trace(go.Scatter(x=actual_x, y=actual_y, name="Actual (cumulative)", mode="lines",
                             line={"color": COLORS["actual"], "width": 3}))
    A = float(row["actual_to_date"])
    if e < end:
        for key, name, color, dash in (
            ("projection_linear", "Projection at current run-rate", COLORS["linear"], "dash"),
            ("projection_seasonal", "Projection at current pace vs plan", COLORS["seasonal"], "dot"),
        ):
            if not is_empty(row[key]):
                fig.add_trace(go.Scatter(x=[e, end], y=[A, float(row[key])], name=name, mode="lines",
                                         line={"color": color, "dash": dash, "width": 2}))
        if target > A:
            fig.add_trace(go.Scatter(x=[e, end], y=[A, target], name="Required path to target", mode="lines",
                                     line={"color": COLORS["required"], "dash": "dashdot", "width": 2}))
    fig.add_hline(y=target, line={"color": COLORS["target"], "dash": "dot", "width": 1},
                  annotation_text=f"Target {money(target)}", annotation_position="top left")
    fig.add_vline(x=pd.Timestamp(e).timestamp() * 1000, line={"color": "#555", "width": 1, "dash": "dot"},
                  annotation_text=f"as of {day_text(e)}", annotation_position="top left")
    ponr = row["point_of_no_return"]
    if not is_empty(ponr) and ponr != engine.PASSED:
        fig.add_vline(x=pd.Timestamp(ponr).timestamp() * 1000, line={"color": COLORS["required"], "width": 1},
                      annotation_text="point of no return", annotation_position="top right")
    fig.update_layout(
        title=f"{METRIC_LABEL[metric]}: burn-up for {row['period']}",
        height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.15}, hovermode="x unified",
        yaxis={"title": METRIC_LABEL[metric], "tickformat": ",.0f", "rangemode": "tozero"},
    )
    return fig


def monthly_bars_figure(months: pd.DataFrame, metric: str) -> go.Figure:
    """Target vs actual per fiscal month (engine.report with period='month')."""
    labels = [month_label(s) for s in months["period_start"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=months["target"], name="Target", marker_color="#c7d7ea"))
    fig.add_trace(go.Bar(x=labels, y=months["actual_to_date"], name="Actual", marker_color=COLORS["actual"],
                         customdata=[[pct(v)] for v in months["attainment"]],
                         hovertemplate="%{x}: %{y:,.0f} (%{customdata[0]} of target)<extra>Actual</extra>"))
    fig.update_layout(barmode="group", title=f"{METRIC_LABEL[metric]}: target vs actual by month", height=340,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2},
                      yaxis={"tickformat": ",.0f"})
    return fig


HEAT_MIN, HEAT_MAX = 0.5, 1.5


def heat_scale(at_risk: float) -> list[list[Any]]:
    """Red below the at-risk band, amber inside it, green from 100 % (the statuses' colours)."""
    risk = min(max((at_risk - HEAT_MIN) / (HEAT_MAX - HEAT_MIN), 0.001), 0.499)
    return [[0.0, "#a50f15"], [risk - 0.001, "#f08060"], [risk, "#fdd97a"], [0.499, "#fff1c1"],
            [0.5, "#d9f0d3"], [1.0, "#1b7837"]]


def heatmap_figure(grid: pd.DataFrame, value_label: str, title: str, at_risk: float = 0.9) -> go.Figure:
    """Reps x months heatmap. ``grid`` has columns region, territory, rep_id, name, then one column per
    month label plus 'YTD', holding engine ratios (NaN = empty)."""
    value_columns = [c for c in grid.columns if c not in ("region", "territory", "rep_id", "name")]
    # user text on the axis and in the hover: plotly renders a subset of HTML (links included)
    y = [
        [plotly_text(f"{r} · {t}") for r, t in zip(grid["region"].fillna("—"), grid["territory"].fillna("—"))],
        [plotly_text(name) for name in grid["name"]],
    ]
    z = grid[value_columns].astype(float).to_numpy()
    text = [[pct(v, 0) if not is_empty(v) else "" for v in line] for line in z]
    fig = go.Figure(go.Heatmap(
        x=value_columns, y=y, z=z, text=text, texttemplate="%{text}", textfont={"size": 11},
        colorscale=heat_scale(at_risk), zmin=HEAT_MIN, zmax=HEAT_MAX, xgap=2, ygap=2,
        colorbar={"title": {"text": value_label, "side": "right"}, "tickformat": ".0%"},
        hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
    ))
    fig.update_layout(
        height=max(320, 28 * len(grid) + 130), margin={"l": 10, "r": 10, "t": 80, "b": 10},
        yaxis={"autorange": "reversed", "type": "multicategory"}, xaxis={"side": "top", "tickangle": 0},
        title={"text": title},
    )
    return fig


# ============================================================================ printable plan


def plan_html(rep_name: str, rep_id: str, fy: int, plan: dict[str, Any], row: pd.Series | None, metric: str) -> str:
    """The whole plan as one print-friendly HTML page; every user text is escaped."""
    e = html.escape

    def table(frame: pd.DataFrame, columns: dict[str, str]) -> str:
        if frame.empty:
            return "<p class='empty'>None yet.</p>"
        head = "".join(f"<th>{e(label)}</th>" for label in columns.values())
        body = []
        for _, item in frame.iterrows():
            cells = []
            for key in columns:
                value = item[key]
                if key in ("revenue_at_risk", "expected_impact"):
                    text = money(value)
                elif isinstance(value, (date, datetime, pd.Timestamp)):
                    text = day_text(pd.Timestamp(value).date())
                else:
                    text = "" if is_empty(value) else str(value)
                cells.append(f"<td>{e(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    figures = ""
    if row is not None:
        items = [
            ("Status", status_label(row["status"])),
            ("Target", money(row["target"])),
            ("Actual to date", money(row["actual_to_date"])),
            ("Expected to date", money(row["expected_to_date"])),
            ("Attainment", pct(row["attainment"])),
            ("Pace", pct(row["pace"])),
            ("Gap to date", money(row["gap_to_date"])),
            ("Required per working day", money(row["required_per_working_day"])),
            ("Current per working day", money(row["current_per_working_day"])),
            ("Point of no return", ponr_text(row["point_of_no_return"])),
            ("Action coverage", pct(row["action_coverage"])),
        ]
        figures = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items) + "</dl>"
        figures = f"<h2>{e(METRIC_LABEL[metric])} as of {e(day_text(row['as_of']))}</h2>{figures}"
    obstacles = plan["obstacles"]
    actions = plan["actions"].copy()
    if not actions.empty:
        names = dict(zip(obstacles["obstacle_id"], obstacles["description"])) if not obstacles.empty else {}
        actions["answers"] = actions["obstacle_id"].map(lambda i: names.get(i, "") if not is_empty(i) else "")
        actions["status"] = actions["status"].str.replace("_", " ")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(f"Plan FY{fy} - {rep_name}")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }}
h1 {{ font-size: 1.5em; margin-bottom: 0; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }}
.meta {{ color: #555; }} table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; font-size: .92em; }}
th {{ background: #f2f2f2; }} dl {{ display: grid; grid-template-columns: max-content auto; gap: 2px 1.5em; }}
dt {{ color: #555; }} dd {{ margin: 0; font-weight: 600; }} .summary {{ white-space: pre-wrap; }}
.empty {{ color: #777; font-style: italic; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-after: avoid; }} tr {{ break-inside: avoid; }} }}
</style></head><body>
<h1>{e(rep_name)} ({e(rep_id)}): target achievement plan FY{fy}</h1>
<p class="meta">Plan status: {e(str(plan["status"]))}. Printed {e(day_text(today()))}.</p>
{figures}
<h2>Summary</h2><p class="summary">{e(plan["summary"] or "") or "<span class='empty'>No summary yet.</span>"}</p>
<h2>Obstacles</h2>{table(obstacles, {"description": "Obstacle", "likelihood": "Likelihood (1-5)", "revenue_at_risk": "Revenue at risk"})}
<h2>Actions</h2>{table(actions, {"description": "Action", "owner": "Owner", "due_date": "Due", "status": "Status", "expected_impact": "Expected impact", "answers": "Answers obstacle"}) if not actions.empty else "<p class='empty'>None yet.</p>"}
<h2>Check-ins</h2>{table(plan["checkins"], {"checkin_date": "Date", "author": "Author", "note": "Note"})}
</body></html>
"""
