"""Namespaces on the project's clusters, through the agent protocol: both workflows' real
ASL under moto (a Map of lambda:invoke.waitForTaskToken waits, one per cluster), resumed
by a test agent that speaks only HTTP. Success, the agent's failure, a silent agent (the
wait's timeout), retry of the failed clusters only, deletion with reclaim and with retain.

Contract: API.md "Clusters, the agent protocol, environments, secrets" (Namespaces).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.agent_double import TestAgent
from tests.harness import Api, wait_until
from tests.workflows.support import Workflow

SILENCE = 2  # AgentWorkTimeoutSeconds here: a silent agent's cluster fails after 2 s


@pytest.fixture
def stack_parameters(request: Any) -> dict[str, str]:
    return dict(getattr(request, "param", {"AgentWorkTimeoutSeconds": str(SILENCE)}))


def create(api: Api, token: str, pid: str, *clusters: str) -> dict[str, Any]:
    body = {"name": pid, "id": pid, "clusters": [{"name": c, "quota": {}} for c in clusters]}
    r = api.post("/projects", token=token, json=body)
    assert r.status == 202, r
    return dict(r.json())


def settled(wf: Workflow, pid: str, working: str = "creating") -> dict[str, Any]:
    project: dict[str, Any] = wait_until(
        lambda: (p := wf.project(pid))["status"] != working and p, timeout=15
    )
    return project


def condition(project: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [c for c in project["conditions"] if c["type"] == kind]
    return dict(found)


def namespace(api: Api, token: str, pid: str, cluster: str) -> dict[str, Any]:
    r = api.get(f"/projects/{pid}/clusters/{cluster}/namespaces", token=token)
    assert r.status == 200, r
    (item,) = r.json()["items"]
    return dict(item)


def test_each_cluster_gets_a_labelled_namespace_request_and_the_project_ends_ready(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    west = TestAgent.register(api, admin_token, "west")
    create(api, admin_token, "shop", "east", "west")

    # both waits are open at once: each agent sees its own cluster's item, and only it
    e, w = east.claim_one(), west.claim_one()
    for item, agent in ((e, east), (w, west)):
        assert item["kind"] == "CreateNamespace" and item["namespace"] == "shop", item
        assert item["labels"] == {"tenantry.io/project": "shop"}, item
        assert item["attempt"] == 1 and item["lease_token"], item
        assert namespace(api, admin_token, "shop", agent.name)["status"] == "Pending"
    assert east.claim() == [] and west.claim() == []  # leased: not handed out again
    assert east.report(e).status == 200 and west.report(w).status == 200

    project = settled(workflow, "shop")
    assert project["status"] == "active", project
    ready = condition(project, "NamespacesReady")
    assert ready["status"] == "True", ready
    assert sorted(ready["detail"]["success_clusters"]) == ["east", "west"]
    assert ready["detail"]["failed_clusters"] == {}
    for name in ("east", "west"):
        assert namespace(api, admin_token, "shop", name)["status"] == "Created"
    assert "namespaces_requested" in workflow.events("shop")


def test_a_failed_cluster_is_named_with_the_agents_reason_and_the_others_succeed(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    west = TestAgent.register(api, admin_token, "west")
    create(api, admin_token, "shop", "east", "west")
    east.do_all("Done")
    item = west.claim_one()
    assert west.report(item, "Failed", "namespace quota exceeded").status == 200

    project = settled(workflow, "shop")
    assert project["status"] == "active", project  # never stuck, never failed for one cluster
    ready = condition(project, "NamespacesReady")
    assert ready["status"] == "False" and ready["reason"] == "Failed", ready
    assert ready["detail"] == {
        "success_clusters": ["east"],
        "failed_clusters": {"west": "namespace quota exceeded"},
    }
    assert "west: namespace quota exceeded" in ready["message"]
    west_ns = namespace(api, admin_token, "shop", "west")
    assert (west_ns["status"], west_ns["reason"]) == ("Failed", "namespace quota exceeded")


def test_a_silent_agent_fails_its_cluster_after_the_timeout(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    TestAgent.register(api, admin_token, "quiet")
    create(api, admin_token, "shop", "quiet")

    project = settled(workflow, "shop")
    assert project["status"] == "active", project
    ready = condition(project, "NamespacesReady")
    reason = f"the cluster's agent did not answer within {SILENCE} s"
    assert ready["detail"]["failed_clusters"] == {"quiet": reason}, ready
    assert namespace(api, admin_token, "shop", "quiet")["reason"] == reason


def test_an_agent_that_claims_and_goes_quiet_fails_its_cluster_too(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    """Claimed, then no lease extension: the wait's heartbeat runs out. The item is given
    up (the agent's late result is 409), so no agent does work nobody waits for."""
    agent = TestAgent.register(api, admin_token, "flaky")
    create(api, admin_token, "shop", "flaky")
    item = agent.claim_one()

    project = settled(workflow, "shop")
    failed = condition(project, "NamespacesReady")["detail"]["failed_clusters"]
    assert failed == {"flaky": "the cluster's agent took the work but did not finish it in time"}
    late = agent.report(item)
    assert late.status == 409, late
    assert agent.claim() == []


def test_retry_asks_the_failed_clusters_only(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    west = TestAgent.register(api, admin_token, "west")
    create(api, admin_token, "shop", "east", "west")
    east.do_all("Done")
    west.do_all("Failed")
    assert settled(workflow, "shop")["status"] == "active"

    r = workflow.action("shop", "retry")
    assert r.status == 202, r
    assert r.json()["status"] == "creating"
    item = west.claim_one()
    assert item["kind"] == "CreateNamespace"
    assert east.claim() == []  # east's namespace is Created: not asked again
    assert west.report(item).status == 200

    project = settled(workflow, "shop")
    ready = condition(project, "NamespacesReady")
    assert ready["status"] == "True", ready
    assert sorted(ready["detail"]["success_clusters"]) == ["east", "west"]


def test_retry_of_an_active_project_with_every_namespace_ready_is_409(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    create(api, admin_token, "shop", "east")
    east.do_all("Done")
    assert settled(workflow, "shop")["status"] == "active"
    r = workflow.action("shop", "retry")
    assert r.status == 409, r


def test_reclaiming_delete_asks_each_cluster_to_delete_and_frees_the_cluster(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    create(api, admin_token, "shop", "east")
    east.do_all("Done")
    assert settled(workflow, "shop")["status"] == "active"
    r = api.delete(f"/clusters/{east.cluster_id}", token=admin_token)
    assert r.status == 409, r  # a namespace lives there

    workflow.delete("shop", reclaim=True)
    item = east.claim_one()
    assert (item["kind"], item["namespace"]) == ("DeleteNamespace", "shop")
    assert east.report(item).status == 200

    assert settled(workflow, "shop", "deleting")["status"] == "deleted"
    assert namespace(api, admin_token, "shop", "east")["status"] == "Deleted"
    assert "namespaces_released" in workflow.events("shop")
    r = api.delete(f"/clusters/{east.cluster_id}", token=admin_token)
    assert r.status == 204, r


def test_retaining_delete_leaves_namespaces_recorded_as_retained(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    create(api, admin_token, "shop", "east")
    east.do_all("Done")
    assert settled(workflow, "shop")["status"] == "active"

    workflow.delete("shop")  # Retain, the default
    assert settled(workflow, "shop", "deleting")["status"] == "deleted"
    assert east.claim() == []  # nothing asked of the cluster
    assert namespace(api, admin_token, "shop", "east")["status"] == "Retained"
    # Tenantry no longer tracks it: the cluster may go
    assert api.delete(f"/clusters/{east.cluster_id}", token=admin_token).status == 204


def test_a_project_may_only_name_registered_clusters_that_are_not_ignored(
    api: Api, admin_token: str
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    r = api.post(
        "/projects",
        token=admin_token,
        json={"name": "shop", "clusters": [{"name": "nowhere", "quota": {}}]},
    )
    assert r.status == 422, r
    assert r.json()["errors"][0]["loc"] == ["body", "clusters", 0, "name"]
    r = api.patch(f"/clusters/{east.cluster_id}", token=admin_token, json={"ignore": True})
    assert r.status == 200, r
    r = api.post(
        "/projects",
        token=admin_token,
        json={"name": "shop", "clusters": [{"name": "east", "quota": {}}]},
    )
    assert r.status == 422 and "ignored" in r.text, r


def test_a_cluster_added_to_an_active_project_is_asked_for_on_retry(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    east = TestAgent.register(api, admin_token, "east")
    west = TestAgent.register(api, admin_token, "west")
    create(api, admin_token, "shop", "east")
    east.do_all("Done")
    assert settled(workflow, "shop")["status"] == "active"

    body = {"clusters": [{"name": "east", "quota": {}}, {"name": "west", "quota": {}}]}
    r = api.patch("/projects/shop", token=admin_token, json=body)
    assert r.status == 200, r
    ready = condition(r.json(), "NamespacesReady")
    assert ready["status"] == "False", ready
    assert ready["detail"]["failed_clusters"] == {
        "west": "no namespace was asked for on this cluster yet"
    }
    assert workflow.action("shop", "retry").status == 202
    west.do_all("Done")
    assert east.claim() == []
    ready = condition(settled(workflow, "shop"), "NamespacesReady")
    assert ready["status"] == "True", ready


# Fourteen agents answering one after another outlast a 2 s silence on a loaded machine.
@pytest.mark.parametrize("stack_parameters", [{"AgentWorkTimeoutSeconds": "60"}], indirect=True)
def test_a_project_on_many_clusters_asks_them_all(
    api: Api, admin_token: str, workflow: Workflow
) -> None:
    """More namespace records than one transaction holds: planned in batches."""
    agents = [TestAgent.register(api, admin_token, f"c{i:02d}") for i in range(14)]
    create(api, admin_token, "wide", *(a.name for a in agents))
    for agent in agents:
        agent.do_all("Done")
    ready = condition(settled(workflow, "wide"), "NamespacesReady")
    assert ready["status"] == "True", ready
    assert len(ready["detail"]["success_clusters"]) == 14
