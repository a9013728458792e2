"""Uploads: import a file of actuals, see the batches, undo one."""

from __future__ import annotations

import streamlit as st

from pages.shared import store, viewer
from salesplan import imports
from salesplan.errors import BadInput, SalesplanError

st.title("Upload actuals")
the_store = store()
kind = st.segmented_control("File", list(imports.KINDS), default="actuals")
st.download_button("Download a template", imports.template_csv(kind or "actuals"), file_name=f"{kind}-template.csv")
upload = st.file_uploader("CSV or Excel file", type=["csv", "txt", "xlsx"])
valid_only = st.toggle("Import only the valid rows (rejected rows are kept with the batch)")
if upload is not None and st.button("Import", type="primary"):
    try:
        result = imports.import_file(
            the_store, kind or "actuals", upload.getvalue(), principal=viewer(), file_name=upload.name, valid_only=valid_only
        )
    except BadInput as error:
        st.error(f"Nothing was imported: {len(error.problems)} problem(s).")
        st.dataframe(
            [{"line": p.line, "column": p.column, "reason": p.reason} for p in error.problems], hide_index=True
        )
    except SalesplanError as error:
        st.error(str(error))
    else:
        st.success(result.summary())

st.subheader("Batches")
batches = the_store.batches(viewer())
if batches.empty:
    st.info("No uploads yet.")
else:
    st.dataframe(batches, hide_index=True)
    undoable = batches[batches["reverted_at"].isna() & batches["kind"].isin(["actuals", "targets"])]
    if not undoable.empty:
        chosen = st.selectbox("Undo batch", undoable["batch_id"].tolist())
        if st.button("Undo"):
            try:
                the_store.undo(viewer(), int(chosen))
            except SalesplanError as error:
                st.error(str(error))
            else:
                st.success(f"Batch {chosen} undone.")
                st.rerun()
