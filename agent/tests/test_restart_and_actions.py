"""RestartK8sResource (the real `kubernetes` client against the fake API) and InvokeAction
(an in-test HTTP server) through the real executor and the real loop."""

from __future__ import annotations

import logging

import pytest

from tests.fake_kube import FakeKube
from tests.fake_service import FakeService
from tests.fake_tenantry import SECRET, FakeTenantry, deployment_task, wait_until

DEPLOYER = "system:serviceaccount:payments:tenantry-deployer"


def finished(tenantry: FakeTenantry, item_id: str, timeout: float = 10.0):
    wait_until(lambda: tenantry.item(item_id).outcome is not None, timeout=timeout)
    return tenantry.item(item_id).outcome


@pytest.fixture
def project(kube: FakeKube) -> None:
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})


def restart(kind: str = "Deployment", name: str = "web") -> dict:
    return deployment_task("RestartK8sResource", {"resource_id": "r1", "kind": kind, "name": name})


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_restart_annotates_the_pod_template_as_the_deployer(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent, kind
):
    kube.add_workload("payments", kind, "web")
    task = restart(kind)
    item_id = tenantry.add("DeploymentTask", "payments", **task)
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    annotations = kube.annotations("payments", kind, "web")
    assert annotations["tenantry.io/restart-task"] == task["task"]["id"]
    assert annotations["kubectl.kubernetes.io/restartedAt"].endswith("Z")
    resource = {"Deployment": "deployments", "StatefulSet": "statefulsets"}[kind]
    path = f"/apis/apps/v1/namespaces/payments/{resource}/web"
    assert kube.impersonated == [("GET", path, DEPLOYER), ("PATCH", path, DEPLOYER)]
    # the rest of the object is untouched (a merge patch of the annotations only)
    template = kube.objects[("payments", resource, "web")]["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "example/app:1"


def test_a_redelivered_restart_does_not_restart_again(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    kube.add_workload("payments", "Deployment", "web")
    item_id = tenantry.add("DeploymentTask", "payments", **restart())
    start_agent(cluster)
    finished(tenantry, item_id)
    first = kube.annotations("payments", "Deployment", "web")
    tenantry.redeliver(item_id)
    assert finished(tenantry, item_id) == ("Done", None)
    assert kube.annotations("payments", "Deployment", "web") == first
    assert [m for m, _, _ in kube.impersonated] == ["GET", "PATCH", "GET"]


def test_restart_of_a_missing_workload_fails(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **restart("StatefulSet", "db"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == (
        "Failed",
        "no such StatefulSet db in namespace payments",
    )


def test_restart_refused_by_rbac_is_a_short_reason(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    kube.add_workload("payments", "Deployment", "web")
    cluster.kube.ensure_deployer("payments")
    # someone emptied the deployer's binding: it exists (409), but grants nothing
    kube.objects[("payments", "rolebindings", "tenantry-deployer")]["subjects"] = []
    item_id = tenantry.add("DeploymentTask", "payments", **restart())
    start_agent(cluster)
    status, reason = finished(tenantry, item_id)
    assert status == "Failed"
    assert reason == (
        "Kubernetes API answered 403 to read Deployment web: "
        f'User "{DEPLOYER}" cannot get deployments'
    )


# --- actions ----------------------------------------------------------------------------------


def action(action_id: str, body=None) -> dict:
    return deployment_task(
        "InvokeAction", {"helm_chart_id": "chart-1", "action_id": action_id, "body": body}
    )


def test_an_action_calls_the_release_service_with_the_body(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent
):
    task = action("flush-cache", {"keys": ["a", "b"]})
    item_id = tenantry.add("DeploymentTask", "payments", **task)
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    ((method, path, headers, body),) = service.requests
    assert (method, path, body) == ("POST", "/payments/web/80/admin/flush", {"keys": ["a", "b"]})
    assert headers["Idempotency-Key"] == task["task"]["id"]
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


def test_an_action_on_a_named_service_and_port(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **action("reindex"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    ((method, path, _, body),) = service.requests
    assert (method, path, body) == ("PUT", "/payments/web-api/8080/jobs/reindex?full=1", None)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (503, "action flush-cache: POST web:80/admin/flush answered 503 Service Unavailable"),
        (302, "action flush-cache: POST web:80/admin/flush answered 302 Found"),
        (404, "action flush-cache: POST web:80/admin/flush answered 404 Not Found"),
    ],
)
def test_an_action_answered_with_anything_but_2xx_fails(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent, status, reason
):
    service.status = status
    item_id = tenantry.add("DeploymentTask", "payments", **action("flush-cache"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Failed", reason)
    assert len(service.requests) == 1  # a redirect is not followed


def test_a_slow_action_times_out(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent
):
    service.delay = 2.0
    item_id = tenantry.add("DeploymentTask", "payments", **action("flush-cache"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == (
        "Failed",
        "action flush-cache: POST web:80/admin/flush did not answer within 1s",
    )


def test_an_unreachable_action_is_a_short_reason(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent
):
    service.close()
    item_id = tenantry.add("DeploymentTask", "payments", **action("flush-cache"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == (
        "Failed",
        "action flush-cache: POST web:80/admin/flush unreachable (ConnectError)",
    )


def test_an_unknown_action_fails_without_a_call(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **action("self-destruct"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Failed", "the chart has no action 'self-destruct'")
    assert service.requests == []


def test_an_action_body_is_not_logged(
    tenantry: FakeTenantry, project, service: FakeService, cluster, start_agent, caplog
):
    caplog.set_level(logging.DEBUG)
    item_id = tenantry.add("DeploymentTask", "payments", **action("flush-cache", {"token": SECRET}))
    start_agent(cluster)
    finished(tenantry, item_id)
    assert "action flush-cache: POST web:80/admin/flush in namespace payments" in caplog.text
    assert SECRET not in caplog.text
    assert "response bodies are never logged" not in caplog.text
