"""Tenantry's own notifications as data (tenantry.domain.notices): what a change of a
project's usage or limits posts or clears, and what a notification item holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from tenantry.dal import table
from tenantry.domain import notices

NOW = "2026-03-01T12:00:00.000000Z"


@pytest.fixture(autouse=True)
def _table_name() -> Any:
    with mock.patch.object(table, "table_name", lambda: "t"):
        yield


def project(usage: int, max_members: int | None = None, capacity: int | None = None) -> Any:
    p: dict[str, Any] = {"id": "shop", "usage": {"members": usage}}
    if max_members is not None:
        p["max_members"] = max_members
    if capacity is not None:
        p["resources"] = {"members": {"project_capacity": capacity, "member_capacity": 1}}
    return p


def kinds(ops: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(Update|Delete, sort key) of each op."""
    out = []
    for op in ops:
        ((kind, body),) = op.items()
        out.append((kind, body["Key"]["SK"]))
    return out


def posted_description(op: dict[str, Any]) -> str:
    values = op["Update"]["ExpressionAttributeValues"]
    names = op["Update"]["ExpressionAttributeNames"]
    by_name = {names[k]: values[":" + k[1:]] for k in names if ":" + k[1:] in values}
    return str(by_name["description"])


@pytest.mark.parametrize(
    ("usage", "limit", "near"),
    [
        (7, 10, False),
        (8, 10, True),
        (10, 10, True),
        (1, 1, True),
        (0, 1, False),
        (4, 5, True),
        (3, 5, False),
        (100, None, False),
    ],
)
def test_near_the_limit_is_from_four_fifths_on(usage: int, limit: int | None, near: bool) -> None:
    assert notices.near_limit(usage, limit) is near


def test_crossing_up_posts_with_the_numbers_and_crossing_down_clears() -> None:
    up = notices.quota_changes(project(7, max_members=10), project(8, max_members=10), NOW)
    assert kinds(up) == [("Update", "NOTIF#quota#members")]
    assert posted_description(up[0]) == "8 of 10 members used"
    full = notices.quota_changes(project(9, max_members=10), project(10, max_members=10), NOW)
    assert posted_description(full[0]) == "10 of 10 members used; the limit is reached"
    # still near, fewer: posted again with the new numbers
    fewer = notices.quota_changes(project(10, max_members=10), project(9, max_members=10), NOW)
    assert posted_description(fewer[0]) == "9 of 10 members used"
    down = notices.quota_changes(project(8, max_members=10), project(7, max_members=10), NOW)
    assert kinds(down) == [("Delete", "NOTIF#quota#members")]
    # far from it either way: nothing
    assert notices.quota_changes(project(2, max_members=10), project(3, max_members=10), NOW) == []


def test_a_limit_change_posts_or_clears_and_the_lower_limit_counts() -> None:
    lowered = notices.quota_changes(project(4, max_members=20), project(4, max_members=5), NOW)
    assert posted_description(lowered[0]) == "4 of 5 members used"
    raised = notices.quota_changes(project(4, max_members=5), project(4, max_members=50), NOW)
    assert kinds(raised) == [("Delete", "NOTIF#quota#members")]
    removed = notices.quota_changes(project(4, max_members=5), project(4), NOW)
    assert kinds(removed) == [("Delete", "NOTIF#quota#members")]
    # the members quota and max_members: the lower one is the limit
    both = notices.quota_changes(project(3), project(4, max_members=50, capacity=5), NOW)
    assert posted_description(both[0]) == "4 of 5 members used"
    # nothing changed for the resource: nothing written, near or not
    same = project(9, max_members=10)
    assert notices.quota_changes(same, {**same, "description": "x"}, NOW) == []


def test_a_new_project_at_its_limit_says_so() -> None:
    ops = notices.quota_changes(None, project(1, max_members=1), NOW)
    assert posted_description(ops[0]) == "1 of 1 members used; the limit is reached"
    assert notices.quota_changes(None, project(1, max_members=50), NOW) == []


def test_limits_changed_requires_the_usage_it_was_made_from() -> None:
    ops, require = notices.limits_changed(project(8, max_members=20), {"max_members": 10}, (), NOW)
    assert kinds(ops) == [("Update", "NOTIF#quota#members")] and require == {
        "usage": {"members": 8}
    }
    ops, require = notices.limits_changed(project(8, max_members=20), {"description": "x"}, (), NOW)
    assert (ops, require) == ([], None)
    ops, _ = notices.limits_changed(project(8, max_members=10), {}, ("max_members",), NOW)
    assert kinds(ops) == [("Delete", "NOTIF#quota#members")]


def test_a_notification_item_expires_by_ttl_when_it_stops_being_valid() -> None:
    item = notices.build(
        "shop",
        "build",
        "ci-1",
        title="t",
        description="",
        level="info",
        status="active",
        posted_by="user:u1",
        now=NOW,
        lifetime_seconds=90,
    )
    assert item["valid_until"] == "2026-03-01T12:01:30.000000Z"
    until = datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)
    assert item["expires_at"] == int(until.timestamp())  # epoch seconds: DynamoDB's TTL
    assert item["id"] == notices.notification_id("shop", "build", "ci-1")
    assert item["id"] != notices.notification_id("shop", "build", "ci-2")
    assert item["id"] != notices.notification_id("other", "build", "ci-1")


def test_a_post_replaces_the_pair_whole_and_keeps_its_first_post_time() -> None:
    from tenantry.dal import notifications as store

    base = dict(
        title="t", description="", level="info", posted_by="user:u1", now=NOW, status="active"
    )
    active = store.post_op(notices.build("shop", "build", "1", url="/x", **base))["Update"]
    expression = active["UpdateExpression"]
    assert "if_not_exists(#created, :now)" in expression
    assert "if_not_exists(#v, :zero) + :one" in expression
    set_names = {active["ExpressionAttributeNames"][n] for n in active["ExpressionAttributeNames"]}
    assert {"GSI1PK", "GSI1SK", "url"} <= set_names
    assert " REMOVE " in expression  # source: not given, so gone
    resolved = store.post_op(notices.build("shop", "build", "1", **{**base, "status": "resolved"}))[
        "Update"
    ]
    removed = resolved["UpdateExpression"].split(" REMOVE ", 1)[1]
    names = resolved["ExpressionAttributeNames"]
    assert {names[n.strip()] for n in removed.split(",")} >= {"GSI1PK", "GSI1SK", "url", "source"}
