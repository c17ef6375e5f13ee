"""Organizations: a creator becomes the org's owner; members see the org."""

from __future__ import annotations

from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import limits
from tenantry.dal import orgs as store
from tenantry.errors import Forbidden, NotFound
from tenantry.models.governance import Org, OrgCreate, OrgMember
from tenantry.models.principal import Principal

MANAGER_ROLES = frozenset({"owner", "admin"})


def create(principal: Principal, body: OrgCreate) -> Org:
    if principal.kind != "user":
        raise Forbidden("only users may create orgs")
    org = {"id": new_id(), "name": body.name, "created_by": principal.id, "created_at": now_iso()}
    store.create(
        org,
        principal.id,
        limits.take("orgs_per_user_per_day", principal.id, exempt=principal.is_admin),
    )
    return Org.model_validate(org)


def role(principal: Principal, org_id: str) -> str | None:
    member = store.get_member(org_id, principal.id)
    return member["role"] if member else None


def visible(principal: Principal, org_id: str) -> tuple[dict[str, Any], str | None]:
    org = store.get(org_id)
    my_role = role(principal, org_id) if org else None
    if not org or not (principal.is_admin or my_role):
        raise NotFound(f"org {org_id!r} not found")
    return org, my_role


def require_manager(principal: Principal, org_id: str) -> dict[str, Any]:
    org, my_role = visible(principal, org_id)
    if not (principal.is_admin or my_role in MANAGER_ROLES):
        raise Forbidden("only the org's owner or admins may do this")
    return org


def get(principal: Principal, org_id: str) -> Org:
    return Org.model_validate(visible(principal, org_id)[0])


def list_orgs(
    principal: Principal, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Org], dict[str, Any] | None]:
    """Platform admins: every org. Others: the orgs they belong to."""
    if principal.is_admin:
        items, last = store.page_all(limit, start_key)
        return [Org.model_validate(i) for i in items], last
    members, last = store.page_for_user(principal.id, limit, start_key)
    orgs = store.get_many([m["org_id"] for m in members])
    return [Org.model_validate(o) for o in orgs], last


def members(
    principal: Principal, org_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[OrgMember], dict[str, Any] | None]:
    visible(principal, org_id)
    items, last = store.page_members(org_id, limit, start_key)
    return [OrgMember.model_validate(i) for i in items], last
