"""Project quotas: each resource has a project capacity and a per-member capacity;
usage is counted on the project item (and per member on member items) by the conditional
writes that allocate, so concurrent allocations can never overshoot. `members` is counted
by membership changes (tenantry.dal.memberships); later resources (environments,
deployments) allocate through the same counters."""

from __future__ import annotations

from tenantry.dal import memberships as member_store
from tenantry.domain.membership_rules import COUNTED
from tenantry.domain.projects import access
from tenantry.models.governance import Quota
from tenantry.models.identity import Principal


def quotas(principal: Principal, project_id: str) -> dict[str, Quota]:
    project, _ = access(principal, project_id)
    resources: dict[str, dict[str, int]] = project.get("resources") or {}
    usage: dict[str, int] = project.get("usage") or {}
    names = sorted({"members", *resources, *usage})
    members = member_store.all_for_project(project_id) if resources else []
    out = {}
    for name in names:
        capacity = resources.get(name) or {}
        limit = capacity.get("project_capacity")
        if name == "members" and project.get("max_members") is not None:
            limit = min(x for x in (limit, project["max_members"]) if x is not None)
        per_member = {
            m["user_id"]: int((m.get("usage") or {}).get(name, 0))
            for m in members
            if m["state"] in COUNTED and (m.get("usage") or {}).get(name)
        }
        out[name] = Quota(
            limit=limit,
            usage=int(usage.get(name, 0)),
            member_limit=capacity.get("member_capacity") if name != "members" else None,
            member_usage=per_member,
        )
    return out
