"""The membership state machine as data (Synnefo-style join and leave policies).

    (none|rejected|cancelled|removed) ─join─► requested (moderated) | accepted (auto) | 409 (closed)
    (none|requested|rejected|cancelled|removed) ─enroll─► accepted        (owner, project admin)
    requested ─accept─► accepted      requested ─reject─► rejected       requested ─cancel─► cancelled
    accepted ─leave─► removed (auto) | leave_requested (moderated) | 409 (closed)
    leave_requested ─accept─► removed   leave_requested ─reject─► accepted   leave_requested ─cancel─► accepted
    accepted|leave_requested ─remove─► removed                         (owner, project admin)

`accepted` and `leave_requested` count as members (towards max_members and visibility).
The owner can neither leave nor be removed.
"""

from __future__ import annotations

from typing import Literal

from tenantry.errors import Conflict, InvalidTransition

Actor = Literal["self", "manager"]
NO_MEMBERSHIP = None
FORMER = (NO_MEMBERSHIP, "rejected", "cancelled", "removed")
COUNTED = frozenset({"accepted", "leave_requested"})
MANAGER_ROLES = frozenset({"owner", "admin"})

# action -> (who, {from state: to state}); join and leave depend on the policy (below)
MOVES: dict[str, tuple[Actor, dict[str | None, str]]] = {
    "enroll": ("manager", dict.fromkeys((*FORMER, "requested"), "accepted")),
    "accept": ("manager", {"requested": "accepted", "leave_requested": "removed"}),
    "reject": ("manager", {"requested": "rejected", "leave_requested": "accepted"}),
    "remove": ("manager", {"accepted": "removed", "leave_requested": "removed"}),
    "cancel": ("self", {"requested": "cancelled", "leave_requested": "accepted"}),
    "join": ("self", dict.fromkeys(FORMER, "join")),
    "leave": ("self", {"accepted": "leave"}),
}
POLICY_OUTCOME = {
    "join": {"auto": "accepted", "moderated": "requested"},
    "leave": {"auto": "removed", "moderated": "leave_requested"},
}


def who(action: str) -> Actor:
    return MOVES[action][0]


def next_state(
    current: str | None, action: str, *, policy: str = "auto", role: str | None = None
) -> str:
    """Where `action` takes a membership in state `current` (None: there is none)."""
    _, moves = MOVES[action]
    if current not in moves:
        raise InvalidTransition(
            f"cannot {action} a membership that is {current or 'absent'}",
            extra={"current_state": current, "action": action},
        )
    if action in ("leave", "remove") and role == "owner":
        raise Conflict("the project's owner cannot leave or be removed")
    target = moves[current]
    if action in POLICY_OUTCOME:
        if policy == "closed":
            raise Conflict(f"the project's {action} policy is closed")
        target = POLICY_OUTCOME[action][policy]
    return target


def member_delta(before: str | None, after: str) -> int:
    """How the project's member count changes."""
    return int(after in COUNTED) - int(before in COUNTED)


def allowed_actions(
    state: str | None,
    *,
    is_self: bool,
    is_manager: bool,
    role: str | None,
    join_policy: str,
    leave_policy: str,
    room: bool = True,
) -> list[str]:
    """What a caller may do to a membership now: shown on every membership. Without
    `room` (the project is full or not active), nothing that would add a member."""
    allowed = []
    for action in ("accept", "reject", "remove", "leave", "cancel"):
        actor = who(action)
        if (actor == "self" and not is_self) or (actor == "manager" and not is_manager):
            continue
        policy = leave_policy if action == "leave" else join_policy
        try:
            target = next_state(state, action, policy=policy, role=role)
        except (InvalidTransition, Conflict):
            continue
        if not room and member_delta(state, target) > 0:
            continue
        allowed.append(action)
    return allowed
