"""Deployments and their tasks, through the RunDeploymentTask state machine (real ASL
under moto, real step handlers), resumed by a test agent that speaks only HTTP: every
change's task, the agent's failure, a silent agent, one task at a time in order, a failed
task not blocking the next, cancel, a scheduled task run by the scheduler (once, even with
two runs at once), and what may not be deployed.

Contract: API.md "Deployments and tasks (Platz)"; docs/api.md "Deployment work items".
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from tests.agent_double import TestAgent
from tests.catalog_seed import seed_chart
from tests.harness import Api, wait_until
from tests.integration.helpers import make_bot, make_user
from tests.workflows.support import Faults, Workflow

SILENCE = 3


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"AgentWorkTimeoutSeconds": str(SILENCE)}


class Shop:
    """Project `shop` on cluster `east` (its agent: `agent`), environment dev with a
    secret, and a chart of kind `web`."""

    def __init__(self, api: Api, admin: str) -> None:
        self.api, self.admin = api, admin
        self.agent = TestAgent.register(api, admin, "east")
        body = {
            "name": "Shop",
            "id": "shop",
            "environments": ["dev"],
            "clusters": [{"name": "east", "quota": {}}],
        }
        assert api.post("/projects", token=admin, json=body).status == 202
        self.agent.do_all("Done")
        wait_until(lambda: self.get("/projects/shop")["status"] == "active", timeout=15)
        self.env = self.get("/projects/shop/environments")["items"][0]["id"]
        r = api.post(
            f"/projects/shop/environments/{self.env}/secrets",
            token=admin,
            json={"collection": "db", "name": "password", "contents": "s3cr3t-value"},
        )
        assert r.status == 201, r
        self.chart = seed_chart(
            values_ui={"inputs": [{"id": "replicas", "type": "number", "required": True}]},
            actions=[{"id": "flush-cache", "allowed_on_statuses": ["Running"]}],
        )

    def get(self, path: str, token: str | None = None) -> Any:
        r = self.api.get(path, token=token or self.admin)
        assert r.status == 200, r
        return r.json()

    def deploy(self, token: str | None = None, **body: Any) -> Any:
        payload = {
            "kind_id": "kind-web",
            "cluster_id": self.agent.cluster_id,
            "env_id": self.env,
            "helm_chart_id": self.chart["id"],
            "config": {"replicas": 2},
            **body,
        }
        return self.api.post("/projects/shop/deployments", token=token or self.admin, json=payload)

    def deployment(self, deployment_id: str) -> Any:
        return self.get(f"/projects/shop/deployments/{deployment_id}")

    def settled(self, deployment_id: str) -> Any:
        working = ("Installing", "Upgrading", "Uninstalling", "Deleting", "Renaming")
        return wait_until(
            lambda: (d := self.deployment(deployment_id))["status"] not in working
            and not d.get("current_task_id")
            and d,
            timeout=20,
        )

    def tasks(self) -> list[Any]:
        return list(self.get("/projects/shop/deployment-tasks?limit=100")["items"])

    def patch(self, deployment_id: str, **body: Any) -> Any:
        r = self.api.patch(
            f"/projects/shop/deployments/{deployment_id}", token=self.admin, json=body
        )
        assert r.status == 200, r
        return r.json()


@pytest.fixture
def shop(api: Api, admin_token: str) -> Shop:
    return Shop(api, admin_token)


def test_install_hands_the_agent_a_snapshot_and_the_deployment_runs(
    shop: Shop, workflow: Workflow
) -> None:
    r = shop.deploy(name="front")
    assert r.status == 201, r
    created = r.json()
    assert (created["status"], created["release_name"], created["namespace"]) == (
        "Installing",
        "web-front",
        "shop",
    )

    item = shop.agent.claim_one()
    assert item["kind"] == "DeploymentTask" and item["release_name"] == "web-front"
    assert item["namespace"] == "shop"
    assert item["task"]["operation"] == {
        "Install": {"helm_chart_id": "chart-1", "config": {"replicas": 2}, "values_override": None}
    }
    assert (
        item["deployment"]["config"] == {"replicas": 2} and item["deployment"]["env_name"] == "dev"
    )
    assert item["helm_chart"]["ref"].startswith("oci://") and item["helm_chart"]["tag"] == "1.0.0"
    # the environment's secrets, decrypted for the agent's claim only
    assert item["secrets"] == [{"collection": "db", "name": "password", "contents": "s3cr3t-value"}]
    assert shop.agent.report(item).status == 200

    done = shop.settled(created["id"])
    assert done["status"] == "Running", done
    (task,) = shop.tasks()
    assert task["status"] == "Done" and task["started_at"] and task["finished_at"]
    assert task["acting_user_id"] == shop.get("/auth/me")["id"]
    events = workflow.events("shop")
    assert events[-3:] == ["deployment_created", "task_started", "task_done"]
    from tenantry.dal import table

    items = table.client().scan(TableName=table.table_name())["Items"]
    assert "s3cr3t-value" not in repr(items)  # the work item holds no secret


def test_upgrade_carries_the_config_delta_and_the_agents_failure_is_the_reason(shop: Shop) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])

    assert shop.patch(dep["id"], config={"replicas": 3})["status"] == "Upgrading"
    item = shop.agent.claim_one()
    upgrade = item["task"]["operation"]["Upgrade"]
    assert (
        upgrade["config_delta"] == {"replicas": [2, 3]}
        and upgrade["prev_helm_chart_id"] == "chart-1"
    )
    assert (
        shop.agent.report(item, "Failed", "helm: timed out waiting for the condition").status == 200
    )
    failed = shop.settled(dep["id"])
    assert (failed["status"], failed["reason"]) == (
        "Error",
        "helm: timed out waiting for the condition",
    )
    assert shop.tasks()[-1]["reason"] == "helm: timed out waiting for the condition"


def test_disable_uninstalls_and_enable_installs_again(shop: Shop) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    shop.patch(dep["id"], enabled=False)
    assert "Uninstall" in shop.agent.do_all("Done")[0]["task"]["operation"]
    assert shop.settled(dep["id"])["status"] == "Uninstalled"
    shop.patch(dep["id"], enabled=True)
    assert "Install" in shop.agent.do_all("Done")[0]["task"]["operation"]
    assert shop.settled(dep["id"])["status"] == "Running"
    # a description alone makes no task
    shop.patch(dep["id"], description_md="# the shop's front")
    assert shop.agent.claim() == [] and len(shop.tasks()) == 3


def test_delete_uninstalls_then_the_record_goes_and_the_environment_may_go(
    shop: Shop, workflow: Workflow
) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    env_path = f"/projects/shop/environments/{shop.env}"
    assert shop.api.delete(env_path, token=shop.admin).status == 409  # it has a deployment

    r = shop.api.delete(f"/projects/shop/deployments/{dep['id']}", token=shop.admin)
    assert r.status == 202 and r.json()["status"] == "Deleting", r
    assert "Uninstall" in shop.agent.do_all("Done")[0]["task"]["operation"]
    wait_until(
        lambda: shop.api.get(f"/projects/shop/deployments/{dep['id']}", token=shop.admin).status
        == 404,
        timeout=20,
    )
    assert [t["status"] for t in shop.tasks()] == ["Done", "Done"]  # tasks stay
    assert "deployment_delete_requested" in workflow.events("shop")
    # the release name is free again, and the environment has no deployment
    assert shop.deploy().status == 201
    shop.agent.do_all("Done")


def test_a_silent_agent_fails_the_task_saying_so(shop: Shop) -> None:
    dep = shop.deploy().json()
    failed = shop.settled(dep["id"])
    assert failed["status"] == "Error"
    assert failed["reason"] == f"the cluster's agent did not answer within {SILENCE} s"
    assert shop.agent.claim() == []  # given up: no agent works on it later


def test_tasks_run_one_at_a_time_in_order_and_a_failed_one_does_not_block(shop: Shop) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    shop.patch(dep["id"], config={"replicas": 3})
    shop.patch(dep["id"], config={"replicas": 4})
    first = shop.agent.claim_one()
    assert first["task"]["operation"]["Upgrade"]["config_delta"] == {"replicas": [2, 3]}
    assert shop.agent.claim() == []  # the second waits for the first
    assert [t["status"] for t in shop.tasks()][-2:] == ["Started", "Pending"]
    shop.agent.report(first, "Failed", "boom")
    second = shop.agent.claim_one()
    assert second["task"]["operation"]["Upgrade"]["config_delta"] == {"replicas": [3, 4]}
    shop.agent.report(second)
    assert shop.settled(dep["id"])["status"] == "Running"
    assert [t["status"] for t in shop.tasks()] == ["Done", "Failed", "Done"]


def test_a_pending_task_is_canceled_by_a_writer_and_not_after_it_started(
    shop: Shop, api: Api
) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    shop.patch(dep["id"], config={"replicas": 3})
    running = shop.agent.claim_one()
    shop.patch(dep["id"], config={"replicas": 4})
    pending = shop.tasks()[-1]
    assert pending["status"] == "Pending"

    r = api.delete(
        f"/projects/shop/deployment-tasks/{pending['id']}",
        token=shop.admin,
        query={"reason": "not now"},
    )
    assert r.status == 200, r
    canceled = r.json()
    assert canceled["status"] == "Canceled" and canceled["canceled_by_user_id"]
    r = api.delete(f"/projects/shop/deployment-tasks/{shop.tasks()[-2]['id']}", token=shop.admin)
    assert r.status == 409, r  # started: too late
    shop.agent.report(running)
    shop.settled(dep["id"])
    assert shop.agent.claim() == []  # the canceled one never runs


def test_a_scheduled_action_runs_once_due_even_with_two_scheduler_runs(
    shop: Shop, api: Api, workflow: Workflow
) -> None:
    from tenantry.clock import now_iso
    from tenantry.domain import tasks

    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    at = now_iso(timedelta(minutes=10))[:19] + "Z"
    body = {
        "deployment_id": dep["id"],
        "operation": {"InvokeAction": {"action_id": "flush-cache", "body": {"all": True}}},
        "execute_at": at,
    }
    r = api.post("/projects/shop/deployment-tasks", token=shop.admin, json=body)
    assert r.status == 201, r
    assert r.json()["status"] == "Pending"
    assert tasks.run_scheduler()["started"] == 0  # not due yet
    assert shop.agent.claim() == []

    later = now_iso(timedelta(minutes=11))
    results: list[dict[str, int]] = []
    runs = [
        threading.Thread(target=lambda: results.append(tasks.run_scheduler(later)))
        for _ in range(2)
    ]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert sum(r["started"] for r in results) >= 1
    item = shop.agent.claim_one()
    assert item["task"]["operation"]["InvokeAction"]["action_id"] == "flush-cache"
    shop.agent.report(item)
    wait_until(lambda: shop.tasks()[-1]["status"] == "Done", timeout=20)
    assert workflow.events("shop").count("task_started") == 2  # the install, and this once
    assert shop.agent.claim() == []


def test_what_may_not_be_deployed(shop: Shop, api: Api, admin_token: str) -> None:
    seed_chart("chart-gone", available=False)
    seed_chart("chart-db", kind_id="kind-db", kind_name="db")
    cases = [
        ({"helm_chart_id": "chart-gone"}, 422),
        ({"helm_chart_id": "chart-db"}, 422),  # another kind's chart
        ({"config": {"replicas": "two"}}, 422),  # the values UI says number
        ({"config": {}}, 422),  # replicas is required
        ({"cluster_id": "no-such-cluster"}, 422),
        ({"env_id": "no-such-env"}, 404),
    ]
    for body, status in cases:
        r = shop.deploy(**body)
        assert r.status == status, (body, r)
    assert shop.deploy(name="api").status == 201
    assert shop.deploy(name="api").status == 409  # release web-api is taken
    shop.agent.do_all("Done")


def test_who_may_deploy(shop: Shop, api: Api, admin_token: str) -> None:
    member, member_token = make_user(api, admin_token, "Mia")
    _, outsider_token = make_user(api, admin_token, "Otto")
    bot, bot_token = make_bot(api, admin_token, "Deployer")
    body = {"project_id": "shop", "action": "enroll", "user_id": member["id"]}
    assert (
        api.post("/memberships", token=admin_token, json={**body, "role": "member"}).status == 201
    )
    assert shop.deploy(token=member_token).status == 403
    assert shop.deploy(token=outsider_token).status == 404
    assert shop.deploy(token=bot_token).status == 404  # a bot without a role sees nothing
    grant = {"bot_id": bot["id"], "role": "Admin"}
    r = api.post(
        f"/projects/shop/environments/{shop.env}/permissions", token=admin_token, json=grant
    )
    assert r.status == 201, r
    assert shop.deploy(token=bot_token, name="by-bot").status == 201  # the same rules as users
    shop.agent.do_all("Done")
    assert len(shop.get("/projects/shop/deployments", token=member_token)["items"]) == 1


def test_deployment_roles_owner_creates_and_deletes_maintainer_changes(
    shop: Shop, api: Api, admin_token: str
) -> None:
    owner, owner_token = make_user(api, admin_token, "Olga")
    maint, maint_token = make_user(api, admin_token, "Mats")
    for user in (owner, maint):
        body = {"project_id": "shop", "action": "enroll", "user_id": user["id"], "role": "viewer"}
        assert api.post("/memberships", token=admin_token, json=body).status == 201
    bot, bot_token = make_bot(api, admin_token, "Ops Bot")
    # the bot sees the environment through a role on it, as a user through membership
    r = api.post(
        f"/projects/shop/environments/{shop.env}/permissions",
        token=admin_token,
        json={"bot_id": bot["id"], "role": "User"},
    )
    assert r.status == 201, r
    grants = [
        (owner["id"], "user_id", "Owner"),
        (maint["id"], "user_id", "Maintainer"),
        (bot["id"], "bot_id", "Owner"),
    ]
    for who, field, role in grants:
        body = {"env_id": shop.env, "kind_id": "kind-web", field: who, "role": role}
        r = api.post("/projects/shop/deployment-permissions", token=admin_token, json=body)
        assert r.status == 201, r
    again = {"env_id": shop.env, "kind_id": "kind-web", "user_id": owner["id"], "role": "Owner"}
    assert (
        api.post("/projects/shop/deployment-permissions", token=admin_token, json=again).status
        == 409
    )
    # a Maintainer neither creates nor deletes; an Owner (user or bot) does
    assert shop.deploy(token=maint_token, name="m").status == 403
    r = shop.deploy(token=owner_token, name="o")
    assert r.status == 201, r
    dep = r.json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    assert shop.deploy(token=bot_token, name="b").status == 201
    shop.agent.do_all("Done")
    # the Maintainer changes it
    r = api.patch(
        f"/projects/shop/deployments/{dep['id']}",
        token=maint_token,
        json={"config": {"replicas": 5}},
    )
    assert r.status == 200, r
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    assert api.delete(f"/projects/shop/deployments/{dep['id']}", token=maint_token).status == 403
    # the role is for that kind only
    seed_chart("chart-db", kind_id="kind-db", kind_name="db")
    assert shop.deploy(token=owner_token, kind_id="kind-db", helm_chart_id="chart-db").status == 403
    listed = shop.get(f"/projects/shop/deployment-permissions?env_id={shop.env}")["items"]
    assert {p["role"] for p in listed} == {"Owner", "Maintainer"} and len(listed) == 3
    r = api.delete(f"/projects/shop/deployment-permissions/{listed[0]['id']}", token=maint_token)
    assert r.status == 403, r


def test_a_secret_or_node_selector_change_reinstalls_the_envs_deployments(
    shop: Shop, api: Api
) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    r = api.post(
        f"/projects/shop/environments/{shop.env}/secrets",
        token=shop.admin,
        json={"collection": "db", "name": "user", "contents": "app"},
    )
    assert r.status == 201, r
    item = shop.agent.claim_one()
    assert item["task"]["operation"] == {
        "Reinstall": {"reason": "a secret of the environment was added"}
    }
    assert {s["name"] for s in item["secrets"]} == {"password", "user"}
    shop.agent.report(item)
    shop.settled(dep["id"])
    r = api.patch(
        f"/projects/shop/environments/{shop.env}",
        token=shop.admin,
        json={"node_selector": {"pool": "gpu"}},
    )
    assert r.status == 200, r
    item = shop.agent.claim_one()
    assert "node_selector" in item["task"]["operation"]["Reinstall"]["reason"]
    assert item["deployment"]["node_selector"] == {"pool": "gpu"}
    shop.agent.report(item)
    assert shop.settled(dep["id"])["status"] == "Running"


def test_a_restart_names_a_workload_the_agent_reported(shop: Shop, api: Api) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    report = {
        "deployment_id": dep["id"],
        "items": [
            {
                "uid": "uid-web",
                "kind": "Deployment",
                "api_version": "apps/v1",
                "name": "web",
                "status_color": ["success"],
            },
            {"uid": "uid-svc", "kind": "Service", "api_version": "v1", "name": "web"},
        ],
    }
    assert api.put("/agent/k8s-resources", token=shop.agent.token, json=report).status == 204
    status = {"get_successful": True, "content": {"ready": True}}
    r = api.put(
        f"/agent/deployments/{dep['id']}/reported-status", token=shop.agent.token, json=status
    )
    assert r.status == 204, r
    assert shop.deployment(dep["id"])["reported_status"]["content"] == {"ready": True}
    listed = shop.get(f"/projects/shop/k8s-resources?deployment_id={dep['id']}")["items"]
    assert {i["id"] for i in listed} == {"uid-web", "uid-svc"}
    # another cluster's agent reports nothing about it
    other = TestAgent.register(api, shop.admin, "west")
    assert api.put("/agent/k8s-resources", token=other.token, json=report).status == 404

    def restart(resource_id: str) -> Any:
        body = {
            "deployment_id": dep["id"],
            "operation": {"RestartK8sResource": {"resource_id": resource_id}},
        }
        return api.post("/projects/shop/deployment-tasks", token=shop.admin, json=body)

    assert restart("uid-svc").status == 422  # a Service is not restartable
    assert restart("no-such-uid").status == 422
    r = restart("uid-web")
    assert r.status == 201, r
    item = shop.agent.claim_one()
    assert item["task"]["operation"] == {
        "RestartK8sResource": {"resource_id": "uid-web", "kind": "Deployment", "name": "web"}
    }
    shop.agent.report(item)
    assert shop.settled(dep["id"])["status"] == "Running"
    # a later report replaces the earlier one
    report["items"] = report["items"][:1]
    assert api.put("/agent/k8s-resources", token=shop.agent.token, json=report).status == 204
    assert len(shop.get("/projects/shop/k8s-resources")["items"]) == 1


def test_an_impossible_execute_at_is_422_not_500(shop: Shop, api: Api) -> None:
    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    for moment in ("2031-13-01T03:00:00Z", "2031-02-30T03:00:00Z", "2031-01-01T25:00:00Z"):
        body = {
            "deployment_id": dep["id"],
            "execute_at": moment,
            "operation": {"InvokeAction": {"action_id": "flush-cache", "body": {}}},
        }
        r = api.post("/projects/shop/deployment-tasks", token=shop.admin, json=body)
        assert r.status == 422, (moment, r)
        assert r.json()["errors"][0]["loc"] == ["body", "execute_at"]
    assert len(shop.tasks()) == 1  # nothing was written


def test_a_run_whose_outcome_was_never_recorded_is_swept_and_the_next_task_runs(
    shop: Shop, api: Api, faults: Faults, workflow: Workflow
) -> None:
    """FinishTask failing past its retries ends the execution (TaskNotRecorded) with the
    task Started and the deployment's slot held. The scheduler, once the run is past its
    execution's timeout, records the agent's outcome (or Failed, saying so), gives the
    slot back and the deployment's next task runs: nothing stays stuck."""
    from tenantry.clock import now_iso
    from tenantry.domain import tasks

    dep = shop.deploy().json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    broken = faults.inject(tasks, "_record", lambda: RuntimeError("the table is gone (injected)"))
    shop.patch(dep["id"], config={"replicas": 3})
    upgrade = shop.agent.claim_one()
    assert shop.agent.report(upgrade).status == 200
    wait_until(lambda: broken.calls >= 1, timeout=10)
    workflow.settle()
    faults.remove(tasks, "_record")
    shop.patch(dep["id"], config={"replicas": 4})  # waits behind the stuck slot
    stuck = shop.deployment(dep["id"])
    assert stuck["status"] == "Upgrading" and stuck["current_task_id"]
    assert [t["status"] for t in shop.tasks()][-2:] == ["Started", "Pending"]
    assert tasks.run_scheduler()["lost"] == 0  # not past the deadline yet
    assert shop.agent.claim() == []

    later = now_iso(timedelta(seconds=tasks.RUN_DEADLINE_SECONDS + 60))
    assert tasks.run_scheduler(later)["lost"] == 1
    assert [t["status"] for t in shop.tasks()][-2] == "Done"  # the agent had reported Done
    nxt = shop.agent.claim_one()
    assert nxt["task"]["operation"]["Upgrade"]["config_delta"] == {"replicas": [3, 4]}
    shop.agent.report(nxt)
    assert shop.settled(dep["id"])["status"] == "Running"
    assert tasks.run_scheduler(later)["lost"] == 0  # each run swept once


