"""Project routes over HTTP, through the real authorizer and the real workflows: create,
list, read, change, lifecycle actions, delete, history and images (API.md, "Projects")."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import Api, Response, emulated, ensure_test_admin, wait_until
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    create_active,
    create_project,
    ecr_repositories,
    executions_for,
    list_all,
    list_ids,
    make_bot,
    make_user,
    push_image,
    settle,
    tampered_cursors,
    wait_status,
)

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
PROJECT_FIELDS = {
    "id",
    "name",
    "description",
    "homepage",
    "owner_id",
    "labels",
    "status",
    "created_at",
    "updated_at",
    "version",
    "join_policy",
    "leave_policy",
    "resources",
    "clusters",
    "cluster_delete_policy",
    "environments",
    "conditions",
}
PROVISIONING_EVENTS = ["created", "environments_created", "image_repository_created", "provisioned"]
RESERVED = ["default", "kube-system", "kube-public", "admin", "system"]
Wait = Callable[..., Any]


def history(api: Api, token: str, project_id: str, limit: int = 100) -> list[dict[str, Any]]:
    return list_all(api, token, f"/projects/{project_id}/history", limit=limit)


def events(api: Api, token: str, project_id: str) -> list[str]:
    return [e["event"] for e in history(api, token, project_id)]


# --- create, provisioning, read, history -------------------------------------------------------


def test_create_provisions_to_active_with_history(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    user, token = make_user(api, admin_token, "Owner")
    body = {
        "name": "My First Project!",
        "description": "the first one",
        "homepage": "https://example.com/first",
        "labels": {"team": "core", "tier": "web"},
        "environments": ["dev", "staging", "prod"],
        "join_policy": "closed",
        "max_members": 5,
    }
    r = api.post("/projects", token=token, json=body)
    assert r.status == 202, r
    created = r.json()
    assert created.keys() >= PROJECT_FIELDS, created
    assert created["id"] == "my-first-project", created  # derived from the name
    assert r.headers["location"] == "/projects/my-first-project", r
    assert r.headers["etag"] == f'"{created["version"]}"', r
    assert created["status"] == "creating", created
    assert created["owner_id"] == user["id"]
    for key in ("name", "description", "homepage", "labels", "environments", "join_policy"):
        assert created[key] == body[key], key
    assert created["max_members"] == 5
    assert created["cluster_delete_policy"] == "Retain"
    assert ISO_Z.match(created["created_at"]) and ISO_Z.match(created["updated_at"]), created

    project = wait_status(api, token, "my-first-project", "active", wait_until)
    r = api.get("/projects/my-first-project", token=token)
    assert r.headers["etag"] == f'"{project["version"]}"', r
    assert project["version"] > created["version"]
    assert project["environments"] == ["dev", "staging", "prod"]
    assert project.get("reason") is None, project
    conditions = {c["type"]: c for c in project["conditions"]}
    assert {"EnvironmentsReady", "ImageRepositoryReady", "Ready"} <= conditions.keys(), project
    for c in conditions.values():
        assert c["status"] == "True", c
        assert ISO_Z.match(c["last_transition_time"]) and c["reason"], c
    assert conditions["EnvironmentsReady"]["detail"]["environments"] == ["dev", "staging", "prod"]
    assert conditions["ImageRepositoryReady"]["detail"]["repository"] == "tenantry/my-first-project"
    assert "tenantry/my-first-project" in ecr_repositories(api)
    (execution,) = executions_for(api, "CreateProjectStateMachine", "my-first-project")
    assert execution["status"] == "SUCCEEDED", execution

    # history: created -> environments_created -> image_repository_created -> provisioned
    r = api.get("/projects/my-first-project/history", token=token)
    assert r.status == 200, r
    hist = r.json()
    assert hist["project_id"] == "my-first-project"
    assert hist["created_at"] == created["created_at"]
    assert hist["deleted_at"] is None and hist["next_cursor"] is None, hist
    items = hist["items"]
    assert [i["event"] for i in items] == PROVISIONING_EVENTS, items
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)  # oldest first
    assert all(ISO_Z.match(i["at"]) and i["actor"] for i in items), items
    assert items[0]["actor"] == f"user:{user['id']}"
    assert (items[0].get("from"), items[0]["to"]) == (None, "creating"), items[0]
    assert (items[-1]["from"], items[-1]["to"]) == ("creating", "active"), items[-1]
    assert items[1]["detail"]["environments"] == ["dev", "staging", "prod"], items[1]

    # paginated with limit/cursor: the same entries, in the same order
    for limit in (1, 3):
        pages, cursor, seen = 0, None, []
        while True:
            q = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            r = api.get("/projects/my-first-project/history", token=token, query=q)
            assert r.status == 200, r
            assert len(r.json()["items"]) <= limit
            seen.extend(r.json()["items"])
            cursor, pages = r.json()["next_cursor"], pages + 1
            if not cursor:
                break
        assert seen == items, (limit, seen)
        assert pages >= -(-len(items) // limit)

    # bad input on history
    hist_cursor = api.get(
        "/projects/my-first-project/history", token=token, query={"limit": 1}
    ).json()["next_cursor"]
    assert_problem(
        api.get("/projects/my-first-project/history", token=token, query={"limit": 0}), 422
    )
    assert_problem(
        api.get("/projects/my-first-project/history", token=token, query={"cursor": "%%%"}), 400
    )
    assert_problem(api.get("/projects", token=token, query={"cursor": hist_cursor}), 400)
    assert_problem(api.get("/projects/no-such-project/history", token=token), 404, "not-found")
    assert_problem(api.get("/projects/my-first-project/history"), 401)

    # GET: owner and admin see it; unknown id and malformed id: 404; no token: 401
    # the same project; what each may ask for is their own
    as_admin = api.get("/projects/my-first-project", token=admin_token).json()
    assert as_admin["allowed_actions"] == ["suspend", "terminate", "delete"]
    assert project["allowed_actions"] == ["delete"]  # the owner's
    assert {**as_admin, "allowed_actions": None} == {**project, "allowed_actions": None}
    assert_problem(api.get("/projects/no-such-project", token=token), 404, "not-found")
    assert_problem(api.get("/projects/NOT_A_LABEL", token=admin_token), 404, "not-found")
    assert_problem(api.get("/projects/my-first-project"), 401, "unauthorized")
    assert_problem(api.get("/projects/my-first-project", token="tnt_bogus"), 401)


def test_create_validation_ids_and_conflicts(api: Api, admin_token: str, wait_until: Wait) -> None:
    _, token = make_user(api, admin_token, "Validator")
    other, _ = make_user(api, admin_token, "Other")

    # explicit ids must be DNS labels: 3-40 chars of [a-z0-9-], starting with a letter
    for bad in ["ab", "1abc", "Abc", "a_bc", "abc-", "-abc", "ab c", "a" * 41, "abc.d", ""]:
        r = api.post("/projects", token=token, json={"name": "Fine name", "id": bad})
        assert_validation(r, ["body", "id"])
    # reserved ids, given or derived from the name
    for reserved in RESERVED:
        r = api.post("/projects", token=token, json={"name": "Fine name", "id": reserved})
        body = assert_validation(r, ["body", "id"])
        assert reserved in body["detail"], body
    for name in ("Admin", "Kube System", "default"):
        assert_validation(api.post("/projects", token=token, json={"name": name}), ["body", "id"])
    # a name with nothing to derive an id from needs an explicit id
    for name in ("!!!", "x", "日本語"):
        assert_validation(api.post("/projects", token=token, json={"name": name}), ["body", "id"])

    # the boundaries that are fine, and derivations
    assert create_active(api, token, wait_until, name="three", id="abc")["id"] == "abc"
    assert create_active(api, token, wait_until, name="forty", id="a" * 40)["id"] == "a" * 40
    assert create_active(api, token, wait_until, name="123 Go")["id"] == "p-123-go"
    long_name = "The Quite Long Project Name Of Some Team - Edition"
    derived = create_active(api, token, wait_until, name=long_name)["id"]
    assert re.fullmatch(r"[a-z][a-z0-9-]{1,38}[a-z0-9]", derived), derived
    assert derived.startswith("the-quite-long-project-name")
    named = create_active(api, token, wait_until, name="Explicit", id="explicit-id-1")
    assert (named["id"], named["name"]) == ("explicit-id-1", "Explicit")

    # duplicate ids: 409, whoever asks, explicit or derived
    body = assert_problem(
        api.post("/projects", token=token, json={"name": "again", "id": "abc"}), 409, "conflict"
    )
    assert "abc" in body["detail"]
    assert_problem(api.post("/projects", token=admin_token, json={"name": "123 Go"}), 409)

    # malformed and unknown input
    assert_validation(api.post("/projects", token=token, json={}), ["body", "name"])
    assert_validation(api.post("/projects", token=token, json={"name": ""}), ["body", "name"])
    assert_validation(
        api.post("/projects", token=token, json={"name": "ok name", "colour": "red"}),
        ["body", "colour"],
    )
    assert_problem(api.post("/projects", token=token, body='{"name": "x",'), 400, "bad-request")
    assert_problem(api.post("/projects", token=token, body="not json at all"), 400)
    assert_problem(api.post("/projects", token=token, json=["name"]), 422)
    invalid: list[tuple[dict[str, Any], list[Any]]] = [
        ({"homepage": "ftp://x"}, ["body", "homepage"]),
        ({"join_policy": "sometimes"}, ["body", "join_policy"]),
        ({"leave_policy": "never"}, ["body", "leave_policy"]),
        ({"max_members": 0}, ["body", "max_members"]),
        ({"environments": ["dev", "dev"]}, ["body", "environments"]),
        ({"environments": ["Not OK"]}, ["body", "environments", 0]),
        ({"labels": {"bad key!": "v"}}, ["body", "labels", "bad key!", "[key]"]),
        ({"resources": {"cpu": {"project_capacity": -1, "member_capacity": 1}}}, None),
        ({"description": "x" * 2049}, ["body", "description"]),
    ]
    for extra, loc in invalid:
        r = api.post("/projects", token=token, json={"name": "Valid Name", **extra})
        if loc is None:
            assert_problem(r, 422)
        else:
            assert_problem(r, 422)
            wanted = [str(x) for x in loc]
            assert any(
                [str(x) for x in e["loc"]][: len(loc)] == wanted for e in r.json()["errors"]
            ), (
                extra,
                r,
            )

    # references to things that are not registered: 422 naming each
    r = api.post(
        "/projects",
        token=token,
        json={"name": "refs", "clusters": [{"name": "eu-west-1a"}, {"name": "us-east-1b"}]},
    )
    assert_validation(r, ["body", "clusters", 0, "name"])
    assert_validation(r, ["body", "clusters", 1, "name"])
    assert_validation(
        api.post("/projects", token=token, json={"name": "refs", "template_id": "tpl-1"}),
        ["body", "template_id"],
    )
    assert_validation(
        api.post("/projects", token=token, json={"name": "refs", "org_id": "org-1"}),
        ["body", "org_id"],
    )

    # owner_id: admins only, and only an existing active user
    assert_problem(
        api.post("/projects", token=token, json={"name": "for other", "owner_id": other["id"]}),
        403,
        "forbidden",
    )
    r = api.post(
        "/projects", token=admin_token, json={"name": "for ghost", "owner_id": "no-such-user"}
    )
    assert_validation(r, ["body", "owner_id"])
    on_behalf = create_project(api, admin_token, name="For Other", owner_id=other["id"])
    assert (on_behalf["owner_id"], on_behalf["status"]) == (other["id"], "creating")
    settle(api, wait_until)

    # wrong callers
    assert_problem(api.post("/projects", json={"name": "anon"}), 401)
    _, bot_token = make_bot(api, admin_token)
    assert_problem(api.post("/projects", token=bot_token, json={"name": "by bot"}), 403)

    # nothing was created by any refused request
    mine = ["abc", "a" * 40, "p-123-go", derived, "explicit-id-1"]
    assert sorted(list_ids(api, token)) == sorted(mine)
    for pid in ("refs", "for-other-x", "for-ghost", "anon", "by-bot", "valid-name", "ok-name"):
        assert_problem(api.get(f"/projects/{pid}", token=admin_token), 404)
    assert list_ids(api, admin_token, owner=other["id"]) == ["for-other"]

    # ids are never reused, not even after the project is deleted
    assert api.delete("/projects/abc", token=token).status == 202
    wait_status(api, token, "abc", "deleted", wait_until)
    assert_problem(api.post("/projects", token=token, json={"name": "again", "id": "abc"}), 409)
    assert_problem(api.post("/projects", token=admin_token, json={"name": "abc"}), 409)


def test_moderated_approval_policy() -> None:
    """ApprovalPolicy=moderated: a user's project waits `uninitialized` for an admin; an
    admin's is `creating` at once. approve / deny / cancel move it on."""
    with emulated({"ApprovalPolicy": "moderated"}) as api:
        admin_token = ensure_test_admin()
        user, token = make_user(api, admin_token, "Applicant")
        pending = create_project(api, token, name="Pending One")
        assert pending["status"] == "uninitialized", pending
        assert create_project(api, token, name="Pending Two")["status"] == "uninitialized"
        assert create_project(api, token, name="Pending Three")["status"] == "uninitialized"
        assert create_project(api, admin_token, name="Admins Own")["status"] == "creating"
        settle(api, wait_until)
        assert executions_for(api, "CreateProjectStateMachine", "pending-one") == []
        assert api.get("/projects/pending-one", token=token).json()["status"] == "uninitialized"
        assert sorted(list_ids(api, token, state="uninitialized")) == [
            "pending-one",
            "pending-three",
            "pending-two",
        ]

        def app_action(pid: str, action: str, who: str, **extra: Any) -> Response:
            """An action on the project's last application (API.md: "with app_id")."""
            last = api.get(f"/projects/{pid}", token=admin_token).json().get("last_application")
            app_id = {"app_id": last["id"]} if last else {}
            return api.post(
                f"/projects/{pid}/actions", token=who, json={"action": action, **app_id, **extra}
            )

        def move(pid: str, frm: str, to: str) -> dict[str, Any]:
            (entry,) = [
                e for e in history(api, token, pid) if (e.get("from"), e.get("to")) == (frm, to)
            ]
            return entry

        # approve: admin only, then it provisions
        assert_problem(app_action("pending-one", "approve", token), 403)
        r = app_action("pending-one", "approve", admin_token)
        assert (r.status, r.json()["status"]) == (202, "creating"), r
        wait_status(api, token, "pending-one", "active", wait_until)
        hist = events(api, token, "pending-one")
        assert hist[0] == "created" and hist[-3:] == PROVISIONING_EVENTS[1:], hist
        assert move("pending-one", "uninitialized", "creating")["actor"] == (
            f"user:{admin_id(api, admin_token)}"
        )
        assert_problem(app_action("pending-one", "approve", admin_token), 409)

        # deny (admin) and cancel (the applicant) end as deleted tombstones
        r = app_action("pending-two", "deny", admin_token, reason="no budget")
        assert (r.status, r.json()["status"]) == (200, "deleted"), r
        assert r.json()["deleted_at"], r
        r = app_action("pending-three", "cancel", token)
        assert (r.status, r.json()["status"]) == (200, "deleted"), r
        assert sorted(list_ids(api, token, state="deleted")) == ["pending-three", "pending-two"]
        assert list_ids(api, token) == ["pending-one"]
        deny = move("pending-two", "uninitialized", "deleted")
        assert "no budget" in str(deny.get("detail")), deny
        assert deny["actor"] == f"user:{admin_id(api, admin_token)}", deny
        cancel = move("pending-three", "uninitialized", "deleted")
        assert cancel["actor"] == f"user:{user['id']}", cancel
        assert executions_for(api, "CreateProjectStateMachine", "pending-two") == []

        # an uninitialized project may be deleted too
        create_project(api, token, name="Pending Four")
        r = api.delete("/projects/pending-four", token=token)
        assert (r.status, r.json()["status"]) == (202, "deleting"), r
        gone = wait_status(api, token, "pending-four", "deleted", wait_until)
        assert gone["deleted_at"], gone
        assert move("pending-four", "uninitialized", "deleting")["actor"] == f"user:{user['id']}"


