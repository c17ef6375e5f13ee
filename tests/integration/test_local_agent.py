"""`make run` with LOCAL_AGENT=1: the runner registers a demo cluster and starts the real
agent (agent/, --dry-run) as a child process; a project naming that cluster provisions
end to end over HTTP, and both stop cleanly (the agent releases what it holds)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.demo_agent import CLUSTER_NAME
from local.runner_process import ROOT, request, running

ADMIN_TOKEN = "local-agent-test-admin-token-0123456789"

pytestmark = pytest.mark.skipif(
    not (ROOT / "agent" / ".venv" / "bin" / "python").exists(),
    reason="the agent's venv is missing: make agent-venv (make test builds it)",
)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("local-agent") / "runner.log"
    with running(log_path, ADMIN_TOKEN, {"LOCAL_AGENT": "1"}) as process:
        yield process.url
    log = log_path.read_text()
    assert "tenantry_agent agent stopped" in log, log[-3000:]


def wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout}s")


def test_a_project_on_the_demo_cluster_provisions_through_the_dry_run_agent(runner: str) -> None:
    def cluster() -> dict | None:  # type: ignore[type-arg]
        status, body = request("GET", f"{runner}/clusters?name={CLUSTER_NAME}", ADMIN_TOKEN)
        assert status == 200, body
        items = body["items"]
        return items[0] if items and items[0]["is_ok"] else None

    assert wait_for(cluster)["agent_version"]  # it heartbeats
    body = {"name": "Local Demo", "clusters": [{"name": CLUSTER_NAME, "quota": {}}]}
    status, project = request("POST", f"{runner}/projects", ADMIN_TOKEN, body)
    assert status == 202, project

    def active() -> dict | None:  # type: ignore[type-arg]
        _, p = request("GET", f"{runner}/projects/{project['id']}", ADMIN_TOKEN)
        return p if p["status"] == "active" else None

    done = wait_for(active)
    (ready,) = [c for c in done["conditions"] if c["type"] == "NamespacesReady"]
    assert ready["status"] == "True", ready
    status, ns = request(
        "GET", f"{runner}/projects/{project['id']}/clusters/{CLUSTER_NAME}/namespaces", ADMIN_TOKEN
    )
    assert status == 200 and ns["items"][0]["status"] == "Created", ns
