"""Organisation settings: read them, change them (admin), and check values before they are stored."""

from __future__ import annotations

from typing import Any

from salesplan import policy
from salesplan.currency import validate_code
from salesplan.errors import (
    BadInput,
)
from salesplan.principal import Principal
from salesplan.settings import WEEKDAY_NAMES, Settings
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase


class SettingsStore(StoreBase):
    """Organisation settings: read them, change them (admin), and check values before they are stored."""

    # ------------------------------------------------------------------ settings
    def settings(self) -> Settings:
        with self.cursor() as cursor:
            values = dict(cursor.execute("SELECT key, value FROM settings").fetchall())
        defaults = Settings()
        weekdays = values.get("working_weekdays")
        return Settings(
            fy_start_month=int(values.get("fy_start_month", defaults.fy_start_month)),
            working_weekdays=(
                tuple(WEEKDAY_NAMES.index(name) for name in weekdays.split(",") if name)
                if weekdays
                else defaults.working_weekdays
            ),
            window=int(values.get("window", defaults.window)),
            at_risk=float(values.get("at_risk", defaults.at_risk)),
            grace=float(values.get("grace", defaults.grace)),
            upload_limit_mb=int(values.get("upload_limit_mb", defaults.upload_limit_mb)),
            base_currency=values.get("base_currency", defaults.base_currency),
        )

    def save_settings(self, principal: Principal, **changes: Any) -> Settings:
        """Change settings; raises BadInput on an out-of-range value or a base currency change
        that would leave stored amounts without a rate (docs/currencies.md), NotAllowed unless admin."""
        policy.require(principal, "change_settings")
        stored = validate_settings(**changes)

        def work(cursor: Cursor) -> None:
            if "base_currency" in stored:
                _check_base_currency_change(cursor, stored["base_currency"])
            for key, value in stored.items():
                cursor.execute(
                    "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

        if stored:
            self.write(principal, "settings", ", ".join(f"{k}={v}" for k, v in stored.items()), work)
        return self.settings()


def validate_settings(**changes: Any) -> dict[str, str]:
    """The stored text of each given setting (None values skipped); raises BadInput naming every
    out-of-range value, before anything is written."""
    stored: dict[str, str] = {}
    problems = []
    for key, value in changes.items():
        if value is None:
            continue
        try:
            stored[key] = _validate_setting(key, value)
        except ValueError as error:
            problems.append(f"--{key.replace('_', '-')}: {error}")
    if problems:
        raise BadInput.single("settings", "; ".join(problems))
    return stored


def _validate_setting(key: str, value: Any) -> str:
    """Check one setting and return its stored text; raises ValueError with the reason."""
    if key == "fy_start_month":
        month = int(value)
        if not 1 <= month <= 12:
            raise ValueError(f"must be a month number 1-12, not {value}")
        return str(month)
    if key == "working_weekdays":
        names = [part.strip().title()[:3] for part in str(value).split(",") if part.strip()]
        unknown = [name for name in names if name not in WEEKDAY_NAMES]
        if unknown or not names:
            raise ValueError(f"use weekday names like Mon,Tue,Wed; not {value!r}")
        return ",".join(sorted(set(names), key=WEEKDAY_NAMES.index))
    if key == "window":
        window = int(value)
        if not 1 <= window <= 520:
            raise ValueError(f"must be 1-520 working days, not {value}")
        return str(window)
    if key in ("at_risk", "grace"):
        fraction = float(value)
        if not 0 <= fraction <= 1:
            raise ValueError(f"must be a fraction between 0 and 1 (0.9, not 90), not {value}")
        return repr(fraction)
    if key == "base_currency":
        return validate_code(value, allow_empty=True)
    if key == "upload_limit_mb":
        limit = int(value)
        if not 1 <= limit <= 10_000:
            raise ValueError(f"must be 1-10000 MB, not {value}")
        return str(limit)
    raise ValueError(f"unknown setting {key}")


def _check_base_currency_change(cursor: Cursor, new: str) -> None:
    """Raise BadInput when the base currency may not become ``new``: stored rates are in units
    of the old base, and stored amounts in another currency would have no rate."""
    rows = cursor.execute("SELECT value FROM settings WHERE key = 'base_currency'").fetchall()
    old = rows[0][0] if rows else ""
    if new == old:
        return
    if cursor.execute("SELECT count(*) FROM rates").fetchall()[0][0]:
        raise BadInput.single(
            "settings",
            f"--base-currency: the stored rates are in units of {old}; undo the rates batches first "
            "(salesplan uploads --undo ID) to change the base currency",
        )
    named = sorted(
        row[0]
        for row in cursor.execute(
            "SELECT DISTINCT currency FROM actuals WHERE currency IS NOT NULL "
            "UNION SELECT DISTINCT currency FROM targets WHERE currency IS NOT NULL"
        ).fetchall()
    )
    # without a base currency one named currency is the organisation's own; with one, every
    # other currency needs rates, which can only be imported once the base is set
    if (not new and len(named) > 1) or (new and any(code != new for code in named)):
        named = [code for code in named if code != new]
        raise BadInput.single(
            "settings",
            f"--base-currency: stored amounts are in {', '.join(named)}, which would have no rate in "
            f"{new or 'a single-currency organisation'}; set the base currency to that currency, or undo those uploads first",
        )
