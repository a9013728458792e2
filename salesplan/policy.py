"""Every role rule of salesplan, in one place: who may read, write, upload, agree, undo, administer.

The store, the imports, the command line and the pages all ask here; nothing else decides by
role. The rules only decide: facts that need the database (a manager's team, whether a batch was
uploaded by someone in scope) are looked up by the caller and passed in as context.

    policy.may(principal, "write_rep", rep_id="R1", team={"R1", "R2"})     -> bool
    policy.require(principal, "manage_users")                            -> None or NotAllowed

Roles (salesplan.principal): ``admin`` does everything; ``system`` is the command line and the
demo loader (everything, like admin); ``leader`` reads everything and changes nothing; ``manager``
reads and works on the reps under them (directly or through other managers) and themself, sets
their team's targets (never their own) and agrees their team's plans; ``rep`` reads and works on
their own data only.

Actions and their context:

==================== ====================================================================
read_all             see every rep, territory targets, every batch (no context)
read_rep             see one rep's data: ``rep_id``, ``team`` (the reps in scope; None = all)
write_rep            change one rep's plan: ``rep_id``, ``team``
agree_plan           mark a rep's plan agreed: ``rep_id``
upload_actuals       upload actuals (each row must also be in scope: see :func:`read_scope`)
set_targets          set target cells: ``rep_owners`` (rep_ids), ``other_owners`` (bool), ``team``
undo_batch           undo one batch: ``batch_id``, ``in_scope`` (uploaded by the principal or their team),
                     ``touched_outside`` (reps out of scope whose rows or targets the batch touched)
see_batch            see a batch's details and rejected rows: ``batch_id``, ``in_scope``
save_column_map      remember a file's column mapping
upload_kind          the kinds of file a page may import: ``kind`` (actuals and deals: every
                     writer; targets: admins and managers; reps, the people, holidays and rates:
                     admins; the Upload page offers the first four, the Admin page the others)
set_password         set a password: ``email`` (whose)
add_reps             create new reps from an export's names: ``existing`` (rep_ids already there),
                     ``managers`` (of the new reps), ``moved_territories`` (existing territories
                     given another region), ``taken_names`` (new reps' names other reps have),
                     ``territories_outside`` (the new reps' territories that no rep of the team is
                     in); a manager only new reps under themself, in their team's territories,
                     moving no territory, taking no name
import_reps, import_holidays, import_rates (docs/currencies.md), edit_people (a rep's history,
                     docs/people.md), edit_calendar, change_settings, manage_users, clear_lockout,
read_audit, backup,
restore              administration: admin (and the command line) only
open_page            open a dashboard page: ``page`` (key of the page)
email_preferences    turn one's e-mail digest or alerts off/on: ``email`` (whose; admins: anyone's)
preview_digest       preview the digest of an account: ``email`` (whose; admins: anyone's)
read_message_log     the sent e-mail log and its failures: admin only
==================== ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from salesplan.errors import NotAllowed
from salesplan.principal import Principal

Scope = Literal["all", "team", "self", "none"]

ADMINS = frozenset({"admin", "system"})
WRITERS = frozenset({"admin", "system", "manager", "rep"})
EVERYONE = frozenset({"admin", "system", "leader", "manager", "rep"})

# the dashboard's pages each role may open, in menu order
PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "admin": ("my_plan", "plan", "upload", "team", "watchlist", "trust", "admin"),
    "leader": ("my_plan", "plan", "team", "watchlist", "trust"),  # reads every plan, read-only
    "manager": ("my_plan", "plan", "upload", "team", "watchlist"),
    "rep": ("my_plan", "plan", "upload"),
}


# the roles that read every rep's data (``read_scope`` "all"); of them, admin and system upload
SEES_EVERY_REP = frozenset({"admin", "system", "leader"})


def read_scope(principal: Principal) -> Scope:
    """Whose data the principal reads: everyone's, their team's (the store resolves the team from
    the reps' managers), their own, or nobody's (a manager or rep account without a rep_id)."""
    if principal.role in SEES_EVERY_REP:
        return "all"
    if principal.rep_id is None:
        return "none"
    return "team" if principal.role == "manager" else "self"


def _in_team(rep_id: str, team: Iterable[str] | None) -> bool:
    return team is None or rep_id in set(team)


def _leader_reads(principal: Principal) -> str:
    return f"{principal.email} is a leader and may only read."


def _check_read_rep(principal: Principal, rep_id: str, team: Iterable[str] | None = None, **_: Any) -> str | None:
    return None if _in_team(rep_id, team) else f"{principal.email} may not see rep {rep_id}."


def _check_write_rep(principal: Principal, rep_id: str, team: Iterable[str] | None = None, **_: Any) -> str | None:
    return None if _in_team(rep_id, team) else f"{principal.email} may not change rep {rep_id}."


def _check_agree(principal: Principal, rep_id: str, **_: Any) -> str | None:
    if principal.role in ADMINS or (principal.role == "manager" and principal.rep_id != rep_id):
        return None
    return "Only the rep's manager (or an admin) may mark a plan agreed."


def _check_targets(principal: Principal, rep_owners: Iterable[str] = (), other_owners: bool = False,
                   team: Iterable[str] | None = None, **_: Any) -> str | None:
    if principal.role in ADMINS:
        return None
    # a manager sets targets for the reps under them, never their own, and no territory targets
    members = set(team or ()) - {principal.rep_id}
    outside = sorted(set(rep_owners) - members)
    if outside or other_owners:
        return (f"{principal.email} may set targets only for the reps under them; not for "
                f"{', '.join(outside) if outside else 'territories'}.")
    return None


def _check_batch(principal: Principal, batch_id: int, in_scope: bool = False,
                 touched_outside: Iterable[str] = (), **_: Any) -> str | None:
    if principal.role in ("admin", "system", "leader"):
        return None
    if not in_scope:
        return f"{principal.email} may not see or undo batch {batch_id}."
    if set(touched_outside):
        # an undo changes every rep the batch touched, now or before: all must be in scope
        return (f"Batch {batch_id} touches sales or targets of reps outside your scope: ask their manager "
                "or an admin to undo it.")
    return None


def _check_add_reps(principal: Principal, existing: Iterable[str] = (), managers: Iterable[str | None] = (),
                    moved_territories: Iterable[str] = (), taken_names: Iterable[str] = (),
                    territories_outside: Iterable[str] = (), **_: Any) -> str | None:
    if principal.role in ADMINS:
        return None
    # a manager adds people from an export as new reps under themself, and changes nobody
    if principal.rep_id is None:  # no team: "under themself" would be under nobody
        return f"{principal.email} has no rep_id: ask an admin to add the reps."
    if set(existing):
        return f"{principal.email} may only add new reps; {', '.join(sorted(set(existing)))} already exist."
    if set(managers) - {principal.rep_id}:
        return f"{principal.email} may add new reps only under themself."
    if set(territories_outside):  # their sales would count in another team's (or a new) territory
        return (f"{principal.email} may add reps only in their team's territories; not in "
                f"{', '.join(sorted(set(territories_outside)))}.")
    if set(moved_territories):  # a territory's region is the organisation's, not one team's
        return (f"{principal.email} may not move territory {', '.join(sorted(set(moved_territories)))} "
                "to another region.")
    if set(taken_names):  # a shared name no longer says who: other teams' files naming that rep would fail
        return (f"{principal.email} may not add a rep named {', '.join(sorted(set(taken_names)))}: a rep of that "
                "name exists (give the full name, or ask an admin).")
    return None


def _check_password(principal: Principal, email: str, **_: Any) -> str | None:
    if principal.role in ADMINS or principal.email.strip().lower() == str(email).strip().lower():
        return None
    return f"Setting another user's password needs the admin role; {principal.email} is {principal.role}."


def _own_or_admin(what: str) -> Callable[..., str | None]:
    def check(principal: Principal, email: str, **_: Any) -> str | None:
        if principal.role in ADMINS or principal.email.strip().lower() == str(email).strip().lower():
            return None
        return f"{what} of another user needs the admin role; {principal.email} is {principal.role}."

    return check


def _check_upload_kind(principal: Principal, kind: str, **_: Any) -> str | None:
    # each kind follows the rule of its import; the page offers only what may be imported
    # holidays and rates come through the Admin page's forms (upload_flow.run_import as well)
    action = {"actuals": "upload_actuals", "deals": "upload_actuals", "targets": "set_targets",
              "reps": "import_reps", "holidays": "import_holidays", "rates": "import_rates"}.get(kind)
    if action is None:
        return f"No {kind} files can be uploaded."
    if principal.role not in RULES[action].roles:
        return RULES[action].refusal(principal)
    return None


def _check_page(principal: Principal, page: str, **_: Any) -> str | None:
    if page in PAGES_BY_ROLE.get("admin" if principal.role == "system" else principal.role, ()):
        return None
    return f"The {page} page is not available to the {principal.role} role."


@dataclass(frozen=True)
class Rule:
    """Who may do an action: the roles, then (for them) a check of the context."""

    roles: frozenset[str]
    refusal: Callable[[Principal], str]  # the message for a role outside ``roles``
    check: Callable[..., str | None] | None = None


def _admin_only(what: str) -> Rule:
    return Rule(ADMINS, lambda p: f"{what} needs the admin role; {p.email} is {p.role}.")


def _writers(check: Callable[..., str | None] | None = None) -> Rule:
    return Rule(WRITERS, _leader_reads, check)


RULES: dict[str, Rule] = {
    "read_all": Rule(frozenset({"admin", "system", "leader"}), lambda p: f"{p.email} may see only their own team's data."),
    "read_rep": Rule(EVERYONE, _leader_reads, _check_read_rep),
    "read_territory_targets": Rule(frozenset({"admin", "system", "leader"}),
                                   lambda p: f"{p.email} may not see territory targets."),
    "write_rep": _writers(_check_write_rep),
    "agree_plan": _writers(_check_agree),
    "upload_actuals": _writers(),
    "set_targets": Rule(frozenset({"admin", "system", "manager"}),
                        lambda p: f"{p.email} ({p.role}) may not set targets.",
                        _check_targets),
    "undo_batch": _writers(_check_batch),
    "see_batch": Rule(EVERYONE, _leader_reads, _check_batch),
    "save_column_map": _writers(),
    "upload_kind": _writers(_check_upload_kind),
    "set_password": Rule(EVERYONE, _leader_reads, _check_password),
    "import_reps": _admin_only("Importing reps"),
    "add_reps": Rule(frozenset({"admin", "system", "manager"}),
                     lambda p: f"Adding reps needs the admin or manager role; {p.email} is {p.role}.", _check_add_reps),
    "import_holidays": _admin_only("Importing holidays"),
    "import_rates": _admin_only("Importing rates"),
    "edit_people": _admin_only("Changing a rep's history"),
    "edit_calendar": _admin_only("Changing the calendar"),
    "change_settings": _admin_only("Changing settings"),
    "manage_users": _admin_only("Managing users"),
    "clear_lockout": _admin_only("Clearing a lock-out"),
    "read_audit": _admin_only("Reading the audit log"),
    "backup": _admin_only("Backing up"),
    "restore": _admin_only("Restoring"),
    "open_page": Rule(EVERYONE, lambda p: f"The {p.role} role may open no page.", _check_page),
    # e-mail digests and alerts (docs/notifications.md)
    "email_preferences": Rule(EVERYONE, _leader_reads, _own_or_admin("Changing the e-mail preferences")),
    "preview_digest": Rule(EVERYONE, _leader_reads, _own_or_admin("Previewing the digest")),
    "read_message_log": _admin_only("Reading the e-mail log"),
}
ACTIONS: tuple[str, ...] = tuple(RULES)


def refusal(principal: Principal, action: str, **context: Any) -> str | None:
    """Why the principal may not do ``action`` in this context, or None when they may.

    Raises KeyError for an unknown action (a typo must not silently allow or refuse).
    """
    rule = RULES[action]
    if principal.role not in rule.roles:
        return rule.refusal(principal)
    return rule.check(principal, **context) if rule.check else None


def may(principal: Principal, action: str, **context: Any) -> bool:
    """Whether the principal may do ``action`` (see the table above for each action's context)."""
    return refusal(principal, action, **context) is None


def require(principal: Principal, action: str, **context: Any) -> None:
    """Raise NotAllowed, with the reason, unless the principal may do ``action``."""
    reason = refusal(principal, action, **context)
    if reason is not None:
        raise NotAllowed(reason)


def require_role(principal: Principal, action: str) -> None:
    """Raise NotAllowed when the principal's role may never do ``action``, whatever the context
    (checked before looking up the facts the context needs)."""
    rule = RULES[action]
    if principal.role not in rule.roles:
        raise NotAllowed(rule.refusal(principal))


def batch_in_scope(principal: Principal, *, uploaded_by: str, uploader_role: str | None,
                   uploader_rep_id: str | None, team: Iterable[str] | None) -> bool:
    """Whether a batch counts as uploaded by the principal or their team (the ``in_scope`` context
    of ``see_batch`` and ``undo_batch``): their own upload, or one by a rep or manager whose rep_id
    (recorded at upload) is in ``team`` (None = everyone). An admin's or the command line's upload
    is never a team's, even when the admin also sells in the team; an uploader of unknown role
    (a batch older than the record) is nobody's team. Raises nothing."""
    if str(uploaded_by).strip().lower() == principal.email.strip().lower():
        return True
    if uploader_role not in ("manager", "rep") or uploader_rep_id is None:
        return False
    return _in_team(uploader_rep_id, team)


def pages(principal: Principal) -> tuple[str, ...]:
    """The keys of the dashboard pages the principal may open, in menu order."""
    return PAGES_BY_ROLE.get("admin" if principal.role == "system" else principal.role, ())


def status_after_change(status: str) -> str:
    """The plan status after its content (summary, obstacles, actions) changes: an agreed plan
    goes back to ``submitted``, to be agreed again; others keep their status."""
    return "submitted" if status == "agreed" else status


def may_agree_some(principal: Principal) -> bool:
    """Whether the principal's role can agree any plan at all (a manager with a rep_id, an
    admin): who has a queue of plans waiting for agreement."""
    return principal.role in ADMINS or (principal.role == "manager" and principal.rep_id is not None)
