"""Tenantry's own notifications (tenantry.domain.notices), through the real workflows and
routes: a project that fails (the workflow's RecordFailure, the reconciler) and is active
again, a deployment task that fails and one that succeeds, a deployment deleted in Error,
and the members quota as memberships and limits change (a racing change included). Each
is read back through GET /projects/{id}/notifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.harness import Api, wait_until
from tests.integration.helpers import list_all, make_user
from tests.workflows.support import Faults, Workflow, client_error

SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def active(api: Api, token: str, project_id: str) -> list[dict[str, Any]]:
    return list_all(api, token, f"/projects/{project_id}/notifications")


def tenantrys(api: Api, token: str, project_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The project's active notifications by (topic, topic id), each checked to be
    Tenantry's own."""
    found = {}
    for n in active(api, token, project_id):
        assert (n["source"], n["posted_by"], n["status"]) == ("tenantry", "tenantry", "active"), n
        found[(n["topic"], n["topic_id"])] = n
    return found


def denied(operation: str) -> Callable[[], Exception]:
    return lambda: client_error(
        "AccessDeniedException", operation, message="not authorized to perform this action"
    )


# --- projects -----------------------------------------------------------------------------------


def test_a_failed_provisioning_is_posted_and_cleared_when_the_retry_succeeds(
    workflow: Workflow, faults: Faults
) -> None:
    ecr = faults.ecr()
    faults.inject(ecr, "create_repository", denied("CreateRepository"))
    workflow.create("fragile")
    workflow.settle()
    project = workflow.project("fragile")
    assert project["status"] == "failed"

    notes = tenantrys(workflow.api, workflow.token, "fragile")
    assert list(notes) == [("project", "fragile")]
    note = notes[("project", "fragile")]
    assert (note["title"], note["level"], note["url"]) == (
        "Provisioning failed",
        "error",
        "/projects/fragile",
    )
    assert note["description"] == project["reason"]
    # in the transaction that failed the project: it was posted when the status changed
    assert note["updated_at"] == project["updated_at"]

    faults.remove(ecr, "create_repository")
    assert workflow.action("fragile", "retry").status == 202
    workflow.settle()
    assert workflow.project("fragile")["status"] == "active"
    assert active(workflow.api, workflow.token, "fragile") == []


def test_a_failed_deletion_is_posted_and_a_deleted_project_has_none(
    workflow: Workflow, faults: Faults
) -> None:
    workflow.create("brittle")
    workflow.settle()
    ecr = faults.ecr()
    faults.inject(ecr, "delete_repository", denied("DeleteRepository"))
    workflow.delete("brittle", reclaim=True)
    workflow.settle()
    project = workflow.project("brittle")
    assert project["status"] == "failed"
    note = tenantrys(workflow.api, workflow.token, "brittle")[("project", "brittle")]
    assert (note["title"], note["description"]) == ("Deletion failed", project["reason"])

    faults.remove(ecr, "delete_repository")
    workflow.delete("brittle", reclaim=True)
    workflow.settle()
    assert workflow.project("brittle")["status"] == "deleted"
    assert active(workflow.api, workflow.token, "brittle") == []


