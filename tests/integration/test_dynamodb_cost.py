"""DynamoDB calls per request, pinned for the routes tuned for cost (issue "DynamoDB cost per
request"), so they cannot regress: the authorizer resolves a token with one strongly
consistent GetItem, a project route reads project and member item in one BatchGetItem, no
item is read twice, and reads that cannot hurt when stale are eventually consistent.

Counted by wrapping botocore's one door for API calls (BaseClient._make_api_call) and the
stack's function invocation, so each call is attributed to the authorizer or the route's
function; nothing here depends on timing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest

from tenantry.domain.project_access import RACE_ATTEMPTS
from tests.harness import Api
from tests.integration.helpers import assert_problem, create_active, make_bot, make_user

AUTHORIZER = "Authorizer"


@dataclass
class Call:
    function: str
    operation: str
    params: dict[str, Any]


@dataclass
class Calls:
    calls: list[Call] = field(default_factory=list)

    def of(self, part: str) -> list[Call]:
        """part: "auth" (the authorizer) or "fn" (the route's function)."""
        return [c for c in self.calls if (c.function == AUTHORIZER) == (part == "auth")]

    def ops(self, part: str) -> list[str]:
        return [c.operation for c in self.of(part)]

    def reads(self, part: str) -> list[str]:
        return [op for op in self.ops(part) if op in READS]

    def keys_read(self) -> list[tuple[str, str]]:
        out = []
        for c in self.calls:
            if c.operation == "GetItem":
                out.append((c.params["Key"]["PK"], c.params["Key"]["SK"]))
            elif c.operation == "BatchGetItem":
                for request in c.params["RequestItems"].values():
                    out.extend((k["PK"], k["SK"]) for k in request["Keys"])
        return out


READS = {"GetItem", "BatchGetItem", "Query", "TransactGetItems", "Scan"}


@contextlib.contextmanager
def counted(api: Api) -> Iterator[Calls]:
    """Every DynamoDB call on the application's table while the block runs."""
    from botocore.client import BaseClient

    from tenantry.dal.table import table_name

    stack = api.stack
    out = Calls()
    current: list[str] = []
    make_api_call, invoke = BaseClient._make_api_call, stack.invoke

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb" and current:
            tables = {params.get("TableName")} | set(params.get("RequestItems", {}))
            if table_name() in tables or operation == "TransactWriteItems":
                out.calls.append(Call(current[-1], operation, params))
        return make_api_call(client, operation, params)

    def invoking(logical_id: str, event: Any) -> Any:
        current.append(AUTHORIZER if logical_id in authorizers else logical_id)
        try:
            return invoke(logical_id, event)
        finally:
            current.pop()

    authorizers = {r.authorizer for r in stack.routes if r.authorizer}
    with mock.patch.object(BaseClient, "_make_api_call", counting):
        stack.invoke = invoking  # the instance attribute shadows the method
        try:
            yield out
        finally:
            del stack.invoke


def _warm(api: Api, token: str) -> None:
    """One request first, so the authorizer's once-a-minute token-use write is done."""
    assert api.get("/auth/me", token=token).status == 200


@pytest.fixture
def owner(api: Api, admin_token: str) -> tuple[dict[str, Any], str]:
    return make_user(api, admin_token, "Owner")


# --- the authorizer -------------------------------------------------------------------------


def test_the_authorizer_reads_one_item_strongly_consistent(
    api: Api, admin_token: str, owner: tuple[dict[str, Any], str]
) -> None:
    _, token = owner
    _, bot_token = make_bot(api, admin_token)
    for secret in (admin_token, token, bot_token):
        _warm(api, secret)
        with counted(api) as calls:
            assert api.get("/server/info", token=secret).status == 200
        assert calls.ops("auth") == ["GetItem"], calls.calls
        assert calls.of("auth")[0].params["ConsistentRead"] is True
        assert calls.of("auth")[0].params["Key"]["PK"].startswith("TOKEN#")


def test_flags_on_the_token_follow_the_user_at_once(
    api: Api, admin_token: str, owner: tuple[dict[str, Any], str]
) -> None:
    user, token = owner
    r = api.post("/user-tokens", token=token, json={"user_id": user["id"]})
    second = r.json()["created_token"]
    for body, status, is_admin in (
        ({"is_admin": True}, 200, True),
        ({"is_active": False}, 401, None),
        ({"is_active": True, "is_admin": False}, 200, False),
    ):
        assert api.patch(f"/users/{user['id']}", token=admin_token, json=body).status == 200
        for secret in (token, second):
            r = api.get("/auth/me", token=secret)
            assert r.status == status, r
            if is_admin is not None:
                assert r.json()["is_admin"] is is_admin


def test_a_token_without_copied_flags_still_reads_its_owner(
    api: Api, admin_token: str, owner: tuple[dict[str, Any], str]
) -> None:
    """Tokens created before the flags were copied onto them keep working (two reads),
    and still stop when their user is deactivated."""
    from tenantry import auth
    from tenantry.dal import keys, table

    user, token = owner
    key = keys.token(auth.hash_token(token))
    table.update(key, "REMOVE owner_active, owner_admin")
    _warm(api, token)
    with counted(api) as calls:
        assert api.get("/server/info", token=token).status == 200
    assert calls.ops("auth") == ["GetItem", "GetItem"], calls.calls
    r = api.patch(f"/users/{user['id']}", token=admin_token, json={"is_active": False})
    assert r.status == 200, r
    assert api.get("/server/info", token=token).status == 401


def test_the_token_use_write_never_fails_the_request(
    api: Api, owner: tuple[dict[str, Any], str]
) -> None:
    from tenantry.dal import identity
    from tenantry.errors import ServiceUnavailable

    _, token = owner
    with mock.patch.object(identity, "touch_token", side_effect=ServiceUnavailable()) as touch:
        assert api.get("/auth/me", token=token).status == 200
    assert touch.called


def test_tokens_per_owner_are_capped(api: Api, admin_token: str) -> None:
    from tenantry.dal.identity import MAX_TOKENS_PER_OWNER

    bot, _ = make_bot(api, admin_token)
    for _ in range(MAX_TOKENS_PER_OWNER - 1):
        assert api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]}).status == 201
    r = api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    assert r.status == 409 and "at most" in r.json()["detail"], r
    # deleting the bot revokes all of them in one transaction
    assert api.delete(f"/bots/{bot['id']}", token=admin_token).status == 204
    r = api.get("/bot-tokens", token=admin_token, query={"bot_id": bot["id"]})
    assert r.json()["items"] == [], r


