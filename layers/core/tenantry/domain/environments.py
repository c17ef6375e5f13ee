"""Environments of a project and their permissions: who sees and changes what.

Who (platform admins may do everything, in every project):
- a project's members (any role) see its environments and their permissions; the
  project's owner and admins ("managers") create, change and delete environments and
  manage every environment's permissions and secrets;
- a permission on an environment: `Admin` manages that environment's permissions and
  secrets, `User` reads its secrets' names and metadata. A user's permission counts only
  while they are a member of the project. A bot is never a member: its permission lets
  it see that environment (not the project's other ones) and act there by its role;
- a member without a permission sees the environment but not its secrets (403); anyone
  else gets 404 for the environment and everything in it.

Environments, permissions and secrets change only while the project is `active` (409
otherwise); each change is one transaction with its history entry (dal/environments.py).
The initial environments a project's provisioning creates are environments like any
other. A project has at most MAX_PER_PROJECT environments (413 beyond): a membership
change grants or revokes on all of them in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import environments as store
from tenantry.dal import history
from tenantry.dal import identity as identity_store
from tenantry.dal import memberships as member_store
from tenantry.dal import projects as project_store
from tenantry.domain import project_access
from tenantry.domain.env_permissions import new_permission, permission_id
from tenantry.domain.environment_access import (
    Scope,
    changing,
    is_manager,
    require_changeable,
    scope,
)
from tenantry.domain.membership_rules import COUNTED
from tenantry.domain.project_access import actor, changed_or_gone, check_version, retried_when_raced
from tenantry.errors import (
    ChangedMeanwhile,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    UnknownReference,
)
from tenantry.models.environments import (
    Environment,
    EnvironmentCreate,
    EnvironmentPatch,
    EnvironmentPermission,
    EnvironmentPermissionCreate,
)
from tenantry.models.principal import Principal
from tenantry.models.project_fields import MAX_ENVIRONMENTS

MAX_PER_PROJECT = MAX_ENVIRONMENTS


def to_model(item: dict[str, Any]) -> Environment:
    return Environment.model_validate(store.strip(item))


def permission_model(item: dict[str, Any]) -> EnvironmentPermission:
    return EnvironmentPermission.model_validate(store.strip(item))


# --- who sees and does what (tenantry.domain.environment_access) ---------------------------


def _require_manager(principal: Principal, role: str | None) -> None:
    if not is_manager(principal, role):
        raise Forbidden(
            "only the project's owner and admins and platform admins manage environments"
        )


# --- environments ---------------------------------------------------------------------------


def list_environments(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Environment], dict[str, Any] | None]:
    project_access.access(principal, project_id)
    items, last = store.page(project_id, limit, start_key)
    return [to_model(i) for i in items], last


def get(principal: Principal, project_id: str, env_id: str) -> Environment:
    return to_model(scope(principal, project_id, env_id).env)


@retried_when_raced
def create(principal: Principal, project_id: str, body: EnvironmentCreate) -> Environment:
    project, role = project_access.access(principal, project_id)
    _require_manager(principal, role)
    require_changeable(project)
    names = list(project.get("environments") or [])
    if body.name in names:
        raise Conflict(f"the project has an environment named {body.name!r}")
    if len(names) >= MAX_PER_PROJECT:
        raise QuotaExceeded(
            f"a project has at most {MAX_PER_PROJECT} environments",
            extra={"resource": "environments", "limit": MAX_PER_PROJECT, "usage": len(names)},
        )
    now = now_iso()
    env = {
        "id": new_id(),
        "project_id": project_id,
        **body.model_dump(mode="json", exclude_none=True),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "deployment_count": 0,  # kept by the deployments of the environment
    }
    entry = history.entry(
        project_id,
        actor(principal),
        "environment_created",
        at=now,
        detail={"env_id": env["id"], "name": body.name},
    )
    store.commit(
        project,
        [*project_store.environment_ops(project_id, [env]), entry],
        why_not=lambda: Conflict(f"the project has an environment named {body.name!r}"),
        names=[*names, body.name],
        now=now,
    )
    return to_model(env)


@retried_when_raced
def update(
    principal: Principal,
    project_id: str,
    env_id: str,
    body: EnvironmentPatch,
    expected_version: int | None,
) -> Environment:
    s = changing(principal, project_id, env_id, "manager")
    env = s.env
    check_version(env, expected_version, "environment")
    now = now_iso()
    changes = body.model_dump(mode="json", exclude_unset=True)
    renamed = changes.get("name", env["name"]) != env["name"]
    names, ops = None, []
    if renamed:
        old_names = list(s.project.get("environments") or [])
        if changes["name"] in old_names:
            raise Conflict(f"the project has an environment named {changes['name']!r}")
        names = [changes["name"] if n == env["name"] else n for n in old_names]
        ops += store.rename_ops(project_id, env_id, env["name"], changes["name"])
    changes["updated_at"] = now
    detail: dict[str, Any] = {"env_id": env_id, "name": changes.get("name", env["name"])}
    detail["fields"] = sorted(body.model_fields_set)
    if renamed:
        detail["renamed_from"] = env["name"]
    entry = history.entry(
        project_id, actor(principal), "environment_updated", at=now, detail=detail
    )
    store.commit(
        s.project,
        [store.update_op(project_id, env_id, changes, env["version"]), *ops, entry],
        why_not=lambda: _why_env_not(s, expected_version, changes.get("name")),
        names=names,
        now=now,
    )
    rendered = [
        f for f in ("node_selector", "tolerations") if f in changes and changes[f] != env.get(f)
    ]
    updated = {**env, **changes, "version": int(env["version"]) + 1}
    if rendered:
        from tenantry.domain.deployments import reinstall_env

        reason = f"the environment's {' and '.join(rendered)} changed"
        reinstall_env(project_id, env_id, reason, updated)
    return to_model(updated)


@retried_when_raced
def delete(
    principal: Principal, project_id: str, env_id: str, expected_version: int | None
) -> None:
    """The environment, then what it owns (permissions, secrets): those are unreachable
    once it is gone (every route reads the environment first) and are swept right after;
    a sweep cut short leaves only items the project's deletion removes."""
    s = changing(principal, project_id, env_id, "manager")
    env = s.env
    check_version(env, expected_version, "environment")
    _require_no_deployments(env)
    now = now_iso()
    names = [n for n in s.project.get("environments") or [] if n != env["name"]]
    entry = history.entry(
        project_id,
        actor(principal),
        "environment_deleted",
        at=now,
        detail={"env_id": env_id, "name": env["name"]},
    )
    store.commit(
        s.project,
        [*store.delete_ops(project_id, env_id, env["name"], env["version"]), entry],
        why_not=lambda: _why_env_not(s, expected_version),
        names=names,
        now=now,
    )
    project_store.delete_items(store.owned_keys(project_id, env_id))


