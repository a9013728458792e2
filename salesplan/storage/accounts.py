"""Accounts and sign-in: users, roles, passwords, lock-out, sessions and server secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from salesplan import auth, policy
from salesplan.errors import (
    BadInput,
    NotAllowed,
    NotFound,
    Problem,
)
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase


class AccountStore(StoreBase):
    """Accounts and sign-in: users, roles, passwords, lock-out, sessions and server secrets."""

    # ------------------------------------------------------------------ users and sign-in
    def users(self, principal: Principal) -> pd.DataFrame:
        """Every account (never the password hashes). Admin only."""
        policy.require(principal, "manage_users")
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT email, role, rep_id, disabled, password_hash IS NOT NULL AS has_password, failed_attempts, "
                "locked_until, created_at, last_sign_in FROM users ORDER BY email"
            ).df()

    def has_admin(self) -> bool:
        """Whether an admin account was ever created (disabled ones count: disabling every admin
        must not reopen the first-admin form to anyone; recover with ``salesplan user add``)."""
        with self.cursor() as cursor:
            return bool(cursor.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchall()[0][0])

    def has_ever_had_account(self) -> bool:
        """Whether any account was ever created in this database, even one later disabled or
        demoted. Only a database that never had one may offer the "create the first admin" form:
        anything else would hand the organisation to whoever opens the sign-in page."""
        with self.cursor() as cursor:
            return _had_account(cursor)

    def add_user(
        self, principal: Principal, email: str, role: str, *, rep_id: str | None = None, password: str | None = None
    ) -> None:
        """Create an account. Raises NotAllowed unless admin (or creating the very first admin of a
        database that never had an account), BadInput on an invalid email, role, unknown rep_id or
        an existing account."""
        first_admin = role == "admin" and not policy.may(principal, "manage_users") and not self.has_ever_had_account()
        if not first_admin:
            policy.require(principal, "manage_users")
        email = self._check_user_fields(email, role, rep_id)
        if password is not None and len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        password_hash = auth.hash_password(password) if password else None

        def work(cursor: Cursor) -> None:
            if first_admin and _had_account(cursor):
                # two visitors raced to create the first admin: the second is refused
                raise NotAllowed("An account exists already; ask an admin.")
            if cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
                raise BadInput.single("user", f"{email} already has an account", column="email")
            cursor.execute(
                "INSERT INTO users (email, role, rep_id, password_hash, created_at) VALUES (?, ?, ?, ?, localtimestamp)",
                [email, role, rep_id, password_hash],
            )
            cursor.execute(
                "INSERT INTO meta VALUES ('had_account', 1) ON CONFLICT (key) DO UPDATE SET value = 1"
            )

        self.write(principal, "add user", f"{email} as {role}", work, changes_data=False)

    def set_user_role(self, principal: Principal, email: str, role: str, *, rep_id: str | None = None) -> None:
        """Change an account's role (and rep). Its sign-in sessions end (a demoted user's cookie
        must not keep the old rights). Raises NotAllowed unless admin, NotFound for no account,
        BadInput for an invalid role or rep_id, or when it would leave no enabled admin."""
        policy.require(principal, "manage_users")
        email = self._check_user_fields(email, role, rep_id)

        def work(cursor: Cursor) -> None:
            _require_account(cursor, email)
            if role != "admin":
                _keep_an_enabled_admin(cursor, email, "change the role of")
            cursor.execute(
                "UPDATE users SET role = ?, rep_id = ?, sessions_valid_after = ? WHERE email = ?",
                [role, rep_id, _utc_now(), email],
            )

        self.write(principal, "set role", f"{email} to {role}", work, changes_data=False)

    def disable_user(self, principal: Principal, email: str, *, disabled: bool = True) -> None:
        """Disable (or enable) an account; a disabled account's sessions end. Raises NotAllowed
        unless admin, NotFound for no account, BadInput for the last enabled admin."""
        policy.require(principal, "manage_users")
        email = email.strip().lower()

        def work(cursor: Cursor) -> None:
            _require_account(cursor, email)
            if disabled:
                _keep_an_enabled_admin(cursor, email, "disable")
            cursor.execute(
                "UPDATE users SET disabled = ?, sessions_valid_after = ? WHERE email = ?", [disabled, _utc_now(), email]
            )

        self.write(principal, "disable user" if disabled else "enable user", email, work, changes_data=False)

    def set_password(self, principal: Principal, email: str, password: str) -> None:
        """Admins set anyone's password; a user sets their own. Clears a lock-out."""
        email = email.strip().lower()
        policy.require(principal, "set_password", email=email)
        if len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        self._update_user(principal, email, "set password", email,
                          "UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL, "
                          "sessions_valid_after = ? WHERE email = ?",
                          [auth.hash_password(password), _utc_now(), email])

    def _update_user(self, principal: Principal, email: str, action: str, detail: str, sql: str, params: list[Any]) -> None:
        def work(cursor: Cursor) -> None:
            _require_account(cursor, email)
            cursor.execute(sql, params)

        self.write(principal, action, detail, work, changes_data=False)

    def _check_user_fields(self, email: str, role: str, rep_id: str | None) -> str:
        from salesplan.principal import ROLES

        email = str(email).strip().lower()
        problems = []
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            problems.append(Problem("user", None, "email", f"{email!r} is not an email address"))
        if role not in ROLES:
            problems.append(Problem("user", None, "role", f"role must be one of {', '.join(ROLES)}, not {role!r}"))
        if role in ("manager", "rep") and not rep_id:
            problems.append(Problem("user", None, "rep_id", f"a {role} account needs the rep_id it belongs to"))
        if rep_id:
            with self.cursor() as cursor:
                if not cursor.execute("SELECT count(*) FROM reps WHERE rep_id = ?", [rep_id]).fetchall()[0][0]:
                    problems.append(Problem("user", None, "rep_id", f"unknown rep_id {rep_id!r}"))
        if problems:
            raise BadInput(problems)
        return email

    def server_secret(self, name: str = "session") -> str:
        """A random secret kept in the database (created on first use), e.g. to sign sign-in
        cookies so that a session survives a page refresh and a restart of the dashboard."""
        key = f"secret:{name}"
        with self.cursor() as cursor:
            rows = cursor.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
        if rows:
            return rows[0][0]
        import secrets as _secrets

        value = _secrets.token_urlsafe(32)

        def work(cursor: Cursor) -> None:
            cursor.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO NOTHING", [key, value])

        self.write(Principal("system", "system"), "", "", work, changes_data=False)
        with self.cursor() as cursor:
            return cursor.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()[0][0]

    def sessions_valid_after(self, email: str) -> datetime | None:
        """Sign-in sessions (cookies) of this account issued before this moment (naive UTC) are
        void: set when its password changes or it is disabled."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT sessions_valid_after FROM users WHERE email = ?", [str(email).strip().lower()]
            ).fetchall()
        return rows[0][0] if rows else None

    def principal_for_email(self, email: str) -> Principal | None:
        """The principal of an enabled account, e.g. for an email signed in through OIDC."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT email, role, rep_id FROM users WHERE email = ? AND NOT disabled", [str(email).strip().lower()]
            ).fetchall()
        return Principal(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def authenticate(self, email: str, password: str, *, now: datetime | None = None) -> Principal:
        """Check a built-in account's password.

        Raises NotAllowed with the same message for an unknown email, a disabled account or a
        wrong password, after the same argon2 work (no account enumeration, by text or by time),
        and a lock-out message after ``auth.MAX_FAILED_ATTEMPTS`` failures in a row, for
        ``auth.LOCKOUT_MINUTES`` minutes: unknown emails are counted and locked alike. Failures
        are counted by one atomic increment each, so parallel attempts lock the account too.
        """
        email = str(email).strip().lower()
        moment = now or datetime.now()
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT role, rep_id, password_hash, disabled, locked_until FROM users WHERE email = ?", [email]
            ).fetchall()
            if not rows:
                unknown = cursor.execute("SELECT locked_until FROM unknown_sign_ins WHERE email = ?", [email]).fetchall()
        if rows:
            role, rep_id, password_hash, disabled, locked_until = rows[0]
        else:
            role, rep_id, password_hash, disabled = None, None, None, True
            locked_until = unknown[0][0] if unknown else None
        if locked_until is not None and locked_until > moment:
            raise NotAllowed(auth.locked_message(locked_until))
        # the same argon2 work whatever the account: a missing hash is checked against a dummy one
        matches = auth.verify_password(password_hash, password) if password_hash else auth.waste_time_like_a_check(password)
        if disabled or not matches:
            table = "users" if rows else "unknown_sign_ins"
            lock = self.write(Principal(email, "system"), "", email,
                              lambda cursor: _record_failure(cursor, table, email, moment), changes_data=False,
                              exclusive=False)
            raise NotAllowed(auth.locked_message(lock) if lock is not None else auth.WRONG_CREDENTIALS)

        def record_success(cursor: Cursor) -> None:
            # checked again in the transaction: parallel wrong attempts may have locked it meanwhile
            locked = cursor.execute("SELECT locked_until FROM users WHERE email = ?", [email]).fetchall()[0][0]
            if locked is not None and locked > moment:
                raise NotAllowed(auth.locked_message(locked))
            cursor.execute(
                "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in = ? WHERE email = ?",
                [moment, email],
            )

        self.write(Principal(email, role), "", email, record_success, changes_data=False, exclusive=False)
        return Principal(email, role, rep_id)

    def clear_lockout(self, principal: Principal, email: str) -> None:
        """End an account's lock-out and reset its failed sign-ins (the Admin page's button).
        Audited. Raises NotAllowed unless admin, NotFound when there is no such account."""
        policy.require(principal, "clear_lockout")
        email = str(email).strip().lower()
        self._update_user(principal, email, "clear lock-out", email,
                          "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE email = ?", [email])

    def revoke_session(self, token_digest: str, expires_at: datetime) -> None:
        """Remember that a sign-in session (a cookie, by the digest of its token) was signed out,
        until it would have expired anyway (``expires_at``, UTC; an aware time is converted). The
        revocation survives a restart of the dashboard. Expired revocations are purged here.
        Raises BadInput for an empty or over-long digest."""
        digest = _check_digest(token_digest)
        until = expires_at.astimezone(UTC).replace(tzinfo=None) if expires_at.tzinfo else expires_at
        now = _utc_now()

        def work(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", [now])
            cursor.execute(
                "INSERT INTO revoked_sessions VALUES (?, ?) ON CONFLICT (token_digest) DO UPDATE "
                "SET expires_at = excluded.expires_at",
                [digest, until],
            )

        self.write(Principal("system", "system"), "", "", work, changes_data=False, exclusive=False)

    def is_session_revoked(self, token_digest: str) -> bool:
        """Whether this session (by the digest of its token) was signed out. Raises BadInput for
        an empty or over-long digest."""
        digest = _check_digest(token_digest)
        with self.cursor() as cursor:
            return bool(cursor.execute(
                "SELECT count(*) FROM revoked_sessions WHERE token_digest = ?", [digest]
            ).fetchall()[0][0])


def _record_failure(cursor: Cursor, table: str, email: str, moment: datetime) -> datetime | None:
    """Count one failed sign-in with a single atomic increment; lock at the limit. Returns the
    lock's end when this failure locked the account. ``table`` is one of two constants, never
    input: ``users`` for an account, ``unknown_sign_ins`` for an email without one."""
    assert table in ("users", "unknown_sign_ins")
    if table == "users":
        failed = cursor.execute(
            "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE email = ? RETURNING failed_attempts", [email]
        ).fetchall()[0][0]
    else:
        # rows of emails nobody tried for a lock-out period go, so the table stays small
        cursor.execute(
            "DELETE FROM unknown_sign_ins WHERE last_failed_at < ? AND (locked_until IS NULL OR locked_until < ?)",
            [moment - auth.LOCKOUT, moment],
        )
        failed = cursor.execute(
            "INSERT INTO unknown_sign_ins VALUES (?, 1, NULL, ?) ON CONFLICT (email) DO UPDATE "
            "SET failed_attempts = unknown_sign_ins.failed_attempts + 1, last_failed_at = excluded.last_failed_at "
            "RETURNING failed_attempts",
            [email, moment],
        ).fetchall()[0][0]
    if failed < auth.MAX_FAILED_ATTEMPTS:
        return None
    lock = moment + auth.LOCKOUT
    cursor.execute(f"UPDATE {table} SET failed_attempts = 0, locked_until = ? WHERE email = ?", [lock, email])
    cursor.execute("INSERT INTO audit_log VALUES (localtimestamp, ?, 'sign-in locked', ?)", [email, email])
    return lock


def _check_digest(token_digest: str) -> str:
    digest = str(token_digest or "").strip()
    if not digest or len(digest) > 256:
        raise BadInput.single("session", "a session token digest must be 1-256 characters", column="token_digest")
    return digest


def _had_account(cursor: Cursor) -> bool:
    rows = cursor.execute("SELECT value FROM meta WHERE key = 'had_account'").fetchall()
    if rows and rows[0][0]:
        return True
    return bool(cursor.execute("SELECT count(*) FROM users").fetchall()[0][0])


def _require_account(cursor: Cursor, email: str) -> None:
    if not cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
        raise NotFound(f"There is no account {email}.")


def _keep_an_enabled_admin(cursor: Cursor, email: str, what: str) -> None:
    """Refuse a change that takes away the last enabled admin (checked in the changing
    transaction, so two admins demoting each other at once cannot both succeed)."""
    is_enabled_admin = cursor.execute(
        "SELECT count(*) FROM users WHERE email = ? AND role = 'admin' AND NOT disabled", [email]
    ).fetchall()[0][0]
    if not is_enabled_admin:
        return
    others = cursor.execute(
        "SELECT count(*) FROM users WHERE email <> ? AND role = 'admin' AND NOT disabled", [email]
    ).fetchall()[0][0]
    if not others:
        raise BadInput.single(
            "user", f"{email} is the last enabled admin: add or enable another admin before you {what} this account",
            column="email",
        )


def _utc_now() -> datetime:
    """Now in UTC without a time zone, as the sign-in tokens' timestamps are compared."""

    return datetime.now(UTC).replace(tzinfo=None)
