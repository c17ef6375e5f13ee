"""A project's apps, its OAuth clients (API.md, "Console extras"): the project's owner and
admins register, change, rotate and delete them, members read them; the client secret is
shown once (on create and on rotation), stored only as its SHA-256, and a rotation stops
the old one at once. Every change is in the project's history, never with a secret."""

from __future__ import annotations

import hashlib
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
    settle,
    wait_status,
)

Wait = Callable[..., Any]
FIELDS = {
    "id",
    "project_id",
    "client_id",
    "name",
    "description",
    "redirect_uris",
    "created_at",
    "updated_at",
    "secret_created_at",
    "version",
}
REDIRECTS = ["https://console.example.com/oauth/callback", "http://127.0.0.1:8400/cb"]


@dataclass
class Project:
    api: Api
    admin: str
    owner: str
    padmin: str  # a project admin
    member: str
    viewer: str
    outsider: str
    bot: str
    pid: str

    @property
    def apps(self) -> str:
        return f"/projects/{self.pid}/apps"

    def create(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        body = {"name": "Console", "redirect_uris": REDIRECTS, **body}
        r = self.api.post(self.apps, token=token or self.owner, json=body)
        assert r.status == 201, r
        return dict(r.json())

    def history(self) -> list[dict[str, Any]]:
        r = self.api.get(f"/projects/{self.pid}/history", token=self.owner, query={"limit": 100})
        assert r.status == 200, r
        return list(r.json()["items"])


@pytest.fixture
def project(api: Api, admin_token: str, wait_until: Wait) -> Project:
    _, owner = make_user(api, admin_token, "Owner")
    pid = create_active(api, owner, wait_until, name="Apps Home", join_policy="auto")["id"]
    tokens = {}
    for kind, role in (("padmin", "admin"), ("member", "member"), ("viewer", "viewer")):
        user, tokens[kind] = make_user(api, admin_token, kind)
        body = {"project_id": pid, "action": "enroll", "user_id": user["id"], "role": role}
        assert api.post("/memberships", token=owner, json=body).status == 201
    _, outsider = make_user(api, admin_token, "Outsider")
    _, bot = make_bot(api, admin_token)
    return Project(api, admin_token, owner, outsider=outsider, bot=bot, pid=pid, **tokens)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stored(pid: str, app_id: str) -> dict[str, Any]:
    from tenantry.dal import apps

    item = apps.get(pid, app_id)
    assert item is not None
    return item


def test_register_read_change_rotate_delete(project: Project) -> None:
    p = project
    r = p.api.post(
        p.apps,
        token=p.owner,
        json={"name": "Console", "description": "The web console", "redirect_uris": REDIRECTS},
    )
    assert r.status == 201, r
    created = r.json()
    assert set(created) == FIELDS | {"client_secret"}, created
    secret = created.pop("client_secret")
    assert secret.startswith("tncs_") and len(secret) >= 40, secret
    assert created["client_id"].startswith("tnc_") and created["client_id"] != created["id"]
    assert (created["project_id"], created["version"], created["redirect_uris"]) == (
        p.pid,
        1,
        REDIRECTS,
    )
    assert r.headers["location"] == f"{p.apps}/{created['id']}"
    assert r.headers["etag"] == '"1"'
    item = stored(p.pid, created["id"])
    assert item["secret_hash"] == sha256(secret) and secret not in item.values()

    for token in (p.owner, p.padmin, p.member, p.viewer, p.admin):  # never the secret
        r = p.api.get(f"{p.apps}/{created['id']}", token=token)
        assert r.status == 200 and r.json() == created, r
        assert r.headers["etag"] == '"1"'
        assert list_all(p.api, token, p.apps) == [created]

    r = p.api.patch(
        f"{p.apps}/{created['id']}",
        token=p.padmin,
        json={"name": "Console 2", "description": None, "redirect_uris": REDIRECTS[:1]},
        headers={"If-Match": '"1"'},
    )
    assert r.status == 200, r
    changed = r.json()
    assert (changed["name"], changed["description"], changed["redirect_uris"]) == (
        "Console 2",
        None,
        REDIRECTS[:1],
    )
    assert (changed["version"], r.headers["etag"]) == (2, '"2"')
    assert changed["client_id"] == created["client_id"]
    assert changed["secret_created_at"] == created["secret_created_at"]
    assert p.api.get(f"{p.apps}/{created['id']}", token=p.viewer).json() == changed
    assert "description" not in stored(p.pid, created["id"])
    r = p.api.patch(
        f"{p.apps}/{created['id']}", token=p.owner, json={"name": "x"}, headers={"If-Match": '"1"'}
    )
    assert_problem(r, 412, "precondition-failed")

    r = p.api.post(f"{p.apps}/{created['id']}/secret", token=p.owner)
    assert r.status == 200, r
    rotated = r.json()
    new_secret = rotated.pop("client_secret")
    assert new_secret != secret and new_secret.startswith("tncs_")
    assert (rotated["version"], r.headers["etag"]) == (3, '"3"')
    assert rotated["secret_created_at"] > created["secret_created_at"]
    assert rotated["client_id"] == created["client_id"]
    assert p.api.get(f"{p.apps}/{created['id']}", token=p.member).json() == rotated

    r = p.api.delete(f"{p.apps}/{created['id']}", token=p.owner, headers={"If-Match": '"2"'})
    assert_problem(r, 412, "precondition-failed")
    r = p.api.delete(f"{p.apps}/{created['id']}", token=p.owner, headers={"If-Match": '"3"'})
    assert r.status == 204 and r.body == "", r
    assert_problem(p.api.get(f"{p.apps}/{created['id']}", token=p.owner), 404, "not-found")
    assert_problem(p.api.delete(f"{p.apps}/{created['id']}", token=p.owner), 404, "not-found")
    assert list_all(p.api, p.owner, p.apps) == []

    events = [(e["event"], e.get("detail", {})) for e in p.history()]
    mine = [(e, d) for e, d in events if e.startswith("app_")]
    assert [e for e, _ in mine] == [
        "app_created",
        "app_updated",
        "app_secret_rotated",
        "app_deleted",
    ]
    for _, detail in mine:
        assert (detail["app_id"], detail["client_id"]) == (created["id"], created["client_id"])
    assert mine[1][1]["fields"] == ["description", "name", "redirect_uris"]
    text = str(p.history())
    for leaked in (secret, new_secret, sha256(secret), sha256(new_secret)):
        assert leaked not in text


def test_rotation_stops_the_old_secret_at_once(project: Project) -> None:
    from tenantry.domain.apps import client_secret_matches

    p = project
    app = p.create()
    first = app["client_secret"]
    assert client_secret_matches(stored(p.pid, app["id"]), first)
    r = p.api.post(f"{p.apps}/{app['id']}/secret", token=p.admin, headers={"If-Match": '"1"'})
    assert r.status == 200, r
    second = r.json()["client_secret"]
    item = stored(p.pid, app["id"])
    assert client_secret_matches(item, second)
    assert not client_secret_matches(item, first)
    assert not client_secret_matches(item, "")
    # the same rotation retried with its If-Match: refused, so the secret just shown holds
    r = p.api.post(f"{p.apps}/{app['id']}/secret", token=p.admin, headers={"If-Match": '"1"'})
    assert_problem(r, 412, "precondition-failed")
    assert client_secret_matches(stored(p.pid, app["id"]), second)


def test_a_client_secret_is_no_api_token(project: Project) -> None:
    app = project.create()
    r = project.api.get("/auth/me", token=app["client_secret"])
    assert_problem(r, 401, "unauthorized")


def test_idempotent_create_replays_without_the_secret(project: Project) -> None:
    p = project
    headers = {"Idempotency-Key": "app-once"}
    body = {"name": "Once", "redirect_uris": REDIRECTS}
    first = p.api.post(p.apps, token=p.owner, json=body, headers=headers)
    again = p.api.post(p.apps, token=p.owner, json=body, headers=headers)
    assert (first.status, again.status) == (201, 201), (first, again)
    assert first.json()["client_secret"].startswith("tncs_")
    assert again.json() == {**first.json(), "client_secret": None}
    assert again.headers["location"] == first.headers["location"]
    assert [a["id"] for a in list_all(p.api, p.owner, p.apps)] == [first.json()["id"]]
    r = p.api.post(p.apps, token=p.owner, json={**body, "name": "Other"}, headers=headers)
    assert_validation(r, ["header", "Idempotency-Key"])


def test_who_may_do_what(project: Project) -> None:
    p = project
    app = p.create(token=p.padmin)
    path = f"{p.apps}/{app['id']}"
    for token in (p.member, p.viewer):  # members see the apps, may not change them
        assert p.api.get(path, token=token).status == 200
        assert_problem(p.api.post(p.apps, token=token, json={"name": "x"}), 403, "forbidden")
        assert_problem(p.api.patch(path, token=token, json={"name": "x"}), 403, "forbidden")
        assert_problem(p.api.post(f"{path}/secret", token=token), 403, "forbidden")
        assert_problem(p.api.delete(path, token=token), 403, "forbidden")
    for token in (p.outsider, p.bot):  # not even that the project or the app exists
        for r in (
            p.api.get(p.apps, token=token),
            p.api.get(path, token=token),
            p.api.post(p.apps, token=token, json={"name": "x"}),
            p.api.patch(path, token=token, json={"name": "x"}),
            p.api.post(f"{path}/secret", token=token),
            p.api.delete(path, token=token),
        ):
            assert_problem(r, 404, "not-found")
    assert_problem(p.api.get(p.apps), 401, "unauthorized")
    assert p.api.get(path, token=p.owner).json()["version"] == 1  # nothing changed


def test_missing_project_or_app(project: Project) -> None:
    p = project
    missing = "00000000-0000-4000-8000-000000000000"
    for r in (
        p.api.get(f"{p.apps}/{missing}", token=p.owner),
        p.api.patch(f"{p.apps}/{missing}", token=p.owner, json={"name": "x"}),
        p.api.post(f"{p.apps}/{missing}/secret", token=p.owner),
        p.api.delete(f"{p.apps}/{missing}", token=p.owner),
        p.api.get("/projects/no-such-project/apps", token=p.admin),
        p.api.post("/projects/no-such-project/apps", token=p.admin, json={"name": "x"}),
        p.api.get(f"/projects/no-such-project/apps/{missing}", token=p.admin),
    ):
        assert_problem(r, 404, "not-found")


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://example.com/cb", "plain http off loopback"),
        ("https://example.com/cb#done", "a fragment"),
        ("https://user:pw@example.com/cb", "user info"),
        ("https://*.example.com/cb", "a wildcard"),
        ("http://127.0.0.1:0/cb", "port 0"),
        ("http://127.0.0.1:65536/cb", "port out of range"),
        ("https://example.com:080/cb", "a port with a leading zero"),
        ("https://example.com/a b", "a space"),
        ("https://example.com/%zz", "a broken percent-escape"),
        ("com.example.app:/cb", "a private-use scheme"),
        ("/relative/cb", "a relative URL"),
        ("https://" + "a" * 1020 + ".com", "too long"),
    ],
)
def test_redirect_uris_are_checked(project: Project, uri: str, why: str) -> None:
    r = project.api.post(
        project.apps, token=project.owner, json={"name": "x", "redirect_uris": [uri]}
    )
    assert_validation(r, ["body", "redirect_uris", 0])