@pytest.fixture
def reconcile(workflow: Workflow, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run the ReconcilerFunction `minutes` from now, as its schedule would."""
    from tenantry.clock import now_iso
    from tenantry.domain import reconciler

    def run(minutes: float = 3) -> dict[str, int]:
        moment = now_iso(timedelta(minutes=minutes))
        monkeypatch.setattr(reconciler, "now_iso", lambda: moment)
        return dict(workflow.api.invoke("ReconcilerFunction", SCHEDULED_EVENT))

    return run


def test_the_reconciler_posts_the_failure_it_records(
    workflow: Workflow, faults: Faults, reconcile: Callable[..., Any]
) -> None:
    """A workflow whose start keeps failing: the reconciler fails the project, posting
    Tenantry's notification in that write."""
    from tenantry.domain import reconciler

    faults.inject(
        faults.sfn(),
        "start_execution",
        lambda: client_error("ServiceUnavailable", "StartExecution", status=503),
    )
    workflow.create("stranded")
    for n in range(1, reconciler.MAX_STARTS):
        assert reconcile(minutes=3 * n) == {"start": 1}
    assert active(workflow.api, workflow.token, "stranded") == []  # creating: nothing to say
    assert reconcile(minutes=3 * reconciler.MAX_STARTS) == {"fail": 1}
    project = workflow.project("stranded")
    note = tenantrys(workflow.api, workflow.token, "stranded")[("project", "stranded")]
    assert note["description"] == project["reason"]
    assert note["description"] == "the create workflow could not be started; retry the project"


def test_the_reconciler_posts_a_failure_the_last_resort_state_wrote(
    workflow: Workflow, faults: Faults, reconcile: Callable[..., Any]
) -> None:
    """RecordFailure itself failing: MarkFailed (a direct DynamoDB write, no code) marks
    the project failed; the reconciler adds the history, the condition and the notice."""
    faults.inject(faults.ecr(), "create_repository", denied("CreateRepository"))

    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("RecordFailure is broken (injected)")

    workflow.stack.set_handler("RecordFailureFunction", broken)
    workflow.create("double-fault")
    workflow.settle()
    assert workflow.project("double-fault")["status"] == "failed"
    assert active(workflow.api, workflow.token, "double-fault") == []

    assert reconcile() == {"record": 1}
    project = workflow.project("double-fault")
    note = tenantrys(workflow.api, workflow.token, "double-fault")[("project", "double-fault")]
    assert note["description"] == project["reason"]


# --- deployments --------------------------------------------------------------------------------


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"AgentWorkTimeoutSeconds": "3"}


@pytest.fixture
def shop(api: Api, admin_token: str) -> Any:
    from tests.workflows.test_deployments_workflow import Shop

    return Shop(api, admin_token)


def test_a_failed_task_posts_the_deployments_error_and_a_good_one_clears_it(shop: Any) -> None:
    dep = shop.deploy(name="front").json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    assert active(shop.api, shop.admin, "shop") == []

    shop.patch(dep["id"], config={"replicas": 3})
    item = shop.agent.claim_one()
    shop.agent.report(item, "Failed", "helm: timed out waiting for the condition")
    failed = shop.settled(dep["id"])
    assert failed["status"] == "Error"
    note = tenantrys(shop.api, shop.admin, "shop")[("deployment", dep["id"])]
    assert (note["title"], note["level"], note["description"], note["url"]) == (
        "Deployment web-front failed",
        "error",
        "helm: timed out waiting for the condition",
        f"/projects/shop/deployments/{dep['id']}",
    )

    # failing again: the same pair, posted again with the new reason
    shop.patch(dep["id"], config={"replicas": 4})
    shop.agent.report(shop.agent.claim_one(), "Failed", "helm: image pull back-off")
    shop.settled(dep["id"])
    again = tenantrys(shop.api, shop.admin, "shop")[("deployment", dep["id"])]
    assert again["description"] == "helm: image pull back-off" and again["version"] == 2

    shop.patch(dep["id"], config={"replicas": 2})
    shop.agent.do_all("Done")
    assert shop.settled(dep["id"])["status"] == "Running"
    assert active(shop.api, shop.admin, "shop") == []


def test_a_silent_agent_and_a_deleted_deployment(shop: Any) -> None:
    """The wait's own failure (no agent answered) posts too; deleting the deployment in
    Error clears it once the uninstall is done."""
    dep = shop.deploy(name="back").json()
    assert shop.settled(dep["id"])["status"] == "Error"  # nobody claimed the install
    note = tenantrys(shop.api, shop.admin, "shop")[("deployment", dep["id"])]
    assert note["description"] == "the cluster's agent did not answer within 3 s"

    r = shop.api.delete(f"/projects/shop/deployments/{dep['id']}", token=shop.admin)
    assert r.status == 202, r
    shop.agent.do_all("Done")
    wait_until(
        lambda: shop.api.get(f"/projects/shop/deployments/{dep['id']}", token=shop.admin).status
        == 404,
        timeout=20,
    )
    assert active(shop.api, shop.admin, "shop") == []


# --- quotas -------------------------------------------------------------------------------------


