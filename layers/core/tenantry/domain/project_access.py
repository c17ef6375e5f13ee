"""Who sees a project, and what every project-scoped change shares: the actor a history
entry names, the version checks of a conditional write (If-Match) and the retry of a
change that lost a race.

Apart from tenantry.domain.projects so that the modules that only check access
(environments, deployments, resources, gateway, apps, notifications, ...) do not import
the projects module's whole graph (applications, memberships, governance models, list
selectors, Git provider, registry) at every cold start of their functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from tenantry.dal import projects as store
from tenantry.domain.membership_rules import COUNTED
from tenantry.errors import ChangedMeanwhile, NotFound, PreconditionFailed, TenantryError
from tenantry.models.principal import Principal
from tenantry.models.project_fields import PROJECT_ID_PATTERN

VISIBLE_MEMBER_STATES = COUNTED

P = ParamSpec("P")
R = TypeVar("R")
RACE_ATTEMPTS = 3


def retried_when_raced(change: Callable[P, R]) -> Callable[P, R]:
    """A change without If-Match applies to whatever version is current: when its write,
    pinned to the version it read, loses a race with another writer (a workflow step
    finishing, say), read and decide again. Nothing was written by the lost attempt."""

    @functools.wraps(change)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(RACE_ATTEMPTS - 1):
            try:
                return change(*args, **kwargs)
            except ChangedMeanwhile:
                continue  # nothing was written: read and decide again
        return change(*args, **kwargs)

    return retried


def actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def access(principal: Principal, project_id: str) -> tuple[dict[str, Any], str | None]:
    """The project and the caller's project role. 404 when the caller may not see it, so
    that nobody learns which ids exist in other tenants. One read: project and member item
    in one strongly consistent BatchGetItem (dal.projects.get_with_member says why)."""
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise NotFound(f"project {project_id!r} not found")
    project, member = store.get_with_member(project_id, principal.id)
    if project is None:
        raise NotFound(f"project {project_id!r} not found")
    if principal.is_admin:
        return project, member["role"] if member else None
    if not member or member.get("state") not in VISIBLE_MEMBER_STATES:
        raise NotFound(f"project {project_id!r} not found")
    return project, member["role"]


def check_version(item: dict[str, Any], expected: int | None, what: str) -> None:
    if expected is not None and int(item["version"]) != expected:
        raise PreconditionFailed(f"the {what} is at version {item['version']}, not {expected}")


def changed_or_gone(
    current: dict[str, Any] | None, what: str, read_version: int, expected: int | None
) -> TenantryError | None:
    """Why a write conditioned on the version read failed, if it was that: the item is
    gone (404), or at another version: 412 when the client's If-Match named one, else
    ChangedMeanwhile (the route reads and decides again)."""
    if current is None:
        return NotFound(f"{what} not found")
    if int(current["version"]) != read_version:
        if expected is not None:
            return PreconditionFailed(
                f"the {what} is at version {current['version']}, not {expected}"
            )
        return ChangedMeanwhile(f"the {what} changed meanwhile; retry")
    return None
