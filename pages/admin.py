"""Admin: people and territories, the calendar (fiscal year, working weekdays, holidays), the
settings (docs/settings), the pipeline's stage probabilities, e-mail (docs/notifications.md: the
mail settings, a test, any account's digest preview, the failed sends), the sign-in accounts, and
the audit log."""

from __future__ import annotations

import base64
import calendar as months_of_year
from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from salesplan import imports, notify, ui, upload_flow
from salesplan.currency import CODES, month_key
from salesplan.errors import SalesplanError
from salesplan.principal import ROLES
from salesplan.settings import WEEKDAY_NAMES
from salesplan.ui import admin_data

principal = ui.page("admin")
the_store = ui.store()

settings = ui.settings()
# only the open tab runs (opening another reruns the page): every run, such as the rerun after
# each save, ran all eight tabs' reads and widgets for the one shown
people_tab, calendar_tab, settings_tab, currencies_tab, pipeline_tab, mail_tab, users_tab, audit_tab = st.tabs(
    ["People", "Calendar", "Settings", "Currencies", "Pipeline", "E-mail", "Users", "Audit log"], key="admin_tabs",
    on_change="rerun")


def import_form(kind: str, label: str, key: str, *, example: str | None = None) -> None:
    """A file uploader and an Import button for a reps, holidays or rates file (reps and holidays are
    not undoable: the old values are restored by importing the previous file again; rates are undone
    on the Currencies tab). ``example``: the file offered as the template (default: the kind's)."""
    upload = st.file_uploader(label, type=["csv", "txt", "tsv", "xlsx", "xlsb", "xls", "ods"], key=key,
                              max_upload_size=settings.upload_limit_mb)
    left, right = st.columns([1, 3], vertical_alignment="center")
    right.download_button("Download the template", example or imports.template_csv(kind),
                          file_name=f"{kind}-template.csv", mime="text/csv", key=f"{key}_template",
                          icon=":material/download:")
    if left.button("Import", key=f"{key}_import", type="primary", disabled=upload is None, icon=":material/upload:"):
        outcome = upload_flow.run_import(the_store, principal, kind, upload.getvalue(), file_name=upload.name,
                                         sha="", header=[], column_map=None, valid_only=False)
        if outcome.problems is not None:
            ui.show_problems(outcome.problems, title="Nothing was imported")
            if len(outcome.problems) > 1:
                st.download_button("Download the problems (CSV)", ui.csv_bytes(outcome.problems),
                                   file_name=f"problems-{upload.name}.csv", mime="text/csv", key=f"{key}_problems")
        elif outcome.error:
            st.error(ui.md(outcome.error))
        else:
            counts = outcome.counts
            ui.flash(f"{kind.capitalize()} imported (batch {outcome.batch_id}): {counts['inserted']} new, "
                     f"{counts['updated']} changed, {counts['unchanged']} unchanged.")
            st.rerun()


