"""Tenant isolation: another user, or a bot without membership, can neither see nor touch
a project, on any route, through any filter: 404 (never 403, which would confirm that the
project exists). A platform admin sees everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import Api, Response
from tests.integration.helpers import (
    assert_problem,
    create_active,
    list_ids,
    make_bot,
    make_user,
    push_image,
    wait_status,
)

Wait = Callable[..., Any]
ACTIONS = [
    "suspend",
    "unsuspend",
    "terminate",
    "reinstate",
    "retry",
    "approve",
    "deny",
    "dismiss",
    "cancel",
]


def _project_routes(api: Api, token: str, pid: str) -> dict[str, Response]:
    """Every per-project route, as `token` calls it."""
    out = {
        "GET": api.get(f"/projects/{pid}", token=token),
        "PATCH": api.patch(f"/projects/{pid}", token=token, json={"description": "pwned"}),
        "PATCH labels": api.patch(f"/projects/{pid}", token=token, json={"labels": {"x": "y"}}),
        "PATCH governed": api.patch(f"/projects/{pid}", token=token, json={"max_members": 1}),
        "DELETE": api.delete(f"/projects/{pid}", token=token),
        "DELETE reclaim": api.delete(f"/projects/{pid}", token=token, query={"reclaim": "true"}),
        "DELETE if-match": api.delete(f"/projects/{pid}", token=token, headers={"If-Match": '"1"'}),
        "history": api.get(f"/projects/{pid}/history", token=token),
        "history page": api.get(f"/projects/{pid}/history", token=token, query={"limit": 1}),
        "images": api.get(f"/projects/{pid}/images", token=token),
    }
    for action in ACTIONS:
        out[f"action {action}"] = api.post(
            f"/projects/{pid}/actions", token=token, json={"action": action, "reason": "x"}
        )
    return out


def _assert_invisible(api: Api, token: str, pid: str, secrets: list[str]) -> None:
    """Every route on `pid` answers exactly as on a project that does not exist."""
    seen = _project_routes(api, token, pid)
    missing = _project_routes(api, token, "no-such-project")
    for route, r in seen.items():
        body = assert_problem(r, 404, "not-found")
        ref = missing[route].json()
        # the same problem as for an id that does not exist, but for the id itself
        assert body["type"] == ref["type"] and body["title"] == ref["title"], (route, body, ref)
        assert body["detail"].replace(pid, "<id>") == ref["detail"].replace(
            "no-such-project", "<id>"
        ), (route, body, ref)
        assert set(body) == set(ref), (route, body, ref)
        for secret in secrets:
            assert secret not in r.body, (route, r)


def test_another_user_never_sees_a_project(api: Api, admin_token: str, wait_until: Wait) -> None:
    alice, alice_token = make_user(api, admin_token, "Alice")
    bob, bob_token = make_user(api, admin_token, "Bob")
    secret = create_active(
        api,
        alice_token,
        wait_until,
        name="Alice Secret",
        id="alice-secret",
        description="Alice's plans",
        labels={"team": "alpha", "tier": "web"},
        environments=["dev"],
    )
    push_image(api, "tenantry/alice-secret", "v1")
    create_active(api, bob_token, wait_until, name="Bob Own", id="bob-own", labels={"team": "b"})

    _assert_invisible(api, bob_token, "alice-secret", ["Alice's plans", alice["id"]])

    # nothing Bob did changed it
    after = api.get("/projects/alice-secret", token=alice_token).json()
    assert after == secret
    events = [
        e["event"]
        for e in api.get("/projects/alice-secret/history", token=alice_token).json()["items"]
    ]
    assert events == ["created", "environments_created", "image_repository_created", "provisioned"]

    # Bob's lists never include it, whatever the filters
    for query in (
        {},
        {"mode": "member"},
        {"mode": "default"},
        {"state": "active"},
        {"owner": alice["id"]},
        {"name": "Alice"},
        {"name": "A"},
        {"label_selector": "team=alpha"},
        {"label_selector": "team"},
        {"label_selector": "!pci"},
        {"label_selector": "team!=b"},
        {"limit": 1},
    ):
        found = list_ids(api, bob_token, **query)
        assert "alice-secret" not in found, (query, found)
        assert set(found) <= {"bob-own"}, (query, found)
    assert list_ids(api, bob_token) == ["bob-own"]
    # nor does the admin's view through Bob's eyes
    assert list_ids(api, admin_token, f"/users/{bob['id']}/projects") == ["bob-own"]
    r = api.get(f"/users/{bob['id']}/projects/alice-secret/images", token=admin_token)
    assert_problem(r, 404, "not-found")

    # and the other way round
    _assert_invisible(api, alice_token, "bob-own", [bob["id"]])
    assert list_ids(api, alice_token, label_selector="team") == ["alice-secret"]

    # still invisible as a tombstone, and in state=deleted lists
    assert api.delete("/projects/alice-secret", token=alice_token).status == 202
    wait_status(api, alice_token, "alice-secret", "deleted", wait_until)
    assert_problem(api.get("/projects/alice-secret", token=bob_token), 404)
    assert_problem(api.get("/projects/alice-secret/history", token=bob_token), 404)
    assert list_ids(api, bob_token, state="deleted") == []
    assert list_ids(api, alice_token, state="deleted") == ["alice-secret"]


def test_a_bot_without_membership_sees_nothing(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    _, token = make_user(api, admin_token, "Owner")
    bot, bot_token = make_bot(api, admin_token, "Lonely bot")
    create_active(api, token, wait_until, name="Private", labels={"k": "v"})
    push_image(api, "tenantry/private", "v1")
    create_active(api, admin_token, wait_until, name="Admins Project")

    _assert_invisible(api, bot_token, "private", [])
    _assert_invisible(api, bot_token, "admins-project", [])
    for query in ({}, {"mode": "member"}, {"state": "active"}, {"label_selector": "k"}):
        r = api.get("/projects", token=bot_token, query=query)
        assert (r.status, r.json()) == (200, {"items": [], "next_cursor": None}), (query, r)
    # a bot creates no projects and has no admin view
    assert_problem(api.post("/projects", token=bot_token, json={"name": "Bot Project"}), 403)
    assert_problem(api.get(f"/users/{bot['id']}/projects", token=bot_token), 403)
    assert_problem(api.get(f"/users/{bot['id']}/projects", token=admin_token), 404)


def test_an_admin_sees_everything(api: Api, admin_token: str, wait_until: Wait) -> None:
    alice, alice_token = make_user(api, admin_token, "Alice")
    bob, bob_token = make_user(api, admin_token, "Bob")
    create_active(api, alice_token, wait_until, name="Of Alice", labels={"o": "a"})
    create_active(api, bob_token, wait_until, name="Of Bob", labels={"o": "b"})
    push_image(api, "tenantry/of-bob", "v1")

    assert set(list_ids(api, admin_token)) == {"of-alice", "of-bob"}
    assert list_ids(api, admin_token, label_selector="o=b") == ["of-bob"]
    assert list_ids(api, admin_token, owner=alice["id"]) == ["of-alice"]
    for pid, owner in (("of-alice", alice), ("of-bob", bob)):
        r = api.get(f"/projects/{pid}", token=admin_token)
        assert (r.status, r.json()["owner_id"]) == (200, owner["id"]), r
        r = api.get(f"/projects/{pid}/history", token=admin_token)
        assert r.status == 200 and r.json()["items"][0]["event"] == "created", r
        assert api.get(f"/projects/{pid}/images", token=admin_token).status == 200
        # ...and through its owner's eyes
        assert list_ids(api, admin_token, f"/users/{owner['id']}/projects") == [pid]
    images = api.get(f"/users/{bob['id']}/projects/of-bob/images", token=admin_token).json()
    assert [i["tag"] for i in images["items"]] == ["v1"], images
    # an admin acts on anyone's project
    r = api.patch("/projects/of-bob", token=admin_token, json={"description": "by the admin"})
    assert (r.status, r.json()["description"]) == (200, "by the admin"), r
    assert api.get("/projects/of-bob", token=bob_token).json()["description"] == "by the admin"