# --- project routes -------------------------------------------------------------------------


def test_project_routes_read_each_item_once(
    api: Api, admin_token: str, owner: tuple[dict[str, Any], str], wait_until: Any
) -> None:
    _, token = owner
    pid = create_active(api, token, wait_until, name="Cost")["id"]
    _warm(api, token)

    with counted(api) as calls:
        assert api.get(f"/projects/{pid}", token=token).status == 200
    assert calls.ops("fn") == ["BatchGetItem"], calls.calls
    (batch,) = calls.of("fn")
    assert batch.params["RequestItems"][next(iter(batch.params["RequestItems"]))][
        "ConsistentRead"
    ], "access decisions and read-your-writes need strong reads"

    with counted(api) as calls:
        r = api.patch(f"/projects/{pid}", token=token, json={"description": "cheaper"})
    assert r.status == 200 and r.json()["description"] == "cheaper", r
    assert calls.ops("fn") == ["BatchGetItem", "TransactWriteItems"], calls.calls
    assert r.json()["version"] == api.get(f"/projects/{pid}", token=token).json()["version"]

    with counted(api) as calls:
        r = api.put(f"/projects/{pid}/profile", token=token, json={"description": "p"})
    assert r.status == 200 and r.json()["owner_display_name"] == "Owner", r
    assert calls.ops("fn") == ["GetItem", "TransactWriteItems", "GetItem"], calls.calls
    assert calls.keys_read().count((f"PROJECT#{pid}", "PROJECT")) == 1

    _, other = make_user(api, admin_token, "Reader")
    _warm(api, other)
    with counted(api) as calls:
        r = api.get(f"/projects/{pid}/profile", token=other)
    assert r.status == 200 and r.json()["description"] == "p", r
    assert calls.ops("fn") == ["GetItem", "GetItem"], calls.calls
    assert not any(c.params["ConsistentRead"] for c in calls.of("fn")), "a public view"

    with counted(api) as calls:
        r = api.post(f"/projects/{pid}/actions", token=admin_token, json={"action": "suspend"})
    assert r.status == 200 and r.json()["status"] == "suspended", r
    assert calls.ops("fn") == ["BatchGetItem", "TransactWriteItems"], calls.calls
    assert api.get(f"/projects/{pid}", token=token).json()["status"] == "suspended"


