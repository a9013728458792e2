"""salesplan dashboard: the entrypoint. Routing only; each screen lives in pages/."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="salesplan", page_icon=":material/flag:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/uploads.py", title="Uploads", icon=":material/upload_file:"),
    ]
)
navigation.run()
