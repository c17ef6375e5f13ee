"""Who sees a project's deployments and who may change them: a deployment for a caller who
sees its environment, the writers of an environment's deployments (by deployment role
on a kind, API.md "Deployment permissions"), and the commit of a change with its history
entry. Apart from tenantry.domain.deployments (charts, tasks, permissions, their models)
so that resources check and commit like deployments without importing those."""

from __future__ import annotations

import uuid
from typing import Any

from tenantry.dal import deployments as store
from tenantry.dal import history
from tenantry.dal import operations as op_store
from tenantry.domain.environment_access import Scope, require_changeable, scope
from tenantry.domain.project_access import access
from tenantry.errors import Conflict, NotFound
from tenantry.models.principal import Principal

SEQUENCE_ATTEMPTS = 5
WRITERS = "only the environment's Admins and the project's owner and admins may do this"


def visible(principal: Principal, project_id: str) -> dict[str, Any]:
    project, _ = access(principal, project_id)
    return project


def deployment_or_404_for(
    principal: Principal, project_id: str, deployment_id: str
) -> dict[str, Any]:
    """The deployment, for a caller who sees its environment (a bot with a role there
    sees it without seeing the project): else 404."""
    deployment = store.get(project_id, deployment_id)
    if deployment is None:
        visible(principal, project_id)  # the project's 404 first, for outsiders
        raise NotFound("deployment not found")
    scope(principal, project_id, deployment["env_id"])
    return deployment


def deployment_or_404(project_id: str, deployment_id: str) -> dict[str, Any]:
    deployment = store.get(project_id, deployment_id)
    if deployment is None:
        raise NotFound("deployment not found")
    return deployment


# What each deployment role may do (API.md "Deployment permissions"); the environment's
# Admins, the project's owner and admins and platform admins may do all of it.
OWNER_ONLY = ("Owner",)
OWNER_OR_MAINTAINER = ("Owner", "Maintainer")


def permission_id(env_id: str, kind_id: str, principal_kind: str, principal_id: str) -> str:
    """One permission per principal, deployment kind and environment."""
    return str(
        uuid.uuid5(PERMISSION_NAMESPACE, f"{env_id}/{kind_id}/{principal_kind}:{principal_id}")
    )


PERMISSION_NAMESPACE = uuid.UUID("9d2f4c1a-6b3e-4e8f-a1d7-5c0b9e2f7a34")


def writer(
    principal: Principal,
    project_id: str,
    env_id: str,
    kind_id: str | None = None,
    roles: tuple[str, ...] = OWNER_ONLY,
) -> Scope:
    """The caller sees the environment (else 404), may change its deployments of `kind_id`
    (an Admin of the environment, a manager of the project, or one of `roles` on that kind
    there; else 403), and the project is active (else 409). Bots by the same rules: a bot
    sees an environment it holds a role on."""
    s = scope(principal, project_id, env_id)
    allowed = s.env_admin
    if not allowed and kind_id is not None:
        granted = store.get_permission(
            project_id, permission_id(env_id, kind_id, principal.kind, principal.id)
        )
        member_or_bot = s.project_role is not None or principal.kind == "bot"
        allowed = bool(granted and member_or_bot and granted["role"] in roles)
    s.require(
        allowed, WRITERS if kind_id is None else WRITERS + f" (or a {'/'.join(roles)} of the kind)"
    )
    require_changeable(s.project)
    return s


def commit(s: Scope, ops: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """`ops` with the history entry, conditioned on the project being active; retried
    while only the history moved on."""
    project_id = s.pid
    after = history.sequence_of(s.project)
    for _ in range(SEQUENCE_ATTEMPTS):
        active = op_store.current_status_check(project_id, "active")
        try:
            op_store.commit([*ops, entry, active], project_id, after)
            return
        except history.Sequenced:
            after = history.sequence_of(s.project | reread_project(project_id))
    raise Conflict("the project's history kept moving; retry")


def reread_project(project_id: str) -> dict[str, Any]:
    """The project as it is now (strongly consistent), {} once gone: what a retry after a
    lost history race conditions on."""
    from tenantry.dal import projects

    return projects.get(project_id) or {}
