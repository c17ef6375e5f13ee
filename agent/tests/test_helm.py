"""The real executor (ClusterExecutor: fake Kubernetes API, recording fake `helm`) driven by
the real loop against the fake Tenantry API: what helm is run with, what it is given, what
comes back, and that secrets go to the values file and nowhere else."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from tenantry_agent.cluster import ClusterExecutor
from tenantry_agent.executor import Canceled, Chart, ExecutorError, Release
from tenantry_agent.helm import Helm, in_cluster_kubeconfig, reason_from
from tests.fake_helm import FakeHelm
from tests.fake_kube import FakeKube
from tests.fake_tenantry import CHART, SECRET, TOKEN, FakeTenantry, deployment_task, wait_until

DEPLOYER = "system:serviceaccount:payments:tenantry-deployer"
OWNED = {"tenantry.io/project": "payments"}


def outcome(tenantry: FakeTenantry, item_id: str):
    return tenantry.item(item_id).outcome


def finished(tenantry: FakeTenantry, item_id: str, timeout: float = 10.0):
    wait_until(lambda: outcome(tenantry, item_id) is not None, timeout=timeout)
    return outcome(tenantry, item_id)


@pytest.fixture
def project(kube: FakeKube) -> None:
    kube.add_namespace("payments", OWNED)


def test_install_runs_helm_upgrade_install_with_the_rendered_values(
    tenantry: FakeTenantry,
    kube: FakeKube,
    project,
    fake_helm: FakeHelm,
    cluster,
    kubeconfig,
    start_agent,
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    (call,) = fake_helm.calls()
    argv = call["argv"]
    values_file = argv[argv.index("--values") + 1]
    assert argv == [
        "upgrade",
        "--install",
        "web",
        CHART["ref"],
        "--version",
        "1.2.3",
        "--namespace",
        "payments",
        "--values",
        values_file,
        "--reset-values",
        "--atomic",
        "--wait",
        "--timeout",
        "300s",
        "--kubeconfig",
        str(kubeconfig),
        "--kube-as-user",
        DEPLOYER,
    ]
    assert call["values"] == {
        "replicas": 2,
        "image": {"tag": "v1", "pullPolicy": "Always"},
        "ingress": {"enabled": True},
        "tenantry": {
            "project": "payments",
            "env": "production",
            "deployment": "web",
            "secrets": {"db": {"password": SECRET}},
        },
        "nodeSelector": {"pool": "apps"},
        "tolerations": [{"key": "apps", "operator": "Exists", "effect": "NoSchedule"}],
    }
    assert call["values_mode"] == "0o600" and call["values_dir_mode"] == "0o700"
    assert not Path(values_file).exists() and not Path(values_file).parent.exists()
    # the namespace's deployer, which helm impersonates
    assert ("payments", "serviceaccounts", "tenantry-deployer") in kube.objects
    binding = kube.objects[("payments", "rolebindings", "tenantry-deployer")]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "admin",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tenantry-deployer", "namespace": "payments"}
    ]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "Install",
            {"helm_chart_id": "chart-1", "config": {"replicas": 1}, "values_override": None},
        ),
        (
            "Upgrade",
            {"helm_chart_id": "chart-1", "prev_helm_chart_id": "chart-0", "config_delta": {}},
        ),
        ("Recreate", {"old_cluster_id": "a", "new_cluster_id": "b", "step": "install"}),
    ],
)
def test_every_install_operation_is_upgrade_install(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent, operation, params
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task(operation, params))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    (call,) = fake_helm.calls()
    assert call["argv"][:3] == ["upgrade", "--install", "web"]


def test_a_redelivered_install_runs_helm_again_safely(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    finished(tenantry, item_id)
    tenantry.redeliver(item_id)
    assert finished(tenantry, item_id) == ("Done", None)
    first, second = fake_helm.calls()
    assert first["argv"][:3] == second["argv"][:3] == ["upgrade", "--install", "web"]
    assert first["values"] == second["values"]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Uninstall", {}),
        ("Recreate", {"old_cluster_id": "a", "new_cluster_id": "b", "step": "uninstall"}),
    ],
)
def test_uninstall(
    tenantry: FakeTenantry,
    project,
    fake_helm: FakeHelm,
    cluster,
    kubeconfig,
    start_agent,
    operation,
    params,
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task(operation, params))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    (call,) = fake_helm.calls()
    assert call["argv"] == [
        "uninstall",
        "web",
        "--namespace",
        "payments",
        "--wait",
        "--timeout",
        "300s",
        "--kubeconfig",
        str(kubeconfig),
        "--kube-as-user",
        DEPLOYER,
    ]
    assert call["values"] is None


def test_uninstall_of_a_missing_release_is_done(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    fake_helm.behave(
        "uninstall",
        exit=1,
        stderr="Error: uninstall: Release not loaded: web: release: not found\n",
    )
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Uninstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    assert len(fake_helm.calls()) == 1


def test_uninstall_in_a_namespace_that_is_gone_is_done_without_helm(
    tenantry: FakeTenantry, fake_helm: FakeHelm, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Uninstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    assert fake_helm.calls() == []


def test_install_into_a_missing_namespace_fails(
    tenantry: FakeTenantry, fake_helm: FakeHelm, cluster, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Failed", "namespace payments does not exist")
    assert fake_helm.calls() == []


@pytest.mark.parametrize("labels", [{}, {"tenantry.io/project": "ledger"}])
def test_nothing_is_done_in_a_namespace_that_is_not_the_projects(
    tenantry: FakeTenantry, kube: FakeKube, fake_helm: FakeHelm, cluster, start_agent, labels
):
    kube.add_namespace("payments", labels)
    ids = [
        tenantry.add("DeploymentTask", "payments", **deployment_task(op, params))
        for op, params in [
            ("Reinstall", {}),
            ("Uninstall", {}),
            ("RestartK8sResource", {"kind": "Deployment", "name": "web"}),
            ("InvokeAction", {"helm_chart_id": "chart-1", "action_id": "flush-cache"}),
        ]
    ]
    start_agent(cluster)
    for item_id in ids:
        status, reason = finished(tenantry, item_id)
        assert status == "Failed"
        assert "it is not Tenantry's namespace for project payments" in reason
    assert fake_helm.calls() == []
    assert kube.mutations() == []


# --- failures -------------------------------------------------------------------------------


def test_a_helm_failure_is_reported_with_its_last_error_line(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    fake_helm.behave(
        "upgrade",
        exit=1,
        stderr=(
            "WARNING: Kubernetes configuration file is group-readable.\n"
            "Error: UPGRADE FAILED: release web failed, and has been rolled back due to atomic "
            "being set: context deadline exceeded\n"
            "\n"
        ),
    )
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id) == (
        "Failed",
        "helm upgrade --install: UPGRADE FAILED: release web failed, and has been rolled back "
        "due to atomic being set: context deadline exceeded",
    )


def test_reasons_from_helm_are_one_short_line():
    assert reason_from("uninstall", "", 3) == "helm uninstall: exit status 3"
    assert reason_from("x", "panic: boom\ngoroutine 1 [running]:\n\tmain.go:1\n", 2) == (
        "helm x: main.go:1"
    )
    assert reason_from("x", "Error: \x1b[31mred\x1b[0m\n", 1) == "helm x: red"
    long = reason_from("x", "Error: " + "y" * 1000, 1)
    assert len(long) == 300 and long.endswith("...")


def test_secrets_never_leave_the_values_file(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent, caplog, monkeypatch
):
    monkeypatch.setenv("TENANTRY_AGENT_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    # helm (or the API server behind it) echoes a secret in its error, raw and in base64
    import base64

    encoded = base64.b64encode(SECRET.encode()).decode()
    fake_helm.behave(
        "upgrade",
        exit=1,
        stderr=f'Error: Secret "db" is invalid: data[password]: "{SECRET}" / {encoded}\n',
    )
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    status, reason = finished(tenantry, item_id)
    assert status == "Failed"
    assert reason == (
        'helm upgrade --install: Secret "db" is invalid: data[password]: "[redacted]" / [redacted]'
    )
    (call,) = fake_helm.calls()
    assert call["values"]["tenantry"]["secrets"] == {"db": {"password": SECRET}}  # there only
    assert not any(SECRET in arg for arg in call["argv"])
    assert not any(SECRET in value for value in call["env"].values())
    assert not any(key.startswith("TENANTRY_") for key in call["env"])
    assert TOKEN not in json.dumps(call["env"])
    sent = json.dumps(tenantry.requests)
    assert SECRET not in sent and encoded not in sent
    assert SECRET not in caplog.text and encoded not in caplog.text


def test_secrets_are_not_in_the_log_of_a_successful_install(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent, caplog
):
    caplog.set_level(logging.DEBUG)
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    finished(tenantry, item_id)
    assert "helm upgrade --install web oci://" in caplog.text
    assert SECRET not in caplog.text


# --- slow helm: leases, cancel, timeouts ----------------------------------------------------


def test_leases_are_extended_during_a_slow_helm(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    tenantry.lease_seconds = 1.5
    fake_helm.behave("upgrade", sleep=3.0)
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    assert finished(tenantry, item_id, timeout=15) == ("Done", None)
    assert tenantry.item(item_id).attempt == 1  # never handed out again
    assert len(tenantry.calls("/agent/work/{id}/heartbeat")) >= 4


def test_cancel_requested_stops_a_slow_helm(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    tenantry.lease_seconds = 1.2
    fake_helm.behave("upgrade", sleep=60)
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(cluster)
    wait_until(lambda: fake_helm.calls())
    started = time.monotonic()
    tenantry.request_cancel(item_id)
    assert finished(tenantry, item_id) == ("Failed", "canceled")
    assert time.monotonic() - started < 5
    assert fake_helm.terminated()  # SIGTERM first: helm rolls back what it started
    assert not fake_helm.running()
    (call,) = fake_helm.calls()
    values_file = call["argv"][call["argv"].index("--values") + 1]
    assert not Path(values_file).parent.exists()


def test_a_helm_that_ignores_sigterm_is_killed(helm: Helm, fake_helm: FakeHelm, kube: FakeKube):
    fake_helm.behave("upgrade", sleep=60, ignore_term=True)
    cancel = threading.Event()
    release = Release("web", "payments", "payments")
    chart = Chart(CHART["ref"], "1.2.3")
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Canceled):
        helm.upgrade_install(release, chart, {"a": 1}, cancel=cancel)
    assert 1.0 <= time.monotonic() - started < 5  # kill_grace is 1 s
    assert fake_helm.terminated() and not fake_helm.running()


def test_a_helm_that_outlives_its_deadline_is_stopped(fake_helm: FakeHelm, tmp_path: Path):
    fake_helm.behave("uninstall", sleep=60)
    helm = Helm(str(fake_helm.path), timeout=1, margin=0.5, kill_grace=0.5, poll_interval=0.02)
    with pytest.raises(ExecutorError, match=r"^helm did not finish within 1.5s; stopped it$"):
        helm.uninstall(Release("web", "payments", "payments"), cancel=threading.Event())
    assert not fake_helm.running()


def test_a_lost_lease_stops_helm_and_sends_no_result(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    tenantry.lease_seconds = 1.2
    fake_helm.behave("upgrade", sleep=60)
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    run = start_agent(cluster)
    wait_until(lambda: fake_helm.calls())
    tenantry.steal_lease(item_id)
    wait_until(lambda: not fake_helm.running(), timeout=5)
    wait_until(lambda: not run.agent.held)
    assert tenantry.calls("/agent/work/{id}/result") == []


def test_shutdown_releases_an_install_still_running(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    fake_helm.behave("upgrade", sleep=60)
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    run = start_agent(cluster, grace_seconds=0.3)
    wait_until(lambda: fake_helm.calls())
    assert run.stop() == 0
    item = tenantry.item(item_id)
    assert item.state == "queued" and item.releases == 1 and item.outcome is None
    assert fake_helm.terminated() and not fake_helm.running()  # stop waited for it


def test_shutdown_waits_a_little_for_a_helm_that_ignores_sigterm(
    tenantry: FakeTenantry, project, fake_helm: FakeHelm, cluster, start_agent
):
    fake_helm.behave("upgrade", sleep=60, ignore_term=True)
    tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    run = start_agent(cluster, grace_seconds=0.2, cancel_wait_seconds=5.0)
    wait_until(lambda: fake_helm.calls())
    started = time.monotonic()
    assert run.stop() == 0
    assert 1.0 <= time.monotonic() - started < 5  # kill_grace is 1 s, then SIGKILL
    assert not fake_helm.running()


# --- the binary and its configuration ----------------------------------------------------------


def test_a_missing_helm_binary_is_a_reason(kube_executor, kube: FakeKube, tmp_path: Path):
    from tenantry_agent.actions import ActionCaller

    kube.add_namespace("payments", OWNED)
    cluster = ClusterExecutor(
        kube_executor, Helm(str(tmp_path / "no-helm")), ActionCaller(), rbac_settle_seconds=0
    )
    with pytest.raises(ExecutorError, match=r"^cannot run .*no-helm \("):
        cluster.install_release(
            Release("web", "payments", "payments"),
            Chart(CHART["ref"], "1"),
            {},
            task_id="t",
            cancel=threading.Event(),
        )


def test_version(helm: Helm):
    assert helm.version() == "v3.20.0+gfake"


def test_in_cluster_kubeconfig_names_files_not_secrets(tmp_path: Path):
    path = in_cluster_kubeconfig(
        str(tmp_path), {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = json.loads(Path(path).read_text())
    assert config["clusters"][0]["cluster"] == {
        "server": "https://[fd00::1]:443",
        "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    }
    assert config["users"][0]["user"] == {
        "tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"
    }