def rep_history_editor(reps: pd.DataFrame) -> None:
    """The chosen rep's territory and manager over time (docs/people.md): the rows, a row added or
    changed from a day on, a row deleted, and the end date of a leaver."""
    st.markdown("**Territory and manager over time**")
    st.caption("A rep's territory and manager from a day on, until the next row. Sales without a territory in "
               "their file count for the territory the rep was in on the sale date; a territory's bottom-up "
               "target sums the reps who were in it on the month's first day.")
    rep_text = ui.rep_label(reps)
    who = st.selectbox("Rep", reps["rep_id"].tolist(), format_func=rep_text, key="history_rep")
    history = ui.read(principal, "rep_history", who)
    ui.table(admin_data.history_rows(history), column_config={
        "from": "From", "until": "Until", "territory": "Territory", "manager": "Manager"})
    rep = reps.set_index("rep_id").loc[who]
    territories = [None, *ui.read(principal, "territories")["territory"].tolist()]
    managers = [None, *[r for r in reps["rep_id"].tolist() if r != who]]
    add_col, end_col = st.columns(2)
    # the form's widgets are keyed by rep: another rep's form starts from that rep's own values
    with add_col, st.form("history_form"):
        st.markdown("Add or change a row (a row of the same day is replaced)")
        since = st.date_input("From", value=ui.today(), min_value=admin_data.ALWAYS, max_value=date(2199, 12, 31),
                              key="history_from")
        left, right = st.columns(2)
        current = None if ui.is_empty(rep["territory"]) else rep["territory"]
        territory = left.selectbox("Territory", territories, key=f"history_territory_{who}",
                                   index=territories.index(current) if current in territories else 0,
                                   format_func=lambda t: "— none —" if t is None else t)
        boss = None if ui.is_empty(rep["manager"]) else rep["manager"]
        manager = right.selectbox("Manager", managers, key=f"history_manager_{who}",
                                  index=managers.index(boss) if boss in managers else 0,
                                  format_func=lambda r: "— none —" if r is None else rep_text(r))
        if st.form_submit_button("Save row", type="primary", icon=":material/save:"):
            ok, _ = ui.attempt(the_store.set_rep_history, principal, who, since, territory, manager)
            if ok:
                ui.flash(f"{ui.md(rep_text(who))}: {ui.md(territory or 'no territory')}, manager "
                         f"{ui.md(manager or 'none')} from {since.isoformat()}.")
                st.rerun()
    with end_col:
        labels = admin_data.history_labels(history)
        if len(labels) > 1:
            with st.form("history_delete_form"):
                day = st.selectbox("Delete a row (the one before it runs on)", list(labels), format_func=labels.get,
                                   key="history_delete")
                if st.form_submit_button("Delete row", icon=":material/delete:"):
                    ok, _ = ui.attempt(the_store.delete_rep_history, principal, who, day)
                    if ok:
                        ui.flash(f"{ui.md(rep_text(who))}: the row {ui.md(labels[day])} is deleted.")
                        st.rerun()
        with st.form("leaver_form"):
            ended = None if ui.is_empty(rep["end_date"]) else pd.Timestamp(rep["end_date"]).date()
            leaving = st.checkbox("Has left or is leaving", value=ended is not None, key=f"leaver_{who}")
            end = st.date_input("Last day", value=ended or ui.today(), min_value=admin_data.ALWAYS,
                                max_value=date(2199, 12, 31), key=f"leaver_end_{who}",
                                help="No targets after it; the month that contains it keeps its target. Their "
                                     "sales stay where they are.")
            if st.form_submit_button("Save end date", icon=":material/event_busy:"):
                ok, _ = ui.attempt(the_store.set_rep_end_date, principal, who, end if leaving else None)
                if ok:
                    ui.flash(f"{ui.md(rep_text(who))} " + (f"leaves after {end.isoformat()}." if leaving
                                                          else "has no end date."))
                    st.rerun()


# ---------------------------------------------------------------- people
if people_tab.open:
    with people_tab:
        reps = ui.read(principal, "reps")
        if reps.empty:
            st.info("No reps yet: import a reps file (rep_id, name, and optionally email, territory, region, manager, "
                    "start and end dates).")
        else:
            st.markdown(f"**{len(reps)}** reps in **{reps['territory'].nunique()}** territories and "
                        f"**{reps['region'].nunique()}** regions.")
            ui.table(reps, column_config={
                "rep_id": "Rep id", "name": "Name", "email": "Email", "territory": "Territory", "region": "Region",
                "manager": "Manager", "start_date": st.column_config.DateColumn("Start"),
                "end_date": st.column_config.DateColumn("End"), "left": "Left",
            })
            rep_history_editor(reps)
            left, right = st.columns(2)
            with left:
                st.markdown("**Territories**")
                ui.table(ui.read(principal, "territories"))
            with right:
                st.markdown("**To edit people**")
                st.caption("Download the current list, change it in a spreadsheet and import it again: rows are matched "
                           "by rep_id, so changed rows are updated and new rows added.")
                st.download_button("Download current reps (CSV)", partial(ui.csv_bytes, reps), file_name="reps.csv",
                                   mime="text/csv", icon=":material/download:")
        # people files go through the Upload page's mapping step (any export's headers, rep ids made)
        st.markdown("**Import people** (a reps file or any export of your people): on the Upload page, "
                    "choose *People (reps)*.")
        st.page_link(ui.PAGES["upload"].path, label="Upload people", icon=":material/upload_file:")

