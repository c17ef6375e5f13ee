"""Concurrent joins can never push a project past its limits (API.md, "Governance":
"max_members reached: 409"; quotas: "an allocation that would exceed either capacity is
413 with the numbers").

`max_members` counts the project's members, the owner included (the owner's membership is
`accepted`, and accepted memberships are what max_members limits), so with max_members=5
four joins fit and the project ends with exactly five counted members.

Two levels:
- HTTP: 20 users join at once from 20 threads through the emulated API. The emulation runs
  one invocation at a time per handler module (local/stack.py, Stack.invoke), so these
  requests are concurrent for the client but serialized inside: they prove the answers
  and the counts, not the race.
- The race itself: tenantry.domain.memberships.create from 20 threads, every thread held
  at a barrier placed just before its transaction (tenantry.dal.memberships.change), so
  all 20 have read the project with one member and all 20 try to write the sixth, seventh...
  member at once. Only DynamoDB's conditions (the count on the project item) can keep the
  limit; moto applies each call atomically (local/stack.py, serial_aws_calls), as
  DynamoDB does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.harness import Api, Response

JOINERS = 20
MAX_MEMBERS = 5
CAPACITY = 3
PROBLEM_JSON = "application/problem+json"
Wait = Callable[..., Any]


def _user(api: Api, admin_token: str, n: int) -> tuple[str, str]:
    r = api.post(
        "/users",
        token=admin_token,
        json={"email": f"joiner{n}-{threading.get_ident()}@example.com", "display_name": f"J{n}"},
    )
    assert r.status == 201, r
    user_id = r.json()["id"]
    r = api.post("/user-tokens", token=admin_token, json={"user_id": user_id})
    assert r.status == 201, r
    return user_id, r.json()["created_token"]


def _project(api: Api, admin_token: str, wait_until: Wait, variant: str) -> tuple[str, str]:
    """An active project with join_policy auto and the variant's limit; (id, owner token)."""
    _, owner = _user(api, admin_token, 0)
    pid = f"race-{variant.replace('_', '-')}"
    body: dict[str, Any] = {"id": pid, "name": f"Race {variant}", "join_policy": "auto"}
    if variant == "max_members":
        body["max_members"] = MAX_MEMBERS
    r = api.post("/projects", token=owner, json=body)
    assert r.status == 202, r

    def active() -> bool:
        sfn = api.stack.client("stepfunctions")
        if any(
            sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            for arn in api.stack.state_machine_arns().values()
        ):
            return False
        r = api.get(f"/projects/{pid}", token=owner)
        assert r.status == 200, r
        return bool(r.json()["status"] == "active")

    wait_until(active, timeout=15)
    if variant == "quota":
        resources = {"members": {"project_capacity": CAPACITY, "member_capacity": 0}}
        r = api.patch(f"/projects/{pid}", token=admin_token, json={"resources": resources})
        assert r.status == 200, r
        assert r.json()["resources"] == resources, r
    return pid, owner


def _limit(variant: str) -> int:
    return MAX_MEMBERS if variant == "max_members" else CAPACITY


def _assert_refusal(status: int, body: dict[str, Any], variant: str) -> None:
    """The problem body of a join refused because the project is full."""
    assert body["status"] == status, body
    if variant == "max_members":
        assert status == 409, body
        assert "max_members" in body["detail"], body
        if "max_members" in body:
            assert body["max_members"] == MAX_MEMBERS, body
    else:
        assert status == 413, body
        assert body["resource"] == "members", body
        assert body["limit"] == CAPACITY, body
        assert body["usage"] == CAPACITY, body


