"""Deployment resource types and deployment resources, end to end: a deployment's Install
(RunDeploymentTask under moto, the test agent over HTTP) upserts its chart's resource
types; a resource's writes become ResourceSync work items the agent claims, one at a
time per resource, and their outcomes settle it (Done: Ready, a deletion `exists: false`;
Failed or attempts exhausted: Error with the reason). Sensitive props go to the agent and
nowhere else. Who may read and write, and what is refused.

Contract: API.md "Deployments and tasks (Platz)", "Deployment resource types".
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from tests.catalog_seed import seed_chart
from tests.harness import Api, Response, wait_until
from tests.integration.helpers import assert_problem, make_bot, make_user
from tests.integration.test_agent_protocol import Clock
from tests.workflows.test_deployments_workflow import Shop

ALARM_CODE = "alarm-4711-do-not-leak"  # a sensitive prop's value no test finds by accident
LEASE = 10
# What the chart declares (Platz's chart-ext test chart, plus an environment type).
RESOURCE_TYPES = [
    {
        "apiVersion": "platz.io/v1beta1",
        "kind": "ResourceType",
        "key": "shop",
        "spec": {
            "name_singular": "Shop",
            "name_plural": "Shops",
            "fontawesome_icon": "shop",
            "global": True,
            "values_ui": {
                "inputs": [
                    {"id": "city", "type": "text", "label": "City", "required": True},
                    {"id": "tills", "type": "number", "label": "Tills"},
                    {
                        "id": "alarm_code",
                        "type": "text",
                        "label": "Alarm Code",
                        "required": True,
                        "sensitive": True,
                    },
                ]
            },
            "lifecycle": {"create": {}, "update": {}, "delete": {"allowed_role": "Owner"}},
        },
    },
    {
        "apiVersion": "platz.io/v1beta1",
        "kind": "ResourceType",
        "key": "redirect",
        "spec": {
            "name_singular": "Redirect",
            "name_plural": "Redirects",
            "fontawesome_icon": "arrow-right",
            "values_ui": {
                "inputs": [{"id": "to_url", "type": "text", "label": "To", "required": True}]
            },
        },
    },
    {"kind": "ResourceType", "key": "no spec: skipped"},
]


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {
        "AgentWorkTimeoutSeconds": "5",
        "AgentLeaseSeconds": str(LEASE),
        "AgentWorkMaxAttempts": "2",
    }


class Store(Shop):
    """Shop (project `shop`, cluster `east`, env dev) with a Running deployment `web` of a
    chart that declares the two types above."""

    def __init__(self, api: Api, admin: str) -> None:
        super().__init__(api, admin)
        self.chart = seed_chart(
            "chart-res",
            values_ui={"inputs": [{"id": "replicas", "type": "number", "required": True}]},
            resource_types=RESOURCE_TYPES,
        )
        r = self.deploy()
        assert r.status == 201, r
        self.dep = r.json()
        self.agent.do_all("Done")
        assert self.settled(self.dep["id"])["status"] == "Running"
        types = {t["key"]: t for t in self.types()}
        types.update({t["key"]: t for t in self.types(env_id=self.env)})
        self.shop_type, self.redirect_type = types["shop"], types["redirect"]

    def types(self, token: str | None = None, **query: Any) -> list[Any]:
        r = self.api.get("/deployment-resource-types", token=token or self.admin, query=query)
        assert r.status == 200, r
        return list(r.json()["items"])

    @property
    def resources(self) -> str:
        return "/projects/shop/deployment-resources"

    def create(self, token: str | None = None, **body: Any) -> Response:
        payload = {
            "type_id": self.shop_type["id"],
            "deployment_id": self.dep["id"],
            "name": "Main shop",
            "props": {"city": "Lyon", "tills": 3, "alarm_code": ALARM_CODE},
            **body,
        }
        return self.api.post(self.resources, token=token or self.admin, json=payload)

    def resource(self, resource_id: str, token: str | None = None) -> Any:
        return self.get(f"{self.resources}/{resource_id}", token=token)

    def sync(self, status: str = "Done", reason: str | None = None) -> dict[str, Any]:
        """The agent claims the next ResourceSync and reports `status`."""
        item = self.agent.claim_one()
        assert item["kind"] == "ResourceSync", item
        assert self.agent.report(item, status, reason).status == 200
        return item

    def settled_resource(self, resource_id: str) -> Any:
        working = ("Creating", "Updating", "Deleting")
        return wait_until(
            lambda: (r := self.resource(resource_id))["sync_status"] not in working and r,
            timeout=10,
        )


@pytest.fixture
def store(api: Api, admin_token: str) -> Store:
    return Store(api, admin_token)


# --- types ------------------------------------------------------------------------------------


def test_a_successful_install_upserts_the_charts_types(store: Store, api: Api) -> None:
    shop, redirect = store.shop_type, store.redirect_type
    assert (shop["env_id"], shop["deployment_kind_id"]) == (None, "kind-web")  # global
    assert shop["spec"]["values_ui"]["inputs"][2]["sensitive"] is True
    assert shop["spec"]["name_plural"] == "Shops"
    assert (redirect["env_id"], redirect["key"]) == (store.env, "redirect")
    assert [t["key"] for t in store.types()] == ["shop"]  # the global ones
    assert [t["key"] for t in store.types(env_id=store.env)] == ["redirect"]
    assert store.types(env_id=store.env, key="shop") == []
    assert store.types(deployment_kind_id="kind-db") == []
    assert [t["key"] for t in store.types(deployment_kind_id="kind-web", key="shop")] == ["shop"]
    got = store.get(f"/deployment-resource-types/{redirect['id']}")
    assert got == redirect

    # an upgrade upserts the same types again: same ids, one each
    store.patch(store.dep["id"], config={"replicas": 3})
    store.agent.do_all("Done")
    store.settled(store.dep["id"])
    again = store.types(env_id=store.env)
    assert [(t["id"], t["created_at"]) for t in again] == [(redirect["id"], redirect["created_at"])]
    assert again[0]["updated_at"] > redirect["updated_at"]


def test_who_reads_types(store: Store, api: Api, admin_token: str) -> None:
    _, outsider = make_user(api, admin_token, "Olli")
    bot, bot_token = make_bot(api, admin_token, "Reader")
    for token in (outsider, bot_token):
        assert [t["key"] for t in store.types(token=token)] == ["shop"]  # global: everyone
        assert store.types(token=token, env_id=store.env) == []  # an env they do not see
        r = api.get(f"/deployment-resource-types/{store.redirect_type['id']}", token=token)
        assert_problem(r, 404, "not-found")
        r = api.get(f"/deployment-resource-types/{store.shop_type['id']}", token=token)
        assert r.status == 200, r
    assert store.types(env_id="no-such-env") == []
    r = api.get("/deployment-resource-types/no-such-type", token=admin_token)
    assert_problem(r, 404, "not-found")
    # a bot with a role on the environment sees its types
    grant = {"bot_id": bot["id"], "role": "User"}
    r = api.post(
        f"/projects/shop/environments/{store.env}/permissions", token=admin_token, json=grant
    )
    assert r.status == 201, r
    assert [t["key"] for t in store.types(token=bot_token, env_id=store.env)] == ["redirect"]


# --- resources: the sync ------------------------------------------------------------------------


def test_create_sync_ready_with_sensitive_props_only_for_the_agent(
    store: Store, api: Api, workflow: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = store.create()
    assert r.status == 201, r
    created = r.json()
    assert (created["sync_status"], created["exists"], created["version"]) == ("Creating", True, 1)
    assert created["props"] == {"city": "Lyon", "tills": 3}  # never the sensitive one
    assert r.headers.get("etag") == '"1"'
    assert r.headers.get("location") == f"{store.resources}/{created['id']}"

    item = store.agent.claim_one()
    assert item["kind"] == "ResourceSync"
    assert (item["namespace"], item["release_name"]) == ("shop", "web")
    resource = item["resource"]
    assert resource["action"] == "Apply" and resource["type_key"] == "shop"
    assert resource["props"] == {"city": "Lyon", "tills": 3, "alarm_code": ALARM_CODE}
    assert resource["sensitive"] == ["alarm_code"] and "sealed" not in resource
    assert (resource["id"], resource["version"], resource["name"]) == (
        created["id"],
        1,
        "Main shop",
    )
    assert store.resource(created["id"])["sync_status"] == "Creating"
    assert store.agent.report(item).status == 200
    ready = store.resource(created["id"])
    assert (ready["sync_status"], ready["exists"], ready["sync_reason"]) == ("Ready", True, None)
    assert ready["props"] == {"city": "Lyon", "tills": 3}

    # the sensitive prop is in no answer, no item of the table, no history entry, no log line
    listed = store.get(store.resources)["items"]
    history = store.get("/projects/shop/history?limit=100")
    from tenantry.dal import table

    items = table.client().scan(TableName=table.table_name())["Items"]
    for where in (listed, history, items, caplog.text):
        assert ALARM_CODE not in repr(where)
    assert "deployment_resource_created" in workflow.events("shop")


def test_a_write_while_syncing_waits_and_the_newest_version_is_synced_next(store: Store) -> None:
    created = store.create().json()
    first = store.agent.claim_one()
    r = store.api.patch(
        f"{store.resources}/{created['id']}",
        token=store.admin,
        json={"props": {"city": "Paris"}},  # the alarm code, left out, keeps its value
        headers={"If-Match": '"1"'},
    )
    assert r.status == 200, r
    assert (r.json()["sync_status"], r.json()["version"]) == ("Updating", 2)
    r = store.api.patch(
        f"{store.resources}/{created['id']}", token=store.admin, json={"name": "Paris shop"}
    )
    assert r.status == 200 and r.json()["version"] == 3, r
    assert store.agent.claim() == []  # one sync at a time per resource
    assert store.agent.report(first).status == 200  # done with version 1: the newest is next
    assert store.resource(created["id"])["sync_status"] == "Updating"

    second = store.agent.claim_one()["resource"]
    assert (second["version"], second["name"]) == (3, "Paris shop")
    assert second["props"] == {"city": "Paris", "alarm_code": ALARM_CODE}
    assert store.agent.report(store.agent.seen[-1]).status == 200
    assert store.settled_resource(created["id"])["sync_status"] == "Ready"
    assert store.agent.claim() == []


def test_a_failed_sync_is_error_with_the_agents_reason_and_a_change_tries_again(
    store: Store,
) -> None:
    created = store.create().json()
    store.sync("Failed", "configmaps is forbidden")
    failed = store.resource(created["id"])
    assert (failed["sync_status"], failed["sync_reason"]) == ("Error", "configmaps is forbidden")
    r = store.api.patch(
        f"{store.resources}/{created['id']}",
        token=store.admin,
        json={"props": {"city": "Nice", "tills": 2.5}},
    )
    assert r.status == 200 and r.json()["sync_reason"] is None, r
    assert r.json()["props"] == {"city": "Nice", "tills": 2.5}  # a number, as sent
    assert store.sync("Done")["resource"]["props"]["tills"] == 2.5
    again = store.resource(created["id"])
    assert again["sync_status"] == "Ready" and again["props"]["tills"] == 2.5


def test_a_sync_no_agent_finishes_is_error_saying_so(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    created = store.create().json()
    for _ in range(2):  # AgentWorkMaxAttempts leases, each left to expire
        assert store.agent.claim_one()["kind"] == "ResourceSync"
        clock.advance(LEASE + 1)
    assert store.agent.claim() == []  # given up
    failed = store.resource(created["id"])
    assert failed["sync_status"] == "Error"
    assert failed["sync_reason"] == (
        f"the agent did not finish the work within 2 leases of {LEASE} s each"
    )


def test_a_sync_no_agent_answers_is_given_up_by_the_scheduler(store: Store) -> None:
    from tenantry.clock import now_iso
    from tenantry.domain import resources

    created = store.create().json()
    assert resources.give_up_silent() == 0  # not silent for long enough yet
    assert resources.give_up_silent(now_iso(timedelta(seconds=6))) == 1
    failed = store.resource(created["id"])
    assert (failed["sync_status"], failed["sync_reason"]) == (
        "Error",
        "the cluster's agent did not answer within 5 s",
    )
    assert store.agent.claim() == []  # no agent works on it later
    assert resources.give_up_silent(now_iso(timedelta(seconds=60))) == 0
    # the resource may be deleted all the same (and its deployment then)
    path = f"{store.resources}/{created['id']}"
    assert store.api.delete(path, token=store.admin).status == 202
    store.sync()
    assert store.resource(created["id"])["exists"] is False


def test_delete_ends_with_exists_false_and_frees_the_name(store: Store, api: Api) -> None:
    created = store.create().json()
    store.sync()
    path = f"{store.resources}/{created['id']}"
    # the deployment may not go while it has resources
    r = api.delete(f"/projects/shop/deployments/{store.dep['id']}", token=store.admin)
    assert_problem(r, 409, "conflict")

    r = api.delete(path, token=store.admin, headers={"If-Match": '"2"'})
    assert_problem(r, 412, "precondition-failed")
    r = api.delete(path, token=store.admin)
    assert r.status == 202 and r.json()["sync_status"] == "Deleting", r
    assert api.delete(path, token=store.admin).json()["version"] == 2  # nothing new
    assert_problem(
        api.patch(path, token=store.admin, json={"name": "Gone"}), 409, "conflict"
    )  # being deleted
    item = store.sync()
    assert item["resource"]["action"] == "Delete" and "alarm_code" not in item["resource"]["props"]
    gone = store.resource(created["id"])
    assert (gone["exists"], gone["sync_status"]) == (False, "Ready")
    assert_problem(api.delete(path, token=store.admin), 409, "conflict")
    assert store.create().status == 201  # the name is free again
    store.sync()


def test_a_deployment_with_resources_is_not_moved(store: Store, api: Api) -> None:
    created = store.create().json()
    store.sync()
    path = f"/projects/shop/deployments/{store.dep['id']}"
    r = api.patch(path, token=store.admin, json={"name": "renamed"})  # a Recreate
    assert_problem(r, 409, "conflict")
    assert "delete them before moving it" in r.json()["detail"]
    assert api.delete(f"{store.resources}/{created['id']}", token=store.admin).status == 202
    store.sync()
    r = api.patch(path, token=store.admin, json={"name": "renamed"})
    assert r.status == 200 and r.json()["status"] == "Renaming", r
    store.agent.do_all("Done", count=2)  # uninstall where it was, install where it goes


def test_deleting_the_project_removes_its_resources_and_their_open_syncs(
    store: Store, workflow: Any
) -> None:
    from tenantry.dal import table

    ready = store.create().json()
    store.sync()
    syncing = store.create(name="Second shop").json()  # its sync is left open
    workflow.delete("shop", reclaim=False)
    wait_until(lambda: workflow.project("shop")["status"] == "deleted", timeout=20)
    removed = next(e for e in workflow.history("shop") if e["event"] == "deployments_removed")
    assert removed["detail"]["resource_syncs_canceled"] == 1
    items = table.client().scan(TableName=table.table_name())["Items"]
    left = {i["SK"].split("#")[0] for i in items if i["PK"] == "PROJECT#shop"}
    assert not left & {"DRES", "DRESNAME", "DEPLOY"}, left
    assert store.agent.claim() == []  # no agent syncs a resource of a deleted project
    assert ready["id"] != syncing["id"]


def test_a_failed_deletion_is_error_and_may_be_asked_again(store: Store, api: Api) -> None:
    created = store.create().json()
    store.sync()
    path = f"{store.resources}/{created['id']}"
    assert api.delete(path, token=store.admin).status == 202
    store.sync("Failed", "the API server is gone")
    failed = store.resource(created["id"])
    assert (failed["sync_status"], failed["exists"]) == ("Error", True)
    r = api.delete(path, token=store.admin)
    assert r.status == 202 and r.json()["sync_status"] == "Deleting", r
    store.sync()
    assert store.resource(created["id"])["exists"] is False


# --- resources: what is refused ----------------------------------------------------------------


def test_bad_input(store: Store, api: Api) -> None:
    seed_chart("chart-db", kind_id="kind-db", kind_name="db", resource_types=RESOURCE_TYPES)
    cases = [
        ({"props": {"city": "Lyon"}}, ["body", "props", "alarm_code"]),  # required
        ({"props": {"city": 7, "alarm_code": "x"}}, ["body", "props", "city"]),  # a text
        (
            {"props": {"city": "Lyon", "alarm_code": "x", "colour": "red"}},
            ["body", "props", "colour"],
        ),
        ({"props": {"city": "L", "alarm_code": "x", "tills": 1e300}}, ["body", "props", "tills"]),
        ({"type_id": "no-such-type"}, ["body", "type_id"]),
        ({"type_id": store.redirect_type["id"] + "x"}, ["body", "type_id"]),
        ({"name": " leading space"}, ["body", "name"]),
        ({"name": "x" * 129}, ["body", "name"]),
        ({"props": []}, ["body", "props"]),
    ]
    for body, loc in cases:
        r = store.create(**body)
        assert r.status == 422, (body, r)
        assert loc in [e["loc"] for e in r.json()["errors"]], (body, r.json())
    # a type of another kind
    other = {"deployment_kind_id": "kind-db"}
    assert store.types(**other) == []  # kind-db never installed: no type yet
    r = store.create(deployment_id="no-such-deployment")
    assert_problem(r, 404, "not-found")
    assert store.create().status == 201
    assert_problem(store.create(), 409, "conflict")  # the name is taken for that type
    r = store.create(type_id=store.redirect_type["id"], props={"to_url": "https://a.example"})
    assert r.status == 201, r  # the same name, another type
    for path in (f"{store.resources}/no-such-resource",):
        assert_problem(api.get(path, token=store.admin), 404, "not-found")
        assert_problem(api.patch(path, token=store.admin, json={"name": "x"}), 404, "not-found")
        assert_problem(api.delete(path, token=store.admin), 404, "not-found")
    r = api.patch(
        f"{store.resources}/{store.get(store.resources)['items'][0]['id']}",
        token=store.admin,
        json={},
    )
    assert r.status == 422, r
    store.agent.do_all("Done", count=2)


def test_who_may_write_and_read(store: Store, api: Api, admin_token: str) -> None:
    member, member_token = make_user(api, admin_token, "Mia")
    maint, maint_token = make_user(api, admin_token, "Mats")
    _, outsider = make_user(api, admin_token, "Otto")
    for user in (member, maint):
        body = {"project_id": "shop", "action": "enroll", "user_id": user["id"], "role": "viewer"}
        assert api.post("/memberships", token=admin_token, json=body).status == 201
    grant = {
        "env_id": store.env,
        "kind_id": "kind-web",
        "user_id": maint["id"],
        "role": "Maintainer",
    }
    r = api.post("/projects/shop/deployment-permissions", token=admin_token, json=grant)
    assert r.status == 201, r
    bot, bot_token = make_bot(api, admin_token, "Res Bot")

    assert_problem(store.create(token=member_token), 403, "forbidden")
    assert_problem(store.create(token=outsider), 404, "not-found")
    assert_problem(store.create(token=bot_token), 404, "not-found")  # a bot without a role
    r = store.create(token=maint_token)  # a Maintainer of the kind creates and changes
    assert r.status == 201, r
    created = r.json()
    store.sync()
    path = f"{store.resources}/{created['id']}"
    assert store.resource(created["id"], token=member_token)["name"] == "Main shop"  # members read
    assert_problem(api.get(path, token=outsider), 404, "not-found")
    assert_problem(api.patch(path, token=member_token, json={"name": "Mine"}), 403, "forbidden")
    assert api.patch(path, token=maint_token, json={"name": "Ours"}).status == 200
    store.sync()
    # the type's lifecycle keeps deletion to Owners (and Admins, managers)
    assert_problem(api.delete(path, token=maint_token), 403, "forbidden")
    # a bot by the same rules: Admin on the environment
    grant = {"bot_id": bot["id"], "role": "Admin"}
    r = api.post(
        f"/projects/shop/environments/{store.env}/permissions", token=admin_token, json=grant
    )
    assert r.status == 201, r
    assert api.delete(path, token=bot_token).status == 202
    store.sync()
