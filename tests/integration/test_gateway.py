"""API subscriptions (API.md, "Console extras (Klustr)"; issue 10, item 1): platform admins
keep a catalog of gateway services, each an API Gateway usage plan with the service's
limits; a project's owner and admins enable a service for the project, which issues an API
key in that plan, shown once, and disable it, which revokes the key; members read the
project's subscriptions, never a key; the project's deletion revokes every key.

Everything runs through the real code path: the routes, the domain, tenantry.api_gateway
and API Gateway as moto emulates it (its usage plans and keys are read back here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import Api, deliver, deliver_stream
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    create_active,
    list_all,
    make_bot,
    make_user,
    wait_status,
)

Wait = Callable[..., Any]
SERVICE_FIELDS = {
    "id",
    "name",
    "description",
    "rate_limit",
    "quota",
    "enabled",
    "created_at",
    "updated_at",
    "version",
    "usage_plan_id",
    "subscriptions",
}
SUBSCRIPTION_FIELDS = {"project_id", "service_id", "service", "created_at", "api_key"}
GEO = {
    "name": "Geocoding",
    "description": "Addresses to coordinates",
    "rate_limit": {"rate": 10, "burst": 20},
    "quota": {"limit": 1000, "period": "DAY"},
}


@dataclass
class World:
    api: Api
    admin: str
    owner: str
    padmin: str  # a project admin
    member: str
    viewer: str
    outsider: str
    bot: str
    pid: str

    def service(self, **body: Any) -> dict[str, Any]:
        r = self.api.post("/gateway-services", token=self.admin, json={**GEO, **body})
        assert r.status == 201, r
        return dict(r.json())

    def gateway(self, service_id: str = "") -> str:
        return f"/projects/{self.pid}/gateway" + (f"/{service_id}" if service_id else "")

    def enable(self, service_id: str, token: str | None = None) -> dict[str, Any]:
        r = self.api.post(self.gateway(service_id), token=token or self.owner)
        assert r.status == 201, r
        return dict(r.json())

    def history(self) -> list[dict[str, Any]]:
        r = self.api.get(f"/projects/{self.pid}/history", token=self.owner, query={"limit": 100})
        assert r.status == 200, r
        return list(r.json()["items"])

    def aws(self) -> Any:
        return self.api.stack.client("apigateway")

    def api_keys(self) -> dict[str, dict[str, Any]]:
        """Every API key API Gateway holds, by id, with its value."""
        items = self.aws().get_api_keys(includeValues=True, limit=500)["items"]
        return {k["id"]: k for k in items}

    def plan_keys(self, plan_id: str) -> set[str]:
        return {k["id"] for k in self.aws().get_usage_plan_keys(usagePlanId=plan_id)["items"]}

    def plan(self, plan_id: str) -> dict[str, Any]:
        return dict(self.aws().get_usage_plan(usagePlanId=plan_id))


@pytest.fixture
def world(api: Api, admin_token: str, wait_until: Wait) -> World:
    _, owner = make_user(api, admin_token, "Owner")
    pid = create_active(api, owner, wait_until, name="Gateway Home", join_policy="auto")["id"]
    tokens = {}
    for kind, role in (("padmin", "admin"), ("member", "member"), ("viewer", "viewer")):
        user, tokens[kind] = make_user(api, admin_token, kind)
        body = {"project_id": pid, "action": "enroll", "user_id": user["id"], "role": role}
        assert api.post("/memberships", token=owner, json=body).status == 201
    _, outsider = make_user(api, admin_token, "Outsider")
    _, bot = make_bot(api, admin_token)
    return World(api, admin_token, owner, outsider=outsider, bot=bot, pid=pid, **tokens)


# --- the catalog --------------------------------------------------------------------------------


def test_a_service_is_a_usage_plan_with_its_limits(world: World) -> None:
    w = world
    r = w.api.post("/gateway-services", token=w.admin, json=GEO)
    assert r.status == 201, r
    service = r.json()
    assert set(service) == SERVICE_FIELDS, service
    assert r.headers["location"] == f"/gateway-services/{service['id']}"
    assert r.headers["etag"] == '"1"'
    assert (service["enabled"], service["version"], service["subscriptions"]) == (True, 1, 0)
    assert {k: service[k] for k in GEO} == GEO
    plan = w.plan(service["usage_plan_id"])
    assert plan["name"] == "Geocoding"
    assert plan["throttle"] == {"rateLimit": 10.0, "burstLimit": 20}
    assert plan["quota"] == {"limit": 1000, "period": "DAY"}

    # anyone signed in reads it (bots too); only admins see the plan and the count
    for token in (w.owner, w.viewer, w.outsider, w.bot):
        r = w.api.get(f"/gateway-services/{service['id']}", token=token)
        assert r.status == 200, r
        assert r.json() == {**service, "usage_plan_id": None, "subscriptions": None}
    r = w.api.get(f"/gateway-services/{service['id']}", token=w.admin)
    assert (r.status, r.json(), r.headers["etag"]) == (200, service, '"1"')


def test_changes_reach_the_usage_plan(world: World) -> None:
    w = world
    service = w.service()
    sid, plan_id = service["id"], service["usage_plan_id"]
    r = w.api.patch(
        f"/gateway-services/{sid}",
        token=w.admin,
        json={"name": "Geo", "rate_limit": {"rate": 3, "burst": 4}, "quota": None},
        headers={"If-Match": '"1"'},
    )
    assert r.status == 200, r
    changed = r.json()
    assert (changed["name"], changed["rate_limit"], changed["quota"]) == (
        "Geo",
        {"rate": 3, "burst": 4},
        None,
    )
    assert (changed["version"], r.headers["etag"]) == (2, '"2"')
    plan = w.plan(plan_id)
    assert (plan["name"], plan["throttle"]) == ("Geo", {"rateLimit": 3.0, "burstLimit": 4})
    assert "quota" not in plan

    r = w.api.patch(
        f"/gateway-services/{sid}",
        token=w.admin,
        json={"quota": {"limit": 50, "period": "WEEK"}, "description": None},
    )
    assert r.status == 200, r
    assert (r.json()["quota"], r.json()["description"]) == ({"limit": 50, "period": "WEEK"}, None)
    assert int(w.plan(plan_id)["quota"]["limit"]) == 50

    # a stale If-Match changes nothing, in the table or in API Gateway
    r = w.api.patch(
        f"/gateway-services/{sid}",
        token=w.admin,
        json={"rate_limit": {"rate": 9, "burst": 9}},
        headers={"If-Match": '"1"'},
    )
    assert_problem(r, 412, "precondition-failed")
    assert w.plan(plan_id)["throttle"] == {"rateLimit": 3.0, "burstLimit": 4}


def test_names_are_unique_regardless_of_case(world: World) -> None:
    w = world
    first = w.service()
    plans = len(w.aws().get_usage_plans()["items"])
    r = w.api.post("/gateway-services", token=w.admin, json={**GEO, "name": "GEOCODING"})
    assert_problem(r, 409, "conflict")
    assert len(w.aws().get_usage_plans()["items"]) == plans  # no plan made for a taken name
    other = w.service(name="Weather")
    r = w.api.patch(f"/gateway-services/{other['id']}", token=w.admin, json={"name": "geocoding"})
    assert_problem(r, 409, "conflict")
    # a rename frees the old name
    r = w.api.patch(f"/gateway-services/{first['id']}", token=w.admin, json={"name": "Geo v2"})
    assert r.status == 200, r
    assert (
        w.api.patch(
            f"/gateway-services/{other['id']}", token=w.admin, json={"name": "Geocoding"}
        ).status
        == 200
    )


def test_the_catalog_lists_enabled_services_to_everyone_and_all_to_admins(world: World) -> None:
    w = world
    on = w.service(name="Alpha")
    off = w.service(name="Beta", enabled=False)
    third = w.service(name="Gamma")

    def names(token: str, **query: Any) -> list[str]:
        return [s["name"] for s in list_all(w.api, token, "/gateway-services", **query)]

    assert names(w.admin) == ["Alpha", "Beta", "Gamma"]
    assert names(w.admin, enabled="false") == ["Beta"]
    assert names(w.admin, enabled="true", limit=1) == ["Alpha", "Gamma"]  # paged
    for token in (w.owner, w.outsider, w.bot):
        assert names(token) == ["Alpha", "Gamma"]
        assert names(token, enabled="false") == []
        items = list_all(w.api, token, "/gateway-services")
        assert all(i["usage_plan_id"] is None and i["subscriptions"] is None for i in items)
    # enabling and disabling moves a service between the lists
    r = w.api.patch(f"/gateway-services/{off['id']}", token=w.admin, json={"enabled": True})
    assert r.status == 200, r
    r = w.api.patch(f"/gateway-services/{on['id']}", token=w.admin, json={"enabled": False})
    assert r.status == 200, r
    assert names(w.owner) == ["Beta", "Gamma"]
    assert names(w.admin, enabled="false") == ["Alpha"]
    assert third["id"] in {s["id"] for s in list_all(w.api, w.bot, "/gateway-services")}


def test_only_platform_admins_write_the_catalog(world: World) -> None:
    w = world
    service = w.service()
    for token in (w.owner, w.padmin, w.member, w.outsider, w.bot):
        assert_problem(w.api.post("/gateway-services", token=token, json=GEO), 403, "forbidden")
        r = w.api.patch(f"/gateway-services/{service['id']}", token=token, json={"enabled": False})
        assert_problem(r, 403, "forbidden")
        assert_problem(
            w.api.delete(f"/gateway-services/{service['id']}", token=token), 403, "forbidden"
        )
    assert w.api.get(f"/gateway-services/{service['id']}", token=w.admin).json() == service
    assert w.api.get("/gateway-services", token=None).status == 401


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**GEO, "rate_limit": {"rate": 0, "burst": 1}}, ["body", "rate_limit", "rate"]),
        ({**GEO, "rate_limit": {"rate": 10_001, "burst": 1}}, ["body", "rate_limit", "rate"]),
        ({**GEO, "rate_limit": {"rate": 1.5, "burst": 1}}, ["body", "rate_limit", "rate"]),
        ({**GEO, "rate_limit": {"rate": 1, "burst": 5001}}, ["body", "rate_limit", "burst"]),
        ({**GEO, "rate_limit": {"rate": 1}}, ["body", "rate_limit", "burst"]),
        ({**GEO, "quota": {"limit": 0, "period": "DAY"}}, ["body", "quota", "limit"]),
        ({**GEO, "quota": {"limit": 5, "period": "YEAR"}}, ["body", "quota", "period"]),
        ({**GEO, "quota": None}, ["body", "quota"]),
        ({**GEO, "name": ""}, ["body", "name"]),
        ({**GEO, "name": "x" * 129}, ["body", "name"]),
        ({**GEO, "name": "tab\there"}, ["body", "name"]),
        ({**GEO, "enabled": "yes"}, ["body", "enabled"]),
        ({**GEO, "usage_plan_id": "abc"}, ["body", "usage_plan_id"]),
        ({"name": "No limits"}, ["body", "rate_limit"]),
    ],
)
def test_bad_service_bodies_are_422(world: World, body: dict[str, Any], loc: list[Any]) -> None:
    plans = len(world.aws().get_usage_plans()["items"])
    assert_validation(world.api.post("/gateway-services", token=world.admin, json=body), loc)
    assert len(world.aws().get_usage_plans()["items"]) == plans


def test_bad_changes_and_missing_services(world: World) -> None:
    w = world
    service = w.service()
    path = f"/gateway-services/{service['id']}"
    assert_problem(w.api.patch(path, token=w.admin, json={}), 422)
    assert_validation(w.api.patch(path, token=w.admin, json={"name": None}), ["body", "name"])
    assert_validation(
        w.api.patch(path, token=w.admin, json={"rate_limit": {"rate": 1, "burst": 0}}),
        ["body", "rate_limit", "burst"],
    )
    missing = "/gateway-services/00000000-0000-4000-8000-000000000000"
    assert_problem(w.api.get(missing, token=w.owner), 404, "not-found")
    assert_problem(w.api.patch(missing, token=w.admin, json={"enabled": False}), 404)
    assert_problem(w.api.delete(missing, token=w.admin), 404, "not-found")
    assert_problem(w.api.get("/gateway-services/not%20an%20id", token=w.admin), 422)


def test_deleting_a_service_deletes_its_usage_plan(world: World) -> None:
    w = world
    service = w.service()
    path = f"/gateway-services/{service['id']}"
    assert_problem(w.api.delete(path, token=w.admin, headers={"If-Match": '"7"'}), 412)
    # an admin attached a REST API stage to the plan: it is detached, then the plan goes
    api_id = w.aws().create_rest_api(name="geocoding")["id"]
    w.aws().update_usage_plan(
        usagePlanId=service["usage_plan_id"],
        patchOperations=[{"op": "add", "path": "/apiStages", "value": f"{api_id}:prod"}],
    )
    r = w.api.delete(path, token=w.admin, headers={"If-Match": '"1"'})
    assert (r.status, r.body) == (204, ""), r
    plans = {p["id"] for p in w.aws().get_usage_plans()["items"]}
    assert service["usage_plan_id"] not in plans
    assert_problem(w.api.get(path, token=w.admin), 404)
    # its name is free again
    assert w.service()["name"] == "Geocoding"


# --- a project's subscriptions -------------------------------------------------------------------


def test_enable_issues_a_key_shown_once(world: World) -> None:
    w = world
    service = w.service()
    sid, plan_id = service["id"], service["usage_plan_id"]
    r = w.api.post(w.gateway(sid), token=w.padmin)
    assert r.status == 201, r
    created = r.json()
    assert set(created) == SUBSCRIPTION_FIELDS | {"api_key_value"}, created
    assert r.headers["location"] == w.gateway(sid)
    value = created.pop("api_key_value")
    key = created["api_key"]
    assert set(key) == {"id", "created_at", "last4", "enabled"} and key["enabled"] is True
    assert key["last4"] == value[-4:] and len(value) >= 20
    assert (created["project_id"], created["service_id"]) == (w.pid, sid)
    assert created["service"] == {k: service[k] for k in ("id", "enabled", *GEO)}

    # the key is API Gateway's, in the service's usage plan, with that value
    keys = w.api_keys()
    assert keys[key["id"]]["value"] == value and keys[key["id"]]["enabled"]
    assert w.plan_keys(plan_id) == {key["id"]}

    # members read the subscription, never the key; Tenantry keeps no value either
    for token in (w.owner, w.padmin, w.member, w.viewer, w.admin):
        r = w.api.get(w.gateway(sid), token=token)
        assert (r.status, r.json()) == (200, created), r
        assert list_all(w.api, token, w.gateway()) == [created]
    from tenantry.dal import gateway as store

    item = store.get_subscription(w.pid, sid)
    assert item is not None and value not in json.dumps(item)
    history = w.history()
    assert value not in json.dumps(history)
    (entry,) = [e for e in history if e["event"] == "gateway_enabled"]
    assert entry["detail"] == {
        "service_id": sid,
        "service_name": "Geocoding",
        "api_key_id": key["id"],
        "api_key_last4": key["last4"],
    }
    assert w.api.get(f"/gateway-services/{sid}", token=w.admin).json()["subscriptions"] == 1

    # enabling again: the subscription as it is, no second key, no value
    for token in (w.owner, w.admin):
        r = w.api.post(w.gateway(sid), token=token)
        assert (r.status, r.json()) == (200, created), r
    assert len(w.api_keys()) == 1 and w.plan_keys(plan_id) == {key["id"]}
    assert sum(e["event"] == "gateway_enabled" for e in w.history()) == 1


def test_disable_revokes_the_key(world: World) -> None:
    w = world
    service = w.service()
    sid, plan_id = service["id"], service["usage_plan_id"]
    key = w.enable(sid)["api_key"]
    assert_problem(w.api.delete(f"/gateway-services/{sid}", token=w.admin), 409, "conflict")

    r = w.api.delete(w.gateway(sid), token=w.padmin)
    assert (r.status, r.body) == (204, ""), r
    assert key["id"] not in w.api_keys() and w.plan_keys(plan_id) == set()
    assert_problem(w.api.get(w.gateway(sid), token=w.owner), 404, "not-found")
    assert list_all(w.api, w.owner, w.gateway()) == []
    assert_problem(w.api.delete(w.gateway(sid), token=w.owner), 404, "not-found")
    (entry,) = [e for e in w.history() if e["event"] == "gateway_disabled"]
    assert entry["detail"]["api_key_id"] == key["id"]
    assert w.api.get(f"/gateway-services/{sid}", token=w.admin).json()["subscriptions"] == 0

    # enabled again: a new key
    again = w.enable(sid)
    assert again["api_key"]["id"] != key["id"]
    assert set(w.api_keys()) == {again["api_key"]["id"]}
    # and with no subscription left, the service may go
    assert w.api.delete(w.gateway(sid), token=w.owner).status == 204
    assert w.api.delete(f"/gateway-services/{sid}", token=w.admin).status == 204


def test_who_may_enable_disable_and_read(world: World) -> None:
    w = world
    sid = w.service()["id"]
    for token in (w.member, w.viewer):
        assert_problem(w.api.post(w.gateway(sid), token=token), 403, "forbidden")
    for token in (w.outsider, w.bot):
        assert_problem(w.api.post(w.gateway(sid), token=token), 404, "not-found")
        assert_problem(w.api.get(w.gateway(), token=token), 404, "not-found")
    assert w.api_keys() == {}  # nothing was issued
    w.enable(sid, token=w.admin)  # platform admins, without a role in the project
    for token in (w.member, w.viewer):
        assert_problem(w.api.delete(w.gateway(sid), token=token), 403, "forbidden")
        assert w.api.get(w.gateway(sid), token=token).status == 200
    for token in (w.outsider, w.bot):
        assert_problem(w.api.delete(w.gateway(sid), token=token), 404, "not-found")
        assert_problem(w.api.get(w.gateway(sid), token=token), 404, "not-found")
    assert len(w.api_keys()) == 1
    assert w.api.get(w.gateway(), token=None).status == 401


def test_missing_projects_services_and_subscriptions(world: World) -> None:
    w = world
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(w.api.post(w.gateway(missing), token=w.owner), 404, "not-found")
    assert_problem(w.api.get(w.gateway(missing), token=w.owner), 404, "not-found")
    assert_problem(w.api.delete(w.gateway(missing), token=w.owner), 404, "not-found")
    sid = w.service()["id"]
    assert_problem(w.api.get(w.gateway(sid), token=w.owner), 404, "not-found")
    assert_problem(w.api.delete(w.gateway(sid), token=w.owner), 404, "not-found")
    for method in ("get", "post", "delete"):
        r = getattr(w.api, method)(f"/projects/no-such-project/gateway/{sid}", token=w.admin)
        assert_problem(r, 404, "not-found")
    assert_problem(w.api.post(f"/projects/{w.pid}/gateway/bad%20id", token=w.owner), 422)
    assert w.api_keys() == {}


def test_a_disabled_service_cannot_be_enabled(world: World) -> None:
    w = world
    service = w.service()
    sid = service["id"]
    first = w.enable(sid)
    r = w.api.patch(f"/gateway-services/{sid}", token=w.admin, json={"enabled": False})
    assert r.status == 200, r
    # the project that subscribed keeps its key; enabling again still answers it
    r = w.api.post(w.gateway(sid), token=w.owner)
    assert r.status == 200 and r.json()["api_key"] == first["api_key"], r
    assert r.json()["service"]["enabled"] is False
    # a project that had not may not
    w.api.delete(w.gateway(sid), token=w.owner)
    body = assert_problem(w.api.post(w.gateway(sid), token=w.owner), 409, "invalid-transition")
    assert "disabled" in body["detail"]
    assert w.api_keys() == {}


def test_only_an_active_project_enables_while_any_live_one_disables(world: World) -> None:
    w = world
    on, off = w.service(name="On")["id"], w.service(name="Off")["id"]
    w.enable(off)
    r = w.api.post(f"/projects/{w.pid}/actions", token=w.admin, json={"action": "suspend"})
    assert r.status == 200 and r.json()["status"] == "suspended", r
    body = assert_problem(w.api.post(w.gateway(on), token=w.owner), 409, "invalid-transition")
    assert body["current_status"] == "suspended"
    assert len(w.api_keys()) == 1
    # revoking a key is always possible
    assert w.api.delete(w.gateway(off), token=w.owner).status == 204
    assert w.api_keys() == {}


def test_keys_follow_the_projects_status(world: World, wait_until: Wait) -> None:
    """Suspending or terminating the project turns its keys off in API Gateway (they keep
    their value and plan); unsuspending or reinstating turns them on: the lifecycle event
    goes through GatewayKeysRule's queue to GatewayKeysFunction."""
    w = world
    services = [w.service(name=n) for n in ("A", "B")]
    keys = [w.enable(s["id"])["api_key"]["id"] for s in services]
    neighbour = create_active(w.api, w.owner, wait_until, name="Next door")
    other = w.api.post(
        f"/projects/{neighbour['id']}/gateway/{w.service(name='C')['id']}", token=w.owner
    )
    assert other.status == 201, other

    def state() -> tuple[set[bool], set[bool]]:
        in_aws = {w.api_keys()[k]["enabled"] for k in keys}
        shown = {s["api_key"]["enabled"] for s in list_all(w.api, w.viewer, w.gateway())}
        return in_aws, shown

    for action, status, on in (
        ("suspend", "suspended", False),
        ("unsuspend", "active", True),
        ("terminate", "terminated", False),
        ("reinstate", "active", True),
    ):
        r = w.api.post(f"/projects/{w.pid}/actions", token=w.admin, json={"action": action})
        assert r.status == 200 and r.json()["status"] == status, r
        assert deliver_stream(w.api) and deliver(w.api) >= 1
        assert state() == ({on}, {on}), action
        assert w.api_keys()[other.json()["api_key"]["id"]]["enabled"]  # another project's
    for service, key in zip(services, keys, strict=True):  # off is not out of the plan
        assert w.plan_keys(service["usage_plan_id"]) == {key}