def _assert_final(
    api: Api, owner: str, pid: str, variant: str, accepted: set[str], refused: set[str]
) -> None:
    """The project has exactly `limit` counted members: the owner and the accepted joiners;
    the refused joins left nothing behind; the count agrees; every join is in the history."""
    limit = _limit(variant)
    assert len(accepted) == limit - 1, (len(accepted), limit)
    assert len(refused) == JOINERS - len(accepted)

    r = api.get(f"/projects/{pid}/quotas", token=owner)
    assert r.status == 200, r
    quota = r.json()["members"]
    assert quota["usage"] == limit, quota
    assert quota["limit"] == limit, quota

    r = api.get("/memberships", token=owner, query={"project_id": pid, "limit": 100})
    assert r.status == 200, r
    items = r.json()["items"]
    assert r.json()["next_cursor"] is None, r
    by_user = {m["user_id"]: m for m in items}
    assert len(by_user) == len(items), items
    members = {u for u, m in by_user.items() if m["role"] != "owner"}
    assert members == accepted, ("memberships other than the accepted joins", items)
    assert all(m["state"] == "accepted" for m in items), items
    assert sum(1 for m in items if m["state"] in ("accepted", "leave_requested")) == limit

    r = api.get(f"/projects/{pid}/history", token=owner, query={"limit": 100})
    assert r.status == 200, r
    history = r.json()["items"]
    for user_id in accepted:
        assert any(user_id in json.dumps(e.get("detail") or {}) for e in history), (
            user_id,
            history,
        )
    for user_id in refused:
        assert not any(user_id in json.dumps(e.get("detail") or {}) for e in history), (
            user_id,
            history,
        )


@pytest.mark.parametrize("variant", ["max_members", "quota"])
def test_concurrent_http_joins_fill_the_project_exactly(
    api: Api, admin_token: str, wait_until: Wait, variant: str
) -> None:
    pid, owner = _project(api, admin_token, wait_until, variant)
    users = [_user(api, admin_token, n) for n in range(1, JOINERS + 1)]
    start = threading.Barrier(JOINERS)

    def join(token: str) -> Response:
        start.wait(timeout=30)
        return api.post("/memberships", token=token, json={"project_id": pid, "action": "join"})

    with ThreadPoolExecutor(JOINERS) as pool:
        responses = list(pool.map(join, [token for _, token in users]))

    accepted, refused = set(), set()
    for (user_id, _), r in zip(users, responses, strict=True):
        if r.status == 201:
            m = r.json()
            assert (m["user_id"], m["state"], m["role"]) == (user_id, "accepted", "member"), r
            accepted.add(user_id)
            continue
        assert r.status in (409, 413), r
        assert r.headers["content-type"].split(";")[0] == PROBLEM_JSON, r
        _assert_refusal(r.status, r.json(), variant)
        refused.add(user_id)
    _assert_final(api, owner, pid, variant, accepted, refused)


@pytest.mark.parametrize("variant", ["max_members", "quota"])
def test_racing_join_transactions_never_overshoot(
    api: Api,
    admin_token: str,
    wait_until: Wait,
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
) -> None:
    from tenantry.dal import memberships as member_store
    from tenantry.domain import memberships
    from tenantry.errors import TenantryError
    from tenantry.models.governance import MembershipCreate
    from tenantry.models.principal import Principal

    pid, owner = _project(api, admin_token, wait_until, variant)
    users = [_user(api, admin_token, n) for n in range(1, JOINERS + 1)]

    # every thread reads the project (one member) and then waits here, right before its
    # transaction, until all 20 have read it: the 20 transactions race on stale reads
    barrier = threading.Barrier(JOINERS)
    seen: list[tuple[str | None, int]] = []
    original = member_store.change

    def gated(member: dict[str, Any], from_state: str | None, delta: int, *a: Any, **kw: Any):
        seen.append((from_state, delta))
        barrier.wait(timeout=30)
        return original(member, from_state, delta, *a, **kw)

    monkeypatch.setattr(member_store, "change", gated)
    body = MembershipCreate(project_id=pid, action="join")

    def join(user_id: str) -> Any:
        try:
            return memberships.create(Principal(kind="user", id=user_id), body)
        except TenantryError as exc:
            return exc

    with ThreadPoolExecutor(JOINERS) as pool:
        outcomes = list(pool.map(join, [user_id for user_id, _ in users]))
    monkeypatch.undo()

    # the race really happened: all 20 reached the transaction from the same stale view
    assert seen == [(None, 1)] * JOINERS, seen
    accepted, refused = set(), set()
    for (user_id, _), out in zip(users, outcomes, strict=True):
        if isinstance(out, TenantryError):
            _assert_refusal(out.status, out.problem("test"), variant)
            refused.add(user_id)
        else:
            assert (out.user_id, out.state, out.role) == (user_id, "accepted", "member"), out
            accepted.add(user_id)
    _assert_final(api, owner, pid, variant, accepted, refused)


