"""Who is asking. Every store read and write takes a Principal, so role scoping lives in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "leader", "manager", "rep", "system"]
ROLES: tuple[str, ...] = ("admin", "leader", "manager", "rep")


@dataclass(frozen=True)
class Principal:
    """The viewing or acting user.

    ``rep_id`` links a manager or rep account to their row in the reps table.
    ``system`` is the command line and the demo loader: it may do everything.
    """

    email: str
    role: Role
    rep_id: str | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role in ("admin", "leader", "system")

    @property
    def may_administer(self) -> bool:
        return self.role in ("admin", "system")


SYSTEM = Principal(email="system", role="system")