def test_a_lost_run_the_agent_never_finished_fails_saying_so(
    shop: Shop, faults: Faults, workflow: Workflow
) -> None:
    from tenantry.clock import now_iso
    from tenantry.domain import tasks

    broken = faults.inject(tasks, "_record", lambda: RuntimeError("injected"))
    dep = shop.deploy().json()
    shop.agent.claim_one()  # taken, never reported; the wait times out, FinishTask fails
    wait_until(lambda: broken.calls >= 1, timeout=15)
    workflow.settle(timeout=15)
    faults.remove(tasks, "_record")
    later = now_iso(timedelta(seconds=tasks.RUN_DEADLINE_SECONDS + 60))
    assert tasks.run_scheduler(later)["lost"] == 1
    failed = shop.settled(dep["id"])
    assert failed["status"] == "Error"
    assert failed["reason"] == "the cluster's agent took the task but did not finish it in time"


def test_the_run_deadline_outlasts_the_execution() -> None:
    from statemachines import asl
    from tenantry.domain import tasks

    assert tasks.RUN_DEADLINE_SECONDS > asl.EXECUTION_TIMEOUT


def test_deleting_the_project_cancels_its_tasks_and_removes_its_deployments(
    shop: Shop, api: Api, workflow: Workflow
) -> None:
    """A deleted project leaves no deployment, release name, deployment permission or
    reported resource behind, and no task that could still run; a task the agent was
    running when the project went is still recorded when its run ends."""
    from tenantry.clock import now_iso
    from tenantry.dal import table
    from tenantry.domain import tasks

    quiet = shop.deploy(name="quiet").json()
    busy = shop.deploy(name="busy").json()
    for _ in range(2):
        shop.agent.do_all("Done")
    shop.settled(quiet["id"]), shop.settled(busy["id"])
    bot, _ = make_bot(api, shop.admin, "deployer")
    r = api.post(
        "/projects/shop/deployment-permissions",
        token=shop.admin,
        json={"env_id": shop.env, "bot_id": bot["id"], "kind_id": "kind-web", "role": "Owner"},
    )
    assert r.status == 201, r
    later = now_iso(timedelta(minutes=10))[:19] + "Z"
    r = api.post(
        "/projects/shop/deployment-tasks",
        token=shop.admin,
        json={
            "deployment_id": quiet["id"],
            "operation": {"InvokeAction": {"action_id": "flush-cache", "body": {}}},
            "execute_at": later,
        },
    )
    assert r.status == 201, r
    scheduled = r.json()
    shop.patch(busy["id"], config={"replicas": 5})
    running = shop.agent.claim_one()  # the agent is upgrading `busy`

    workflow.delete("shop", reclaim=True)
    shop.agent.do_all("Done")  # DeleteNamespace
    wait_until(lambda: workflow.project("shop")["status"] == "deleted", timeout=20)
    events = workflow.events("shop")
    assert "deployments_removed" in events
    removed = next(e for e in workflow.history("shop") if e["event"] == "deployments_removed")
    assert removed["detail"]["deployments"] == 2 and removed["detail"]["tasks_canceled"] == 1

    items = table.client().scan(TableName=table.table_name())["Items"]
    left = {i["SK"].split("#")[0] for i in items if i["PK"] == "PROJECT#shop"}
    assert not left & {"DEPLOY", "RELEASE", "DEPLOYPERM", "K8S"}, left
    assert "TASK" in left  # tasks stay with the history
    assert not [i for i in items if i["PK"].startswith("DEPLOYMENTREF#")]
    assert tasks.run_scheduler(now_iso(timedelta(minutes=20)))["started"] == 0
    assert shop.agent.claim() == []

    # the upgrade the agent never finished ends (its wait times out) after the project
    task_path = f"/projects/shop/deployment-tasks/{running['task']['id']}"
    ended = wait_until(
        lambda: (t := api.get(task_path, token=shop.admin).json())["status"] != "Started" and t,
        timeout=20,
    )
    assert ended["status"] == "Failed", ended
    assert ended["reason"] == "the cluster's agent took the task but did not finish it in time"
    canceled = api.get(f"/projects/shop/deployment-tasks/{scheduled['id']}", token=shop.admin)
    assert canceled.json()["status"] == "Canceled", canceled
    assert canceled.json()["reason"] == "the project is being deleted"
    assert workflow.events("shop")[-1] == "deleted"  # the closed history stays closed


