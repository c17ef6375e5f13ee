"""dal/access.py: every list reads through a declared access pattern, and a pattern's
range condition is what DynamoDB gets."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tenantry.dal import access, table
from tenantry.errors import BadRequest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "tenantry"
# Reads by key range that are not lists of the API: a project's history (its keys are the
# workflows' to change), a deletion's sweep of a project's environments (or of what one
# environment owns), and the strongly consistent read of a token owner's partition before
# rewriting it.
NOT_LISTS = {
    ("dal/history.py", "page"),
    ("dal/environments.py", "keys_under"),
    ("dal/identity.py", "owner_with_tokens"),
    ("dal/operations.py", "due"),
    ("dal/work.py", "claimable"),
    ("dal/deployments.py", "next_due"),  # a deployment's first due Pending task
    ("dal/resources.py", "syncing"),  # the scheduler's: syncs no agent answered in time
    ("dal/deployments.py", "due"),  # the scheduler's worklist
    ("dal/deployments.py", "overdue_runs"),  # the scheduler's sweep of unrecorded runs
    ("dal/deployments.py", "pending_of"),  # a deleted project's tasks to cancel
}


def _queries() -> set[tuple[str, str]]:
    """(module, enclosing top-level function) of every `table.query(...)` call."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).as_posix()
        if module in ("dal/table.py", "dal/access.py"):
            continue
        tree = ast.parse(path.read_text())
        for top in tree.body:
            for node in ast.walk(top):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "query"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "table"
                ):
                    found.add((module, getattr(top, "name", "<module>")))
    return found


def test_lists_read_only_through_declared_patterns() -> None:
    assert _queries() == NOT_LISTS


class _Client:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Items": []}


@pytest.fixture
def client() -> Any:
    fake = _Client()
    with (
        mock.patch.object(table, "client", lambda: fake),
        mock.patch.object(table, "table_name", lambda: "t"),
    ):
        yield fake


def test_a_pattern_queries_its_partition_and_prefix(client: _Client) -> None:
    access.ORG_MEMBERS.page("o1", limit=5, start_key=None)
    (call,) = client.calls
    assert "IndexName" not in call
    assert call["KeyConditionExpression"] == "#pk = :pk AND begins_with(#sk, :skp)"
    assert call["ExpressionAttributeValues"] == {":pk": "ORG#o1", ":skp": "MEMBER#"}
    assert call["Limit"] == 5


def test_a_prefix_may_be_built_from_the_lists_arguments(client: _Client) -> None:
    """An environment's permissions: the project's partition, under the environment's id."""
    access.ENV_PERMISSIONS.page("p1", "e1", limit=5, start_key=None)
    (call,) = client.calls
    assert call["ExpressionAttributeValues"] == {":pk": "PROJECT#p1", ":skp": "ENVPERM#e1#"}


def test_a_range_bound_is_required_exactly_when_declared() -> None:
    with_range = access.Pattern("r", "GSI1", lambda x: f"P#{x}", "<at>", after=lambda b: b)
    with pytest.raises(ValueError):
        with_range.page("a", limit=1, start_key=None)
    with pytest.raises(ValueError):
        access.ALL_ORGS.page(limit=1, start_key=None, bound="x")


def test_a_lower_bound_past_the_cursor_replaces_it(client: _Client) -> None:
    """The bound moves with time (unexpired = after now): a cursor left below it resumes at
    the bound (DynamoDB refuses a start key outside the key condition); one above it is
    used as given; one of another partition is still refused."""
    pattern = access.Pattern("r", "GSI1", lambda x: f"P#{x}", "<at>", after=lambda b: f"{b}#~")
    old = {"PK": "I#1", "SK": "I", "GSI1PK": "P#a", "GSI1SK": "2020#x"}
    pattern.page("a", limit=3, start_key=old, bound="2021")
    new = {**old, "GSI1SK": "2022#x"}
    pattern.page("a", limit=3, start_key=new, bound="2021")
    below, above = client.calls
    assert below["KeyConditionExpression"] == "#pk = :pk AND #sk > :ska"
    assert below["ExpressionAttributeValues"][":ska"] == "2021#~"
    assert "ExclusiveStartKey" not in below
    assert above["ExclusiveStartKey"] == new
    with pytest.raises(BadRequest):
        pattern.page("a", limit=3, start_key={**old, "GSI1PK": "P#b"}, bound="2021")


