"""Organisation settings of docs/numbers.md and docs/index.md (fiscal year, working weekdays, thresholds)."""

from __future__ import annotations

from dataclasses import dataclass, field

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Settings:
    """The settings the engine depends on.

    ``working_weekdays`` holds Python weekday numbers (Mon=0 ... Sun=6).
    """

    fy_start_month: int = 1
    working_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    window: int = 65
    at_risk: float = 0.90
    grace: float = 0.10
    upload_limit_mb: int = 200
    # the probability (0-1) of an open deal in each stage, for deals files without a probability
    # column; pairs (stage as written by the admin, probability), sorted by stage
    stage_probabilities: tuple[tuple[str, float], ...] = ()
    # e-mail digest and alerts (docs/notifications.md); the SMTP password is never a setting
    timezone: str = "UTC"
    digest_day: int = 0  # Python weekday number, Mon=0
    digest_hour: int = 7
    mail_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    dashboard_url: str = ""
    # ISO 4217 code amounts are reported in; '' = a single-currency organisation (docs/currencies.md)
    base_currency: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def weekmask(self) -> str:
        """numpy busday weekmask, e.g. '1111100' for Mon-Fri."""
        return "".join("1" if i in self.working_weekdays else "0" for i in range(7))

    def stage_probability(self, stage: str | None) -> float | None:
        """The probability set for a stage (matched case- and space-insensitively), or None."""
        if stage is None:
            return None
        key = " ".join(str(stage).split()).lower()
        return next((p for name, p in self.stage_probabilities if " ".join(name.split()).lower() == key), None)

    @property
    def working_weekday_names(self) -> str:
        return ",".join(WEEKDAY_NAMES[i] for i in sorted(self.working_weekdays))