def test_a_key_sync_converges_on_the_status_as_it_is_and_retries_when_busy(world: World) -> None:
    """The function reads the project's status when it runs, not the event's: a late
    suspension event for a project active again leaves its keys on. API Gateway busy: the
    message is received again, and the keys end as the status wants."""
    from unittest import mock

    from tenantry import api_gateway
    from tenantry.domain import gateway

    w = world
    (key,) = [w.enable(w.service()["id"])["api_key"]["id"]]
    for action in ("suspend", "unsuspend"):
        r = w.api.post(f"/projects/{w.pid}/actions", token=w.admin, json={"action": action})
        assert r.status == 200, r
    assert gateway.keys_follow_project(w.pid) == {"keys_changed": 0}  # both events, late
    assert w.api_keys()[key]["enabled"]

    r = w.api.post(f"/projects/{w.pid}/actions", token=w.admin, json={"action": "suspend"})
    assert r.status == 200, r
    deliver_stream(w.api)
    real = api_gateway._client().update_api_key
    calls = []

    def busy_once(**kwargs: Any) -> Any:
        calls.append(kwargs["apiKey"])
        if len(calls) == 1:
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}
            raise ClientError(error, "UpdateApiKey")
        return real(**kwargs)

    with mock.patch.object(api_gateway._client(), "update_api_key", busy_once):
        assert deliver(w.api) >= 2  # received, failed, received again
    assert calls == [key, key]
    assert not w.api_keys()[key]["enabled"]
    assert gateway.keys_follow_project(w.pid) == {"keys_changed": 0}


