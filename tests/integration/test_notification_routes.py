"""A project's notifications through the API (API.md, "Console extras": notifications):
the latest post of a (topic, topic id) replaces the previous one, resolved and expired
ones drop out of the active list, who may post and read, what a post may say, Tenantry's
own topics, the TTL attribute, and paging by Query.

Tenantry's own notifications through the real workflows: tests/workflows/
test_notifications_workflow.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    create_active,
    list_all,
    make_bot,
    make_user,
    tampered_cursors,
    wait_status,
)

Wait = Callable[..., Any]
NOTIFICATION_FIELDS = {
    "id",
    "project_id",
    "topic",
    "topic_id",
    "title",
    "description",
    "url",
    "level",
    "status",
    "source",
    "posted_by",
    "created_at",
    "updated_at",
    "expires_at",
    "version",
}


@dataclass
class World:
    api: Api
    admin: str
    owner: str
    pid: str
    padmin: str
    member: str
    viewer: str
    outsider: str

    def post(self, topic: str, topic_id: str, token: str | None = None, **body: Any) -> Any:
        body.setdefault("title", f"{topic} {topic_id}")
        return self.api.post(
            f"/projects/{self.pid}/notifications/{topic}/{topic_id}",
            token=token or self.owner,
            json=body,
        )

    def posted(self, topic: str, topic_id: str, status: int = 201, **body: Any) -> dict[str, Any]:
        r = self.post(topic, topic_id, **body)
        assert r.status == status, r
        assert r.headers["etag"] == f'"{r.json()["version"]}"', r
        return dict(r.json())

    def active(self, token: str | None = None) -> list[dict[str, Any]]:
        return list_all(self.api, token or self.owner, f"/projects/{self.pid}/notifications")

    def pairs(self) -> list[tuple[str, str]]:
        return [(n["topic"], n["topic_id"]) for n in self.active()]


@pytest.fixture
def world(api: Api, admin_token: str, wait_until: Wait) -> World:
    owner = make_user(api, admin_token, "Owner")[1]
    pid = create_active(api, owner, wait_until, name="Notified", environments=["dev"])["id"]
    tokens = {}
    for role in ("admin", "member", "viewer"):
        user, tokens[role] = make_user(api, admin_token, role.title())
        body = {"project_id": pid, "action": "enroll", "user_id": user["id"], "role": role}
        assert api.post("/memberships", token=owner, json=body).status == 201
    outsider = make_user(api, admin_token, "Outsider")[1]
    return World(
        api,
        admin_token,
        owner,
        pid,
        tokens["admin"],
        tokens["member"],
        tokens["viewer"],
        outsider,
    )


def _iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _stored(api: Api, pid: str, topic: str, topic_id: str) -> dict[str, Any] | None:
    ddb = api.stack.client("dynamodb")
    table = api.stack.table_names()["TenantryTable"]
    key = {"PK": {"S": f"PROJECT#{pid}"}, "SK": {"S": f"NOTIF#{topic}#{topic_id}"}}
    item = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return dict(item) if item else None


# --- the latest per pair ---------------------------------------------------------------------


def test_a_post_is_listed_and_the_latest_per_pair_replaces_the_previous(world: World) -> None:
    first = world.posted(
        "build",
        "ci-1",
        title="Build 1 running",
        description="on main",
        url="https://ci.example.com/builds/1",
        level="info",
        source="ci",
    )
    assert set(first) == NOTIFICATION_FIELDS
    assert (first["topic"], first["topic_id"], first["status"], first["version"]) == (
        "build",
        "ci-1",
        "active",
        1,
    )
    assert first["posted_by"].startswith("user:") and first["source"] == "ci"
    assert first["created_at"] == first["updated_at"]
    lifetime = _iso(first["expires_at"]) - _iso(first["updated_at"])
    assert lifetime == timedelta(days=7)  # the stack's default NotificationLifetimeSeconds

    second = world.posted("build", "ci-1", status=200, title="Build 1 failed", level="error")
    assert second["id"] == first["id"] and second["version"] == 2
    assert second["created_at"] == first["created_at"] < second["updated_at"]
    # replaced whole: what the second post left out is gone
    assert (second["description"], second["url"], second["source"]) == ("", None, None)

    world.posted("build", "ci-2", title="Build 2 running")
    listed = world.active()
    assert [(n["topic_id"], n["title"], n["level"]) for n in listed] == [
        ("ci-2", "Build 2 running", "info"),  # the newest first
        ("ci-1", "Build 1 failed", "error"),
    ]
    assert listed[1] == second


def test_a_resolved_post_leaves_the_active_list(world: World) -> None:
    world.posted("incident", "db")
    world.posted("incident", "cache")
    r = world.post("incident", "db", title="DB is back", status="resolved", level="success")
    assert r.status == 200 and r.json()["status"] == "resolved", r
    assert world.pairs() == [("incident", "cache")]
    stored = _stored(world.api, world.pid, "incident", "db")
    assert stored is not None and "GSI1PK" not in stored  # out of the list's partition
    r = world.post("incident", "db", title="DB is down again", level="error")
    assert r.status == 200 and r.json()["version"] == 3, r
    assert set(world.pairs()) == {("incident", "cache"), ("incident", "db")}


def test_an_expired_one_is_not_listed_before_the_ttl_removes_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.clock import now_iso
    from tenantry.domain import notifications

    short = world.posted("deploy", "preview-7", expires_in_seconds=60)
    assert _iso(short["expires_at"]) - _iso(short["updated_at"]) == timedelta(seconds=60)
    world.posted("deploy", "preview-8")
    stored = _stored(world.api, world.pid, "deploy", "preview-7")
    assert stored is not None
    # the TTL attribute: epoch seconds (a Number, which DynamoDB's TTL reads), the moment
    # the notification stops being listed
    assert "N" in stored["expires_at"]
    assert int(stored["expires_at"]["N"]) == int(-(-_iso(short["expires_at"]).timestamp() // 1))

    later = now_iso(timedelta(seconds=61))
    monkeypatch.setattr(notifications, "now_iso", lambda: later)
    assert world.pairs() == [("deploy", "preview-8")]  # still in the table, not listed
    assert _stored(world.api, world.pid, "deploy", "preview-7") is not None


def test_the_list_pages_by_query_and_its_cursor_is_its_own(world: World) -> None:
    for n in range(5):
        world.posted("job", f"run-{n}")
    path = f"/projects/{world.pid}/notifications"
    r = world.api.get(path, token=world.viewer, query={"limit": 2})
    assert r.status == 200, r
    page = r.json()
    assert [n["topic_id"] for n in page["items"]] == ["run-4", "run-3"]
    seen = [n["topic_id"] for n in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        r = world.api.get(path, token=world.viewer, query={"limit": 2, "cursor": cursor})
        assert r.status == 200, r
        seen += [n["topic_id"] for n in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    assert seen == [f"run-{n}" for n in (4, 3, 2, 1, 0)]
    # a cursor of this list is no cursor of another list, nor an edited one
    r = world.api.get(
        f"/projects/{world.pid}/environments",
        token=world.owner,
        query={"cursor": page["next_cursor"]},
    )
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    for _, tampered in tampered_cursors(page["next_cursor"]):
        r = world.api.get(path, token=world.owner, query={"cursor": tampered})
        assert_problem(r, 400, "bad-request", loc=["query", "cursor"])


def test_a_cursor_left_behind_by_expiry_ends_the_list(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read newest expiry first from now on: a cursor whose place has expired since (the
    range's end moved past it) has nothing after it, rather than starting over."""
    from tenantry.clock import now_iso
    from tenantry.domain import notifications

    for n, lifetime in enumerate((60, 61, 3600)):
        world.posted("job", f"short-{n}", expires_in_seconds=lifetime)
    path = f"/projects/{world.pid}/notifications"
    r = world.api.get(path, token=world.owner, query={"limit": 2})
    cursor = r.json()["next_cursor"]
    assert cursor and [n["topic_id"] for n in r.json()["items"]] == ["short-2", "short-1"]
    later = now_iso(timedelta(seconds=62))  # short-0 and short-1 have expired, not short-2
    monkeypatch.setattr(notifications, "now_iso", lambda: later)
    r = world.api.get(path, token=world.owner, query={"limit": 2, "cursor": cursor})
    assert r.status == 200 and r.json() == {"items": [], "next_cursor": None}, r
    assert world.pairs() == [("job", "short-2")]  # (which a fresh read still lists)