def _require_no_deployments(env: dict[str, Any]) -> None:
    refusal = _has_deployments(env)
    if refusal is not None:
        raise refusal


def _has_deployments(env: dict[str, Any]) -> Conflict | None:
    count = int(env.get("deployment_count") or 0)
    if not count:
        return None
    return Conflict(
        f"the environment has {count} deployment(s); delete them first",
        extra={"deployment_count": count},
    )


def _why_env_not(s: Scope, expected: int | None, new_name: str | None = None) -> Exception:
    env = store.get(s.pid, s.env_id)
    refusal = changed_or_gone(env, "environment", int(s.env["version"]), expected)
    if refusal is None and env is not None:
        refusal = _has_deployments(env)
    if refusal is None and new_name is not None:
        refusal = Conflict(f"the project has an environment named {new_name!r}")
    return refusal or ChangedMeanwhile("the environment changed meanwhile; retry")


# --- permissions ---------------------------------------------------------------------------


def list_permissions(
    principal: Principal,
    project_id: str,
    env_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[EnvironmentPermission], dict[str, Any] | None]:
    scope(principal, project_id, env_id)
    items, last = store.page_permissions(project_id, env_id, limit, start_key)
    return [permission_model(i) for i in items], last


def get_permission(
    principal: Principal, project_id: str, env_id: str, permission_id_: str
) -> EnvironmentPermission:
    scope(principal, project_id, env_id)
    item = store.get_permission(project_id, env_id, permission_id_)
    if item is None:
        raise NotFound(f"permission {permission_id_!r} not found")
    return permission_model(item)


