"""Environments and their permissions through the API (API.md, "Environments"): the
initial environments of a project are listed and managed like created ones, names are
unique per project, the project's `environments` list follows every change in the same
transaction, every change is in the history, permissions follow memberships, and a
project's deletion leaves none of it behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import Api
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


@dataclass
class World:
    api: Api
    admin: str
    owner: str
    pid: str
    member: str
    member_id: str
    outsider: str
    outsider_id: str

    def envs(self, token: str | None = None) -> list[dict[str, Any]]:
        return list_all(self.api, token or self.owner, f"/projects/{self.pid}/environments")

    def env(self, name: str) -> dict[str, Any]:
        (found,) = [e for e in self.envs() if e["name"] == name]
        return found

    def path(self, env: dict[str, Any] | str, *rest: str) -> str:
        env_id = env if isinstance(env, str) else env["id"]
        return "/".join([f"/projects/{self.pid}/environments/{env_id}", *rest])

    def project(self) -> dict[str, Any]:
        r = self.api.get(f"/projects/{self.pid}", token=self.owner)
        assert r.status == 200, r
        return dict(r.json())

    def events(self) -> list[dict[str, Any]]:
        return list_all(self.api, self.owner, f"/projects/{self.pid}/history")

    def create(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        r = self.api.post(
            f"/projects/{self.pid}/environments", token=token or self.owner, json=body
        )
        assert r.status == 201, r
        return dict(r.json())

    def join(self, token: str) -> dict[str, Any]:
        r = self.api.post(
            "/memberships", token=token, json={"project_id": self.pid, "action": "join"}
        )
        assert r.status == 201, r
        return dict(r.json())

    def grant(self, env: dict[str, Any], token: str | None = None, **body: Any) -> dict[str, Any]:
        r = self.api.post(self.path(env, "permissions"), token=token or self.owner, json=body)
        assert r.status == 201, r
        return dict(r.json())

    def permissions(self, env: dict[str, Any]) -> list[dict[str, Any]]:
        return list_all(self.api, self.owner, self.path(env, "permissions"))


@pytest.fixture
def world(api: Api, admin_token: str, wait_until: Wait) -> World:
    _, owner = make_user(api, admin_token, "Owner")
    member, member_token = make_user(api, admin_token, "Member")
    outsider, outsider_token = make_user(api, admin_token, "Outsider")
    project = create_active(
        api, owner, wait_until, name="Envs", environments=["dev", "prod"], join_policy="auto"
    )
    w = World(
        api,
        admin_token,
        owner,
        project["id"],
        member_token,
        member["id"],
        outsider_token,
        outsider["id"],
    )
    w.join(member_token)
    return w


# --- the initial environments and the list --------------------------------------------------


def test_initial_environments_are_listed_and_read_by_members_and_admins(world: World) -> None:
    for token in (world.owner, world.member, world.admin):
        envs = world.envs(token)
        assert sorted(e["name"] for e in envs) == ["dev", "prod"]
        for env in envs:
            assert env["project_id"] == world.pid
            assert (env["node_selector"], env["tolerations"], env["auto_add_new_users"]) == (
                {},
                [],
                False,
            )
            r = world.api.get(world.path(env), token=token)
            assert r.status == 200, r
            assert r.json() == env
            assert r.headers["etag"] == f'"{env["version"]}"'


def test_outsiders_and_bots_learn_nothing(world: World) -> None:
    _, bot_token = make_bot(world.api, world.admin)
    dev = world.env("dev")
    for token in (world.outsider, bot_token):
        for path in (
            f"/projects/{world.pid}/environments",
            world.path(dev),
            world.path(dev, "permissions"),
            world.path(dev, "secrets"),
        ):
            same = path.replace(world.pid, "no-such-project")
            r, missing = world.api.get(path, token=token), world.api.get(same, token=token)
            assert_problem(r, 404, "not-found")
            assert (
                r.json()["detail"].replace(world.pid, "no-such-project") == missing.json()["detail"]
            )
        r = world.api.post(f"/projects/{world.pid}/environments", token=token, json={"name": "x"})
        assert_problem(r, 404, "not-found")
    r = world.api.get(f"/projects/{world.pid}/environments", token=None)
    assert_problem(r, 401, "unauthorized")


def test_a_list_pages_with_a_cursor_bound_to_its_project(world: World, wait_until: Wait) -> None:
    for name in ("a1", "a2", "a3"):
        world.create(name=name)
    r = world.api.get(f"/projects/{world.pid}/environments", token=world.owner, query={"limit": 2})
    assert r.status == 200, r
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert len(world.envs()) == 5
    other = create_active(world.api, world.owner, wait_until, name="Other")
    r = world.api.get(
        f"/projects/{other['id']}/environments",
        token=world.owner,
        query={"cursor": page["next_cursor"]},
    )
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])


# --- create ---------------------------------------------------------------------------------


def test_create_keeps_the_projects_list_and_history_in_step(world: World) -> None:
    before = world.project()
    body = {
        "name": "staging",
        "node_selector": {"pool": "general", "kubernetes.io/os": "linux"},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "staging", "effect": "NoSchedule"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        ],
        "auto_add_new_users": True,
    }
    r = world.api.post(f"/projects/{world.pid}/environments", token=world.owner, json=body)
    assert r.status == 201, r
    env = r.json()
    assert r.headers["location"] == f"/projects/{world.pid}/environments/{env['id']}"
    assert r.headers["etag"] == '"1"'
    assert {k: env[k] for k in body} == body
    assert env["version"] == 1 and env["created_at"] == env["updated_at"]
    after = world.project()
    assert after["environments"] == ["dev", "prod", "staging"]
    assert after["version"] == before["version"] + 1
    (entry,) = [e for e in world.events() if e["event"] == "environment_created"]
    assert entry["detail"] == {"env_id": env["id"], "name": "staging"}
    assert entry["actor"].startswith("user:")


def test_names_are_unique_per_project(world: World, wait_until: Wait) -> None:
    r = world.api.post(
        f"/projects/{world.pid}/environments", token=world.owner, json={"name": "dev"}
    )
    assert_problem(r, 409, "conflict")
    other = create_active(world.api, world.owner, wait_until, name="Elsewhere")
    r = world.api.post(
        f"/projects/{other['id']}/environments", token=world.owner, json={"name": "dev"}
    )
    assert r.status == 201, r


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "name"]),
        ({"name": "Dev"}, ["body", "name"]),
        ({"name": "-dev"}, ["body", "name"]),
        ({"name": "d" * 41}, ["body", "name"]),
        ({"name": "dev2", "color": "red"}, ["body", "color"]),
        ({"name": "dev2", "auto_add_new_users": "yes"}, ["body", "auto_add_new_users"]),
        (
            {"name": "dev2", "node_selector": {"bad key!": "x"}},
            ["body", "node_selector", "bad key!", "[key]"],
        ),
        (
            {"name": "dev2", "tolerations": [{"operator": "Exists", "value": "x"}]},
            ["body", "tolerations", 0],
        ),
        ({"name": "dev2", "tolerations": [{"value": "x"}]}, ["body", "tolerations", 0]),
        (
            {"name": "dev2", "tolerations": [{"key": "k", "tolerationSeconds": 5}]},
            ["body", "tolerations", 0],
        ),
        (
            {"name": "dev2", "tolerations": [{"key": "k", "operator": "Maybe"}]},
            ["body", "tolerations", 0, "operator"],
        ),
    ],
)
def test_bad_bodies_are_422_and_change_nothing(world: World, body: Any, loc: list[Any]) -> None:
    before = world.project()
    r = world.api.post(f"/projects/{world.pid}/environments", token=world.owner, json=body)
    assert_validation(r, loc)
    assert world.project() == before


def test_only_managers_create(world: World, admin_token: str) -> None:
    r = world.api.post(
        f"/projects/{world.pid}/environments", token=world.member, json={"name": "mine"}
    )
    assert_problem(r, 403, "forbidden")
    admin_of_project, token = make_user(world.api, admin_token, "Project Admin")
    body = {
        "project_id": world.pid,
        "action": "enroll",
        "user_id": admin_of_project["id"],
        "role": "admin",
    }
    assert world.api.post("/memberships", token=world.owner, json=body).status == 201
    assert world.create(token, name="by-padmin")["name"] == "by-padmin"
    assert world.create(admin_token, name="by-admin")["name"] == "by-admin"


def test_environments_change_only_while_the_project_is_active(world: World) -> None:
    dev = world.env("dev")
    r = world.api.post(
        f"/projects/{world.pid}/actions", token=world.admin, json={"action": "suspend"}
    )
    assert r.status == 200, r
    calls = [
        world.api.post(
            f"/projects/{world.pid}/environments", token=world.owner, json={"name": "x"}
        ),
        world.api.patch(world.path(dev), token=world.owner, json={"auto_add_new_users": True}),
        world.api.delete(world.path(dev), token=world.owner),
        world.api.post(
            world.path(dev, "permissions"),
            token=world.owner,
            json={"user_id": world.member_id, "role": "User"},
        ),
        world.api.post(
            world.path(dev, "secrets"),
            token=world.owner,
            json={"collection": "c", "name": "n", "contents": "v"},
        ),
    ]
    for r in calls:
        body = assert_problem(r, 409, "invalid-transition")
        assert body["current_status"] == "suspended"
    assert world.api.get(world.path(dev), token=world.member).status == 200  # reads still work


def test_at_most_twenty_environments(world: World) -> None:
    for i in range(18):
        world.create(name=f"e{i}")
    r = world.api.post(
        f"/projects/{world.pid}/environments", token=world.owner, json={"name": "one-too-many"}
    )
    body = assert_problem(r, 413, "quota-exceeded")
    assert (body["resource"], body["limit"], body["usage"]) == ("environments", 20, 20)


def test_create_with_an_idempotency_key_creates_once(world: World) -> None:
    path = f"/projects/{world.pid}/environments"
    headers = {"Idempotency-Key": "env-once"}
    first = world.api.post(path, token=world.owner, json={"name": "qa"}, headers=headers)
    again = world.api.post(path, token=world.owner, json={"name": "qa"}, headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert first.json() == again.json()
    assert [e["name"] for e in world.envs()].count("qa") == 1
    other = world.api.post(path, token=world.owner, json={"name": "qa2"}, headers=headers)
    assert_problem(other, 422, "validation", loc=["header", "Idempotency-Key"])


# --- change and delete ----------------------------------------------------------------------


def test_patch_renames_and_the_old_name_is_free_again(world: World) -> None:
    dev = world.env("dev")
    r = world.api.patch(
        world.path(dev), token=world.owner, json={"name": "develop"}, headers={"If-Match": '"1"'}
    )
    assert r.status == 200, r
    renamed = r.json()
    assert (renamed["name"], renamed["version"], r.headers["etag"]) == ("develop", 2, '"2"')
    assert world.project()["environments"] == ["develop", "prod"]
    assert world.create(name="dev")["name"] == "dev"
    assert world.project()["environments"] == ["develop", "prod", "dev"]
    r = world.api.patch(world.path(dev), token=world.owner, json={"name": "prod"})
    assert_problem(r, 409, "conflict")
    (entry,) = [e for e in world.events() if e["event"] == "environment_updated"]
    assert entry["detail"] == {
        "env_id": dev["id"],
        "name": "develop",
        "fields": ["name"],
        "renamed_from": "dev",
    }


def test_patch_replaces_fields_and_checks_if_match(world: World) -> None:
    prod = world.env("prod")
    version = world.project()["version"]
    r = world.api.patch(
        world.path(prod),
        token=world.owner,
        json={"node_selector": {"pool": "big"}, "tolerations": [{"operator": "Exists"}]},
    )
    assert r.status == 200, r
    assert (r.json()["node_selector"], r.json()["tolerations"]) == (
        {"pool": "big"},
        [{"operator": "Exists"}],
    )
    assert world.project()["version"] == version  # the names did not change
    r = world.api.patch(
        world.path(prod), token=world.owner, json={"node_selector": {}}, headers={"If-Match": '"1"'}
    )
    assert_problem(r, 412, "precondition-failed")
    r = world.api.patch(world.path(prod), token=world.owner, json={})
    assert_validation(r, ["body"])
    r = world.api.patch(world.path(prod), token=world.owner, json={"name": None})
    assert_validation(r, ["body", "name"])
    r = world.api.patch(world.path(prod), token=world.member, json={"auto_add_new_users": True})
    assert_problem(r, 403, "forbidden")
    r = world.api.patch(
        world.path("no-such-env"), token=world.owner, json={"auto_add_new_users": True}
    )
    assert_problem(r, 404, "not-found")
    assert world.api.get(world.path(prod), token=world.owner).json()["version"] == 2


def test_delete_takes_the_environment_its_permissions_and_secrets(world: World) -> None:
    dev = world.env("dev")
    world.grant(dev, user_id=world.member_id, role="Admin")
    r = world.api.post(
        world.path(dev, "secrets"),
        token=world.member,
        json={"collection": "db", "name": "pw", "contents": "s3cr3t"},
    )
    assert r.status == 201, r
    r = world.api.delete(world.path(dev), token=world.member)
    assert_problem(r, 403, "forbidden")
    r = world.api.delete(world.path(dev), token=world.owner, headers={"If-Match": '"7"'})
    assert_problem(r, 412, "precondition-failed")
    r = world.api.delete(world.path(dev), token=world.owner, headers={"If-Match": '"1"'})
    assert r.status == 204 and r.body == "", r
    assert world.api.get(world.path(dev), token=world.owner).status == 404
    assert world.api.delete(world.path(dev), token=world.owner).status == 404
    assert world.project()["environments"] == ["prod"]
    assert [k for k in _partition_keys(world) if dev["id"] in k or k == "ENVNAME#dev"] == []
    (entry,) = [e for e in world.events() if e["event"] == "environment_deleted"]
    assert entry["detail"] == {"env_id": dev["id"], "name": "dev"}
    assert world.create(name="dev")["id"] != dev["id"]


def test_delete_is_409_while_the_environment_has_deployments(world: World) -> None:
    """The deployments keep `deployment_count` on the environment item; the delete is
    conditioned on it being 0 (absent on environments written before it existed)."""
    prod = world.env("prod")
    ddb = world.api.stack.client("dynamodb")
    table = world.api.stack.table_names()["TenantryTable"]
    key = {"PK": {"S": f"PROJECT#{world.pid}"}, "SK": {"S": f"ENV#{prod['id']}"}}
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET deployment_count = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    r = world.api.delete(world.path(prod), token=world.owner)
    body = assert_problem(r, 409, "conflict")
    assert body["deployment_count"] == 2
    assert world.api.get(world.path(prod), token=world.owner).status == 200
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET deployment_count = :n",
        ExpressionAttributeValues={":n": {"N": "0"}},
    )
    assert world.api.delete(world.path(prod), token=world.owner).status == 204


def _partition_keys(world: World, project_id: str | None = None) -> list[str]:
    ddb = world.api.stack.client("dynamodb")
    table = world.api.stack.table_names()["TenantryTable"]
    resp = ddb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PROJECT#{project_id or world.pid}"}},
        ConsistentRead=True,
    )
    return [i["SK"]["S"] for i in resp["Items"]]


# --- permissions ----------------------------------------------------------------------------


def test_grant_list_get_revoke(world: World) -> None:
    dev = world.env("dev")
    bot, _ = make_bot(world.api, world.admin, "Deployer")
    perm = world.grant(dev, user_id=world.member_id, role="User")
    assert {
        k: perm[k] for k in ("env_id", "project_id", "user_id", "bot_id", "role", "version")
    } == {
        "env_id": dev["id"],
        "project_id": world.pid,
        "user_id": world.member_id,
        "bot_id": None,
        "role": "User",
        "version": 1,
    }
    bot_perm = world.grant(dev, bot_id=bot["id"], role="Admin")
    assert {p["id"] for p in world.permissions(dev)} == {perm["id"], bot_perm["id"]}
    r = world.api.get(world.path(dev, "permissions", perm["id"]), token=world.member)
    assert r.status == 200 and r.json() == perm and r.headers["etag"] == '"1"', r
    r = world.api.post(
        world.path(dev, "permissions"),
        token=world.owner,
        json={"user_id": world.member_id, "role": "Admin"},
    )
    body = assert_problem(r, 409, "conflict")
    assert body["permission_id"] == perm["id"]
    r = world.api.delete(
        world.path(dev, "permissions", perm["id"]), token=world.owner, headers={"If-Match": '"2"'}
    )
    assert_problem(r, 412, "precondition-failed")
    r = world.api.delete(world.path(dev, "permissions", perm["id"]), token=world.owner)
    assert r.status == 204, r
    assert (
        world.api.get(world.path(dev, "permissions", perm["id"]), token=world.owner).status == 404
    )
    assert (
        world.api.delete(world.path(dev, "permissions", perm["id"]), token=world.owner).status
        == 404
    )
    events = {e["event"]: e["detail"] for e in world.events() if "permission" in e["event"]}
    assert events["environment_permission_revoked"] == {
        "env_id": dev["id"],
        "env_name": "dev",
        "permission_id": perm["id"],
        "user_id": world.member_id,
        "role": "User",
    }
    # the same principal again: the same id (one per environment and principal)
    assert world.grant(dev, user_id=world.member_id, role="Admin")["id"] == perm["id"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "User"}, ["body"]),
        ({"user_id": "u", "bot_id": "b", "role": "User"}, ["body"]),
        ({"user_id": "u"}, ["body", "role"]),
        ({"user_id": "u", "role": "Owner"}, ["body", "role"]),
        ({"user_id": "", "role": "User"}, ["body", "user_id"]),
    ],
)
def test_bad_permission_bodies_are_422(world: World, body: Any, loc: list[Any]) -> None:
    r = world.api.post(world.path(world.env("dev"), "permissions"), token=world.owner, json=body)
    assert_validation(r, loc)


def test_a_user_must_be_a_member_and_a_bot_must_exist(world: World) -> None:
    dev = world.env("dev")
    for body, field in (
        ({"user_id": world.outsider_id, "role": "User"}, "user_id"),
        ({"user_id": "no-such-user", "role": "User"}, "user_id"),
        ({"bot_id": "no-such-bot", "role": "User"}, "bot_id"),
    ):
        r = world.api.post(world.path(dev, "permissions"), token=world.owner, json=body)
        assert_problem(r, 422, "unknown-reference", loc=["body", field])
    assert world.permissions(dev) == []


def test_env_admins_manage_permissions_users_only_read(world: World, admin_token: str) -> None:
    dev, prod = world.env("dev"), world.env("prod")
    other, other_token = make_user(world.api, admin_token, "Other")
    world.join(other_token)
    world.grant(dev, user_id=world.member_id, role="Admin")
    granted = world.grant(dev, token=world.member, user_id=other["id"], role="User")
    r = world.api.post(
        world.path(dev, "permissions"),
        token=other_token,
        json={"user_id": world.member_id, "role": "User"},
    )
    assert_problem(r, 403, "forbidden")  # a User grants nothing
    r = world.api.delete(world.path(dev, "permissions", granted["id"]), token=other_token)
    assert_problem(r, 403, "forbidden")
    # Admin on dev is nothing on prod, nor on the environment itself
    r = world.api.post(
        world.path(prod, "permissions"),
        token=world.member,
        json={"user_id": other["id"], "role": "User"},
    )
    assert_problem(r, 403, "forbidden")
    r = world.api.patch(world.path(dev), token=world.member, json={"auto_add_new_users": True})
    assert_problem(r, 403, "forbidden")
    r = world.api.delete(world.path(dev, "permissions", granted["id"]), token=world.member)
    assert r.status == 204, r


def test_a_bot_with_a_permission_sees_that_environment_only(world: World) -> None:
    dev, prod = world.env("dev"), world.env("prod")
    bot, bot_token = make_bot(world.api, world.admin, "Deployer")
    world.grant(dev, bot_id=bot["id"], role="User")
    assert world.api.get(world.path(dev), token=bot_token).status == 200
    assert world.api.get(world.path(dev, "secrets"), token=bot_token).status == 200
    assert world.api.get(world.path(prod), token=bot_token).status == 404
    assert world.api.get(f"/projects/{world.pid}/environments", token=bot_token).status == 404
    assert world.api.get(f"/projects/{world.pid}", token=bot_token).status == 404
    r = world.api.post(
        world.path(dev, "secrets"),
        token=bot_token,
        json={"collection": "c", "name": "n", "contents": "v"},
    )
    assert_problem(r, 403, "forbidden")


# --- permissions follow memberships ---------------------------------------------------------


def _perm_users(world: World, env: dict[str, Any]) -> dict[str, str]:
    return {p["user_id"]: p["role"] for p in world.permissions(env) if p["user_id"]}


def test_new_members_get_user_on_auto_add_environments(world: World, admin_token: str) -> None:
    """Every way a membership becomes current: join (auto), enroll, an accepted invite,
    an accepted join request. Members from before the flag get nothing."""
    auto = world.create(name="shared", auto_add_new_users=True)
    dev = world.env("dev")
    joiner, joiner_token = make_user(world.api, admin_token, "Joiner")
    world.join(joiner_token)
    enrolled, _ = make_user(world.api, admin_token, "Enrolled")
    r = world.api.post(
        "/memberships",
        token=world.owner,
        json={"project_id": world.pid, "action": "enroll", "user_id": enrolled["id"]},
    )
    assert r.status == 201, r
    invited, invited_token = make_user(world.api, admin_token, "Invited")
    r = world.api.put(
        f"/projects/{world.pid}/invites",
        token=world.owner,
        json={"emails": [invited["email"]], "roles": ["viewer"]},
    )
    invite = r.json()["items"][0]["id"]
    assert world.api.post(f"/invites/{invite}/accept", token=invited_token, json={}).status == 200
    r = world.api.patch(
        f"/projects/{world.pid}", token=world.admin, json={"join_policy": "moderated"}
    )
    assert r.status == 200, r
    requester, requester_token = make_user(world.api, admin_token, "Requester")
    request = world.join(requester_token)
    assert request["state"] == "requested"
    assert _perm_users(world, auto).keys() == {joiner["id"], enrolled["id"], invited["id"]}
    r = world.api.post(
        f"/memberships/{request['id']}/actions", token=world.owner, json={"action": "accept"}
    )
    assert r.status == 200, r

    new = {joiner["id"], enrolled["id"], invited["id"], requester["id"]}
    assert _perm_users(world, auto) == dict.fromkeys(new, "User")
    assert _perm_users(world, dev) == {}
    entries = [e for e in world.events() if e["event"].startswith("membership_")]
    granted = [e for e in entries if e["detail"].get("environments_granted") == ["shared"]]
    assert len(granted) == 4, entries
    r = world.api.get(world.path(auto, "secrets"), token=joiner_token)
    assert r.status == 200, r  # User reads the secrets' names


def test_leaving_or_removal_revokes_every_permission_in_the_project(
    world: World, admin_token: str
) -> None:
    dev, prod = world.env("dev"), world.env("prod")
    world.grant(dev, user_id=world.member_id, role="Admin")
    world.grant(prod, user_id=world.member_id, role="User")
    other, other_token = make_user(world.api, admin_token, "Other")
    membership = world.join(other_token)
    world.grant(dev, user_id=other["id"], role="User")

    mine = [
        m
        for m in world.api.get("/memberships", token=world.member).json()["items"]
        if m["project_id"] == world.pid
    ]
    r = world.api.post(
        f"/memberships/{mine[0]['id']}/actions", token=world.member, json={"action": "leave"}
    )
    assert r.status == 200 and r.json()["state"] == "removed", r
    r = world.api.post(
        f"/memberships/{membership['id']}/actions", token=world.owner, json={"action": "remove"}
    )
    assert r.status == 200 and r.json()["state"] == "removed", r

    assert world.permissions(dev) == [] and world.permissions(prod) == []
    details = [
        e["detail"]
        for e in world.events()
        if e["event"] in ("membership_leave", "membership_remove")
    ]
    assert [sorted(d["environment_permissions_revoked"]) for d in details] == [
        ["dev", "prod"],
        ["dev"],
    ]
    # back as a member: no permission comes back with them
    world.join(world.member)
    assert world.permissions(dev) == [] and world.permissions(prod) == []


def test_a_membership_decided_on_a_stale_read_of_the_environments_is_decided_again(
    world: World, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auto_add environment appears between the join's read and its write: the write is
    refused (the project's env_rev moved) and the join decided again, with the grant."""
    from tenantry.dal import memberships as member_store

    joiner, token = make_user(world.api, admin_token, "Racer")
    original = member_store.change
    raced: list[int] = []

    def environment_first(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(1)
            world.create(name="late", auto_add_new_users=True)
        return original(*args, **kwargs)

    monkeypatch.setattr(member_store, "change", environment_first)
    world.join(token)
    monkeypatch.undo()
    assert raced == [1]
    assert _perm_users(world, world.env("late")) == {joiner["id"]: "User"}


# --- deletion of the project ----------------------------------------------------------------


def test_deleting_the_project_removes_environments_permissions_and_secrets(
    world: World, wait_until: Wait
) -> None:
    dev = world.env("dev")
    world.grant(dev, user_id=world.member_id, role="Admin")
    for name in ("a", "b"):
        r = world.api.post(
            world.path(dev, "secrets"),
            token=world.owner,
            json={"collection": "c", "name": name, "contents": "v"},
        )
        assert r.status == 201, r
    r = world.api.delete(f"/projects/{world.pid}", token=world.owner)
    assert r.status == 202, r
    wait_status(world.api, world.owner, world.pid, "deleted", wait_until)
    left = [
        k
        for k in _partition_keys(world)
        if not k.startswith(("HIST#", "OP#", "MEMBER#", "PROJECT"))
    ]
    assert left == []
    assert world.project()["status"] == "deleted"
    assert_problem(world.api.get(world.path(dev), token=world.owner), 404, "not-found")


# --- every route: a missing environment, bad parameters -------------------------------------


def _env_routes(world: World, env_id: str) -> list[tuple[str, str, Any]]:
    base = world.path(env_id)
    secret = {"collection": "c", "name": "n", "contents": "v"}
    return [
        ("GET", base, None),
        ("PATCH", base, {"auto_add_new_users": True}),
        ("DELETE", base, None),
        ("GET", f"{base}/permissions", None),
        ("POST", f"{base}/permissions", {"user_id": world.member_id, "role": "User"}),
        ("GET", f"{base}/permissions/p1", None),
        ("DELETE", f"{base}/permissions/p1", None),
        ("GET", f"{base}/secrets", None),
        ("POST", f"{base}/secrets", secret),
        ("GET", f"{base}/secrets/s1", None),
        ("PATCH", f"{base}/secrets/s1", {"contents": "v"}),
        ("DELETE", f"{base}/secrets/s1", None),
    ]


def test_every_route_of_a_missing_environment_is_404(world: World) -> None:
    for token in (world.owner, world.admin, world.member):
        for method, path, body in _env_routes(world, "no-such-env"):
            r = world.api.request(method, path, token=token, json=body)
            problem = assert_problem(r, 404, "not-found")
            assert "no-such-env" in problem["detail"], (method, path, problem)


def test_bad_parameters_are_4xx_never_500(world: World) -> None:
    dev = world.env("dev")
    lists = (
        f"/projects/{world.pid}/environments",
        world.path(dev, "permissions"),
        world.path(dev, "secrets"),
    )
    for path in lists:
        for query, loc in (
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"limit": "x"}, "limit"),
        ):
            assert_validation(world.api.get(path, token=world.owner, query=query), ["query", loc])
        r = world.api.get(path, token=world.owner, query={"cursor": "not-a-cursor"})
        assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    r = world.api.get(
        world.path(dev, "secrets"), token=world.owner, query={"collection": "c" * 254}
    )
    assert_validation(r, ["query", "collection"])
    for method, path, body in _env_routes(world, dev["id"]):
        if method in ("PATCH", "DELETE"):
            r = world.api.request(
                method, path, token=world.owner, json=body, headers={"If-Match": "soon"}
            )
            assert_validation(r, ["header", "if-match"])
    r = world.api.get(f"/projects/{world.pid}/environments/{'x' * 65}", token=world.owner)
    assert_validation(r, ["path", "envId"])
    assert world.api.get(world.path(dev), token=world.owner).json() == dev
