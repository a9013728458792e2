"""Role x page x action (AppTest, signed in as the demo accounts).

Pages: every role opens exactly its pages; an allowed page shows only that role's rows (a rep
only themself, a manager their team and never another team's reps, admin and leader everyone);
a refused page, reached by its address, shows the refusal and no data.
Actions: upload, undo, target edit, plan agreement and settings are offered and carried out, or
refused, per role; and the admin's audit log shows who did each, and when.
"""

from __future__ import annotations

import json

import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from tests.helpers.pages import DEMO_TODAY, app, copy_of, demo_with, fresh_db, goto, open_store, texts

ACCOUNTS = {"admin": "admin@demo.test", "leader": "leader@demo.test", "manager": "manager1@demo.test",
            "rep": "rep1@demo.test"}
TITLES = {"my_plan": "My plan", "plan": "Plan", "upload": "Upload", "team": "Team overview",
          "watchlist": "Watch list", "trust": "Warning track record", "admin": "Admin"}
ALLOWED = {
    "admin": set(TITLES),
    "leader": {"my_plan", "plan", "team", "watchlist", "trust"},
    "manager": {"my_plan", "plan", "upload", "team", "watchlist"},
    "rep": {"my_plan", "plan", "upload"},
}
NAMES = {"R001": "Javier Dubois", "R002": "Francesca Ferrari", "R003": "Aoife Andersen", "R004": "Nina Weber",
         "R005": "Luca Ferrari", "R006": "Grace Virtanen", "R007": "Chiara Huber", "R008": "Niklas Romano",
         "R009": "Luka Moreau", "R010": "Lukas Dimitrov", "R011": "Lucía Lindqvist", "R012": "Louis Kazlauskas"}
SCOPE = {  # the reps each role may see (manager1 is R003: R004-R006 report to them)
    "admin": set(NAMES), "leader": set(NAMES), "manager": {"R003", "R004", "R005", "R006"}, "rep": {"R004"},
}

# the demo's plan of rep1 (R004) names their manager in an action: "Joint visit with Aoife Andersen ..."
MENTIONED = {"rep": {"R003"}}


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


@pytest.fixture(scope="module")
def sessions(db):
    """One signed-in AppTest per role, shared by the read-only page checks."""
    monkeypatch = pytest.MonkeyPatch()
    opened: dict = {}

    def session(role: str, page: str):
        """The role's session showing ``page``: its first run opens the page by its address (one
        run, as goto after a run of the role's first page would be two), later ones switch to it.
        The Plan page opens on its Targets tab, which shows the action plan too (the targets
        editor runs only when its tab is open), so that what it shows is checked as well; the Admin
        page on its Users tab (it runs only its open tab: the test opens the Audit log after)."""
        state = {"plan": "Targets", "admin": "Users"}.get(page)
        state = {f"{page}_tabs": state} if state else None
        if role not in opened:
            opened[role] = app(monkeypatch, db, user=ACCOUNTS[role], page=page, state=state)
            return opened[role]
        for name, value in (state or {}).items():
            opened[role].session_state[name] = value
        return goto(opened[role], page)

    try:
        yield session
    finally:
        monkeypatch.undo()


def everything_shown(at) -> str:
    """Every text, table cell, option and chart label on the page, to search for names in."""
    parts = [texts(at)]
    parts += [element.value for element in at.subheader] + [element.value for element in at.title]
    parts += [frame.value.to_string() for frame in at.dataframe]
    for kind in ("selectbox", "multiselect"):
        for widget in getattr(at, kind):
            parts += [str(option) for option in widget.options]
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]
    return json.dumps(parts, ensure_ascii=False)


