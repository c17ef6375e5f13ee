"""The delete-project workflow (statemachines/delete_project.asl.json), run as real ASL
under moto with the real step handlers: reclaim and retain, transient and permanent
failures, a second DELETE after a failed one, a workflow that cannot start, and steps run
twice.

Contract: API.md "Projects" (DELETE ?reclaim, deprovisioning), ARCHITECTURE.md "Workflows".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from unittest import mock

import pytest

from tests.workflows.support import (
    DELETE_STEPS,
    Faults,
    LostResponse,
    Workflow,
    assert_no_internals,
    client_error,
    dynamodb_busy,
    step_event,
)


def active(workflow: Workflow, project_id: str, with_image: bool = False) -> dict[str, Any]:
    workflow.create(project_id)
    workflow.settle()
    project = workflow.project(project_id)
    assert project["status"] == "active", project
    if with_image:
        push_image(workflow, project_id)
    return project


def push_image(workflow: Workflow, project_id: str) -> None:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + hashlib.sha256(b"config").hexdigest(),
            },
            "layers": [],
        }
    )
    workflow.stack.client("ecr").put_image(
        repositoryName=f"tenantry/{project_id}", imageManifest=manifest, imageTag="v1"
    )
    r = workflow.api.get(f"/projects/{project_id}/images", token=workflow.token)
    assert r.status == 200 and [i["tag"] for i in r.json()["items"]] == ["v1"], r


def assert_deleted(workflow: Workflow, project_id: str, execution: str) -> dict[str, Any]:
    ex = workflow.settled_execution(execution)
    assert ex["status"] == "SUCCEEDED", ex
    project = workflow.project(project_id)
    assert project["status"] == "deleted", project
    assert project["deleted_at"]
    assert project["reason"] is None
    assert [c["type"] for c in project["conditions"]] == ["Ready"]
    assert project["conditions"][0]["status"] == "False"
    assert project["conditions"][0]["reason"] == "Deleted"
    assert workflow.items(project_id, "ENV#") == []
    assert workflow.items(project_id, "ENVNAME#") == []
    return project


def denied(operation: str = "DeleteRepository") -> Exception:
    return client_error("AccessDeniedException", operation, message="not authorized")


# --- happy paths --------------------------------------------------------------------------------


def test_delete_with_reclaim_removes_repository_and_environments(workflow: Workflow) -> None:
    active(workflow, "alpha", with_image=True)
    assert len(workflow.items("alpha", "ENV")) == 4  # 2 environments + 2 name guards

    deleting = workflow.delete("alpha", reclaim=True)
    assert deleting["status"] == "deleting"
    assert deleting["cluster_delete_policy"] == "Delete"
    workflow.settle()

    assert workflow.execution_names("DeleteProjectStateMachine") == ["alpha-delete-1"]
    assert workflow.states("alpha-delete-1") == [
        "Reclaim?",
        "DeleteImageRepository",
        "GitRepository?",  # none asked for: nothing to archive
        "RevokeProjectCredentials",
        "PlanNamespaces",
        "AskClusters",
        "FinishDeprovisioning",
    ]
    project = assert_deleted(workflow, "alpha", "alpha-delete-1")
    assert project["cluster_delete_policy"] == "Delete"
    assert workflow.repository("alpha") is None

    r = workflow.api.get("/projects/alpha/history", token=workflow.token)
    assert r.status == 200, r
    body = r.json()
    assert body["deleted_at"] == project["deleted_at"]
    history = body["items"]
    assert [h["event"] for h in history] == [
        "created",
        "environments_created",
        "image_repository_created",
        "provisioned",
        "delete_requested",
        "image_repository_deleted",
        "environments_removed",
        "deleted",
    ]
    assert history[4]["detail"] == {"reclaim": True}
    assert (history[4]["from"], history[4]["to"]) == ("active", "deleting")
    assert history[5]["detail"] == {"repository": "tenantry/alpha", "existed": True}
    assert history[6]["detail"] == {"items_removed": 4, "apps_removed": 0}
    assert (history[7]["from"], history[7]["to"]) == ("deleting", "deleted")
    # the tombstone keeps the id: it is never reused
    r = workflow.api.post("/projects", token=workflow.token, json={"name": "Alpha", "id": "alpha"})
    assert r.status == 409, r


@pytest.mark.parametrize("reclaim", [False, None], ids=["reclaim=false", "default"])
def test_delete_without_reclaim_keeps_the_repository(
    workflow: Workflow, reclaim: bool | None
) -> None:
    active(workflow, "beta", with_image=True)
    deleting = workflow.delete("beta", reclaim=reclaim)
    assert deleting["cluster_delete_policy"] == "Retain"
    workflow.settle()

    assert workflow.states("beta-delete-1") == [
        "Reclaim?",
        "RevokeProjectCredentials",
        "PlanNamespaces",
        "AskClusters",
        "FinishDeprovisioning",
    ]
    project = assert_deleted(workflow, "beta", "beta-delete-1")
    assert project["cluster_delete_policy"] == "Retain"
    repo = workflow.repository("beta")
    assert repo is not None
    images = workflow.stack.client("ecr").list_images(repositoryName="tenantry/beta")
    assert [i["imageTag"] for i in images["imageIds"]] == ["v1"]
    assert "image_repository_deleted" not in workflow.events("beta")


def test_delete_of_a_failed_project_whose_repository_never_existed(
    workflow: Workflow, faults: Faults
) -> None:
    ecr = faults.ecr()
    faults.inject(ecr, "create_repository", lambda: denied("CreateRepository"))
    workflow.create("gamma")
    workflow.settle()
    assert workflow.project("gamma")["status"] == "failed"

    workflow.delete("gamma", reclaim=True)
    workflow.settle()
    assert_deleted(workflow, "gamma", "gamma-delete-1")
    deleted = [h for h in workflow.history("gamma") if h["event"] == "image_repository_deleted"]
    assert deleted[0]["detail"] == {"repository": "tenantry/gamma", "existed": False}


def test_delete_rejects_a_bad_reclaim_value_and_starts_nothing(workflow: Workflow) -> None:
    active(workflow, "delta")
    r = workflow.api.delete("/projects/delta", token=workflow.token, query={"reclaim": "yes"})
    assert r.status == 400, r
    assert workflow.execution_names("DeleteProjectStateMachine") == []
    assert workflow.project("delta")["status"] == "active"


# --- failures -----------------------------------------------------------------------------------


def test_transient_registry_failure_on_delete_is_retried(
    workflow: Workflow, faults: Faults
) -> None:
    active(workflow, "epsilon")
    fault = faults.inject(
        faults.ecr(),
        "delete_repository",
        lambda: client_error("ThrottlingException", "DeleteRepository"),
        times=2,
    )
    workflow.delete("epsilon", reclaim=True)
    workflow.settle()

    assert fault.calls == 4  # three tries of the step, then the final sweep
    assert workflow.step_attempts("epsilon-delete-1", "DeleteImageRepository") == [
        "TransientError",
        "TransientError",
        "ok",
    ]
    assert_deleted(workflow, "epsilon", "epsilon-delete-1")
    assert workflow.repository("epsilon") is None


def test_deletion_failure_ends_failed_and_a_second_delete_succeeds(
    workflow: Workflow, faults: Faults
) -> None:
    active(workflow, "zeta")
    ecr = faults.ecr()
    fault = faults.inject(ecr, "delete_repository", denied)
    workflow.delete("zeta", reclaim=True)
    workflow.settle()

    assert fault.calls == 1  # permanent: no retries
    assert workflow.step_attempts("zeta-delete-1", "DeleteImageRepository") == ["RegistryError"]
    ex = workflow.execution("zeta-delete-1")
    assert ex["status"] == "FAILED" and ex.get("error") == "DeprovisioningFailed", ex
    assert workflow.states("zeta-delete-1")[-2:] == ["RecordFailure", "DeprovisioningFailed"]
    project = workflow.project("zeta")
    assert project["status"] == "failed", project
    assert project["reason"] == (
        "the image registry refused the request; a platform admin has to check its "
        "permissions, then delete the project again"
    )
    assert_no_internals(project["reason"])
    assert project["deleted_at"] is None
    failed = [h for h in workflow.history("zeta") if h["event"] == "deprovisioning_failed"]
    assert len(failed) == 1
    assert (failed[0]["from"], failed[0]["to"]) == ("deleting", "failed")
    assert failed[0]["detail"] == {"reason": project["reason"]}
    # nothing was removed yet: the failing step came first
    assert workflow.repository("zeta") is not None
    assert len(workflow.items("zeta", "ENV#")) == 2

    faults.remove(ecr, "delete_repository")
    again = workflow.delete("zeta", reclaim=True)
    assert again["status"] == "deleting" and again["reason"] is None
    workflow.settle()
    assert workflow.execution_names("DeleteProjectStateMachine") == [
        "zeta-delete-1",
        "zeta-delete-2",
    ]
    assert_deleted(workflow, "zeta", "zeta-delete-2")
    assert workflow.repository("zeta") is None


def test_failure_removing_environments_ends_failed(workflow: Workflow, faults: Faults) -> None:
    from tenantry.dal import projects as store

    active(workflow, "eta")
    fault = faults.inject(store, "delete_items", lambda: denied("TransactWriteItems"))
    workflow.delete("eta", reclaim=False)
    workflow.settle()

    assert fault.calls == 1
    assert workflow.step_attempts("eta-delete-1", "RevokeProjectCredentials") == ["ClientError"]
    project = workflow.project("eta")
    assert project["status"] == "failed"
    assert project["reason"].startswith("a platform service refused a request"), project
    assert_no_internals(project["reason"])
    assert workflow.execution("eta-delete-1")["status"] == "FAILED"


def test_failure_finishing_deprovisioning_ends_failed(workflow: Workflow, faults: Faults) -> None:
    from tenantry.dal import projects as store

    active(workflow, "theta")
    fault = faults.inject(
        store,
        "transition",
        lambda: denied("TransactWriteItems"),
        when=lambda project_id, from_statuses, to_status, *a, **kw: to_status == "deleted",
    )
    workflow.delete("theta", reclaim=True)
    workflow.settle()

    assert fault.calls == 1
    assert workflow.step_attempts("theta-delete-1", "FinishDeprovisioning") == ["ClientError"]
    project = workflow.project("theta")
    assert project["status"] == "failed"
    assert project["reason"].startswith("a platform service refused a request"), project
    assert_no_internals(project["reason"])
    assert project["deleted_at"] is None
    assert "deprovisioning_failed" in workflow.events("theta")


def test_dynamodb_busy_while_removing_environments_is_retried(
    workflow: Workflow, faults: Faults
) -> None:
    from tenantry.dal import projects as store

    active(workflow, "iota")
    fault = faults.inject(store, "delete_items", dynamodb_busy, times=1)
    workflow.delete("iota")
    workflow.settle()

    assert fault.failures == 1
    assert workflow.project("iota")["status"] == "deleted", workflow.project("iota")
    assert workflow.execution("iota-delete-1")["status"] == "SUCCEEDED"


def test_a_second_delete_while_deleting_is_refused(workflow: Workflow, gate: Any) -> None:
    active(workflow, "lambda")
    held = gate("RevokeProjectCredentialsFunction")
    workflow.delete("lambda")
    assert held.entered.wait(5)
    r = workflow.api.delete("/projects/lambda", token=workflow.token)
    assert r.status == 409, r
    held.released.set()
    workflow.settle()
    assert workflow.execution_names("DeleteProjectStateMachine") == ["lambda-delete-1"]
    assert_deleted(workflow, "lambda", "lambda-delete-1")


# --- steps run twice (idempotency) -------------------------------------------------------------


@pytest.fixture
def deleting(workflow: Workflow) -> str:
    """Project `mu-project`, provisioned, then in `deleting` with no workflow running."""
    from tenantry import workflows

    active(workflow, "mu-project")
    with mock.patch.object(workflows, "start", return_value="arn:not-started"):
        assert workflow.delete("mu-project", reclaim=True)["status"] == "deleting"
    assert workflow.execution_names("DeleteProjectStateMachine") == []
    return "mu-project"


def test_delete_image_repository_twice_is_fine(workflow: Workflow, deleting: str) -> None:
    event = step_event(deleting, "delete", reclaim=True)
    assert workflow.api.invoke("DeleteImageRepositoryFunction", event) == {"existed": True}
    # a retried step answers as it did, without touching the registry again
    assert workflow.api.invoke("DeleteImageRepositoryFunction", event) == {"existed": True}
    assert workflow.repository(deleting) is None
    assert workflow.project(deleting)["status"] == "deleting"


def test_revoke_project_credentials_twice_is_fine(workflow: Workflow, deleting: str) -> None:
    event = step_event(deleting, "delete", reclaim=True)
    assert workflow.api.invoke("RevokeProjectCredentialsFunction", event) == {"removed": 4}
    assert workflow.api.invoke("RevokeProjectCredentialsFunction", event) == {"removed": 4}
    assert workflow.items(deleting, "ENV") == []
    # the project, its owner's membership and its history are not the step's to remove
    assert workflow.project(deleting)["status"] == "deleting"
    assert workflow.items(deleting, "MEMBER#")


def test_finish_deprovisioning_twice_finds_its_work_done(workflow: Workflow, deleting: str) -> None:
    event = step_event(deleting, "delete", reclaim=True)
    assert workflow.api.invoke("FinishDeprovisioningFunction", event) == {"status": "deleted"}
    deleted = workflow.project(deleting)
    assert workflow.api.invoke("FinishDeprovisioningFunction", event) == {"status": "deleted"}
    assert workflow.project(deleting) == deleted
    assert workflow.events(deleting).count("deleted") == 1


@pytest.mark.parametrize("step", DELETE_STEPS)
def test_delete_step_retried_after_its_work_was_done_still_succeeds(
    workflow: Workflow, step: str
) -> None:
    active(workflow, "nu-project")
    lost = LostResponse(workflow.stack, f"{step}Function")
    workflow.delete("nu-project", reclaim=True)
    workflow.settle()

    assert lost.calls == 2
    assert workflow.step_attempts("nu-project-delete-1", step) == [
        "Lambda.ServiceException",
        "ok",
    ]
    assert_deleted(workflow, "nu-project", "nu-project-delete-1")
    events = workflow.events("nu-project")
    assert events.count("deleted") == 1
    assert not {"deprovisioning_failed", "delete_workflow_stopped"} & set(events), events
