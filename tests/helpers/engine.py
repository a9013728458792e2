"""Builders shared by the engine tests: small EngineInputs written out by hand, the worked
example of docs/numbers.md, and row lookups in a report."""

import datetime as dt
import math

import numpy as np
import pandas as pd

from salesplan.inputs import EngineInputs
from salesplan.settings import Settings

D = dt.date


def make_inputs(*, reps=(), territories=(), holidays=(), targets=(), actuals=(), open_actions=(), **settings):
    """reps: (rep_id, name, territory[, start_date]); territories: (territory, region);
    holidays: (date, territory or None); targets: (owner_type, owner_id, 'YYYY-MM', amount[, metric]);
    actuals: (date, rep_id, territory, revenue[, profit]); open_actions: (rep_id, fy, impact)."""
    settings.setdefault("window", 5)
    rep_rows = [
        {"rep_id": r[0], "name": r[1], "email": None, "territory": r[2], "region": None, "manager": None,
         "start_date": pd.Timestamp(r[3]) if len(r) > 3 and r[3] else pd.NaT, "end_date": pd.NaT}
        for r in reps
    ]
    reps_df = pd.DataFrame(rep_rows, columns=["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"])
    reps_df["start_date"] = pd.to_datetime(reps_df["start_date"])
    terr_df = pd.DataFrame(list(territories), columns=["territory", "region"])
    hol_df = pd.DataFrame([(pd.Timestamp(d), "holiday", t) for d, t in holidays], columns=["date", "name", "territory"])
    tg_df = pd.DataFrame(
        [(t[0], t[1], t[4] if len(t) > 4 else "revenue", pd.Timestamp(t[2] + "-01"), float(t[3])) for t in targets],
        columns=["owner_type", "owner_id", "metric", "month", "amount"],
    )
    act_df = pd.DataFrame(
        [(pd.Timestamp(a[0]), a[1], a[2], float(a[3]), float(a[4]) if len(a) > 4 else np.nan) for a in actuals],
        columns=["date", "rep_id", "territory", "revenue", "profit"],
    )
    oa_df = pd.DataFrame(list(open_actions), columns=["rep_id", "fy", "open_impact"])
    return EngineInputs(Settings(**settings), reps_df, terr_df, hol_df, tg_df, act_df, oa_df)


def every_working_day(start, end, amount, rep="r1", territory="North", special=None, holidays=()):
    """One actual per Mon-Fri day in [start, end] (skipping ``holidays``); ``special`` maps a date
    range (a, b) to another daily amount."""
    rows = []
    for d in pd.bdate_range(start, end):
        d = d.date()
        if d in holidays:
            continue
        value = amount
        for (a, b), v in (special or {}).items():
            if a <= d <= b:
                value = v
        rows.append((d, rep, territory, value))
    return rows


def row(df, owner_id=None, period=None):
    sel = df
    if owner_id is not None:
        sel = sel[sel["owner_id"] == owner_id]
    if period is not None:
        sel = sel[sel["period"] == period]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def empty(v):
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


REP = [("r1", "Ann", "North")]
TERR = [("North", "East")]
WEEK_OF_10_FEB = {(D(2025, 2, 10), D(2025, 2, 14)): 1500.0}


def worked_example(target=22000.0, extra=(), holidays=(), **kw):
    """docs/numbers.md: 800 on every working day from 3 February, 1,500 a day in the week of 10 February
    (here through 31 March); March 2025 target 22,000."""
    actuals = every_working_day(D(2025, 2, 3), D(2025, 3, 31), 800.0, special=WEEK_OF_10_FEB,
                                holidays={h for h, _ in holidays}) + list(extra)
    return make_inputs(reps=kw.pop("reps", REP), territories=TERR, holidays=holidays,
                       targets=[("rep", "r1", "2025-03", target)], actuals=actuals, **kw)
