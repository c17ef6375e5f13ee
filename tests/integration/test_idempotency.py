"""`Idempotency-Key` on the routes that create: POST /projects, POST /users, POST /bots,
PUT /orgs/{orgId}/invites, PUT /projects/{projectId}/invites. A retry with the same key and
body gets the first response and creates nothing more; the same key with another body (or
another target) is 422; keys belong to their caller (and route)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import Api, Response
from tests.integration.helpers import (
    assert_problem,
    create_active,
    executions_for,
    list_all,
    list_ids,
    make_user,
    settle,
    wait_status,
)

Wait = Callable[..., Any]
REPLAYED_HEADERS = ("etag", "location", "content-type")


def _post(api: Api, path: str, token: str, key: str, body: dict[str, Any]) -> Response:
    return api.post(path, token=token, json=body, headers={"Idempotency-Key": key})


def _same_response(first: Response, again: Response) -> None:
    assert again.status == first.status, (first, again)
    assert again.json() == first.json(), (first, again)
    for header in REPLAYED_HEADERS:
        assert again.headers.get(header) == first.headers.get(header), (header, first, again)


def test_same_key_and_body_replay_the_first_project(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    _, token = make_user(api, admin_token, "Retrier")
    body = {"name": "Once Only", "labels": {"a": "b"}, "environments": ["dev"]}

    first = _post(api, "/projects", token, "create-once-1", body)
    assert first.status == 202, first
    assert first.json()["id"] == "once-only" and first.json()["status"] == "creating", first
    assert first.headers["location"] == "/projects/once-only", first
    again = _post(api, "/projects", token, "create-once-1", body)
    _same_response(first, again)

    active = wait_status(api, token, "once-only", "active", wait_until)
    # after the project moved on, a retry still gets the first response, not a new one
    third = _post(api, "/projects", token, "create-once-1", body)
    _same_response(first, third)
    assert third.json()["status"] == "creating" and active["status"] == "active"

    # one project, one workflow execution
    assert list_ids(api, token) == ["once-only"]
    runs = executions_for(api, "CreateProjectStateMachine", "once-only")
    assert [(e["name"], e["status"]) for e in runs] == [("once-only-create-1", "SUCCEEDED")], runs
    history = api.get("/projects/once-only/history", token=token).json()["items"]
    assert [e["event"] for e in history].count("created") == 1, history

    # without the key, the same body is a new request: the id is taken
    assert_problem(api.post("/projects", token=token, json=body), 409, "conflict")
    # a new key is a new request too
    assert_problem(_post(api, "/projects", token, "create-once-2", body), 409, "conflict")
    assert len(executions_for(api, "CreateProjectStateMachine", "once-only")) == 1


def test_same_key_with_another_body_is_422(api: Api, admin_token: str, wait_until: Wait) -> None:
    _, token = make_user(api, admin_token, "Sloppy")
    first = _post(api, "/projects", token, "key-a", {"name": "First Body"})
    assert first.status == 202, first
    settle(api, wait_until)

    r = _post(api, "/projects", token, "key-a", {"name": "Second Body"})
    body = assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    assert "Idempotency-Key" in body["detail"], body
    r = _post(api, "/projects", token, "key-a", {"name": "First Body", "description": "more"})
    assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    assert_problem(api.get("/projects/second-body", token=token), 404)
    assert list_ids(api, token) == ["first-body"]
    # the key still replays its own body
    _same_response(first, _post(api, "/projects", token, "key-a", {"name": "First Body"}))

    # a malformed key: 422 on the header (header names are case-insensitive)
    r = _post(api, "/projects", token, "k" * 256, {"name": "Long Key"})
    body = assert_problem(r, 422)
    assert [[str(x).lower() for x in e["loc"]] for e in body["errors"]] == [
        ["header", "idempotency-key"]
    ], body
    assert_problem(api.get("/projects/long-key", token=token), 404)


def test_keys_belong_to_their_caller_and_route(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    alice, alice_token = make_user(api, admin_token, "Alice")
    bob, bob_token = make_user(api, admin_token, "Bob")
    key = "shared-key-123"

    a = _post(api, "/projects", alice_token, key, {"name": "Alices Project"})
    assert (a.status, a.json()["owner_id"]) == (202, alice["id"]), a
    settle(api, wait_until)
    # Bob's same key with Alice's body is Bob's own request: the id is taken (not her replay)
    r = _post(api, "/projects", bob_token, key, {"name": "Alices Project"})
    assert_problem(r, 409, "conflict")
    # Bob's same key with his own body creates his project (not a 422 against Alice's body)
    b = _post(api, "/projects", bob_token, key, {"name": "Bobs Project"})
    assert (b.status, b.json()["id"], b.json()["owner_id"]) == (202, "bobs-project", bob["id"]), b
    settle(api, wait_until)
    _same_response(b, _post(api, "/projects", bob_token, key, {"name": "Bobs Project"}))
    _same_response(a, _post(api, "/projects", alice_token, key, {"name": "Alices Project"}))
    assert list_ids(api, alice_token) == ["alices-project"]
    assert list_ids(api, bob_token) == ["bobs-project"]
    assert len(executions_for(api, "CreateProjectStateMachine", "alices-project")) == 1
    assert len(executions_for(api, "CreateProjectStateMachine", "bobs-project")) == 1

    # the same key on another route is another request
    u = _post(api, "/users", admin_token, key, {"email": "keyed@example.com", "display_name": "K"})
    assert u.status == 201, u
    bot = _post(api, "/bots", admin_token, key, {"display_name": "Keyed bot"})
    assert bot.status == 201, bot
    p = _post(api, "/projects", admin_token, key, {"name": "Admins Keyed"})
    assert p.status == 202, p
    settle(api, wait_until)


def test_post_users_and_bots_with_a_key(api: Api, admin_token: str) -> None:
    body = {"email": "once@example.com", "display_name": "Once", "is_admin": False}
    first = _post(api, "/users", admin_token, "user-key", body)
    assert first.status == 201, first
    assert first.headers["location"] == f"/users/{first.json()['id']}", first
    _same_response(first, _post(api, "/users", admin_token, "user-key", body))
    users = list_all(api, admin_token, "/users", email="once@example.com")
    assert [u["id"] for u in users] == [first.json()["id"]], users
    r = _post(api, "/users", admin_token, "user-key", {**body, "display_name": "Twice"})
    assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    assert_problem(api.post("/users", token=admin_token, json=body), 409)  # no key: a new request
    # a caller who may not create users gets 403 with any key, never a replay
    _, token = make_user(api, admin_token)
    assert_problem(_post(api, "/users", token, "user-key", body), 403)

    first = _post(api, "/bots", admin_token, "bot-key", {"display_name": "Builder"})
    assert first.status == 201, first
    again = _post(api, "/bots", admin_token, "bot-key", {"display_name": "Builder"})
    _same_response(first, again)
    bots = [b for b in list_all(api, admin_token, "/bots") if b["display_name"] == "Builder"]
    assert [b["id"] for b in bots] == [first.json()["id"]], bots
    r = _post(api, "/bots", admin_token, "bot-key", {"display_name": "Other"})
    assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    # without a key, every POST /bots creates one
    assert api.post("/bots", token=admin_token, json={"display_name": "Builder"}).status == 201
    assert (
        len([b for b in list_all(api, admin_token, "/bots") if b["display_name"] == "Builder"]) == 2
    )


def idempotency_records(api: Api) -> list[dict[str, Any]]:
    ddb = api.stack.client("dynamodb")
    table = api.stack.table_names()["IdempotencyTable"]
    return list(ddb.scan(TableName=table)["Items"])


@pytest.mark.parametrize("scope", ["org", "project"])
def test_put_invites_with_a_key(api: Api, admin_token: str, wait_until: Wait, scope: str) -> None:
    """A retried invite (its answer lost) must not invite the same people twice: the
    retry answers the first 201 with the same invites, and nothing new is created or
    counted. The secure invites' codes are in the first answer only: a secret is never
    stored, so the idempotency record holds the invites without them."""
    from tenantry.dal import limits

    owner, token = make_user(api, admin_token, "Inviter")
    guest, guest_token = make_user(api, admin_token, "Guest")
    if scope == "org":
        targets = [
            api.post("/orgs", token=token, json={"name": f"Org {i}"}).json()["id"] for i in (1, 2)
        ]
    else:
        targets = [create_active(api, token, wait_until, name=f"Invites {i}")["id"] for i in (1, 2)]
    path = f"/{scope}s/{targets[0]}/invites"
    body = {"emails": [guest["email"], "nobody@example.com"], "roles": ["member"], "secure": True}

    def put(key: str, json: dict[str, Any], where: str = path) -> Response:
        return api.put(where, token=token, json=json, headers={"Idempotency-Key": key})

    first = put("invite-key", body)
    assert first.status == 201, first
    assert len(first.json()["items"]) == 2 and all(i["code"] for i in first.json()["items"])
    replay = put("invite-key", body)
    assert replay.status == 201, replay
    without_codes = [{**i, "code": None} for i in first.json()["items"]]
    assert replay.json()["items"] == without_codes
    codes = [i["code"] for i in first.json()["items"]]
    assert not any(c in json.dumps(idempotency_records(api)) for c in codes)
    pending = list_all(api, guest_token, "/invites")
    assert [i["id"] for i in pending] == [first.json()["items"][0]["id"]], pending
    assert limits.current("invites_per_user_per_day", owner["id"]) == 2

    # the same key with another body, or for another target: 422, nothing created
    r = put("invite-key", {**body, "roles": ["admin"]})
    assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    r = put("invite-key", body, f"/{scope}s/{targets[1]}/invites")
    assert_problem(r, 422, loc=["header", "Idempotency-Key"])
    assert len(list_all(api, guest_token, "/invites")) == 1
    # the key is the caller's: another caller with it is refused, not answered the replay
    r = api.put(path, token=guest_token, json=body, headers={"Idempotency-Key": "invite-key"})
    assert_problem(r, 404)
    # without a key, the same body invites again (a new request)
    assert api.put(path, token=token, json=body).status == 201
    assert len(list_all(api, guest_token, "/invites")) == 2
    assert limits.current("invites_per_user_per_day", owner["id"]) == 4


def test_concurrent_identical_requests_create_one_project(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    """Eight identical requests at once: one project, one execution; each answer is the
    first 202 or a 409 "still in progress".

    The harness serialises invocations of one function module (local/stack.py,
    Stack.invoke takes a per-module RLock, as one warm Lambda container would), so these
    requests reach the idempotency layer one after another: this checks the replay under
    threads, while test_retry_while_the_first_is_in_progress_is_409 covers the overlap."""
    _, token = make_user(api, admin_token, "Impatient")
    assert api.get("/auth/me", token=token).status == 200  # caches and clients warm
    body = {"name": "Raced", "environments": ["dev", "prod"]}
    n = 8
    barrier = threading.Barrier(n)
    results: list[Response | BaseException] = [RuntimeError("not run")] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = _post(api, "/projects", token, "race-key", body)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors

    responses = [r for r in results if isinstance(r, Response)]
    accepted = [r for r in responses if r.status == 202]
    assert accepted, responses
    for r in accepted:
        _same_response(accepted[0], r)
    for r in responses:
        if r.status != 202:
            body409 = assert_problem(r, 409)
            assert "in progress" in body409["detail"], r
            assert r.headers.get("retry-after"), r
    assert accepted[0].json()["id"] == "raced"

    wait_status(api, token, "raced", "active", wait_until)
    assert list_ids(api, token) == ["raced"]
    runs = executions_for(api, "CreateProjectStateMachine", "raced")
    assert [e["name"] for e in runs] == ["raced-create-1"], runs
    events = [e["event"] for e in api.get("/projects/raced/history", token=token).json()["items"]]
    assert events.count("created") == 1 and events.count("environments_created") == 1, events


class _LambdaKilled(BaseException):
    """What a Lambda timeout looks like from inside: the invocation just stops (no
    `except Exception` runs, so the idempotency record stays INPROGRESS)."""


def test_retry_while_the_first_is_in_progress_is_409(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.domain import projects

    _, token = make_user(api, admin_token, "Timed out")
    body = {"name": "Slow Start"}

    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise _LambdaKilled

    with monkeypatch.context() as m:
        m.setattr(projects, "create_project", killed)
        with pytest.raises(_LambdaKilled):
            _post(api, "/projects", token, "slow-key", body)

    # the first invocation has not finished (its record is in progress): 409, retry later
    r = _post(api, "/projects", token, "slow-key", body)
    problem = assert_problem(r, 409, "conflict")
    assert "in progress" in problem["detail"], problem
    assert r.headers["retry-after"] == "1", r
    assert_problem(api.get("/projects/slow-start", token=token), 404)
    # another key is not blocked by it
    r = _post(api, "/projects", token, "other-key", body)
    assert (r.status, r.json()["id"]) == (202, "slow-start"), r
