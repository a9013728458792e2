"""Plan: the rep's written plan for a fiscal year (summary, obstacles, actions, check-ins, and the
draft → submitted → agreed flow), and for managers the targets editor."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from salesplan import policy, targets_editor, ui
from salesplan.calendar import calendar_for, fiscal_months, fiscal_year_bounds
from salesplan.store import ACTION_STATUSES, OPEN_ACTION_STATUSES

principal = ui.page("plan")
the_store = ui.store()

reps = ui.reps_or_stop(principal)

picker, fy_box = st.columns([3, 1])
this_year = ui.report(principal, ui.today())
rep_id = ui.pick_rep(principal, reps, picker, prefer=this_year.loc[this_year["target"] > 0, "owner_id"].tolist())
if rep_id is None:
    st.warning("Your account is not linked to a rep yet. Ask an admin to add your email to the reps file.")
    st.stop()
fy = int(fy_box.number_input("Fiscal year", value=ui.fy_of(ui.today()), min_value=2000, max_value=2100, step=1,
                             key="plan_fy"))
rep = reps.set_index("rep_id").loc[rep_id]
team = set(reps["rep_id"])  # the reps this principal may see: their scope
writable = policy.may(principal, "write_rep", rep_id=rep_id, team=team)

if ui.may_set_targets(principal):
    plan_tab, targets_tab = st.tabs(["Action plan", "Targets"], key="plan_tabs")
else:
    plan_tab, targets_tab = st.container(), None


def rerun_with(message: str) -> None:
    ui.flash(message)
    st.rerun()


# ====================================================================== the written plan
with plan_tab:
    plan = ui.read(principal, "plan", rep_id, fy)
    year = ui.report(principal, min(ui.today(), fiscal_year_bounds(fy, ui.settings().fy_start_month)[1]), fy=fy)
    year_row = year.loc[year["owner_id"] == rep_id]
    year_row = year_row.iloc[0] if not year_row.empty else None

    status = plan["status"]
    steps = " → ".join(f"**{s}**" if s == status else s for s in ("draft", "submitted", "agreed"))
    head, download = st.columns([3, 1], vertical_alignment="center")
    head.markdown(f"Plan status: {steps}" + ("" if plan["exists"] else " (not started yet)"))
    download.download_button(
        "Printable plan (HTML)", lambda: ui.plan_html(rep["name"], rep_id, fy, plan, year_row, "revenue"),
        file_name=f"plan-{rep_id}-FY{fy}.html", mime="text/html", icon=":material/print:",
    )
    if not plan["exists"]:
        st.info(
            f"No plan for FY{fy} yet. Start with a summary of how the target will be reached, then list the "
            "obstacles you expect and the actions that overcome them."
        )
    if year_row is not None and year_row["target"] > 0:
        st.caption(
            f"Revenue target {ui.money(year_row['target'])}; still to sell {ui.money(max(year_row['remaining'], 0))}; "
            f"open actions cover {ui.pct(year_row['action_coverage'], 0)} of it; status "
            f"{ui.status_label(year_row['status']).lower()}."
        )

    if writable:
        flow = st.columns(4)
        can_agree = policy.may(principal, "agree_plan", rep_id=rep_id)
        if status == "draft" and flow[0].button("Submit for agreement", icon=":material/send:"):
            ok, _ = ui.attempt(the_store.save_plan, principal, rep_id, fy, status="submitted", summary=plan["summary"])
            if ok:
                rerun_with("Plan submitted to the manager for agreement.")
        if status == "submitted":
            if can_agree and flow[0].button("Mark agreed", type="primary", icon=":material/handshake:"):
                ok, _ = ui.attempt(the_store.save_plan, principal, rep_id, fy, status="agreed", summary=plan["summary"])
                if ok:
                    rerun_with("Plan marked agreed.")
            if flow[1].button("Back to draft", icon=":material/undo:"):
                ok, _ = ui.attempt(the_store.save_plan, principal, rep_id, fy, status="draft", summary=plan["summary"])
                if ok:
                    rerun_with("Plan is a draft again.")
        if status == "agreed" and flow[0].button("Reopen as draft", icon=":material/lock_open:"):
            ok, _ = ui.attempt(the_store.save_plan, principal, rep_id, fy, status="draft", summary=plan["summary"])
            if ok:
                rerun_with("Plan reopened as a draft.")

    # ---------------------------------------------------------------- summary
    st.subheader("Summary")
    with st.form("summary_form", border=False):
        summary = st.text_area("How the target will be reached", value=plan["summary"] or "", height=100,
                               disabled=not writable)
        if st.form_submit_button("Save summary", disabled=not writable):
            ok, _ = ui.attempt(the_store.save_plan, principal, rep_id, fy, status=status, summary=summary)
            if ok:
                rerun_with("Summary saved.")

    # ---------------------------------------------------------------- obstacles
    st.subheader("Obstacles")
    obstacles = plan["obstacles"]
    if obstacles.empty:
        st.caption("No obstacles listed yet: what could stop you from reaching the target?")
    else:
        ui.table(obstacles, column_config={
            "obstacle_id": st.column_config.NumberColumn("#", width="small"),
            "description": st.column_config.TextColumn("Obstacle", width="large"),
            "likelihood": st.column_config.ProgressColumn("Likelihood", min_value=0, max_value=5, format="%d / 5"),
            "revenue_at_risk": st.column_config.NumberColumn("Revenue at risk", format="localized"),
        })
    if writable:
        with st.expander("Add an obstacle", icon=":material/add:"), st.form("obstacle_form", clear_on_submit=True):
            description = st.text_input("Obstacle", placeholder="e.g. main customer delays its budget to next year")
            left, right = st.columns(2)
            likelihood = left.slider("Likelihood (1 = unlikely, 5 = almost certain)", 1, 5, 3)
            at_risk = right.number_input("Revenue at risk", min_value=0.0, step=1000.0, format="%.0f")
            if st.form_submit_button("Add obstacle", type="primary"):
                ok, _ = ui.attempt(the_store.add_obstacle, principal, rep_id, fy, description=description,
                                   likelihood=int(likelihood), revenue_at_risk=float(at_risk))
                if ok:
                    rerun_with("Obstacle added.")

    # ---------------------------------------------------------------- actions
    st.subheader("Actions")
    actions = plan["actions"].copy()
    obstacle_names = dict(zip(obstacles["obstacle_id"], obstacles["description"])) if not obstacles.empty else {}
    if actions.empty:
        st.caption("No actions yet: what will you do, by when, and what will it bring in?")
    else:
        actions["answers"] = actions["obstacle_id"].map(lambda i: obstacle_names.get(i, "") if not ui.is_empty(i) else "")
        ui.table(actions[["action_id", "description", "owner", "due_date", "status", "expected_impact", "answers"]],
                 column_config={
            "action_id": st.column_config.NumberColumn("#", width="small"),
            "description": st.column_config.TextColumn("Action", width="large"),
            "owner": "Owner",
            "due_date": st.column_config.DateColumn("Due"),
            "status": "Status",
            "expected_impact": st.column_config.NumberColumn("Expected impact", format="localized"),
            "answers": st.column_config.TextColumn("Answers obstacle"),
        })
    if writable:
        with st.expander("Add an action", icon=":material/add:"), st.form("action_form", clear_on_submit=True):
            description = st.text_input("Action", placeholder="e.g. run a cross-sell campaign on the top 20 accounts")
            left, middle, right = st.columns(3)
            owner = left.text_input("Owner", value=rep["name"])
            due = middle.date_input("Due date", value=None, format="YYYY-MM-DD")
            new_status = right.selectbox("Status", ACTION_STATUSES, format_func=lambda s: s.replace("_", " "))
            left, right = st.columns(2)
            impact = left.number_input("Expected impact (money)", min_value=0.0, step=1000.0, format="%.0f")
            answers = right.selectbox("Answers obstacle", [None, *obstacle_names],
                                      format_func=lambda i: "—" if i is None else f"#{i} {obstacle_names[i]}")
            if st.form_submit_button("Add action", type="primary"):
                ok, _ = ui.attempt(the_store.add_action, principal, rep_id, fy, description=description, owner=owner,
                                   due_date=due, status=new_status, expected_impact=float(impact),
                                   obstacle_id=None if answers is None else int(answers))
                if ok:
                    rerun_with("Action added.")
        if not actions.empty:
            with st.form("action_status_form", border=False):
                left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
                labels = dict(zip(actions["action_id"], actions["description"]))
                chosen = left.selectbox("Update an action", list(labels), format_func=lambda i: f"#{i} {labels[i]}")
                to_status = middle.selectbox("New status", ACTION_STATUSES, format_func=lambda s: s.replace("_", " "))
                if right.form_submit_button("Update"):
                    ok, _ = ui.attempt(the_store.update_action_status, principal, int(chosen), to_status)
                    if ok:
                        rerun_with(f"Action #{chosen} is now {to_status.replace('_', ' ')}.")
        open_count = int(actions["status"].isin(OPEN_ACTION_STATUSES).sum()) if not actions.empty else 0
        st.caption(f"{open_count} open action(s) (planned or in progress) count towards the coverage of the gap.")

    # ---------------------------------------------------------------- check-ins
    st.subheader("Check-ins")
    checkins = plan["checkins"]
    if checkins.empty:
        st.caption("No check-ins yet: record each review of the plan with your manager.")
    else:
        ui.table(checkins[["checkin_date", "author", "note"]], column_config={
            "checkin_date": st.column_config.DateColumn("Date"),
            "author": "Author",
            "note": st.column_config.TextColumn("Note", width="large"),
        })
    if writable:
        with st.expander("Add a check-in", icon=":material/add:"), st.form("checkin_form", clear_on_submit=True):
            when = st.date_input("Date", value=ui.today(), format="YYYY-MM-DD")
            note = st.text_area("Note", placeholder="What was reviewed, what was agreed")
            if st.form_submit_button("Add check-in", type="primary"):
                ok, _ = ui.attempt(the_store.add_checkin, principal, rep_id, fy, checkin_date=when,
                                   author=principal.email, note=note)
                if ok:
                    rerun_with("Check-in added.")


# ====================================================================== targets editor
if targets_tab is not None:
    with targets_tab:
        settings = ui.settings()
        months = fiscal_months(fy, settings.fy_start_month)
        left, middle = st.columns(2)
        owner_types = ["rep", "territory"] if policy.may(principal, "set_targets", other_owners=True) else ["rep"]
        owner_type = left.segmented_control("Target of", owner_types, default="rep", required=True, key="target_owner_type",
                                            format_func={"rep": "this rep", "territory": "a territory"}.get)
        metric = middle.segmented_control("Metric", ["revenue", "profit"], default="revenue", required=True,
                                          format_func=ui.METRIC_LABEL.get, key="target_metric")
        if owner_type == "rep":
            owner_id, territory = rep_id, rep["territory"]
            owner_name = f"{rep['name']} ({rep_id})"
        else:
            territories = ui.read(principal, "territories")
            if territories.empty:
                st.info("No territories yet: they come from the territory column of the reps file (Admin page).")
                st.stop()
            owner_id = st.selectbox("Territory", territories["territory"].tolist(), key="target_territory")
            territory, owner_name = owner_id, owner_id
        if owner_type == "rep" and not policy.may(principal, "set_targets", rep_owners=[owner_id], team=team):
            st.info("Your own target is set by your manager." if owner_id == principal.rep_id
                    else "This rep's target is set by their manager.")
            st.stop()

        current = targets_editor.current_targets(ui.read(principal, "targets"), owner_type, owner_id, metric, months)
        st.markdown(f"**{ui.md(owner_name)}**: current {metric} target for FY{fy}: **{ui.money(current.sum())}**"
                    + ("" if current.any() else " (none set yet)"))

        mode = st.segmented_control("Enter as", ["annual", "monthly"], default="annual", required=True,
                                    key="target_mode", format_func={"annual": "Annual amount + distribution",
                                                                     "monthly": "Monthly amounts"}.get)
        if mode == "annual":
            left, right = st.columns(2)
            amount = left.number_input("Annual amount", min_value=0.0, value=float(current.sum()), step=10000.0,
                                       format="%.2f", key="target_amount")
            preset = right.selectbox("Distribution", list(targets_editor.PRESETS),
                                     format_func=targets_editor.PRESETS.get, key="target_preset")
            prior, percentages = None, None
            if preset == "previous_year":
                prior = ui.prior_year_actuals(principal, owner_type, owner_id, fy, metric)
                if not targets_editor.has_prior_actuals(prior):
                    st.caption("No actuals last year: spread by working days instead.")
            elif preset == "custom":
                shares = st.data_editor(
                    pd.DataFrame({"month": [ui.month_label(m) for m in months],
                                  "percent": targets_editor.default_percentages(current)}),
                    hide_index=True, disabled=["month"], key="target_percentages",
                    column_config={"percent": st.column_config.NumberColumn("Percent", min_value=0.0, format="%.2f %%")},
                )
                st.caption(f"Total: {shares['percent'].sum():.2f} % (must be 100 %)")
                percentages = shares["percent"].tolist()
            calendar = calendar_for(settings, ui.read(principal, "holidays"), territory)
            _, proposed = ui.attempt(targets_editor.propose, preset, amount, fy, settings, calendar,
                                     prior_actuals=prior, percentages=percentages)
        else:
            edited = st.data_editor(
                pd.DataFrame({"month": [ui.month_label(m) for m in months], "amount": current.tolist()}),
                hide_index=True, disabled=["month"], key="target_monthly",
                column_config={"amount": st.column_config.NumberColumn("Amount", min_value=0.0, format="localized")},
            )
            _, proposed = ui.attempt(targets_editor.from_monthly, edited["amount"].tolist(), months)

        if proposed is not None:
            changed = targets_editor.changed_months(current, proposed)
            preview = targets_editor.comparison(current, proposed)
            ui.table(preview.assign(month=preview["month"].map(ui.month_label)), column_config={
                "month": "Month",
                "current": st.column_config.NumberColumn("Current", format="localized"),
                "new": st.column_config.NumberColumn("New", format="localized"),
                "change": st.column_config.NumberColumn("Change", format="localized"),
            })
            with st.form("target_save_form", border=False, clear_on_submit=True):
                reason = st.text_input("Reason for the change (kept with the old values)", key="target_reason",
                                       placeholder="e.g. agreed at the Q3 review")
                submitted = st.form_submit_button(f"Save {len(changed)} changed month(s)", type="primary",
                                                  disabled=not changed)
            if not changed:
                st.caption("Nothing to save: the new targets equal the current ones.")
            if submitted:
                ok, rows = ui.attempt(targets_editor.target_rows, owner_type, owner_id, metric, proposed, changed,
                                      reason)
                if ok:
                    ok, result = ui.attempt(the_store.apply_targets, principal, rows, file_name=None, sha256=None,
                                            reason=rows["reason"].iloc[0])
                if ok:
                    rerun_with(f"Targets saved (batch {result[0]}): {len(changed)} month(s) changed.")

        if owner_type == "territory":
            ratio = ui.allocation(principal, fy, metric)
            ratio = ratio[ratio["territory"] == owner_id]
            if not ratio.empty:
                st.markdown("**Allocation**: sum of the reps' targets ÷ the territory's own target")
                ui.table(ratio.assign(month=ratio["month"].map(ui.month_label))[
                    ["month", "territory_target", "reps_target", "allocation_ratio"]],
                    column_config={
                        "territory_target": st.column_config.NumberColumn("Territory target", format="localized"),
                        "reps_target": st.column_config.NumberColumn("Sum of reps' targets", format="localized"),
                        "allocation_ratio": st.column_config.NumberColumn("Allocation", format="percent"),
                    })

        with st.expander("History of this target", icon=":material/history:"):
            history = ui.read(principal, "target_history", owner_type, owner_id)
            history = history[history["metric"] == metric]
            history = history[pd.to_datetime(history["month"]).dt.date.isin(months)]
            if history.empty:
                st.caption("No versions yet.")
            else:
                ui.table(history.assign(month=history["month"].map(ui.month_label))[
                    ["month", "amount", "previous_amount", "reason", "changed_by", "changed_at", "batch_id", "reverted"]],
                    column_config={
                        "amount": st.column_config.NumberColumn("Amount", format="localized"),
                        "previous_amount": st.column_config.NumberColumn("Previous", format="localized"),
                    })
