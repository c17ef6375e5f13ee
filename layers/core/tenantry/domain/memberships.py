"""Project memberships: join and leave under the project's policies, enrollment by the
owner or project admins, and the moderation of requests."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import history, limits
from tenantry.dal import identity as identity_store
from tenantry.dal import memberships as store
from tenantry.dal import projects as project_store
from tenantry.domain import env_permissions, notices, quotas
from tenantry.domain import membership_rules as rules
from tenantry.errors import ChangedMeanwhile, Forbidden, NotFound, UnknownReference
from tenantry.models.governance import Member, Membership, MembershipAction, MembershipCreate
from tenantry.models.principal import Principal

MEMBERSHIP_NAMESPACE = uuid.UUID("0d5b7f0e-8b0a-4c58-9a3e-3f4a2d1c6b7e")
# Joining or growing needs an active project; leaving and removal work in any live status.
GROWING = ("active",)
LIVE = ("uninitialized", "creating", "active", "suspended", "terminated", "failed")
RACE_ATTEMPTS = 3


def membership_id(project_id: str, user_id: str) -> str:
    return str(uuid.uuid5(MEMBERSHIP_NAMESPACE, f"{project_id}/{user_id}"))


def new_owner(project_id: str, user_id: str, now: str) -> dict[str, Any]:
    """The owner's membership of a project created `now`."""
    return {
        "id": membership_id(project_id, user_id),
        "project_id": project_id,
        "user_id": user_id,
        "role": "owner",
        "state": "accepted",
        "created_at": now,
        "updated_at": now,
        "project_created_at": now,
    }


def caller_role(principal: Principal, project_id: str) -> str | None:
    """The caller's role in the project if they count as a member."""
    member = store.get(project_id, principal.id)
    return member["role"] if member and member["state"] in rules.COUNTED else None


def is_manager(principal: Principal, role: str | None) -> bool:
    return principal.is_admin or role in rules.MANAGER_ROLES


def view(
    member: dict[str, Any], principal: Principal, project: dict[str, Any], role: str | None
) -> Membership:
    allowed = allowed_actions(member, principal, project, role)
    return Membership.model_validate({**member, "allowed_actions": allowed})


def allowed_actions(
    member: dict[str, Any], principal: Principal, project: dict[str, Any], role: str | None
) -> list[str]:
    return rules.allowed_actions(
        member["state"],
        is_self=principal.id == member["user_id"],
        is_manager=is_manager(principal, role),
        role=member["role"],
        join_policy=project["join_policy"],
        leave_policy=project["leave_policy"],
        room=has_room(project),
    )


def has_room(project: dict[str, Any]) -> bool:
    """Whether one more member fits: the project is active and under max_members and the
    members quota. (The write itself re-checks this atomically.)"""
    used = int((project.get("usage") or {}).get("members", 0))
    limits = [
        project.get("max_members"),
        ((project.get("resources") or {}).get("members") or {}).get("project_capacity"),
    ]
    return project["status"] in GROWING and all(lim is None or used < lim for lim in limits)


# --- change -------------------------------------------------------------------------------------


def create(principal: Principal, body: MembershipCreate) -> Membership:
    project = project_store.get(body.project_id)
    if body.action == "join":
        if principal.kind != "user":
            raise Forbidden("only users may join projects")
        # Anyone may ask to join an active project (its profile is public); others: 404.
        if not project or project["status"] != "active":
            raise NotFound(f"project {body.project_id!r} not found")
        role = caller_role(principal, body.project_id)
        member = move(principal, project, principal.id, "join", role=None)
        return view(member, principal, project, role or member["role"])
    # Enrolling by email is an invite (domain.invites.enroll_by_email), so that the answer
    # never tells whether the address has an account; here: enroll by user_id.
    role = caller_role(principal, body.project_id)
    if not project or not (principal.is_admin or role):
        raise NotFound(f"project {body.project_id!r} not found")
    if not is_manager(principal, role):
        raise Forbidden("only the project's owner or admins may enroll members")
    user_id = _enrollee(body)
    member = move(principal, project, user_id, "enroll", role=body.role or "member")
    return view(member, principal, project, role)


