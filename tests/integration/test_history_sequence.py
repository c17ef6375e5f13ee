"""A project's history is an event log numbered by a per-project sequence
(tenantry/dal/history.py): every entry is written with its change, its key is its number,
numbers are given in commit order, and a writer that raced another takes the next number.
So a client paging the history never misses an entry that commits after its last page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import create_active, make_user


def entries(api: Api, project_id: str) -> list[dict[str, Any]]:
    ddb = api.stack.client("dynamodb")
    table = api.stack.table_names()["TenantryTable"]
    resp = ddb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :h)",
        ExpressionAttributeValues={":pk": {"S": f"PROJECT#{project_id}"}, ":h": {"S": "HIST#"}},
        ConsistentRead=True,
    )
    return list(resp["Items"])


def project_item(api: Api, project_id: str) -> dict[str, Any]:
    ddb = api.stack.client("dynamodb")
    table = api.stack.table_names()["TenantryTable"]
    key = {"PK": {"S": f"PROJECT#{project_id}"}, "SK": {"S": "PROJECT"}}
    return dict(ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])


def history(api: Api, token: str, project_id: str, **query: Any) -> Any:
    r = api.get(f"/projects/{project_id}/history", token=token, query=query)
    assert r.status == 200, r
    return r.json()


def test_entries_are_numbered_one_by_one_in_commit_order(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    _, token = make_user(api, admin_token, "Owner")
    project = create_active(api, token, wait_until, name="Sequenced")
    pid = project["id"]
    for i in range(3):
        r = api.patch(f"/projects/{pid}", token=token, json={"description": f"v{i}"})
        assert r.status == 200, r

    items = entries(api, pid)
    sks = [i["SK"]["S"] for i in items]
    assert sks == [f"HIST#{n:012d}" for n in range(1, len(items) + 1)], sks
    assert [int(i["seq"]["N"]) for i in items] == list(range(1, len(items) + 1))
    assert int(project_item(api, pid)["history_seq"]["N"]) == len(items)
    events = [h["event"] for h in history(api, token, pid, limit=100)["items"]]
    assert events == [i["event"]["S"] for i in items]
    assert events[0] == "created" and events[-3:] == ["updated"] * 3


def test_a_writer_that_raced_another_takes_the_next_number(
    api: Api, admin_token: str, wait_until: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a suspend's read and its write, a membership change commits an entry (and
    leaves the project's version as it was): the suspend's transaction fails on the
    sequence only, reads it again and takes the next number. Nothing is lost, nothing
    numbered twice, and the client gets 200."""
    from tenantry.dal import projects as store

    _, token = make_user(api, admin_token, "Owner")
    other, _ = make_user(api, admin_token, "Other")
    pid = create_active(api, token, wait_until, name="Raced")["id"]
    before = len(entries(api, pid))

    real_get = store.get_with_member
    raced = []

    def get_then_race(project_id: str, principal_id: str) -> Any:
        found = real_get(project_id, principal_id)
        if not raced:
            raced.append(True)
            r = api.post(
                "/memberships",
                token=admin_token,
                json={"project_id": pid, "action": "enroll", "user_id": other["id"]},
            )
            assert r.status == 201, r
        return found

    monkeypatch.setattr(store, "get_with_member", get_then_race)
    r = api.post(f"/projects/{pid}/actions", token=admin_token, json={"action": "suspend"})
    assert r.status == 200, r
    assert raced

    items = entries(api, pid)
    assert len(items) == before + 2
    assert [i["SK"]["S"] for i in items] == [f"HIST#{n:012d}" for n in range(1, before + 3)]
    assert [i["event"]["S"] for i in items[-2:]] == ["membership_enroll", "suspend"]


def test_paging_while_entries_are_written_misses_none(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    """One entry per page, a new entry written after each page: following the cursor
    yields every entry exactly once, the late ones included."""
    _, token = make_user(api, admin_token, "Owner")
    pid = create_active(api, token, wait_until, name="Paged")["id"]
    seen: list[str] = []
    cursor = None
    for i in range(12):
        query: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = history(api, token, pid, **query)
        seen += [f"{h['at']}|{h['event']}" for h in page["items"]]
        if i < 6:
            r = api.patch(f"/projects/{pid}", token=token, json={"description": f"d{i}"})
            assert r.status == 200, r
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert not cursor, "the history should have been read to its end"
    everything = [f"{h['at']}|{h['event']}" for h in history(api, token, pid, limit=100)["items"]]
    assert seen == everything
    assert len(set(seen)) == len(seen)
