"""The storage interfaces of administration and access: audit, accounts, backup, scope.

Part of :mod:`salesplan.storage.interfaces` (see its docstring for the errors every method may raise).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from salesplan.principal import Principal
from salesplan.storage.records import Manifest


class AuditStorage(Protocol):
    """Audit log, counts and snapshots, remembered column mappings."""

    def audit_log(self, principal: Principal, *, limit: int = 500) -> pd.DataFrame:
        """The newest audit lines (logged_at, actor, action, detail). Raises NotAllowed unless admin."""
        ...

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table: used by tests to prove an import changed nothing.

        Raises nothing of its own.
        """
        ...

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table except the audit log, sorted: for exact before/after comparisons in tests.

        Raises nothing of its own.
        """
        ...

    @staticmethod
    def header_signature(header: list[str]) -> str:
        """The key a mapping is remembered under: the file's headers, normalised, in order.

        Raises nothing.
        """
        ...

    def save_column_map(self, principal: Principal, kind: str, header: list[str], mapping: dict[str, str], *,
                        date_format: str | None = None, decimal: str | None = None) -> None:
        """Remember, for this user only, how a file with these headers maps to fields, and the date
        format and decimal separator ("point" or "comma") they stated for it (None: recognise it),
        for their next upload of its kind. Raises NotAllowed for a leader (read-only).
        """
        ...

    def column_choices(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str | None] | None:
        """The date format and decimal separator this user stated with the mapping of files of this
        kind with exactly these headers (``{"date_format": ..., "decimal": ...}``, None where they
        let the file decide), or None when they saved nothing for it. Raises nothing of its own.
        """
        ...

    def column_map(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str] | None:
        """The mapping this user remembered for files of this kind with exactly these headers, if
        any. Another user's mapping is never applied: it would silently re-read someone's upload.
        Raises nothing of its own.
        """
        ...

class AccountStorage(Protocol):
    """Accounts, sign-in, sessions and secrets."""

    def users(self, principal: Principal) -> pd.DataFrame:
        """Every account (never the password hashes). Admin only.

        Raises NotAllowed unless admin.
        """
        ...

    def has_admin(self) -> bool:
        """Whether an admin account was ever created (disabled ones count: disabling every admin
        must not reopen the first-admin form to anyone; recover with ``salesplan user add``).
        Raises nothing of its own.
        """
        ...

    def has_ever_had_account(self) -> bool:
        """Whether any account was ever created in this database, even one later disabled or
        demoted. Only a database that never had one may offer the "create the first admin" form:
        anything else would hand the organisation to whoever opens the sign-in page.
        Raises nothing of its own.
        """
        ...

    def add_user(self, principal: Principal, email: str, role: str, *, rep_id: str | None = None, password: str | None = None) -> None:
        """Create an account. Raises NotAllowed unless admin (or creating the very first admin of a
        database that never had an account), BadInput on an invalid email, role, unknown rep_id or
        an existing account.
        """
        ...

    def set_user_role(self, principal: Principal, email: str, role: str, *, rep_id: str | None = None) -> None:
        """Change an account's role (and rep). Its sign-in sessions end (a demoted user's cookie
        must not keep the old rights). Raises NotAllowed unless admin, NotFound for no account,
        BadInput for an invalid role or rep_id, or when it would leave no enabled admin.
        """
        ...

    def disable_user(self, principal: Principal, email: str, *, disabled: bool = True) -> None:
        """Disable (or enable) an account; a disabled account's sessions end. Raises NotAllowed
        unless admin, NotFound for no account, BadInput for the last enabled admin.
        """
        ...

    def set_password(self, principal: Principal, email: str, password: str) -> None:
        """Admins set anyone's password; a user sets their own. Clears a lock-out.

        Raises NotAllowed (another user's password, not admin), BadInput (too short), NotFound (no account).
        """
        ...

    def server_secret(self, name: str = 'session') -> str:
        """A random secret kept in the database (created on first use), e.g. to sign sign-in
        cookies so that a session survives a page refresh and a restart of the dashboard.
        Raises nothing of its own.
        """
        ...

    def sessions_valid_after(self, email: str) -> datetime | None:
        """Sign-in sessions (cookies) of this account issued before this moment (naive UTC) are
        void: set when its password changes or it is disabled.
        Raises nothing of its own (None for an unknown email).
        """
        ...

    def principal_for_email(self, email: str) -> Principal | None:
        """The principal of an enabled account, e.g. for an email signed in through OIDC.

        Raises nothing of its own (None for an unknown or disabled account).
        """
        ...

    def authenticate(self, email: str, password: str, *, now: datetime | None = None) -> Principal:
        """Check a built-in account's password (see AccountStore.authenticate).

        Raises NotAllowed, with one message for an unknown email, a disabled account or a wrong
        password, and a lock-out message after too many failures in a row.
        """
        ...

    def clear_lockout(self, principal: Principal, email: str) -> None:
        """End an account's lock-out and reset its failed sign-ins (the Admin page's button).
        Audited. Raises NotAllowed unless admin, NotFound when there is no such account.
        """
        ...

    def revoke_session(self, token_digest: str, expires_at: datetime) -> None:
        """Remember that a sign-in session (a cookie, by the digest of its token) was signed out,
        until it would have expired anyway (``expires_at``, UTC; an aware time is converted). The
        revocation survives a restart of the dashboard. Expired revocations are purged here.
        Raises BadInput for an empty or over-long digest.
        """
        ...

    def is_session_revoked(self, token_digest: str) -> bool:
        """Whether this session (by the digest of its token) was signed out. Raises BadInput for
        an empty or over-long digest.
        """
        ...


class BackupStorage(Protocol):
    """Backup and restore."""

    def backup(self, principal: Principal, folder: str | os.PathLike[str]) -> Manifest:
        """Write a consistent snapshot into an empty folder (see BackupStore.backup); returns
        the manifest.

        Raises NotAllowed unless admin, BadInput when the folder holds a backup or cannot be written.
        """
        ...

    def restore(self, principal: Principal, folder: str | os.PathLike[str]) -> Manifest:
        """Rebuild this empty database from a backup folder (see BackupStore.restore); returns
        the manifest.

        Raises NotAllowed unless admin, BadInput on a damaged, tampered or foreign backup or a
        non-empty database.
        """
        ...

class ScopeStorage(Protocol):
    """Role scoping and the data version."""

    def schema_version(self) -> int:
        """The newest migration applied. Raises nothing of its own."""
        ...

    def data_version(self) -> int:
        """A number that changes with every write: the cache key of every cached read.

        Raises nothing of its own.
        """
        ...

    def visible_rep_ids(self, principal: Principal) -> set[str] | None:
        """The rep_ids this principal may read, or None for everyone.

        A manager sees the reps under them, directly or through other managers, and themself.
        Raises nothing of its own.
        """
        ...

    def require_rep_access(self, principal: Principal, rep_id: str, *, write: bool = False) -> None:
        """Raise NotAllowed unless the principal may read (or write) this rep's data."""
        ...
