"""Environment permissions as records, and what a membership change does to them.

A permission gives a user or a bot a role on one environment: `Admin` (manages the
environment's permissions and secrets) or `User` (reads its secrets' names). Its id is
uuid5(environment, principal): one permission per (environment, user or bot), forever.

Membership changes (domain/memberships.move) call `membership_ops`: a user who becomes a
member gets `User` on every environment with `auto_add_new_users`, and a user who stops
being one loses every permission in the project, in the membership's own transaction.
What they read to decide is pinned by the project's `env_rev` (dal/environments.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from tenantry.dal import environments as store

PERMISSION_NAMESPACE = uuid.UUID("3c9e5d0a-7b41-4f6e-8a2d-9e1f0c7b5a63")


def permission_id(env_id: str, kind: str, principal_id: str) -> str:
    return str(uuid.uuid5(PERMISSION_NAMESPACE, f"{env_id}/{kind}:{principal_id}"))


def new_permission(
    project_id: str, env_id: str, kind: str, principal_id: str, role: str, now: str
) -> dict[str, Any]:
    return {
        "id": permission_id(env_id, kind, principal_id),
        "project_id": project_id,
        "env_id": env_id,
        f"{kind}_id": principal_id,
        "role": role,
        "created_at": now,
        "version": 1,
    }


def membership_ops(
    project: dict[str, Any], user_id: str, *, joining: bool, now: str
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """For a user becoming a member (`joining`) or ceasing to be one: (the transaction
    ops, what the history entry adds to its detail, the project attributes the
    transaction requires unchanged). `project` was read strongly consistent."""
    require = {store.ENV_REV: store.env_rev_of(project)}
    pid = project["id"]
    if not project.get("environments"):
        return [], {}, require
    envs = store.all_of_project(pid)
    if joining:
        auto = [e for e in envs if e.get("auto_add_new_users")]
        ops = [
            store.grant_op(new_permission(pid, e["id"], "user", user_id, "User", now), replace=True)
            for e in auto
        ]
        detail = {"environments_granted": [e["name"] for e in auto]} if auto else {}
        return ops, detail, require
    held = store.permissions_of(
        pid, [e["id"] for e in envs], [permission_id(e["id"], "user", user_id) for e in envs]
    )
    names = {e["id"]: e["name"] for e in envs}
    ops = [store.revoke_op(pid, p["env_id"], p["id"]) for p in held]
    detail = {"environment_permissions_revoked": [names[p["env_id"]] for p in held]} if held else {}
    return ops, detail, require
