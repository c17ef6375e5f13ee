"""TenantryClient against the fake Tenantry API: typed results, errors mapped."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tenantry_agent.client import (
    Backoff,
    LeaseLost,
    Rejected,
    Retryable,
    TenantryClient,
    Unauthorized,
    retry_after_seconds,
    retrying,
)
from tests.fake_tenantry import TOKEN, FakeTenantry


@pytest.fixture
def client(tenantry: FakeTenantry):
    with TenantryClient(tenantry.url, TOKEN, timeout=5.0) as c:
        yield c


def test_heartbeat_sends_status_and_reads_the_cluster(
    tenantry: FakeTenantry, client: TenantryClient
):
    beat = client.heartbeat(is_ok=False, not_ok_reason="no API", agent_version="9.9")
    assert beat.cluster_id == tenantry.cluster_id
    assert abs((beat.server_time - datetime.now(UTC)).total_seconds()) < 5
    assert tenantry.heartbeats == [
        {"is_ok": False, "not_ok_reason": "no API", "agent_version": "9.9"}
    ]


def test_claim_returns_typed_items_oldest_first_without_secrets_in_repr(
    tenantry: FakeTenantry, client: TenantryClient
):
    first = tenantry.add(
        "CreateNamespace", "alpha", secrets=[{"name": "db", "contents": "hunter2"}]
    )
    second = tenantry.add("DeleteNamespace", "beta")
    items = client.claim(5)
    assert [i.id for i in items] == [first, second]
    assert (
        items[0].kind == "CreateNamespace"
        and items[0].namespace == "alpha"
        and items[0].attempt == 1
    )
    assert items[0].lease_expires_at > datetime.now(UTC) + timedelta(seconds=50)
    assert "hunter2" not in repr(items[0]) and items[0].lease_token not in repr(items[0])
    assert tenantry.calls("/agent/work/claim") == [{"limit": 5}]
    assert client.claim(5) == []


def test_lease_result_release_and_their_errors(tenantry: FakeTenantry, client: TenantryClient):
    tenantry.add("CreateNamespace")
    item = client.claim()[0]
    lease = client.extend_lease(item.id, item.lease_token)
    assert lease.cancel_requested is False and lease.lease_expires_at > datetime.now(UTC)
    with pytest.raises(LeaseLost) as err:
        client.extend_lease(item.id, "stale")
    assert err.value.status == 409 and "the lease is not yours" in str(err.value)
    client.report_result(item.id, item.lease_token, "Done")
    client.report_result(item.id, item.lease_token, "Done")  # the same result again: 200
    with pytest.raises(LeaseLost):
        client.report_result(item.id, item.lease_token, "Failed", "other outcome")
    with pytest.raises(LeaseLost):
        client.release(item.id, item.lease_token)
    with pytest.raises(LeaseLost) as err:
        client.extend_lease("no-such-item", "x")
    assert err.value.status == 404


def test_release_hands_the_item_back(tenantry: FakeTenantry, client: TenantryClient):
    item_id = tenantry.add("CreateNamespace")
    item = client.claim()[0]
    client.release(item.id, item.lease_token, "shutting down")
    again = client.claim()[0]
    assert again.id == item_id and again.attempt == 2 and again.lease_token != item.lease_token
    assert tenantry.calls("/agent/work/{id}/release") == [
        {"lease_token": item.lease_token, "reason": "shutting down"}
    ]


def test_bad_token_is_unauthorized(tenantry: FakeTenantry):
    with TenantryClient(tenantry.url, "wrong") as client, pytest.raises(Unauthorized) as err:
        client.heartbeat(is_ok=True)
    assert err.value.status == 401
    assert "wrong" not in str(err.value)


def test_token_callable_is_read_per_request(tenantry: FakeTenantry):
    tokens = iter(["wrong", TOKEN])
    with TenantryClient(tenantry.url, lambda: next(tokens)) as client:
        with pytest.raises(Unauthorized):
            client.heartbeat(is_ok=True)
        client.heartbeat(is_ok=True)


def test_throttling_and_busy_are_retryable_with_retry_after(
    tenantry: FakeTenantry, client: TenantryClient
):
    tenantry.fail_next(1, 429, retry_after=7)
    with pytest.raises(Retryable) as err:
        client.claim()
    assert err.value.status == 429 and err.value.retry_after == 7.0
    tenantry.fail_next(1, 503)
    with pytest.raises(Retryable) as err:
        client.heartbeat(is_ok=True)
    assert err.value.status == 503 and err.value.retry_after is None
    assert "503 Service Unavailable: backend busy" in str(err.value)


def test_other_client_errors_are_rejected(tenantry: FakeTenantry, client: TenantryClient):
    tenantry.fail_next(1, 422)
    with pytest.raises(Rejected):
        client.claim()


def test_no_answer_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with (
        TenantryClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2.0) as client,
        pytest.raises(Retryable) as err,
    ):
        client.claim()
    assert err.value.status == 0 and "no answer (ConnectError)" in str(err.value)


def test_connection_closed_without_answer_is_retryable(
    tenantry: FakeTenantry, client: TenantryClient
):
    tenantry.refuse_connections = True
    with pytest.raises(Retryable):
        client.heartbeat(is_ok=True)


def test_retry_after_parsing():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Tue, 01 Jan 2030 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 31 Dec 2029 00:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("100000") == 300.0


def test_backoff_grows_with_jitter_caps_and_honours_retry_after():
    low = Backoff(base=1.0, cap=8.0, rng=lambda: 0.0)
    assert [low.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    high = Backoff(base=1.0, cap=8.0, rng=lambda: 1.0)
    assert [high.next() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert Backoff(base=1.0, rng=lambda: 0.0).next(retry_after=20) == 20
    high.reset()
    assert high.next() == 1.0


def test_retrying_retries_transient_errors_then_returns(
    tenantry: FakeTenantry, client: TenantryClient
):
    tenantry.fail_next(3, 503)
    waits = []
    beat = retrying(
        lambda: client.heartbeat(is_ok=True),
        backoff=Backoff(base=0.01, rng=lambda: 0.0),
        on_retry=lambda exc, delay: waits.append(delay),
    )
    assert beat.cluster_id == tenantry.cluster_id
    assert waits == [0.005, 0.01, 0.02]


def test_retrying_gives_up_when_stopped_or_past_the_deadline(
    tenantry: FakeTenantry, client: TenantryClient
):
    tenantry.fail_next(100, 503)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Retryable):
        retrying(lambda: client.claim(), backoff=Backoff(base=0.05, cap=0.05), stop=stop)
    assert time.monotonic() - started < 2
    with pytest.raises(Retryable):
        retrying(lambda: client.claim(), backoff=Backoff(base=1.0), deadline=time.monotonic() + 0.1)
