"""What a digest or an alert says, per role, computed from what the recipient may see.

Every number comes from :func:`salesplan.engine.report` / :func:`salesplan.engine.watchlist` run on
``store.engine_inputs(principal)`` of the recipient's own principal, so a message never holds a
number the recipient's dashboard would not show for the same as-of date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from salesplan import engine
from salesplan.calendar import calendar_for, fiscal_year_of
from salesplan.currency import symbol_of
from salesplan.inputs import EngineInputs
from salesplan.notify.numbers import ALERT_DAYS_TO_ACT, Numbers, Row, empty
from salesplan.principal import Principal
from salesplan.storage.base import OPEN_ACTION_STATUSES

ACTION_HORIZON = 10  # working days: actions due this soon (or overdue) are listed
NO_UPLOAD_DAYS = 14
WATCHLIST_TOP = 10
PAGE = {"rep": "my_plan", "team": "team", "watchlist": "watchlist"}


# --------------------------------------------------------------------------- the content model
@dataclass
class Item:
    """One entry of a section: a headline, optional detail lines and an optional link."""

    text: str
    details: list[str] = field(default_factory=list)
    link: str | None = None
    tone: str = ""  # a status, used for colour in HTML


@dataclass
class Section:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)  # label -> value rows
    items: list[Item] = field(default_factory=list)
    note: str = ""
    tone: str = ""


@dataclass
class Content:
    """A message before rendering: who, why, and what it says."""

    recipient: str
    kind: str  # 'digest' or 'alert'
    owner_key: str  # '' for a digest
    subject: str
    heading: str
    intro: str
    sections: list[Section]
    as_of: dt.date
    link: str | None = None
    snapshot: dict[str, Any] | None = None


# --------------------------------------------------------------------------- formatting
def money(value: Any, currency: str = "") -> str:
    """Whole units with the symbol of ``currency`` (the base currency, docs/currencies.md): "€1,234",
    "-$50", "CHF 1,234"; the plain number for none (a single-currency organisation); "—" when empty."""
    if empty(value):
        return "—"
    number = float(value)
    return f"{'-' if number < 0 else ''}{symbol_of(currency)}{abs(number):,.0f}"


def pct(value: Any) -> str:
    return "—" if empty(value) else f"{float(value) * 100:,.1f} %"


def day(value: Any) -> str:
    if empty(value):
        return "—"
    if isinstance(value, str):
        return value
    value = pd.Timestamp(value).date()
    return f"{value:%a} {value.day} {value:%b %Y}"


STATUS_WORDS = {
    "not_started": "not started", "achieved": "achieved", "too_late": "too late", "on_track": "on track",
    "at_risk": "at risk", "off_track": "off track", "no_target": "no target",
}


def status_words(status: Any) -> str:
    return "—" if empty(status) else STATUS_WORDS.get(str(status), str(status))


def ponr_words(row: Row) -> str:
    """The point of no return in words, with the working days left to act."""
    ponr = row.get("point_of_no_return")
    if empty(ponr):
        return "none (on course, or no faster pace on record)"
    if ponr == engine.PASSED:
        return "passed: the target is out of reach even at the best pace so far"
    days = row.get("working_days_to_act")
    return f"{day(ponr)} ({int(days)} working days to act)" if days is not None and not empty(days) else day(ponr)


def ponr_key(row: Row) -> str | None:
    ponr = row.get("point_of_no_return")
    if empty(ponr):
        return None
    return ponr if isinstance(ponr, str) else pd.Timestamp(str(ponr)).date().isoformat()


def owner_label(row: Row) -> str:
    if row["owner_type"] == "org":
        return str(row["owner_name"])
    if row["owner_type"] == "rep":
        return f"{row['owner_name']} ({row['owner_id']})"
    return f"{row['owner_type'].title()} {row['owner_name']}"


def status_facts(row: Row, *, coverage: bool, currency: str = "") -> list[tuple[str, str]]:
    """The numbers of one report row, as a dashboard card shows them (money in ``currency``)."""
    if row["status"] == "not_started":
        return [("Status", "not started"), ("Target", money(row["target"], currency))]
    gap = row["gap_to_date"]
    gap_text = "—" if empty(gap) else (f"{money(gap, currency)} behind plan" if gap > 0
                                       else f"{money(-gap, currency)} ahead of plan")
    facts = [
        ("Status", status_words(row["status"])),
        ("Target", money(row["target"], currency)),
        ("Actual to date", f"{money(row['actual_to_date'], currency)} ({pct(row['attainment'])} of target)"),
        ("Pace", f"{pct(row['pace'])} of the plan to date ({money(row['expected_to_date'], currency)})"),
        ("Gap to date", gap_text),
        ("Run-rate needed", f"{money(row['required_per_working_day'], currency)} per working day"),
        ("Current run-rate", f"{money(row['current_per_working_day'], currency)} per working day"),
        ("Point of no return", ponr_words(row)),
    ]
    if coverage:
        facts.append(("Plan coverage", f"{pct(row['action_coverage'])} of the remaining gap"))
    return facts


def chance_facts(row: Row, numbers: Numbers, period: str = "year") -> list[tuple[str, str]]:
    """The row's chance_to_reach and its "see the math" sentence; nothing when the chance is empty."""
    if empty(row.get("chance_to_reach")):
        return []
    found = numbers.chances(str(row["owner_type"]), period).get((str(row["owner_id"]), str(row["period"])))
    facts = [("Chance to reach", pct(row["chance_to_reach"]))]
    return facts + [("The math", found[1])] if found else facts