def _second_cluster(shop: Shop, workflow: Workflow) -> TestAgent:
    west = TestAgent.register(shop.api, shop.admin, "west")
    body = {"clusters": [{"name": "east", "quota": {}}, {"name": "west", "quota": {}}]}
    assert shop.api.patch("/projects/shop", token=shop.admin, json=body).status == 200
    assert workflow.action("shop", "retry").status == 202
    west.do_all("Done")  # its namespace
    wait_until(lambda: workflow.project("shop")["status"] == "active", timeout=15)
    return west


def test_a_cluster_or_name_change_recreates_uninstalling_where_it_was(
    shop: Shop, api: Api, workflow: Workflow
) -> None:
    west = _second_cluster(shop, workflow)
    dep = shop.deploy(name="front").json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])

    moved = shop.patch(dep["id"], cluster_id=west.cluster_id, name="shopfront")
    assert moved["status"] == "Renaming" and moved["release_name"] == "web-shopfront"
    assert moved["cluster_id"] == west.cluster_id
    assert west.claim() == []  # first the old release goes
    old = shop.agent.claim_one()
    assert old["release_name"] == "web-front" and old["namespace"] == "shop"
    assert old["task"]["operation"] == {
        "Recreate": {
            "old_cluster_id": shop.agent.cluster_id,
            "new_cluster_id": west.cluster_id,
            "step": "uninstall",
        }
    }
    shop.agent.report(old)
    new = west.claim_one()
    assert new["release_name"] == "web-shopfront"
    assert new["task"]["operation"]["Recreate"]["step"] == "install"
    assert new["deployment"]["config"] == {"replicas": 2} and new["helm_chart"]["tag"] == "1.0.0"
    west.report(new)
    assert shop.settled(dep["id"])["status"] == "Running"
    (task,) = [t for t in shop.tasks() if "Recreate" in t["operation"]]
    assert task["status"] == "Done" and task["cluster_id"] == west.cluster_id

    # the old release name is free again on east; the new one is taken on west
    assert shop.deploy(name="front").status == 201
    shop.agent.do_all("Done")
    r = shop.deploy(name="shopfront", cluster_id=west.cluster_id)
    assert r.status == 409, r
    # the agent that now runs it reports for it; the old one no longer may
    status = {"get_successful": True, "content": {"ready": True}}
    path = f"/agent/deployments/{dep['id']}/reported-status"
    assert api.put(path, token=west.token, json=status).status == 204
    assert api.put(path, token=shop.agent.token, json=status).status in (403, 404)