def test_loopback_redirects_take_any_port(project: Project) -> None:
    uris = [
        "http://127.0.0.1:1/cb",
        "http://[::1]:65535/cb?state=x",
        "http://localhost/",
        "https://app.example.com:8443/o/cb?x=%2F",
    ]
    assert project.create(redirect_uris=uris)["redirect_uris"] == uris
    assert project.create(redirect_uris=[])["redirect_uris"] == []


def test_bad_bodies(project: Project) -> None:
    p = project
    app = p.create()
    path = f"{p.apps}/{app['id']}"
    cases = [
        ({}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 129}, ["body", "name"]),
        ({"name": "x", "secret": "mine"}, ["body", "secret"]),
        ({"name": "x", "redirect_uris": REDIRECTS[:1] * 2}, ["body", "redirect_uris"]),
        (
            {"name": "x", "redirect_uris": [f"https://a.example.com/{i}" for i in range(21)]},
            ["body", "redirect_uris"],
        ),
        ({"name": "x", "description": "d" * 1025}, ["body", "description"]),
        ({"name": "x", "description": None}, ["body", "description"]),
    ]
    for body, loc in cases:
        assert_validation(p.api.post(p.apps, token=p.owner, json=body), loc)
    for body, loc in [
        ({}, ["body"]),
        ({"name": None}, ["body", "name"]),
        ({"redirect_uris": None}, ["body", "redirect_uris"]),
        ({"client_id": "mine"}, ["body", "client_id"]),
    ]:
        assert_validation(p.api.patch(path, token=p.owner, json=body), loc)
    r = p.api.patch(path, token=p.owner, json={"name": "x"}, headers={"If-Match": "three"})
    assert r.status == 422, r
    r = p.api.get(p.apps, token=p.owner, query={"cursor": "not-a-cursor"})
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    assert p.api.get(path, token=p.owner).json()["version"] == 1