@pytest.mark.parametrize("page", list(TITLES))
@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_role_page(db, sessions, role, page):
    at = sessions(role, page)
    assert at.title[0].value == TITLES[page]
    if page not in ALLOWED[role]:
        assert [e.value for e in at.error] == [f"Not allowed: the {TITLES[page]} page is not available to the {role} role."]
        assert not at.dataframe and not at.metric and not at.tabs and not at.get("plotly_chart")
        assert not at.get("file_uploader") and not at.number_input and not at.selectbox
        return
    assert not at.error, [e.value for e in at.error]
    # what each page is for is on it (the smoke test of every page, for every role that opens it)
    if page in ("my_plan", "team", "trust"):
        assert at.get("plotly_chart"), f"{page} draws its chart for the {role}"
    if page == "upload":
        assert at.get("file_uploader") and at.get("download_button"), f"the {role}'s upload page"
    shown = everything_shown(at)
    for rep_id, name in NAMES.items():
        if rep_id not in SCOPE[role] | MENTIONED.get(role, set()):
            assert name not in shown, f"{role} sees {name} ({rep_id}) on {page}"
    if page == "team":
        assert any(NAMES[rep_id] in shown for rep_id in SCOPE[role]), f"{role} sees nobody of their scope on {page}"
    pickers = [s for s in at.selectbox if s.key == "rep_picker"]
    if page in ("my_plan", "plan"):
        if role == "rep":
            assert not pickers, "a rep sees only their own plan"
            if page == "my_plan":
                assert at.subheader[0].value.startswith("Nina Weber")
            else:
                assert "Submit for agreement" in [b.label for b in at.button] or "**submitted**" in texts(at) \
                    or "**agreed**" in texts(at), "a rep submits their own plan"
                store = open_store(db)
                try:
                    own = store.plan(SYSTEM, "R004", 2026)["obstacles"]["description"].tolist()
                finally:
                    store.close()
                assert at.dataframe[0].value["description"].tolist() == own
        else:
            options = pickers[0].options
            assert {o.rsplit("(", 1)[1].rstrip(")") for o in options} == SCOPE[role]
            assert sorted(options) == sorted(f"{NAMES[r]} ({r})" for r in SCOPE[role]), f"{role}'s picker on {page}"
    if page == "plan":
        assert bool(at.tabs) == (role in ("admin", "manager")), "the targets editor is for admins and managers"
        if role in ("leader", "rep"):
            assert not [n for n in at.number_input if n.key == "target_amount"], f"no target editor for a {role}"
    if page == "team":
        owners = set(at.dataframe[0].value["owner_name"])
        assert owners <= {NAMES[r] for r in SCOPE[role]} and owners
        if role == "manager":
            assert len(at.dataframe[0].value) <= len(SCOPE[role]), "one row per rep of the team"
    if page == "upload":
        [kinds] = [c for c in at.get("button_group") if c.proto.label == "What are you uploading?"]
        uploads = ["Actuals (sales)", "Targets", "Open deals (pipeline)"]
        expected = {"admin": [*uploads, "People (reps)"], "manager": uploads}.get(role, [uploads[0], uploads[2]])
        assert kinds.options == expected, \
            "only admins and managers upload targets, only admins people; every role that uploads sends its deals"
    if page == "admin":
        assert [t.label for t in at.tabs] == ["People", "Calendar", "Settings", "Currencies", "Pipeline", "E-mail",
                                           "Users", "Audit log"]
        [users] = [d.value for d in at.dataframe if "email" in d.value.columns]
        assert set(users["email"]) == set(ACCOUNTS.values()) | {"rep2@demo.test"}
        assert "password_hash" not in users.columns
        at.session_state["admin_tabs"] = "Audit log"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert "actor" in at.dataframe[-1].value.columns, "the audit log"


# ---------------------------------------------------------------- actions


@pytest.fixture
def writable(tmp_path):
    return fresh_db(tmp_path)


def _other_upload(store) -> int:
    """Someone else's upload, which only admins (and leaders) may see or undo: its batch id."""
    imports.import_file(store, "actuals", sale("R009", "OTHER-1").encode(), principal=SYSTEM, file_name="other.csv")
    return int(store.batches(SYSTEM)["batch_id"].max())


@pytest.fixture(scope="module")
def with_other_upload(tmp_path_factory):
    """The demo with someone else's upload (the file, its batch id), imported once per module and
    copied for each test (tests/helpers/pages.py, ``demo_with``)."""
    return demo_with(tmp_path_factory.mktemp("other-upload"), _other_upload)


def upload(at, name: str, text: str):
    at.file_uploader(key="upload_file_actuals").set_value((name, text.encode(), "text/csv")).run()
    [button] = [b for b in at.button if b.label == "Import"]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sale(rep_id: str, order: str) -> str:
    return f"date,rep,order_id,revenue\n{DEMO_TODAY.isoformat()},{rep_id},{order},1000\n"


def ledger_rows(db) -> int:
    store = open_store(db)
    try:
        return int(store.actual_totals(SYSTEM)["rows"])
    finally:
        store.close()


@pytest.mark.parametrize(("role", "own", "foreign", "why"), [
    ("rep", "R004", "R005", "a rep may upload only their own actuals"),
    ("manager", "R005", "R008", "a manager may upload only the actuals of their team"),
    ("admin", "R008", None, None),
])
def test_upload_and_undo(monkeypatch, tmp_path, with_other_upload, role, own, foreign, why):
    template, other_batch = with_other_upload
    writable = copy_of(template, tmp_path)
    at = app(monkeypatch, writable, user=ACCOUNTS[role], page="upload")
    before = ledger_rows(writable)
    if foreign:
        upload(at, "mixed.csv", sale(own, "MINE-1") + f"{DEMO_TODAY.isoformat()},{foreign},THEIRS-1,500\n")
        assert any("Nothing was imported: 1 problem(s) on 1 line(s)" in e.value for e in at.error)
        problems = next(d.value for d in at.dataframe if "reason" in d.value.columns)  # after the preview
        assert problems["reason"].tolist() == [f"not a rep you may upload for: {why}"]
        assert problems["line"].tolist() == [3]
        assert ledger_rows(writable) == before, "nothing of a refused file is imported"
    upload(at, "mine.csv", sale(own, "MINE-2"))
    assert any("as batch" in s.value for s in at.success)
    assert ledger_rows(writable) == before + 1

    options = at.selectbox(key="undo_batch").options
    assert (f"Batch {other_batch}: actuals from other.csv" in options) == (role == "admin")
    mine = options[0]
    assert "mine.csv" in mine
    at.checkbox(key="undo_sure").check()
    at.button(key="FormSubmitter:undo_form-Undo").click().run()
    assert any("undone" in s.value for s in at.success), [e.value for e in at.error]
    assert ledger_rows(writable) == before


