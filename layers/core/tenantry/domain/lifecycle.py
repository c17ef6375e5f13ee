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

from typing import Literal

from tenantry.errors import InvalidTransition

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
