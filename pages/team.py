"""Team overview: a heatmap of reps × fiscal months, a sortable table of every owner with status and
run-rates, drill-down to a rep's plan, and exports."""

from __future__ import annotations

from functools import partial

import streamlit as st

from salesplan import signals, team_view, ui
from salesplan.ui.exports import report_csv, report_excel

principal = ui.page("team")

reps = ui.reps_or_stop(principal)

left, middle, right, far = st.columns([2, 2, 2, 2], vertical_alignment="bottom")
metric = left.segmented_control("Metric", ["revenue", "profit"], default="revenue", required=True,
                                format_func=ui.METRIC_LABEL.get, key="team_metric")
as_of = middle.date_input("As of", value=ui.today(), key="team_as_of", format="YYYY-MM-DD")
colour_by = right.segmented_control("Colour by", ["attainment", "pace"], default="attainment", required=True,
                                    key="team_colour", format_func={"attainment": "Monthly attainment",
                                                                    "pace": "Pace vs plan"}.get)
grain = far.segmented_control("Heatmap by", ["month", "week"], default="month", required=True, key="team_grain",
                              format_func={"month": "Month", "week": "Week"}.get)

stale = signals.stale_data_warning(as_of, ui.read(principal, "last_sale_date"))
if stale:
    st.warning(stale, icon=":material/history:")

# ---------------------------------------------------------------- filters
names = dict(zip(reps["rep_id"], reps["name"]))
f1, f2, f3 = st.columns(3)
regions = f1.multiselect("Region", sorted(reps["region"].dropna().unique()), key="team_regions",
                         placeholder="All regions")
in_region = reps[reps["region"].isin(regions)] if regions else reps
territories = f2.multiselect("Territory", sorted(in_region["territory"].dropna().unique()), key="team_territories",
                             placeholder="All territories")
manager_ids = sorted(reps["manager"].dropna().unique(), key=lambda m: names.get(m, m))
managers = f3.multiselect("Manager", manager_ids, format_func=lambda m: names.get(m, m), key="team_managers",
                          placeholder="All managers")
chosen = in_region
if territories:
    chosen = chosen[chosen["territory"].isin(territories)]
if managers:
    chosen = chosen[chosen["manager"].isin(managers)]
chosen_ids = set(chosen["rep_id"])

months = ui.report(principal, as_of, metric=metric, period="month")
year = ui.report(principal, as_of, metric=metric)
if months.empty or not (year["target"] > 0).any():
    st.info(f"No {metric} targets for this fiscal year yet. Set them on the **Plan** page (Targets tab) or import a "
            "targets file on **Upload**.")
    st.stop()

# ---------------------------------------------------------------- heatmap
with_target = year.loc[(year["target"] > 0) & year["owner_id"].isin(chosen_ids), "owner_id"]
cells = months if grain == "month" else ui.report(principal, as_of, metric=metric, period="week")
grid = team_view.heatmap_grid(cells, year, reps, with_target, colour_by, as_of)
if grid.empty:
    st.info("No rep with a target matches these filters.")
else:
    label = f"{'Monthly' if grain == 'month' else 'Weekly'} attainment" if colour_by == "attainment" else "Pace vs plan"
    at_risk = ui.settings().at_risk
    # by attainment, the period in progress is grey: on its 2nd day it would be red for everyone
    muted = tuple(team_view.in_progress_columns(grid)) if colour_by == "attainment" else ()
    st.plotly_chart(ui.heatmap_figure(grid, "Attainment" if colour_by == "attainment" else "Pace",
                                      f"{label} · {year['period'].iloc[0]}", at_risk, in_progress=muted),
                    key="heatmap")
    progress = (f"the {grain} marked {team_view.IN_PROGRESS} is in progress and grey: its attainment so far grows "
                f"until it ends (colour by pace to compare it with its target to date)" if muted else
                f"the {grain} marked {team_view.IN_PROGRESS} is in progress: its actual so far ÷ its target to date")
    st.caption(f"{label}: each {grain}'s actual ÷ {'its target' if colour_by == 'attainment' else 'its target to date'};"
               f" {progress}; YTD = actual to date ÷ expected to date for the year. Green from 100 %, amber from "
               f"{ui.pct(at_risk, 0)} (the at-risk band), red below. {grain.capitalize()}s not started yet are blank; "
               f"reps without a {metric} target this year are left out.")

# ---------------------------------------------------------------- owners table
st.subheader("Owners")
level = st.segmented_control("Level", list(ui.LEVEL_LABEL), default="rep", required=True,
                             format_func=ui.LEVEL_LABEL.get, key="team_level")
