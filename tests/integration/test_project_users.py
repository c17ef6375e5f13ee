"""A project's people (API.md, "Console extras": GET /projects/{projectId}/users): its
current members with their roles and display names, paged, for members and platform
admins; served by one Query of the project's current members and one BatchGetItem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import Api
from tests.integration.helpers import (
    assert_problem,
    create_active,
    list_all,
    make_bot,
    make_user,
    tampered_cursors,
)

Wait = Callable[..., Any]


def enroll(api: Api, owner: str, pid: str, user_id: str, role: str) -> dict[str, Any]:
    body = {"project_id": pid, "action": "enroll", "user_id": user_id, "role": role}
    r = api.post("/memberships", token=owner, json=body)
    assert r.status == 201, r
    return dict(r.json())


def test_lists_the_projects_people_with_roles_and_names(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner_user, owner = make_user(api, admin_token, "Olga Owner")
    pid = create_active(api, owner, wait_until, name="People", join_policy="moderated")["id"]
    people = {owner_user["id"]: ("Olga Owner", "owner")}
    tokens = {}
    for name, role in (("Ada Admin", "admin"), ("Max Member", "member"), ("Vic Viewer", "viewer")):
        user, tokens[role] = make_user(api, admin_token, name)
        enroll(api, owner, pid, user["id"], role)
        people[user["id"]] = (name, role)
    # not people of the project: a pending join request, a member who left
    _, asker = make_user(api, admin_token, "Asker")
    r = api.post("/memberships", token=asker, json={"project_id": pid, "action": "join"})
    assert r.status == 201 and r.json()["state"] == "requested", r
    leaver_user, _ = make_user(api, admin_token, "Leaver")
    left = enroll(api, owner, pid, leaver_user["id"], "member")
    r = api.post(f"/memberships/{left['id']}/actions", token=owner, json={"action": "remove"})
    assert r.status == 200, r

    expected = sorted(
        (
            {
                "user_id": uid,
                "display_name": name,
                "role": role,
                "state": "accepted",
                "is_active": True,
            }
            for uid, (name, role) in people.items()
        ),
        key=lambda p: p["user_id"],
    )
    path = f"/projects/{pid}/users"
    for token in (owner, admin_token, *tokens.values()):
        listed = list_all(api, token, path)
        assert [{k: v for k, v in p.items() if k != "membership_id"} for p in listed] == expected
    # paged: one person a page, in user-id order, each once
    paged = list_all(api, tokens["viewer"], path, limit=1)
    assert [p["user_id"] for p in paged] == [p["user_id"] for p in expected]
    memberships = {
        m["user_id"]: m["id"]
        for m in list_all(api, owner, "/memberships", project_id=pid)
        if m["state"] == "accepted"
    }
    assert {p["user_id"]: p["membership_id"] for p in paged} == memberships

    # a deactivated member is still one of the project's people, shown as inactive
    r = api.patch(f"/users/{owner_user['id']}", token=admin_token, json={"is_active": False})
    assert r.status == 200, r
    (shown,) = [p for p in list_all(api, tokens["admin"], path) if p["role"] == "owner"]
    assert shown["is_active"] is False


def test_outsiders_bots_and_strangers(api: Api, admin_token: str, wait_until: Wait) -> None:
    _, owner = make_user(api, admin_token, "Owner")
    pid = create_active(api, owner, wait_until, name="Closed Circle")["id"]
    _, outsider = make_user(api, admin_token, "Outsider")
    _, bot = make_bot(api, admin_token)
    for token in (outsider, bot):
        assert_problem(api.get(f"/projects/{pid}/users", token=token), 404, "not-found")
    assert_problem(api.get("/projects/no-such-project/users", token=admin_token), 404, "not-found")
    assert_problem(api.get(f"/projects/{pid}/users"), 401, "unauthorized")


def test_bad_paging(api: Api, admin_token: str, wait_until: Wait) -> None:
    _, owner = make_user(api, admin_token, "Owner")
    pid = create_active(api, owner, wait_until, name="Cursor Home")["id"]
    for i in range(2):
        user, _ = make_user(api, admin_token, f"Member {i}")
        enroll(api, owner, pid, user["id"], "member")
    path = f"/projects/{pid}/users"
    for limit in ("0", "101", "x"):
        r = api.get(path, token=owner, query={"limit": limit})
        assert_problem(r, 422, "validation", loc=["query", "limit"])
    r = api.get(path, token=owner, query={"limit": 1})
    assert r.status == 200, r
    cursor = r.json()["next_cursor"]
    assert cursor
    # a cursor of this list is no cursor of another one (the project's members, its apps)
    for other in (f"/projects/{pid}/members", f"/projects/{pid}/apps"):
        r = api.get(other, token=owner, query={"cursor": cursor})
        assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    for _, forged in tampered_cursors(cursor):
        r = api.get(path, token=owner, query={"cursor": forged})
        assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