def watch_item(row: Row, link: str | None, numbers: Numbers | None = None) -> Item:
    """A watch-list entry: who, how far behind, until when, the chance to reach the target (with
    the math, when ``numbers`` is given) and what to do; money in the base currency of ``numbers``."""
    chance = [f"{label}: {value}" for label, value in chance_facts(row, numbers)] if numbers else []
    return Item(
        text=f"{owner_label(row)}: {status_words(row['status'])}, pace {pct(row['pace'])}, "
             f"gap {money(row['gap_to_date'], numbers.currency if numbers else '')}",
        details=[f"Point of no return: {ponr_words(row)}", *chance, f"What to do: {row['recommended_action']}"],
        link=link,
        tone=str(row["status"]),
    )


def page_link(settings: Any, page: str, rep_id: str | None = None) -> str | None:
    """The dashboard address of a page (None when the dashboard_url setting is empty)."""
    base = getattr(settings, "dashboard_url", "")
    if not base:
        return None
    from urllib.parse import quote

    return f"{base}/{page}" + (f"?rep={quote(str(rep_id))}" if rep_id else "")


def fy_of(inputs: EngineInputs, as_of: dt.date) -> int:
    return fiscal_year_of(as_of, inputs.settings.fy_start_month)


# --------------------------------------------------------------------------- digests
def _period_snapshot(row: Row | None) -> dict[str, Any] | None:
    return None if row is None else {"period": row["period"], "status": row["status"], "ponr": ponr_key(row)}


def _changes(now: dict[str, Any] | None, before: dict[str, Any] | None) -> list[str]:
    if now is None or before is None or before.get("period") != now["period"]:
        return []
    out = []
    if before.get("status") != now["status"]:
        out.append(f"{now['period']}: status {status_words(before.get('status'))} → {status_words(now['status'])}")
    if before.get("ponr") != now["ponr"]:
        out.append(f"{now['period']}: point of no return {day(before.get('ponr')) if before.get('ponr') else 'none'} → "
                   f"{day(now['ponr']) if now['ponr'] else 'none'}")
    return out


def _digest_content(principal: Principal, d: dt.date, **fields: Any) -> Content:
    """A digest to the principal: one per account and week, so its owner key is empty."""
    return Content(recipient=principal.email, kind="digest", owner_key="", as_of=d, **fields)