# ---------------------------------------------------------------- calendar
if calendar_tab.open:
    with calendar_tab:
        with st.form("calendar_form"):
            left, right = st.columns(2)
            start_month = left.selectbox("Fiscal year starts in", list(range(1, 13)), index=settings.fy_start_month - 1,
                                         format_func=lambda m: months_of_year.month_name[m], key="fy_start_month")
            weekdays = right.multiselect("Working weekdays", list(WEEKDAY_NAMES),
                                         default=[WEEKDAY_NAMES[i] for i in settings.working_weekdays], key="weekdays")
            st.caption("FY N is the fiscal year that ends in calendar year N.")
            if st.form_submit_button("Save calendar", type="primary"):
                ok, _ = ui.attempt(the_store.save_settings, principal, fy_start_month=int(start_month),
                                   working_weekdays=",".join(weekdays))
                if ok:
                    ui.flash("Calendar saved.")
                    st.rerun()

        st.markdown("**Holidays**")
        holidays = ui.read(principal, "holidays")
        if holidays.empty:
            st.caption("No holidays yet: import a holidays file (date, name, and a territory for local holidays).")
        else:
            shown = holidays.assign(territory=holidays["territory"].fillna("(whole organisation)"))
            ui.table(shown, column_config={"date": st.column_config.DateColumn("Date")})
            with st.form("holiday_delete_form"):
                labels = {
                    i: f"{ui.day_text(row.date)} · {row.name or 'holiday'} · {row.territory or 'whole organisation'}"
                    for i, row in enumerate(holidays.itertuples())
                }
                chosen = st.selectbox("Delete a holiday", list(labels), format_func=labels.get, key="holiday_delete")
                if st.form_submit_button("Delete", icon=":material/delete:"):
                    row = holidays.iloc[chosen]
                    ok, _ = ui.attempt(the_store.delete_holiday, principal, row["date"],
                                       None if ui.is_empty(row["territory"]) else row["territory"])
                    if ok:
                        ui.flash(f"Holiday {ui.md(labels[chosen])} deleted.")
                        st.rerun()
        import_form("holidays", "Holidays file (CSV or Excel)", "holidays_upload")

# ---------------------------------------------------------------- settings
if settings_tab.open:
    with settings_tab:
        with st.form("settings_form"):
            left, right = st.columns(2)
            window = left.number_input("Run-rate window (working days)", min_value=1, max_value=520, value=settings.window,
                                       step=1, help="The current and best run-rates average this many working days "
                                       "(65 ≈ one quarter).", key="setting_window")
            at_risk = right.number_input("At-risk band (pace from)", min_value=0.0, max_value=1.0, value=settings.at_risk,
                                         step=0.01, format="%.2f", help="Below a pace of 1.00 but at least this is "
                                         "'at risk'; below it is 'off track'.", key="setting_at_risk")
            grace = left.number_input("Grace share of the period", min_value=0.0, max_value=1.0, value=settings.grace,
                                      step=0.01, format="%.2f", help="No early warning before this share of the "
                                      "period's working days has passed.", key="setting_grace")
            limit = right.number_input("Upload limit (MB)", min_value=1, max_value=10_000, value=settings.upload_limit_mb,
                                       step=1, key="setting_upload_limit")
            if st.form_submit_button("Save settings", type="primary"):
                ok, _ = ui.attempt(the_store.save_settings, principal, window=int(window), at_risk=float(at_risk),
                                   grace=float(grace), upload_limit_mb=int(limit))
                if ok:
                    ui.flash("Settings saved: every figure now uses them.")
                    st.rerun()

