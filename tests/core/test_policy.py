"""The role rules, as a role x action table: every cell is what salesplan.policy must answer.

The manager is M1 with the team {M1, R1, R2}; the rep is R1; "other" is R3, outside that team.
"""

from __future__ import annotations

import pytest

from salesplan import policy
from salesplan.errors import NotAllowed
from salesplan.principal import Principal

TEAM = {"M1", "R1", "R2"}
PRINCIPALS = {
    "admin": Principal("ada@x.test", "admin"),
    "system": Principal("system", "system"),
    "leader": Principal("lee@x.test", "leader"),
    "manager": Principal("max@x.test", "manager", "M1"),
    "rep": Principal("ann@x.test", "rep", "R1"),
}
SCOPES = {"admin": None, "system": None, "leader": None, "manager": TEAM, "rep": {"R1"}}

# action (with its context) -> (admin, system, leader, manager, rep)
TABLE: list[tuple[str, dict, tuple[bool, bool, bool, bool, bool]]] = [
    ("read_all", {}, (True, True, True, False, False)),
    ("read_rep", {"rep_id": "R1"}, (True, True, True, True, True)),
    ("read_rep", {"rep_id": "R2"}, (True, True, True, True, False)),
    ("read_rep", {"rep_id": "R3"}, (True, True, True, False, False)),
    ("read_territory_targets", {}, (True, True, True, False, False)),
    ("write_rep", {"rep_id": "R1"}, (True, True, False, True, True)),
    ("write_rep", {"rep_id": "M1"}, (True, True, False, True, False)),
    ("write_rep", {"rep_id": "R3"}, (True, True, False, False, False)),
    ("agree_plan", {"rep_id": "R1"}, (True, True, False, True, False)),
    ("agree_plan", {"rep_id": "M1"}, (True, True, False, False, False)),  # never one's own plan
    ("upload_actuals", {}, (True, True, False, True, True)),
    ("set_targets", {"rep_owners": {"R1", "R2"}}, (True, True, False, True, False)),
    ("set_targets", {"rep_owners": {"M1"}}, (True, True, False, False, False)),  # never one's own
    ("set_targets", {"rep_owners": {"R3"}}, (True, True, False, False, False)),
    ("set_targets", {"other_owners": True}, (True, True, False, False, False)),  # territory targets
    ("undo_batch", {"batch_id": 7, "in_scope": True}, (True, True, False, True, True)),
    ("undo_batch", {"batch_id": 7, "in_scope": False}, (True, True, False, False, False)),
    ("undo_batch", {"batch_id": 7, "in_scope": True, "touched_outside": {"R3"}}, (True, True, False, False, False)),
    ("see_batch", {"batch_id": 7, "in_scope": False}, (True, True, True, False, False)),
    ("save_column_map", {}, (True, True, False, True, True)),
    ("upload_kind", {"kind": "actuals"}, (True, True, False, True, True)),
    ("upload_kind", {"kind": "deals"}, (True, True, False, True, True)),
    ("upload_kind", {"kind": "targets"}, (True, True, False, True, False)),
    ("upload_kind", {"kind": "reps"}, (True, True, False, False, False)),  # people: admins only
    ("upload_kind", {"kind": "holidays"}, (True, True, False, False, False)),  # the Admin page's
    ("upload_kind", {"kind": "rates"}, (True, True, False, False, False)),  # the Admin page's
    ("upload_kind", {"kind": "nonsense"}, (False, False, False, False, False)),
    ("set_password", {"email": "ANN@x.test"}, (True, True, False, False, True)),
    ("set_password", {"email": "lee@x.test"}, (True, True, True, False, False)),
    ("import_reps", {}, (True, True, False, False, False)),
    ("add_reps", {"managers": {"M1"}}, (True, True, False, True, False)),  # new reps under the manager
    ("add_reps", {"managers": {"M2"}}, (True, True, False, False, False)),
    ("add_reps", {"managers": {"M1"}, "existing": {"R1"}}, (True, True, False, False, False)),  # nobody changed
    ("import_rates", {}, (True, True, False, False, False)),
    ("edit_people", {}, (True, True, False, False, False)),
    ("import_holidays", {}, (True, True, False, False, False)),
    ("edit_calendar", {}, (True, True, False, False, False)),
    ("change_settings", {}, (True, True, False, False, False)),
    ("manage_users", {}, (True, True, False, False, False)),
    ("clear_lockout", {}, (True, True, False, False, False)),
    ("read_audit", {}, (True, True, False, False, False)),
    ("backup", {}, (True, True, False, False, False)),
    ("restore", {}, (True, True, False, False, False)),
    ("open_page", {"page": "admin"}, (True, True, False, False, False)),
    ("open_page", {"page": "team"}, (True, True, True, True, False)),
    ("open_page", {"page": "watchlist"}, (True, True, True, True, False)),
    ("open_page", {"page": "upload"}, (True, True, False, True, True)),
    ("open_page", {"page": "plan"}, (True, True, True, True, True)),
    ("open_page", {"page": "my_plan"}, (True, True, True, True, True)),
    ("email_preferences", {"email": "ANN@x.test"}, (True, True, False, False, True)),
    ("email_preferences", {"email": "lee@x.test"}, (True, True, True, False, False)),
    ("preview_digest", {"email": "max@x.test"}, (True, True, False, True, False)),
    ("read_message_log", {}, (True, True, False, False, False)),
]


