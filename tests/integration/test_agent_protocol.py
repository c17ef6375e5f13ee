"""The agent protocol over HTTP: who may call it, heartbeats and cluster health, claims
under leases (expiry, release, max attempts), idempotent results, stale tokens, and claims
racing each other.

Work items are queued through the dal here (a workflow would queue them and wait; the
workflow side is tests/workflows/test_namespaces_workflow.py). Time moves by patching the
protocol's clock, so a lease expires without waiting for it.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.agent_double import TestAgent
from tests.harness import Api

LEASE = 60  # AgentLeaseSeconds (default)
MAX_ATTEMPTS = 3  # AgentWorkMaxAttempts (default)


def queue(agent: TestAgent, n: int = 1, kind: str = "DeploymentTask") -> list[str]:
    from tenantry.clock import new_id, now_iso
    from tenantry.dal import work

    ids = []
    for _ in range(n):
        now = now_iso()
        work_id = new_id()
        work.put_new(
            {
                "id": work_id,
                "kind": kind,
                "cluster_id": agent.cluster_id,
                "cluster_name": agent.name,
                "project_id": "shop",
                "namespace": "shop",
                "state": "Queued",
                "attempt": 0,
                "expired_leases": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        ids.append(work_id)
    return ids


class Clock:
    """Moves the protocol's clock (tenantry.domain.work) forward."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tenantry import clock
        from tenantry.domain import work

        self.offset = timedelta()
        real = clock.now_iso

        def shifted(delta: timedelta | None = None) -> str:
            moment = datetime.now(UTC) + self.offset + (delta or timedelta())
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        assert real  # the domain reads its clock through this name
        monkeypatch.setattr(work, "now_iso", shifted)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def agent(api: Api, admin_token: str) -> TestAgent:
    return TestAgent.register(api, admin_token, "east")


# --- who may call ---------------------------------------------------------------------------


def test_the_agent_token_opens_the_agent_routes_and_nothing_else(
    api: Api, admin_token: str, agent: TestAgent
) -> None:
    assert agent.heartbeat().status == 200
    for path in ("/auth/me", "/projects", f"/clusters/{agent.cluster_id}"):
        r = api.get(path, token=agent.token)
        assert r.status == 403, r
        assert "agent token cannot call this route" in r.json()["detail"], r
    r = api.post("/agent/heartbeat", token=admin_token, json={"is_ok": True})
    assert r.status == 403, r  # not even a platform admin's token opens them
    assert api.post("/agent/heartbeat", json={"is_ok": True}).status == 401


def test_the_agent_token_is_shown_once_stored_hashed_and_rotation_stops_the_old_one(
    api: Api, admin_token: str, agent: TestAgent
) -> None:
    r = api.get(f"/clusters/{agent.cluster_id}", token=admin_token)
    assert "agent_token" not in r.json()
    from tenantry.dal import table

    items = table.client().scan(TableName=table.table_name())["Items"]
    assert agent.token not in repr(items)

    r = api.post(f"/clusters/{agent.cluster_id}/agent-token", token=admin_token, json={})
    assert r.status == 201, r
    new = r.json()["agent_token"]
    assert new != agent.token
    assert agent.heartbeat().status == 401  # at once
    assert api.post("/agent/heartbeat", token=new, json={"is_ok": True}).status == 200


def test_a_retried_registration_replays_without_the_token(api: Api, admin_token: str) -> None:
    key = {"Idempotency-Key": "register-north"}
    first = api.post("/clusters", token=admin_token, json={"name": "north"}, headers=key)
    again = api.post("/clusters", token=admin_token, json={"name": "north"}, headers=key)
    assert first.status == again.status == 201
    assert first.json()["agent_token"] and again.json()["agent_token"] is None
    assert first.json()["id"] == again.json()["id"]
    taken = api.post("/clusters", token=admin_token, json={"name": "north"})
    assert taken.status == 409, taken


def test_an_agent_sees_only_its_own_clusters_work(api: Api, admin_token: str) -> None:
    east = TestAgent.register(api, admin_token, "east")
    west = TestAgent.register(api, admin_token, "west")
    queue(east)
    (item,) = east.claim()
    assert west.claim() == []
    for r in (west.extend(item), west.report(item), west.release(item)):
        assert r.status == 404, r


# --- heartbeats and health ------------------------------------------------------------------


