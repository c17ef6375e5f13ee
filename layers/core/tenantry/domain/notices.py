"""Tenantry's own notifications: what it posts to a project when something goes wrong
there, and clears when the condition does. Each is an op of the transaction that makes
the change it reports (or, the reconciler's, of the write that records it), so a
notification never says more or less than the change committed:

| topic        | topic id         | posted when                                  | cleared when                                |
|--------------|------------------|----------------------------------------------|---------------------------------------------|
| `project`    | the project's id | provisioning or deprovisioning failed        | provisioning succeeds (the project active)  |
| `deployment` | the deployment's | a task failed: the deployment is in `Error`  | a task succeeds (Running, Uninstalled) or the deployment is deleted |
| `quota`      | the resource     | usage reaches NEAR_LIMIT of the limit        | usage falls below it (or the limit rises)   |

Clearing removes the pair's item (a Delete of nothing changes nothing), so a clear costs no
read. These topics are Tenantry's: nobody else may post them (tenantry.domain
.notifications), so what they say is always Tenantry's word. Also what builds a
notification item for any poster; no pydantic here (the workflow steps import it).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry.dal import notifications as store
from tenantry.domain import quotas
from tenantry.settings import get_settings

SOURCE = "tenantry"
POSTED_BY = "tenantry"
PROJECT, DEPLOYMENT, QUOTA = "project", "deployment", "quota"
TOPICS = (PROJECT, DEPLOYMENT, QUOTA)
# A quota is near its limit from this share of it on (8 of 10 members, 1 of 1).
NEAR_LIMIT = 0.8
ID_NAMESPACE = uuid.UUID("5e7d2c94-1b3a-4f6e-9c8d-7a2b4e6f0d13")
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def notification_id(project_id: str, topic: str, topic_id: str) -> str:
    """Stable per (project, topic, topic id): the pair's latest notification is one resource."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{project_id}/{topic}/{topic_id}"))


def build(
    project_id: str,
    topic: str,
    topic_id: str,
    *,
    title: str,
    description: str,
    level: str,
    status: str,
    posted_by: str,
    now: str,
    url: str | None = None,
    source: str | None = None,
    lifetime_seconds: int | None = None,
) -> dict[str, Any]:
    """A notification as stored: valid for `lifetime_seconds` (default: the stack's
    NotificationLifetimeSeconds) from `now`; `expires_at` is the table's TTL attribute
    (epoch seconds), `valid_until` the same moment as the API shows it."""
    lifetime = lifetime_seconds or get_settings().notification_lifetime_seconds
    until = datetime.strptime(now, ISO).replace(tzinfo=UTC) + timedelta(seconds=lifetime)
    return {
        "id": notification_id(project_id, topic, topic_id),
        "project_id": project_id,
        "topic": topic,
        "topic_id": topic_id,
        "title": title,
        "description": description,
        "url": url,
        "level": level,
        "status": status,
        "source": source,
        "posted_by": posted_by,
        "updated_at": now,
        "valid_until": until.strftime(ISO),
        "expires_at": math.ceil(until.timestamp()),
    }


def _post(project_id: str, topic: str, topic_id: str, now: str, **fields: Any) -> dict[str, Any]:
    return store.post_op(
        build(
            project_id,
            topic,
            topic_id,
            status="active",
            posted_by=POSTED_BY,
            source=SOURCE,
            now=now,
            **fields,
        )
    )


# --- projects -----------------------------------------------------------------------------------

FAILED_TITLE = {"create": "Provisioning failed", "delete": "Deletion failed"}


def project_failed(project_id: str, operation: str, reason: str, now: str) -> list[dict[str, Any]]:
    """The project went to `failed`: why, and where to look."""
    return [
        _post(
            project_id,
            PROJECT,
            project_id,
            now,
            title=FAILED_TITLE.get(operation, "The project failed"),
            description=reason,
            level="error",
            url=f"/projects/{project_id}",
        )
    ]


def project_recovered(project_id: str) -> list[dict[str, Any]]:
    return [store.clear_op(project_id, PROJECT, project_id)]


# --- deployments --------------------------------------------------------------------------------


def deployment_failed(
    deployment: dict[str, Any], reason: str | None, now: str
) -> list[dict[str, Any]]:
    """A task failed and left the deployment in `Error`."""
    pid = deployment["project_id"]
    return [
        _post(
            pid,
            DEPLOYMENT,
            deployment["id"],
            now,
            title=f"Deployment {deployment['release_name']} failed",
            description=reason or "a task of the deployment failed",
            level="error",
            url=f"/projects/{pid}/deployments/{deployment['id']}",
        )
    ]


def deployment_cleared(project_id: str, deployment_id: str) -> list[dict[str, Any]]:
    return [store.clear_op(project_id, DEPLOYMENT, deployment_id)]


# --- quotas -------------------------------------------------------------------------------------


def near_limit(usage: int, limit: int | None) -> bool:
    return limit is not None and usage >= math.ceil(NEAR_LIMIT * limit)


def quota_changes(
    before: dict[str, Any] | None, after: dict[str, Any], now: str
) -> list[dict[str, Any]]:
    """The ops that keep the project's quota notifications true when it goes from `before`
    (None: a new project) to `after`: for each resource whose usage or limit changed, the
    notification posted again with the new numbers while near the limit, cleared when it
    no longer is. Nothing for a resource that did not change."""
    ops: list[dict[str, Any]] = []
    pid = after["id"]
    names = set(quotas.resource_names(after)) | set(quotas.resource_names(before or {}))
    for name in sorted(names):
        now_at = (quotas.usage_of(after, name), quotas.limit_of(after, name))
        was_at = (quotas.usage_of(before, name), quotas.limit_of(before, name)) if before else None
        if now_at == was_at:
            continue
        if near_limit(*now_at):
            usage, limit = now_at
            ops.append(
                _post(
                    pid,
                    QUOTA,
                    name,
                    now,
                    title=f"Quota {name} near its limit",
                    description=f"{usage} of {limit} {name} used"
                    + ("; the limit is reached" if limit is not None and usage >= limit else ""),
                    level="warning",
                    url=f"/projects/{pid}/quotas",
                )
            )
        elif was_at is not None and near_limit(*was_at):
            ops.append(store.clear_op(pid, QUOTA, name))
    return ops


def limits_changed(
    project: dict[str, Any], changes: dict[str, Any], remove: tuple[str, ...], now: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The quota notifications after a change of the project's limits (max_members,
    resources), as (the ops, what the write must find unchanged for them to be true: the
    usage they were made from, so a membership change meanwhile fails it, 409, retry)."""
    after = {k: v for k, v in {**project, **changes}.items() if k not in remove}
    ops = quota_changes(project, after, now)
    return ops, ({"usage": project.get("usage")} if ops else None)
