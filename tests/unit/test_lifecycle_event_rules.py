"""Lifecycle events without AWS: which detail-type each history event gets (the README's
table), which stream records are history entries and what of them an event carries, and
how events are grouped into PutEvents calls and what is returned when EventBridge refuses
some (tenantry.event_bus, with a stand-in for the EventBridge client)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tenantry import event_bus
from tenantry.dal import history
from tenantry.domain import lifecycle_events
from tenantry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "layers" / "core" / "tenantry" / "domain"


@pytest.mark.parametrize(
    ("event", "to", "detail_type"),
    [
        ("created", "creating", "Project Status Changed"),
        ("created", "uninitialized", "Project Status Changed"),
        ("provisioned", "active", "Project Status Changed"),
        ("provisioning_failed", "failed", "Project Status Changed"),
        ("suspend", "suspended", "Project Status Changed"),
        ("delete_requested", "deleting", "Project Status Changed"),
        ("deleted", "deleted", "Project Status Changed"),
        ("application_approved", "creating", "Project Status Changed"),
        ("application_denied", "deleted", "Project Status Changed"),
        ("application_submitted", None, "Application Changed"),
        ("application_approved", None, "Application Changed"),
        ("updated", None, "Project Changed"),
        ("profile_updated", None, "Project Changed"),
        ("image_repository_created", None, "Project Changed"),
        ("git_repository_archived", None, "Project Changed"),
        ("namespaces_requested", None, "Project Changed"),
        ("create_workflow_stopped", None, "Project Changed"),
        ("membership_join", "requested", "Membership Changed"),
        ("membership_remove", "removed", "Membership Changed"),
        ("environments_created", None, "Environment Changed"),
        ("environment_permission_granted", None, "Environment Changed"),
        ("environments_removed", None, "Environment Changed"),
        ("secret_updated", None, "Secret Changed"),
        ("app_secret_rotated", None, "App Changed"),
        ("deployment_created", None, "Deployment Changed"),
        ("deployment_permission_revoked", None, "Deployment Changed"),
        ("deployments_removed", None, "Deployment Changed"),
        ("task_created", None, "Task Status Changed"),
        ("task_failed", None, "Task Status Changed"),
    ],
)
def test_the_detail_type_comes_from_the_history_event(
    event: str, to: str | None, detail_type: str
) -> None:
    assert lifecycle_events.detail_type({"event": event, "to": to}) == detail_type


def _event_names() -> set[str]:
    """The literal event names (and f-string prefixes) of every history.entry(...) call."""
    names = set()
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "entry"
                and len(node.args) >= 3
            ):
                continue
            arg = node.args[2]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                names.add(str(arg.values[0].value))
    return names


def test_every_entity_prefix_names_events_the_domain_writes() -> None:
    """The table matches what is written: each prefix is the start of some event name."""
    names = _event_names()
    assert {"created", "task_started", "membership_", "environment_created"} <= names
    for prefixes, _ in lifecycle_events.ENTITIES:
        for prefix in prefixes:
            assert any(n.startswith(prefix) for n in names), prefix


def test_the_readme_lists_every_detail_type() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Lifecycle events") :]
    for detail_type in lifecycle_events.DETAIL_TYPES:
        assert f"`{detail_type}`" in section, detail_type


def _record(name: str = "INSERT", sk: str = "HIST#000000000007", **image: Any) -> dict[str, Any]:
    item = {
        "PK": {"S": "PROJECT#shop"},
        "SK": {"S": sk},
        "entity": {"S": "history"},
        "at": {"S": "2025-01-15T10:00:00.000000Z"},
        "actor": {"S": "user:u1"},
        "event": {"S": "membership_accept"},
        "from": {"S": "requested"},
        "to": {"S": "accepted"},
        "detail": {"M": {"user_id": {"S": "u2"}, "removed": {"N": "2"}, "ok": {"BOOL": True}}},
        "seq": {"N": "7"},
        **image,
    }
    return {
        "eventName": name,
        "dynamodb": {
            "Keys": {"PK": item["PK"], "SK": item["SK"]},
            "NewImage": item,
            "SequenceNumber": "111",
        },
    }


def test_a_history_insert_is_the_entry_it_wrote_and_nothing_else() -> None:
    written = history.written(_record(extra={"S": "not in an event"}))
    assert written == {
        "project_id": "shop",
        "seq": 7,
        "at": "2025-01-15T10:00:00.000000Z",
        "actor": "user:u1",
        "event": "membership_accept",
        "from": "requested",
        "to": "accepted",
        "detail": {"user_id": "u2", "removed": 2, "ok": True},
    }
    event = lifecycle_events.event_of(written)
    assert (event.source, event.detail_type) == ("tenantry", "Membership Changed")
    assert event.detail == {"id": "shop/7", **written}
    assert event.time == "2025-01-15T10:00:00.000000Z"


@pytest.mark.parametrize(
    "record",
    [
        _record("MODIFY"),
        _record("REMOVE"),
        _record(sk="HIST#provisional#ab12"),
        _record(sk="HIST#7"),
        _record(sk="MEMBER#u2"),
        _record(entity={"S": "member"}),
        _record(PK={"S": "USER#u1"}),
        {"eventName": "INSERT", "dynamodb": {"Keys": {"SK": {"S": "HIST#000000000001"}}}},
        {},
    ],
)
def test_other_records_are_no_history_entry(record: dict[str, Any]) -> None:
    assert history.written(record) is None


def _entries(*sizes: int) -> list[dict[str, Any]]:
    return [
        event_bus.Event("tenantry", "Project Changed", {"x": "a" * n}).entry("bus") for n in sizes
    ]


def test_calls_hold_at_most_ten_entries_and_256_kb() -> None:
    assert [len(b) for b in event_bus.batches(_entries(*[10] * 25))] == [10, 10, 5]
    big = 100 * 1024
    assert list(event_bus.batches(_entries(big, big, big, 10))) == [[0, 1], [2, 3]]
    assert list(event_bus.batches(_entries(300 * 1024, 10))) == [[0], [1]]
    entry = _entries(5)[0]
    assert event_bus.size(entry) == len("tenantry") + len("Project Changed") + len(
        entry["Detail"].encode()
    )


def test_an_entry_carries_its_time_and_compact_json() -> None:
    event = event_bus.Event("tenantry", "Project Changed", {"é": 1}, "2025-01-15T10:00:00Z")
    entry = event.entry("bus")
    assert entry["EventBusName"] == "bus" and entry["Detail"] == '{"é":1}'
    assert entry["Time"].isoformat() == "2025-01-15T10:00:00+00:00"
    assert event_bus.size(entry) == 14 + len("tenantryProject Changed") + len('{"é":1}'.encode())


class FakeEvents:
    """Stands in for the EventBridge client: answers each call from `answers`."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> Any:  # boto3's parameter name
        self.calls.append(Entries)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"Entries": [a or {"EventId": "e"} for a in answer(Entries)]}


