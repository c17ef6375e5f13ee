"""Realtime updates over a real WebSocket: the runner's server (tests.harness.serving) on
127.0.0.1 serving this test's stack; a change's history entry goes through the table's
stream, StreamFunction, the bus, PushRule and PushFunction to the sockets (as in
`make run`), and only to the connections allowed to see it (README "Realtime updates")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local import template
from tests.harness import Api, deliver_stream, serving, wait_until
from tests.integration.helpers import create_project, make_user

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def ws_url(api: Api) -> Iterator[str]:
    with serving(api) as url:
        yield url.replace("http://", "ws://") + "/ws"


class Client:
    """One connection, reading what was pushed to it up to the answer to a ping."""

    def __init__(self, url: str, token: str, *, in_query: bool = False) -> None:
        if in_query:  # as a browser connects
            self.ws: ClientConnection = connect(f"{url}?token={token}", open_timeout=10)
        else:
            headers = {"Authorization": f"Bearer {token}"}
            self.ws = connect(url, additional_headers=headers, open_timeout=10)

    def pushed(self) -> list[dict[str, Any]]:
        """Everything pushed so far: a ping's pong is answered after it (one queue per
        connection), so what arrives before the pong is what was pushed before."""
        self.ws.send(json.dumps({"action": "ping"}))
        out = []
        while True:
            message = json.loads(self.ws.recv(timeout=10))
            if message == {"type": "pong"}:
                return out
            out.append(message)

    def close(self) -> None:
        self.ws.close()


def settle(api: Api) -> None:
    """Workflows done, the stream read, every push made (its posts queued to the sockets)."""
    api.wait_for_executions()
    deliver_stream(api)
    assert api.stack.async_invoker is not None
    api.stack.async_invoker.drain()


def connection_items(api: Api) -> list[dict[str, Any]]:
    """The table's connection items (a test may Scan)."""
    ddb = api.stack.client("dynamodb")
    found = ddb.scan(
        TableName=api.stack.physical_id("TenantryTable"),
        FilterExpression="begins_with(PK, :p)",
        ExpressionAttributeValues={":p": {"S": "CONN#"}},
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in found]


def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        connect(url, open_timeout=10, **kwargs)
    return caught.value.response.status_code


def test_only_a_projects_members_and_admins_receive_its_events_in_order(
    api: Api, admin_token: str, ws_url: str
) -> None:
    ann, ann_token = make_user(api, admin_token, "Ann")
    _, bob_token = make_user(api, admin_token, "Bob")
    admin = Client(ws_url, admin_token)
    ann_ws = Client(ws_url, ann_token)
    bob_ws = Client(ws_url, bob_token, in_query=True)

    create_project(api, ann_token, name="Shop")
    settle(api)

    got = ann_ws.pushed()
    assert [m["detail"]["seq"] for m in got] == [1, 2, 3, 4], got
    assert [m["detail"]["event"] for m in got] == [
        "created",
        "environments_created",
        "image_repository_created",
        "provisioned",
    ]
    first = got[0]
    assert first["type"] == "event" and first["source"] == "tenantry"
    assert first["detail_type"] == "Project Status Changed"
    assert set(first["detail"]) == {
        "id",
        "project_id",
        "seq",
        "event",
        "from",
        "to",
        "actor",
        "at",
        "detail",
    }
    assert first["detail"]["id"] == "shop/1" and first["detail"]["to"] == "creating"
    assert first["detail"]["actor"] == f"user:{ann['id']}"
    history = api.get("/projects/shop/history", token=ann_token).json()["items"]
    assert [h["event"] for h in history] == [m["detail"]["event"] for m in got]
    assert bob_ws.pushed() == []  # not a member: nothing of shop
    assert [m["detail"]["id"] for m in admin.pushed()] == [f"shop/{n}" for n in (1, 2, 3, 4)]

    create_project(api, bob_token, name="Stall")  # Bob's own: Ann sees nothing of it
    settle(api)
    assert [m["detail"]["project_id"] for m in bob_ws.pushed()] == ["stall"] * 4
    assert ann_ws.pushed() == []
    assert [m["detail"]["id"] for m in admin.pushed()] == [f"stall/{n}" for n in (1, 2, 3, 4)]
    for client in (admin, ann_ws, bob_ws):
        client.close()


