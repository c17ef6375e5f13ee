"""A project's people (Klustr's project users, the console's members page): its current
members (accepted or leave_requested) with their roles and display names.

Who: the project's members (any role) and platform admins; anyone else gets 404, bots
included (a bot is never a member). A page is one Query of the project's current members
(dal/access.PROJECT_CURRENT_MEMBERS: a partition that holds nothing else, sorted by user
id) and one BatchGetItem of those users, whatever the size of the table.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import identity as identity_store
from tenantry.dal import memberships as member_store
from tenantry.domain import project_access
from tenantry.models.governance import ProjectUser
from tenantry.models.principal import Principal


def list_users(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[ProjectUser], dict[str, Any] | None]:
    project_access.access(principal, project_id)
    members, last = member_store.page_for_project(project_id, limit, start_key, current_only=True)
    users = identity_store.users_by_id([m["user_id"] for m in members])
    return [_person(m, users.get(m["user_id"])) for m in members], last


def _person(member: dict[str, Any], user: dict[str, Any] | None) -> ProjectUser:
    return ProjectUser(
        user_id=member["user_id"],
        display_name=user["display_name"] if user else None,
        role=member["role"],
        state=member["state"],
        membership_id=member["id"],
        is_active=bool(user["is_active"]) if user else None,
    )