# --- lists -------------------------------------------------------------------------------------


def test_list_filters_pagination_and_admin_view(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    alice, alice_token = make_user(api, admin_token, "Alice")
    bob, bob_token = make_user(api, admin_token, "Bob")
    specs = {
        "alpha-web": {"tier": "web", "team": "core"},
        "alpha-api": {"tier": "api", "team": "core"},
        "alpha-db": {"tier": "db"},
        "beta-web": {"tier": "web", "team": "edge"},
        "beta-api": {"tier": "api"},
        "gamma-web": {"tier": "web", "team": "core", "pci": "yes"},
        "gamma-batch": {},
    }
    names = {pid: pid.replace("-", " ").title() for pid in specs}  # "Alpha Web"
    for pid, labels in specs.items():
        create_active(api, alice_token, wait_until, name=names[pid], id=pid, labels=labels)
    create_active(
        api, bob_token, wait_until, name="Alpha Bob", id="alpha-bob", labels={"tier": "web"}
    )
    create_active(
        api, admin_token, wait_until, name="Admin Ops", id="admin-ops", labels={"tier": "web"}
    )
    all_alice = set(specs)

    # pages of 3: 3 + 3 + 1, no duplicates, no gaps, a null cursor at the end
    pages, cursor = [], None
    while True:
        q = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = api.get("/projects", token=alice_token, query=q)
        assert r.status == 200, r
        pages.append([p["id"] for p in r.json()["items"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(pages) < 10
    assert [len(p) for p in pages] == [3, 3, 1], pages
    flat = [pid for page in pages for pid in page]
    assert len(flat) == len(set(flat)) and set(flat) == all_alice, pages
    r = api.get("/projects", token=alice_token)
    assert r.json()["next_cursor"] is None and len(r.json()["items"]) == 7, r  # default 25
    for p in r.json()["items"]:
        assert p.keys() >= PROJECT_FIELDS and p["owner_id"] == alice["id"], p

    def ids(token: str = alice_token, **query: Any) -> set[str]:
        found = list_ids(api, token, **query)
        assert len(found) == len(set(found)), found
        return set(found)

    # label selectors
    assert ids(label_selector="tier=web") == {"alpha-web", "beta-web", "gamma-web"}
    assert ids(label_selector="tier==web") == {"alpha-web", "beta-web", "gamma-web"}
    assert ids(label_selector="tier!=web") == all_alice - {"alpha-web", "beta-web", "gamma-web"}
    assert ids(label_selector="team") == {"alpha-web", "alpha-api", "beta-web", "gamma-web"}
    assert ids(label_selector="!team") == {"alpha-db", "beta-api", "gamma-batch"}
    assert ids(label_selector="tier=web,team=core") == {"alpha-web", "gamma-web"}
    assert ids(label_selector="tier=web, team!=core") == {"beta-web"}
    assert ids(label_selector="team,!pci") == {"alpha-web", "alpha-api", "beta-web"}
    assert ids(label_selector="tier=nothing") == set()
    assert ids(label_selector="tier=web", limit=1) == {"alpha-web", "beta-web", "gamma-web"}
    for bad in ["tier=web,,team", "=web", "!tier=web", "tier=we b", "tier=web=1", "-x", ","]:
        r = api.get("/projects", token=alice_token, query={"label_selector": bad})
        body = assert_problem(r, 400, "bad-request")
        assert any(e["loc"] == ["query", "label_selector"] for e in body.get("errors", [])), body

    # name prefix, owner, state, mode
    assert ids(name="Alpha") == {"alpha-web", "alpha-api", "alpha-db"}
    assert ids(name="Alpha W") == {"alpha-web"}
    assert ids(owner=alice["id"]) == all_alice
    assert ids(owner=bob["id"]) == set()
    assert ids(state="active") == all_alice
    assert ids(state="creating") == set()
    assert ids(mode="member") == all_alice
    assert ids(mode="default") == all_alice

    # an admin suspends one: listed by default and by state, not in mode=member
    r = api.post("/projects/beta-api/actions", token=admin_token, json={"action": "suspend"})
    assert r.status == 200, r
    assert ids(state="suspended") == {"beta-api"}
    assert ids(mode="member") == all_alice - {"beta-api"}
    assert ids(mode="member", state="suspended") == set()
    assert ids() == all_alice

    # a deleted project is a tombstone: hidden unless state=deleted
    assert api.delete("/projects/gamma-batch", token=alice_token).status == 202
    wait_status(api, alice_token, "gamma-batch", "deleted", wait_until)
    live = all_alice - {"gamma-batch"}
    assert ids() == live
    assert ids(state="deleted") == {"gamma-batch"}
    assert ids(label_selector="!team") == {"alpha-db", "beta-api"}
    assert ids(state="deleted", label_selector="!team") == {"gamma-batch"}
    assert ids(mode="member") == live - {"beta-api"}

    # the admin sees everything by default; mode=member is only the admin's own
    everyone = ids(admin_token)
    assert everyone == live | {"alpha-bob", "admin-ops"}
    assert ids(admin_token, limit=3) == everyone
    assert ids(admin_token, mode="member") == {"admin-ops"}
    assert ids(admin_token, owner=alice["id"]) == live
    assert ids(admin_token, owner=alice["id"], limit=4) == live
    assert ids(admin_token, owner=bob["id"]) == {"alpha-bob"}
    assert ids(admin_token, name="Alpha", label_selector="tier=web") == {"alpha-web", "alpha-bob"}
    assert ids(admin_token, state="deleted") == {"gamma-batch"}
    assert ids(admin_token, state="suspended", limit=2) == {"beta-api"}

    # GET /users/{userId}/projects: exactly what that user sees, whatever the filters
    for query in ({}, {"mode": "member"}, {"state": "deleted"}, {"label_selector": "team"}):
        as_alice = list_all(api, admin_token, f"/users/{alice['id']}/projects", **query)
        assert as_alice == list_all(api, alice_token, "/projects", **query), query
    as_alice = list_all(api, admin_token, f"/users/{alice['id']}/projects", limit=3)
    assert as_alice == list_all(api, alice_token, "/projects"), as_alice
    as_bob = list_all(api, admin_token, f"/users/{bob['id']}/projects", name="Alpha")
    assert as_bob == list_all(api, bob_token, "/projects", name="Alpha") != []
    assert {p["id"] for p in list_all(api, admin_token, f"/users/{bob['id']}/projects")} == {
        "alpha-bob"
    }
    assert_problem(api.get(f"/users/{alice['id']}/projects", token=alice_token), 403)
    assert_problem(api.get(f"/users/{alice['id']}/projects", token=bob_token), 403, "forbidden")
    assert_problem(api.get("/users/no-such-user/projects", token=admin_token), 404, "not-found")
    assert_problem(api.get(f"/users/{alice['id']}/projects"), 401)
    assert_problem(
        api.get(f"/users/{alice['id']}/projects", token=admin_token, query={"limit": 0}), 422
    )

    # bad list input
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": -1}, {"state": "sleeping"}):
        assert_validation(
            api.get("/projects", token=alice_token, query=bad), ["query", next(iter(bad))]
        )
    assert_validation(
        api.get("/projects", token=alice_token, query={"mode": "everything"}), ["query", "mode"]
    )
    assert api.get("/projects", token=alice_token, query={"limit": 100}).status == 200
    assert api.get("/projects", token=alice_token, query={"limit": 1}).status == 200
    for garbage in (
        "garbage",
        "eyJrIjoxfQ",
        "a" * 300,
        "eyJrIjp7IlBLIjoiUFJPSkVDVCN4In0sInMiOiJ4In0",
    ):
        r = api.get("/projects", token=alice_token, query={"cursor": garbage})
        assert_problem(r, 400, "bad-request")
    # a cursor of another list: another user's, other filters, another route
    alice_cursor = api.get("/projects", token=alice_token, query={"limit": 2}).json()["next_cursor"]
    assert alice_cursor
    assert_problem(api.get("/projects", token=bob_token, query={"cursor": alice_cursor}), 400)
    assert_problem(api.get("/projects", token=admin_token, query={"cursor": alice_cursor}), 400)
    r = api.get(
        "/projects", token=alice_token, query={"cursor": alice_cursor, "label_selector": "team"}
    )
    assert_problem(r, 400)
    r = api.get("/projects", token=alice_token, query={"cursor": alice_cursor, "state": "active"})
    assert_problem(r, 400)
    assert_problem(
        api.get("/projects/alpha-web/history", token=alice_token, query={"cursor": alice_cursor}),
        400,
    )
    users_cursor = api.get("/users", token=admin_token, query={"limit": 1}).json()["next_cursor"]
    assert_problem(api.get("/projects", token=admin_token, query={"cursor": users_cursor}), 400)
    # ...while the same cursor, on its own list, goes on
    r = api.get("/projects", token=alice_token, query={"cursor": alice_cursor, "limit": 2})
    assert r.status == 200 and len(r.json()["items"]) == 2, r
    assert_problem(api.get("/projects"), 401)


# --- change ------------------------------------------------------------------------------------


def test_patch_project(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner, token = make_user(api, admin_token, "Patcher")
    before = create_active(
        api, token, wait_until, name="Patchable", labels={"a": "1", "b": "2"}, description="before"
    )
    etag = f'"{before["version"]}"'

    r = api.patch(
        "/projects/patchable",
        token=token,
        json={
            "description": "after",
            "homepage": "https://patchable.example.org",
            "labels": {"c": "3"},
        },
        headers={"If-Match": etag},
    )
    assert r.status == 200, r
    after = r.json()
    assert after["description"] == "after"
    assert after["homepage"] == "https://patchable.example.org"
    assert after["labels"] == {"c": "3"}, after  # the whole map is replaced
    assert after["version"] == before["version"] + 1
    assert r.headers["etag"] == f'"{after["version"]}"', r
    assert after["updated_at"] > before["updated_at"]
    unchanged = ("id", "name", "owner_id", "status", "created_at", "environments", "join_policy")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert api.get("/projects/patchable", token=token).json() == after
    entry = history(api, token, "patchable")[-1]
    assert entry["event"] == "updated" and entry["actor"] == f"user:{owner['id']}", entry
    assert sorted(entry["detail"]["fields"]) == ["description", "homepage", "labels"], entry
    assert list_ids(api, token, label_selector="c=3") == ["patchable"]
    assert list_ids(api, token, label_selector="a") == []

    # a stale If-Match: 412, nothing written
    r = api.patch(
        "/projects/patchable", token=token, json={"description": "lost"}, headers={"If-Match": etag}
    )
    assert_problem(r, 412, "precondition-failed")
    assert api.get("/projects/patchable", token=token).json()["description"] == "after"
    # an empty labels map clears them
    r = api.patch("/projects/patchable", token=token, json={"labels": {}})
    assert r.status == 200 and r.json()["labels"] == {}, r

    # governed fields: the owner's change does not apply directly (API.md: it becomes an
    # application); a platform admin's does
    governed_keys = ("join_policy", "leave_policy", "max_members", "resources", "clusters")
    current = api.get("/projects/patchable", token=token).json()
    for governed in (
        {"join_policy": "auto"},
        {"leave_policy": "closed"},
        {"max_members": 10},
        {"resources": {"cpu": {"project_capacity": 8, "member_capacity": 2}}},
        {"description": "and a governed one", "max_members": 3},
    ):
        r = api.patch("/projects/patchable", token=token, json=governed)
        if r.status == 403:  # before applications existed
            assert_problem(r, 403, "forbidden")
            continue
        assert r.status in (200, 202), r
        assert (r.json().get("last_application") or {}).get("state") == "pending", r
        now = api.get("/projects/patchable", token=token).json()
        assert {k: now[k] for k in governed_keys} == {k: current[k] for k in governed_keys}
    r = api.patch(
        "/projects/patchable",
        token=admin_token,
        json={
            "join_policy": "auto",
            "max_members": 10,
            "resources": {"cpu": {"project_capacity": 8, "member_capacity": 2}},
        },
    )
    assert r.status == 200, r
    assert r.json()["join_policy"] == "auto" and r.json()["max_members"] == 10, r
    assert r.json()["resources"] == {"cpu": {"project_capacity": 8, "member_capacity": 2}}, r
    assert history(api, token, "patchable")[-1]["actor"].startswith("user:"), r
    # clusters must be registered ones, even for an admin
    r = api.patch("/projects/patchable", token=admin_token, json={"clusters": [{"name": "nope"}]})
    assert_validation(r, ["body", "clusters", 0, "name"])

    # bad input
    assert_problem(api.patch("/projects/patchable", token=token, json={}), 422)
    assert_validation(
        api.patch("/projects/patchable", token=token, json={"name": "renamed"}), ["body", "name"]
    )
    assert_validation(
        api.patch("/projects/patchable", token=token, json={"status": "active"}),
        ["body", "status"],
    )
    assert_validation(
        api.patch("/projects/patchable", token=token, json={"homepage": "not a url"}),
        ["body", "homepage"],
    )
    assert_problem(api.patch("/projects/patchable", token=token, body="{]"), 400)

    # wrong caller and missing project
    assert_problem(api.patch("/projects/patchable", json={"description": "x"}), 401)
    _, stranger = make_user(api, admin_token, "Stranger")
    assert_problem(api.patch("/projects/patchable", token=stranger, json={"description": "x"}), 404)
    assert_problem(
        api.patch("/projects/no-such-project", token=admin_token, json={"description": "x"}),
        404,
    )

    # a deleted project cannot be changed: 409
    assert api.delete("/projects/patchable", token=token).status == 202
    wait_status(api, token, "patchable", "deleted", wait_until)
    for who in (token, admin_token):
        r = api.patch("/projects/patchable", token=who, json={"description": "too late"})
        assert_problem(r, 409)
    assert api.get("/projects/patchable", token=token).json()["description"] != "too late"


# --- lifecycle actions -------------------------------------------------------------------------


def test_lifecycle_actions(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner, token = make_user(api, admin_token, "Actor")
    create_active(api, token, wait_until, name="Acting")

    def act(who: str, action: str, status: int = 200, **extra: Any) -> dict[str, Any]:
        r = api.post("/projects/acting/actions", token=who, json={"action": action, **extra})
        if status >= 400:
            return assert_problem(r, status)
        assert r.status == status, r
        assert r.headers["etag"] == f'"{r.json()["version"]}"', r
        return dict(r.json())

    # the owner may not suspend, unsuspend, terminate or reinstate: 403 (it can see it)
    for action in ("suspend", "unsuspend", "terminate", "reinstate"):
        body = act(token, action, 403)
        assert body["type"].endswith("forbidden"), body
    # invalid transitions: 409 invalid-transition, naming the current status
    for action in ("unsuspend", "reinstate"):
        body = act(admin_token, action, 409)
        assert body["type"].endswith("invalid-transition"), body
        assert "active" in body["detail"], body
    for who in (token, admin_token):
        assert act(who, "retry", 409)["type"].endswith("invalid-transition")
    assert api.get("/projects/acting", token=token).json()["status"] == "active"

    p = act(admin_token, "suspend", reason="unpaid invoice")
    assert p["status"] == "suspended"
    assert act(admin_token, "suspend", 409)["type"].endswith("invalid-transition")
    assert act(admin_token, "unsuspend")["status"] == "active"
    assert act(admin_token, "suspend")["status"] == "suspended"
    assert act(admin_token, "terminate")["status"] == "terminated"  # from suspended
    assert act(admin_token, "unsuspend", 409)["type"].endswith("invalid-transition")
    assert act(admin_token, "terminate", 409)["type"].endswith("invalid-transition")
    reinstated = act(admin_token, "reinstate")
    assert reinstated["status"] == "active"
    assert act(admin_token, "terminate")["status"] == "terminated"  # from active
    assert act(admin_token, "reinstate")["status"] == "active"
    # approve/deny/cancel belong to uninitialized projects
    assert act(admin_token, "approve", 409)["type"].endswith("invalid-transition")
    assert act(admin_token, "deny", 409)["type"].endswith("invalid-transition")
    assert act(token, "cancel", 409)["type"].endswith("invalid-transition")

    hist = history(api, token, "acting")
    moves = [(e.get("from"), e.get("to")) for e in hist[len(PROVISIONING_EVENTS) :]]
    assert moves == [
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "suspended"),
        ("suspended", "terminated"),
        ("terminated", "active"),
        ("active", "terminated"),
        ("terminated", "active"),
    ], moves
    first = hist[len(PROVISIONING_EVENTS)]
    assert first["detail"] == {"reason": "unpaid invoice"}, first
    assert first["actor"] == f"user:{admin_id(api, admin_token)}", first

    # If-Match on actions
    current = api.get("/projects/acting", token=token)
    stale = f'"{current.json()["version"] - 1}"'
    r = api.post(
        "/projects/acting/actions",
        token=admin_token,
        json={"action": "suspend"},
        headers={"If-Match": stale},
    )
    assert_problem(r, 412, "precondition-failed")
    r = api.post(
        "/projects/acting/actions",
        token=admin_token,
        json={"action": "suspend"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert (r.status, r.json()["status"]) == (200, "suspended"), r

    # bad input, wrong caller, missing project
    assert_validation(
        api.post("/projects/acting/actions", token=admin_token, json={"action": "explode"}),
        ["body", "action"],
    )
    assert_validation(
        api.post("/projects/acting/actions", token=admin_token, json={}), ["body", "action"]
    )
    assert_validation(
        api.post(
            "/projects/acting/actions", token=admin_token, json={"action": "suspend", "now": True}
        ),
        ["body", "now"],
    )
    assert_problem(api.post("/projects/acting/actions", token=admin_token, body="suspend"), 400)
    assert_problem(api.post("/projects/acting/actions", json={"action": "suspend"}), 401)
    r = api.post("/projects/no-such-project/actions", token=admin_token, json={"action": "suspend"})
    assert_problem(r, 404, "not-found")
    assert api.get("/projects/acting", token=token).json()["status"] == "suspended"
    assert owner["id"] == api.get("/projects/acting", token=token).json()["owner_id"]

    # a suspended project may be deleted by its owner; then no action applies
    r = api.delete("/projects/acting", token=token)
    assert (r.status, r.json()["status"]) == (202, "deleting"), r
    wait_status(api, token, "acting", "deleted", wait_until)
    for action in ("unsuspend", "terminate", "reinstate", "retry"):
        body = act(admin_token, action, 409)
        assert body["type"].endswith("invalid-transition"), body


def admin_id(api: Api, admin_token: str) -> str:
    return str(api.get("/auth/me", token=admin_token).json()["id"])


def test_failed_provisioning_and_retry(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner, token = make_user(api, admin_token, "Unlucky")
    step = "CreateImageRepositoryFunction"
    real = api.stack.handler(step)

    def broken(event: Any, context: Any) -> Any:
        raise ValueError("the registry exploded")

    api.stack.set_handler(step, broken)
    try:
        create_project(api, token, name="Fragile")
        failed = wait_status(api, token, "fragile", "failed", wait_until)
    finally:
        api.stack.set_handler(step, real)
    # tenants read a sentence; the exception's text went to the logs only
    assert failed["reason"].startswith("the workflow failed unexpectedly; "), failed
    assert "exploded" not in failed["reason"] and "ValueError" not in failed["reason"], failed
    ready = [c for c in failed["conditions"] if c["type"] == "Ready"]
    assert [c["status"] for c in ready] == ["False"], failed
    first_run = history(api, token, "fragile")
    assert [e["event"] for e in first_run[:2]] == ["created", "environments_created"], first_run
    assert len(first_run) == 3, first_run
    last = first_run[-1]
    assert (last["from"], last["to"]) == ("creating", "failed"), last
    assert last["detail"]["reason"] == failed["reason"], last
    assert list_ids(api, token, state="failed") == ["fragile"]
    assert list_ids(api, token, mode="member") == []

    # retry: only from failed, by the owner (or an admin); 202 and provisioning again
    r = api.post("/projects/fragile/actions", token=token, json={"action": "retry"})
    assert r.status == 202, r
    assert r.json()["status"] == "creating" and r.json().get("reason") is None, r
    active = wait_status(api, token, "fragile", "active", wait_until)
    assert {c["type"]: c["status"] for c in active["conditions"]}["Ready"] == "True"
    second_run = history(api, token, "fragile")[len(first_run) :]
    assert [(e.get("from"), e.get("to")) for e in second_run[:1]] == [("failed", "creating")]
    assert second_run[0]["actor"] == f"user:{owner['id']}", second_run
    assert [e["event"] for e in second_run[1:]] == PROVISIONING_EVENTS[1:], second_run
    runs = executions_for(api, "CreateProjectStateMachine", "fragile")
    assert sorted((e["name"], e["status"]) for e in runs) == [
        ("fragile-create-1", "FAILED"),
        ("fragile-create-2", "SUCCEEDED"),
    ], runs
    r = api.post("/projects/fragile/actions", token=token, json={"action": "retry"})
    assert_problem(r, 409, "invalid-transition")
    assert len(executions_for(api, "CreateProjectStateMachine", "fragile")) == 2
    assert owner["id"] == active["owner_id"]


# --- delete ------------------------------------------------------------------------------------


def test_delete_reclaim_and_tombstone(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner, token = make_user(api, admin_token, "Deleter")
    create_active(api, token, wait_until, name="Doomed", environments=["dev"])
    kept = create_active(api, token, wait_until, name="Retained")
    push_image(api, "tenantry/doomed", "v1")
    push_image(api, "tenantry/retained", "v1")

    # bad input first: nothing happens
    for bad in ("maybe", "TRUE", "1", "yes", ""):
        r = api.delete("/projects/doomed", token=token, query={"reclaim": bad})
        assert_problem(r, 400, "bad-request", loc=["query", "reclaim"])
    r = api.delete("/projects/doomed", token=token, headers={"If-Match": '"1"'})
    assert_problem(r, 412, "precondition-failed")
    assert_problem(api.delete("/projects/doomed"), 401)
    assert_problem(api.delete("/projects/no-such-project", token=token), 404)
    assert api.get("/projects/doomed", token=token).json()["status"] == "active"

    # reclaim=true: 202 deleting with cluster_delete_policy Delete, then deleted
    r = api.delete("/projects/doomed", token=token, query={"reclaim": "true"})
    assert r.status == 202, r
    deleting = r.json()
    assert deleting["status"] == "deleting", deleting
    assert deleting["cluster_delete_policy"] == "Delete", deleting
    assert r.headers["location"] == "/projects/doomed", r
    assert r.headers["etag"] == f'"{deleting["version"]}"', r
    # a second DELETE while deleting (or already deleted): 409
    assert_problem(api.delete("/projects/doomed", token=token, query={"reclaim": "true"}), 409)

    gone = wait_status(api, token, "doomed", "deleted", wait_until)
    assert gone["deleted_at"] and ISO_Z.match(gone["deleted_at"]), gone
    assert gone["deleted_at"] >= deleting["updated_at"]
    assert gone["cluster_delete_policy"] == "Delete"
    assert "tenantry/doomed" not in ecr_repositories(api)
    (run,) = executions_for(api, "DeleteProjectStateMachine", "doomed")
    assert run["status"] == "SUCCEEDED", run
    assert_problem(api.delete("/projects/doomed", token=token), 409)
    assert_problem(
        api.delete("/projects/doomed", token=admin_token, query={"reclaim": "false"}), 409
    )
    for action in ("suspend", "terminate", "unsuspend"):
        r = api.post("/projects/doomed/actions", token=admin_token, json={"action": action})
        assert_problem(r, 409, "invalid-transition")

    # the tombstone keeps its history, readable by its owner
    r = api.get("/projects/doomed/history", token=token)
    assert r.status == 200, r
    assert r.json()["deleted_at"] == gone["deleted_at"], r
    assert [e["event"] for e in r.json()["items"]] == [
        *PROVISIONING_EVENTS,
        "delete_requested",
        "image_repository_deleted",
        "environments_removed",
        "deleted",
    ], r
    requested = r.json()["items"][len(PROVISIONING_EVENTS)]
    assert (requested["from"], requested["to"]) == ("active", "deleting"), requested
    assert requested["detail"] == {"reclaim": True}, requested
    assert requested["actor"] == f"user:{owner['id']}", requested
    assert (r.json()["items"][-1]["from"], r.json()["items"][-1]["to"]) == ("deleting", "deleted")
    assert api.get("/projects/doomed", token=admin_token).json()["status"] == "deleted"
    r = api.get("/projects/doomed/images", token=token)
    assert (r.status, r.json()["items"]) == (200, []), r

    # default reclaim=false: Retain, the image repository and its images stay
    r = api.delete(
        "/projects/retained", token=admin_token, headers={"If-Match": f'"{kept["version"]}"'}
    )
    assert r.status == 202, r
    assert r.json()["cluster_delete_policy"] == "Retain", r
    wait_status(api, token, "retained", "deleted", wait_until)
    assert "tenantry/retained" in ecr_repositories(api)
    assert "image_repository_deleted" not in events(api, token, "retained")
    requested = [e for e in history(api, token, "retained") if e["event"] == "delete_requested"]
    assert [(e["actor"], e["detail"]) for e in requested] == [
        (f"user:{admin_id(api, admin_token)}", {"reclaim": False})
    ], requested


# --- images ------------------------------------------------------------------------------------


def test_project_images(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner, token = make_user(api, admin_token, "Imager")
    stranger, stranger_token = make_user(api, admin_token, "Stranger")
    create_active(api, token, wait_until, name="Pictures")
    r = api.get("/projects/pictures/images", token=token)
    assert (r.status, r.json()) == (200, {"items": [], "next_cursor": None}), r

    d1 = push_image(api, "tenantry/pictures", "v1", config_size=1000)
    d2 = push_image(api, "tenantry/pictures", "v2", config_size=2000)
    ecr = api.stack.client("ecr")
    ecr.put_image(  # a second tag on the first image
        repositoryName="tenantry/pictures",
        imageManifest=ecr.batch_get_image(
            repositoryName="tenantry/pictures", imageIds=[{"imageTag": "v1"}]
        )["images"][0]["imageManifest"],
        imageTag="latest",
    )
    details = {
        d["imageDigest"]: d
        for d in ecr.describe_images(repositoryName="tenantry/pictures")["imageDetails"]
    }

    r = api.get("/projects/pictures/images", token=token)
    assert r.status == 200, r
    images = r.json()["items"]
    assert r.json()["next_cursor"] is None, r
    assert sorted((i["tag"], i["digest"]) for i in images) == sorted(
        [("v1", d1), ("latest", d1), ("v2", d2)]
    ), images
    for image in images:
        assert set(image) == {"repository", "tag", "digest", "pushed_at", "size_bytes"}, image
        assert image["repository"] == "tenantry/pictures"
        detail = details[image["digest"]]
        assert image["size_bytes"] == detail["imageSizeInBytes"] > 0, (image, detail)
        assert ISO_Z.match(image["pushed_at"]), image
        pushed = detail["imagePushedAt"].strftime("%Y-%m-%dT%H:%M:%S")
        assert image["pushed_at"].startswith(pushed), (image, detail)

    # the admin sees the same, directly and as the owner
    assert api.get("/projects/pictures/images", token=admin_token).json()["items"] == images
    r = api.get(f"/users/{owner['id']}/projects/pictures/images", token=admin_token)
    assert (r.status, r.json()["items"]) == (200, images), r
    # ...but not as a user who is no member: 404
    r = api.get(f"/users/{stranger['id']}/projects/pictures/images", token=admin_token)
    assert_problem(r, 404, "not-found")
    assert_problem(api.get("/projects/pictures/images", token=stranger_token), 404)
    # the per-user route is for admins only; unknown user or project: 404
    assert_problem(
        api.get(f"/users/{owner['id']}/projects/pictures/images", token=token), 403, "forbidden"
    )
    assert_problem(api.get("/users/no-such-user/projects/pictures/images", token=admin_token), 404)
    assert_problem(
        api.get(f"/users/{owner['id']}/projects/no-such-project/images", token=admin_token), 404
    )
    assert_problem(api.get("/projects/no-such-project/images", token=token), 404)
    # bad input, no token
    assert_validation(
        api.get("/projects/pictures/images", token=token, query={"limit": 0}), ["query", "limit"]
    )
    assert_validation(
        api.get("/projects/pictures/images", token=token, query={"limit": 101}),
        ["query", "limit"],
    )
    assert_problem(api.get("/projects/pictures/images", token=token, query={"cursor": "zz"}), 400)
    assert_problem(api.get("/projects/pictures/images"), 401)
    assert_problem(api.get(f"/users/{owner['id']}/projects/pictures/images"), 401)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_an_images_page_never_exceeds_limit(
    api: Api, admin_token: str, wait_until: Wait, limit: int
) -> None:
    """The list has one entry per tag, while the registry pages by image: an image with
    three tags is three entries. A page holds at most `limit` entries, and following the
    cursors yields every entry exactly once, also when a page ends inside an image's tags."""
    _, token = make_user(api, admin_token, "Pager")
    create_active(api, token, wait_until, name="Many Tags")
    repo = "tenantry/many-tags"
    first = push_image(api, repo, "v1", config_size=1000)
    ecr = api.stack.client("ecr")
    manifest = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    for tag in ("latest", "stable"):  # two more tags on the first image
        ecr.put_image(
            repositoryName=repo,
            imageManifest=manifest["images"][0]["imageManifest"],
            imageTag=tag,
        )
    second = push_image(api, repo, "v2", config_size=2000)
    third = push_image(api, repo, "v3", config_size=3000)
    expected = sorted(
        [(first, "v1"), (first, "latest"), (first, "stable"), (second, "v2"), (third, "v3")]
    )

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.get("/projects/many-tags/images", token=token, query=query)
        assert r.status == 200, r
        items = r.json()["items"]
        assert len(items) <= limit, (limit, items)
        seen += [(i["digest"], i["tag"]) for i in items]
        cursor, pages = r.json()["next_cursor"], pages + 1
        if cursor is None:
            break
        assert pages < 20, seen
    assert sorted(seen) == expected, seen
    assert len(seen) == len(set(seen)), seen


def test_images_follow_the_repository_prefix_parameter() -> None:
    """ImageRepositoryPrefix decides where a project's images live."""
    prefix = "acme/apps/"
    with emulated({"ImageRepositoryPrefix": prefix}) as api:
        admin_token = ensure_test_admin()
        _, token = make_user(api, admin_token)
        project = create_active(api, token, wait_until, name="Prefixed")
        repo = f"{prefix}prefixed"
        assert repo in ecr_repositories(api)
        cond = {c["type"]: c for c in project["conditions"]}["ImageRepositoryReady"]
        assert cond["detail"] == {"repository": repo}, cond
        digest = push_image(api, repo, "v1")
        r = api.get("/projects/prefixed/images", token=token)
        assert [(i["repository"], i["tag"], i["digest"]) for i in r.json()["items"]] == [
            (repo, "v1", digest)
        ], r
        assert r.json()["next_cursor"] is None


def test_a_tampered_cursor_is_400(api: Api, admin_token: str, wait_until: Wait) -> None:
    """Cursors are opaque, not secret: a client can decode one and edit the key inside.
    Whatever comes back must be refused as a bad cursor (400), never crash the list."""
    user, token = make_user(api, admin_token, "Tamperer")
    for i in range(3):
        create_active(api, token, wait_until, name=f"Tamper {i}")
    lists = [
        (token, "/projects", {}),
        (admin_token, "/projects", {}),
        (admin_token, "/projects", {"owner": user["id"]}),
        (admin_token, f"/users/{user['id']}/projects", {}),
        (token, "/projects/tamper-0/history", {}),
    ]
    wrong = []
    for who, path, query in lists:
        r = api.get(path, token=who, query={**query, "limit": 1})
        assert r.status == 200 and r.json()["next_cursor"], (path, r)
        for key, forged in tampered_cursors(r.json()["next_cursor"]):
            r = api.get(path, token=who, query={**query, "limit": 1, "cursor": forged})
            if r.status != 400:
                wrong.append((path, query, key, r.status, r.body[:120]))
            else:
                assert_problem(r, 400, "bad-request")
    assert wrong == [], "\n".join(map(str, wrong))