def test_the_projects_deletion_revokes_its_keys(world: World, wait_until: Wait) -> None:
    w = world
    services = [w.service(name=n) for n in ("One", "Two")]
    subscribed = [w.enable(s["id"]) for s in services]
    # a key an interrupted enable left in API Gateway, never committed
    from tenantry import api_gateway

    lost = w.service(name="Lost")
    stray = api_gateway.issue_key(
        lost["usage_plan_id"], api_gateway.key_name(w.pid, lost["id"]), "a lost try"
    )
    untouched = w.service(name="Three")
    other_pid = create_active(w.api, w.owner, wait_until, name="Neighbour")["id"]
    neighbour = w.api.post(f"/projects/{other_pid}/gateway/{untouched['id']}", token=w.owner)
    assert neighbour.status == 201, neighbour
    assert len(w.api_keys()) == 4

    r = w.api.delete(f"/projects/{w.pid}", token=w.owner)
    assert r.status == 202, r
    wait_status(w.api, w.owner, w.pid, "deleted", wait_until)

    assert set(w.api_keys()) == {neighbour.json()["api_key"]["id"]}  # the neighbour's stays
    assert w.plan_keys(lost["usage_plan_id"]) == set()
    for s in services:
        assert w.plan_keys(s["usage_plan_id"]) == set()
        r = w.api.get(f"/gateway-services/{s['id']}", token=w.admin)
        assert r.json()["subscriptions"] == 0, r
        assert w.api.delete(f"/gateway-services/{s['id']}", token=w.admin).status == 204
    (entry,) = [e for e in w.history() if e["event"] == "gateway_keys_revoked"]
    assert entry["detail"] == {"gateway_subscriptions_revoked": 2, "stray_api_keys_deleted": 1}
    assert stray.id not in w.api_keys()
    assert all(s["api_key"]["id"] not in w.api_keys() for s in subscribed)