def test_a_failed_uninstall_where_it_was_keeps_the_old_name_and_says_so(
    shop: Shop, workflow: Workflow
) -> None:
    dep = shop.deploy(name="front").json()
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    shop.patch(dep["id"], name="back")
    old = shop.agent.claim_one()
    shop.agent.report(old, "Failed", "helm: release is locked")
    failed = shop.settled(dep["id"])
    assert failed["status"] == "Error" and failed["release_name"] == "web-back"
    assert failed["reason"] == (
        "the release could not be uninstalled where it was: helm: release is locked"
    )
    assert shop.agent.claim() == []  # nothing installed where it goes
    assert shop.deploy(name="front").status == 409  # the old release may still be there
    # moving back where it was is allowed: the old name is still the deployment's
    back = shop.patch(dep["id"], name="front")
    assert back["status"] == "Renaming"
    assert shop.agent.do_all("Done", count=2)[0]["release_name"] == "web-back"
    assert shop.settled(dep["id"])["status"] == "Running"


def test_what_a_move_refuses(shop: Shop, api: Api, workflow: Workflow) -> None:
    dep = shop.deploy(name="front").json()
    path = f"/projects/shop/deployments/{dep['id']}"
    r = api.patch(path, token=shop.admin, json={"name": "elsewhere"})
    assert r.status == 409, r  # its Install has not run yet
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    r = api.patch(path, token=shop.admin, json={"name": "elsewhere", "enabled": False})
    assert r.status == 422 and r.json()["errors"][0]["loc"] == ["body", "enabled"], r
    r = api.patch(path, token=shop.admin, json={"cluster_id": "no-such-cluster"})
    assert r.status == 422 and r.json()["errors"][0]["loc"] == ["body", "cluster_id"], r
    r = api.patch(path, token=shop.admin, json={"name": "Not A Name"})
    assert r.status == 422, r
    other = shop.deploy(name="taken").json()
    shop.agent.do_all("Done")
    shop.settled(other["id"])
    r = api.patch(path, token=shop.admin, json={"name": "taken"})
    assert r.status == 409 and "web-taken" in r.json()["detail"], r
    assert shop.deployment(dep["id"])["release_name"] == "web-front"

    # a disabled deployment moves without a task: nothing is installed
    shop.patch(dep["id"], enabled=False)
    shop.agent.do_all("Done")
    shop.settled(dep["id"])
    moved = shop.patch(dep["id"], name="")
    assert moved["release_name"] == "web" and moved["status"] == "Uninstalled"
    assert shop.agent.claim() == []
    assert shop.deploy(name="front").status == 201  # its old name is free at once


