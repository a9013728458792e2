"""A straightforward pandas implementation of the docs/numbers.md numbers, the benchmark's baseline.

It computes the full-year report of every rep (``engine.report(inputs, as_of, level="rep")``,
metric revenue) directly from the formulas, the way an analyst would write it with pandas: group
and pivot the daily actuals, one working calendar per territory (numpy's business-day functions),
a rolling sum over a buckets x reps frame for the run-rates. It shares no code with
``salesplan.engine`` (only the column list), so agreement between the two is a real check.

:func:`compare` says where two reports differ (floats within a relative tolerance of 1e-6).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from salesplan.engine import REPORT_COLUMNS
from salesplan.inputs import EngineInputs

TOL = 1e-9  # relative slack of the >= comparisons of docs/numbers.md (floating-point noise only)


def _d64(x: Any) -> np.datetime64:
    return np.datetime64(pd.Timestamp(x).date(), "D")


def _days(d64: np.datetime64) -> int:
    return int(np.datetime64(d64, "D").astype(np.int64))


def _month_end(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _fy_bounds(fy: int, start_month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(fy if start_month == 1 else fy - 1, start_month, 1)
    k = start.year * 12 + start.month - 1 + 12
    return start, dt.date(k // 12, k % 12 + 1, 1) - dt.timedelta(days=1)


def report(inputs: EngineInputs, as_of: dt.date, fy: int | None = None) -> pd.DataFrame:
    """Year-period report of every rep, metric revenue, the COMPARED columns."""
    settings = inputs.settings
    L = int(settings.window)
    sm = settings.fy_start_month
    if fy is None:
        fy = as_of.year if sm == 1 or as_of.month < sm else as_of.year + 1
    p_start, p_end = _fy_bounds(fy, sm)
    e = min(as_of, p_end)
    e64, ps64, pe64 = _d64(e), _d64(p_start), _d64(p_end)

    reps = inputs.reps.drop_duplicates("rep_id").set_index("rep_id").sort_index()
    ids = reps.index
    n = len(ids)

    # targets: T_m of each rep and fiscal month of the FY
    t = inputs.targets
    t = t[(t["owner_type"] == "rep") & (t["metric"] == "revenue")].copy()
    month = pd.to_datetime(t["month"])
    t["k"] = (month.dt.year * 12 + month.dt.month) - (p_start.year * 12 + p_start.month)
    t = t[(t["k"] >= 0) & (t["k"] < 12)]
    tm = t.pivot_table(index="owner_id", columns="k", values="amount", aggfunc="sum")
    tm = tm.reindex(index=ids, columns=range(12)).fillna(0.0)
    T = tm.sum(axis=1)

    # the running month c and the months of the FY that end on or before e
    months = [dt.date(p_start.year + (p_start.month - 1 + i) // 12, (p_start.month - 1 + i) % 12 + 1, 1) for i in range(12)]
    full = [i for i, m in enumerate(months) if _month_end(m) <= e]
    cm = next(i for i, m in enumerate(months) if m <= e <= _month_end(m))
    c_start, c_end = months[cm], _month_end(months[cm])

    # daily actuals of known reps up to e
    act = inputs.daily_actuals[["date", "rep_id", "revenue"]]
    act = act[(act["date"] <= pd.Timestamp(e)) & act["rep_id"].isin(ids)].copy()
    act["day"] = act["date"].to_numpy().astype("datetime64[D]").astype(np.int64)  # days since 1970
    A = act[act["day"] >= _days(ps64)].groupby("rep_id")["revenue"].sum().reindex(ids, fill_value=0.0)

    # holidays: org-wide ones and each territory's own
    hol = inputs.holidays
    hol_terr = hol["territory"].where(hol["territory"].notna() & (hol["territory"].astype(str).str.strip() != ""))
    hol_days = pd.to_datetime(hol["date"]).to_numpy().astype("datetime64[D]")
    org_days = hol_days[hol_terr.isna().to_numpy()]

    starts = pd.to_datetime(reps["start_date"]).to_numpy().astype("datetime64[D]")
    start_of = pd.Series(np.where(np.isnat(starts), np.nan, starts.astype(np.int64)), index=ids)

    out = pd.DataFrame(index=ids)
    for col in ("working_days_elapsed", "working_days_left"):
        out[col] = 0
    for col in ("c", "B", "frac"):
        out[col] = np.nan
    out["ponr"] = None
    out["wdta"] = pd.array([pd.NA] * n, dtype="Int64")
    groups = {}

    territory = reps["territory"].where(reps["territory"].notna(), None)
    calendar_key = territory.fillna("\x00")  # the reps of a territory share its working calendar
    act["cal"] = act["rep_id"].map(calendar_key)
    act_by_cal = dict(tuple(act.groupby("cal", sort=False)))
    for terr, members in territory.groupby(calendar_key).groups.items():
        own = hol_days[(hol_terr == terr).to_numpy()] if terr != "\x00" else org_days[:0]
        cal = np.busdaycalendar(weekmask=settings.weekmask, holidays=np.unique(np.concatenate([org_days, own])))

        def wd(a: Any, b: Any) -> Any:
            return np.maximum(np.busday_count(a, np.asarray(b) + np.timedelta64(1, "D"), busdaycal=cal), 0)

        members = pd.Index(members)
        out.loc[members, "working_days_elapsed"] = int(wd(ps64, e64))
        out.loc[members, "working_days_left"] = int(wd(e64 + 1, pe64))
        if e < c_end:
            a, b = int(wd(_d64(c_start), e64)), int(wd(_d64(c_start), _d64(c_end)))
            if b == 0:
                a, b = (e - c_start).days + 1, (c_end - c_start).days + 1
            out.loc[members, "frac"] = a / b

        # buckets x reps frame of the actuals (a day belongs to the last working day on or before it)
        g = act_by_cal.get(terr, act.iloc[:0])
        bucket_e = np.busday_offset(e64, 0, roll="backward", busdaycal=cal)
        buckets = np.busday_offset(g["day"].to_numpy().astype("datetime64[D]"), 0, roll="backward", busdaycal=cal)
        g = g.assign(bucket=buckets.astype(np.int64))
        first = g.groupby("rep_id")["bucket"].min()
        lo = _days(bucket_e) - 7 * L  # at least L working days before bucket(e)
        if len(first):
            lo = min(lo, int(first.min()))
        days = np.arange(lo, _days(bucket_e) + 1)
        wdays = days[np.is_busday(days.astype("datetime64[D]"), busdaycal=cal)]
        wide = (g.groupby(["bucket", "rep_id"])["revenue"].sum().unstack("rep_id")
                .reindex(index=wdays, columns=members).fillna(0.0))

        # current run-rate: the last L buckets; a rep who started inside the window: from the start
        c = wide.iloc[-L:].sum() / L
        window_start = wdays[-L] if len(wdays) >= L else wdays[0]
        st = start_of[members]
        inside = st.notna() & (st > window_start) & (st <= _days(e64))
        if inside.any():
            since = g.merge(st[inside].rename("start"), left_on="rep_id", right_index=True)
            since = since[since["day"] >= since["start"]].groupby("rep_id")["revenue"].sum()
            div = pd.Series(wd(st[inside].to_numpy().astype(np.int64).astype("datetime64[D]"), e64),
                            index=st[inside].index).astype(float)
            c[inside[inside].index] = (since.reindex(div.index, fill_value=0.0) / div).where(div > 0)
        c[st.notna() & (st > _days(e64))] = np.nan
        out.loc[members, "c"] = c

        # best run-rate: the largest full window starting on or after the first actual's bucket
        rolling = wide.rolling(L).sum()
        firsts = first.reindex(members)
        first_pos = np.searchsorted(wdays, firsts.fillna(0).to_numpy(np.int64))
        first_pos[firsts.isna().to_numpy()] = len(wdays) + L  # no actual: no window
        window_first = np.arange(len(wdays)) - L + 1
        valid = window_first[:, None] >= first_pos[None, :]
        out.loc[members, "B"] = rolling.where(valid).max() / L
        groups[terr] = (members, cal, bucket_e)

    W = out["working_days_left"].astype(float)
    E = tm[full].sum(axis=1) if full else pd.Series(0.0, index=ids)
    if e < c_end:  # plus the running month's share of working days
        E = E + tm[cm] * out["frac"]
    c, B = out["c"], out["B"]
    need = (T - A).clip(lower=0)
    tol = TOL * np.maximum(1.0, np.maximum(T.abs(), A.abs()))
    pace = (A / E).where(E != 0)

    # point of no return
    on_course = c.notna() & (A + c.fillna(0) * W >= T - tol)
    # B > c beyond float noise: when the best window is the current one, B = c (a rolling sum and a
    # plain sum of the same numbers may differ in the last bits)
    cand = c.notna() & ~on_course & B.notna() & (B - c > TOL * np.maximum(1.0, B.abs()))
    passed = cand & (A + B * W < T - tol)
    ahead = cand & ~passed
    x = ((A + B * W - T) / (B - c)).where(ahead)
    k = np.floor(x.clip(lower=0) + 1e-9)
    k = np.minimum(k, (W - 1).clip(lower=0))
    ponr = pd.Series([None] * n, index=ids, dtype=object)
    wdta = pd.Series(pd.array([pd.NA] * n, dtype="Int64"), index=ids)
    for members, cal, bucket_e in groups.values():
        sel = members[ahead[members].to_numpy()]
        if len(sel):
            kk = k[sel].astype(np.int64).to_numpy()
            moved = np.busday_offset(bucket_e, kk, busdaycal=cal)
            when = np.where(kk == 0, e64, moved)
            ponr[sel] = [d.astype(dt.date) for d in when]
            wdta[sel] = kk
    ponr[passed] = "passed"
    wdta[passed] = 0

    status = pd.Series("off_track", index=ids, dtype=object)
    status[pace >= settings.at_risk - TOL] = "at_risk"
    status[pace.isna() | (pace >= 1.0 - TOL)] = "on_track"
    status[passed | ((W == 0) & (A < T - tol))] = "too_late"
    status[(A >= T - tol) & (T > 0)] = "achieved"
    status[T == 0] = "no_target"

    oa = inputs.open_actions
    impact = oa[oa["fy"] == fy].groupby("rep_id")["open_impact"].sum().reindex(ids, fill_value=0.0) if len(oa) else pd.Series(0.0, index=ids)

    result = pd.DataFrame({
        "owner_type": "rep",
        "owner_id": ids,
        "owner_name": reps["name"].to_numpy(),
        "metric": "revenue",
        "period": f"FY{fy}",
        "period_start": p_start,
        "period_end": p_end,
        "as_of": as_of,
        "target": T.to_numpy(),
        "expected_to_date": E.to_numpy(),
        "actual_to_date": A.to_numpy(),
        "attainment": (A / T).where(T != 0).to_numpy(),
        "pace": pace.to_numpy(),
        "gap_to_date": (E - A).to_numpy(),
        "remaining": (T - A).to_numpy(),
        "working_days_elapsed": out["working_days_elapsed"].to_numpy(np.int64),
        "working_days_left": out["working_days_left"].to_numpy(np.int64),
        "required_per_working_day": (need / W).where(W > 0).to_numpy(),
        "current_per_working_day": c.to_numpy(),
        "acceleration": ((need / W).where(W > 0) / c).where(c > 0).to_numpy(),
        "best_per_working_day": B.to_numpy(),
        "projection_linear": (A + c * W).to_numpy(),
        "projection_seasonal": (A * T / E).where(E != 0).to_numpy(),
        "status": status.to_numpy(),
        "point_of_no_return": ponr.to_numpy(),
        "working_days_to_act": wdta.array,
        "action_coverage": (impact / need).where(need > 0).to_numpy(),
    })
    return result[COMPARED].reset_index(drop=True)


# the run-rate columns; the pipeline columns need deals (none here) and chance_to_reach is an
# estimate, not a formula: it enters only through the too_late rule, see compare()
COMPARED = REPORT_COLUMNS[:REPORT_COLUMNS.index("action_coverage") + 1]

FLOAT_COLUMNS = (
    "target", "expected_to_date", "actual_to_date", "attainment", "pace", "gap_to_date", "remaining",
    "required_per_working_day", "current_per_working_day", "acceleration", "best_per_working_day",
    "projection_linear", "projection_seasonal", "action_coverage",
)


def compare(engine_frame: pd.DataFrame, reference: pd.DataFrame, rtol: float = 1e-6) -> dict[str, Any]:
    """Row-by-row comparison of every column of the two reports (matched on owner_id).

    Floats agree within ``rtol`` (relative, with an absolute floor of 1e-6 money units; empty equals
    empty); every other column must be equal. A reference ``too_late`` whose engine chance_to_reach
    is 0.05 or more is expected as ``off_track`` (the chance rule of the too-late status). Returns
    rows, columns and the mismatches per column.
    """
    a = engine_frame.set_index("owner_id").sort_index()
    b = reference.set_index("owner_id").sort_index().copy()
    if "chance_to_reach" in a.columns and a.index.equals(b.index):
        hopeful = (b["status"] == "too_late").to_numpy() & (a["chance_to_reach"].to_numpy(dtype=float) >= 0.05)
        b.loc[hopeful, "status"] = "off_track"
    result: dict[str, Any] = {"rows": int(len(a)), "reference_rows": int(len(b)), "columns": len(COMPARED),
                              "mismatches": {}, "max_rel_diff": 0.0, "examples": []}
    if not a.index.equals(b.index):
        result["mismatches"]["owner_id"] = int(len(a.index.symmetric_difference(b.index)))
        return result
    for col in COMPARED:
        if col == "owner_id":
            continue
        x, y = a[col], b[col]
        if col in FLOAT_COLUMNS:
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            both_nan = np.isnan(xv) & np.isnan(yv)
            close = np.isclose(xv, yv, rtol=rtol, atol=1e-6) | both_nan
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(xv - yv) / np.maximum(np.abs(yv), 1e-6)
            finite = np.isfinite(rel)
            if finite.any():
                result["max_rel_diff"] = max(result["max_rel_diff"], float(rel[finite].max()))
            bad = ~close
        else:
            xs = [None if pd.isna(v) else str(v) for v in x.astype(object)]
            ys = [None if pd.isna(v) else str(v) for v in y.astype(object)]
            bad = np.array([u != v for u, v in zip(xs, ys)], dtype=bool)
        if bad.any():
            result["mismatches"][col] = int(bad.sum())
            first = np.flatnonzero(bad)[0]
            result["examples"].append({"column": col, "owner_id": str(a.index[first]),
                                       "engine": str(x.iloc[first]), "pandas": str(y.iloc[first])})
    result["agree"] = not result["mismatches"] and result["rows"] == result["reference_rows"]
    return result
