"""How far to trust the warnings on this organisation's own history (docs/numbers.md, "Backtest").

Every past fiscal year is replayed week by week: at every Sunday of the year each owner's
full-year status and chance_to_reach are computed as they would have been that day (only actuals
dated on or before the Sunday; the chance only from periods that had ended by then), and held
against how the year really ended (missed = actual at the year's end below the target).

Reported: per status, how many weekly checks and how often a miss followed; the precision of
``too_late`` (share of too_late checks whose owner missed); how many of the owners that missed were
flagged ``off_track`` or ``too_late`` at least 8 weeks before the year's end, and the median lead
(weeks from the first such flag to the end); and the calibration of chance_to_reach: the checks
grouped in equal-width bins of the predicted chance, the mean predicted chance against the share
that reached the target, and the mean gap over the bins that hold checks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesplan.calendar import fiscal_year_bounds, fiscal_year_of, periods
from salesplan.engine.common import LEVELS, METRICS, PASSED, STATUSES, _check_choice
from salesplan.engine.numbers import _compute
from salesplan.engine.prep import _prepare
from salesplan.errors import BadInput
from salesplan.inputs import EngineInputs

CHECK_COLUMNS = ["fy", "owner_id", "check_date", "weeks_to_end", "status", "chance_to_reach", "rule2", "missed"]
LEAD_WEEKS = 8  # a miss flagged this many weeks before the end counts as flagged in time
# Below these counts the figures are not yet reliable: the weekly checks of one owner in one year
# move together, so a rate rests on owner-years (and the misses among them), not on weekly checks
# (docs/decisions.md, "Small samples on the Warning track record").
MIN_OWNER_YEARS = 30
MIN_MISSES = 10
FLAG_STATUSES = ("off_track", "too_late")


@dataclass
class BacktestResult:
    """The backtest: ``summary`` (plain numbers, see :func:`backtest`), ``by_status`` (status,
    checks, misses, miss_rate), ``calibration`` (bin, low, high, checks, predicted, observed) and
    ``checks`` (one row per owner and weekly check: fy, owner_id, check_date, weeks_to_end,
    status, chance_to_reach, missed)."""

    summary: dict[str, Any]
    by_status: pd.DataFrame
    calibration: pd.DataFrame
    checks: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Every number in one long frame (section, name, value) for csv/json output."""
        rows: list[tuple[str, str, Any]] = [("summary", k, v) for k, v in self.summary.items()]
        for r in self.by_status.itertuples(index=False):
            rows += [("status", f"{r.status}.checks", r.checks), ("status", f"{r.status}.misses", r.misses),
                     ("status", f"{r.status}.miss_rate", r.miss_rate)]
        for r in self.calibration.itertuples(index=False):
            rows += [("calibration", f"{r.bin}.checks", r.checks), ("calibration", f"{r.bin}.predicted", r.predicted),
                     ("calibration", f"{r.bin}.observed", r.observed)]
        return pd.DataFrame(rows, columns=["section", "name", "value"])


def _data_span(inputs: EngineInputs) -> tuple[dt.date, dt.date] | None:
    """(first, last) date of the actuals, None when there are none."""
    act = inputs.daily_actuals
    if act is None or len(act) == 0:
        return None
    dates = pd.to_datetime(act["date"], errors="coerce").dropna()
    if dates.empty:
        return None
    return dates.min().date(), dates.max().date()


def _past_years(inputs: EngineInputs, fy: int | None) -> list[int]:
    """The fiscal years to replay: ``fy``, else every fiscal year complete in the data (its
    outcome must be known)."""
    if fy is not None:
        return [int(fy)]
    span = _data_span(inputs)
    if span is None:
        return []
    sm = inputs.settings.fy_start_month
    first, last = span
    return [y for y in range(fiscal_year_of(first, sm), fiscal_year_of(last, sm) + 1)
            if fiscal_year_bounds(y, sm)[1] <= last]


def _checks_of_year(inputs: EngineInputs, fy: int, level: str, metric: str) -> pd.DataFrame:
    sm = inputs.settings.fy_start_month
    start, end = fiscal_year_bounds(fy, sm)
    P = periods(fy, sm, "year")[0]
    prep = _prepare(inputs, level, metric, fy, end)
    final = _compute(prep, P, end, with_chance=False)
    T, A = final["target"], final["actual_to_date"]
    has_target = T > 0
    missed = A < T - 1e-9 * np.maximum(1.0, np.abs(T))
    sundays = [start + dt.timedelta(days=(6 - start.weekday()) % 7 + 7 * i) for i in range(54)]
    sundays = [s for s in sundays if s <= end]
    frames = []
    ids = np.array(prep.owners.ids, dtype=object)
    for s in sundays:
        out = _compute(prep, P, s)
        frames.append(pd.DataFrame({
            "fy": fy, "owner_id": ids[has_target], "check_date": s,
            "weeks_to_end": (end - s).days / 7.0,
            "status": out["status"][has_target], "chance_to_reach": out["chance_to_reach"][has_target],
            # the too-late rule without the chance: a passed point of no return, or over and short
            "rule2": ((out["point_of_no_return"] == PASSED) | ((out["working_days_left"] == 0) & missed))[has_target],
            "missed": missed[has_target],
        }))
    if not frames:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _calibration(checks: pd.DataFrame, bins: int) -> tuple[pd.DataFrame, float]:
    known = checks[checks["chance_to_reach"].notna()]
    p = known["chance_to_reach"].to_numpy(dtype=float)
    hit = ~known["missed"].to_numpy(dtype=bool)
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    rows = []
    for b in range(bins):
        sel = idx == b
        count = int(sel.sum())
        rows.append({
            "bin": f"{b / bins:.2f}-{(b + 1) / bins:.2f}", "low": b / bins, "high": (b + 1) / bins, "checks": count,
            "predicted": float(p[sel].mean()) if count else math.nan,
            "observed": float(hit[sel].mean()) if count else math.nan,
        })
    frame = pd.DataFrame(rows)
    filled = frame[frame["checks"] > 0]
    gap = float((filled["predicted"] - filled["observed"]).abs().mean()) if len(filled) else math.nan
    return frame, gap


