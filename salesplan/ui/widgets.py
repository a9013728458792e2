"""Small pieces every page uses: a store write that reports refusals in words, problem lists,
tables, one-shot success messages and the empty state of an organisation without reps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from salesplan import upload_flow
from salesplan.errors import BadInput, NotAllowed, SalesplanError
from salesplan.principal import Principal
from salesplan.ui.data import plan_write, read
from salesplan.ui.formatting import md, money_columns


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


def attempt_plan(principal: Principal, rep_id: str, fy: int, action: Callable[..., Any], *args: Any,
                 **kwargs: Any) -> tuple[bool, Any]:
    """:func:`attempt` of a write of the FY ``fy`` plan of ``rep_id`` (header, obstacles, actions,
    check-ins: ``action(*args, **kwargs)``), which keeps the engine's cached numbers when the write
    did not change them (salesplan.ui.data.plan_write). Returns (ok, result)."""
    return attempt(plan_write, principal, rep_id, fy, lambda: action(*args, **kwargs))


def show_problems(error: BadInput | pd.DataFrame, *, title: str = "Nothing was changed") -> None:
    """A refusal in words: one problem in a sentence, several as a table (line, column, reason).
    ``error`` is the BadInput, or its :func:`problems_frame`."""
    frame = error if isinstance(error, pd.DataFrame) else problems_frame(error)
    if len(frame) == 1:
        column, reason = frame["column"].iloc[0], frame["reason"].iloc[0]
        where = "" if pd.isna(column) or not column else f" ({md(column)})"
        st.error(f"{title}: {md(reason)}{where}")
        return
    st.error(f"{title}: {len(frame)} problems.")
    st.dataframe(frame, hide_index=True)


def table(frame: pd.DataFrame, **kwargs: Any) -> Any:
    """st.dataframe without the index, with a dash for empty cells and the base currency's symbol
    in the headers of money columns."""
    if "column_config" in kwargs:
        kwargs["column_config"] = money_columns(kwargs["column_config"])
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


WATCHLIST_PAGE_SIZE = 25  # cards per page of the watch list


def reps_or_stop(principal: Principal) -> pd.DataFrame:
    """The reps this principal may see; with none yet, the empty state that says what to do, and stop."""
    reps = read(principal, "reps")
    if reps.empty:
        st.info("No reps yet. An admin imports the reps file on the **Admin** page.")
        st.stop()
    return reps