def test_apps_change_only_while_the_project_is_active(project: Project, wait_until: Wait) -> None:
    p = project
    app = p.create()
    path = f"{p.apps}/{app['id']}"
    r = p.api.post(f"/projects/{p.pid}/actions", token=p.admin, json={"action": "suspend"})
    assert r.status == 200, r
    for r in (
        p.api.post(p.apps, token=p.owner, json={"name": "x"}),
        p.api.patch(path, token=p.owner, json={"name": "x"}),
        p.api.post(f"{path}/secret", token=p.owner),
        p.api.delete(path, token=p.owner),
    ):
        body = assert_problem(r, 409, "invalid-transition")
        assert body["current_status"] == "suspended"
    assert p.api.get(path, token=p.viewer).status == 200  # still readable


def test_deleting_the_project_removes_its_apps(project: Project, wait_until: Wait) -> None:
    from tenantry.dal import keys, table

    p = project
    apps = [p.create(name=f"App {i}") for i in range(2)]
    r = p.api.delete(f"/projects/{p.pid}", token=p.owner)
    assert r.status == 202, r
    wait_status(p.api, p.owner, p.pid, "deleted", wait_until)
    settle(p.api, wait_until)
    left, _ = table.query(keys.project_pk(p.pid), sk_prefix=keys.APP_PREFIX)
    assert left == []
    counters, _ = table.query(keys.project_pk(p.pid), sk_prefix=keys.PROJECT_LIMIT_PREFIX)
    assert counters == []
    removed = [e for e in p.history() if e["event"] == "environments_removed"]
    assert removed and removed[0]["detail"]["apps_removed"] == len(apps)
    assert list_all(p.api, p.owner, p.apps) == []