table = year if level == "rep" else ui.report(principal, as_of, metric=metric, level=level)
if st.toggle("Hide owners without a target", value=True, key="team_hide_zero"):
    table = table[table["target"] > 0]
if level == "rep":
    table = table[table["owner_id"].isin(chosen_ids)]
elif level == "territory" and (regions or territories):
    table = table[table["owner_id"].isin(set(chosen["territory"]))]
elif level == "region" and regions:
    table = table[table["owner_id"].isin(regions)]
# on pace but asked for a higher run-rate later: the green status alone would read as "nothing to do"
seasonal = table[["owner_id", "owner_name", "pace", "required_per_working_day", "current_per_working_day"]]
reasons = {owner["owner_id"]: (owner["owner_name"], signals.seasonal_reason(owner))
           for owner in seasonal.to_dict("records")}
reasons = {owner_id: why for owner_id, why in reasons.items() if why[1]}
shown = ui.for_display(table).assign(
    status=table["status"].map(ui.status_label),  # the engine's: no_target for an owner without a target
    point_of_no_return=table["point_of_no_return"].map(lambda v: "" if ui.is_empty(v) else ui.ponr_text(v)),
    note=table["owner_id"].map(lambda owner_id: "needs more later (seasonal)" if owner_id in reasons else ""),
)
columns = ["owner_name", "status", "note", "target", "actual_to_date", "attainment", "pace", "gap_to_date",
           "required_per_working_day", "current_per_working_day", "acceleration", "point_of_no_return",
           "working_days_to_act", "action_coverage", "pipeline_coverage", "weighted_coverage", "uncovered_gap",
           "chance_to_reach"]
num = st.column_config.NumberColumn
ui.table(shown[columns], column_config={
    "owner_name": st.column_config.TextColumn("Owner", pinned=True),
    "status": "Status",
    "note": st.column_config.TextColumn("Note", width="medium", help="On pace, but the target's monthly shape asks for a higher "
                                        "run-rate in the months ahead than today's (see below the table)"),
    "target": num("Target", format="localized"),
    "actual_to_date": num("Actual", format="localized"),
    "attainment": num("Attainment", format="percent"),
    "pace": num("Pace", format="percent"),
    "gap_to_date": num("Gap to date", format="localized", help="Expected − actual; positive = behind"),
    "required_per_working_day": num("Required / day", format="localized"),
    "current_per_working_day": num("Current / day", format="localized"),
    "acceleration": num("Acceleration", format="%.2f×"),
    "point_of_no_return": "Point of no return",
    "working_days_to_act": num("Days to act", format="%d"),
    "action_coverage": num("Plan coverage", format="percent"),
    "pipeline_coverage": num("Pipeline coverage", format="percent",
                             help="Open deals closing by the year's end ÷ what is still to sell (T − A)"),
    "weighted_coverage": num("Weighted coverage", format="percent",
                             help="The same deals × their probability ÷ what is still to sell"),
    "uncovered_gap": num("Uncovered gap", format="localized", help="T − A − weighted pipeline, when positive"),
    "chance_to_reach": num("Chance to reach", format="percent",
                           help="How often owners in a similar position in past years went on to reach the target "
                                "(see the math on the owner's My plan page)"),
})
if reasons:
    st.markdown("**Why an owner on track still needs a higher run-rate:**\n" + "\n".join(
        f"- {ui.md(name)}: {ui.md(reason)}" for name, reason in reasons.values()))
stem = f"salesplan-{level}-{metric}-{as_of.isoformat()}"
e1, e2, e3 = st.columns([1, 1, 4])
# a callable as data: the file is built when the button is clicked, not on every rerun
e1.download_button("Export CSV", partial(report_csv, table), file_name=f"{stem}.csv", mime="text/csv",
                   icon=":material/download:")
e2.download_button("Export Excel", partial(report_excel, table, "report"), file_name=f"{stem}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:")

# ---------------------------------------------------------------- drill-down
if ui.may_open(principal, "my_plan"):
    st.subheader("Drill down")
    options = sorted(chosen_ids, key=lambda r: names.get(r, r))
    pick, go_plan, go_edit = st.columns([2, 1, 1], vertical_alignment="bottom")
    rep_id = pick.selectbox("Rep", options, format_func=ui.rep_label(reps), key="team_drill")
    if go_plan.button("Open their dashboard", icon=":material/flag:"):
        ui.go_to("my_plan", rep=rep_id)
    if ui.may_open(principal, "plan") and go_edit.button("Open their plan", icon=":material/edit_note:"):
        ui.go_to("plan", rep=rep_id)
