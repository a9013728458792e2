"""The dashboard's side of e-mail (docs/notifications.md): starting the background sender of the
embedded deployment, and the reads of the Admin page's e-mail section.

The sender is started from app.py on every run; ``scheduler.start_background`` returns the running
one after the first, and starts nothing on PostgreSQL (a timer runs ``salesplan digest --send``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from datetime import date, timedelta
from typing import Any
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from salesplan.currency import CODES
from salesplan.errors import BadInput, NotAllowed, SalesplanError
from salesplan.notify import scheduler
from salesplan.principal import Principal
from salesplan.ui.data import settings, store
from salesplan.ui.formatting import md
from salesplan.ui.widgets import show_problems

SCHEDULER_SWITCH = "SALESPLAN_MAIL_SCHEDULER"  # "off": this process never sends (cron does, or tests)


@functools.cache
def _installed_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zones(current: str) -> list[str]:
    """The time zones to choose from, sorted: the installed ones (read once per process: the
    listing walks the zone files, ~50 ms) and ``current``."""
    return sorted(_installed_zones() | {current})


def mail_configured(values: object) -> bool:
    """Whether the settings name a mail server and a sender, the least a digest needs."""
    return bool(getattr(values, "smtp_host", "") and getattr(values, "mail_from", ""))


def start_mail_scheduler() -> scheduler.DigestScheduler | None:
    """Start the process's digest sender once the mail settings are set; None when it does not run.

    Nothing starts while the server or the sender is missing (a thread with nothing to send would
    only wake up every minute), nor when ``$SALESPLAN_MAIL_SCHEDULER`` is ``off`` (a cron job sends
    instead, or a test must not send). Saving the settings on the Admin page reruns app.py, which
    starts it then. The thread uses this process's store and never closes it.
    """
    if os.environ.get(SCHEDULER_SWITCH, "").strip().lower() == "off" or not mail_configured(settings()):
        return None
    the_store = store()
    return scheduler.start_background(lambda: the_store)


def sender_state(values: object) -> str:
    """One sentence for the Admin page: whether and how this deployment sends the e-mails."""
    if not mail_configured(values):
        return ("E-mail is off: no digest or alert is sent until the mail server and the sender are set below. "
                "Everyone's dashboard works as before.")
    if getattr(store(), "dialect", "duckdb") != "duckdb":
        return ("On PostgreSQL the dashboard does not send: the digest job scheduled on the server does "
                "(docs/notifications.md).")
    if os.environ.get(SCHEDULER_SWITCH, "").strip().lower() == "off":
        return ("This dashboard process does not send ($SALESPLAN_MAIL_SCHEDULER is off): "
                "the digest job scheduled on the server does (docs/notifications.md).")
    sender = start_mail_scheduler()  # the running one (app.py started it)
    problem = f" The last pass failed: {sender.last_error}" if sender and sender.last_error else ""
    return ("The dashboard sends the weekly digest and the day's alerts at the digest hour "
            "(in the organisation's time zone)." + problem)


def stage_rows(values: object, deals: pd.DataFrame) -> pd.DataFrame:
    """The stage probabilities to edit: (stage, percent), the saved ones first, then the stages of
    the imported deals that have none (percent empty), each stage once (matched ignoring case and
    spaces, as the pipeline matches them)."""
    saved = list(getattr(values, "stage_probabilities", ()))
    known = {_stage_key(stage) for stage, _ in saved}
    rows = [{"stage": stage, "percent": round(p * 100, 4)} for stage, p in saved]
    seen = sorted({str(s) for s in deals.get("stage", pd.Series(dtype=object)).dropna() if str(s).strip()})
    for stage in seen:
        if _stage_key(stage) not in known:
            known.add(_stage_key(stage))
            rows.append({"stage": stage, "percent": None})
    return pd.DataFrame(rows, columns=["stage", "percent"]).astype({"stage": object, "percent": "Float64"})


def stage_map(edited: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The edited table as the setting's "STAGE=P%" texts (the settings check the numbers and name
    a stage given twice), and the stages left without a probability (they are not saved: a deal in
    such a stage needs a probability of its own, as ``--stage-probability STAGE=`` removes one).
    Rows without a stage are dropped."""
    stages: list[str] = []
    unset: list[str] = []
    for row in edited.itertuples():
        stage = "" if pd.isna(row.stage) else str(row.stage).strip()
        if not stage:
            continue
        if pd.isna(row.percent):
            unset.append(stage)
        else:
            stages.append(f"{stage}={float(row.percent)}%")
    return stages, unset


def _stage_key(stage: str) -> str:
    return " ".join(str(stage).split()).lower()