# ---------------------------------------------------------------- currencies
if currencies_tab.open:
    with currencies_tab:
        base = settings.base_currency
        with st.form("base_currency_form"):
            codes = ["", *sorted(CODES)]
            chosen_base = st.selectbox(
                "Base currency", codes, index=codes.index(base) if base in codes else 0, key="base_currency",
                format_func=lambda code: code or "— none: one currency —",
                help="Every report is in it; amounts in other currencies are converted at the month's rate. It can be "
                     "changed only while no rates are stored.")
            if st.form_submit_button("Save base currency", type="primary", icon=":material/save:"):
                if admin_data.save_settings(principal, base_currency=chosen_base):
                    ui.flash(f"Base currency: {chosen_base or 'none (one currency)'}.")
                    st.rerun()
        if not base:
            st.info("A single-currency organisation: amounts in a second currency are refused. Set a base currency to "
                    "import monthly rates for the others (docs/currencies.md).")
        else:
            st.caption(f"Rates are units of {base} for one unit of the currency, one per month. An amount converts at "
                       "the rate of its month (a sale's date, a target's month, a deals snapshot's date); a new rate "
                       "re-prices the amounts of its month at once, and the previous rate is kept.")
            rates = admin_data.rates_table(ui.read(principal, "rates"))
            if rates.empty:
                st.caption("No rates yet: set one below or import a rates file.")
            else:
                ui.table(rates, column_config={
                    "month": "Month", "currency": "Currency",
                    "rate": st.column_config.NumberColumn(f"Rate (in {base})", format="%.6f"),
                    "batch_id": st.column_config.NumberColumn("Batch", format="%d"),
                })
            with st.form("rate_form"):
                st.markdown("**Set one rate**")
                left, middle, right = st.columns(3)
                currencies = admin_data.currency_choices(base)
                rate_currency = left.selectbox("Currency", currencies, key="rate_currency",
                                               index=currencies.index("USD") if "USD" in currencies else 0)
                rate_month = middle.text_input("Month (YYYY-MM)", value=f"{ui.today():%Y-%m}", key="rate_month")
                rate_value = right.number_input(f"Rate (in {base})", min_value=0.0, value=1.0, step=0.01, format="%.6f",
                                                key="rate_value")
                if st.form_submit_button("Set rate", type="primary", icon=":material/currency_exchange:"):
                    ok, outcome = ui.attempt(the_store.set_rate, principal, rate_currency, rate_month, float(rate_value))
                    if ok:
                        ui.flash(f"{rate_currency} rate for {month_key(rate_month)} set to {rate_value:g} "
                                 f"(batch {outcome[0]}).")
                        st.rerun()
            st.markdown("**Import a rates file**")
            import_form("rates", "Rates file: currency, month (YYYY-MM), rate", "rates_upload",
                        example=admin_data.rates_example(base, ui.today()))
            stored = sorted(set(ui.read(principal, "rates")["currency"]))
            if stored:
                st.markdown("**History of a currency's rates**")
                which = st.selectbox("Currency", stored, key="rate_history_currency")
                history = the_store.rate_history(principal, which)
                ui.table(history.assign(month=pd.to_datetime(history["month"]).dt.strftime("%Y-%m")), column_config={
                    "month": "Month", "rate": st.column_config.NumberColumn("Rate", format="%.6f"),
                    "previous_rate": st.column_config.NumberColumn("Before", format="%.6f"),
                    "batch_id": st.column_config.NumberColumn("Batch", format="%d"), "changed_by": "By",
                    "changed_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
                    "reverted": "Undone",
                })
            undoable = admin_data.rate_batches(ui.read(principal, "batches"))
            if undoable:
                with st.form("rates_undo_form"):
                    batch = st.selectbox("Undo a rates batch", list(undoable), format_func=undoable.get, key="rates_undo")
                    st.caption("Each rate of the batch goes back to the newest earlier one not undone; refused when "
                               "stored amounts would be left without a rate.")
                    if st.form_submit_button("Undo", icon=":material/undo:"):
                        ok, _ = ui.attempt(the_store.undo, principal, int(batch))
                        if ok:
                            ui.flash(f"Rates batch {batch} undone.")
                            st.rerun()