@retried_when_raced
def grant(
    principal: Principal, project_id: str, env_id: str, body: EnvironmentPermissionCreate
) -> EnvironmentPermission:
    """One permission per (environment, user or bot): another is 409 (delete it first to
    change the role). A user must be a current member of the project, a bot must exist:
    422 unknown-reference otherwise."""
    s = changing(principal, project_id, env_id, "env_admin")
    kind, who = ("user", body.user_id) if body.user_id is not None else ("bot", body.bot_id)
    assert who is not None
    check, unknown = _principal_check(project_id, kind, who)
    existing = store.get_permission(project_id, env_id, permission_id(env_id, kind, who))
    if existing is not None:
        raise _already(existing)
    now = now_iso()
    permission = new_permission(project_id, env_id, kind, who, body.role, now)
    entry = history.entry(
        project_id,
        actor(principal),
        "environment_permission_granted",
        at=now,
        detail=_permission_detail(s, permission),
    )
    store.commit(
        s.project,
        [store.exists_check(project_id, env_id), check, store.grant_op(permission), entry],
        why_not=lambda: _why_grant_not(s, permission, unknown),
    )
    return permission_model(permission)


def _principal_check(
    project_id: str, kind: str, who: str
) -> tuple[dict[str, Any], Callable[[], Exception | None]]:
    """The transaction's check that the user is a current member (the bot exists), and
    what tells whether it holds now (None) or the 422 to answer."""

    def unknown() -> Exception | None:
        if kind == "user":
            member = member_store.get(project_id, who)
            if member and member.get("state") in COUNTED:
                return None
            msg = "not a current member of the project"
        else:
            if identity_store.get_bot(who) is not None:
                return None
            msg = "no such bot"
        return UnknownReference(
            f"{kind} {who!r}: {msg}", errors=[{"loc": ["body", f"{kind}_id"], "msg": msg}]
        )

    refusal = unknown()
    if refusal is not None:
        raise refusal
    check = (
        store.current_member_check(project_id, who)
        if kind == "user"
        else store.bot_exists_check(who)
    )
    return check, unknown


def _already(existing: dict[str, Any]) -> Conflict:
    who = existing.get("user_id") or existing.get("bot_id")
    return Conflict(
        f"{who!r} already has {existing['role']} on this environment; delete that "
        "permission to change the role",
        extra={"permission_id": existing["id"]},
    )


def _why_grant_not(
    s: Scope, permission: dict[str, Any], unknown: Callable[[], Exception | None]
) -> Exception:
    if store.get(s.pid, s.env_id) is None:
        return NotFound(f"environment {s.env_id!r} not found")
    existing = store.get_permission(s.pid, s.env_id, permission["id"])
    if existing is not None:
        return _already(existing)
    return unknown() or ChangedMeanwhile("the environment changed meanwhile; retry")


def _permission_detail(s: Scope, permission: dict[str, Any]) -> dict[str, Any]:
    who = {k: permission[k] for k in ("user_id", "bot_id") if k in permission}
    return {
        "env_id": s.env_id,
        "env_name": s.env["name"],
        "permission_id": permission["id"],
        **who,
        "role": permission["role"],
    }


@retried_when_raced
def revoke(
    principal: Principal,
    project_id: str,
    env_id: str,
    permission_id_: str,
    expected_version: int | None,
) -> None:
    s = changing(principal, project_id, env_id, "env_admin")
    permission = store.get_permission(project_id, env_id, permission_id_)
    if permission is None:
        raise NotFound(f"permission {permission_id_!r} not found")
    check_version(permission, expected_version, "permission")
    entry = history.entry(
        project_id,
        actor(principal),
        "environment_permission_revoked",
        detail=_permission_detail(s, permission),
    )
    version = int(permission["version"])
    store.commit(
        s.project,
        [store.revoke_op(project_id, env_id, permission_id_, version), entry],
        why_not=lambda: changed_or_gone(
            store.get_permission(project_id, env_id, permission_id_),
            "permission",
            version,
            expected_version,
        )
        or ChangedMeanwhile("the permission changed meanwhile; retry"),
    )