def test_a_retry_takes_over_the_key_an_earlier_try_made(world: World) -> None:
    """An enable that made its key and then stopped (a timeout before its commit) left a
    key named after the subscription: the next enable answers that key, not a second one."""
    from tenantry import api_gateway

    w = world
    service = w.service()
    earlier = api_gateway.issue_key(
        service["usage_plan_id"], api_gateway.key_name(w.pid, service["id"]), "earlier try"
    )
    created = w.enable(service["id"])
    assert created["api_key"]["id"] == earlier.id
    assert created["api_key_value"] == earlier.value
    assert set(w.api_keys()) == {earlier.id}
    assert w.plan_keys(service["usage_plan_id"]) == {earlier.id}


def test_a_service_disabled_between_read_and_write_leaves_no_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin disables the service after the enable read it (enabled) and issued the
    key, before its commit: the commit's condition refuses it (409) and the key is revoked."""
    from tenantry.dal import gateway as store
    from tenantry.domain import gateway

    w = world
    service = w.service()
    original = store.commit

    def admin_first(*args: Any, **kwargs: Any) -> None:
        r = w.api.patch(
            f"/gateway-services/{service['id']}", token=w.admin, json={"enabled": False}
        )
        assert r.status == 200, r
        monkeypatch.setattr(store, "commit", original)
        original(*args, **kwargs)

    monkeypatch.setattr(store, "commit", admin_first)
    from tenantry.errors import InvalidTransition
    from tenantry.models.principal import Principal

    owner_id = w.api.get("/auth/me", token=w.owner).json()["id"]
    with pytest.raises(InvalidTransition, match="disabled"):
        gateway.enable(Principal(kind="user", id=owner_id), w.pid, service["id"])
    assert w.api_keys() == {}
    assert store.get_subscription(w.pid, service["id"]) is None
    assert (
        w.api.get(f"/gateway-services/{service['id']}", token=w.admin).json()["subscriptions"] == 0
    )