def test_every_action_is_in_the_table():
    assert {action for action, _, _ in TABLE} == set(policy.ACTIONS)


@pytest.mark.parametrize(("action", "context", "expected"), TABLE, ids=[f"{a}-{sorted((k, sorted(v) if isinstance(v, set) else v) for k, v in c.items())}" for a, c, _ in TABLE])
def test_role_by_action(action, context, expected):
    for (role, principal), allowed in zip(PRINCIPALS.items(), expected, strict=True):
        full = dict(context)
        if action in ("read_rep", "write_rep", "set_targets"):
            full["team"] = SCOPES[role]
        assert policy.may(principal, action, **full) is allowed, (role, action, context)
        if allowed:
            policy.require(principal, action, **full)
        else:
            with pytest.raises(NotAllowed):
                policy.require(principal, action, **full)


def test_read_scope_per_role():
    assert [policy.read_scope(p) for p in PRINCIPALS.values()] == ["all", "all", "all", "team", "self"]
    assert policy.read_scope(Principal("new@x.test", "manager")) == "none"


def test_refusals_keep_the_messages_people_see():
    leader, rep = PRINCIPALS["leader"], PRINCIPALS["rep"]
    assert policy.refusal(leader, "upload_actuals") == "lee@x.test is a leader and may only read."
    assert policy.refusal(rep, "manage_users") == "Managing users needs the admin role; ann@x.test is rep."
    assert policy.refusal(rep, "set_targets") == "ann@x.test (rep) may not set targets."
    assert policy.refusal(PRINCIPALS["manager"], "set_targets", rep_owners={"R3"}, team=TEAM) == (
        "max@x.test may set targets only for the reps under them; not for R3.")
    assert policy.refusal(rep, "read_rep", rep_id="R3", team={"R1"}) == "ann@x.test may not see rep R3."
    assert policy.refusal(rep, "agree_plan", rep_id="R1") == "Only the rep's manager (or an admin) may mark a plan agreed."


def test_an_unknown_action_is_an_error_not_a_silent_answer():
    with pytest.raises(KeyError):
        policy.may(PRINCIPALS["admin"], "delete_everything")


def test_pages_follow_the_table():
    assert policy.pages(PRINCIPALS["leader"]) == ("my_plan", "plan", "team", "watchlist", "trust")
    assert policy.pages(PRINCIPALS["system"]) == policy.pages(PRINCIPALS["admin"])
