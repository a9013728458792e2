"""Watch list: the early warnings of docs/numbers.md, most urgent first, each with what to do and a way to
the plan that needs an update."""

from __future__ import annotations

from functools import partial

import streamlit as st

from salesplan import engine, signals, ui
from salesplan.ui.exports import report_csv, report_excel

principal = ui.page("watchlist")
st.caption("Owners behind plan at two weekly checks in a row, once the grace share of the year has passed; "
           "the fewest working days left to act first.")

left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
metric = left.segmented_control("Metric", ["revenue", "profit"], default="revenue", required=True,
                                format_func=ui.METRIC_LABEL.get, key="watch_metric")
as_of = middle.date_input("As of", value=ui.today(), key="watch_as_of", format="YYYY-MM-DD")
levels = right.pills("Show", list(ui.LEVEL_LABEL), default=list(ui.LEVEL_LABEL), selection_mode="multi",
                     format_func=ui.LEVEL_LABEL.get, key="watch_levels")

reps = ui.reps_or_stop(principal)
stale = signals.stale_data_warning(as_of, ui.read(principal, "last_sale_date"))
if stale:
    st.warning(stale, icon=":material/history:")

entries = ui.watchlist(principal, as_of, metric=metric)
entries = entries[entries["owner_type"].isin(levels or [])]
explanations = {
    (level, owner_id): text
    for level in entries["owner_type"].unique()
    for owner_id, text in ui.chance_details(principal, as_of, level=level, metric=metric)
    .set_index("owner_id")["explanation"].items()
}
if entries.empty:
    if not (ui.report(principal, as_of, metric=metric)["target"] > 0).any():
        st.info(f"Nobody has a {metric} target this fiscal year, so nobody can be behind plan. Set targets on the "
                "**Plan** page (Targets tab) or import a targets file on **Upload**.", icon=":material/flag:")
    else:
        st.success("Nobody is on the watch list: every owner with a target is on track, or the year is too young "
                   "to tell.", icon=":material/check_circle:")
    st.stop()

st.markdown(f"**{len(entries)}** owner(s) need attention, "
            f"**{int(entries['plan_needs_update'].sum())}** plan(s) need an update.")
kind = {"rep": "Rep", "territory": "Territory", "region": "Region", "org": "Organisation"}
# the most urgent first, a page at a time: hundreds of cards would make every rerun slow
PAGE_SIZE = ui.WATCHLIST_PAGE_SIZE
pages = max(1, -(-len(entries) // PAGE_SIZE))
page_number = 1
if pages > 1:
    page_number = st.number_input(f"Page (of {pages}, {PAGE_SIZE} a page, most urgent first)", min_value=1,
                                  max_value=pages, value=1, step=1, key="watch_page")
first = (int(page_number) - 1) * PAGE_SIZE
shown = entries.iloc[first:first + PAGE_SIZE]
for index, entry in enumerate(shown.itertuples(index=False), start=first):
    with st.container(border=True):
        head, badge = st.columns([5, 1], vertical_alignment="center")
        head.markdown(f"**{index + 1}. {ui.md(entry.owner_name)}** · {kind[entry.owner_type]}")
        with badge:
            ui.status_badge(entry.status)
        c1, c2, c3, c4, c5 = st.columns(5)
        c1.metric("Gap to date", ui.money(entry.gap_to_date), help="Expected − actual to date: positive = behind plan")
        days = "passed" if entry.point_of_no_return == engine.PASSED else (
            "—" if ui.is_empty(entry.working_days_to_act) else f"{int(entry.working_days_to_act)}")
        c2.metric("Working days to act", days, help=f"Point of no return: {ui.ponr_text(entry.point_of_no_return)}")
        c3.metric("Required / day", ui.money(entry.required_per_working_day))
        c4.metric("Current / day", ui.money(entry.current_per_working_day))
        c5.metric("Plan coverage", ui.pct(entry.action_coverage, 0) if entry.owner_type == "rep" else "—",
                  help="Open actions' expected impact ÷ what is still to sell (reps only)")
        d1, d2, d3, d4, _ = st.columns(5)
        d4.metric("Chance to reach", ui.pct(entry.chance_to_reach, 0),
                  help=explanations.get((entry.owner_type, entry.owner_id), ""))
        if not ui.is_empty(entry.pipeline):
            d1.metric("Pipeline coverage", ui.pct(entry.pipeline_coverage, 0),
                      help="Open deals closing by the year's end ÷ what is still to sell")
            d2.metric("Weighted coverage", ui.pct(entry.weighted_coverage, 0),
                      help="The same deals × their probability ÷ what is still to sell")
            d3.metric("Uncovered gap", ui.money(entry.uncovered_gap),
                      help="What is still to sell minus the weighted pipeline")
        # the engine's advice already names the gap the weighted pipeline leaves uncovered: said once
        st.markdown(f"**What to do:** {ui.md(entry.recommended_action)}.")
        reason = signals.seasonal_reason(shown.iloc[index - first])
        if reason:
            st.caption(reason)
        if (entry.owner_type, entry.owner_id) in explanations:
            with st.expander("See the math of the chance"):
                st.markdown(ui.md(explanations[(entry.owner_type, entry.owner_id)]))
        if entry.owner_type == "rep":
            links = st.columns([2, 2, 3])
            if entry.plan_needs_update:
                links[2].badge("Plan needs an update", icon=":material/edit_note:", color="orange")
            if ui.may_open(principal, "plan") and links[0].button(
                "Update the plan", key=f"plan_{entry.owner_id}", icon=":material/edit_note:",
                type="primary" if entry.plan_needs_update else "secondary",
            ):
                ui.go_to("plan", rep=entry.owner_id)
            if links[1].button("Open dashboard", key=f"dash_{entry.owner_id}", icon=":material/flag:"):
                ui.go_to("my_plan", rep=entry.owner_id)

stem = f"watchlist-{metric}-{as_of.isoformat()}"
left, right, _ = st.columns([1, 1, 4])
# a callable as data: the file is built when the button is clicked, not on every rerun
left.download_button("Export CSV", partial(report_csv, entries), file_name=f"{stem}.csv", mime="text/csv",
                     icon=":material/download:")
right.download_button("Export Excel", partial(report_excel, entries, "watch list"), file_name=f"{stem}.xlsx",
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      icon=":material/download:")
