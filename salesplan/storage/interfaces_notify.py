"""The notifications' storage interface (docs/notifications.md): the sent-message log, opt-outs,
the scheduler's passes and the digest's extra reads. Implemented by
:class:`~salesplan.storage.notifications.NotificationStore`; the general rules on errors are those
of :mod:`salesplan.storage.interfaces`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd

from salesplan.principal import Principal
from salesplan.storage.notifications import MessageKey


class NotificationStorage(Protocol):
    """E-mail digests and alerts: what was sent, what failed, who opted out."""

    def notification_state(self, key: MessageKey) -> str | None:
        """'claimed', 'sent', 'failed' or None (never tried). Raises nothing of its own."""
        ...

    def claim_notification(self, key: MessageKey, *, as_of: date, subject: str,
                           now: datetime | None = None) -> str | None:
        """Take the right to send a message (a token), or None when it is sent or freshly claimed
        by another sender; failed and stale claims are claimed again. Raises nothing of its own."""
        ...

    def mark_notification_sent(self, key: MessageKey, token: str, *, snapshot: dict[str, Any] | None = None,
                               now: datetime | None = None) -> None:
        """Record that the claimed message went out. Raises nothing of its own (a stale token changes nothing)."""
        ...

    def mark_notification_failed(self, key: MessageKey, token: str, error: str,
                                 now: datetime | None = None) -> None:
        """Record a failed send with its error, to be retried. Raises nothing of its own."""
        ...

    def last_digest_snapshot(self, recipient: str, *, before_slot: str) -> dict[str, Any] | None:
        """What the recipient's last sent digest before ``before_slot`` said. Raises nothing of its own."""
        ...

    def notification_log(self, principal: Principal, *, states: tuple[str, ...] | None = None,
                         limit: int = 500) -> pd.DataFrame:
        """The sent-message log, newest first. Raises NotAllowed unless admin."""
        ...

    def failed_notifications(self, principal: Principal) -> pd.DataFrame:
        """Messages whose last send failed, with the error. Raises NotAllowed unless admin."""
        ...

    def set_notification_opt_out(self, principal: Principal, email: str, kind: str, opted_out: bool) -> None:
        """Turn the digest or the alerts off/on for an account. Raises NotAllowed (another user's,
        unless admin), BadInput (kind not 'digest' or 'alert')."""
        ...

    def notification_opt_outs(self, email: str) -> set[str]:
        """The kinds the account turned off. Raises nothing of its own."""
        ...

    def notification_recipients(self) -> pd.DataFrame:
        """Enabled accounts (email, role, rep_id, no_digest, no_alert). Raises nothing of its own."""
        ...

    def notification_run(self, run_date: date) -> dict[str, Any] | None:
        """The scheduler's pass for this date, if one started. Raises nothing of its own."""
        ...

    def previous_notification_run(self, run_date: date) -> date | None:
        """The latest finished pass before ``run_date``. Raises nothing of its own."""
        ...

    def record_notification_run(self, run_date: date, *, sent: int, failed: int, finished: bool,
                                now: datetime | None = None) -> None:
        """Record a scheduler pass. Raises nothing of its own."""
        ...

    def submitted_plans(self, principal: Principal, fy: int) -> pd.DataFrame:
        """Visible plans waiting for agreement (rep_id, name, updated_at). Raises nothing of its own."""
        ...

    def last_uploads(self, principal: Principal) -> pd.DataFrame:
        """Per visible rep the latest actuals upload (rep_id, name, end_date, last_upload). Raises nothing of its own."""
        ...
