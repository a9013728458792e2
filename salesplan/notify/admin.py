"""What the Admin page (and each user's own settings) call: a preview of any account's digest,
"send me a test", the e-mail preferences, and the failed sends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from salesplan import policy
from salesplan.errors import NotFound
from salesplan.notify import content as C
from salesplan.notify import dispatch, render
from salesplan.principal import Principal


@dataclass(frozen=True)
class Preview:
    subject: str
    text: str
    html: str


def _today(store: Any) -> dt.date:
    return dispatch.local_now(store.settings()).date()


def _digest_for(store: Any, email: str, as_of: dt.date) -> C.Content:
    principal = store.principal_for_email(email)
    if principal is None:
        raise NotFound(f"There is no enabled account {email}.")
    settings = store.settings()
    slot = dispatch.digest_slot(settings, as_of)
    numbers = C.Numbers(store.engine_inputs(principal), as_of)
    return C.digest(store, principal, numbers, store.last_digest_snapshot(principal.email, before_slot=slot))


def preview_digest(store: Any, principal: Principal, email: str, as_of: dt.date | None = None) -> Preview:
    """The digest the account ``email`` would get at ``as_of`` (default today in the
    organisation's time zone), exactly as it would be sent: computed from that account's own view.
    Admins may preview anyone, others only themselves. Raises NotAllowed, NotFound."""
    policy.require(principal, "preview_digest", email=email)
    item = _digest_for(store, email, as_of or _today(store))
    return Preview(item.subject, render.text(item), render.html(item))


def send_test(store: Any, principal: Principal, as_of: dt.date | None = None,
              transport: dispatch.Transport | None = None) -> str:
    """Send the principal's own digest to their own address now, marked as a test in the subject.
    It is not recorded in the log (the real weekly digest still goes out). Returns a confirmation;
    raises NotConfigured (settings incomplete) or SendFailed (the server's answer)."""
    from salesplan.notify.smtp import SmtpTransport, smtp_config

    settings = store.settings()
    if transport is None:
        transport = SmtpTransport(smtp_config(settings))
    item = _digest_for(store, principal.email, as_of or _today(store))
    try:
        transport.send(render.email_message(item, settings.mail_from, subject_prefix="[Test] "))
    finally:
        transport.close()
    return f"A test digest was sent to {principal.email}."


def email_preferences(store: Any, principal: Principal, email: str | None = None) -> dict[str, bool]:
    """Whether the account gets the weekly digest and the alerts ({'digest': True, 'alert': False})."""
    target = (email or principal.email).strip().lower()
    policy.require(principal, "email_preferences", email=target)
    off = store.notification_opt_outs(target)
    return {kind: kind not in off for kind in ("digest", "alert")}


def set_email_preferences(store: Any, principal: Principal, *, digest: bool | None = None, alert: bool | None = None,
                          email: str | None = None) -> dict[str, bool]:
    """Turn the weekly digest and/or the alerts on or off for the principal (or, for an admin, any
    account). Raises NotAllowed."""
    target = (email or principal.email).strip().lower()
    for kind, wanted in (("digest", digest), ("alert", alert)):
        if wanted is not None:
            store.set_notification_opt_out(principal, target, kind, not wanted)
    return email_preferences(store, principal, target)