# the settings' refusals name the command line's options; the Admin page names its own fields
SETTING_LABELS = {
    "--timezone": "Time zone", "--digest-day": "Digest day", "--digest-hour": "Digest hour",
    "--mail-from": "Sender", "--smtp-host": "Mail server", "--smtp-port": "Port", "--smtp-user": "Server account",
    "--smtp-starttls": "STARTTLS", "--dashboard-url": "Dashboard address", "--stage-probability": "Stage probabilities",
    "--base-currency": "Base currency",
}


def save_settings(principal: Principal, **changes: Any) -> bool:
    """``store.save_settings`` from an Admin form: True when saved. A refusal is shown in words, the
    settings' problems with the form's field names; nothing is saved then."""
    try:
        store().save_settings(principal, **changes)
    except BadInput as error:
        show_problems(BadInput([dataclasses.replace(problem, reason=_page_words(problem.reason))
                                for problem in error.problems]))
        return False
    except NotAllowed as error:
        st.error(f"Not allowed: {md(error)}")
        return False
    except SalesplanError as error:  # DatabaseLocked
        st.error(md(error))
        return False
    return True


def _page_words(reason: str) -> str:
    for option, label in SETTING_LABELS.items():
        reason = reason.replace(f"{option}:", f"{label}:")
    return reason


# ---------------------------------------------------------------- currencies (docs/currencies.md)
def currency_choices(base: str) -> list[str]:
    """The codes a rate may be set for: every ISO 4217 code but the base currency, sorted."""
    return sorted(CODES - {base})


def rates_table(rates: pd.DataFrame) -> pd.DataFrame:
    """``store.rates`` as shown: month (YYYY-MM), currency, rate, batch_id, newest month first."""
    if rates.empty:
        return pd.DataFrame(columns=["month", "currency", "rate", "batch_id"])
    shown = rates.assign(month=pd.to_datetime(rates["month"]).dt.strftime("%Y-%m"))
    return shown.sort_values(["month", "currency"], ascending=[False, True])[
        ["month", "currency", "rate", "batch_id"]].reset_index(drop=True)


def rates_example(base: str, today: date) -> str:
    """A small rates file for the download button: two currencies for this month and the last,
    in units of ``base`` (the numbers are placeholders to overwrite)."""
    this = today.replace(day=1)
    last = (this - timedelta(days=1)).replace(day=1)
    others = [code for code in ("USD", "EUR", "GBP") if code != base][:2]
    rows = [f"{code},{month:%Y-%m},1.0" for code in others for month in (last, this)]
    return "currency,month,rate\n" + "\n".join(rows) + "\n"


def rate_batches(batches: pd.DataFrame) -> dict[int, str]:
    """The rates batches that can still be undone, newest first, with their labels."""
    live = batches[(batches["kind"] == "rates") & batches["reverted_at"].isna()].sort_values("batch_id", ascending=False)
    return {
        int(row.batch_id): f"Batch {row.batch_id}: " + ("the editor" if pd.isna(row.file_name) or not row.file_name
                                                       else str(row.file_name))
        + f" ({int(row.rows_inserted)} new, {int(row.rows_updated)} changed) by {row.uploaded_by}"
        for row in live.itertuples()
    }


# ---------------------------------------------------------------- people over time (docs/people.md)
ALWAYS = date(1900, 1, 1)  # a rep's first history row: in effect since always


def history_rows(history: pd.DataFrame) -> pd.DataFrame:
    """``store.rep_history`` of one rep as shown: from (a day, or "since always"), until (the
    last day, the day before the next row; empty while in effect), territory, manager."""
    frame = history.sort_values("effective_from")
    since = pd.to_datetime(frame["effective_from"]).dt.date
    until = pd.to_datetime(frame["effective_to"]) - pd.Timedelta(days=1)
    return pd.DataFrame({
        "from": [("since always" if day == ALWAYS else day.isoformat()) for day in since],
        "until": [None if pd.isna(day) else day.date().isoformat() for day in until],
        "territory": frame["territory"].tolist(),
        "manager": frame["manager"].tolist(),
    })


def history_labels(history: pd.DataFrame) -> dict[date, str]:
    """Each history row's first day with a label for the delete picker, newest first."""
    frame = history.sort_values("effective_from", ascending=False)
    labels: dict[date, str] = {}
    for since, territory, manager in zip(frame["effective_from"], frame["territory"], frame["manager"]):
        day = pd.Timestamp(since).date()
        when = "since always" if day == ALWAYS else f"from {day.isoformat()}"
        labels[day] = f"{when}: {_or(territory, 'no territory')}, manager {_or(manager, 'none')}"
    return labels


def _or(value: object, empty: str) -> str:
    """A history cell's text; ``empty`` for NULL (NaN or None in the frame)."""
    return empty if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