def rep_digest(store: Any, principal: Principal, numbers: Numbers, previous: dict[str, Any] | None) -> Content:
    """A rep's digest: FY and month status, run-rates, point of no return, coverage, actions due,
    and what changed since the last digest."""
    settings = numbers.inputs.settings
    d = numbers.as_of
    rep_id = str(principal.rep_id)
    # the database first, the computations after: a run then reads an account's data in one go,
    # on one opening of the database file (not again after every computation)
    actions = store.plan(principal, rep_id, fy_of(numbers.inputs, d))["actions"]
    fy_row = numbers.row("rep", rep_id, "year")
    month_row = numbers.row("rep", rep_id, "month")
    sections = []
    for title, row, coverage, period in (("This fiscal year", fy_row, True, "year"), ("This month", month_row, False, "month")):
        if row is None:
            sections.append(Section(title, note="No target is set for you in this period."))
        else:
            facts = status_facts(row, coverage=coverage, currency=numbers.currency) + chance_facts(row, numbers, period)
            sections.append(Section(f"{title} ({row['period']})", facts=facts, tone=str(row["status"])))
    sections.append(_actions_section(actions, numbers, rep_id))
    snapshot = {"fy": _period_snapshot(fy_row), "month": _period_snapshot(month_row)}
    if previous is None:
        change_note, changes = "This is your first weekly digest.", []
    else:
        changes = _changes(snapshot["fy"], previous.get("fy")) + _changes(snapshot["month"], previous.get("month"))
        change_note = "" if changes else "No change in status or point of no return."
    sections.append(Section("Since your last digest", items=[Item(c) for c in changes], note=change_note))
    name = fy_row["owner_name"] if fy_row else rep_id
    headline = status_words(fy_row["status"]) if fy_row else "no target"
    return _digest_content(
        principal, d,
        subject=f"Weekly digest {day(d)}: {name}, {headline} for FY{fy_of(numbers.inputs, d)}",
        heading=f"Your weekly digest, {day(d)}",
        intro=f"Where you stand as of {day(d)}: the same numbers as your page on the dashboard.",
        sections=sections, link=page_link(settings, PAGE["rep"], rep_id), snapshot=snapshot,
    )


def _actions_section(actions: pd.DataFrame, numbers: Numbers, rep_id: str) -> Section:
    """The rep's open ``actions`` (of their plan) due within ACTION_HORIZON working days or overdue."""
    d = numbers.as_of
    inputs = numbers.inputs
    reps = inputs.reps.set_index("rep_id")
    territory = reps["territory"].get(rep_id) if rep_id in reps.index else None
    cal = calendar_for(inputs.settings, inputs.holidays, None if empty(territory) else territory)
    horizon = cal.nth_working_day_after(d, ACTION_HORIZON)
    due = actions[actions["status"].isin(OPEN_ACTION_STATUSES) & actions["due_date"].notna()].copy()
    due["due"] = [pd.Timestamp(value).date() for value in due["due_date"]]
    due = due[pd.Series([value <= horizon for value in due["due"]], index=due.index, dtype=bool)]
    due = due.sort_values(["due", "action_id"])
    items = [
        Item(f"{'OVERDUE ' if row['due'] < d else ''}{day(row['due'])}: {row['description']}",
             details=[f"{row['status'].replace('_', ' ')}, owner {row['owner'] or '—'}, "
                      f"expected impact {money(row['expected_impact'], numbers.currency)}"],
             tone="off_track" if row["due"] < d else "")
        for row in due.to_dict("records")
    ]
    return Section(f"Actions due by {day(horizon)} or overdue", items=items,
                   note="" if items else "None: no open action is due in the next 10 working days.")


