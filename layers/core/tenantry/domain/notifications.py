"""A project's notifications (Klustr console style): whoever may post to a project posts the
latest word on a (topic, topic id); the project's members read the active ones.

- The latest post of a pair replaces the previous one (one item per pair). `resolved`
  takes it out of the active list; every notification expires (`expires_at`: the post's
  `expires_in_seconds`, else the stack's NotificationLifetimeSeconds) and an expired one is
  not listed, even before DynamoDB's TTL deletes it.
- Who posts: the project's owner and admins, platform admins, and bots with permission,
  which means a bot holding `Admin` on at least one of the project's environments (a
  bot is never a member; an environment's Admin is the role that lets it change things
  in the project, deployments included). Anyone else gets 404 (they do not see the
  project) or, a member without a manager's role, 403. Not while the project is being
  deleted or is (409).
- Tenantry posts its own topics (`project`, `deployment`, `quota`: tenantry.domain.notices)
  with source `tenantry`; nobody else may post those topics or claim that source (403).
- Who reads: the project's members (any role) and platform admins. A deleted project has
  no active notifications.
"""

from __future__ import annotations

import re
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import environments as env_store
from tenantry.dal import notifications as store
from tenantry.dal import projects as project_store
from tenantry.domain import notices, project_access
from tenantry.domain.env_permissions import permission_id
from tenantry.domain.membership_rules import MANAGER_ROLES
from tenantry.errors import Forbidden, InvalidTransition, NotFound
from tenantry.models.notifications import Notification, NotificationPost
from tenantry.models.principal import Principal
from tenantry.models.project_fields import PROJECT_ID_PATTERN

CLOSED = ("deleting", "deleted")  # a project being deleted, or gone, takes no posts


def to_model(item: dict[str, Any]) -> Notification:
    fields = store.strip(item)
    return Notification.model_validate({**fields, "expires_at": fields["valid_until"]})


def post(
    principal: Principal, project_id: str, topic: str, topic_id: str, body: NotificationPost
) -> tuple[Notification, bool]:
    """The pair's new latest notification, and whether the pair had none (created)."""
    project = _poster(principal, project_id)
    if project["status"] in CLOSED:
        raise InvalidTransition(
            f"the project is {project['status']}; it takes no notifications",
            extra={"current_status": project["status"]},
        )
    if topic in notices.TOPICS:
        raise Forbidden(
            f"topic {topic!r} is Tenantry's own: only Tenantry posts "
            + ", ".join(repr(t) for t in notices.TOPICS)
        )
    if body.source is not None and body.source.lower() == notices.SOURCE:
        raise Forbidden(f"source {notices.SOURCE!r} is Tenantry's own")
    item = notices.build(
        project_id,
        topic,
        topic_id,
        title=body.title,
        description=body.description,
        url=body.url,
        level=body.level,
        status=body.status,
        source=body.source,
        posted_by=f"{principal.kind}:{principal.id}",
        now=now_iso(),
        lifetime_seconds=body.expires_in_seconds,
    )
    stored = store.post(item)
    return to_model(stored), int(stored["version"]) == 1


def _poster(principal: Principal, project_id: str) -> dict[str, Any]:
    """The project, if the caller may post to it: 404 when they may not see it, 403 when
    they see it without a manager's role."""
    if principal.kind == "bot" and not principal.is_admin:
        return _bot_poster(principal, project_id)
    project, role = project_access.access(principal, project_id)
    if not (principal.is_admin or role in MANAGER_ROLES):
        raise Forbidden(
            "only the project's owner and admins, platform admins and bots that are an "
            "Admin of one of its environments post notifications"
        )
    return project


def _bot_poster(principal: Principal, project_id: str) -> dict[str, Any]:
    """A bot posts where it holds Admin on one of the project's environments; anywhere else
    the project is not the bot's to see (404). Three reads whatever the table holds: the
    project, its environments (at most MAX_ENVIRONMENTS, one Query) and the bot's
    permissions on them (one BatchGetItem)."""
    missing = NotFound(f"project {project_id!r} not found")
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise missing
    project = project_store.get(project_id)
    if project is None:
        raise missing
    env_ids = [e["id"] for e in env_store.all_of_project(project_id)]
    held = env_store.permissions_of(
        project_id, env_ids, [permission_id(e, "bot", principal.id) for e in env_ids]
    )
    if not any(p.get("role") == "Admin" for p in held):
        raise missing
    return project


def list_active(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Notification], dict[str, Any] | None]:
    """The project's active, unexpired notifications (the latest of each pair), latest
    expiry first (newest first when they share the default lifetime)."""
    project, _ = project_access.access(principal, project_id)
    if project["status"] == "deleted":
        return [], None
    items, last = store.page_active(project_id, now_iso(), limit, start_key)
    return [to_model(i) for i in items], last
