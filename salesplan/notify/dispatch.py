"""Which messages are due, and sending them exactly once.

A run computes every account's digest (for the week of the latest digest slot) and its alerts (for
the as-of date), leaves out the opted-out and the already sent, and then, per message: claims its
key in the log (a transaction), sends it, and marks it sent, or failed with the error. A failed
message stays due and is claimed again by the next run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from salesplan import policy
from salesplan.notify import content as C
from salesplan.notify import render
from salesplan.notify.scope import OrgInputs
from salesplan.principal import SYSTEM, Principal
from salesplan.storage.notifications import MessageKey


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...
    def close(self) -> None: ...


@dataclass
class Outgoing:
    """A message that is due: its log key, the rendered message and what to remember of it."""

    key: MessageKey
    content: C.Content
    message: EmailMessage

    @property
    def subject(self) -> str:
        return self.content.subject


@dataclass
class RunResult:
    sent: list[MessageKey] = field(default_factory=list)
    failed: list[tuple[MessageKey, str]] = field(default_factory=list)
    skipped: list[MessageKey] = field(default_factory=list)  # sent or claimed by someone else meanwhile

    def summary(self) -> str:
        text = f"sent {len(self.sent)}, failed {len(self.failed)}, already sent or in progress {len(self.skipped)}"
        if self.failed:
            text += f"; first error: {self.failed[0][1]} (the failed messages are retried by the next run)"
        return text


# --------------------------------------------------------------------------- time
def local_now(settings: Any, now: dt.datetime | None = None) -> dt.datetime:
    """Now (or ``now``, naive = UTC) in the organisation's time zone."""
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(settings.timezone))


def digest_slot(settings: Any, as_of: dt.date, *, local: dt.datetime | None = None) -> str:
    """The digest week due at ``as_of``: the ISO week of the latest digest weekday on or before it
    (e.g. '2026-W10'). When ``local`` (the local time now) is on that very day but before the
    digest hour, the week before is due. Every digest of one week shares this key, so a week gets
    one digest however often the run happens, and a missed slot is sent once by the next run."""
    slot_day = as_of - dt.timedelta(days=(as_of.weekday() - settings.digest_day) % 7)
    if local is not None and local.date() == slot_day and local.hour < settings.digest_hour:
        slot_day -= dt.timedelta(days=7)
    year, week, _ = slot_day.isocalendar()
    return f"{year}-W{week:02d}"


# --------------------------------------------------------------------------- what is due
def _accounts(store: Any, recipients: Iterable[str] | None) -> list[dict[str, Any]]:
    frame = store.notification_recipients()
    rows = frame.to_dict("records")
    if recipients is not None:
        wanted = {str(r).strip().lower() for r in recipients}
        rows = [row for row in rows if row["email"] in wanted]
    return rows


@dataclass
class _Account:
    """One recipient of a run: what it is due, found before anything is computed."""

    principal: Principal
    scope: frozenset[str] | None  # the reps it may see (None: all); accounts of one scope share the numbers
    digest_key: MessageKey | None
    previous: dict[str, Any] | None  # the snapshot of its last digest
    wants_alerts: bool
    wanted: list[tuple[MessageKey, C.Content]] = field(default_factory=list)


def build_due(store: Any, as_of: dt.date, *, local: dt.datetime | None = None, previous_day: dt.date | None = None,
              kinds: tuple[str, ...] = ("digest", "alert"), recipients: Iterable[str] | None = None,
              include_sent: bool = False) -> list[Outgoing]:
    """Every message due at ``as_of`` that is not sent yet (``include_sent``: also those), for
    every enabled account that did not opt out of its kind, in the order of the accounts. Each
    account's messages are computed from its own principal's view of the data.

    The database is read in bursts, not between computations: an embedded DuckDB file is closed
    a moment after its last read (docs/storage.md) and opening it again costs ~50 ms of CPU, so
    first everything about the accounts, then per scope its engine inputs and its digests' own
    reads followed by the computations, and last the alerts' log states. Accounts that see the
    same reps share one computation (all admins and leaders, for instance), which is dropped
    once its accounts are done."""
    settings = store.settings()
    slot = digest_slot(settings, as_of, local=local)
    day_slot = as_of.isoformat()
    before = previous_day or (as_of - dt.timedelta(days=1))
    mail_from = settings.mail_from or "salesplan@localhost"
    accounts = _due_accounts(store, slot, kinds, recipients, include_sent)
    by_scope: dict[frozenset[str] | None, list[_Account]] = {}
    for account in accounts:
        by_scope.setdefault(account.scope, []).append(account)
    org = _org_inputs(store, by_scope)
    for scope, group in by_scope.items():
        principal = group[0].principal
        inputs = (store.engine_inputs(principal) if org is None
                  else org.restricted(scope, read_all=policy.may(principal, "read_all")))
        numbers = C.Numbers(inputs, as_of)
        for account in group:
            if account.digest_key is not None:
                account.wanted.append((account.digest_key, C.digest(store, account.principal, numbers, account.previous)))
            if account.wants_alerts:
                account.wanted += [(MessageKey(account.principal.email, "alert", alert.owner_key, day_slot), alert)
                                   for alert in C.alerts(account.principal, numbers, before)]
    out: list[Outgoing] = []
    for account in accounts:
        for key, item in account.wanted:
            if key.kind == "digest" or include_sent or store.notification_state(key) != "sent":
                out.append(Outgoing(key, item, render.email_message(item, mail_from)))
    return out


