"""Who sees and does what in an environment: the Scope a caller has there (the project
and the environment read together, their project role and environment role) and the
checks of a change there. Apart from tenantry.domain.environments (environments and
permissions, their models) so that deployments, resources and secrets check access
without importing those."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tenantry.dal import environments as store
from tenantry.domain.env_permissions import permission_id
from tenantry.domain.membership_rules import COUNTED, MANAGER_ROLES
from tenantry.errors import Forbidden, InvalidTransition, NotFound
from tenantry.models.principal import Principal
from tenantry.models.project_fields import PROJECT_ID_PATTERN


def is_manager(principal: Principal, project_role: str | None) -> bool:
    return principal.is_admin or project_role in MANAGER_ROLES


@dataclass(frozen=True)
class Scope:
    """An environment as one caller sees it: the project and the environment as read
    (strongly consistent), the caller's project role and their role on the environment."""

    principal: Principal
    project: dict[str, Any]
    env: dict[str, Any]
    project_role: str | None
    env_role: str | None

    @property
    def manager(self) -> bool:
        return is_manager(self.principal, self.project_role)

    @property
    def env_admin(self) -> bool:
        """Manages the environment's permissions and secrets."""
        return self.manager or self.env_role == "Admin"

    @property
    def secret_reader(self) -> bool:
        return self.env_admin or self.env_role == "User"

    def require(self, allowed: bool, refusal: str) -> None:
        """403: the caller sees the environment, so may learn they may not do this."""
        if not allowed:
            raise Forbidden(refusal)

    @property
    def pid(self) -> str:
        return str(self.project["id"])

    @property
    def env_id(self) -> str:
        return str(self.env["id"])


def scope(principal: Principal, project_id: str, env_id: str) -> Scope:
    """The environment and what the caller may do there, or 404 when they may not see it
    (whether the project or the environment exists is nobody else's business). One
    strongly consistent BatchGetItem: project, environment, the caller's permission on it
    and (users) their member item."""
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise NotFound(f"project {project_id!r} not found")
    project, member, env, permission = store.get_context(
        project_id,
        env_id,
        principal.id if principal.kind == "user" else None,
        permission_id(env_id, principal.kind, principal.id),
    )
    role = member["role"] if member and member.get("state") in COUNTED else None
    bot_permitted = principal.kind == "bot" and permission is not None and env is not None
    if project is None or not (principal.is_admin or role or bot_permitted):
        raise NotFound(f"project {project_id!r} not found")
    if env is None:
        raise NotFound(f"environment {env_id!r} not found in project {project_id!r}")
    env_role = permission["role"] if permission and (role or principal.kind == "bot") else None
    return Scope(principal, project, env, role, env_role)


def changing(
    principal: Principal, project_id: str, env_id: str, who: Literal["manager", "env_admin"]
) -> Scope:
    """The scope of a change in an environment: the caller sees it (else 404), is `who`
    (a manager of the project, or an Admin of the environment; else 403), and the project
    is active (else 409)."""
    s = scope(principal, project_id, env_id)
    s.require(getattr(s, who), WHO[who])
    require_changeable(s.project)
    return s


WHO = {
    "manager": "only the project's owner and admins may do this",
    "env_admin": "only the environment's Admins and the project's owner and admins may do this",
}


def require_changeable(project: dict[str, Any]) -> None:
    if project["status"] != store.CHANGEABLE:
        raise InvalidTransition(
            f"the project is {project['status']}; its environments, permissions and secrets "
            f"change only while it is {store.CHANGEABLE}",
            extra={"current_status": project["status"]},
        )
