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

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantry.models.governance import Quota
    from tenantry.models.principal import Principal


def resource_names(project: dict[str, Any]) -> list[str]:
    """The resources a project has a quota or a usage of (`members` always)."""
    return sorted({"members", *(project.get("resources") or {}), *(project.get("usage") or {})})


def limit_of(project: dict[str, Any], name: str) -> int | None:
    """A resource's project-wide limit: its project capacity, and for `members` the lower
    of that and max_members (None: no limit)."""
    capacity = ((project.get("resources") or {}).get(name) or {}).get("project_capacity")
    limit = None if capacity is None else int(capacity)
    if name == "members" and project.get("max_members") is not None:
        limit = min(x for x in (limit, int(project["max_members"])) if x is not None)
    return limit


def usage_of(project: dict[str, Any], name: str) -> int:
    return int((project.get("usage") or {}).get(name, 0))


def quotas(principal: Principal, project_id: str) -> dict[str, Quota]:
    # Imported here: the workflow steps and membership changes use the rules above only.
    from tenantry.domain.project_access import access
    from tenantry.models.governance import Quota

    project, _ = access(principal, project_id)
    resources: dict[str, dict[str, int]] = project.get("resources") or {}
    out = {}
    for name in resource_names(project):
        capacity = resources.get(name) or {}
        out[name] = Quota(
            limit=limit_of(project, name),
            usage=usage_of(project, name),
            member_limit=capacity.get("member_capacity") if name != "members" else None,
            member_usage={},
        )
    return out