# ---------------------------------------------------------------- pipeline
if pipeline_tab.open:
    with pipeline_tab:
        st.caption("The chance that a deal in each stage closes, used for a deal whose file gives no probability "
                   "of its own (the weighted pipeline). Stages are matched ignoring case and spaces. Stages of the "
                   "imported deals that have no probability yet are listed empty: fill them in, or leave them empty "
                   "(such a deal then needs a probability of its own in the file).")
        editor = admin_data.stage_rows(settings, ui.read(principal, "deal_history"))
        with st.form("stages_form"):
            edited = st.data_editor(
                editor, key="stage_editor", num_rows="dynamic", hide_index=True, width="stretch",
                column_config={
                    "stage": st.column_config.TextColumn("Stage", required=True, max_chars=100),
                    "percent": st.column_config.NumberColumn("Probability (%)", min_value=0.0, max_value=100.0,
                                                             step=1.0, format="%.0f%%"),
                })
            if st.form_submit_button("Save stage probabilities", type="primary", icon=":material/save:"):
                stages, unset = admin_data.stage_map(edited)
                if admin_data.save_settings(principal, stage_probabilities=stages):
                    left_out = (" Without a probability (a deal in these stages needs its own): "
                                + ", ".join(f"“{ui.md(stage)}”" for stage in unset) + ".") if unset else ""
                    ui.flash(f"Stage probabilities saved ({len(stages)} stage{'s' if len(stages) != 1 else ''})."
                             + left_out)
                    st.rerun()