def _org_inputs(store: Any, by_scope: dict[frozenset[str] | None, list[_Account]]) -> OrgInputs | None:
    """The organisation's engine inputs, read once, when a run computes for more than one set
    of visible reps or for one who sees everyone (salesplan/notify/scope.py); None when it
    computes for a single restricted set, which its own read gives more cheaply (a rep's lines
    only, not the whole organisation's)."""
    if not by_scope or (len(by_scope) == 1 and None not in by_scope):
        return None
    return OrgInputs(store.engine_inputs(SYSTEM))


def _due_accounts(store: Any, slot: str, kinds: tuple[str, ...], recipients: Iterable[str] | None,
                  include_sent: bool) -> list[_Account]:
    """The accounts with something to compute: a digest of ``slot`` that is due (not sent, or
    ``include_sent``) or alerts; those that opted out of both, or whose digest is out and who
    get no alerts, are left out."""
    out = []
    for row in _accounts(store, recipients):
        # the account's principal as store.principal_for_email gives it, without a query per account
        principal = Principal(row["email"], row["role"], None if C.empty(row["rep_id"]) else str(row["rep_id"]))
        digest_key = None
        if "digest" in kinds and not row["no_digest"]:
            key = MessageKey(principal.email, "digest", "", slot)
            if include_sent or store.notification_state(key) != "sent":
                digest_key = key
        wants_alerts = "alert" in kinds and not row["no_alert"]
        if digest_key is None and not wants_alerts:
            continue  # nothing to compute: its digest is out (or off) and it gets no alerts
        visible = store.visible_rep_ids(principal)
        previous = store.last_digest_snapshot(principal.email, before_slot=slot) if digest_key is not None else None
        out.append(_Account(principal, None if visible is None else frozenset(visible), digest_key, previous,
                            wants_alerts))
    return out


# --------------------------------------------------------------------------- sending
def send(store: Any, outgoing: list[Outgoing], transport: Transport, *,
         now: Callable[[], dt.datetime] | None = None) -> RunResult:
    """Send each due message once: claim, send, mark. After a connection failure the rest are
    not tried (they would fail the same way) but recorded as failed with that error, so admins
    see them and the next run retries them. Returns what happened; never raises for a send."""
    from salesplan.notify.smtp import SendFailed

    result = RunResult()
    broken: str | None = None
    try:
        for item in outgoing:
            token = store.claim_notification(item.key, as_of=item.content.as_of, subject=item.subject,
                                             now=now() if now else None)
            if token is None:
                result.skipped.append(item.key)
                continue
            if broken is not None:
                store.mark_notification_failed(item.key, token, broken)
                result.failed.append((item.key, broken))
                continue
            try:
                transport.send(item.message)
            except SendFailed as error:
                store.mark_notification_failed(item.key, token, str(error))
                result.failed.append((item.key, str(error)))
                if error.connection:
                    broken = str(error)
                continue
            except BaseException as error:
                # anything unexpected: the message may or may not be out; record it as failed
                # (retried later) rather than leave a claim that blocks it for CLAIM_TIMEOUT
                store.mark_notification_failed(item.key, token, f"unexpected error: {error!r}")
                raise
            store.mark_notification_sent(item.key, token, snapshot=item.content.snapshot if item.key.kind == "digest" else None)
            result.sent.append(item.key)
    finally:
        transport.close()
    return result


def _file_name(index: int, key: MessageKey) -> str:
    safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", f"{key.recipient}-{key.kind}-{key.owner_key or 'all'}-{key.slot}")
    return f"{index:03d}-{safe}.eml"


def write_eml(outgoing: list[Outgoing], folder: str | Path) -> list[Path]:
    """Write each message as an .eml file (a mail client opens it); records nothing in the log.
    Raises SalesplanError when the folder cannot be created or written."""
    from salesplan.errors import SalesplanError

    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, item in enumerate(outgoing, start=1):
            path = target / _file_name(index, item.key)
            path.write_bytes(item.message.as_bytes())
            paths.append(path)
    except OSError as error:
        raise SalesplanError(f"cannot write the messages to {target}: {error}") from error
    return paths