def _put(fake: FakeEvents, n: int, bus: str = "tenantry-events") -> list[int]:
    events = [event_bus.Event("tenantry", "Project Changed", {"n": i}) for i in range(n)]
    with (
        mock.patch.object(event_bus, "_events", lambda: fake),
        mock.patch.object(event_bus, "get_settings", lambda: Settings(event_bus_name=bus)),
    ):
        return event_bus.put(events)


def test_the_entries_eventbridge_refuses_are_returned_and_the_other_calls_go_out() -> None:
    throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
    refused = ClientError({"Error": {"Code": "AccessDeniedException"}}, "PutEvents")
    fake = FakeEvents(
        lambda entries: [None, throttled, *[None] * 7, throttled],
        refused,
        EndpointConnectionError(endpoint_url="https://events"),
        lambda entries: [None] * len(entries),
    )
    assert _put(fake, 35) == [1, 9, *range(10, 30)]
    assert [len(c) for c in fake.calls] == [10, 10, 10, 5]
    assert all(e["EventBusName"] == "tenantry-events" for c in fake.calls for e in c)
    assert [json.loads(e["Detail"])["n"] for e in fake.calls[3]] == list(range(30, 35))


def test_without_a_bus_nothing_is_put() -> None:
    with pytest.raises(RuntimeError, match="EVENT_BUS_NAME"):
        _put(FakeEvents(), 1, bus="")


def test_the_sample_batch_is_two_history_entries() -> None:
    sample = json.loads((ROOT / "events/stream/StreamEventSourceMapping.json").read_text())
    entries = [history.written(r) for r in sample["Records"]]
    assert [e and e["event"] for e in entries] == ["provisioned", "membership_accept"]
    assert all(re.fullmatch(r"[0-9]+", r["dynamodb"]["SequenceNumber"]) for r in sample["Records"])