def test_quotas_read_the_project_once_whatever_its_members(
    api: Api, admin_token: str, owner: tuple[dict[str, Any], str], wait_until: Any
) -> None:
    """GET /quotas answers from the project item (its limits and usage counters): one
    BatchGetItem (project and caller's membership), however many members the project has,
    and with quotas set too (`member_usage` is per-member allocation, which nothing makes
    yet: always empty, and never a Query over the members)."""
    _, token = owner
    pid = create_active(api, token, wait_until, name="Counted", join_policy="auto")["id"]
    resources = {"members": {"project_capacity": 10, "member_capacity": 0}}
    r = api.patch(f"/projects/{pid}", token=admin_token, json={"resources": resources})
    assert r.status == 200, r
    for n in range(3):
        _, joiner = make_user(api, admin_token, f"Joiner {n}")
        r = api.post("/memberships", token=joiner, json={"project_id": pid, "action": "join"})
        assert r.status == 201, r
    _warm(api, token)

    with counted(api) as calls:
        r = api.get(f"/projects/{pid}/quotas", token=token)
    assert r.status == 200, r
    assert r.json() == {
        "members": {"limit": 10, "usage": 4, "member_limit": None, "member_usage": {}}
    }, r
    assert calls.ops("fn") == ["BatchGetItem"], calls.calls


def test_a_change_meanwhile_is_a_conflict_not_a_lost_update(
    api: Api, owner: tuple[dict[str, Any], str], wait_until: Any
) -> None:
    """A write pinned to the version it read fails (409) if the project changed after the
    read, rather than answering a project that was never stored."""
    from tenantry.dal import projects as store

    _, token = owner
    pid = create_active(api, token, wait_until, name="Racy")["id"]
    real = store.get_with_member

    reads = []

    def then_changed(project_id: str, principal_id: str) -> Any:
        found = real(project_id, principal_id)
        reads.append(project_id)
        _another_writer(project_id, {"description": "meanwhile"})
        return found

    with mock.patch.object(store, "get_with_member", then_changed):
        r = api.patch(f"/projects/{pid}", token=token, json={"description": "mine"})
    assert_problem(r, 409, "conflict")
    assert len(reads) == RACE_ATTEMPTS  # read and decided again each time, then gave up
    assert api.get(f"/projects/{pid}", token=token).json()["description"] == "meanwhile"


def _another_writer(project_id: str, changes: dict[str, Any]) -> None:
    """A change made by someone else between a route's read and its write."""
    from tenantry.dal import history
    from tenantry.dal import projects as store

    store.update(
        project_id,
        changes,
        history.entry(project_id, "test", "updated"),
        allowed_statuses=["active"],
        expected_version=None,
        now="2000-01-01T00:00:00Z",
    )


def test_one_race_is_read_again_and_applied(
    api: Api, owner: tuple[dict[str, Any], str], wait_until: Any
) -> None:
    """Without If-Match, a change that loses one race reads again and applies: both
    writers' changes are kept and the answer is the project as written."""
    from tenantry.dal import projects as store

    _, token = owner
    pid = create_active(api, token, wait_until, name="Raced once")["id"]
    real = store.get_with_member
    reads = []

    def changed_once(project_id: str, principal_id: str) -> Any:
        found = real(project_id, principal_id)
        reads.append(project_id)
        if len(reads) == 1:
            _another_writer(project_id, {"homepage": "https://meanwhile.example"})
        return found

    with mock.patch.object(store, "get_with_member", changed_once):
        r = api.patch(f"/projects/{pid}", token=token, json={"description": "mine"})
    assert r.status == 200, r
    assert len(reads) == 2
    stored = api.get(f"/projects/{pid}", token=token).json()
    assert (stored["description"], stored["homepage"]) == ("mine", "https://meanwhile.example")
    assert r.json()["version"] == stored["version"], (r.json(), stored)
