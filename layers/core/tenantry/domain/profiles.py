"""A project's public profile (name, description, homepage, owner's display name): who
may read it and who may change it. Apart from tenantry.domain.projects: the governance
function serves these routes and needs nothing else of the projects module."""

from __future__ import annotations

import re
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import history
from tenantry.dal import identity as identity_store
from tenantry.dal import memberships as member_store
from tenantry.dal import projects as store
from tenantry.domain import lifecycle
from tenantry.domain.project_access import VISIBLE_MEMBER_STATES, actor, retried_when_raced
from tenantry.errors import Forbidden, NotFound
from tenantry.models.governance import Profile, ProfileUpdate
from tenantry.models.principal import Principal
from tenantry.models.project_fields import PROJECT_ID_PATTERN


def profile(principal: Principal, project_id: str) -> Profile:
    """Any authenticated user may read the profile of an active project; members and
    admins may read it in any status."""
    # Eventually consistent: a public, read-only view; a second-old profile harms nobody.
    project = (
        store.get(project_id, consistent=False)
        if re.fullmatch(PROJECT_ID_PATTERN, project_id)
        else None
    )
    if project is None or not _may_see_profile(principal, project, consistent=False):
        raise NotFound(f"project {project_id!r} not found")
    return _profile(project)


def _profile(project: dict[str, Any]) -> Profile:
    # Eventually consistent: a display name, set when the user was created.
    owner = identity_store.get_user(project["owner_id"], consistent=False) or {}
    return Profile(
        id=project["id"],
        name=project["name"],
        description=project.get("description", ""),
        homepage=project.get("homepage"),
        owner_display_name=owner.get("display_name", ""),
    )


def _may_see_profile(principal: Principal, project: dict[str, Any], *, consistent: bool) -> bool:
    """Active projects: everyone; otherwise admins and visible members (the member item
    is read only then)."""
    if project["status"] == "active" or principal.is_admin:
        return True
    member = member_store.get(project["id"], principal.id, consistent=consistent)
    return bool(member and member.get("state") in VISIBLE_MEMBER_STATES)


@retried_when_raced
def update_profile(
    principal: Principal, project_id: str, body: ProfileUpdate, expected_version: int | None
) -> Profile:
    # Strongly consistent: the write below is pinned to this version and the answer is
    # built from it.
    project = store.get(project_id) if re.fullmatch(PROJECT_ID_PATTERN, project_id) else None
    if project is None or not _may_see_profile(principal, project, consistent=True):
        raise NotFound(f"project {project_id!r} not found")  # unless the caller may see it
    if not (principal.id == project["owner_id"] or principal.is_admin):
        raise Forbidden("only the project's owner may change its profile")
    changes = body.model_dump(exclude_unset=True, mode="json")
    remove = tuple(k for k, v in changes.items() if v is None)
    direct = {k: v for k, v in changes.items() if v is not None}
    now = now_iso()
    entry = history.entry(
        project_id, actor(principal), "profile_updated", at=now, detail={"fields": sorted(changes)}
    )
    item = store.update(
        project_id,
        direct,
        entry,
        remove=remove,
        allowed_statuses=list(lifecycle.DELETABLE),
        expected_version=expected_version,
        now=now,
        base=project,
    )
    return _profile(item)