def manager_digest(store: Any, principal: Principal, numbers: Numbers) -> Content:
    """A manager's digest: their reps on the watch list with what to do, plans waiting for their
    agreement, and reps with no upload in 14 days."""
    settings = numbers.inputs.settings
    d = numbers.as_of
    # the database first, then the computations (see rep_digest)
    plans = store.submitted_plans(principal, fy_of(numbers.inputs, d))
    uploads = store.last_uploads(principal)
    watch = [row for row in numbers.watch_records(("rep",)) if row["owner_id"] != principal.rep_id]
    items = [watch_item(row, page_link(settings, PAGE["rep"], row["owner_id"]), numbers) for row in watch]
    plan_items = [Item(f"{row['name']} ({row['rep_id']})", link=page_link(settings, "plan", row["rep_id"]))
                  for row in plans.to_dict("records")]
    uploads = uploads[uploads["rep_id"] != principal.rep_id]
    active = uploads["end_date"].isna() | (pd.to_datetime(uploads["end_date"]) >= pd.Timestamp(d))
    cutoff = pd.Timestamp(d - dt.timedelta(days=NO_UPLOAD_DAYS))
    stale = uploads[active & (uploads["last_upload"].isna() | (uploads["last_upload"] < cutoff))]
    stale_items = [Item(f"{row['name']} ({row['rep_id']}): "
                        + ("no upload yet" if empty(row["last_upload"]) else f"last upload {day(row['last_upload'])}"))
                   for row in stale.to_dict("records")]
    sections = [
        Section(f"Your reps on the watch list ({len(items)})", items=items,
                note="" if items else "None of your reps is on the watch list."),
        Section(f"Plans waiting for your agreement ({len(plan_items)})", items=plan_items,
                note="" if plan_items else "No plan is waiting for you."),
        Section(f"No upload in {NO_UPLOAD_DAYS} days ({len(stale_items)})", items=stale_items,
                note="" if stale_items else f"Every rep uploaded in the last {NO_UPLOAD_DAYS} days."),
    ]
    return _digest_content(
        principal, d,
        subject=f"Weekly digest {day(d)}: your team, {len(items)} on the watch list",
        heading=f"Your team's weekly digest, {day(d)}",
        intro=f"Your team as of {day(d)}: the same numbers as the dashboard.",
        sections=sections, link=page_link(settings, PAGE["team"]),
        snapshot={"watch": sorted(str(row["owner_id"]) for row in watch)},
    )


def leader_digest(principal: Principal, numbers: Numbers) -> Content:
    """A leader's or admin's digest: the organisation, its regions and the first ten watch-list
    entries."""
    settings = numbers.inputs.settings
    d = numbers.as_of
    org = numbers.row("org", engine.ORG_ID, "year")
    sections = []
    if org is None:
        sections.append(Section("The organisation", note="No targets are set yet."))
    else:
        sections.append(Section(f"The organisation ({org['period']})",
                                facts=status_facts(org, coverage=False, currency=numbers.currency),
                                tone=str(org["status"])))
    regions = numbers.records("region", "year")
    sections.append(Section("Regions", items=[
        Item(f"{row['owner_name']}: {status_words(row['status'])}",
             details=[f"attainment {pct(row['attainment'])}, pace {pct(row['pace'])}, "
                      f"gap {money(row['gap_to_date'], numbers.currency)}",
                      f"run-rate {money(row['current_per_working_day'], numbers.currency)} per working day, "
                      f"{money(row['required_per_working_day'], numbers.currency)} needed",
                      f"point of no return: {ponr_words(row)}"],
             tone=str(row["status"]))
        for row in regions
    ], note="" if regions else "No regions yet."))
    watch = numbers.watch_records(tuple(engine.LEVELS))
    top = watch[:WATCHLIST_TOP]
    sections.append(Section(
        f"Watch list: the first {len(top)} of {len(watch)}",
        items=[watch_item(row, page_link(settings, PAGE["rep"], row["owner_id"]) if row["owner_type"] == "rep"
                          else page_link(settings, PAGE["watchlist"]), numbers)
               for row in top],
        note="" if top else "Nobody is on the watch list.",
    ))
    headline = status_words(org["status"]) if org else "no target"
    return _digest_content(
        principal, d,
        subject=f"Weekly digest {day(d)}: the organisation is {headline}, {len(watch)} on the watch list",
        heading=f"The organisation's weekly digest, {day(d)}",
        intro=f"The organisation as of {day(d)}: the same numbers as the dashboard.",
        sections=sections, link=page_link(settings, PAGE["watchlist"]),
        snapshot={"org": _period_snapshot(org)},
    )


