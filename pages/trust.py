"""Warning track record: how the warnings did on this organisation's own past fiscal years
(salesplan.backtest), so that leaders and admins know how far to trust them (docs/numbers.md,
"Backtest")."""

from __future__ import annotations

import streamlit as st

from salesplan import backtest, ui
from salesplan.errors import BadInput

principal = ui.page("trust")
ui.reps_or_stop(principal)
st.caption("Every complete past fiscal year replayed week by week: each owner's status and chance to reach, as "
           "they were shown on each Sunday, held against how the year really ended.")

left, middle, right = st.columns([2, 2, 2], vertical_alignment="bottom")
metric = left.segmented_control("Metric", ["revenue", "profit"], default="revenue", required=True,
                                format_func=ui.METRIC_LABEL.get, key="trust_metric")
level = middle.segmented_control("Level", ["rep", "territory", "region"], default="rep", required=True,
                                 format_func=ui.LEVEL_LABEL.get, key="trust_level")

try:
    with st.spinner("Replaying the past years week by week..."):
        result = ui.backtest(principal, metric=metric, level=level)
        graded = [int(y) for y in result.summary["fiscal_years"].split(",") if y]
        fy = right.selectbox("Fiscal year", [None, *graded], key="trust_fy",
                             format_func=lambda y: "Every complete year" if y is None else f"FY{y}")
        if fy is not None:
            result = ui.backtest(principal, fy=fy, metric=metric, level=level)
except BadInput as error:
    st.info(f"No track record: {ui.md(error)}", icon=":material/history:")
    st.stop()
summary = result.summary
if not summary["checks"]:
    st.info("No track record yet: the warnings can be graded once a fiscal year with targets has ended in the data.",
            icon=":material/history:")
    st.stop()

graded_years = " and ".join(f"FY{y}" for y in summary["fiscal_years"].split(","))
st.markdown(f"{graded_years}: **{summary['owners']}** owner-years with a target, "
            f"**{summary['checks']:,}** weekly checks, **{summary['misses']}** owner-years that missed the target.")
caution = backtest.small_sample(summary)
if caution:
    st.warning(caution, icon=":material/science:")


def sample(owner_years: int) -> str:
    """The sample a rate rests on, under its figure: owner-years, not the weekly checks."""
    return f"from {owner_years} owner-year{'s' if owner_years != 1 else ''}"


# ---------------------------------------------------------------- headline numbers
c1, c2, c3, c4 = st.columns(4)
c1.metric("“Too late” was right", ui.pct(summary["too_late_precision"], 0), border=True,
          delta=sample(summary["too_late_owners"]), delta_color="gray", delta_arrow="off",
          help=f"Of the {summary['too_late_checks']} weekly checks that said too late (of "
               f"{summary['too_late_owners']} owner-years), the share whose owner then "
               f"missed the target (with the point-of-no-return rule alone: "
               f"{ui.pct(summary['too_late_precision_without_chance'], 0)})")
c2.metric("Misses flagged in time", ui.pct(summary["flagged_in_time"], 0), border=True,
          delta=sample(summary["misses"]), delta_color="gray", delta_arrow="off",
          help=f"Of the {summary['misses']} owner-years that missed, the share flagged off track or too late at "
               "least 8 weeks before the year's end")
c3.metric("Median lead", "—" if ui.is_empty(summary["median_lead_weeks"])
          else f"{summary['median_lead_weeks']:.0f} weeks", border=True,
          delta=sample(summary["misses"]), delta_color="gray", delta_arrow="off",
          help="Weeks from the first off track / too late flag to the year's end, for the owner-years that missed")
c4.metric("“On track” still missed", ui.pct(summary["on_track_miss_rate"], 0), border=True,
          delta=sample(summary["on_track_owners"]), delta_color="gray", delta_arrow="off",
          help=f"The share of on-track checks (of {summary['on_track_owners']} owner-years) whose owner missed the "
               "target after all")

# ---------------------------------------------------------------- by status
st.markdown("#### How often each status was followed by a miss")
by_status = result.by_status.assign(status=result.by_status["status"].map(ui.status_label))
ui.table(by_status, column_config={
    "status": "Status", "checks": st.column_config.NumberColumn("Weekly checks", format="localized"),
    "misses": st.column_config.NumberColumn("Followed by a miss", format="localized"),
    "miss_rate": st.column_config.NumberColumn("Miss rate", format="percent"),
})

# ---------------------------------------------------------------- calibration
st.markdown("#### Is the chance to reach honest?")
st.plotly_chart(ui.reliability_figure(result.calibration), key="reliability")
st.caption(f"The {summary['chance_checks']:,} checks with a chance ({sample(summary['chance_owners'])}), in five "
           "bins of the predicted chance: each point "
           "is the mean prediction of a bin against the share of its checks whose owner reached the target. On the "
           "dashed diagonal the chance says exactly what happened; above it the chance was too cautious, below it "
           f"too hopeful. Mean gap from the diagonal: **{ui.pct(summary['calibration_gap'], 0)}**."
           + (" With so few owner-years, a bin's share moves a lot with one owner: see the caution above."
              if caution else ""))
with st.expander("The bins"):
    ui.table(result.calibration[["bin", "checks", "predicted", "observed"]], column_config={
        "bin": "Predicted chance", "checks": st.column_config.NumberColumn("Checks", format="localized"),
        "predicted": st.column_config.NumberColumn("Mean prediction", format="percent"),
        "observed": st.column_config.NumberColumn("Reached the target", format="percent"),
    })
