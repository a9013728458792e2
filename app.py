"""salesplan dashboard: the entrypoint. Routing only; each screen lives in pages/.

The menu is built from the signed-in user's role (``ui.menu``): admins see every page, leaders
read (my plan of any rep, team, watch list), managers and reps get their own pages.
"""

from __future__ import annotations

import streamlit as st

from salesplan import ui

st.set_page_config(page_title="salesplan", page_icon=":material/flag:", layout="wide")

principal = ui.current_principal()
pages = [
    st.Page(spec.path, title=spec.title, icon=spec.icon, default=(index == 0))
    for index, spec in enumerate(ui.menu(principal))
]
navigation = st.navigation(pages)
st.sidebar.caption(f"Signed in as {ui.md(principal.email)} ({principal.role})")
ui.mark_routed()
navigation.run()