@pytest.mark.parametrize(("role", "rep_id", "outcome"), [
    ("admin", "R008", "saved"),
    ("manager", "R004", "saved"),
    ("manager", "R003", "Your own target is set by your manager."),
])  # a rep's Plan page has no editor at all: test_role_page
def test_target_edit(monkeypatch, writable, role, rep_id, outcome):
    at = app(monkeypatch, writable, user=ACCOUNTS[role], page="plan", rep=rep_id,  # the rep's address
             state={"plan_tabs": "Targets"})
    assert at.selectbox(key="rep_picker").value == rep_id
    if outcome != "saved":
        assert outcome in texts(at) and not [n for n in at.number_input if n.key == "target_amount"]
        return
    # the three choices in one run: none of them changes which widgets the editor shows
    at.checkbox(key="target_include_closed").check()
    at.number_input(key="target_amount").set_value(777_000.0)
    at.selectbox(key="target_preset").set_value("even").run()
    at.text_input(key="target_reason").set_value(f"{role} review")
    at.button(key="FormSubmitter:target_save_form-Save 12 changed month(s)").click().run()
    assert any("Targets saved" in s.value for s in at.success), [e.value for e in at.error]
    store = open_store(writable)
    try:
        history = store.target_history(SYSTEM, "rep", rep_id)
    finally:
        store.close()
    assert (history["reason"] == f"{role} review").sum() == 12


@pytest.mark.parametrize(("role", "may_agree"), [("admin", True), ("manager", True), ("rep", False)])
def test_plan_agreement(monkeypatch, writable, role, may_agree):
    store = open_store(writable)
    try:
        store.save_plan(SYSTEM, "R004", 2026, status="submitted", summary="Close the gap in Q4")
    finally:
        store.close()
    at = app(monkeypatch, writable, user=ACCOUNTS[role], page="plan", rep="R004")  # a rep's own plan regardless
    if role != "rep":
        assert at.selectbox(key="rep_picker").value == "R004"
    labels = [b.label for b in at.button]
    assert "Back to draft" in labels
    assert ("Mark agreed" in labels) == may_agree
    if may_agree:
        [b for b in at.button if b.label == "Mark agreed"][0].click().run()
        assert "Plan marked agreed." in texts(at)
    store = open_store(writable)
    try:
        assert store.plan(SYSTEM, "R004", 2026)["status"] == ("agreed" if may_agree else "submitted")
    finally:
        store.close()


def test_settings_are_the_admins_and_the_audit_log_tells_who_did_what(monkeypatch, writable):
    # a manager's day: an upload, its undo, a target, an agreed plan
    store = open_store(writable)
    try:
        store.save_plan(SYSTEM, "R005", 2026, status="submitted", summary="")
    finally:
        store.close()
    at = app(monkeypatch, writable, user=ACCOUNTS["manager"], page="upload")
    upload(at, "team.csv", sale("R005", "TEAM-1"))
    at.checkbox(key="undo_sure").check()
    at.button(key="FormSubmitter:undo_form-Undo").click().run()
    at.query_params["rep"] = "R005"  # a drill-down's address (?rep=R005): the plan of R005 in one run
    at.session_state["plan_tabs"] = "Targets"  # on the targets editor, which runs only when open
    goto(at, "plan")
    assert at.selectbox(key="rep_picker").value == "R005"
    [b for b in at.button if b.label == "Mark agreed"][0].click().run()
    at.number_input(key="target_amount").set_value(555_000.0).run()
    at.text_input(key="target_reason").set_value("Q4 review")
    [b for b in at.button if b.label.startswith("Save ") and "changed month" in b.label][0].click().run()
    goto(at, "admin")
    assert not at.number_input, "no settings form for a manager"

    admin = app(monkeypatch, writable, user=ACCOUNTS["admin"], page="admin", state={"admin_tabs": "Settings"})
    admin.number_input(key="setting_window").set_value(30)
    admin.button(key="FormSubmitter:settings_form-Save settings").click().run()
    assert any("Settings saved" in s.value for s in admin.success)
    admin.session_state["admin_tabs"] = "Audit log"  # the Admin page runs only its open tab
    admin.run()
    log = admin.dataframe[-1].value
    assert list(log.columns) == ["logged_at", "actor", "action", "detail"]
    by_manager = log[log["actor"] == "manager1@demo.test"]
    assert {"import actuals", "undo", "set targets", "save plan"} <= set(by_manager["action"])
    assert by_manager["detail"].str.contains("R005 FY2026 agreed").any()
    assert by_manager["detail"].str.contains("team.csv").any()
    assert ((log["actor"] == "admin@demo.test") & (log["action"] == "settings")).any()
    assert log["logged_at"].notna().all() and log["logged_at"].is_monotonic_decreasing
