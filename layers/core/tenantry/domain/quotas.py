"""Project quotas: each resource has a project capacity and a per-member capacity;
usage is counted on the project item by the conditional writes that allocate, so
concurrent allocations can never overshoot. `members` is counted by membership changes
(tenantry.dal.memberships); later resources (environments, deployments) allocate through
the same counters.

The answer comes from the project item alone (read with the caller's membership in one
BatchGetItem by `access`): O(1) whatever the number of members. `member_usage` is what
each member holds of a resource allocated per member; nothing is allocated per member
yet (`members` counts per project), so it is always empty. When a resource is, its
per-member counts must be kept where this one read finds them, not gathered from every
member item."""

from __future__ import annotations

from tenantry.domain.projects import access
from tenantry.models.governance import Quota
from tenantry.models.identity import Principal


def quotas(principal: Principal, project_id: str) -> dict[str, Quota]:
    project, _ = access(principal, project_id)
    resources: dict[str, dict[str, int]] = project.get("resources") or {}
    usage: dict[str, int] = project.get("usage") or {}
    out = {}
    for name in sorted({"members", *resources, *usage}):
        capacity = resources.get(name) or {}
        limit = capacity.get("project_capacity")
        if name == "members" and project.get("max_members") is not None:
            limit = min(x for x in (limit, project["max_members"]) if x is not None)
        out[name] = Quota(
            limit=limit,
            usage=int(usage.get(name, 0)),
            member_limit=capacity.get("member_capacity") if name != "members" else None,
            member_usage={},
        )
    return out
