"""Organisation settings: read them, change them (admin), and check values before they are stored."""

from __future__ import annotations

from typing import Any

from salesplan import policy
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
        )

    def save_settings(self, principal: Principal, **changes: Any) -> Settings:
        """Change settings; raises BadInput on an out-of-range value, NotAllowed unless admin."""
        policy.require(principal, "change_settings")
        stored = validate_settings(**changes)

        def work(cursor: Cursor) -> None:
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
    if key == "upload_limit_mb":
        limit = int(value)
        if not 1 <= limit <= 10_000:
            raise ValueError(f"must be 1-10000 MB, not {value}")
        return str(limit)
    raise ValueError(f"unknown setting {key}")