def test_a_missing_unknown_revoked_agent_or_bot_token_is_refused_at_connect(
    api: Api, admin_token: str, ws_url: str
) -> None:
    assert refused(ws_url) == 401
    assert refused(f"{ws_url}?token=tnt_nobody") == 401
    assert refused(ws_url, additional_headers={"Authorization": "Bearer tnt_nobody"}) == 401
    user, token = make_user(api, admin_token)
    r = api.post("/user-tokens", token=token, json={"user_id": user["id"]})
    second = r.json()
    assert api.delete(f"/user-tokens/{second['id']}", token=token).status == 204
    assert refused(f"{ws_url}?token={second['created_token']}") == 401
    r = api.post("/clusters", token=admin_token, json={"name": "edge", "region_name": "eu-west-1"})
    assert r.status == 201, r
    agent = {"Authorization": f"Bearer {r.json()['agent_token']}"}
    assert refused(ws_url, additional_headers=agent) == 403  # it opens the agent routes only
    bot = api.post("/bots", token=admin_token, json={"display_name": "ci"}).json()
    r = api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    assert r.status == 201, r
    # a bot is no project's member: it may read no project's history, so no event either
    assert refused(f"{ws_url}?token={r.json()['created_token']}") == 403
    assert connection_items(api) == []


def test_a_revoked_token_or_a_deactivated_user_is_dropped_at_the_next_push(
    api: Api, admin_token: str, ws_url: str
) -> None:
    ann, ann_token = make_user(api, admin_token, "Ann")
    second = api.post("/user-tokens", token=ann_token, json={"user_id": ann["id"]}).json()
    create_project(api, ann_token, name="Shop")
    settle(api)
    revoked = Client(ws_url, second["created_token"])
    kept = Client(ws_url, ann_token)
    assert len(connection_items(api)) == 2

    assert api.delete(f"/user-tokens/{second['id']}", token=ann_token).status == 204
    r = api.patch("/projects/shop", token=ann_token, json={"description": "Cards"})
    assert r.status == 200, r
    settle(api)
    with pytest.raises(ConnectionClosed):
        revoked.ws.recv(timeout=10)
    assert [m["detail"]["event"] for m in kept.pushed()] == ["updated"]
    wait_until(lambda: len(connection_items(api)) == 1)

    r = api.patch(f"/users/{ann['id']}", token=admin_token, json={"is_active": False})
    assert r.status == 200, r
    assert api.patch("/projects/shop", token=admin_token, json={"description": "x"}).status == 200
    settle(api)
    with pytest.raises(ConnectionClosed):
        kept.ws.recv(timeout=10)
    wait_until(lambda: connection_items(api) == [])


def test_a_removed_member_stops_receiving(api: Api, admin_token: str, ws_url: str) -> None:
    _, ann_token = make_user(api, admin_token, "Ann")
    bob, bob_token = make_user(api, admin_token, "Bob")
    create_project(api, ann_token, name="Shop")
    settle(api)
    bob_ws = Client(ws_url, bob_token)
    enroll = {"project_id": "shop", "action": "enroll", "user_id": bob["id"], "role": "member"}
    r = api.post("/memberships", token=ann_token, json=enroll)
    assert r.status == 201, r
    membership = r.json()["id"]
    settle(api)
    got = bob_ws.pushed()  # a member from that entry on: his own enrolment reaches him
    assert [m["detail_type"] for m in got] == ["Membership Changed"], got

    r = api.post(f"/memberships/{membership}/actions", token=ann_token, json={"action": "remove"})
    assert r.status == 200, r
    assert api.patch("/projects/shop", token=ann_token, json={"description": "x"}).status == 200
    settle(api)
    assert bob_ws.pushed() == []  # neither his removal nor what follows
    assert len(connection_items(api)) == 1  # still connected: he may be in other projects
    bob_ws.close()


def test_a_gone_connection_is_forgotten(api: Api, admin_token: str) -> None:
    """A connection item whose socket API Gateway no longer has (a $disconnect that never
    came): the push's post answers GoneException and the item goes."""
    from tenantry.domain import realtime

    context = realtime.authorize({"Authorization": f"Bearer {admin_token}"}, {})
    realtime.connect("gone0000conn=", context)
    assert [c["connection_id"] for c in connection_items(api)] == ["gone0000conn="]
    create_project(api, admin_token, name="Shop")
    settle(api)
    assert connection_items(api) == []


