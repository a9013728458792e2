"""Upload actuals, targets (managers and admins), open deals (docs/pipeline.md) and people (admins):
template, upload, column mapping with the date format and decimal separator, preview, problems (and
the unknown reps of an actuals file, created in one step), a rep taken from another column through
a lookup, import with what went in, and the batch history with undo."""

from __future__ import annotations

import hashlib
from functools import partial

import streamlit as st

from salesplan import imports, people_import, signals, ui, upload_flow
from salesplan.errors import BadInput, NotAllowed

# one look for every (line, column, reason) table: a refused file's problems, a valid-only import's rows left out
PROBLEM_COLUMNS = {
    "line": st.column_config.NumberColumn("Line", format="%d"),
    "column": "Column",
    "reason": st.column_config.TextColumn("Reason", width="large"),
}

principal = ui.page("upload")
the_store = ui.store()

kinds = upload_flow.kinds_for(principal)
kind = st.segmented_control("What are you uploading?", kinds, default="actuals", required=True, key="upload_kind",
                            format_func=upload_flow.KIND_LABELS.get)

fields = imports.FIELDS[kind]
left, right = st.columns([3, 1], vertical_alignment="center")
left.markdown(
    "Required columns: " + ", ".join(f"`{f.name}`" for f in fields if upload_flow.required(kind, f))
    + ". Optional: " + ", ".join(f"`{f.name}`" for f in fields if not upload_flow.required(kind, f))
    + ". CSV (comma, semicolon or tab) or Excel `.xlsx`; common header names are recognised."
    + (" Without `rep_id`, known people (same e-mail) keep their id and new people get one."
       if kind == "reps" else "")
)
right.download_button("Download the template", imports.template_csv(kind), file_name=f"{kind}-template.csv",
                      mime="text/csv", icon=":material/download:")

limit_mb = ui.settings().upload_limit_mb
upload = st.file_uploader("CSV or Excel file", type=["csv", "txt", "tsv", "xlsx", "xlsb", "xls", "ods"], key=f"upload_file_{kind}",
                          max_upload_size=limit_mb)
outcome = st.session_state.get("upload_outcome")