def test_racing_enables_make_one_subscription_and_one_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two enables of one service read "not subscribed", both issue the key (the second
    takes over the first's, by its name) and race to commit: one wins (201), the other
    answers the winner's subscription (200) and revokes nothing it holds."""
    from tenantry.dal import gateway as store
    from tenantry.domain import gateway
    from tenantry.models.principal import Principal

    w = world
    service = w.service()
    racers = 2
    barrier = threading.Barrier(racers)
    original = store.commit

    def gated(*args: Any, **kwargs: Any) -> None:
        barrier.wait(timeout=30)
        original(*args, **kwargs)

    monkeypatch.setattr(store, "commit", gated)
    owner_id = w.api.get("/auth/me", token=w.owner).json()["id"]
    principal = Principal(kind="user", id=owner_id)
    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(
            pool.map(lambda _: gateway.enable(principal, w.pid, service["id"]), range(racers))
        )
    monkeypatch.undo()
    assert sorted(created for _, created in outcomes) == [False, True]
    (winner,) = [s for s, created in outcomes if created]
    (loser,) = [s for s, created in outcomes if not created]
    assert loser.api_key == winner.api_key
    assert set(w.api_keys()) == {winner.api_key.id}
    assert w.plan_keys(service["usage_plan_id"]) == {winner.api_key.id}
    assert (
        w.api.get(f"/gateway-services/{service['id']}", token=w.admin).json()["subscriptions"] == 1
    )
