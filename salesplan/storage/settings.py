"""Organisation settings: read them, change them (admin), and check values before they are stored."""

from __future__ import annotations

import json
from collections.abc import Mapping
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
from salesplan.storage.rates import LIVE_DEALS

# the refusal's advice in words that suit the Admin page and the command line alike (a page never
# names a command-line option); the command line adds its own on a line of its own (salesplan/cli.py)
RATES_UNDO_FIRST = "undo the rates batches first"


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
            stage_probabilities=_stage_pairs(values.get("stage_probabilities")),
            **_notification_settings(values, defaults),
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
            # the command-line option of the stage map sets one stage at a time, hence singular
            option = "stage-probability" if key == "stage_probabilities" else key.replace("_", "-")
            problems.append(f"--{option}: {error}")
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
    if key == "stage_probabilities":
        return _validate_stage_probabilities(value)
    if key in NOTIFICATION_SETTINGS:
        return _validate_notification_setting(key, value)
    raise ValueError(f"unknown setting {key}")


def _stage_pairs(stored: str | None) -> tuple[tuple[str, float], ...]:
    """The stored JSON object {stage: probability} as sorted (stage, probability) pairs."""
    if not stored:
        return ()
    return tuple(sorted((str(stage), float(p)) for stage, p in json.loads(stored).items()))


def _validate_stage_probabilities(value: Any) -> str:
    """The whole map of stage probabilities as stored JSON (it replaces the previous map).

    ``value`` is a mapping {stage: probability} or an iterable of "STAGE=P" texts; a probability
    is a fraction 0-1 or a percentage with a % sign ("60%"). Raises ValueError with the reason.
    """
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        items = []
        for text in value:
            stage, sep, probability = str(text).rpartition("=")
            if not sep:
                raise ValueError(f"use STAGE=P, e.g. Proposal=0.4 or 'Closing=80%', not {text!r}")
            items.append((stage, probability))
    result: dict[str, float] = {}
    seen: dict[str, str] = {}
    for stage, probability in items:
        name = " ".join(str(stage).split())
        if not name:
            raise ValueError(f"a stage needs a name (in {stage}={probability})")
        if len(name) > 100:
            raise ValueError(f"stage name {name[:20]!r}... is longer than 100 characters")
        key = name.lower()
        if key in seen:
            raise ValueError(f"stage {name!r} is given twice (also as {seen[key]!r})")
        seen[key] = name
        result[name] = _probability(probability, name)
    return json.dumps(result, sort_keys=True)


def _probability(value: Any, stage: str) -> float:
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"the probability of stage {stage!r} must be a number 0-1 or a percentage, not {text!r}") from None
    fraction = number / 100 if percent else number
    if not 0 <= fraction <= 1 or fraction != fraction:
        raise ValueError(
            f"the probability of stage {stage!r} must be between 0 and 1 (or 0% and 100%), not {text!r}"
        )
    return round(fraction, 6)


# ---------------------------------------------------------------------- e-mail settings
NOTIFICATION_SETTINGS = (
    "timezone", "digest_day", "digest_hour", "mail_from", "smtp_host", "smtp_port", "smtp_starttls",
    "smtp_user", "dashboard_url",
)


_WHOLE_NUMBERS = {"digest_hour": (0, 23, "an hour"), "smtp_port": (1, 65535, "a port number")}


def _notification_settings(values: dict[str, str], defaults: Settings) -> dict[str, Any]:
    """The e-mail settings as typed values (stored text -> Settings fields)."""
    out: dict[str, Any] = {}
    for key in NOTIFICATION_SETTINGS:
        if key not in values:
            continue
        text = values[key]
        if key == "digest_day":
            out[key] = WEEKDAY_NAMES.index(text)
        elif key in ("digest_hour", "smtp_port"):
            out[key] = int(text)
        elif key == "smtp_starttls":
            out[key] = text == "on"
        else:
            out[key] = text
    return out


def _validate_notification_setting(key: str, value: Any) -> str:
    """Check one e-mail setting and return its stored text; raises ValueError with the reason.
    An empty text clears the text settings (mail_from, smtp_host, smtp_user, dashboard_url)."""
    text = str(value).strip()
    if key == "timezone":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{text!r} is not a time zone name like Europe/Berlin or UTC") from None
        return text
    if key == "digest_day":
        name = text.title()[:3]
        if name not in WEEKDAY_NAMES:
            raise ValueError(f"use a weekday name like Mon, not {value!r}")
        return name
    if key in _WHOLE_NUMBERS:
        low, high, what = _WHOLE_NUMBERS[key]
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be {what} {low}-{high}, not {value}")
        return str(number)
    if key == "smtp_starttls":
        flag = text.lower()
        if flag in ("on", "true", "yes", "1"):
            return "on"
        if flag in ("off", "false", "no", "0"):
            return "off"
        raise ValueError(f"use on or off, not {value!r}")
    if key == "mail_from":
        from email.utils import parseaddr

        address = parseaddr(text)[1]
        if text and ("@" not in address or address.startswith("@") or address.endswith("@")):
            raise ValueError(f"{text!r} is not an e-mail address (e.g. Sales plan <plan@example.com>)")
        return text
    if key == "smtp_host":
        if any(ch.isspace() for ch in text) or "/" in text:
            raise ValueError(f"{text!r} is not a host name (no spaces, no scheme: smtp.example.com)")
        return text
    if key == "dashboard_url":
        if text and not text.startswith(("https://", "http://")) or " " in text:
            raise ValueError(f"{text!r} is not an http(s) address like https://plan.example.com")
        return text.rstrip("/")
    return text  # smtp_user: any text


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
            f"--base-currency: the stored rates are in units of {old}; {RATES_UNDO_FIRST} "
            "to change the base currency",
        )
    named = sorted(
        row[0]
        for row in cursor.execute(
            "SELECT DISTINCT currency FROM actuals WHERE currency IS NOT NULL "
            "UNION SELECT DISTINCT currency FROM targets WHERE currency IS NOT NULL "
            f"UNION SELECT DISTINCT currency FROM ({LIVE_DEALS}) d WHERE currency IS NOT NULL"
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
