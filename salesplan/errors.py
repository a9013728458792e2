"""Small named exceptions. Everything the core raises on purpose derives from SalesplanError."""

from __future__ import annotations

from dataclasses import dataclass


class SalesplanError(Exception):
    """Base class of every error salesplan raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and why it is refused."""

    file: str
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class BadInput(SalesplanError):
    """An input (file, form or argument) was refused; nothing was changed.

    ``problems`` lists every problem found, each with file, line, column and reason.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "bad input"
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__(first + more)

    @classmethod
    def single(cls, file: str, reason: str, line: int | None = None, column: str | None = None) -> "BadInput":
        return cls([Problem(file, line, column, reason)])


class DatabaseLocked(SalesplanError):
    """The database file is held by another process (usually the running dashboard)."""


class NotAllowed(SalesplanError):
    """The principal's role does not allow this read or write."""


class NotFound(SalesplanError):
    """A named thing (batch, rep, plan...) does not exist."""