# --- the policy a join or leave was decided under ---------------------------------------------


@pytest.mark.parametrize(
    ("action", "field", "before", "after"),
    [
        ("join", "join_policy", "auto", "closed"),
        ("join", "join_policy", "auto", "moderated"),
        ("join", "join_policy", "moderated", "closed"),
        ("leave", "leave_policy", "auto", "closed"),
    ],
)
def test_a_policy_changed_between_read_and_write_refuses_the_change(
    api: Api,
    admin_token: str,
    wait_until: Wait,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    field: str,
    before: str,
    after: str,
) -> None:
    """A join (or leave) reads the project's policy, decides the outcome (accepted,
    requested...) and writes it. A platform admin changes the policy in between: the write
    must not land under the old policy's outcome. It is refused as a conflict (409) and
    leaves nothing behind; asked again, the request follows the new policy. The race is
    made deterministic by running the admin's PATCH inside the membership's write
    (tenantry.dal.memberships.change), after the read and before the transaction."""
    from tenantry.dal import memberships as member_store

    pid = f"policy-{action}-{before}-{after}"
    _, owner = _user(api, admin_token, 0)
    user_id, token = _user(api, admin_token, 1)
    policies = {"join_policy": "auto", "leave_policy": "auto", field: before}
    r = api.post("/projects", token=owner, json={"id": pid, "name": pid, **policies})
    assert r.status == 202, r
    wait_until(lambda: api.get(f"/projects/{pid}", token=owner).json()["status"] == "active")
    mid = None
    if action == "leave":
        r = api.post("/memberships", token=token, json={"project_id": pid, "action": "join"})
        assert r.status == 201 and r.json()["state"] == "accepted", r
        mid = r.json()["id"]
    usage = api.get(f"/projects/{pid}/quotas", token=owner).json()["members"]["usage"]
    events = len(api.get(f"/projects/{pid}/history", token=owner).json()["items"])

    original = member_store.change
    raced: list[int] = []

    def policy_changes_first(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            r = api.patch(f"/projects/{pid}", token=admin_token, json={field: after})
            raced.append(r.status)
            assert r.json()[field] == after, r
        return original(*args, **kwargs)

    monkeypatch.setattr(member_store, "change", policy_changes_first)

    def ask() -> Response:
        if action == "join":
            return api.post("/memberships", token=token, json={"project_id": pid, "action": "join"})
        return api.post(f"/memberships/{mid}/actions", token=token, json={"action": "leave"})

    r = ask()
    assert raced == [200], raced
    assert r.status == 409, r
    assert r.headers["content-type"].split(";")[0] == PROBLEM_JSON, r
    assert field in r.json()["detail"], r
    monkeypatch.undo()

    # nothing was written: the membership, the count and the history are as before
    r = api.get("/memberships", token=owner, query={"project_id": pid})
    mine = [m for m in r.json()["items"] if m["user_id"] == user_id]
    assert [m["state"] for m in mine] == ([] if action == "join" else ["accepted"]), mine
    assert api.get(f"/projects/{pid}/quotas", token=owner).json()["members"]["usage"] == usage
    history = api.get(f"/projects/{pid}/history", token=owner).json()["items"]
    assert [e["event"] for e in history[events:]] == ["updated"], history[events:]

    # asked again, the new policy decides
    r = ask()
    if after == "closed":
        assert r.status == 409 and "closed" in r.json()["detail"], r
    else:
        assert (r.status, r.json()["state"]) == (201, "requested"), r
