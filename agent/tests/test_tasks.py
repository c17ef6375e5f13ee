"""`perform` for DeploymentTask items: operations to executor calls, the values, validation,
redaction (with the recording executor: no cluster, no helm)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tenantry_agent.client import WorkItem
from tenantry_agent.executor import (
    Action,
    Canceled,
    Chart,
    ExecutorError,
    Redactor,
    Release,
    Unsupported,
    deep_merge,
    perform,
    render_values,
)
from tests.fake_tenantry import SECRET, FakeTenantry, deployment_task, wait_until
from tests.recording import RecordingExecutor

RELEASE = Release(name="web", namespace="payments", project_id="payments")
CHART = Chart(ref="oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts/web", version="1.2.3")


def item(operation: str, params: dict[str, Any] | None = None, **fields: Any) -> WorkItem:
    return WorkItem.from_json(
        {
            "id": "item-1",
            "kind": "DeploymentTask",
            "lease_token": "lease",
            "attempt": 1,
            "lease_expires_at": "2030-01-01T00:00:00Z",
            "project_id": "payments",
            "namespace": "payments",
            **deployment_task(operation, params, **fields),
        }
    )


def run(work: WorkItem, executor: RecordingExecutor | None = None) -> list[tuple[Any, ...]]:
    executor = executor or RecordingExecutor()
    perform(executor, work, threading.Event())
    return executor.calls


def expected_values(**changes: Any) -> dict[str, Any]:
    values = {
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
    values.update(changes)
    return values


# --- operations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Reinstall", {"reason": "the cluster was rebuilt"}),
        ("Recreate", {"old_cluster_id": "c1", "new_cluster_id": "c2", "step": "install"}),
        (
            "Upgrade",
            {
                "helm_chart_id": "chart-1",
                "prev_helm_chart_id": "chart-0",
                "config_delta": {"replicas": 2},
                "values_override": {"image": {"pullPolicy": "Always"}},
            },
        ),
    ],
)
def test_install_like_operations_install_the_snapshot(operation, params):
    work = item(operation, params)
    ((name, release, chart, values, task_id),) = run(work)
    assert (name, release, chart) == ("install_release", RELEASE, CHART)
    assert values == expected_values()
    assert task_id == work.task["id"]


def test_install_takes_config_and_values_override_from_the_operation():
    params = {
        "helm_chart_id": "chart-1",
        "config": {"replicas": 5, "image": {"tag": "v2"}},
        "values_override": None,
    }
    ((_, _, _, values, _),) = run(item("Install", params))
    expected = expected_values(replicas=5, image={"tag": "v2"})
    del expected["ingress"]  # the deployment's config is not used: the operation has its own
    assert values == expected


def test_values_merge_config_then_override_then_tenantry_deeply():
    params = {
        "config": {
            "a": {"b": 1, "c": [1, 2], "d": {"e": 1}},
            "tenantry": {"project": "forged", "extra": 1},
            "nodeSelector": {"zone": "a"},
        },
        "values_override": {"a": {"c": [3], "d": {"f": 2}, "g": None}},
    }
    work = item("Install", params)
    values = render_values(work, params)
    assert values["a"] == {"b": 1, "c": [3], "d": {"e": 1, "f": 2}, "g": None}
    assert values["tenantry"]["project"] == "payments"  # Tenantry's block comes last
    assert values["tenantry"]["extra"] == 1
    assert values["nodeSelector"] == {"zone": "a", "pool": "apps"}
    assert params["config"]["tenantry"]["project"] == "forged"  # inputs are not changed


def test_missing_node_selector_and_tolerations_leave_the_configs():
    work = item(
        "Reinstall",
        deployment={
            "name": "web",
            "env_name": "dev",
            "config": {"nodeSelector": {"zone": "a"}, "tolerations": []},
            "values_override": None,
            "node_selector": None,
        },
        secrets=[],
    )
    values = render_values(work, {})
    assert values == {
        "nodeSelector": {"zone": "a"},
        "tolerations": [],
        "tenantry": {"project": "payments", "env": "dev", "deployment": "web", "secrets": {}},
    }


def test_deep_merge_replaces_what_is_not_an_object():
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    assert deep_merge({"a": 1}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert deep_merge({"a": [1]}, {"a": None}) == {"a": None}


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Uninstall", {}),
        ("Recreate", {"old_cluster_id": "c1", "new_cluster_id": "c2", "step": "uninstall"}),
    ],
)
def test_uninstall_operations(operation, params):
    work = item(operation, params)
    assert run(work) == [("uninstall_release", RELEASE, work.task["id"])]


def test_uninstall_needs_no_chart_deployment_or_secrets():
    work = item("Uninstall", helm_chart=None, deployment=None, secrets=None)
    assert run(work)[0][0] == "uninstall_release"


def test_restart():
    work = item("RestartK8sResource", {"resource_id": "r1", "kind": "StatefulSet", "name": "db"})
    assert run(work) == [("restart_workload", RELEASE, "StatefulSet", "db", work.task["id"])]


def test_invoke_action_resolves_platz_standard_ingress_to_the_release_service():
    body = {"reason": "stale"}
    work = item(
        "InvokeAction", {"helm_chart_id": "chart-1", "action_id": "flush-cache", "body": body}
    )
    ((name, release, action, sent, task_id),) = run(work)
    assert (name, release, sent, task_id) == ("invoke_action", RELEASE, body, work.task["id"])
    assert action == Action(
        id="flush-cache", service="web", port=80, path="/admin/flush", method="POST"
    )


def test_invoke_action_reads_v1beta1_entries_and_named_services():
    work = item("InvokeAction", {"helm_chart_id": "chart-1", "action_id": "reindex", "body": None})
    ((_, _, action, _, _),) = run(work)
    assert action == Action(
        id="reindex", service="web-api", port=8080, path="/jobs/reindex?full=1", method="PUT"
    )


# --- validation -------------------------------------------------------------------------------


def failure(work: WorkItem) -> str:
    recorder = RecordingExecutor()
    with pytest.raises(ExecutorError) as err:
        perform(recorder, work, threading.Event())
    assert recorder.calls == []
    return str(err.value)


def test_unknown_operations_and_bad_steps():
    with pytest.raises(Unsupported, match="does not support the Rollback operation"):
        perform(RecordingExecutor(), item("Rollback"), threading.Event())
    assert failure(item("Recreate", {"step": "both"})) == (
        "the Recreate operation's step must be install or uninstall"
    )
    assert failure(item("Install", task={"id": "t"})) == (
        "the work item has no task.operation (one operation name)"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"release_name": None}, "the work item names no release"),
        ({"release_name": "--post-renderer=/bin/sh"}, "is not valid for helm"),
        ({"release_name": "a" * 54}, "is not valid for helm"),
        ({"helm_chart": None}, "the work item carries no helm_chart"),
        (
            {"helm_chart": {"ref": "https://evil.example/chart", "tag": "1"}},
            "no valid oci://<registry>/<repo> ref",
        ),
        (
            {"helm_chart": {"ref": "oci://r.example/c --set x=1", "tag": "1"}},
            "no valid oci://<registry>/<repo> ref",
        ),
        ({"helm_chart": {"ref": "oci://r.example/c", "tag": "--devel"}}, "has no valid tag"),
        (
            {"helm_chart": {"id": "chart-9", "ref": "oci://r.example/c", "tag": "1"}},
            "the work item's helm_chart is chart-9, not chart-1 that the task names",
        ),
        ({"secrets": [{"collection": "db", "name": "pw", "contents": 5}]}, "db/pw has no text"),
    ],
)
def test_a_malformed_install_fails_before_the_executor(fields, reason):
    assert reason in failure(item("Install", {"helm_chart_id": "chart-1"}, **fields))


def test_the_chart_ref_can_be_built_from_registry_and_repository():
    chart = {"registry": "r.example:5000", "repository": "team/web", "tag": "2.0.0"}
    ((_, _, built, _, _),) = run(item("Reinstall", helm_chart=chart))
    assert built == Chart(ref="oci://r.example:5000/team/web", version="2.0.0")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"kind": "DaemonSet", "name": "x"}, "restarts a Deployment or a StatefulSet only"),
        ({"kind": "Deployment", "name": "../x"}, "names no valid Deployment"),
    ],
)
def test_a_malformed_restart_fails(params, reason):
    assert reason in failure(item("RestartK8sResource", params))


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (None, "the chart has no action 'go'"),
        (
            {"id": "go", "endpoint": "evil.example.com:80", "path": "/", "method": "POST"},
            "endpoint must be",
        ),
        (
            {"id": "go", "endpoint": "web", "path": "/../../x", "method": "POST"},
            "not a plain absolute path",
        ),
        (
            {"id": "go", "endpoint": "web", "path": "//evil.example/x", "method": "GET"},
            "not a plain",
        ),
        ({"id": "go", "endpoint": "web", "path": "/x", "method": "TRACE"}, "method must be one of"),
    ],
)
def test_a_malformed_action_fails(entry, reason):
    chart = {
        "id": "chart-1",
        "ref": "oci://r.example/c",
        "tag": "1",
        "actions": [entry] if entry else [],
    }
    work = item("InvokeAction", {"helm_chart_id": "chart-1", "action_id": "go"}, helm_chart=chart)
    assert reason in failure(work)


# --- secrets in reasons -----------------------------------------------------------------------


def test_executor_errors_are_redacted_of_secret_contents():
    recorder = RecordingExecutor()
    recorder.error = ExecutorError(f'helm upgrade --install: Secret "db" is invalid: "{SECRET}"')
    with pytest.raises(ExecutorError) as err:
        perform(recorder, item("Reinstall"), threading.Event())
    assert str(err.value) == 'helm upgrade --install: Secret "db" is invalid: "[redacted]"'
    recorder.error = Canceled(f"canceled {SECRET}")
    with pytest.raises(Canceled, match=r"canceled \[redacted\]"):
        perform(recorder, item("Reinstall"), threading.Event())


def test_unexpected_errors_are_logged_redacted(caplog):
    recorder = RecordingExecutor()
    recorder.error = RuntimeError(f"boom {SECRET}")
    with pytest.raises(ExecutorError, match=r"^the agent failed unexpectedly \(RuntimeError\)$"):
        perform(recorder, item("Reinstall"), threading.Event())
    assert "boom [redacted]" in caplog.text
    assert SECRET not in caplog.text


def test_the_redactor_finds_lines_and_base64():
    import base64

    pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9\n-----END KEY-----\n"
    work = item(
        "Reinstall",
        secrets=[
            {"collection": "tls", "name": "key", "contents": pem},
            {"collection": "x", "name": "short", "contents": "ab"},
        ],
    )
    redact = Redactor.for_item(work)
    encoded = base64.b64encode(pem.encode()).decode()
    text = f"bad line MIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9 and {encoded}; ab stays"
    assert redact(text) == "bad line [redacted] and [redacted]; ab stays"
    assert "secrets" not in repr(redact) and "MIIB" not in repr(redact)


# --- through the loop -------------------------------------------------------------------------


def test_a_deployment_task_through_the_loop_is_done(
    tenantry: FakeTenantry, recorder: RecordingExecutor, start_agent
):
    item_id = tenantry.add("DeploymentTask", "payments", **deployment_task("Reinstall"))
    start_agent(recorder)
    wait_until(lambda: tenantry.item(item_id).outcome is not None)
    assert tenantry.item(item_id).outcome == ("Done", None)
    ((name, release, chart, values, _),) = recorder.calls
    assert (name, release, chart, values) == ("install_release", RELEASE, CHART, expected_values())