if upload is not None:
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if outcome and (outcome.sha != digest or outcome.kind != kind):
        st.session_state.pop("upload_outcome", None)
        outcome = None
    # an actuals file without a person column, with the rep taken from another column (see below)
    lookup_key = f"rep_lookup_{digest[:12]}"
    if kind == "actuals" and lookup_key in st.session_state:
        data = st.session_state[lookup_key]
    # the mapping step's widgets belong to the table they map (a lookup adds a column to it)
    table_key = hashlib.sha256(data).hexdigest()[:12]
    # column maps, date formats and decimal separators are remembered per kind and header: in this
    # session, and in the database for the next upload
    maps: dict = st.session_state.setdefault("column_maps", {})
    formats: dict = st.session_state.setdefault("date_formats", {})
    decimals: dict = st.session_state.setdefault("decimals", {})
    try:
        automatic = ui.preview(kind, data, upload.name, None)
    except BadInput as error:
        ui.show_problems(error, title="This file cannot be read")
        st.stop()
    header_key = upload_flow.header_key(kind, automatic.header)
    if header_key not in formats:  # the first time in this session: what the database remembers
        stored_map, formats[header_key], decimals[header_key] = upload_flow.remembered_choices(
            the_store, principal, kind, automatic.header)
        if stored_map:
            maps[header_key] = stored_map
    remembered = ui.preview(kind, data, upload.name, maps[header_key]) if header_key in maps else automatic

    st.subheader("Columns")
    if automatic.problems and header_key not in maps:
        st.warning("Some required columns were not recognised. Tell which column of your file holds each field; "
                   "the choice is remembered for the next file with the same columns.",
                   icon=":material/table_edit:")
    with st.expander("Column mapping", expanded=bool(remembered.problems) or header_key in maps, icon=":material/tune:"):
        choices = [None, *[h for h in automatic.header if h]]
        grid = st.columns(4)
        chosen: dict[str, str | None] = {}
        for i, field in enumerate(fields):
            current = remembered.mapping.get(field.name)
            chosen[field.name] = grid[i % 4].selectbox(
                f"{field.name}{' (required)' if upload_flow.required(kind, field) else ''}",
                choices, index=choices.index(current) if current in choices else 0,
                format_func=lambda h: "— not in the file —" if h is None else h,
                key=f"map_{kind}_{field.name}_{table_key}",
            )
    # what the user maps decides: a file the import cannot map alone takes the choices as they stand
    picked = {name: cell for name, cell in chosen.items() if cell}
    if picked and (automatic.problems or picked != automatic.mapping):
        maps[header_key] = upload_flow.column_map_from_choices(kind, automatic.header, chosen)
    column_map = maps.get(header_key)
    left, right = st.columns(2)
    date_format = left.selectbox("Dates in the file", list(upload_flow.DATE_FORMATS), key=f"date_format_{digest[:12]}",
                                 index=list(upload_flow.DATE_FORMATS).index(formats.get(header_key)),
                                 format_func=upload_flow.DATE_FORMATS.get,
                                 help="Recognise it: from the dates that can only be read one way (13/01 is "
                                      "day first). Say it when every date could be read both ways.")
    decimal = None
    if upload_flow.has_amounts(kind):  # a people file has no amounts
        decimal = right.selectbox("Decimal separator", list(upload_flow.DECIMALS), key=f"decimal_{digest[:12]}",
                                  index=list(upload_flow.DECIMALS).index(decimals.get(header_key)),
                                  format_func=upload_flow.DECIMALS.get,
                                  help="Recognise it: from the amounts that can only be read one way (1.234,56 "
                                       "has a decimal comma). Say it when the amounts could be read both ways.")
    formats[header_key], decimals[header_key] = date_format, decimal
    view = ui.preview(kind, data, upload.name, column_map, date_format=date_format, decimal=decimal)
    if view.problems:
        st.error("\n".join(f"- {ui.md(problem.reason)}" for problem in view.problems), icon=":material/error:")
    else:
        st.caption("Reading " + ", ".join(f"{field} from “{ui.md(header)}”" for field, header in view.mapping.items())
                   + ".")
        for note in view.notes:  # unmapped columns that the mapped ones replace
            st.caption(ui.md(note[:1].upper() + note[1:]) + ".")
        if view.makes_rep_ids:
            st.caption("The file has no rep_id column: people the database knows (same e-mail) keep their id, "
                       "the others get new ids (R001, R002, ...).")

    if upload_flow.needs_rep_lookup(kind, view) and lookup_key not in st.session_state:
        with st.container(border=True):
            st.markdown("**No person column? Take the rep from another column**")
            st.caption("Choose a column (a region, a store, a territory), then confirm the rep of each of its values.")
            source_column = st.selectbox("Column", [h for h in automatic.header if h], key=f"lookup_column_{digest[:12]}")
            try:
                values = people_import.lookup_values(the_store, data, source_column, file_name=upload.name,
                                                     principal=principal)
            except BadInput as error:
                ui.show_problems(error)
            else:
                reps = ui.read(principal, "reps")
                edited = st.data_editor(values, hide_index=True, key=f"lookup_{digest[:12]}_{source_column}",
                                        disabled=["value", "rows"], column_config={
                                            "value": "Value", "rows": "Rows",
                                            "rep_id": st.column_config.SelectboxColumn(
                                                "Rep", options=reps["rep_id"].tolist(), required=False)})
                if st.button("Use this lookup", icon=":material/join:", key="lookup_apply"):
                    lookup = {str(v): str(r) for v, r in zip(edited["value"], edited["rep_id"]) if not ui.is_empty(r)}
                    ok, applied = ui.attempt(people_import.apply_rep_lookup, the_store, data, source_column, lookup,
                                             file_name=upload.name)
                    if ok:
                        st.session_state[lookup_key] = applied
                        st.rerun()
    elif lookup_key in st.session_state and kind == "actuals":
        st.caption("The rep of each row is taken through your lookup.")
        if st.button("Drop the lookup", key="lookup_drop"):
            st.session_state.pop(lookup_key)
            st.rerun()

    st.subheader("Preview")
    st.caption(f"{view.total_rows:,} row{'s' if view.total_rows != 1 else ''} below the header on line "
               f"{view.header_line}" + (f"; the first {len(view.rows)}:" if view.total_rows > len(view.rows) else ":"))
    ui.table(view.rows)
    if view.reading_problem:
        st.warning(ui.md(view.reading_problem), icon=":material/calendar_month:")
    elif view.readings is not None:
        st.caption("How the first rows are read (dates as year-month-day; amounts with a decimal "
                   f"{'comma' if view.decimal_comma else 'point'}; an empty cell is not read):")
        ui.table(view.readings, column_config={upload_flow.LINE_LABEL: st.column_config.NumberColumn(format="%d")})

    valid_only = st.toggle("Import only the valid rows (" + ("rejected rows are kept with the batch, downloadable)"
                                                            if kind == "actuals" else "the rows left out are listed)"),
                           key="valid_only")
    reason = None
    if kind == "targets":
        reason = st.text_input("Reason for these targets (kept with the previous values)", key="upload_reason")
    as_of = None
    if kind == "deals":
        as_of = st.date_input("Snapshot date: the day these deals were open (the export's date)", value=ui.today(),
                              max_value=ui.today(), key="deals_as_of", format="YYYY-MM-DD",
                              help="Each upload is the snapshot of the open pipeline on one date. The pipeline "
                                   "of a date uses the newest snapshot on or before it; earlier snapshots are kept.")
        st.caption("The file is the whole open pipeline of " + ("the organisation" if principal.role == "admin"
                   else "your team and you" if principal.role == "manager" else "yours")
                   + " on that date: a deal missing from it is no longer open from then on (won, lost or removed).")

    def run_import(only_valid: bool) -> None:
        # a progress bar rather than a spinner: a long file shows which stage it is in
        bar = st.progress(0.0, text=f"Importing {ui.md(upload.name)}…")
        outcome = upload_flow.run_import(
            the_store, principal, kind, data, file_name=upload.name, sha=digest, header=automatic.header,
            column_map=column_map, valid_only=only_valid, reason=reason, date_format=date_format, decimal=decimal,
            as_of=as_of, progress=lambda fraction, text: bar.progress(fraction, text=ui.md(text)))
        if outcome.imported:
            st.session_state.pop("undo_batch", None)  # offer the new batch first
        st.session_state["upload_outcome"] = outcome

    if st.button("Import", type="primary", icon=":material/upload:", disabled=bool(view.problems)):
        run_import(valid_only)
        st.rerun()

    outcome = st.session_state.get("upload_outcome")
    if outcome and outcome.sha == digest and outcome.kind == kind:
        if outcome.problems is not None:
            problems = outcome.problems
            st.error(f"Nothing was imported: {len(problems)} problem(s) on {problems['line'].nunique()} line(s). Fix "
                     "the file and upload it again, or import only the valid rows.", icon=":material/error:")
            ui.table(problems, column_config=PROBLEM_COLUMNS)
            left, right = st.columns(2)
            left.download_button("Download the problems (CSV)", partial(ui.csv_bytes, problems),
                                 file_name=f"problems-{upload.name}.csv", mime="text/csv", icon=":material/download:")
            if right.button("Import the valid rows only", icon=":material/playlist_add_check:"):
                run_import(True)
                st.rerun()
            # reps the file names that the database does not know: create them, then import again
            unknown = upload_flow.unknown_people(the_store, principal, kind, data, file_name=upload.name,
                                                 column_map=column_map)
            if not unknown.empty:
                with st.form("create_reps_form", border=True):
                    st.markdown(f"**{len(unknown)} {'person' if len(unknown) == 1 else 'people'} in the file "
                                f"{'is' if len(unknown) == 1 else 'are'} not known as reps.** Create them (check "
                                "the names and e-mails), then the file is imported again.")
                    people = st.data_editor(unknown[["name", "email", "rows", "rep_text"]], hide_index=True,
                                            key=f"new_reps_{digest[:12]}", disabled=["rows", "rep_text"],
                                            column_config={"name": "Name", "email": "E-mail", "rows": "Rows",
                                                           "rep_text": "As written in the file"})
                    sure = st.checkbox(f"Create these {len(unknown)} reps", key="create_reps_sure")
                    if st.form_submit_button(f"Create these {len(unknown)} reps and import again",
                                             icon=":material/person_add:"):
                        if not sure:
                            st.error("Tick the box to confirm the new reps.")
                        else:
                            ok, created = ui.attempt(people_import.create_reps, the_store, principal, people)
                            if ok:
                                ui.flash("Created the " + ui.md(created.notes[-1]) + ".")
                                run_import(valid_only)
                                st.rerun()
        elif outcome.error:
            st.error(ui.md(outcome.error))
        else:
            st.success(f"Imported {ui.md(outcome.file)} as batch {outcome.batch_id}.", icon=":material/check_circle:")
            counts = st.columns(4)
            for column, (key, count) in zip(counts, outcome.counts.items()):
                column.metric(key.capitalize(), f"{count:,}", border=True)
            if outcome.overview is not None:
                st.markdown("**What went in**")
                ui.table(upload_flow.overview_table(outcome.overview), column_config={"what": "", "value": "Value"})
            for note in outcome.notes:
                st.caption(ui.md(note))
            if outcome.left_out is not None:
                st.markdown(f"**Rows left out** ({outcome.counts['rejected']:,}): nothing of them went in")
                ui.table(outcome.left_out, column_config=PROBLEM_COLUMNS)
            if outcome.rejected is not None:
                st.download_button("Download the rejected rows (CSV, the file's own columns)",
                                   partial(ui.csv_bytes, outcome.rejected), file_name=f"rejected-{upload.name}.csv",
                                   mime="text/csv", icon=":material/download:", key="rejected_now")
            if ui.may_open(principal, "my_plan") and st.button("See the updated figures", icon=":material/flag:"):
                ui.go_to("my_plan")
