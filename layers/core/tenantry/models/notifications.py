"""Notifications of a project (Klustr console style): the latest message per (topic,
topic id), with a level and a status, until it is resolved or expires."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Input, Int, Omittable, Output

Level = Literal["info", "success", "warning", "error"]
NotificationStatus = Literal["active", "resolved"]

# Path parameters. A topic is a short slug (no `#`: dal/keys.py joins it to the topic id);
# a topic id is made of URL unreserved characters, which API Gateway passes unchanged, and
# does not start with a dot (no `.` or `..` segment).
TOPIC_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
TOPIC_ID_PATTERN = r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$"
# Where a notification points: an https URL or a path on the console's own origin, in ASCII
# (percent-encode the rest). No spaces or backslashes anywhere, and a path does not start
# with `//` or `/\`, which browsers read as another host. The same in every regex dialect.
URL_PATTERN = (
    r"^(https://[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?([/?#][!-\[\]-~]*)?"
    r"|/([!-.0-\[\]-~][!-\[\]-~]*)?)$"
)
MAX_URL = 2048
# Who posted, as the poster names itself (a CI system, a tool); `tenantry` is Tenantry's own.
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,63}$"
# How long a notification lives without a new post (seconds): at least a minute, at most 30
# days; the default is the stack's NotificationLifetimeSeconds.
MIN_LIFETIME, MAX_LIFETIME = 60, 30 * 24 * 3600

Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=4000)]
Url = Annotated[str, StringConstraints(max_length=MAX_URL, pattern=URL_PATTERN)]
Source = Annotated[str, StringConstraints(max_length=64, pattern=SOURCE_PATTERN)]


class NotificationPost(Input):
    """The body of POST /projects/{projectId}/notifications/{topic}/{topicId}: the pair's
    new latest notification, replacing the previous one whole."""

    title: Title
    description: Description = Field("", description="Plain text, up to 4,000 characters")
    url: Omittable[Url] = Field(
        None,
        description="An https URL, or a path on the console's origin (`/projects/...`); "
        "ASCII, no spaces or backslashes",
    )
    level: Level = "info"
    status: NotificationStatus = Field(
        "active", description="`resolved` takes the pair out of the active list"
    )
    source: Omittable[Source] = Field(
        None, description="Who posts, as it names itself (`tenantry` is Tenantry's own)"
    )
    expires_in_seconds: Omittable[Int(MIN_LIFETIME, MAX_LIFETIME)] = Field(
        None,
        description="How long it stays listed without a new post; default the platform's "
        "notification lifetime (7 days unless configured)",
    )


class Notification(Output):
    id: str = Field(description="Stable per (project, topic, topic_id)")
    project_id: str
    topic: str
    topic_id: str
    title: str
    description: str
    url: str | None = None
    level: Level
    status: NotificationStatus
    source: str | None = None
    posted_by: str = Field(
        description="`user:<id>` or `bot:<id>`, or `tenantry` for Tenantry's own"
    )
    created_at: str = Field(description="The pair's first post")
    updated_at: str = Field(description="This post")
    expires_at: str = Field(description="When it stops being listed (unless posted again)")
    version: int = Field(
        description="Posts of this pair since it was last cleared or expired (1: the first)"
    )