def test_health_follows_heartbeats_and_silence(
    api: Api, admin_token: str, agent: TestAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cluster() -> dict[str, Any]:
        return dict(api.get(f"/clusters/{agent.cluster_id}", token=admin_token).json())

    assert cluster()["is_ok"] is False and "never connected" in cluster()["not_ok_reason"]
    ack = agent.heartbeat(agent_version="0.3.1").json()
    assert ack["cluster_id"] == agent.cluster_id and ack["heartbeat_seconds"] == 30
    seen = cluster()
    assert seen["is_ok"] is True and seen["last_seen_at"] and seen["agent_version"] == "0.3.1"

    agent.heartbeat(False, not_ok_reason="kubelet on 2 nodes not ready")
    assert cluster()["not_ok_reason"] == "kubelet on 2 nodes not ready"

    agent.heartbeat(True)
    from tenantry.domain import clusters

    later = datetime.now(UTC) + timedelta(seconds=3 * 30 + 5)
    monkeypatch.setattr(clusters, "datetime", _FrozenDatetime(later))
    silent = cluster()
    assert silent["is_ok"] is False
    assert "no heartbeat from the cluster's agent" in silent["not_ok_reason"], silent


class _FrozenDatetime:
    """datetime with `now()` fixed (strptime and the rest as usual)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self, tz: Any = None) -> datetime:
        return self.moment

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


# --- leases ---------------------------------------------------------------------------------


def test_a_leased_item_comes_back_only_after_its_lease_with_a_new_token(
    agent: TestAgent, clock: Clock
) -> None:
    (work_id,) = queue(agent)
    (first,) = agent.claim()
    assert (first["id"], first["attempt"]) == (work_id, 1)
    assert agent.claim() == []  # leased
    assert agent.extend(first).status == 200

    clock.advance(LEASE + 1)
    (second,) = agent.claim()
    assert second["id"] == work_id and second["attempt"] == 2
    assert second["lease_token"] != first["lease_token"]
    # the first holder's lease is gone: every use of it is 409
    for r in (agent.extend(first), agent.report(first), agent.release(first)):
        assert r.status == 409, r
    assert agent.report(second).status == 200


def test_a_lease_extension_keeps_the_item(agent: TestAgent, clock: Clock) -> None:
    queue(agent)
    (item,) = agent.claim()
    for _ in range(3):
        clock.advance(LEASE - 10)
        r = agent.extend(item)
        assert r.status == 200, r
        assert r.json()["cancel_requested"] is False
        assert agent.claim() == []
    assert agent.report(item).status == 200


def test_a_released_item_is_claimable_at_once(agent: TestAgent) -> None:
    queue(agent)
    (item,) = agent.claim()
    assert agent.release(item).status == 204
    (again,) = agent.claim()
    assert again["id"] == item["id"] and again["attempt"] == 2


def test_after_max_attempts_expired_leases_the_item_fails_saying_so(
    api: Api, agent: TestAgent, clock: Clock
) -> None:
    (work_id,) = queue(agent)
    held = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (held,) = agent.claim()
        assert held["attempt"] == attempt
        clock.advance(LEASE + 1)
    assert agent.claim() == []  # given up, not handed out a fourth time
    assert held is not None
    r = agent.report(held)
    assert r.status == 409 and "already finished as Failed" in r.text, r
    from tenantry.dal import work

    item = work.get(work_id)
    assert item is not None and item["state"] == "Failed"
    assert item["outcome"]["reason"] == (
        f"the agent did not finish the work within {MAX_ATTEMPTS} leases of {LEASE} s each"
    )


# --- results ----------------------------------------------------------------------------------


def test_the_same_result_twice_is_200_and_another_outcome_is_409(agent: TestAgent) -> None:
    queue(agent)
    (item,) = agent.claim()
    first = agent.report(item, "Failed", "image pull backoff")
    again = agent.report(item, "Failed", "image pull backoff")
    assert first.status == again.status == 200
    assert first.json() == again.json()
    assert first.json()["reason"] == "image pull backoff"
    other = agent.report(item, "Done")
    assert other.status == 409, other


def test_bad_bodies_are_422_not_500(agent: TestAgent, api: Api) -> None:
    queue(agent)
    (item,) = agent.claim()
    for body in ({}, {"lease_token": ""}, {"lease_token": item["lease_token"], "status": "Maybe"}):
        r = api.post(f"/agent/work/{item['id']}/result", token=agent.token, json=body)
        assert r.status == 422, r
    r = api.post("/agent/work/claim", token=agent.token, json={"limit": 11})
    assert r.status == 422, r
    r = api.post(
        "/agent/work/no-such-item/result",
        token=agent.token,
        json={"lease_token": "x", "status": "Done"},
    )
    assert r.status == 404, r


# --- concurrent claims ------------------------------------------------------------------------


def test_concurrent_claims_never_hand_out_an_item_twice(agent: TestAgent) -> None:
    """Four agents of one cluster claim at once until the queue is empty: every item is
    held by exactly one of them (the conditional write on the item decides)."""
    queued = set(queue(agent, 24))
    got: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        while True:
            items = agent.claim(3)
            if not items:
                return
            with lock:
                got.extend(i["id"] for i in items)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Counter(got).most_common(1)[0][1] == 1, Counter(got)
    assert set(got) == queued


def test_two_claims_reading_the_same_candidates_lease_each_item_once(
    agent: TestAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index read is eventually consistent: two claims may both see an item. The
    second one's conditional write loses, and it moves on to the next candidate."""
    from tenantry.dal import work

    queue(agent, 2)
    real = work.claimable
    snapshot = real(agent.cluster_id, "9999-12-31T00:00:00.000000Z", 10)
    monkeypatch.setattr(work, "claimable", lambda *a, **k: [dict(i) for i in snapshot])
    (a,) = agent.claim(1)
    (b,) = agent.claim(1)  # sees a's item as queued, loses on it, takes the other
    assert a["id"] != b["id"]
    assert agent.claim(1) == []
