"""Plan: the rep's written plan for a fiscal year (summary, obstacles, actions, check-ins, and the
draft → submitted → agreed flow), and for managers the targets editor."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from salesplan import planflow, policy, targets_editor, ui
from salesplan.calendar import calendar_for, fiscal_months, fiscal_year_bounds
from salesplan.store import ACTION_STATUSES, OPEN_ACTION_STATUSES

principal = ui.page("plan")
the_store = ui.store()

reps = ui.reps_or_stop(principal)

if policy.may_agree_some(principal):
    queue = ui.read(principal, "plan_queue")  # cached: a plan's status change is a new data version
    with st.expander(f"Waiting for your agreement ({len(queue)})", expanded=not queue.empty,
                     icon=":material/pending_actions:"):
        if queue.empty:
            st.caption("No plan is waiting for your agreement.")
        for row in queue.itertuples(index=False):
            text, agree = st.columns([4, 1], vertical_alignment="center")
            text.markdown(f"**{ui.md(row.name or row.rep_id)}** ({row.rep_id}), FY{row.fy}: "
                          f"{ui.md(row.summary or 'no summary')} · submitted by {ui.md(row.updated_by or '—')}")
            if agree.button("Agree", key=f"agree_{row.rep_id}_{row.fy}", icon=":material/handshake:"):
                ok, _ = ui.attempt_plan(principal, row.rep_id, int(row.fy), the_store.save_plan, principal, row.rep_id,
                                        int(row.fy), status="agreed",
                                   summary=row.summary or "")
                if ok:
                    ui.flash(f"Plan of {ui.md(str(row.name or row.rep_id))} for FY{row.fy} marked agreed.")
                    st.rerun()

picker, fy_box = st.columns([3, 1])
this_year = ui.report(principal, ui.today())
rep_id = ui.pick_rep(principal, reps, picker, prefer=this_year.loc[this_year["target"] > 0, "owner_id"].tolist())
if rep_id is None:
    st.warning("Your account is not linked to a rep yet. Ask an admin to add your email to the reps file.")
    st.stop()
fy = int(fy_box.number_input("Fiscal year", value=ui.fy_of(ui.today()), min_value=1900, max_value=2199, step=1,
                             key="plan_fy"))
rep = reps.set_index("rep_id").loc[rep_id]
team = set(reps["rep_id"])  # the reps this principal may see: their scope
writable = policy.may(principal, "write_rep", rep_id=rep_id, team=team)

if ui.may_set_targets(principal):
    # only the open tab runs (opening the other reruns the page): every run of the action plan,
    # such as the rerun after each of its writes, built the whole targets editor for nothing
    plan_tab, targets_tab = st.tabs(["Action plan", "Targets"], key="plan_tabs", on_change="rerun")
else:
    plan_tab, targets_tab = st.container(), None


def write_plan(action, *args, **kwargs):
    """``ui.attempt(action, principal, *args, **kwargs)`` for a write of this plan: one that
    leaves the numbers as they were keeps the cached ones (ui.attempt_plan)."""
    return ui.attempt_plan(principal, rep_id, fy, action, principal, *args, **kwargs)


def rerun_with(message: str) -> None:
    ui.flash(message)
    st.rerun()


def changed_plan(message: str, status_before: str) -> None:
    """After a change of obstacles or actions: say so, and say when it sent an agreed plan back."""
    if status_before == "agreed" and the_store.plan(principal, rep_id, fy)["status"] == "submitted":
        message += " The plan was agreed: this change sends it back to submitted, for agreement again."
    rerun_with(message)


# ====================================================================== the written plan
with plan_tab:
    plan = ui.read(principal, "plan", rep_id, fy)
    year = ui.report(principal, min(ui.today(), fiscal_year_bounds(fy, ui.settings().fy_start_month)[1]), fy=fy)
    year_row = year.loc[year["owner_id"] == rep_id]
    year_row = year_row.iloc[0] if not year_row.empty else None

    status = plan["status"]
    if not writable:
        st.caption("Read-only: you read this plan; its rep and their manager change it.")
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
    if year_row is not None and year_row["status"] == "not_started":  # only its target is known yet
        st.caption(f"Revenue target {ui.money(year_row['target'])}; FY{fy} starts on "
                   f"{ui.day_text(year_row['period_start'])}: nothing is sold or due yet.")
    elif year_row is not None and year_row["target"] > 0:
        st.caption(
            f"Revenue target {ui.money(year_row['target'])}; still to sell {ui.money(max(year_row['remaining'], 0))}; "
            f"open actions cover {ui.pct(year_row['action_coverage'], 0)} of it; status "
            f"{ui.status_label(year_row['status']).lower()}."
        )

    if writable:
        flow = st.columns(4)
        can_agree = policy.may(principal, "agree_plan", rep_id=rep_id)
        if status == "draft" and flow[0].button("Submit for agreement", icon=":material/send:"):
            ok, _ = write_plan(the_store.save_plan, rep_id, fy, status="submitted", summary=plan["summary"])
            if ok:
                rerun_with("Plan submitted to the manager for agreement.")
        if status == "submitted":
            if can_agree and flow[0].button("Mark agreed", type="primary", icon=":material/handshake:"):
                ok, _ = write_plan(the_store.save_plan, rep_id, fy, status="agreed", summary=plan["summary"])
                if ok:
                    rerun_with("Plan marked agreed.")
            if flow[1].button("Back to draft", icon=":material/undo:"):
                ok, _ = write_plan(the_store.save_plan, rep_id, fy, status="draft", summary=plan["summary"])
                if ok:
                    rerun_with("Plan is a draft again.")
        if status == "agreed" and flow[0].button("Reopen as draft", icon=":material/lock_open:"):
            ok, _ = write_plan(the_store.save_plan, rep_id, fy, status="draft", summary=plan["summary"])
            if ok:
                rerun_with("Plan reopened as a draft.")

    # ---------------------------------------------------------------- summary
    st.subheader("Summary")
    with st.form("summary_form", border=False):
        summary = st.text_area("How the target will be reached", value=plan["summary"] or "", height=100,
                               disabled=not writable)
        if st.form_submit_button("Save summary", disabled=not writable):
            ok, _ = write_plan(the_store.save_plan, rep_id, fy, status=status, summary=summary)
            if ok:
                rerun_with("Summary saved.")

    # ---------------------------------------------------------------- obstacles
    st.subheader("Obstacles")
    obstacles = plan["obstacles"].copy()
    obstacle_names = {int(o.obstacle_id): planflow.item_label("obstacle", o.number) + f": {o.description}"
                      for o in obstacles.itertuples(index=False)}
    if obstacles.empty:
        st.caption("No obstacles listed yet: what could stop you from reaching the target?")
    else:
        obstacles["label"] = [planflow.item_label("obstacle", n) for n in obstacles["number"]]
        ui.table(obstacles[["label", "description", "likelihood", "revenue_at_risk"]], column_config={
            "label": st.column_config.TextColumn("#", width="small"),
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
                ok, _ = write_plan(the_store.add_obstacle, rep_id, fy, description=description,
                                   likelihood=int(likelihood), revenue_at_risk=float(at_risk))
                if ok:
                    changed_plan("Obstacle added.", status)
        if not obstacles.empty:
            with st.expander("Change or delete an obstacle", icon=":material/edit:"):
                chosen = st.selectbox("Obstacle to change", list(obstacle_names), format_func=obstacle_names.get,
                                      key="edit_obstacle_pick")
                item = obstacles.set_index("obstacle_id").loc[chosen]
                name = planflow.item_label("obstacle", item["number"])
                with st.form(f"edit_obstacle_{chosen}", border=False):
                    description = st.text_input("Description", value=item["description"])
                    left, right = st.columns(2)
                    likelihood = left.slider("Likelihood", 1, 5, int(item["likelihood"]))
                    at_risk = right.number_input("At risk (money)", min_value=0.0, step=1000.0, format="%.0f",
                                                 value=float(item["revenue_at_risk"] or 0.0))
                    if st.form_submit_button(f"Save {name}", type="primary"):
                        ok, _ = write_plan(the_store.update_obstacle, int(chosen), description=description,
                                           likelihood=int(likelihood), revenue_at_risk=float(at_risk))
                        if ok:
                            changed_plan(f"{name} changed.", status)
                sure = st.checkbox(f"Yes, delete {name} (its actions stay, no longer linked to it)",
                                   key=f"confirm_delete_obstacle_{chosen}")
                if st.button(f"Delete {name}", disabled=not sure, icon=":material/delete:",
                             key=f"delete_obstacle_{chosen}"):
                    ok, _ = write_plan(the_store.delete_obstacle, int(chosen))
                    if ok:
                        changed_plan(f"{name} deleted.", status)

    # ---------------------------------------------------------------- actions
    st.subheader("Actions")
    actions = planflow.flag_overdue(plan["actions"], ui.today()) if not plan["actions"].empty else plan["actions"].copy()
    if actions.empty:
        st.caption("No actions yet: what will you do, by when, and what will it bring in?")
    else:
        late = int(actions["overdue"].sum())
        if late:
            st.warning(f"{late} open action(s) past their due date: mark them done, dropped, or give a new date.",
                       icon=":material/schedule:")
        actions["label"] = [planflow.item_label("action", n) for n in actions["number"]]
        numbers = dict(zip(obstacles["obstacle_id"], obstacles["number"])) if not obstacles.empty else {}
        actions["answers"] = actions["obstacle_id"].map(
            lambda i: planflow.item_label("obstacle", numbers[i]) if not ui.is_empty(i) and i in numbers else "")
        actions["overdue"] = actions["overdue"].map({True: "overdue", False: ""})
        ui.table(planflow.for_people(actions, dict(zip(reps["rep_id"], reps["name"])))[["label", "description", "owner", "due_date", "status", "overdue", "expected_impact",
                          "answers"]],
                 column_config={
            "label": st.column_config.TextColumn("#", width="small"),
            "description": st.column_config.TextColumn("Action", width="large"),
            "owner": "Owner",
            "due_date": st.column_config.DateColumn("Due"),
            "status": "Status",
            "overdue": "Late",
            "expected_impact": st.column_config.NumberColumn("Expected impact", format="localized"),
            "answers": st.column_config.TextColumn("Answers"),
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
                                      format_func=lambda i: "—" if i is None else obstacle_names[i])
            if st.form_submit_button("Add action", type="primary"):
                ok, _ = write_plan(the_store.add_action, rep_id, fy, description=description, owner=owner,
                                   due_date=due, status=new_status, expected_impact=float(impact),
                                   obstacle_id=None if answers is None else int(answers))
                if ok:
                    changed_plan("Action added.", status)
        if not actions.empty:
            labels = {int(a.action_id): f"{a.label!s}: {a.description!s}" for a in actions.itertuples(index=False)}
            with st.form("action_status_form", border=False):
                left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
                chosen = left.selectbox("Update an action", list(labels), format_func=labels.get)
                to_status = middle.selectbox("New status", ACTION_STATUSES, format_func=lambda s: s.replace("_", " "))
                if right.form_submit_button("Update"):
                    ok, _ = write_plan(the_store.update_action_status, int(chosen), to_status)
                    if ok:
                        rerun_with(f"{labels[chosen].split(':')[0]} is now {to_status.replace('_', ' ')}.")
            with st.expander("Change or delete an action", icon=":material/edit:"):
                chosen = st.selectbox("Action to change", list(labels), format_func=labels.get, key="edit_action_pick")
                item = actions.set_index("action_id").loc[chosen]
                name = str(item["label"])
                with st.form(f"edit_action_{chosen}", border=False):
                    description = st.text_input("Description", value=item["description"])
                    left, middle, right = st.columns(3)
                    owner = left.text_input("Owner", value=item["owner"] or "")
                    due = middle.date_input("Due date", format="YYYY-MM-DD",
                                            value=None if ui.is_empty(item["due_date"]) else pd.Timestamp(item["due_date"]).date())
                    new_status = right.selectbox("Status", ACTION_STATUSES, index=ACTION_STATUSES.index(item["status"]),
                                                 format_func=lambda s: s.replace("_", " "))
                    left, right = st.columns(2)
                    impact = left.number_input("Expected impact (money)", min_value=0.0, step=1000.0, format="%.0f",
                                               value=float(item["expected_impact"] or 0.0))
                    linked = None if ui.is_empty(item["obstacle_id"]) else int(item["obstacle_id"])
                    options = [None, *obstacle_names]
                    answers = right.selectbox("Answers obstacle", options,
                                              index=options.index(linked) if linked in options else 0,
                                              format_func=lambda i: "—" if i is None else obstacle_names[i])
                    if st.form_submit_button(f"Save {name}", type="primary"):
                        ok, _ = write_plan(the_store.update_action, int(chosen), description=description,
                                           owner=owner, due_date=due, status=new_status, expected_impact=float(impact),
                                           obstacle_id=None if answers is None else int(answers))
                        if ok:
                            changed_plan(f"{name} changed.", status)
                sure = st.checkbox(f"Yes, delete {name}", key=f"confirm_delete_action_{chosen}")
                if st.button(f"Delete {name}", disabled=not sure, icon=":material/delete:",
                             key=f"delete_action_{chosen}"):
                    ok, _ = write_plan(the_store.delete_action, int(chosen))
                    if ok:
                        changed_plan(f"{name} deleted.", status)
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
                ok, _ = write_plan(the_store.add_checkin, rep_id, fy, checkin_date=when,
                                   author=principal.email, note=note)
                if ok:
                    rerun_with("Check-in added.")


# ====================================================================== targets editor
if targets_tab is not None and targets_tab.open:
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

        closed = targets_editor.closed_months(months, ui.today())
        include_closed = st.checkbox(
            f"Also rewrite the closed months ({len(closed)} before {ui.today():%b %Y})", value=False,
            key="target_include_closed", disabled=not closed,
            help="Their sales are in: by default the editor leaves their targets as they are.")
        if proposed is not None and closed and not include_closed:
            proposed = targets_editor.keep_months(current, proposed, closed)
        if proposed is not None:
            changed = targets_editor.changed_months(current, proposed)
            preview = targets_editor.comparison(current, proposed)
            ui.table(preview.assign(month=preview["month"].map(ui.month_label)), column_config={
                "month": "Month",
                "current": st.column_config.NumberColumn("Current", format="localized"),
                "new": st.column_config.NumberColumn("New", format="localized"),
                "change": st.column_config.NumberColumn("Change", format="localized"),
            })
            if changed:
                st.markdown(f"Saving changes **{len(changed)} month(s)**: {targets_editor.months_text(changed)}.")
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
                    # kept on screen (not a one-run flash) until the next save, so it can be read
                    st.session_state["target_saved"] = (owner_type, owner_id, metric, fy, f"Targets saved (batch {result[0]}): {len(changed)} month(s) "
                                                        f"changed: {targets_editor.months_text(changed)}.")
                    st.rerun()
        saved = st.session_state.get("target_saved")
        if saved and saved[:4] == (owner_type, owner_id, metric, fy):  # only next to the target it is about
            st.success(saved[4], icon=":material/check_circle:")

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