def test_the_members_quota_near_its_limit_is_posted_and_cleared(api: Api, admin_token: str) -> None:
    """max_members 5: near from 4 members on. Joins, removals and limit changes by an admin
    (directly or by approving an application) keep the notification true."""
    owner = make_user(api, admin_token, "Quota Owner")[1]
    body = {"name": "Crowded", "id": "crowded", "max_members": 5, "join_policy": "auto"}
    assert api.post("/projects", token=owner, json=body).status == 202
    wait_until(lambda: api.get("/projects/crowded", token=owner).json()["status"] == "active")

    def enroll(name: str) -> str:
        user = make_user(api, admin_token, name)[0]
        body = {"project_id": "crowded", "action": "enroll", "user_id": user["id"]}
        r = api.post("/memberships", token=owner, json=body)
        assert r.status == 201, r
        return str(r.json()["id"])

    def quota_note() -> dict[str, Any] | None:
        return tenantrys(api, owner, "crowded").get(("quota", "members"))

    enroll("A")
    enroll("B")
    assert quota_note() is None  # 3 of 5
    c = enroll("C")
    note = quota_note()
    assert note is not None
    assert (note["title"], note["level"], note["description"], note["url"]) == (
        "Quota members near its limit",
        "warning",
        "4 of 5 members used",
        "/projects/crowded/quotas",
    )
    d = enroll("D")
    note = quota_note()
    assert note and note["description"] == "5 of 5 members used; the limit is reached"
    r = api.post(f"/memberships/{d}/actions", token=owner, json={"action": "remove"})
    assert r.status == 200, r
    note = quota_note()
    assert note and note["description"] == "4 of 5 members used"
    r = api.post(f"/memberships/{c}/actions", token=owner, json={"action": "remove"})
    assert r.status == 200, r
    assert quota_note() is None  # 3 of 5

    # the limit lowered by a platform admin: 3 of 3
    r = api.patch("/projects/crowded", token=admin_token, json={"max_members": 3})
    assert r.status == 200, r
    note = quota_note()
    assert note and note["description"] == "3 of 3 members used; the limit is reached"
    # raised through the owner's application, approved: cleared
    r = api.patch("/projects/crowded", token=owner, json={"max_members": 30})
    assert r.status == 202, r
    r = api.post("/projects/crowded/actions", token=admin_token, json={"action": "approve"})
    assert r.status == 200, r
    assert quota_note() is None
    # removed altogether: no limit, nothing to say
    assert api.patch("/projects/crowded", token=admin_token, json={"max_members": 3}).status == 200
    assert quota_note() is not None
    r = api.patch("/projects/crowded", token=admin_token, json={"max_members": None})
    assert r.status == 200, r
    assert quota_note() is None


def test_a_membership_change_that_lost_a_race_posts_what_it_commits_on(
    api: Api, admin_token: str
) -> None:
    """A change decided on a project read before another change committed: its history
    write fails and it is made again on the project as it is now, quota notice included,
    so the notice says what the committed count is."""
    from tenantry.dal import projects as project_store
    from tenantry.domain import memberships
    from tenantry.models.principal import Principal

    owner_user, owner = make_user(api, admin_token, "Racing Owner")
    body = {"name": "Racing", "id": "racing", "max_members": 5}
    assert api.post("/projects", token=owner, json=body).status == 202
    wait_until(lambda: api.get("/projects/racing", token=owner).json()["status"] == "active")
    users = [make_user(api, admin_token, f"R{n}")[0]["id"] for n in range(4)]
    for user_id in users[:2]:
        r = api.post(
            "/memberships",
            token=owner,
            json={"project_id": "racing", "action": "enroll", "user_id": user_id},
        )
        assert r.status == 201, r
    stale = project_store.get("racing")  # 3 of 5
    assert stale is not None
    r = api.post(
        "/memberships",
        token=owner,
        json={"project_id": "racing", "action": "enroll", "user_id": users[2]},
    )
    assert r.status == 201, r  # 4 of 5, committed after `stale` was read
    principal = Principal(kind="user", id=owner_user["id"])
    memberships.move(principal, stale, users[3], "enroll", role="member")

    assert api.get("/projects/racing/quotas", token=owner).json()["members"]["usage"] == 5
    note = tenantrys(api, owner, "racing")[("quota", "members")]
    assert note["description"] == "5 of 5 members used; the limit is reached"
