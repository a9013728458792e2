"""The engine's numbers for one set of visible reps, each computed once per run, and the alert
conditions read from them.

A run computes one :class:`Numbers` per set of visible reps (the accounts that see the same reps
share it) on that set's own engine inputs: a rep alone is its own peer group for the chance to
reach, so a rep's numbers are never cut from the organisation's report (docs/numbers.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection
from typing import Any

import pandas as pd

from salesplan import engine
from salesplan.engine.rows import rows_of
from salesplan.inputs import EngineInputs

Row = dict[Any, Any]  # one report or watch-list row, as DataFrame.to_dict("records") gives it
Owner = tuple[str, str]  # (owner_type, owner_id)
ALERT_DAYS_TO_ACT = 5
REASONS = frozenset({"watch", "ponr", "too_late"})


def empty(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


# --------------------------------------------------------------------------- numbers per scope
class Numbers:
    """Engine results for one recipient's scope at one as-of date, each computed once."""

    def __init__(self, inputs: EngineInputs, as_of: dt.date):
        self.inputs = inputs
        self.as_of = as_of
        # the messages' money carries its symbol ('' for a single-currency organisation)
        self.currency = str(inputs.settings.base_currency or "")
        self._cache: dict[tuple[Any, ...], Any] = {}

    def report(self, level: str, period: str = "year", as_of: dt.date | None = None) -> pd.DataFrame:
        d = as_of or self.as_of
        key = ("report", level, period, d)
        if key not in self._cache:
            self._cache[key] = engine.report(self.inputs, d, level=level, period=period)
        return self._cache[key]

    def chances(self, level: str, period: str = "year") -> dict[tuple[str, str], tuple[float, str]]:
        """(owner_id, period label) -> (chance_to_reach, plain-words explanation) from
        :func:`engine.chance_details`, computed once per level and period; owners without a chance
        are left out (a message then says nothing about it)."""
        key = ("chance", level, period, self.as_of)
        if key not in self._cache:
            frame = engine.chance_details(self.inputs, self.as_of, level=level, period=period)
            columns = (frame[name].tolist() for name in ("owner_id", "period", "chance_to_reach", "explanation"))
            self._cache[key] = {(str(owner), str(label)): (float(chance), str(words))
                                for owner, label, chance, words in zip(*columns) if not empty(chance)}
        return self._cache[key]

    def records(self, level: str, period: str = "year", as_of: dt.date | None = None) -> list[Row]:
        """The rows of :meth:`report` as dicts, made once per report (a run asks for the rows of
        the same reports again and again). Callers must not change them."""
        d = as_of or self.as_of
        key = ("records", level, period, d)
        if key not in self._cache:
            self._cache[key] = rows_of(self.report(level, period, d))
        return self._cache[key]

    def watch_records(self, levels: tuple[str, ...], as_of: dt.date | None = None) -> list[Row]:
        """The rows of :func:`engine.watchlist` of ``levels`` as dicts, computed once per watch
        list; read from a watch list of the same date already computed for more levels when
        there is one: the engine computes each level on its own and sorts the rows stably, so its
        rows of ``levels`` are exactly the watch list of ``levels`` (a leader's alerts read the
        organisation's and regions' rows of the digest's whole watch list). Callers must not
        change them."""
        d = as_of or self.as_of
        key = ("watch records", levels, d)
        if key not in self._cache:
            wider = self._wider_watch_records(levels, d)
            self._cache[key] = (rows_of(engine.watchlist(self.inputs, d, levels=levels)) if wider is None
                                else [row for row in wider if row["owner_type"] in levels])
        return self._cache[key]

    def _wider_watch_records(self, levels: tuple[str, ...], d: dt.date) -> list[Row] | None:
        for key, rows in self._cache.items():
            if key[0] == "watch records" and key[2] == d and [level for level in key[1] if level in levels] == list(levels):
                return rows
        return None

    def row(self, level: str, owner_id: str, period: str = "year", as_of: dt.date | None = None) -> Row | None:
        """The owner's row of the report (of ``period``: the one containing the as-of date), or
        None. Callers must not change it (it is shared, see :meth:`records`)."""
        d = as_of or self.as_of
        key = ("rows", level, period, d)
        if key not in self._cache:
            index: dict[Any, Row] = {}
            for row in self.records(level, period, d):
                if period != "month" or row["period_start"] <= d <= row["period_end"]:
                    index.setdefault(row["owner_id"], row)  # the first, as the frame lists them
            self._cache[key] = index
        return self._cache[key].get(owner_id)

    def conditions(self, levels: tuple[str, ...], d: dt.date, follows: Callable[[Owner], bool],
                   reasons: Collection[str] = REASONS) -> dict[Owner, set[str]]:
        """Per owner of ``levels`` that ``follows`` accepts: which of the alert ``reasons`` hold
        at ``d`` (owners meeting none are left out). 'watch': on the watch list; 'too_late': the
        year's status; 'ponr': ALERT_DAYS_TO_ACT working days or fewer from the point of no
        return. The watch list, an engine run of its own, is worked out only when one of these
        owners may be on it: an owner is listed only when its year status is one of
        engine.WATCH_STATUSES (docs/numbers.md, "Watch list"); the report, when only 'watch' is
        asked about, is not (the day before of owners that are on the watch list now)."""
        out: dict[Owner, set[str]] = {}
        watch_only = not set(reasons) - {"watch"}
        may_be_listed = watch_only  # without the report nothing rules an owner out
        for level in () if watch_only else levels:
            for row in self.records(level, "year", d):
                owner = (row["owner_type"], row["owner_id"])
                if not follows(owner):
                    continue
                may_be_listed = may_be_listed or row["status"] in engine.WATCH_STATUSES
                if "too_late" in reasons and row["status"] == "too_late":
                    out.setdefault(owner, set()).add("too_late")
                days = row["working_days_to_act"]
                if ("ponr" in reasons and row["point_of_no_return"] not in (None, engine.PASSED) and not empty(days)
                        and int(days) <= ALERT_DAYS_TO_ACT):
                    out.setdefault(owner, set()).add("ponr")
        if "watch" in reasons and may_be_listed:
            for row in self.watch_records(levels, d):
                owner = (row["owner_type"], row["owner_id"])
                if follows(owner):
                    out.setdefault(owner, set()).add("watch")
        return out
