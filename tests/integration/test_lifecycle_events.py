"""Lifecycle events end to end: the table's stream, read as the template's event source
mapping reads it (local/stream_delivery.py), through StreamFunction, onto the stack's
EventBridge bus, to a subscriber's rule and its SQS queue, as an integrator would set it
up. A project's whole life, a membership's, an environment's, a deployment's and its
tasks' arrive in order, one event per history entry; no secret reaches an event; an entry
EventBridge refuses is put again; a record that keeps failing is reported to the
dead-letter queue while the others go on.

Contract: API.md "Events, realtime, console, CLI"; README "Lifecycle events".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from tenantry.domain import lifecycle_events
from tests.agent_double import TestAgent
from tests.catalog_seed import seed_chart
from tests.harness import Api, deliver_stream, wait_until
from tests.integration.helpers import make_user

SECRET_CONTENTS = "correct horse battery staple"


class Subscriber:
    """A rule on the stack's bus (every event of source `tenantry`) with an SQS queue as
    its target: what a subscriber deploys."""

    def __init__(self, api: Api, pattern: dict[str, Any] | None = None) -> None:
        self.api = api
        self.sqs, events = api.stack.client("sqs"), api.stack.client("events")
        self.queue = self.sqs.create_queue(QueueName="subscriber")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        bus = api.stack.physical_id("EventBus")
        events.put_rule(
            Name="subscriber",
            EventBusName=bus,
            EventPattern=json.dumps(pattern or {"source": ["tenantry"]}),
        )
        events.put_targets(
            Rule="subscriber",
            EventBusName=bus,
            Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
        )

    def received(self) -> list[dict[str, Any]]:
        """Deliver what the stream holds, then everything the queue got, in order."""
        deliver_stream(self.api)
        out = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in messages:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return out


@pytest.fixture
def subscriber(api: Api) -> Subscriber:
    return Subscriber(api)


def _history(api: Api, token: str, project_id: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        r = api.get(f"/projects/{project_id}/history", token=token, query=query)
        assert r.status == 200, r
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


def _of(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == detail_type]


def _dead_letters(api: Api) -> list[dict[str, Any]]:
    sqs = api.stack.client("sqs")
    url = api.stack.physical_id("StreamDeadLetterQueue")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _live_a_life(api: Api, admin: str) -> None:
    """Project `shop` from creation to its tombstone, on a cluster whose agent does the
    work: a member who joins and is removed, an environment made, changed and deleted, a
    secret, a deployment installed, upgraded and deleted (each change a task)."""
    agent = TestAgent.register(api, admin, "east")
    body = {"name": "Shop", "environments": ["dev"], "clusters": [{"name": "east", "quota": {}}]}
    assert api.post("/projects", token=admin, json=body).status == 202
    agent.do_all("Done")
    wait_until(lambda: api.get("/projects/shop", token=admin).json()["status"] == "active")

    _, bob = make_user(api, admin, "Bob")
    r = api.post("/memberships", token=bob, json={"project_id": "shop", "action": "join"})
    assert r.status == 201, r
    membership = r.json()["id"]
    for action in ("accept", "remove"):
        r = api.post(f"/memberships/{membership}/actions", token=admin, json={"action": action})
        assert r.status == 200, r

    r = api.post("/projects/shop/environments", token=admin, json={"name": "staging"})
    assert r.status == 201, r
    staging = r.json()["id"]
    r = api.patch(
        f"/projects/shop/environments/{staging}",
        token=admin,
        json={"node_selector": {"pool": "general"}},
    )
    assert r.status == 200, r
    secret = {"collection": "db", "name": "password", "contents": SECRET_CONTENTS}
    r = api.post(f"/projects/shop/environments/{staging}/secrets", token=admin, json=secret)
    assert r.status == 201, r
    assert api.delete(f"/projects/shop/environments/{staging}", token=admin).status == 204

    dev = api.get("/projects/shop/environments", token=admin).json()["items"][0]["id"]
    chart = seed_chart()
    deployment = {
        "kind_id": "kind-web",
        "cluster_id": agent.cluster_id,
        "env_id": dev,
        "helm_chart_id": chart["id"],
        "config": {},
    }
    r = api.post("/projects/shop/deployments", token=admin, json=deployment)
    assert r.status == 201, r
    path = f"/projects/shop/deployments/{r.json()['id']}"
    agent.do_all("Done")  # Install
    wait_until(lambda: api.get(path, token=admin).json()["status"] == "Running")
    r = api.patch(path, token=admin, json={"config": {"replicas": 3}})
    assert r.status == 200, r
    agent.do_all("Done")  # Upgrade
    wait_until(lambda: api.get(path, token=admin).json()["status"] == "Running")
    assert api.delete(path, token=admin).status == 202
    agent.do_all("Done")  # Uninstall
    wait_until(lambda: api.get(path, token=admin).status == 404)

    assert api.delete("/projects/shop?reclaim=true", token=admin).status == 202
    agent.do_all("Done")  # DeleteNamespace
    wait_until(lambda: api.get("/projects/shop", token=admin).json()["status"] == "deleted")
    api.wait_for_executions()


def test_a_projects_whole_life_arrives_in_order_one_event_per_history_entry(
    api: Api, admin_token: str, subscriber: Subscriber
) -> None:
    _live_a_life(api, admin_token)
    events = subscriber.received()
    history = _history(api, admin_token, "shop")

    # One event per history entry, in the order they were committed, carrying it.
    assert [e["detail"]["id"] for e in events] == [f"shop/{n}" for n in range(1, len(history) + 1)]
    for event, entry in zip(events, history, strict=True):
        assert event["source"] == "tenantry"
        assert event["detail-type"] == lifecycle_events.detail_type(entry)
        detail = event["detail"]
        assert detail["project_id"] == "shop"
        assert {k: detail[k] for k in ("event", "from", "to", "actor", "at", "detail")} == {
            "event": entry["event"],
            "from": entry.get("from"),
            "to": entry.get("to"),
            "actor": entry["actor"],
            "at": entry["at"],
            "detail": entry.get("detail"),
        }
        assert event["time"].startswith(entry["at"][:19])  # EventBridge's time: the change's

    statuses = _of(events, "Project Status Changed")
    assert [(s["event"], s["from"], s["to"]) for s in statuses] == [
        ("created", None, "creating"),
        ("provisioned", "creating", "active"),
        ("delete_requested", "active", "deleting"),
        ("deleted", "deleting", "deleted"),
    ]
    memberships = _of(events, "Membership Changed")
    assert [(m["event"], m["from"], m["to"]) for m in memberships] == [
        ("membership_join", None, "requested"),
        ("membership_accept", "requested", "accepted"),
        ("membership_remove", "accepted", "removed"),
    ]
    assert [e["event"] for e in _of(events, "Environment Changed")] == [
        "environments_created",
        "environment_created",
        "environment_updated",
        "environment_deleted",
        "environments_removed",
    ]
    assert [e["event"] for e in _of(events, "Deployment Changed")] == [
        "deployment_created",
        "deployment_updated",
        "deployment_delete_requested",
    ]
    tasks = _of(events, "Task Status Changed")
    assert [t["event"] for t in tasks] == ["task_started", "task_done"] * 3
    assert [e["event"] for e in _of(events, "Secret Changed")] == ["secret_created"]
    assert not any(e["detail"]["event"] == "provisioning_failed" for e in events)
    assert _dead_letters(api) == []


def test_no_secret_reaches_an_event(api: Api, admin_token: str, subscriber: Subscriber) -> None:
    _live_a_life(api, admin_token)
    events = subscriber.received()
    assert _of(events, "Secret Changed")
    for event in events:
        assert SECRET_CONTENTS not in json.dumps(event)
        for text in ("contents", "sealed", "ciphertext", "client_secret", "token"):
            assert text not in json.dumps(event["detail"]).lower(), event


@pytest.fixture
def refusing(api: Api) -> Iterator[Callable[[Callable[[dict[str, Any]], bool]], list[str]]]:
    """Make EventBridge refuse the entries `refuse(detail)` picks (InternalFailure, as a
    throttled or failing entry is answered); returns the ids refused, as they are."""
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events
    refused: list[str] = []
    picks: list[Callable[[dict[str, Any]], bool]] = []

    def put_events(backend: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any] | None] = []
        taken = []
        for entry in entries:
            detail = json.loads(entry["Detail"])
            if any(pick(detail) for pick in picks):
                refused.append(detail["id"])
                out.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                taken.append(entry)
                out.append(None)
        answers = iter(original(backend, taken) if taken else [])
        return [o or next(answers) for o in out]

    def install(pick: Callable[[dict[str, Any]], bool]) -> list[str]:
        picks.append(pick)
        return refused

    with mock.patch.object(EventsBackend, "put_events", put_events):
        yield install


def test_an_entry_eventbridge_refuses_is_put_again(
    api: Api, admin_token: str, subscriber: Subscriber, refusing: Any
) -> None:
    once: set[str] = set()

    def first_time(detail: dict[str, Any]) -> bool:
        if detail["event"] == "image_repository_created" and detail["id"] not in once:
            once.add(detail["id"])
            return True
        return False

    refused = refusing(first_time)
    assert api.post("/projects", token=admin_token, json={"name": "Shop"}).status == 202
    api.wait_for_executions()
    ids = [e["detail"]["id"] for e in subscriber.received()]

    assert refused == ["shop/3"]
    # Every entry arrives (the refused one once it is put again); the entries after it in
    # its batch were put twice: at least once, the id tells a subscriber they are the same.
    assert set(ids) == {"shop/1", "shop/2", "shop/3", "shop/4"}
    assert ids.count("shop/3") == 1 and ids.index("shop/3") > ids.index("shop/4")
    assert ids.count("shop/4") == 2
    (reader,) = api.stack.stream_readers
    assert reader.invocations == 2 and reader.dead_lettered == 0
    assert _dead_letters(api) == []


def test_a_record_that_keeps_failing_lands_in_the_dead_letter_queue(
    api: Api, admin_token: str, subscriber: Subscriber, refusing: Any
) -> None:
    refusing(lambda detail: detail["event"] == "image_repository_created")
    assert api.post("/projects", token=admin_token, json={"name": "Shop"}).status == 202
    api.wait_for_executions()
    ids = [e["detail"]["id"] for e in subscriber.received()]
    (reader,) = api.stack.stream_readers
    retries = reader.mapping.max_retries
    assert retries == 10  # the template's MaximumRetryAttempts

    (dead,) = _dead_letters(api)
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert dead["requestContext"]["approximateInvokeCount"] == retries + 1
    assert dead["requestContext"]["functionArn"].endswith(":function:StreamFunction")
    info = dead["DDBStreamBatchInfo"]
    assert info["streamArn"] == reader.mapping.stream_arn and info["shardId"] == reader.shard_id
    # The batch given up starts at the failing record (the ones before it were done).
    assert info["batchSize"] == 2 and int(info["endSequenceNumber"]) > int(
        info["startSequenceNumber"]
    )
    assert "shop/3" not in ids and {"shop/1", "shop/2", "shop/4"} <= set(ids)
    assert reader.invocations == 1 + retries and reader.pending == []

    # Reading went on: the next change is delivered as usual.
    r = api.patch("/projects/shop", token=admin_token, json={"description": "Cards"})
    assert r.status == 200, r
    assert [e["detail"]["event"] for e in subscriber.received()] == ["updated"]


def test_a_rule_sees_only_what_its_pattern_matches(api: Api, admin_token: str) -> None:
    statuses = Subscriber(
        api,
        {
            "source": ["tenantry"],
            "detail-type": ["Project Status Changed"],
            "detail": {"to": ["active"]},
        },
    )
    assert api.post("/projects", token=admin_token, json={"name": "Shop"}).status == 202
    api.wait_for_executions()
    (event,) = statuses.received()
    assert event["detail"]["event"] == "provisioned" and event["detail"]["id"] == "shop/4"
