"""Overview: where every rep stands this fiscal year."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from pages.shared import store, viewer
from salesplan import engine
from salesplan.store import Store


@st.cache_data(show_spinner=False)
def load_report(_store: Store, data_version: int, as_of: date, level: str, metric: str) -> pd.DataFrame:
    return engine.report(_store.engine_inputs(viewer()), as_of, level=level, metric=metric)


st.title("Where we stand")
left, middle, right = st.columns(3)
as_of = left.date_input("As of", value=date.today())
level = middle.segmented_control("Level", ["rep", "territory", "region", "org"], default="rep")
metric = right.segmented_control("Metric", ["revenue", "profit"], default="revenue")

the_store = store()
report = load_report(the_store, the_store.data_version(), as_of, level or "rep", metric or "revenue")
if report.empty:
    st.info("No reps yet. Import a reps file on the Uploads page, or run `salesplan demo`.")
else:
    st.dataframe(
        report[["owner_name", "status", "target", "actual_to_date", "attainment", "pace", "gap_to_date",
                "required_per_working_day", "current_per_working_day", "point_of_no_return"]],
        hide_index=True,
        column_config={
            "attainment": st.column_config.NumberColumn(format="percent"),
            "pace": st.column_config.NumberColumn(format="percent"),
            "target": st.column_config.NumberColumn(format="localized"),
            "actual_to_date": st.column_config.NumberColumn(format="localized"),
            "gap_to_date": st.column_config.NumberColumn(format="localized"),
            "required_per_working_day": st.column_config.NumberColumn(format="localized"),
            "current_per_working_day": st.column_config.NumberColumn(format="localized"),
        },
    )