def test_the_list_reads_only_active_unexpired_ones_in_one_query(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The active list is its own partition, read from now on: resolved and expired
    notifications are never read, so a page is never emptied by them. A request costs the
    access check and one Query, a post the access check and one UpdateItem."""
    from tenantry.clock import now_iso
    from tenantry.domain import notifications
    from tests.integration.lists import reads
    from tests.integration.test_dynamodb_cost import counted

    for n in range(4):
        world.posted("old", f"r{n}")
        assert world.post("old", f"r{n}", title="over", status="resolved").status == 200
    for n in range(3):
        world.posted("short", f"e{n}", expires_in_seconds=60)
    live = {("live", f"a{n}") for n in range(2)}
    for _, topic_id in live:
        world.posted("live", topic_id, expires_in_seconds=3600)
    later = now_iso(timedelta(seconds=61))
    monkeypatch.setattr(notifications, "now_iso", lambda: later)
    assert world.api.get("/auth/me", token=world.viewer).status == 200  # token use written

    with reads(world.api) as found:
        r = world.api.get(f"/projects/{world.pid}/notifications", token=world.viewer)
    assert r.status == 200 and {(n["topic"], n["topic_id"]) for n in r.json()["items"]} == live
    (query,) = found.queries()
    assert {(i["topic"], i["topic_id"]) for i in query.items} == live  # nothing else read
    assert query.params["IndexName"] == "GSI1" and query.params["ScanIndexForward"] is False

    with counted(world.api) as calls:
        world.api.get(f"/projects/{world.pid}/notifications", token=world.viewer)
    assert calls.ops("fn") == ["BatchGetItem", "Query"], calls.calls
    assert world.api.get("/auth/me", token=world.owner).status == 200
    with counted(world.api) as calls:
        world.posted("live", "a9")
    assert calls.ops("fn") == ["BatchGetItem", "UpdateItem"], calls.calls


# --- who ------------------------------------------------------------------------------------------


def test_who_may_post_and_read(world: World, api: Api, admin_token: str) -> None:
    assert world.post("build", "by-owner").status == 201
    assert world.post("build", "by-padmin", token=world.padmin).status == 201
    assert world.post("build", "by-admin", token=world.admin).status == 201
    assert_problem(world.post("build", "by-member", token=world.member), 403, "forbidden")
    assert_problem(world.post("build", "by-viewer", token=world.viewer), 403, "forbidden")
    assert_problem(world.post("build", "by-outsider", token=world.outsider), 404, "not-found")
    for token in (world.owner, world.padmin, world.member, world.viewer, world.admin):
        assert {n["topic_id"] for n in world.active(token)} == {
            "by-owner",
            "by-padmin",
            "by-admin",
        }
    path = f"/projects/{world.pid}/notifications"
    assert_problem(api.get(path, token=world.outsider), 404, "not-found")


def test_bots_post_with_admin_on_one_of_the_projects_environments(
    world: World, api: Api, admin_token: str
) -> None:
    (env,) = list_all(api, world.owner, f"/projects/{world.pid}/environments")
    perms = f"/projects/{world.pid}/environments/{env['id']}/permissions"
    bots = {}
    for name, role in (("admin-bot", "Admin"), ("user-bot", "User"), ("no-role-bot", None)):
        bot, bots[name] = make_bot(api, admin_token, name)
        if role:
            r = api.post(perms, token=world.owner, json={"bot_id": bot["id"], "role": role})
            assert r.status == 201, r
    r = world.post("release", "v1", token=bots["admin-bot"], source="release-bot")
    assert r.status == 201, r
    assert r.json()["posted_by"].startswith("bot:")
    # a bot without Admin there does not see the project at all
    assert_problem(world.post("release", "v2", token=bots["user-bot"]), 404, "not-found")
    assert_problem(world.post("release", "v3", token=bots["no-role-bot"]), 404, "not-found")
    # reading is for the project's members: a bot is never one
    path = f"/projects/{world.pid}/notifications"
    assert_problem(api.get(path, token=bots["admin-bot"]), 404, "not-found")
    # a revoked Admin posts no more
    admin_bot_id = api.get("/auth/me", token=bots["admin-bot"]).json()["id"]
    (perm,) = [p for p in list_all(api, world.owner, perms) if p.get("bot_id") == admin_bot_id]
    assert api.delete(f"{perms}/{perm['id']}", token=world.owner).status == 204
    assert_problem(world.post("release", "v4", token=bots["admin-bot"]), 404, "not-found")


def test_a_missing_project_is_404_for_everyone(world: World, api: Api) -> None:
    for token in (world.admin, world.owner):
        r = api.post(
            "/projects/no-such-project/notifications/build/1", token=token, json={"title": "x"}
        )
        assert_problem(r, 404, "not-found")
        assert_problem(api.get("/projects/no-such-project/notifications", token=token), 404)


def test_tenantrys_own_topics_and_source_are_its_own(world: World) -> None:
    for topic in ("project", "deployment", "quota"):
        for token in (world.owner, world.admin):
            r = world.post(topic, world.pid, token=token)
            body = assert_problem(r, 403, "forbidden")
            assert "Tenantry's own" in body["detail"], body
    for source in ("tenantry", "Tenantry"):
        assert_problem(world.post("build", "x", source=source), 403, "forbidden")
    assert world.active() == []


def test_a_project_being_deleted_takes_no_posts_and_a_deleted_one_lists_none(
    world: World, api: Api, wait_until: Wait
) -> None:
    world.posted("build", "before")
    r = api.delete(f"/projects/{world.pid}", token=world.owner)
    assert r.status == 202, r
    wait_status(api, world.owner, world.pid, "deleted", wait_until)
    assert_problem(world.post("build", "after"), 409, "invalid-transition")
    assert world.active() == []


# --- what a post may say ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "topic_id", "body", "loc"),
    [
        ("Build", "1", {"title": "x"}, ["path", "topic"]),
        ("build.x", "1", {"title": "x"}, ["path", "topic"]),
        ("b" * 41, "1", {"title": "x"}, ["path", "topic"]),
        ("build", ".hidden", {"title": "x"}, ["path", "topicId"]),
        ("build", "a" * 129, {"title": "x"}, ["path", "topicId"]),
        ("build", "1", {}, ["body", "title"]),
        ("build", "1", {"title": ""}, ["body", "title"]),
        ("build", "1", {"title": "x" * 201}, ["body", "title"]),
        ("build", "1", {"title": "x", "description": "d" * 4001}, ["body", "description"]),
        ("build", "1", {"title": "x", "level": "critical"}, ["body", "level"]),
        ("build", "1", {"title": "x", "status": "closed"}, ["body", "status"]),
        ("build", "1", {"title": "x", "url": "http://ci.example.com"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": "javascript:alert(1)"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": "//evil.example.com/x"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": "/\\evil.example.com"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": "https://ci.example.com/a b"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": "https://"}, ["body", "url"]),
        ("build", "1", {"title": "x", "url": None}, ["body", "url"]),
        ("build", "1", {"title": "x", "source": "-ci"}, ["body", "source"]),
        ("build", "1", {"title": "x", "expires_in_seconds": 59}, ["body", "expires_in_seconds"]),
        (
            "build",
            "1",
            {"title": "x", "expires_in_seconds": 30 * 24 * 3600 + 1},
            ["body", "expires_in_seconds"],
        ),
        ("build", "1", {"title": "x", "expires_in_seconds": "60"}, ["body", "expires_in_seconds"]),
        ("build", "1", {"title": "x", "severity": "high"}, ["body", "severity"]),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    world: World, topic: str, topic_id: str, body: dict[str, Any], loc: list[str]
) -> None:
    r = world.api.post(
        f"/projects/{world.pid}/notifications/{topic}/{topic_id}", token=world.owner, json=body
    )
    assert_validation(r, loc)
    assert world.active() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example.com",
        "https://ci.example.com:8443/builds/1?tab=logs#L10",
        "/projects/notified/deployments",
        "/",
    ],
)
def test_urls_are_https_or_paths_of_the_console(world: World, url: str) -> None:
    assert world.posted("build", "1", url=url)["url"] == url


def test_bad_queries_are_422(world: World, api: Api) -> None:
    path = f"/projects/{world.pid}/notifications"
    for limit in (0, 101):
        assert_validation(
            api.get(path, token=world.owner, query={"limit": limit}), ["query", "limit"]
        )


# --- idempotency --------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_answers_as_the_first(world: World, api: Api) -> None:
    path = f"/projects/{world.pid}/notifications/build/ci-9"
    key = {"Idempotency-Key": "retry-ci-9"}
    first = api.post(path, token=world.owner, json={"title": "Build 9"}, headers=key)
    again = api.post(path, token=world.owner, json={"title": "Build 9"}, headers=key)
    assert first.status == again.status == 201, (first, again)
    assert again.json() == first.json()
    assert world.active()[0]["version"] == 1  # written once
    other_body = api.post(path, token=world.owner, json={"title": "Build 10"}, headers=key)
    assert_validation(other_body, ["header", "Idempotency-Key"])
    other_pair = api.post(
        f"/projects/{world.pid}/notifications/build/ci-10",
        token=world.owner,
        json={"title": "Build 9"},
        headers=key,
    )
    assert_validation(other_pair, ["header", "Idempotency-Key"])


# --- the lifetime is the stack's ----------------------------------------------------------------


class TestConfiguredLifetime:
    @pytest.fixture
    def stack_parameters(self) -> dict[str, str]:
        return {"NotificationLifetimeSeconds": "3600"}

    def test_the_default_lifetime_is_the_template_parameter(self, world: World) -> None:
        posted = world.posted("build", "1")
        assert _iso(posted["expires_at"]) - _iso(posted["updated_at"]) == timedelta(hours=1)
        longer = world.posted("build", "2", expires_in_seconds=7200)
        assert _iso(longer["expires_at"]) - _iso(longer["updated_at"]) == timedelta(hours=2)
