"""My plan: where one rep stands this fiscal year, the run-rate it now takes, when it is too late,
and whether the written plan covers the gap."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from salesplan import pipeline_view, plan_view, planflow, signals, ui
from salesplan.store import OPEN_ACTION_STATUSES

principal = ui.page("my_plan")

reps = ui.reps_or_stop(principal)

picker, metric_box, date_box = st.columns([3, 2, 2], vertical_alignment="bottom")
metric = metric_box.segmented_control(
    "Metric", ["revenue", "profit"], default="revenue", required=True, format_func=ui.METRIC_LABEL.get, key="metric"
)
as_of = date_box.date_input("As of", value=ui.today(), key="as_of", format="YYYY-MM-DD")
year = ui.report(principal, as_of, metric=metric)
stale = signals.stale_data_warning(as_of, ui.read(principal, "last_sale_date"))
if stale:
    st.warning(stale, icon=":material/history:")
with_target = year.loc[year["target"] > 0, "owner_id"].tolist()
rep_id = ui.pick_rep(principal, reps, picker, prefer=with_target)
if rep_id is None:
    st.warning("Your account is not linked to a rep yet. Ask an admin to add your email to the reps file.")
    st.stop()

row = year.loc[year["owner_id"] == rep_id].iloc[0]
fy = ui.fy_of(as_of)
name = row["owner_name"]
title, badge = st.columns([5, 1], vertical_alignment="center")
title.subheader(f"{ui.md(name)} · {row['period']} · {ui.METRIC_LABEL[metric].lower()}")
with badge:
    ui.status_badge(ui.row_status(row))

if not row["target"] > 0:
    st.info(
        f"No {metric} target for {row['period']} yet. A manager sets it on the **Plan** page (Targets tab), "
        "or imports a targets file on **Upload**."
    )
    st.stop()
if row["status"] == "not_started":
    st.info(f"{row['period']} starts on {ui.day_text(row['period_start'])}: only its target is known yet "
            f"({ui.money(row['target'])}).")
    st.stop()
seasonal = signals.seasonal_reason(row)
if seasonal:  # a green badge next to a required run-rate above today's: say why
    st.info(seasonal, icon=":material/insights:")
if not row["actual_to_date"] and ui.is_empty(row["best_per_working_day"]):
    st.info("No actuals yet for this year. Upload your sales export on **Upload** to see where you stand.")

settings = ui.settings()
L = settings.window
A, T, E = row["actual_to_date"], row["target"], row["expected_to_date"]
W = int(row["working_days_left"])
e = min(row["as_of"], row["period_end"])


def see_the_math(lines: list[str]) -> None:
    with st.expander("See the math"):
        for line in lines:
            st.markdown(line)


# ---------------------------------------------------------------- where we stand
st.markdown("#### Where you stand")
c1, c2, c3, c4 = st.columns(4)
with c1:
    st.metric("Attainment", ui.pct(row["attainment"]), help="Actual to date ÷ target of the year", border=True)
    see_the_math([
        f"actual to date A = **{ui.money(A, 2)}** ({ui.day_text(row['period_start'])} to {ui.day_text(e)})",
        f"target T = **{ui.money(T, 2)}**",
        f"attainment = A ÷ T = **{ui.pct(row['attainment'], 2)}**",
    ])
with c2:
    st.metric("Pace vs plan", ui.pct(row["pace"]), help="Actual to date ÷ where the plan said you would be by now",
              border=True)
    see_the_math([
        f"expected to date E = **{ui.money(E, 2)}**: the targets of the months ended by {ui.day_text(e)}, plus the "
        f"current month's target × its working days elapsed ÷ its working days",
        f"actual to date A = **{ui.money(A, 2)}**",
        f"pace = A ÷ E = **{ui.pct(row['pace'], 2)}** (at-risk band from {ui.pct(settings.at_risk, 0)})",
    ])
with c3:
    gap = row["gap_to_date"]
    # one sign on every page and export: expected − actual, positive = behind plan
    st.metric("Gap to date", ui.money(gap), help="Expected to date − actual to date: positive = behind where the "
              "plan said you would be by now, negative = ahead of it", border=True,
              delta="behind plan" if gap > 0 else "ahead of plan", delta_color="red" if gap > 0 else "green",
              delta_arrow="off")
    see_the_math([
        f"gap = E − A = {ui.money(E, 2)} − {ui.money(A, 2)} = **{ui.money(gap, 2)}**",
        f"still to sell for the year: T − A = **{ui.money(row['remaining'], 2)}**",
    ])
with c4:
    st.metric("Working days left", f"{W}", help="Working days after the as-of date until the end of the year",
              border=True)
    see_the_math([
        f"working days from {ui.day_text(e + pd.Timedelta(days=1))} to {ui.day_text(row['period_end'])}: **{W}**",
        f"working days elapsed: {int(row['working_days_elapsed'])} (your working weekdays and holidays, "
        "including your territory's)",
    ])

# ---------------------------------------------------------------- this week and last week
weeks = plan_view.this_and_last_week(ui.report(principal, as_of, metric=metric, period="week"), rep_id, as_of)
if not weeks.empty:
    st.markdown("#### This week and last week")
    for box, week in zip(st.columns(len(weeks) + 1)[:len(weeks)], weeks.to_dict("records")):
        status = ui.row_status(week)
        days = int(week["working_days_elapsed"] + week["working_days_left"])
        box.metric(f"{week['which']} · {week['period'][-3:]}", ui.money(week["actual_to_date"]), border=True,
                   delta=f"{ui.pct(week['attainment'], 0)} of its target {ui.money(week['target'])}",
                   delta_color="green" if status in ("achieved", "on_track") else "orange", delta_arrow="off",
                   help=f"Actual from {ui.day_text(week['period_start'])} to "
                        f"{ui.day_text(min(week['as_of'], week['period_end']))} against the week's target (each "
                        f"month's target spread over its working days, {days} working days this week)")
        if week["period_end"] < as_of and week["target"] > 0:  # a week that is over: it reached its target or not
            reached = week["actual_to_date"] >= week["target"]
            box.badge("Reached its target" if reached else "Missed its target", color="green" if reached else "red",
                      icon=":material/check_circle:" if reached else ":material/cancel:")
        else:
            with box:
                ui.status_badge(status)

# ---------------------------------------------------------------- run-rates
st.markdown("#### The run-rate it takes")
r, c, B = row["required_per_working_day"], row["current_per_working_day"], row["best_per_working_day"]
c1, c2, c3, c4 = st.columns(4)
with c1:
    st.metric("Required per working day", ui.money(r), border=True,
              help="What you need to sell every working day from now on to reach the target")
    see_the_math([f"required = max(T − A, 0) ÷ W = {ui.money(max(row['remaining'], 0), 2)} ÷ {W} = "
                  f"**{ui.money(r, 2)}**" if W else "no working days are left in the year"])
with c2:
    st.metric("Current per working day", ui.money(c), border=True,
              help=f"Your average over the last {L} working days")
    see_the_math([f"current = Σ actuals of the {L} working days up to {ui.day_text(e)} ÷ {L} = **{ui.money(c, 2)}**",
                  f"the window is the run-rate setting ({L} working days); a sale on a non-working day counts "
                  "with the working day before it"])
with c3:
    st.metric("Acceleration needed", ui.times(row["acceleration"]), border=True,
              help="Required ÷ current run-rate")
    see_the_math([f"acceleration = required ÷ current = {ui.money(r, 2)} ÷ {ui.money(c, 2)} = "
                  f"**{ui.times(row['acceleration'])}**"])
with c4:
    st.metric(f"Best {L}-day run", ui.money(B), border=True,
              help=f"Your best average over any {L} working days so far")
    see_the_math([f"best = the highest Σ actuals ÷ {L} over every window of {L} working days since your first "
                  f"sale = **{ui.money(B, 2)}**"])

months = ui.report(principal, as_of, metric=metric, period="month")
rates = plan_view.run_rates(row, plan_view.current_month(months, rep_id, e), len(settings.working_weekdays))
ui.table(rates[["per", "required", "current", "derived_as"]].round({"required": 0, "current": 0}), column_config={
    "per": "", "required": st.column_config.NumberColumn("Required", format="localized"),
    "current": st.column_config.NumberColumn("Current", format="localized"), "derived_as": "Derived as",
})

# ---------------------------------------------------------------- when it is too late
st.markdown("#### When is it too late?")
ponr = row["point_of_no_return"]
outlook = plan_view.outlook(row)
if outlook == "achieved":
    st.success(f"Target reached: {ui.money(A)} of {ui.money(T)}.", icon=":material/emoji_events:")
elif outlook == "too_late":
    st.error(
        f"The target is out of reach even at your best {L}-working-day pace ({ui.money(B)} a working day, "
        f"{ui.money(r)} needed). Agree a revised target with your manager, or add actions that bring in "
        f"the rest of the {ui.money(row['remaining'])}.", icon=":material/block:",
    )
elif outlook == "point_of_no_return":
    st.warning(
        f"Keep today's pace ({ui.money(c)} a working day) past **{ui.day_text(ponr)}** and the target is out of "
        f"reach even at your best {L}-working-day pace ({ui.money(B)} a working day). "
        f"You have **{int(row['working_days_to_act'])} working days** left to act.",
        icon=":material/timer:",
    )
elif outlook == "on_course":
    st.success(
        f"On course: at today's pace you end the year at {ui.money(row['projection_linear'])}, above the target "
        f"of {ui.money(T)}. There is no point of no return.", icon=":material/check_circle:",
    )
else:
    st.warning(
        f"Today's pace is your best so far and ends the year at {ui.money(row['projection_linear'])}, "
        f"short of {ui.money(T)}: you need {ui.money(r)} a working day from now on "
        f"({ui.times(row['acceleration'])} today's).", icon=":material/trending_up:",
    )
see_the_math([
    f"if you keep today's run-rate c = {ui.money(c, 2)} for x working days, then run at your best B = "
    f"{ui.money(B, 2)} for the remaining {W} − x, you end at A + c·x + B·(W − x)",
    f"the point of no return is the last working day where that still reaches T = {ui.money(T, 2)}: "
    f"**{ui.ponr_text(ponr)}**, {'' if ui.is_empty(row['working_days_to_act']) else int(row['working_days_to_act'])} "
    "working days to act",
    f"projection at current run-rate: A + c × W = **{ui.money(row['projection_linear'], 2)}**",
    f"projection at current pace vs plan: A × T ÷ E = **{ui.money(row['projection_seasonal'], 2)}**",
])

details = ui.chance_details(principal, as_of, metric=metric)
mine = details[details["owner_id"] == rep_id]
chance_box, words = st.columns([1, 3], vertical_alignment="center")
chance_box.metric("Chance to reach the target", ui.pct(row["chance_to_reach"], 0), border=True,
                  help="How often owners in a similar position in past years went on to reach their target")
with words:
    if not mine.empty:
        see_the_math([ui.md(mine.iloc[0]["explanation"]),
                      "a similar position: the same point of the year in a past year, where the sales still "
                      "needed were as many times the run-rate as yours are now; your own past years count "
                      "more the more of them there are (docs/numbers.md, \"Chance to reach\")"])

# ---------------------------------------------------------------- charts
curve = ui.year_curve(principal, "rep", rep_id, fy, metric)
st.plotly_chart(ui.burnup_figure(curve, row, metric), key="burnup")
st.plotly_chart(ui.monthly_bars_figure(months[months["owner_id"] == rep_id], metric), key="months")

# ---------------------------------------------------------------- the pipeline
st.markdown("#### What covers the gap")
if metric != "revenue":
    st.info("Open deals are amounts of revenue: switch the metric to Revenue to see the pipeline.",
            icon=":material/filter_alt:")
elif ui.is_empty(row["pipeline"]):
    st.info("No open deals uploaded yet. Upload your CRM's open-deals export on **Upload** to see what "
            "your pipeline covers of the gap.", icon=":material/filter_alt:")
else:
    steps = pipeline_view.bridge(row)
    st.plotly_chart(ui.bridge_figure(steps, metric), key="bridge")
    sentence = pipeline_view.gap_sentence(row, ui.money)
    if sentence:
        st.markdown(sentence)
    uncovered = float(steps["left"].iloc[-1])
    st.caption(f"Each bar is the part of the target its step covers, in order; a step worth more than what is left "
               f"covers only that. Weighted pipeline = Σ amount × probability of the open deals closing after "
               f"{ui.day_text(e)} and by {ui.day_text(row['period_end'])}. Uncovered gap = T − A − weighted "
               f"pipeline − open actions = **{ui.money(uncovered)}** (before the actions: "
               f"{ui.money(row['uncovered_gap'])}).")
    p1, p2, p3, p4 = st.columns(4)
    p1.metric("Pipeline", ui.money(row["pipeline"]), border=True,
              help="Open deals expected to close from tomorrow to the end of the year")
    p2.metric("Weighted pipeline", ui.money(row["weighted_pipeline"]), border=True,
              help="Σ amount × probability of the same deals")
    p3.metric("Weighted coverage", ui.pct(row["weighted_coverage"], 0), border=True,
              help="Weighted pipeline ÷ what is still to sell (T − A)")
    p4.metric("Overdue deals", ui.money(row["overdue_pipeline"]), border=True,
              help="Open deals whose expected close date has passed: they need a new date")
    deals = pipeline_view.deals_table(ui.read(principal, "open_deals", as_of), [rep_id], row)
    overdue = deals[deals["when"] == "overdue"]
    if not overdue.empty:
        st.warning(f"{len(overdue)} open deal(s) worth {ui.money(overdue['amount'].sum())} were expected to close "
                   "by now: give them a new close date in your CRM, or close them.", icon=":material/event_busy:")
    with st.expander(f"The {len(deals)} open deal(s) behind the pipeline", expanded=not overdue.empty):
        ui.table(deals.assign(when=deals["when"].map(
            {"overdue": "⚠ overdue", "in period": "in period", "after period": "after the year",
             "earlier": "overdue (before the year)"})), column_config={
            "deal_id": "Deal", "name": st.column_config.TextColumn("Name", width="medium"), "customer": "Customer",
            "stage": "Stage", "probability": st.column_config.NumberColumn("Probability", format="percent"),
            "amount": st.column_config.NumberColumn("Amount", format="localized"),
            "weighted": st.column_config.NumberColumn("Weighted", format="localized"),
            "expected_close": st.column_config.DateColumn("Expected close"), "when": "When",
            "days_overdue": st.column_config.NumberColumn("Days overdue", format="%d"),
            "snapshot_date": st.column_config.DateColumn("Snapshot"),
        })
    points = ui.pipeline_trend(principal, "rep", rep_id, as_of, metric=metric, rep_ids=[rep_id])
    direction = pipeline_view.trend_direction(points)
    if direction:
        st.plotly_chart(ui.pipeline_trend_figure(points), key="pipeline_trend")
        st.caption(f"Across the {len(points)} snapshots of the year so far the weighted pipeline went from "
                   f"{ui.money(points['weighted_pipeline'].iloc[0])} to {ui.money(points['weighted_pipeline'].iloc[-1])}:"
                   f" coverage is **{direction}**.")

# ---------------------------------------------------------------- the written plan
st.markdown("#### Your actions")
plan = ui.read(principal, "plan", rep_id, fy)
actions = planflow.flag_overdue(plan["actions"], as_of)
open_actions = actions[actions["status"].isin(OPEN_ACTION_STATUSES)]
if open_actions.empty:
    st.info(
        f"No open actions in your FY{fy} plan yet. Add actions that close the remaining "
        f"{ui.money(max(row['remaining'], 0))} on the **Plan** page."
    )
else:
    coverage = row["action_coverage"]
    st.markdown(
        f"{len(open_actions)} open action(s) worth **{ui.money(open_actions['expected_impact'].sum())}** cover "
        f"**{ui.pct(coverage, 0)}** of the remaining {ui.money(max(row['remaining'], 0))}."
    )
    late = int(open_actions["overdue"].sum())
    if late:
        st.warning(f"{late} open action(s) past their due date: mark them done or dropped, or give them a new date "
                   "on the **Plan** page.", icon=":material/schedule:")
    ui.table(
        planflow.for_people(open_actions, dict(zip(reps["rep_id"], reps["name"]))).assign(
            label=[planflow.item_label("action", n) for n in open_actions["number"]],
            overdue=open_actions["overdue"].map({True: "overdue", False: ""}))[
            ["label", "description", "owner", "due_date", "overdue", "status", "expected_impact"]],
        column_config={
            "label": st.column_config.TextColumn("#", width="small"),
            "overdue": "Late",
            "description": st.column_config.TextColumn("Action", width="large"),
            "owner": "Owner",
            "due_date": st.column_config.DateColumn("Due"),
            "status": "Status",
            "expected_impact": st.column_config.NumberColumn("Expected impact", format="localized"),
        },
    )
if ui.may_open(principal, "plan") and st.button("Open the plan", icon=":material/edit_note:"):
    ui.go_to("plan", rep=rep_id)
