"""POST /projects with `initial_user` (a platform admin creating a project for someone,
found by email or created with the project, in one transaction) and `init_git_repository`
on a platform without a Git provider.

Contract: API.md "Console extras (Klustr) and Kuzzle extras" (initial_user).
"""

from __future__ import annotations

from typing import Any

from tests.harness import Api
from tests.integration.helpers import assert_problem, make_user


def body(pid: str, **extra: Any) -> dict[str, Any]:
    return {"name": pid.title(), "id": pid, **extra}


def test_an_admin_creates_a_project_for_a_new_user(api: Api, admin_token: str) -> None:
    new = {"email": "Dana@Example.com", "display_name": "Dana"}
    r = api.post("/projects", token=admin_token, json=body("dana", initial_user=new))
    assert r.status == 202, r
    owner_id = r.json()["owner_id"]
    user = api.get(f"/users/{owner_id}", token=admin_token).json()
    assert (user["email"], user["display_name"], user["is_active"]) == (
        "dana@example.com",
        "Dana",
        True,
    )
    members = api.get("/projects/dana/members", token=admin_token).json()["items"]
    assert [(m["user_id"], m["role"]) for m in members] == [(owner_id, "owner")]
    created = api.get("/projects/dana/history", token=admin_token).json()["items"][0]
    assert created["detail"]["initial_user_created"] is True
    # the same email again: the same user, no second account
    r = api.post("/projects", token=admin_token, json=body("dana-two", initial_user=new))
    assert r.status == 202 and r.json()["owner_id"] == owner_id, r
    users = api.get("/users", token=admin_token, query={"limit": 100}).json()["items"]
    assert [u["email"] for u in users].count("dana@example.com") == 1


def test_an_existing_user_becomes_the_owner(api: Api, admin_token: str) -> None:
    user, token = make_user(api, admin_token, email="erin@example.com")
    initial = {"email": "erin@example.com", "display_name": "ignored"}
    r = api.post("/projects", token=admin_token, json=body("erin", initial_user=initial))
    assert r.status == 202 and r.json()["owner_id"] == user["id"], r
    assert api.get("/projects/erin", token=token).status == 200  # theirs
    created = api.get("/projects/erin/history", token=admin_token).json()["items"][0]
    assert "initial_user_created" not in created["detail"]


def test_what_initial_user_refuses(api: Api, admin_token: str) -> None:
    someone, token = make_user(api, admin_token)
    initial = {"email": "fay@example.com", "display_name": "Fay"}
    r = api.post("/projects", token=token, json=body("fay", initial_user=initial))
    assert_problem(r, 403)
    r = api.post(
        "/projects",
        token=admin_token,
        json=body("fay", initial_user=initial, owner_id=someone["id"]),
    )
    assert_problem(r, 422, loc=["body", "initial_user"])
    for bad in ({"email": "not-an-email", "display_name": "Fay"}, {"email": "fay@example.com"}):
        r = api.post("/projects", token=admin_token, json=body("fay", initial_user=bad))
        assert_problem(r, 422)
    gone, _ = make_user(api, admin_token, email="gone@example.com")
    assert (
        api.patch(f"/users/{gone['id']}", token=admin_token, json={"is_active": False}).status
        == 200
    )
    r = api.post(
        "/projects",
        token=admin_token,
        json=body("fay", initial_user={"email": "gone@example.com", "display_name": "G"}),
    )
    assert_problem(r, 422, loc=["body", "initial_user", "email"])
    # nothing was written by the refused requests
    assert api.get("/projects/fay", token=admin_token).status == 404
    users = api.get("/users", token=admin_token, query={"limit": 100}).json()["items"]
    assert "fay@example.com" not in [u["email"] for u in users]


def test_a_repository_needs_a_git_provider(api: Api, admin_token: str) -> None:
    r = api.post("/projects", token=admin_token, json=body("repo", init_git_repository=True))
    assert_problem(r, 422, loc=["body", "init_git_repository"])
    assert api.get("/projects/repo", token=admin_token).status == 404