# ---------------------------------------------------------------- e-mail
if mail_tab.open:
    with mail_tab:
        st.caption(admin_data.sender_state(settings))
        with st.form("mail_form"):
            left, middle, right = st.columns(3)
            zones = admin_data.time_zones(settings.timezone)
            timezone = left.selectbox("Time zone", zones, index=zones.index(settings.timezone), key="mail_timezone",
                                      help="The organisation's time zone: the digest hour is in it.")
            digest_day = middle.selectbox("Digest day", list(WEEKDAY_NAMES), index=settings.digest_day, key="mail_day")
            digest_hour = right.number_input("Digest hour (0-23)", min_value=0, max_value=23, value=settings.digest_hour,
                                             step=1, key="mail_hour", help="Also the hour of the day's alerts.")
            left, right = st.columns(2)
            mail_from = left.text_input("Sender", value=settings.mail_from, key="mail_from",
                                        placeholder="Sales plan <plan@example.com>")
            dashboard_url = right.text_input("Dashboard address (for links)", value=settings.dashboard_url,
                                             key="mail_dashboard_url", placeholder="https://plan.example.com")
            left, middle, right = st.columns([2, 1, 2])
            smtp_host = left.text_input("Mail server (SMTP host)", value=settings.smtp_host, key="mail_smtp_host",
                                        placeholder="smtp.example.com")
            smtp_port = middle.number_input("Port", min_value=1, max_value=65535, value=settings.smtp_port, step=1,
                                            key="mail_smtp_port")
            smtp_user = right.text_input("Server account (empty: no login)", value=settings.smtp_user,
                                         key="mail_smtp_user")
            starttls = st.toggle("Switch to TLS with STARTTLS before logging in", value=settings.smtp_starttls,
                                 key="mail_starttls", help="Turn off only on a trusted network.")
            st.caption("The server password is never stored in the database: set the environment variable "
                       "`SALESPLAN_SMTP_PASSWORD`, or `password` under `[smtp]` in `.streamlit/secrets.toml`.")
            if st.form_submit_button("Save e-mail settings", type="primary", icon=":material/save:"):
                if admin_data.save_settings(principal, timezone=timezone, digest_day=digest_day,
                                            digest_hour=int(digest_hour), mail_from=mail_from, smtp_host=smtp_host,
                                            smtp_port=int(smtp_port), smtp_user=smtp_user,
                                            smtp_starttls="on" if starttls else "off", dashboard_url=dashboard_url):
                    ui.flash("E-mail settings saved.")
                    st.rerun()

        left, right = st.columns([1, 3], vertical_alignment="center")
        if left.button("Send me a test", icon=":material/forward_to_inbox:", key="mail_test"):
            try:
                st.session_state["mail_test_result"] = (True, notify.send_test(the_store, principal, as_of=ui.today()))
            except SalesplanError as error:  # NotConfigured, SendFailed: their own words say what to fix
                st.session_state["mail_test_result"] = (False, str(error))
        right.caption(f"Sends your own digest to {ui.email_text(principal.email)} now, marked [Test]; the weekly "
                      "digest still goes out.")
        tested = st.session_state.pop("mail_test_result", None)
        if tested is not None:
            sent, message = tested
            (st.success if sent else st.error)(ui.md(message), icon=":material/mail:" if sent else ":material/error:")

        st.markdown("**Preview a digest**")
        accounts = the_store.users(principal)
        accounts = accounts.loc[~accounts["disabled"].astype(bool), "email"].tolist()
        if accounts:
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            whose = left.selectbox("Whose digest", accounts, key="preview_account",
                                   index=accounts.index(principal.email) if principal.email in accounts else 0)
            if right.button("Show the digest", icon=":material/preview:", key="preview_show"):
                ok, shown = ui.attempt(notify.preview_digest, the_store, principal, whose, as_of=ui.today())
                st.session_state["digest_preview"] = (whose, shown) if ok else None
            previewed = st.session_state.get("digest_preview")
            if previewed and previewed[0] == whose:
                digest = previewed[1]
                st.markdown(f"Subject: **{ui.md(digest.subject)}** · as of {ui.day_text(ui.today())}, computed from "
                            f"what {ui.email_text(whose)} may see")
                html_tab, text_tab = st.tabs(["As HTML", "As plain text"])
                with html_tab:
                    # a data: address: the message gets an origin of its own, never the dashboard's (a name
                    # in it is escaped by the renderer; this is the second fence)
                    encoded = base64.b64encode(digest.html.encode("utf-8")).decode("ascii")
                    st.iframe(f"data:text/html;charset=utf-8;base64,{encoded}", height=640)
                with text_tab:
                    st.code(digest.text, language=None, wrap_lines=True)

        st.markdown("**Failed sends**")
        failed = the_store.failed_notifications(principal)  # not cached: sends change it without a data version
        if failed.empty:
            st.caption("No failed sends: every message due so far went out.")
        else:
            st.caption("These are retried by the next pass (every 15 minutes until the next day's slot).")
            shown = ["recipient", "kind", "owner_key", "slot", "subject", "attempts", "claimed_at", "last_error"]
            ui.table(failed[shown], column_config={
                "recipient": "To", "kind": "Kind", "owner_key": "About", "slot": "Slot", "subject": "Subject",
                "attempts": st.column_config.NumberColumn("Attempts", format="%d"),
                "claimed_at": st.column_config.DatetimeColumn("Last tried", format="YYYY-MM-DD HH:mm"),
                "last_error": "The server's answer",
            })

