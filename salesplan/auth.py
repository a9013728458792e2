"""Passwords for the built-in accounts: argon2id through argon2-cffi (a vetted library, never a
home-made scheme), plus the lock-out policy."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MAX_FAILED_ATTEMPTS = 5
LOCKOUT_MINUTES = 15
LOCKOUT = timedelta(minutes=LOCKOUT_MINUTES)
WRONG_CREDENTIALS = "Wrong email or password."



# Set by the test suite only (tests/conftest.py): new hashes use argon2's cheapest parameters. The
# default cost (~0.2 s of CPU and 64 MB per hash or check) is the point in production and only time
# in a suite that creates and checks hundreds of passwords. A hash carries its own parameters, so
# every stored hash verifies either way; the name says what it is so that nobody sets it on a server.
INSECURE_TEST_HASHES_ENV = "SALESPLAN_INSECURE_TEST_HASHES"


@cache
def _hasher() -> PasswordHasher:
    # made on first use, not at import: commands that check no password (a report) skip argon2
    from argon2 import PasswordHasher, profiles

    if os.environ.get(INSECURE_TEST_HASHES_ENV) == "1":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # made on first use, not at import: every command would pay an argon2 hash (~0.1 s, 64 MB)
    return _hasher().hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def waste_time_like_a_check(password: str) -> bool:
    """Verify against a dummy hash so that an unknown email takes as long as a wrong password.
    Always False: no password matches an account that does not exist."""
    verify_password(_dummy_hash(), password)
    return False


def locked_message(until: datetime) -> str:
    return (
        f"Too many failed sign-ins: this account is locked until {until:%H:%M}. "
        "Try again later or ask an admin to reset the password."
    )
