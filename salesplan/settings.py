"""Organisation settings of SPEC §5 and §2 (fiscal year, working weekdays, thresholds)."""

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
    # ISO 4217 code amounts are reported in; '' = a single-currency organisation (docs/currencies.md)
    base_currency: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def weekmask(self) -> str:
        """numpy busday weekmask, e.g. '1111100' for Mon-Fri."""
        return "".join("1" if i in self.working_weekdays else "0" for i in range(7))

    @property
    def working_weekday_names(self) -> str:
        return ",".join(WEEKDAY_NAMES[i] for i in sorted(self.working_weekdays))
