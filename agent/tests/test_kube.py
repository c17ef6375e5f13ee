"""KubeExecutor with the real `kubernetes` client against the fake API server."""

from __future__ import annotations

import threading

import pytest

from tenantry_agent.executor import ExecutorError, namespace_labels
from tenantry_agent.kube import KubeExecutor
from tests.fake_kube import FakeKube

LABELS = namespace_labels("payments")
CREATE = [
    ("POST", "/api/v1/namespaces"),
    ("POST", "/api/v1/namespaces/payments/serviceaccounts"),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings"),
]


def go() -> threading.Event:
    return threading.Event()


def test_create_makes_the_namespace_with_tenantry_labels(
    kube: FakeKube, kube_executor: KubeExecutor
):
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    labels = kube.namespaces["payments"]["metadata"]["labels"]
    assert labels["tenantry.io/project"] == "payments"
    assert labels["app.kubernetes.io/managed-by"] == "tenantry"
    assert "Bearer fake-kube-token" in kube.tokens


def test_create_twice_is_create_if_absent(kube: FakeKube, kube_executor: KubeExecutor):
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    uid = kube.namespaces["payments"]["metadata"]["uid"]
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert kube.namespaces["payments"]["metadata"]["uid"] == uid
    assert kube.mutations() == CREATE * 2  # the deployer's objects exist: 409s, no change


def test_create_adds_missing_tenantry_labels_to_its_own_namespace(
    kube: FakeKube, kube_executor: KubeExecutor
):
    kube.add_namespace("payments", {"tenantry.io/project": "payments", "team": "a"})
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    labels = kube.namespaces["payments"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "tenantry"
    assert labels["team"] == "a"
    assert ("PATCH", "/api/v1/namespaces/payments") in kube.mutations()


@pytest.mark.parametrize(
    ("labels", "found"),
    [
        ({}, "not labelled tenantry.io/project"),
        ({"tenantry.io/project": "other"}, "labelled tenantry.io/project=other"),
    ],
)
def test_create_refuses_a_namespace_that_is_not_the_projects(
    kube: FakeKube, kube_executor: KubeExecutor, labels, found
):
    kube.add_namespace("payments", labels)
    with pytest.raises(ExecutorError) as err:
        kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert str(err.value) == (
        f"namespace payments exists and is {found}; refusing to take over it "
        "(it is not Tenantry's namespace for project payments)"
    )
    assert kube.mutations() == [("POST", "/api/v1/namespaces")]
    assert kube.namespaces["payments"]["metadata"]["labels"].get(
        "tenantry.io/project"
    ) == labels.get("tenantry.io/project")


def test_create_while_the_namespace_is_terminating_fails_with_a_reason(
    kube: FakeKube, kube_executor: KubeExecutor
):
    kube.add_namespace("payments", {"tenantry.io/project": "payments"}, phase="Terminating")
    with pytest.raises(
        ExecutorError, match="namespace payments is still being deleted; try again once it is gone"
    ):
        kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())


def test_api_errors_become_short_reasons(kube: FakeKube, kube_executor: KubeExecutor):
    kube.fail_next(1, 403)
    with pytest.raises(ExecutorError) as err:
        kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert (
        str(err.value)
        == "Kubernetes API answered 403 to create namespace payments: injected failure 403"
    )


def test_unreachable_api_is_a_short_reason(kubeconfig, tmp_path):
    text = kubeconfig.read_text()
    port = text.split("127.0.0.1:")[1].split()[0]
    dead = tmp_path / "dead"
    dead.write_text(text.replace(f"127.0.0.1:{port}", "127.0.0.1:9"))
    executor = KubeExecutor.from_config(kubeconfig=str(dead), request_timeout=2.0)
    with pytest.raises(ExecutorError) as err:
        executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert str(err.value).startswith("Kubernetes API unreachable to create namespace payments (")
    assert "\n" not in str(err.value)
    assert executor.check().startswith("the Kubernetes API is unreachable (")


def test_delete_removes_the_projects_namespace(kube: FakeKube, kube_executor: KubeExecutor):
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})
    kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert "payments" not in kube.namespaces
    method, path, body = kube.requests[-1]
    assert (method, path) == ("DELETE", "/api/v1/namespaces/payments")
    assert body["preconditions"]["uid"]
    assert body["propagationPolicy"] == "Background"


def test_delete_of_a_missing_namespace_is_done(kube: FakeKube, kube_executor: KubeExecutor):
    kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert kube.mutations() == []


def test_delete_twice_while_terminating_is_done(kube: FakeKube, kube_executor: KubeExecutor):
    kube.terminating = True
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})
    kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert kube.namespaces["payments"]["status"]["phase"] == "Terminating"
    kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert kube.mutations() == [("DELETE", "/api/v1/namespaces/payments")]
    kube.finish_deletions()
    kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert kube.mutations() == [("DELETE", "/api/v1/namespaces/payments")]


def test_delete_of_a_namespace_recreated_meanwhile_is_refused_by_uid(
    kube: FakeKube, kube_executor: KubeExecutor
):
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})
    real_read = kube_executor._core.read_namespace

    def read_then_recreate(name, **kwargs):
        found = real_read(name, **kwargs)
        kube.add_namespace("payments", {"tenantry.io/project": "payments"})  # a new uid
        return found

    kube_executor._core.read_namespace = read_then_recreate
    with pytest.raises(
        ExecutorError, match="namespace payments changed while being deleted; try again"
    ):
        kube_executor.delete_namespace("payments", "payments", cancel=go())
    assert "payments" in kube.namespaces


@pytest.mark.parametrize("labels", [{}, {"tenantry.io/project": "other"}])
def test_delete_refuses_a_namespace_that_is_not_the_projects(
    kube: FakeKube, kube_executor: KubeExecutor, labels
):
    kube.add_namespace("kube-system", labels)
    with pytest.raises(ExecutorError, match="refusing to delete it"):
        kube_executor.delete_namespace("kube-system", "payments", cancel=go())
    assert "kube-system" in kube.namespaces
    assert kube.mutations() == []


def test_check_reads_version(kube: FakeKube, kube_executor: KubeExecutor):
    assert kube_executor.check() is None
    kube.fail_next(1, 500)
    assert kube_executor.check() == "the Kubernetes API answered 500 to GET /version"


def test_create_makes_the_namespace_deployer(kube: FakeKube, kube_executor: KubeExecutor):
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert kube.mutations() == CREATE
    account = kube.objects[("payments", "serviceaccounts", "tenantry-deployer")]
    assert account["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "tenantry"}
    binding = kube.objects[("payments", "rolebindings", "tenantry-deployer")]
    assert binding["roleRef"]["name"] == "admin"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tenantry-deployer", "namespace": "payments"}
    ]
    assert kube_executor.ensure_deployer("payments") is False  # both exist: 409s


def test_a_deployer_refused_by_rbac_does_not_fail_the_namespace(
    kube: FakeKube, kube_executor: KubeExecutor, caplog
):
    real = kube_executor._core.create_namespaced_service_account

    def forbidden(*args, **kwargs):
        kube.fail_next(1, 403)
        return real(*args, **kwargs)

    kube_executor._core.create_namespaced_service_account = forbidden
    kube_executor.create_namespace("payments", "payments", LABELS, cancel=go())
    assert "payments" in kube.namespaces
    assert (
        "namespace payments is ready but its deployer is not (Kubernetes API answered 403 to "
        "create service account tenantry-deployer in payments: injected failure 403)"
    ) in caplog.text
