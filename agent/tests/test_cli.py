"""The real `tenantry-agent` console command in a subprocess, against the fake Tenantry API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tenantry_agent.local import start_dry_run
from tests.fake_tenantry import CHART, SECRET, TOKEN, FakeTenantry, deployment_task, wait_until

COMMAND = shutil.which("tenantry-agent", path=str(Path(sys.executable).parent))


def agent_process(
    tenantry: FakeTenantry, *args: str, token: str | None = TOKEN, log_path: Path
) -> subprocess.Popen:
    assert COMMAND, "tenantry-agent is not installed in this venv (make agent-venv)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    if token is not None:
        env["TENANTRY_AGENT_TOKEN"] = token
    env["TENANTRY_URL"] = tenantry.url
    log = log_path.open("wb")
    return subprocess.Popen(
        [COMMAND, "--heartbeat-seconds", "1", "--poll-seconds", "0.05", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_dry_run_logs_what_it_would_do_and_reports_done(tenantry: FakeTenantry, tmp_path: Path):
    create = tenantry.add("CreateNamespace", "payments")
    delete = tenantry.add("DeleteNamespace", "ledger")
    log = tmp_path / "agent.log"
    process = agent_process(tenantry, "--dry-run", log_path=log)
    try:
        wait_until(
            lambda: tenantry.item(create).outcome and tenantry.item(delete).outcome, timeout=20
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert tenantry.item(create).outcome == ("Done", None)
    assert tenantry.item(delete).outcome == ("Done", None)
    text = log.read_text()
    assert (
        "dry-run: would create namespace payments "
        "(labels app.kubernetes.io/managed-by=tenantry,tenantry.io/project=payments) unless it exists"
    ) in text
    assert (
        "dry-run: would delete namespace ledger if it is labelled tenantry.io/project=ledger"
        in text
    )
    assert TOKEN not in text


def test_sigterm_releases_held_work_and_exits_0(tenantry: FakeTenantry, tmp_path: Path):
    item_id = tenantry.add("CreateNamespace", "payments")
    log = tmp_path / "agent.log"
    process = agent_process(
        tenantry, "--dry-run", "--dry-run-delay", "60", "--grace-seconds", "0.5", log_path=log
    )
    try:
        wait_until(
            lambda: "dry-run: would create namespace payments" in log.read_text(), timeout=20
        )
        assert tenantry.item(item_id).state == "leased"
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    item = tenantry.item(item_id)
    assert item.state == "queued" and item.releases == 1 and item.outcome is None
    assert tenantry.calls("/agent/work/{id}/result") == []
    text = log.read_text()
    assert "SIGTERM: stopping" in text and "released (the agent is shutting down)" in text


def test_no_token_is_a_usage_error(tenantry: FakeTenantry, tmp_path: Path):
    log = tmp_path / "agent.log"
    process = agent_process(tenantry, "--dry-run", token=None, log_path=log)
    assert process.wait(20) == 1
    assert (
        "no agent token: set TENANTRY_AGENT_TOKEN or TENANTRY_AGENT_TOKEN_FILE" in log.read_text()
    )


def test_a_refused_token_exits_2_without_logging_it(tenantry: FakeTenantry, tmp_path: Path):
    log = tmp_path / "agent.log"
    process = agent_process(tenantry, "--dry-run", token="tnt_wrong_secret", log_path=log)
    assert process.wait(20) == 2
    text = log.read_text()
    assert "the agent token was refused" in text and "tnt_wrong_secret" not in text


def test_token_file_is_read(tenantry: FakeTenantry, tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    item_id = tenantry.add("CreateNamespace", "payments")
    log = tmp_path / "agent.log"
    process = agent_process(
        tenantry, "--dry-run", "--token-file", str(token_file), token=None, log_path=log
    )
    try:
        wait_until(lambda: tenantry.item(item_id).outcome is not None, timeout=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()


@pytest.mark.parametrize("python", [None, sys.executable])
def test_local_start_dry_run_for_make_run(tenantry: FakeTenantry, tmp_path: Path, python):
    item_id = tenantry.add("CreateNamespace", "demo")
    log = (tmp_path / "agent.log").open("wb")
    agent = start_dry_run(tenantry.url, TOKEN, poll_seconds=0.05, python=python, stderr=log)
    try:
        wait_until(lambda: tenantry.item(item_id).outcome is not None, timeout=20)
        assert tenantry.heartbeats[0]["is_ok"] is True
    finally:
        assert agent.stop() == 0
    assert tenantry.item(item_id).outcome == ("Done", None)


def test_local_needs_only_the_standard_library():
    """The repository's main venv imports tenantry_agent.local without the agent's pins."""
    import ast

    package = Path(__file__).resolve().parents[1] / "tenantry_agent"
    for name in ("__init__.py", "local.py"):
        tree = ast.parse((package / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (name, module)


def test_dry_run_logs_deployment_tasks_without_secret_contents(
    tenantry: FakeTenantry, tmp_path: Path
):
    ids = [
        tenantry.add("DeploymentTask", "payments", **deployment_task(op, params))
        for op, params in [
            ("Reinstall", {}),
            ("Uninstall", {}),
            ("RestartK8sResource", {"kind": "StatefulSet", "name": "db"}),
            ("InvokeAction", {"helm_chart_id": "chart-1", "action_id": "flush-cache"}),
        ]
    ]
    log = tmp_path / "agent.log"
    process = agent_process(tenantry, "--dry-run", log_path=log)
    try:
        wait_until(lambda: all(tenantry.item(i).outcome for i in ids), timeout=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert all(tenantry.item(i).outcome == ("Done", None) for i in ids)
    text = log.read_text()
    assert (
        f"dry-run: would helm upgrade --install web {CHART['ref']} --version 1.2.3 "
        "--namespace payments (values: image,ingress,nodeSelector,replicas,tenantry,tolerations; "
        "secrets: db/password)"
    ) in text
    assert "dry-run: would helm uninstall web --namespace payments" in text
    assert "dry-run: would restart StatefulSet db in namespace payments" in text
    assert (
        "dry-run: would call action flush-cache: POST http://web.payments.svc:80/admin/flush"
    ) in text
    assert SECRET not in text


def test_the_real_executor_installs_with_the_configured_helm(
    tenantry: FakeTenantry, kube, kubeconfig: Path, fake_helm, tmp_path: Path
):
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    log = tmp_path / "agent.log"
    process = agent_process(
        tenantry,
        "--kubeconfig",
        str(kubeconfig),
        "--helm",
        str(fake_helm.path),
        "--helm-timeout",
        "120",
        log_path=log,
    )
    try:
        wait_until(lambda: tenantry.item(item_id).outcome is not None, timeout=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert tenantry.item(item_id).outcome == ("Done", None)
    (call,) = fake_helm.calls()
    assert call["argv"][:3] == ["upgrade", "--install", "web"]
    assert "--timeout" in call["argv"] and "120s" in call["argv"]
    assert not any(k.startswith("TENANTRY_") for k in call["env"])
    text = log.read_text()
    assert "helm v3.20.0+gfake" in text
    assert SECRET not in text and TOKEN not in text


def test_a_missing_helm_is_a_configuration_error(
    tenantry: FakeTenantry, kubeconfig: Path, tmp_path
):
    log = tmp_path / "agent.log"
    process = agent_process(
        tenantry, "--kubeconfig", str(kubeconfig), "--helm", "no-such-helm", log_path=log
    )
    assert process.wait(20) == 1
    assert "helm not found ('no-such-helm')" in log.read_text()


def test_a_bad_action_url_is_a_configuration_error(
    tenantry: FakeTenantry, kubeconfig: Path, fake_helm, tmp_path
):
    log = tmp_path / "agent.log"
    process = agent_process(
        tenantry,
        "--kubeconfig",
        str(kubeconfig),
        "--helm",
        str(fake_helm.path),
        "--action-url",
        "http://{host}/x",
        log_path=log,
    )
    assert process.wait(20) == 1
    assert "--action-url: 'http://{host}/x' takes only {service}, {namespace} and {port}" in (
        log.read_text()
    )