def _enrollee(body: MembershipCreate) -> str:
    user = identity_store.get_user(body.user_id) if body.user_id else None
    if not user or not user["is_active"]:
        raise UnknownReference(
            f"no active user {body.user_id!r}",
            errors=[{"loc": ["body", "user_id"], "msg": "no such active user"}],
        )
    return str(user["id"])


def act(principal: Principal, membership_id_: str, body: MembershipAction) -> Membership:
    member, project, role = _visible(principal, membership_id_)
    is_self = principal.id == member["user_id"]
    actor = rules.who(body.action)
    if actor == "self" and not is_self:
        raise Forbidden(f"only the member may {body.action}")
    if actor == "manager" and not is_manager(principal, role):
        raise Forbidden(f"only the project's owner or admins may {body.action} members")
    moved = move(
        principal, project, member["user_id"], body.action, current=member, reason=body.reason
    )
    return view(moved, principal, project, role)


def move(
    principal: Principal,
    project: dict[str, Any],
    user_id: str,
    action: str,
    *,
    role: str | None = None,
    current: dict[str, Any] | None = None,
    reason: str | None = None,
    extra_ops: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Apply `action` to the user's membership of `project`, atomically, and return it.
    A change that makes the user a member or ends their membership also grants or revokes
    their environment permissions (domain/env_permissions.py); if the project's
    environments or permissions changed since they were read, the change is decided again
    on a fresh read (RACE_ATTEMPTS times at most, then 409)."""
    for _ in range(RACE_ATTEMPTS - 1):
        try:
            return _move(principal, project, user_id, action, role, current, reason, extra_ops)
        except ChangedMeanwhile:  # nothing was written: read both again, decide again
            project, current = project_store.get(project["id"]) or project, None
    return _move(principal, project, user_id, action, role, current, reason, extra_ops)


def _move(
    principal: Principal,
    project: dict[str, Any],
    user_id: str,
    action: str,
    role: str | None,
    current: dict[str, Any] | None,
    reason: str | None,
    extra_ops: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    pid = project["id"]
    if current is None:
        current = store.get(pid, user_id)
    before = current["state"] if current else None
    policy_field = "leave_policy" if action == "leave" else "join_policy"
    policy = project[policy_field]
    target = rules.next_state(before, action, policy=policy, role=(current or {}).get("role"))
    # A join or leave is decided by the policy read above: its write is conditioned on
    # that policy still being the project's, so a policy changed meanwhile refuses it.
    decided_under = (policy_field, policy) if action in rules.POLICY_OUTCOME else None
    now = now_iso()
    member = {
        **(current or {}),
        "id": membership_id(pid, user_id),
        "project_id": pid,
        "user_id": user_id,
        # A join makes a plain member, whatever role an earlier membership had; enroll
        # grants the role asked for; other actions keep the role.
        "role": "member" if action == "join" else role or (current or {}).get("role") or "member",
        "state": target,
        "created_at": (current or {}).get("created_at", now),
        "updated_at": now,
        # the user's projects in creation order (GSI1T, dal/keys.py) place it by this
        "project_created_at": project["created_at"],
    }
    member = store.strip(member)
    ops = list(extra_ops or [])
    ops += _limit_ops(principal, pid, user_id, action, before, target, member)
    delta = rules.member_delta(before, target)
    detail: dict[str, Any] = {"user_id": user_id, "role": member["role"]}
    if reason:
        detail["reason"] = reason
    require = None
    if delta:  # becomes a member, or stops being one: their environment permissions
        env_ops, env_detail, require = env_permissions.membership_ops(
            project, user_id, joining=delta > 0, now=now
        )
        ops += env_ops
        detail.update(env_detail)
    entry = history.entry(
        pid,
        f"{principal.kind}:{principal.id}",
        f"membership_{action}",
        from_status=before,
        to_status=target,
        at=now,
        detail=detail,
    )
    derived = partial(_quota_notices, delta=delta, now=now) if delta else None
    statuses = GROWING if delta > 0 else LIVE
    if action == "cancel" and before == "requested":
        # A requester may always withdraw, even from a deleted project: it gives back
        # their pending_join_requests unit, which nothing else would.
        statuses = (*LIVE, "deleting", "deleted")
    store.change(
        member,
        before,
        delta,
        entry,
        current=target in rules.COUNTED,
        project_statuses=statuses,
        policy=decided_under,
        require=require,
        history_after=history.sequence_of(project),
        extra_ops=ops,
        project=project,
        derived=derived,
    )
    return member


def _quota_notices(project: dict[str, Any], *, delta: int, now: str) -> list[dict[str, Any]]:
    """Tenantry's `members` quota notification as this change leaves it: `project` is the
    project the change commits on (dal/memberships.change)."""
    used = quotas.usage_of(project, store.MEMBERS)
    after = {**project, "usage": {**(project.get("usage") or {}), store.MEMBERS: used + delta}}
    return notices.quota_changes(project, after, now)


def _limit_ops(
    principal: Principal,
    project_id: str,
    user_id: str,
    action: str,
    before: str | None,
    target: str,
    member: dict[str, Any],
) -> list[dict[str, Any]]:
    """The limit counters a membership change moves, in its transaction (dal/limits.py):
    every join counts towards the joiner's joins to this project today (a join/cancel loop
    cannot grow another tenant's history without bound), and a pending request holds one
    of the requester's pending_join_requests until it is answered or cancelled. `member`
    records whether it holds one, so only what was counted is given back."""
    ops = []
    if action == "join":
        ops += limits.take(
            "join_requests_per_project_per_day",
            user_id,
            exempt=principal.is_admin,
            scope=project_id,
        )
    if target == "requested" and before != "requested":
        ops += limits.take("pending_join_requests_per_user", user_id, exempt=principal.is_admin)
        member["pending_counted"] = True
    elif before == "requested" and target != "requested" and member.pop("pending_counted", None):
        ops.append(limits.release("pending_join_requests_per_user", user_id))
    return ops


# --- read ---------------------------------------------------------------------------------------


def get(principal: Principal, membership_id_: str) -> Membership:
    member, project, role = _visible(principal, membership_id_)
    return view(member, principal, project, role)


def _visible(
    principal: Principal, membership_id_: str
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The membership, its project and the caller's role there, if the caller may see the
    membership in GET /memberships: their own; any for the project's managers and platform
    admins; only counted ones (accepted, leave_requested) for the other members. Anything
    else is 404, exactly as for an id that does not exist: a viewer cannot read a rejected
    request or its reason by guessing its id. Two reads: the id pointer, one BatchGetItem."""
    member, project, mine = store.get_with_context(membership_id_, principal.id)
    role = mine["role"] if mine and mine["state"] in rules.COUNTED else None
    if not member or not project or not _may_see(principal, member, role):
        raise NotFound("membership not found")
    return member, project, role


def _may_see(principal: Principal, member: dict[str, Any], role: str | None) -> bool:
    """The one visibility rule of memberships, shared by the list and the single read."""
    if principal.id == member["user_id"] or is_manager(principal, role):
        return True
    return role is not None and member["state"] in rules.COUNTED


def list_memberships(
    principal: Principal, project_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Membership], dict[str, Any] | None]:
    if project_id is None:
        items, last = store.page_for_user(principal.id, limit, start_key)
        projects = {
            p["id"]: p for p in project_store.get_many(list({i["project_id"] for i in items}))
        }
        out = [
            view(
                i,
                principal,
                projects[i["project_id"]],
                i["role"] if i["state"] in rules.COUNTED else None,
            )
            for i in items
            if i["project_id"] in projects
        ]
        return out, last
    project = project_store.get(project_id)
    role = caller_role(principal, project_id)
    if not project or not (principal.is_admin or role):
        raise NotFound(f"project {project_id!r} not found")
    # A non-manager sees the current members only: read from the partition that holds
    # nothing else (dal/access.py), so a page is never emptied by former ones.
    manager = is_manager(principal, role)
    items, last = store.page_for_project(project_id, limit, start_key, current_only=not manager)
    visible = [i for i in items if _may_see(principal, i, role)]
    return [view(i, principal, project, role) for i in visible], last


def members(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Member], dict[str, Any] | None]:
    memberships, last = list_memberships(principal, project_id, limit, start_key)
    return [Member(user_id=m.user_id, role=m.role, state=m.state) for m in memberships], last
