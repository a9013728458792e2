"""Second round, dashboard: the session secret on PostgreSQL, a rep's upload
history, chart labels, single sign-on with an unverified email. (tests/pages/)"""

from __future__ import annotations

import pandas as pd

from salesplan import imports, ui
from salesplan.ui import auth
from salesplan.principal import SYSTEM
from tests.helpers.pages import ADMIN_EMAIL, OIDC_SECRETS, app, fresh_db, open_store


# F6
def test_a_reps_upload_history_with_a_managers_batch_with_rejected_rows_does_not_crash(monkeypatch, tmp_path):
    db = fresh_db(tmp_path)
    store = open_store(db)
    try:
        users = store.users(SYSTEM)
        rep = users[users["role"] == "rep"].iloc[0]
        manager_id = store.reps(SYSTEM).set_index("rep_id").loc[rep["rep_id"], "manager"]
        manager = store.principal_for_email(users[users["rep_id"] == manager_id].iloc[0]["email"])
        text = f"date,rep,amount,order_id\n2026-11-20,{rep['rep_id']},10,ATK-1\n2026-11-20,{rep['rep_id']},oops,ATK-2\n"
        imports.import_file(store, "actuals", text.encode(), file_name="mgr.csv", principal=manager, valid_only=True)
    finally:
        store.close()
    at = app(monkeypatch, db, page="upload", user=rep["email"])  # raised NotAllowed: may not see batch N
    assert not at.exception, [e.value for e in at.exception]
    assert not [box for box in at.selectbox if box.key == "rejected_batch"], "the manager's rejected rows are offered"
    shown = " ".join(str(frame.value.to_dict()) for frame in at.dataframe)
    assert "mgr.csv" not in shown, "the manager's file name is a detail of their batch"


# F10
def test_the_session_secret_is_read_with_the_real_database_url_not_the_redacted_one(monkeypatch):
    monkeypatch.setenv("SALESPLAN_DB", "postgresql://app:s3cret@127.0.0.1:5432/sales")
    opened = []

    class FakeStore:
        path = "postgresql://app:***@127.0.0.1:5432/sales"

        def server_secret(self, name="session"):
            return "x" * 32

    def fake_open(path):
        opened.append(path)
        return FakeStore()

    monkeypatch.setattr(auth, "_open_store", fake_open)
    auth._session_secret.clear()
    auth._serializer()
    assert opened and all("***" not in path for path in opened), opened


# F11 (issue 10): passes since the UI branch escapes the labels; kept as a regression guard
def test_heatmap_labels_show_a_reps_name_as_text_not_a_link():
    grid = pd.DataFrame({"region": ["<b>North</b>"], "territory": ["Nordics"], "rep_id": ["R1"],
                         "name": ["<a href='https://evil.test'>Ann</a>"], "YTD": [1.0]})
    figure = ui.heatmap_figure(grid, "Attainment", "t")
    labels = [str(label) for level in figure.data[0].y for label in level]
    assert not any("<a " in label or "<b>" in label for label in labels), labels


# F16
def test_an_unverified_oidc_email_does_not_sign_in_to_the_account_of_that_email(monkeypatch, tmp_path):
    at = app(monkeypatch, fresh_db(tmp_path), user=None, secrets=OIDC_SECRETS,
             oidc_user={"is_logged_in": True, "email": ADMIN_EMAIL, "email_verified": False})
    assert not at.sidebar.button, "signed in as the admin with an unverified email"
