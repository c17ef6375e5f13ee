"""The project lifecycle as data: which event moves which status where, and who may ask.

create ─► uninitialized ─approve─► creating ─ok─► active ◄─unsuspend─ suspended
   └──────(auto/admin)───────────►    │ fail           │ ─suspend─►
                                      ▼               terminate ─► terminated ─reinstate─► active
                                    failed ─retry─► creating
                       active ─retry─► creating   (only while NamespacesReady is False:
                                                   re-asks the failed clusters)
any but deleting/deleted ─DELETE─► deleting ─ok─► deleted   (deny: uninitialized ─► deleted)
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from tenantry.errors import InvalidTransition
from tenantry.models.project_fields import ProjectAllowedAction

Who = Literal["admin", "owner", "applicant", "system"]

DELETABLE = ("uninitialized", "creating", "active", "suspended", "terminated", "failed")

# event -> ({from status: to status}, who may ask)
TRANSITIONS: dict[str, tuple[dict[str, str], Who]] = {
    "suspend": ({"active": "suspended"}, "admin"),
    "unsuspend": ({"suspended": "active"}, "admin"),
    "terminate": ({"active": "terminated", "suspended": "terminated"}, "admin"),
    "reinstate": ({"terminated": "active"}, "admin"),
    "retry": ({"failed": "creating", "active": "creating"}, "owner"),
    "approve": ({"uninitialized": "creating"}, "admin"),
    "deny": ({"uninitialized": "deleted"}, "admin"),
    "cancel": ({"uninitialized": "deleted"}, "applicant"),
    "delete": (dict.fromkeys(DELETABLE, "deleting"), "owner"),
    "provisioned": ({"creating": "active"}, "system"),
    "provisioning_failed": ({"creating": "failed"}, "system"),
    "deprovisioned": ({"deleting": "deleted"}, "system"),
    "deprovisioning_failed": ({"deleting": "failed"}, "system"),
}


def next_status(current: str, event: str) -> str:
    moves, _ = TRANSITIONS[event]
    if current not in moves:
        allowed = ", ".join(sorted(moves))
        raise InvalidTransition(
            f"cannot {event} a project that is {current}; allowed from: {allowed}",
            extra={"current_status": current, "event": event},
        )
    return moves[current]


def namespaces_failed(project: dict[str, object]) -> bool:
    """Whether the project's NamespacesReady condition is False (some cluster failed)."""
    conditions = project.get("conditions") or []
    return any(
        isinstance(c, dict) and c.get("type") == "NamespacesReady" and c.get("status") == "False"
        for c in conditions  # type: ignore[union-attr]
    )


def check_retry(project: dict[str, object]) -> None:
    """An active project is retried only to re-ask the clusters whose namespace failed."""
    if project.get("status") == "active" and not namespaces_failed(project):
        raise InvalidTransition(
            "cannot retry an active project whose namespaces are all ready; retry is for a "
            "failed project, or an active one whose NamespacesReady condition is False",
            extra={"current_status": "active", "event": "retry"},
        )


def who_may(event: str) -> Who:
    return TRANSITIONS[event][1]


def sources(event: str) -> list[str]:
    return list(TRANSITIONS[event][0])


# What POST /projects/{id}/actions takes (lifecycle events and application decisions), and
# DELETE: in the order a project's `allowed_actions` lists them.
ACTIONS: tuple[str, ...] = get_args(ProjectAllowedAction)
APPLICATION_DECISIONS = frozenset({"approve", "deny", "cancel", "dismiss"})


def allowed_actions(
    project: dict[str, Any], *, caller_id: str, is_admin: bool, role: str | None
) -> list[str]:
    """The actions the caller may ask for now, as the routes decide them: a lifecycle
    event from one of its source statuses by whom TRANSITIONS names (`owner`: the
    project's owner or a platform admin; retry of an active project only while a cluster's
    namespace failed), DELETE likewise; approve and deny of the pending application by
    platform admins; cancel of it and dismiss of a denied last application by its
    applicant or a platform admin."""
    status = str(project.get("status"))
    manager = is_admin or role == "owner"
    last = project.get("last_application") or {}
    pending = project.get("pending_application_id")
    # A summary written before it kept its applicant: the owner, who files every change
    # and is the applicant of the project's creation.
    applicant = is_admin or last.get("applicant_id", project.get("owner_id")) == caller_id
    allowed: set[str] = set()
    for event, (moves, who) in TRANSITIONS.items():
        if event in APPLICATION_DECISIONS or who in ("system", "applicant"):
            continue  # decided below, on the application itself
        if status in moves and (is_admin if who == "admin" else manager):
            allowed.add(event)
    if status == "active" and not namespaces_failed(project):
        allowed.discard("retry")
    if pending:
        if is_admin:
            allowed |= {"approve", "deny"}
        if applicant and last.get("id") == pending:
            allowed.add("cancel")
    if last.get("state") == "denied" and applicant:
        allowed.add("dismiss")
    return [action for action in ACTIONS if action in allowed]