# ---------------------------------------------------------------- users
if users_tab.open:
    with users_tab:
        users = the_store.users(principal)  # not cached: sign-ins and lock-outs change it without a data version
        st.caption("Sign-in accounts. Every change is kept in the audit log; a new password or a disabled account "
                   "ends the sessions signed in before it.")
        ui.table(users, column_config={
            "email": "Email", "role": "Role", "rep_id": "Rep id", "disabled": "Disabled",
            "has_password": st.column_config.CheckboxColumn("Password", help="Off: signs in through single sign-on only"),
            "failed_attempts": st.column_config.NumberColumn("Failed sign-ins", format="%d"),
            "locked_until": st.column_config.DatetimeColumn("Locked until", format="YYYY-MM-DD HH:mm"),
            "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
            "last_sign_in": st.column_config.DatetimeColumn("Last sign-in", format="YYYY-MM-DD HH:mm"),
        })
        reps = ui.read(principal, "reps")
        rep_ids = [None, *reps["rep_id"].tolist()]
        rep_text = ui.rep_label(reps)
        add_col, change_col = st.columns(2)
        with add_col, st.form("user_add_form", clear_on_submit=True):
            st.markdown("**Add an account**")
            email = st.text_input("Email", key="user_add_email", placeholder="name@example.com")
            left, right = st.columns(2)
            role = left.selectbox("Role", ROLES, index=ROLES.index("rep"), key="user_add_role")
            rep_id = right.selectbox("Linked rep", rep_ids, key="user_add_rep",
                                     format_func=lambda r: "— none —" if r is None else rep_text(r))
            password = st.text_input("Password (empty: single sign-on only)", type="password", key="user_add_password",
                                     autocomplete="new-password")
            if st.form_submit_button("Add account", type="primary", icon=":material/person_add:"):
                ok, _ = ui.attempt(the_store.add_user, principal, email, role, rep_id=rep_id, password=password or None)
                if ok:
                    ui.flash(f"Account {ui.email_text(email.strip().lower())} added as {role}.")
                    st.rerun()
        with change_col:
            if not users.empty:
                st.markdown("**Change an account**")
                # another account: its own role and rep, not the previous account's choices
                chosen = st.selectbox("Account", users["email"].tolist(), key="user_pick",
                                      on_change=lambda: [st.session_state.pop(k, None) for k in ("user_role", "user_rep")])
                account = users.set_index("email").loc[chosen]
                shown = ui.email_text(chosen)
                with st.form("user_role_form", border=False):
                    left, right = st.columns(2)
                    new_role = left.selectbox("Role", ROLES, index=ROLES.index(account["role"]), key="user_role")
                    linked = None if ui.is_empty(account["rep_id"]) else account["rep_id"]
                    new_rep = right.selectbox("Linked rep", rep_ids, key="user_rep",
                                              index=rep_ids.index(linked) if linked in rep_ids else 0,
                                              format_func=lambda r: "— none —" if r is None else rep_text(r))
                    if st.form_submit_button("Save role and rep", icon=":material/badge:"):
                        ok, _ = ui.attempt(the_store.set_user_role, principal, chosen, new_role, rep_id=new_rep)
                        if ok:
                            ui.flash(f"{shown} is now {new_role}" + (f", linked to {ui.md(new_rep)}." if new_rep else "."))
                            st.rerun()
                with st.form("user_password_form", border=False, clear_on_submit=True):
                    left, right = st.columns([2, 1], vertical_alignment="bottom")
                    new_password = left.text_input("New password", type="password", key="user_new_password",
                                                   autocomplete="new-password")
                    if right.form_submit_button("Reset password", icon=":material/password:"):
                        ok, _ = ui.attempt(the_store.set_password, principal, chosen, new_password)
                        if ok:
                            ui.flash(f"New password set for {shown}; any lock-out is cleared.")
                            st.rerun()
                left, right = st.columns(2)
                disabled = bool(account["disabled"])
                if left.button("Enable account" if disabled else "Disable account", key="user_disable",
                               icon=":material/person_check:" if disabled else ":material/person_off:"):
                    ok, _ = ui.attempt(the_store.disable_user, principal, chosen, disabled=not disabled)
                    if ok:
                        ui.flash(f"{shown} is {'enabled' if disabled else 'disabled'}.")
                        st.rerun()
                locked = not ui.is_empty(account["locked_until"]) or int(account["failed_attempts"] or 0) > 0
                if right.button("Clear lock-out", key="user_unlock", disabled=not locked, icon=":material/lock_open:"):
                    ok, _ = ui.attempt(the_store.clear_lockout, principal, chosen)
                    if ok:
                        ui.flash(f"Lock-out of {shown} cleared.")
                        st.rerun()

# ---------------------------------------------------------------- audit
if audit_tab.open:
    with audit_tab:
        st.caption("Who uploaded, undid, changed a target or a plan, imported people or changed settings, and when "
                   "(newest first, the last 500).")
        log = ui.read(principal, "audit_log")
        if log.empty:
            st.caption("Nothing recorded yet.")
        else:
            ui.table(log, column_config={
                "logged_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"),
                "actor": "Who", "action": "What", "detail": "Detail",
            })