def test_config_numbers_are_kept_as_sent_and_unstorable_ones_are_422(shop: Shop, api: Api) -> None:
    """A fraction in a config is stored (DynamoDB's Decimal) and answered as sent; a
    number DynamoDB cannot hold is 422 on the body, never a 500."""
    r = shop.deploy(config={"replicas": 2, "ratio": 0.1, "limits": {"cpu": 2.5}})
    assert r.status == 201, r
    dep = r.json()
    assert dep["config"] == {"replicas": 2, "ratio": 0.1, "limits": {"cpu": 2.5}}
    item = shop.agent.claim_one()
    assert item["deployment"]["config"]["limits"] == {"cpu": 2.5}
    shop.agent.report(item)
    shop.settled(dep["id"])
    assert shop.patch(dep["id"], config={"replicas": 2, "ratio": 0.25})["config"]["ratio"] == 0.25
    path = f"/projects/shop/deployments/{dep['id']}"
    r = api.patch(path, token=shop.admin, json={"config": {"replicas": 2, "x": 1e200}})
    assert r.status == 422, r
    assert r.json()["errors"][0]["loc"][:2] == ["body", "config"], r
    r = api.patch(path, token=shop.admin, json={"config": {"replicas": 2, "x": 10**40}})
    assert r.status == 400, r  # refused with the body: an integer of over 38 digits
    r = shop.deploy(name="big", config={"replicas": 2}, values_override={"n": 1e-200})
    assert r.status == 422, r
