"""Notification routes: a project's active notifications, and posting the latest one of a
(topic, topic id)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from tenantry import idempotency
from tenantry.domain import notifications
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    Limit,
    ProjectIdPath,
    caller,
    lambda_handler_for,
    make_app,
    paged,
    respond,
    responses,
)
from tenantry.models.common import Page
from tenantry.models.notifications import (
    TOPIC_ID_PATTERN,
    TOPIC_PATTERN,
    Notification,
    NotificationPost,
)

app = make_app()

TopicPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=TOPIC_PATTERN,
        description="What the notification is about: a slug. `project`, `deployment` and "
        "`quota` are Tenantry's own (403 for anyone else)",
    ),
]
TopicIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=TOPIC_ID_PATTERN,
        description="Which one of the topic: posts with the same topic and topic id converge "
        "on one latest notification",
    ),
]


@app.get(
    "/projects/<projectId>/notifications",
    tags=["notifications"],
    summary="A project's active notifications (members, platform admins)",
    description="The latest notification of each (topic, topic_id) that is `active` and not "
    "expired, latest `expires_at` first (newest first when they share the default "
    "lifetime). Resolved and expired ones are not listed; a deleted project has none.",
    responses=responses(200, Page[Notification], 404),
)
def list_notifications(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None
) -> Page[Notification]:
    principal = caller(app)
    return paged(
        Notification,
        cursor,
        ("notifications", projectId),
        lambda key: notifications.list_active(principal, projectId, limit, key),
    )


_CREATED = responses(201, Notification, 403, 404, 409, headers=("ETag",), description="Created")
_REPLACED = responses(200, Notification, headers=("ETag",), description="Replaced")


@app.post(
    "/projects/<projectId>/notifications/<topic>/<topicId>",
    tags=["notifications"],
    summary="Post the latest notification of a topic id (project owner and admins, "
    "platform admins, bots with Admin on one of the project's environments)",
    description="It replaces the pair's previous notification whole: 201 when the pair had "
    "none, 200 when it replaced one. `status: resolved` takes it out of the active list. "
    "It is listed until `expires_at` (`expires_in_seconds` from now, default the "
    "platform's notification lifetime) unless posted again. 409 while the project is "
    "being deleted. The topics `project`, `deployment` and `quota`, and the source "
    "`tenantry`, are Tenantry's own: 403.",
    responses={**_CREATED, 200: _REPLACED[200]},
)
def post_notification(
    projectId: ProjectIdPath,
    topic: TopicPath,
    topicId: TopicIdPath,
    body: NotificationPost,
    idempotency_key: IdempotencyKey = None,
) -> Response[Notification]:
    principal = caller(app)

    def create() -> Response[Notification]:
        notification, created = notifications.post(principal, projectId, topic, topicId, body)
        return respond(notification, 201 if created else 200, version=notification.version)

    # The path names the pair, so it counts as part of the body: the same key for another
    # project or pair is 422, as another body is.
    request = {
        "path": {"projectId": projectId, "topic": topic, "topicId": topicId},
        "body": body.model_dump(mode="json"),
    }
    return idempotency.once(app, idempotency_key, principal.id, request, create)


lambda_handler = lambda_handler_for(app)