def backtest(inputs: EngineInputs, *, fy: int | None = None, metric: str = "revenue", level: str = "rep",
             bins: int = 5) -> BacktestResult:
    """Replay the complete past fiscal years (or only ``fy``) week by week; see the module text.

    ``summary`` holds: fiscal_years, owners (owner-years with a target), checks, misses (owner-years
    that missed), too_late_checks, too_late_precision, on_track_miss_rate, flagged_in_time (share of
    misses flagged off_track/too_late at least 8 weeks before the end), median_lead_weeks,
    chance_checks, calibration_gap (mean |predicted - observed| over the filled bins), and the
    owner-years behind the rates: too_late_owners, on_track_owners, chance_owners.

    Raises BadInput for an unknown metric or level, a bins count below 2, or a fiscal year with no
    complete data.
    """
    _check_choice("metric", metric, METRICS)
    _check_choice("level", level, LEVELS)
    if bins < 2:
        raise BadInput.single("backtest", f"bins must be at least 2, not {bins}", column="bins")
    years = _past_years(inputs, fy)
    if fy is not None:
        sm = inputs.settings.fy_start_month
        if not 1900 <= int(fy) <= 2200:
            raise BadInput.single("backtest", f"fiscal year {fy} is out of range (1900-2200)", column="fy")
        span = _data_span(inputs)
        if span is None or span[1] < fiscal_year_bounds(int(fy), sm)[1]:
            raise BadInput.single("backtest", f"FY{fy} is not complete in the data: its outcome is not known yet", column="fy")
    frames = [_checks_of_year(inputs, y, level, metric) for y in years]
    frames = [f for f in frames if len(f)]
    checks = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CHECK_COLUMNS)

    rows = []
    for s in STATUSES:
        sel = checks["status"] == s
        n = int(sel.sum())
        if n:
            m = int(checks.loc[sel, "missed"].sum())
            rows.append({"status": s, "checks": n, "misses": m, "miss_rate": m / n})
    by_status = pd.DataFrame(rows, columns=["status", "checks", "misses", "miss_rate"])

    owner_years = checks.drop_duplicates(["fy", "owner_id"])
    missed_years = owner_years[owner_years["missed"]]
    flagged = checks[checks["status"].isin(FLAG_STATUSES) & checks["missed"]]
    first_flag = flagged.groupby(["fy", "owner_id"])["weeks_to_end"].max()
    in_time = int((first_flag >= LEAD_WEEKS).sum())
    too_late = checks[checks["status"] == "too_late"]
    on_track = checks[checks["status"] == "on_track"]
    calibration, gap = _calibration(checks, bins)

    def years_of(frame: pd.DataFrame) -> int:
        return int(len(frame.drop_duplicates(["fy", "owner_id"])))

    summary = {
        "fiscal_years": ",".join(str(y) for y in sorted(checks["fy"].unique())) if len(checks) else "",
        "owners": int(len(owner_years)),
        "checks": int(len(checks)),
        "misses": int(len(missed_years)),
        "too_late_checks": int(len(too_late)),
        "too_late_precision": float(too_late["missed"].mean()) if len(too_late) else math.nan,
        "too_late_precision_without_chance": float(checks.loc[checks["rule2"].astype(bool), "missed"].mean())
        if checks["rule2"].astype(bool).any() else math.nan,
        "on_track_miss_rate": float(on_track["missed"].mean()) if len(on_track) else math.nan,
        "flagged_in_time": in_time / len(missed_years) if len(missed_years) else math.nan,
        "median_lead_weeks": float(first_flag.median()) if len(first_flag) else math.nan,
        "chance_checks": int(checks["chance_to_reach"].notna().sum()),
        "calibration_gap": gap,
        # the owner-years behind each rate: its real sample size
        "too_late_owners": years_of(too_late),
        "on_track_owners": years_of(on_track),
        "chance_owners": years_of(checks[checks["chance_to_reach"].notna()]),
    }
    return BacktestResult(summary, by_status, calibration, checks)


def small_sample(summary: dict[str, Any]) -> str | None:
    """The caution to show beside a backtest's figures when they rest on too few owner-years or
    misses (fewer than :data:`MIN_OWNER_YEARS` or :data:`MIN_MISSES`), with the counts; None when the
    sample is large enough or there is nothing graded. ``summary`` is ``BacktestResult.summary``.
    Raises KeyError for a summary without owners, misses or checks."""
    owners, misses, checks = int(summary["owners"]), int(summary["misses"]), int(summary["checks"])
    if not checks or (owners >= MIN_OWNER_YEARS and misses >= MIN_MISSES):
        return None
    years = [y for y in str(summary.get("fiscal_years", "")).split(",") if y]
    span = f" across {len(years)} fiscal year{'s' if len(years) != 1 else ''}" if years else ""
    return (f"Small sample: these figures rest on {owners} owner-year{'s' if owners != 1 else ''}{span}, of which "
            f"{misses} missed the target, and are not yet reliable. The {checks:,} weekly checks are not "
            f"independent: one owner's checks in one year move together. Read the rates as a first indication "
            f"until there are at least {MIN_OWNER_YEARS} owner-years and {MIN_MISSES} misses.")
