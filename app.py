"""salesplan dashboard: the entrypoint. Sign-in and routing only; each screen lives in pages/.

A signed-out visitor gets the sign-in screen at every address (``ui.sign_in_pages``). A signed-in
user gets the menu of their role (``ui.menu``): admins see every page, leaders read (my plan of
any rep, team, watch list), managers and reps get their own pages; the other pages stay
registered but hidden, and refuse to open (``ui.page``).

On the embedded DuckDB file the dashboard process also sends the weekly digest and the alerts
(docs/notifications.md): ``start_mail_scheduler`` (salesplan/ui/admin_data.py) starts the one background sender once the mail
settings name a server and a sender (on PostgreSQL a timer runs ``salesplan digest --send``).
"""

from __future__ import annotations

import streamlit as st

from salesplan import ui
from salesplan.ui.admin_data import start_mail_scheduler

st.set_page_config(page_title="salesplan", page_icon=":material/flag:", layout="wide")
ui.start_run()

start_mail_scheduler()
principal = ui.current_principal()
if principal is None:
    navigation = st.navigation(ui.sign_in_pages(), position="hidden")
else:
    navigation = st.navigation(ui.pages_for(principal))
    ui.account_box(principal)
ui.mark_routed()
navigation.run()