def test_a_connection_lives_two_hours_and_disconnect_forgets_it(
    api: Api, admin_token: str, ws_url: str
) -> None:
    user, token = make_user(api, admin_token)
    client = Client(ws_url, token)
    (item,) = connection_items(api)
    assert item["principal_id"] == user["id"] and item["GSI1PK"] == f"CONNS#user#{user['id']}"
    assert abs(int(item["expires_at"]) - (time.time() + 7200)) < 60  # TTL, as API Gateway's limit
    assert "token_hash" in item and token not in json.dumps(item)  # never the token itself
    client.close()
    wait_until(lambda: connection_items(api) == [])


def test_ping_is_answered_with_pong_and_anything_else_with_an_error(
    api: Api, admin_token: str, ws_url: str
) -> None:
    client = Client(ws_url, admin_token)
    client.ws.send(json.dumps({"action": "ping"}))
    assert json.loads(client.ws.recv(timeout=10)) == {"type": "pong"}
    client.ws.send("hello")
    answer = json.loads(client.ws.recv(timeout=10))
    assert answer["type"] == "error" and "ping" in answer["detail"]
    client.close()


def test_a_push_that_keeps_failing_is_retried_then_dead_lettered(
    api: Api, admin_token: str
) -> None:
    """PushRule invokes PushFunction asynchronously (local/lambda_async.py): a failing
    invocation is tried again EventInvokeConfig.MaximumRetryAttempts times, then the event
    goes to the function's dead-letter queue."""
    calls: list[str] = []

    def failing(event: dict[str, Any], context: Any) -> None:
        calls.append(event["detail"]["id"])
        raise RuntimeError("API Gateway unavailable")

    api.stack.set_handler("PushFunction", failing)
    create_project(api, admin_token, name="Shop")
    api.wait_for_executions()
    api.post("/projects/shop/actions", token=admin_token, json={"action": "suspend"})
    settle(api)
    assert calls[:3] == ["shop/1"] * 3  # the first try and two retries
    assert len(calls) == 3 * 5  # every event of the five the same way
    sqs = api.stack.client("sqs")
    url = api.stack.physical_id("PushDeadLetterQueue")
    dead = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        dead += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(json.loads(m["Body"])["detail"]["id"] for m in dead) == [
        f"shop/{n}" for n in (1, 2, 3, 4, 5)
    ]
    attributes = dead[0]["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"] == "API Gateway unavailable"


def _readme_client() -> str:
    """The ```python block of the README's "Realtime updates" section."""
    from local.template import ROOT

    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Realtime updates\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readmes_python_client_prints_the_pong_then_each_event(
    api: Api, admin_token: str, ws_url: str, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "client.py"
    script.write_text(_readme_client())
    env = {**os.environ, "TENANTRY_WS": ws_url, "TENANTRY_TOKEN": admin_token}
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"type": "pong"}
        create_project(api, admin_token, name="Shop")
        settle(api)
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        assert lines[0] == "Project Status Changed shop/1 created"
        assert lines[3] == "Project Status Changed shop/4 provisioned"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_with_no_connection_open_a_push_reads_one_item_and_nothing_else(
    api: Api, admin_token: str, ws_url: str
) -> None:
    """Between sessions nobody listens: each event's push is one Query of at most one item
    (CONNS#all), not the admins', the members' and each member's partitions."""
    from tenantry.dal.access import ALL_CONNECTIONS
    from tenantry.domain import realtime
    from tests.integration.lists import reads

    _, owner = make_user(api, admin_token, "Quiet Owner")
    project = create_project(api, owner, name="Quiet Shop")
    settle(api)
    event = {"detail": {"project_id": project["id"], "id": f"{project['id']}/1", "seq": 1}}
    with reads(api) as seen:
        assert realtime.push(event) == realtime.Pushed(0, 0, 0)
    (query,) = seen.queries()
    assert query.params["IndexName"] == ALL_CONNECTIONS.index and query.params["Limit"] == 1

    listener = Client(ws_url, owner)
    try:
        with reads(api) as seen:
            realtime.push({**event, "detail-type": "Project Changed", "source": "tenantry"})
        assert len(seen.queries()) > 1  # someone listens: the audience is read
    finally:
        listener.close()
    # every index a push reads is one PushFunction's role may Query (moto checks no IAM)
    statements = [
        s
        for policy in template.function_properties("PushFunction").get("Policies", [])
        for s in policy.get("Statement", [])
        if "dynamodb:Query" in s["Action"]
    ]
    allowed = {str(r["Fn::Sub"]).rsplit("/", 1)[-1] for s in statements for r in s["Resource"]}
    used = {q.params["IndexName"] for q in seen.queries()} | {ALL_CONNECTIONS.index}
    assert used <= allowed, used - allowed
