"""Which pages a role gets, the guard every page starts with, moving between pages, and the rep a
page is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from salesplan import policy
from salesplan.principal import Principal
from salesplan.ui.auth import current_principal, sign_in_page
from salesplan.ui.formatting import rep_label
from salesplan.ui.widgets import show_flash


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
        PageSpec("upload", "pages/upload.py", "Upload", ":material/upload_file:"),
        PageSpec("team", "pages/team.py", "Team overview", ":material/grid_view:"),
        PageSpec("watchlist", "pages/watchlist.py", "Watch list", ":material/notification_important:"),
        PageSpec("trust", "pages/trust.py", "Warning track record", ":material/fact_check:"),
        PageSpec("admin", "pages/admin.py", "Admin", ":material/settings:"),
    )
}

MENU: dict[str, tuple[str, ...]] = policy.PAGES_BY_ROLE  # the pages of each role: salesplan.policy decides


def menu(principal: Principal) -> list[PageSpec]:
    """The pages this principal's role may open, in menu order (:func:`salesplan.policy.pages`)."""
    return [PAGES[key] for key in policy.pages(principal)]


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
    return policy.may(principal, "open_page", page=key)


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
    """Whether the role ever sets targets (which ones: ``policy.may(..., "set_targets", ...)``)."""
    return principal.role in policy.RULES["set_targets"].roles


def may_write(principal: Principal) -> bool:
    """Whether the role ever changes data (uploads, plans); a leader only reads."""
    return principal.role in policy.RULES["upload_actuals"].roles


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
    if policy.read_scope(principal) == "self":
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


def sign_in_pages() -> list[Any]:
    """What a signed-out visitor gets: the sign-in screen, at every page's address (so that
    after signing in they land on the page they asked for, if their role may open it)."""
    return [
        st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path=key, default=(index == 0))
        for index, key in enumerate(PAGES)
    ]
