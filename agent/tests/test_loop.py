"""The agent's loop against the fake Tenantry API, through the real client."""

from __future__ import annotations

import time

from tenantry_agent.executor import ExecutorError
from tests.fake_tenantry import FakeTenantry, wait_until
from tests.recording import RecordingExecutor

FAST = {"backoff_base": 0.02, "backoff_cap": 0.2}


def outcome(tenantry: FakeTenantry, item_id: str):
    return tenantry.item(item_id).outcome


def test_create_namespace_is_done(tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent):
    item_id = tenantry.add("CreateNamespace", "payments")
    run = start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Done", None)
    assert recorder.calls == [
        (
            "create_namespace",
            "payments",
            "payments",
            {"tenantry.io/project": "payments", "app.kubernetes.io/managed-by": "tenantry"},
        )
    ]
    assert run.stop() == 0
    assert tenantry.heartbeats[0] == {"is_ok": True, "agent_version": "0.1.0"}
    assert run.agent.cluster_id == tenantry.cluster_id


def test_delete_namespace_is_done(tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent):
    item_id = tenantry.add("DeleteNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Done", None)
    assert recorder.calls == [("delete_namespace", "payments", "payments")]


def test_executor_failure_is_reported_with_its_reason(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.error = ExecutorError(
        "namespace payments exists and is not labelled\n tenantry.io/project"
    )
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == (
        "Failed",
        "namespace payments exists and is not labelled tenantry.io/project",
    )


def test_unexpected_errors_report_no_internals(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.error = RuntimeError("password=hunter2 at line 3")
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Failed", "the agent failed unexpectedly (RuntimeError)")


def test_unsupported_kinds_fail_with_a_clear_reason(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    task = tenantry.add(
        "DeploymentTask", "payments", release_name="web", task={"operation": {"Frobnicate": {}}}
    )
    sync = tenantry.add("ResourceSync", "payments", release_name="web")  # no resource
    other = tenantry.add("RebootCluster", "payments")
    bad = tenantry.add("CreateNamespace", "payments", namespace="Not_A_Label")
    start_agent(recorder)
    wait_until(lambda: all(outcome(tenantry, i) for i in (task, sync, other, bad)))
    assert outcome(tenantry, task) == (
        "Failed",
        "this agent version does not support the Frobnicate operation",
    )
    assert outcome(tenantry, sync) == ("Failed", "the work item carries no resource")
    assert outcome(tenantry, other) == (
        "Failed",
        "this agent version does not support RebootCluster",
    )
    assert outcome(tenantry, bad) == ("Failed", "namespace 'Not_A_Label' is not a valid DNS label")
    assert recorder.calls == []


def test_leases_are_extended_during_slow_work(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.lease_seconds = 1.5
    recorder.delay = 3.0
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None, timeout=15)
    assert outcome(tenantry, item_id) == ("Done", None)
    assert tenantry.item(item_id).attempt == 1  # never handed out again
    assert len(tenantry.calls("/agent/work/{id}/heartbeat")) >= 4  # about every 0.5 s


def test_lost_lease_stops_the_work_and_sends_no_result(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.lease_seconds = 1.2
    recorder.delay = 5.0
    item_id = tenantry.add("CreateNamespace", "payments")
    run = start_agent(recorder)
    wait_until(recorder.started.is_set)
    tenantry.steal_lease(item_id)
    wait_until(recorder.canceled.is_set, timeout=5)
    wait_until(lambda: not run.agent.held)
    time.sleep(0.3)
    assert tenantry.calls("/agent/work/{id}/result") == []
    assert tenantry.calls("/agent/work/{id}/release") == []


def test_cancel_requested_stops_the_work_and_reports_canceled(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.lease_seconds = 1.2
    recorder.delay = 10.0
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(recorder.started.is_set)
    tenantry.request_cancel(item_id)
    wait_until(lambda: outcome(tenantry, item_id) is not None, timeout=5)
    assert outcome(tenantry, item_id) == ("Failed", "canceled")
    assert recorder.canceled.is_set()


def test_duplicate_delivery_is_safe_with_the_kube_executor(
    tenantry: FakeTenantry, kube, kube_executor, start_agent
):
    create = tenantry.add("CreateNamespace", "payments")
    start_agent(kube_executor)
    wait_until(lambda: outcome(tenantry, create) is not None)
    uid = kube.namespaces["payments"]["metadata"]["uid"]
    tenantry.redeliver(create)
    wait_until(lambda: outcome(tenantry, create) is not None)
    assert outcome(tenantry, create) == ("Done", None)
    assert tenantry.item(create).attempt == 2
    assert kube.namespaces["payments"]["metadata"]["uid"] == uid

    delete = tenantry.add("DeleteNamespace", "payments")
    wait_until(lambda: outcome(tenantry, delete) is not None)
    tenantry.redeliver(delete)
    wait_until(lambda: outcome(tenantry, delete) is not None)
    assert outcome(tenantry, delete) == ("Done", None)
    assert "payments" not in kube.namespaces
    create_calls = [
        ("POST", "/api/v1/namespaces"),
        ("POST", "/api/v1/namespaces/payments/serviceaccounts"),
        ("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings"),
    ]
    assert kube.mutations() == [
        *create_calls,
        *create_calls,
        ("DELETE", "/api/v1/namespaces/payments"),
    ]


def test_api_down_then_up_backs_off_then_makes_progress(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.refuse_connections = True
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder, backoff_base=0.05, backoff_cap=0.4)
    time.sleep(1.5)
    tries = tenantry.refused
    # 0.05, 0.1, 0.2, 0.4, 0.4 ... (half to all of it): a handful of tries, not a busy loop
    assert 3 <= tries <= 12, tries
    assert recorder.calls == []
    tenantry.refuse_connections = False
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Done", None)


def test_busy_bursts_are_retried_everywhere(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.fail_next(3, 503)  # the first heartbeat
    item_id = tenantry.add("CreateNamespace", "payments")
    recorder.delay = 0.5
    start_agent(recorder, **FAST)
    wait_until(recorder.started.is_set)
    tenantry.fail_next(4, 503, retry_after=0)  # lease extensions, heartbeats, the result
    wait_until(lambda: outcome(tenantry, item_id) is not None, timeout=10)
    assert outcome(tenantry, item_id) == ("Done", None)


def test_result_is_retried_until_it_lands(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.delay = 0.3
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder, **FAST)
    wait_until(recorder.started.is_set)
    tenantry.refuse_connections = True
    time.sleep(0.8)
    assert outcome(tenantry, item_id) is None
    tenantry.refuse_connections = False
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Done", None)


def test_concurrency_bounds_held_items(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.delay = 0.3
    ids = [tenantry.add("CreateNamespace", f"p{i}") for i in range(5)]
    run = start_agent(recorder, concurrency=2)
    most = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(outcome(tenantry, i) for i in ids):
        most = max(most, len(run.agent.held))
        time.sleep(0.01)
    assert all(outcome(tenantry, i) == ("Done", None) for i in ids)
    assert most == 2
    assert all(body["limit"] <= 2 for body in tenantry.calls("/agent/work/claim"))


def test_a_cluster_that_is_not_ok_is_reported_and_gets_no_work(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.not_ok = "the Kubernetes API is unreachable (ConnectError)"
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: len(tenantry.heartbeats) >= 2)
    assert tenantry.heartbeats[0] == {
        "is_ok": False,
        "not_ok_reason": "the Kubernetes API is unreachable (ConnectError)",
        "agent_version": "0.1.0",
    }
    assert tenantry.calls("/agent/work/claim") == []
    recorder.not_ok = None
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert tenantry.heartbeats[-1]["is_ok"] is True


def test_a_refused_token_at_start_exits_2(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    run = start_agent(recorder, token="wrong")
    run.thread.join(5)
    assert run.code == 2
    assert tenantry.calls("/agent/work/claim") == []


def test_stop_lets_in_flight_work_finish_within_the_grace_period(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.delay = 0.5
    item_id = tenantry.add("CreateNamespace", "payments")
    run = start_agent(recorder, grace_seconds=5.0)
    wait_until(recorder.started.is_set)
    assert run.stop() == 0
    assert outcome(tenantry, item_id) == ("Done", None)
    assert tenantry.calls("/agent/work/{id}/release") == []


def test_stop_releases_work_still_held_after_the_grace_period(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    recorder.delay = 30.0
    item_id = tenantry.add("CreateNamespace", "payments")
    run = start_agent(recorder, grace_seconds=0.3)
    wait_until(recorder.started.is_set)
    started = time.monotonic()
    assert run.stop() == 0
    assert time.monotonic() - started < 3
    item = tenantry.item(item_id)
    assert item.state == "queued" and item.releases == 1 and item.outcome is None
    (body,) = tenantry.calls("/agent/work/{id}/release")
    assert body["reason"] == "the agent is shutting down"
    assert tenantry.calls("/agent/work/{id}/result") == []


def test_leases_are_read_on_the_servers_clock(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    # The server's clock is 2 minutes ahead: read on the local clock, a 1.5 s lease would
    # look like 121.5 s and not be extended in time.
    tenantry.clock_offset = 120.0
    tenantry.lease_seconds = 1.5
    recorder.delay = 2.5
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None, timeout=15)
    assert outcome(tenantry, item_id) == ("Done", None)
    assert tenantry.item(item_id).attempt == 1
    assert 3 <= len(tenantry.calls("/agent/work/{id}/heartbeat")) <= 15


def test_an_unusable_work_item_is_skipped_and_the_rest_done(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    tenantry.extra_items = [{"kind": "CreateNamespace"}, "nonsense"]
    item_id = tenantry.add("CreateNamespace", "payments")
    start_agent(recorder)
    wait_until(lambda: outcome(tenantry, item_id) is not None)
    assert outcome(tenantry, item_id) == ("Done", None)
