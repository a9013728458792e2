"""Accounts and sign-in: users, roles, passwords, lock-out, sessions and server secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from salesplan import auth
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
        self._require_admin(principal, "Managing users")
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

    def add_user(
        self, principal: Principal, email: str, role: str, *, rep_id: str | None = None, password: str | None = None
    ) -> None:
        """Create an account. Raises NotAllowed unless admin (or creating the very first admin),
        BadInput on an invalid email, role, unknown rep_id or an existing account."""
        first_admin = role == "admin" and not self.has_admin()
        if not first_admin:
            self._require_admin(principal, "Managing users")
        email = self._check_user_fields(email, role, rep_id)
        if password is not None and len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        password_hash = auth.hash_password(password) if password else None

        def work(cursor: Cursor) -> None:
            if first_admin and not principal.may_administer and cursor.execute(
                "SELECT count(*) FROM users WHERE role = 'admin'"
            ).fetchall()[0][0]:
                # two visitors raced to create the first admin: the second is refused
                raise NotAllowed("An admin account exists already; ask an admin.")
            if cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
                raise BadInput.single("user", f"{email} already has an account", column="email")
            cursor.execute(
                "INSERT INTO users (email, role, rep_id, password_hash, created_at) VALUES (?, ?, ?, ?, localtimestamp)",
                [email, role, rep_id, password_hash],
            )

        self.write(principal, "add user", f"{email} as {role}", work, changes_data=False)

    def set_user_role(self, principal: Principal, email: str, role: str, *, rep_id: str | None = None) -> None:
        self._require_admin(principal, "Managing users")
        email = self._check_user_fields(email, role, rep_id)
        self._update_user(principal, email, "set role", f"{email} to {role}",
                          "UPDATE users SET role = ?, rep_id = ? WHERE email = ?", [role, rep_id, email])

    def disable_user(self, principal: Principal, email: str, *, disabled: bool = True) -> None:
        """Disable (or enable) an account. Raises BadInput for the last enabled admin."""
        self._require_admin(principal, "Managing users")
        email = email.strip().lower()
        if disabled:
            with self.cursor() as cursor:
                admins = [row[0] for row in cursor.execute(
                    "SELECT email FROM users WHERE role = 'admin' AND NOT disabled").fetchall()]
            if admins == [email]:
                raise BadInput.single("user", f"{email} is the last enabled admin; add another admin first", column="email")
        self._update_user(principal, email, "disable user" if disabled else "enable user", email,
                          "UPDATE users SET disabled = ?, sessions_valid_after = ? WHERE email = ?",
                          [disabled, _utc_now(), email])

    def set_password(self, principal: Principal, email: str, password: str) -> None:
        """Admins set anyone's password; a user sets their own. Clears a lock-out."""
        email = email.strip().lower()
        if principal.email.lower() != email:
            self._require_admin(principal, "Setting another user's password")
        if len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        self._update_user(principal, email, "set password", email,
                          "UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL, "
                          "sessions_valid_after = ? WHERE email = ?",
                          [auth.hash_password(password), _utc_now(), email])

    def _update_user(self, principal: Principal, email: str, action: str, detail: str, sql: str, params: list[Any]) -> None:
        def work(cursor: Cursor) -> None:
            if not cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
                raise NotFound(f"There is no account {email}.")
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

        Raises NotAllowed with the same message for an unknown email or a wrong password (no
        account enumeration), and a lock-out message after ``auth.MAX_FAILED_ATTEMPTS`` failures
        in a row, for ``auth.LOCKOUT_MINUTES`` minutes.
        """
        email = str(email).strip().lower()
        moment = now or datetime.now()
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT role, rep_id, password_hash, disabled, failed_attempts, locked_until FROM users WHERE email = ?",
                [email],
            ).fetchall()
        if not rows:
            auth.waste_time_like_a_check(password)
            raise NotAllowed(auth.WRONG_CREDENTIALS)
        role, rep_id, password_hash, disabled, failed, locked_until = rows[0]
        if locked_until is not None and locked_until > moment:
            raise NotAllowed(auth.locked_message(locked_until))
        if disabled or not password_hash or not auth.verify_password(password_hash, password):
            failed = (failed or 0) + 1
            lock = moment + auth.LOCKOUT if failed >= auth.MAX_FAILED_ATTEMPTS else None

            def record_failure(cursor: Cursor) -> None:
                cursor.execute(
                    "UPDATE users SET failed_attempts = ?, locked_until = ? WHERE email = ?",
                    [0 if lock else failed, lock, email],
                )

            self.write(Principal(email, "system"), "sign-in locked" if lock else "", email, record_failure,
                       changes_data=False)
            raise NotAllowed(auth.locked_message(lock) if lock else auth.WRONG_CREDENTIALS)

        def record_success(cursor: Cursor) -> None:
            cursor.execute(
                "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in = ? WHERE email = ?",
                [moment, email],
            )

        self.write(Principal(email, role), "", email, record_success, changes_data=False)
        return Principal(email, role, rep_id)



def _utc_now() -> datetime:
    """Now in UTC without a time zone, as the sign-in tokens' timestamps are compared."""

    return datetime.now(UTC).replace(tzinfo=None)