else:
    st.info(f"Choose a file to upload (up to {limit_mb} MB). Start from the template if you are unsure about "
            "the columns.", icon=":material/upload_file:")

# ---------------------------------------------------------------- history
st.subheader("Upload history")
batches = ui.read(principal, "batches")
if batches.empty:
    st.caption("No uploads yet.")
else:
    ui.table(
        batches.assign(state=batches["reverted_at"].map(upload_flow.batch_state))[
            ["batch_id", "kind", "file_name", "uploaded_by", "uploaded_at", "rows_inserted", "rows_updated",
             "rows_unchanged", "rows_rejected", "state", "reason"]],
        column_config={
            "batch_id": st.column_config.NumberColumn("Batch", format="%d"),
            "kind": "Kind", "file_name": "File", "uploaded_by": "By",
            "uploaded_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "rows_inserted": "Inserted", "rows_updated": "Updated", "rows_unchanged": "Unchanged",
            "rows_rejected": "Rejected", "state": "State", "reason": "Reason",
        },
    )
    # details, rejected rows and undo only for batches the store says are the user's or their team's
    mine = batches[batches["details"]]
    undoable = upload_flow.undo_choices(mine)  # newest first: the picker offers the latest batch
    left, right = st.columns(2)
    if ui.may_write(principal) and undoable:
        with left.form("undo_form"):
            chosen = st.selectbox("Undo a batch", list(undoable), format_func=undoable.get, key="undo_batch")
            sure = st.checkbox("Revert every row of this batch to its previous value", key="undo_sure")
            if st.form_submit_button("Undo", icon=":material/undo:"):
                if not sure:
                    st.error("Tick the box to confirm the undo.")
                else:
                    ok, undone = ui.attempt(the_store.undo, principal, int(chosen))
                    if ok:  # rows a newer batch still holds keep their values: the message says so
                        ui.flash(ui.md(signals.undo_message(undone)))
                        st.rerun()
    with_rejects = mine[mine["rows_rejected"].fillna(0) > 0]
    if not with_rejects.empty:
        with right.container(border=True):
            which = st.selectbox("Rejected rows of batch", with_rejects["batch_id"].astype(int).tolist(),
                                 key="rejected_batch")
            try:
                rejected = ui.read(principal, "rejected_rows", int(which))
            except NotAllowed as refused:  # the team changed since the history was read
                st.error(f"Not allowed: {refused}")
            else:
                st.download_button("Download rejected rows (CSV)", partial(ui.rejected_csv, rejected),
                                   file_name=f"rejected-batch-{which}.csv", mime="text/csv",
                                   icon=":material/download:")