def digest(store: Any, principal: Principal, numbers: Numbers, previous: dict[str, Any] | None = None) -> Content:
    """The weekly digest of one account, by role (see the module docstring for scoping)."""
    if principal.role == "rep":
        return rep_digest(store, principal, numbers, previous)
    if principal.role == "manager":
        return manager_digest(store, principal, numbers)
    return leader_digest(principal, numbers)


# --------------------------------------------------------------------------- alerts
def alert_levels(principal: Principal) -> tuple[str, ...]:
    """Whose alerts an account gets: a rep its own, a manager its reps', a leader or admin the
    organisation's and the regions' (the owners of their digest). In the engine's order of levels,
    so that a leader's watch list of these levels is read from the digest's whole one."""
    return ("rep",) if principal.role in ("rep", "manager") else ("region", "org")


REASON_WORDS = {
    "watch": "is now on the watch list (behind plan at two weekly checks in a row)",
    "ponr": f"is {ALERT_DAYS_TO_ACT} working days or fewer from its point of no return",
    "too_late": "has become too late: the target is out of reach even at its best pace so far",
}


def _follows(principal: Principal, owner_id: str) -> bool:
    """Whether the account is alerted about this owner of its alert levels: a manager not about
    themself (their own digest covers them), a rep only about themself."""
    if principal.role == "manager":
        return owner_id != principal.rep_id
    return principal.role != "rep" or owner_id == principal.rep_id


def alerts(principal: Principal, numbers: Numbers, previous_day: dt.date) -> list[Content]:
    """The alerts for one account at ``numbers.as_of``: an owner it follows newly meets a
    condition (enters the watch list, comes within 5 working days of its point of no return,
    becomes too late) that it did not meet at ``previous_day``. One message per owner."""
    settings = numbers.inputs.settings
    d = numbers.as_of
    levels = alert_levels(principal)
    now = numbers.conditions(levels, d, lambda owner: _follows(principal, owner[1]))
    if not now:
        return []  # nothing holds now, so nothing is new: the day before is not even worked out
    # the day before: only the owners and reasons that hold now (what did not hold now is not new)
    before = numbers.conditions(levels, previous_day, now.__contains__, set().union(*now.values()))
    # an owner meets 'watch' now exactly when it is on the watch list now (for its advice)
    watch = ({(r["owner_type"], r["owner_id"]): r for r in numbers.watch_records(levels, d)}
             if any("watch" in reasons for reasons in now.values()) else {})
    out = []
    for (owner_type, owner_id), reasons in sorted(now.items()):
        new = reasons - before.get((owner_type, owner_id), set())
        if not new:
            continue
        row = numbers.row(owner_type, owner_id, "year")
        if row is None:
            continue
        order = [r for r in ("too_late", "ponr", "watch") if r in new]
        items = [Item(f"{owner_label(row)} {REASON_WORDS[r]}.", tone=str(row["status"])) for r in order]
        if (owner_type, owner_id) in watch:
            items.append(Item(f"What to do: {watch[(owner_type, owner_id)]['recommended_action']}"))
        link = page_link(settings, PAGE["rep"], owner_id) if owner_type == "rep" else page_link(settings, PAGE["watchlist"])
        first = {"too_late": "too late", "ponr": f"point of no return in {row['working_days_to_act']} working days",
                 "watch": "on the watch list"}[order[0]]
        out.append(Content(
            recipient=principal.email, kind="alert", owner_key=f"{owner_type}:{owner_id}", as_of=d,
            subject=f"Alert: {owner_label(row)} is {first}",
            heading=f"Early warning: {owner_label(row)}",
            intro=f"As of {day(d)}:",
            sections=[Section("Why you get this", items=items),
                      Section(f"{owner_label(row)}, {row['period']}",
                              facts=status_facts(row, coverage=owner_type == "rep", currency=numbers.currency),
                              tone=str(row["status"]))],
            link=link,
        ))
    return out
