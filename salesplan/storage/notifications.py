"""E-mail notifications: the sent-message log (claim before sending, then sent or failed), each
user's opt-outs, the scheduler's passes, and the few reads a digest needs that no page has.

The log makes every message due at most once: its key (recipient, kind, owner, slot) is claimed in
a transaction before the message is sent, so a rerun or a second sender at the same moment finds
the key taken and sends nothing. See docs/notifications.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from salesplan import policy
from salesplan.errors import BadInput
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase

NOTIFICATION_KINDS = ("digest", "alert")
CLAIM_TIMEOUT = timedelta(minutes=15)
"""A claim older than this whose sender never marked it is taken to be a crashed sender's: the
message may be claimed again (so nothing is lost; at worst it is sent twice after a crash)."""
_SYSTEM = Principal("system", "system")


@dataclass(frozen=True)
class MessageKey:
    """The identity of a message that is due at most once."""

    recipient: str
    kind: str
    owner_key: str
    slot: str

    def params(self) -> list[str]:
        return [self.recipient, self.kind, self.owner_key, self.slot]


_KEY_WHERE = "recipient = ? AND kind = ? AND owner_key = ? AND slot = ?"


def _now() -> datetime:
    """Now in UTC without a time zone: every timestamp of the notification tables is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class NotificationStore(StoreBase):
    """Sent-message log, opt-outs, scheduler passes and the digest's extra reads."""

    # ------------------------------------------------------------------ the sent-message log
    def notification_state(self, key: MessageKey) -> str | None:
        """'claimed', 'sent', 'failed' or None (never tried)."""
        with self.cursor() as cursor:
            rows = cursor.execute(f"SELECT state FROM notification_log WHERE {_KEY_WHERE}", key.params()).fetchall()
        return rows[0][0] if rows else None

    def claim_notification(self, key: MessageKey, *, as_of: date, subject: str,
                           now: datetime | None = None) -> str | None:
        """Take the right to send this message: returns a claim token, or None when it is sent
        already or another sender holds a fresh claim. A failed message (or a claim older than
        :data:`CLAIM_TIMEOUT`) is claimed again, so failures are retried by a later run."""
        moment = now or _now()
        token = uuid.uuid4().hex

        def work(cursor: Cursor) -> str | None:
            rows = cursor.execute(
                f"SELECT state, claimed_at FROM notification_log WHERE {_KEY_WHERE}", key.params()
            ).fetchall()
            if not rows:
                cursor.execute(
                    "INSERT INTO notification_log (recipient, kind, owner_key, slot, state, as_of, subject, "
                    "claim_token, claimed_at, attempts) VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?, ?, 1)",
                    [*key.params(), as_of, subject, token, moment],
                )
                return token
            state, claimed_at = rows[0]
            stale = state == "claimed" and claimed_at is not None and claimed_at < moment - CLAIM_TIMEOUT
            if state == "failed" or stale:
                cursor.execute(
                    "UPDATE notification_log SET state = 'claimed', claim_token = ?, claimed_at = ?, "
                    f"attempts = attempts + 1, as_of = ?, subject = ? WHERE {_KEY_WHERE}",
                    [token, moment, as_of, subject, *key.params()],
                )
                return token
            return None

        try:
            return self.write(_SYSTEM, "", "", work, changes_data=False)
        except BadInput:
            # two senders inserted the same key at once and the database refused the second one:
            # the key is taken, which is exactly the answer
            return None

    def mark_notification_sent(self, key: MessageKey, token: str, *, snapshot: dict[str, Any] | None = None,
                               now: datetime | None = None) -> None:
        """Record that the claimed message went out (with what a digest said, for the next one)."""
        self._finish_claim(key, token, "sent", None, snapshot, now or _now())

    def mark_notification_failed(self, key: MessageKey, token: str, error: str,
                                 now: datetime | None = None) -> None:
        """Record a failed send with its error; a later run claims and retries it."""
        self._finish_claim(key, token, "failed", error[:2000], None, now or _now())

    def _finish_claim(self, key: MessageKey, token: str, state: str, error: str | None,
                      snapshot: dict[str, Any] | None, moment: datetime) -> None:
        def work(cursor: Cursor) -> None:
            cursor.execute(
                "UPDATE notification_log SET state = ?, last_error = ?, sent_at = ?, snapshot = ? "
                f"WHERE {_KEY_WHERE} AND claim_token = ?",
                [state, error, moment if state == "sent" else None,
                 json.dumps(snapshot, default=str) if snapshot is not None else None, *key.params(), token],
            )

        self.write(_SYSTEM, "", "", work, changes_data=False)

    def last_digest_snapshot(self, recipient: str, *, before_slot: str) -> dict[str, Any] | None:
        """What the recipient's last sent digest before ``before_slot`` said (None: no digest yet)."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT snapshot FROM notification_log WHERE recipient = ? AND kind = 'digest' AND state = 'sent' "
                "AND slot < ? AND snapshot IS NOT NULL ORDER BY slot DESC LIMIT 1",
                [recipient.lower(), before_slot],
            ).fetchall()
        return json.loads(rows[0][0]) if rows else None

    def notification_log(self, principal: Principal, *, states: tuple[str, ...] | None = None,
                         limit: int = 500) -> pd.DataFrame:
        """The sent-message log, newest first (admins). Raises NotAllowed for other roles."""
        policy.require(principal, "read_message_log")
        where = f"WHERE state IN ({', '.join('?' for _ in states)})" if states else ""
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT recipient, kind, owner_key, slot, state, as_of, subject, attempts, claimed_at, sent_at, "
                f"last_error FROM notification_log {where} ORDER BY coalesce(sent_at, claimed_at) DESC LIMIT ?",
                [*(states or ()), int(limit)],
            ).df()

    def failed_notifications(self, principal: Principal) -> pd.DataFrame:
        """Messages whose last send failed (with the error), newest first; they are retried by
        the next run. Admins only (raises NotAllowed)."""
        return self.notification_log(principal, states=("failed",))

    # ------------------------------------------------------------------ opt-outs
    def set_notification_opt_out(self, principal: Principal, email: str, kind: str, opted_out: bool) -> None:
        """Turn the weekly digest or the alerts off (or on again) for an account. A user changes
        their own; an admin anyone's. Raises NotAllowed otherwise, BadInput for an unknown kind."""
        email = str(email).strip().lower()
        if kind not in NOTIFICATION_KINDS:
            raise BadInput.single("notifications", f"kind must be digest or alert, not {kind!r}", column="kind")
        policy.require(principal, "email_preferences", email=email)

        def work(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM notification_opt_outs WHERE email = ? AND kind = ?", [email, kind])
            if opted_out:
                cursor.execute("INSERT INTO notification_opt_outs VALUES (?, ?, ?, ?)",
                               [email, kind, principal.email, _now()])

        self.write(principal, "e-mail preference", f"{email} {kind} {'off' if opted_out else 'on'}", work,
                   changes_data=False)

    def notification_opt_outs(self, email: str) -> set[str]:
        """The kinds ('digest', 'alert') this account turned off."""
        with self.cursor() as cursor:
            rows = cursor.execute("SELECT kind FROM notification_opt_outs WHERE email = ?",
                                  [str(email).strip().lower()]).fetchall()
        return {row[0] for row in rows}

    def notification_recipients(self) -> pd.DataFrame:
        """Every enabled account (email, role, rep_id) with its opt-outs as booleans."""
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT u.email, u.role, u.rep_id, "
                "EXISTS (SELECT 1 FROM notification_opt_outs o WHERE o.email = u.email AND o.kind = 'digest') AS no_digest, "
                "EXISTS (SELECT 1 FROM notification_opt_outs o WHERE o.email = u.email AND o.kind = 'alert') AS no_alert "
                "FROM users u WHERE NOT u.disabled ORDER BY u.email"
            ).df()

    # ------------------------------------------------------------------ scheduler passes
    def notification_run(self, run_date: date) -> dict[str, Any] | None:
        """The scheduler's pass for this as-of date, if one started."""
        with self.cursor() as cursor:
            result = cursor.execute("SELECT * FROM notification_runs WHERE run_date = ?", [run_date])
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        return dict(zip(columns, rows[0])) if rows else None

    def previous_notification_run(self, run_date: date) -> date | None:
        """The latest finished pass before ``run_date`` (alerts compare with it)."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT max(run_date) FROM notification_runs WHERE run_date < ? AND finished_at IS NOT NULL",
                [run_date],
            ).fetchall()
        value = rows[0][0] if rows else None
        return value if value is None or isinstance(value, date) else pd.Timestamp(value).date()

    def record_notification_run(self, run_date: date, *, sent: int, failed: int, finished: bool,
                                now: datetime | None = None) -> None:
        """Record a pass of the scheduler (finished: every due message is sent)."""
        moment = now or _now()

        def work(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM notification_runs WHERE run_date = ?", [run_date])
            cursor.execute("INSERT INTO notification_runs VALUES (?, ?, ?, ?, ?)",
                           [run_date, moment, moment if finished else None, sent, failed])

        self.write(_SYSTEM, "", "", work, changes_data=False)

    # ------------------------------------------------------------------ reads for the digest
    def _visible(self, principal: Principal, frame: pd.DataFrame) -> pd.DataFrame:
        # scoping in Python keeps the SQL portable (no array parameters)
        visible = self.visible_rep_ids(principal)
        if visible is None:
            return frame.reset_index(drop=True)
        return frame[frame["rep_id"].isin(visible)].reset_index(drop=True)

    def submitted_plans(self, principal: Principal, fy: int) -> pd.DataFrame:
        """Plans of the FY with status ``submitted`` (waiting for the manager's agreement) that the
        principal may see, other than the principal's own: rep_id, name, updated_at."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT p.rep_id, r.name, p.updated_at FROM plans p LEFT JOIN reps r ON r.rep_id = p.rep_id "
                "WHERE p.fy = ? AND p.status = 'submitted' ORDER BY p.rep_id",
                [fy],
            ).df()
        frame = self._visible(principal, frame)
        return frame[frame["rep_id"] != principal.rep_id].reset_index(drop=True)

    def last_uploads(self, principal: Principal) -> pd.DataFrame:
        """Per visible rep: the time of the latest actuals upload that is not undone and holds
        rows of the rep or was made by the rep's own email (rep_id, name, end_date, last_upload;
        NaT when there is none)."""
        with self.cursor() as cursor:
            reps = cursor.execute("SELECT rep_id, name, email, end_date FROM reps ORDER BY rep_id").df()
            by_rows = cursor.execute(
                "SELECT v.rep_id, max(b.uploaded_at) AS last_upload FROM actual_versions v "
                "JOIN upload_batches b ON b.batch_id = v.batch_id "
                "WHERE b.reverted_at IS NULL AND b.kind = 'actuals' GROUP BY v.rep_id"
            ).df()
            by_uploader = cursor.execute(
                "SELECT lower(uploaded_by) AS email, max(uploaded_at) AS last_upload FROM upload_batches "
                "WHERE reverted_at IS NULL AND kind = 'actuals' GROUP BY lower(uploaded_by)"
            ).df()
        reps = self._visible(principal, reps)
        rows = reps["rep_id"].map(dict(zip(by_rows["rep_id"], by_rows["last_upload"])))
        own = reps["email"].fillna("").str.lower().map(dict(zip(by_uploader["email"], by_uploader["last_upload"])))
        reps["last_upload"] = pd.to_datetime(pd.concat([rows, own], axis=1).max(axis=1))
        return reps[["rep_id", "name", "end_date", "last_upload"]]