def test_read_downwards_a_cursor_below_the_bound_ends_the_list(client: _Client) -> None:
    """Newest first from now on (a project's active notifications): a cursor the moving
    bound has passed means the pages before it reached the range's end. Starting over
    would repeat them; nothing is left, and DynamoDB is not even asked."""
    pattern = access.Pattern(
        "r", "GSI1", lambda x: f"P#{x}", "<at>", after=lambda b: f"{b}#~", descending=True
    )
    old = {"PK": "I#1", "SK": "I", "GSI1PK": "P#a", "GSI1SK": "2020#x"}
    assert pattern.page("a", limit=3, start_key=old, bound="2021") == ([], None)
    assert client.calls == []
    new = {**old, "GSI1SK": "2022#x"}
    pattern.page("a", limit=3, start_key=new, bound="2021")
    (call,) = client.calls
    assert call["ScanIndexForward"] is False and call["ExclusiveStartKey"] == new
    with pytest.raises(BadRequest):
        pattern.page("a", limit=3, start_key={**old, "GSI1PK": "P#b"}, bound="2021")


def test_a_pattern_reads_backwards_on_request(client: _Client) -> None:
    access.LIVE_PROJECTS.page(limit=3, start_key=None, reverse=True)
    access.ALL_CHARTS.page(limit=3, start_key=None, reverse=True)  # newest first, reversed
    access.ALL_CHARTS.page(limit=3, start_key=None)
    assert [c["ScanIndexForward"] for c in client.calls] == [False, True, False]


def test_the_creation_order_twins_read_gsi1s_partitions_in_gsi1t(client: _Client) -> None:
    """GSI1T shares GSI1's hash key: the same partitions, sorted by GSI1TSK. A cursor of
    GSI1 (GSI1SK) is no cursor of GSI1T, and the other way round."""
    access.LIVE_PROJECTS_BY_CREATED.page(limit=2, start_key=None)
    access.USER_CURRENT_PROJECTS_BY_CREATED.page("u1", limit=2, start_key=None, reverse=True)
    live, mine = client.calls
    for call, partition in ((live, "PROJECTS"), (mine, "USERPROJECTS#u1")):
        assert call["IndexName"] == "GSI1T"
        assert call["ExpressionAttributeNames"]["#pk"] == "GSI1PK"
        assert call["ExpressionAttributeValues"][":pk"] == partition
    assert mine["ScanIndexForward"] is False
    item = {
        "PK": "PROJECT#p",
        "SK": "PROJECT",
        "GSI1PK": "PROJECTS",
        "GSI1SK": "p",
        "GSI1TSK": "2026-01-01T00:00:00.000000Z#p",
    }
    cursor = access.LIVE_PROJECTS_BY_CREATED.key_of(item)
    assert cursor == {k: item[k] for k in ("PK", "SK", "GSI1PK", "GSI1TSK")}
    access.LIVE_PROJECTS_BY_CREATED.page(limit=2, start_key=cursor)
    assert client.calls[-1]["ExclusiveStartKey"] == cursor
    with pytest.raises(BadRequest):
        access.LIVE_PROJECTS_BY_CREATED.page(limit=2, start_key=access.LIVE_PROJECTS.key_of(item))
    with pytest.raises(BadRequest):
        access.LIVE_PROJECTS.page(limit=2, start_key=cursor)


def test_keys_put_projects_and_current_members_in_creation_order() -> None:
    from tenantry.dal import keys

    at = "2026-01-01T00:00:00.000000Z"
    assert keys.project_indexes("p", "u", "active", at)["GSI1TSK"] == f"{at}#p"
    current = keys.member_indexes("p", "u", current=True, project_created_at=at)
    assert current["GSI1TSK"] == f"{at}#p" and current["GSI1PK"] == "USERPROJECTS#u"
    assert "GSI1TSK" not in keys.member_indexes("p", "u", current=False, project_created_at=at)
