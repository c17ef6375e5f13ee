"""Governance routes over HTTP (API.md, "Governance"), through the real authorizer, the real
handlers and the real workflows: applications and the approval of new projects, modify
applications, templates, memberships under each join and leave policy, project roles,
quotas and public profiles. Every route of GovernanceFunction gets its success, its bad
input (422/400 with errors[].loc), its wrong callers (401, 403, 404) and its missing
resource (404)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.harness import Api, Response
from tests.integration.helpers import (
    INVITE_FIELDS,
    assert_problem,
    assert_validation,
    create_active,
    create_project,
    executions_for,
    list_all,
    make_bot,
    make_user,
    settle,
    wait_status,
)

Wait = Callable[..., Any]
BAD_TOKEN = "tnt_" + "x" * 43
MODERATED = pytest.mark.parametrize(
    "stack_parameters", [{"ApprovalPolicy": "moderated"}], ids=["moderated"]
)
APPLICATION_FIELDS = {
    "id",
    "project_id",
    "type",
    "state",
    "applicant_id",
    "owner_id",
    "name",
    "created_at",
}
MEMBERSHIP_FIELDS = {
    "id",
    "project_id",
    "user_id",
    "state",
    "role",
    "allowed_actions",
    "created_at",
}
PROVISIONING = ["environments_created", "image_repository_created", "provisioned"]


# --- who's who ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    id: str
    token: str
    email: str


@dataclass(frozen=True)
class Team:
    """An active project of `owner` with a project admin, a member and a viewer (enrolled by
    the owner), plus an outsider and the platform admin."""

    admin: Who
    owner: Who
    padmin: Who
    member: Who
    viewer: Who
    outsider: Who
    project: dict[str, Any]

    @property
    def pid(self) -> str:
        return str(self.project["id"])


def person(api: Api, admin_token: str, name: str) -> Who:
    user, token = make_user(api, admin_token, name)
    return Who(user["id"], token, user["email"])


def the_admin(api: Api, admin_token: str) -> Who:
    me = api.get("/auth/me", token=admin_token).json()
    return Who(me["id"], admin_token, me.get("email") or "")


def build_team(api: Api, admin_token: str, wait_until: Wait, **project: Any) -> Team:
    owner = person(api, admin_token, "Owner")
    padmin, member, viewer, outsider = (
        person(api, admin_token, n) for n in ("Project Admin", "Member", "Viewer", "Outsider")
    )
    body = {"name": "Team Project", "join_policy": "auto", **project}
    created = create_active(api, owner.token, wait_until, **body)
    for who, role in ((padmin, "admin"), (member, "member"), (viewer, "viewer")):
        r = enroll(api, owner.token, created["id"], user_id=who.id, role=role)
        assert r.status == 201, r
    return Team(the_admin(api, admin_token), owner, padmin, member, viewer, outsider, created)


@pytest.fixture
def team(api: Api, admin_token: str, wait_until: Wait) -> Team:
    return build_team(api, admin_token, wait_until)


# --- small calls --------------------------------------------------------------------------------


def join(api: Api, token: str, pid: str) -> Response:
    return api.post("/memberships", token=token, json={"project_id": pid, "action": "join"})


def enroll(api: Api, token: str, pid: str, **who: Any) -> Response:
    body = {"project_id": pid, "action": "enroll", **{k: v for k, v in who.items() if v}}
    return api.post("/memberships", token=token, json=body)


def accept_invite(api: Api, token: str, invite_id: str) -> Response:
    return api.post(f"/invites/{invite_id}/accept", token=token, json={})


def act(api: Api, token: str, membership_id: str, action: str, **extra: Any) -> Response:
    return api.post(
        f"/memberships/{membership_id}/actions", token=token, json={"action": action, **extra}
    )


def project_action(api: Api, token: str, pid: str, action: str, **extra: Any) -> Response:
    return api.post(f"/projects/{pid}/actions", token=token, json={"action": action, **extra})


def membership_of(api: Api, token: str, pid: str, user_id: str) -> dict[str, Any]:
    """The user's membership of the project, as `token` sees it in ?project_id=."""
    items = list_all(api, token, "/memberships", project_id=pid)
    (found,) = [m for m in items if m["user_id"] == user_id]
    return found


def history(api: Api, token: str, pid: str) -> list[dict[str, Any]]:
    return list_all(api, token, f"/projects/{pid}/history")


def events(api: Api, token: str, pid: str) -> list[tuple[str, str | None, str | None]]:
    return [(e["event"], e.get("from"), e.get("to")) for e in history(api, token, pid)]


def application(api: Api, token: str, app_id: str) -> dict[str, Any]:
    r = api.get(f"/applications/{app_id}", token=token)
    assert r.status == 200, r
    return r.json()  # type: ignore[no-any-return]


def ids(items: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {i[key] for i in items}


def assert_membership(
    r: Response, status: int, *, state: str, role: str, allowed: list[str]
) -> dict[str, Any]:
    assert r.status == status, r
    m = r.json()
    assert m.keys() >= MEMBERSHIP_FIELDS, m
    assert (m["state"], m["role"], m["allowed_actions"]) == (state, role, allowed), m
    return m  # type: ignore[no-any-return]


# --- 401 on every route -------------------------------------------------------------------------

GOVERNANCE_ROUTES = [
    ("GET", "/applications", None),
    ("GET", "/applications/00000000-0000-4000-8000-000000000000", None),
    ("POST", "/memberships", {"project_id": "some-project", "action": "join"}),
    ("GET", "/memberships", None),
    ("GET", "/memberships/00000000-0000-4000-8000-000000000000", None),
    ("POST", "/memberships/00000000-0000-4000-8000-000000000000/actions", {"action": "leave"}),
    ("GET", "/projects/some-project/members", None),
    ("GET", "/projects/some-project/quotas", None),
    ("GET", "/projects/some-project/profile", None),
    ("PUT", "/projects/some-project/profile", {"description": "x"}),
    ("GET", "/templates", None),
    ("POST", "/templates", {"name": "t"}),
    ("GET", "/templates/00000000-0000-4000-8000-000000000000", None),
    ("DELETE", "/templates/00000000-0000-4000-8000-000000000000", None),
]


def test_every_governance_route_needs_a_valid_token(api: Api, admin_token: str) -> None:
    for method, path, body in GOVERNANCE_ROUTES:
        for token in (None, BAD_TOKEN):
            r = api.request(method, path, token=token, json=body)
            assert_problem(r, 401, "unauthorized")


def test_a_missing_token_is_401_even_with_bad_input(api: Api, admin_token: str) -> None:
    """No or bad token: 401 (API.md, Conventions), before anything about the request is
    judged: a caller without a token learns nothing of the schema."""
    bad_requests = [
        ("GET", "/applications?limit=0", None),
        ("GET", f"/applications/{'a' * 65}", None),
        ("POST", "/memberships", {"action": "hop"}),
        ("GET", "/memberships?limit=0", None),
        ("POST", "/memberships/x/actions", {"action": "hop"}),
        ("GET", "/projects/some-project/members?limit=0", None),
        ("PUT", "/projects/some-project/profile", {"homepage": "ftp://x"}),
        ("POST", "/templates", {}),
        ("DELETE", f"/templates/{'t' * 65}", None),
    ]
    for method, path, body in bad_requests:
        for token in (None, BAD_TOKEN):
            r = api.request(method, path, token=token, json=body)
            assert_problem(r, 401, "unauthorized")


# --- applications: the approval of new projects -------------------------------------------------


@MODERATED
def test_moderated_create_waits_for_approval_then_provisions(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    admin = the_admin(api, admin_token)
    applicant = person(api, admin_token, "Applicant")
    other = person(api, admin_token, "Other")

    r = api.post("/projects", token=applicant.token, json={"name": "Needs Approval"})
    assert r.status == 202, r
    project = r.json()
    pid = project["id"]
    assert r.headers["location"] == f"/projects/{pid}", r
    assert project["status"] == "uninitialized", project
    last = project["last_application"]
    assert (last["type"], last["state"]) == ("create", "pending"), last
    app_id = last["id"]
    settle(api, wait_until)
    assert executions_for(api, "CreateProjectStateMachine", pid) == []

    # the admin's queue (default: pending), the applicant's own, nobody else's
    r = api.get("/applications", token=admin_token)
    assert r.status == 200, r
    (queued,) = [a for a in r.json()["items"] if a["id"] == app_id]
    assert queued.keys() >= APPLICATION_FIELDS, queued
    assert queued["project_id"] == pid and queued["name"] == "Needs Approval", queued
    assert (queued["type"], queued["state"]) == ("create", "pending"), queued
    assert queued["applicant_id"] == applicant.id and queued["owner_id"] == applicant.id
    mine = list_all(api, applicant.token, "/applications")
    assert ids(mine) == {app_id}, mine
    assert list_all(api, other.token, "/applications") == []
    assert ids(list_all(api, applicant.token, "/applications", project_id=pid)) == {app_id}
    assert_problem(api.get("/applications", token=other.token, query={"project_id": pid}), 404)
    assert application(api, applicant.token, app_id) == queued
    assert application(api, admin_token, app_id) == queued
    assert_problem(api.get(f"/applications/{app_id}", token=other.token), 404, "not-found")

    # only a platform admin approves; an unknown application id is 404
    assert_problem(project_action(api, applicant.token, pid, "approve"), 403, "forbidden")
    assert_problem(project_action(api, other.token, pid, "approve"), 404, "not-found")
    assert_problem(
        project_action(
            api, admin_token, pid, "approve", app_id="5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"
        ),
        404,
        "not-found",
    )
    r = project_action(api, admin_token, pid, "approve", app_id=app_id, reason="looks fine")
    assert r.status == 202, r
    approved = r.json()
    assert approved["status"] == "creating", approved
    assert approved["last_application"]["state"] == "approved", approved
    active = wait_status(api, applicant.token, pid, "active", wait_until)
    assert active["last_application"] == {**last, "state": "approved"}, active
    (execution,) = executions_for(api, "CreateProjectStateMachine", pid)
    assert execution["status"] == "SUCCEEDED", execution

    # approving again is an invalid transition
    assert_problem(
        project_action(api, admin_token, pid, "approve", app_id=app_id), 409, "invalid-transition"
    )
    decided = application(api, applicant.token, app_id)
    assert decided["state"] == "approved" and decided["decided_by"] == admin.id, decided
    assert app_id not in ids(list_all(api, admin_token, "/applications"))
    assert app_id in ids(list_all(api, admin_token, "/applications", state="approved"))

    # every step is in the history, with its actor
    items = history(api, applicant.token, pid)
    assert [(e["event"], e["from"], e["to"]) for e in items[:2]] == [
        ("created", None, "uninitialized"),
        ("application_approved", "uninitialized", "creating"),
    ], items
    assert [e["event"] for e in items[2:]] == PROVISIONING, items
    assert items[0]["actor"] == f"user:{applicant.id}"
    assert items[1]["actor"] == f"user:{admin.id}"
    assert items[1]["detail"]["application_id"] == app_id, items[1]
    assert items[-1]["to"] == "active"

    # a platform admin's own project needs no approval
    assert create_project(api, admin_token, name="Admins Own")["status"] == "creating"
    settle(api, wait_until)


@MODERATED
def test_moderated_deny_then_dismiss(api: Api, admin_token: str, wait_until: Wait) -> None:
    admin = the_admin(api, admin_token)
    applicant = person(api, admin_token, "Applicant")
    other = person(api, admin_token, "Other")
    project = create_project(api, applicant.token, name="Denied One")
    pid, app_id = project["id"], project["last_application"]["id"]

    assert_problem(project_action(api, applicant.token, pid, "deny"), 403, "forbidden")
    # dismiss needs a denied application
    assert_problem(project_action(api, applicant.token, pid, "dismiss"), 409)
    r = project_action(api, admin_token, pid, "deny", reason="not this quarter")
    assert r.status == 200, r
    denied = r.json()
    assert denied["status"] == "deleted" and denied["deleted_at"], denied
    assert denied["last_application"]["state"] == "denied", denied
    app = application(api, applicant.token, app_id)
    assert app["state"] == "denied" and app["reason"] == "not this quarter", app
    assert app["decided_by"] == admin.id, app
    assert_problem(project_action(api, admin_token, pid, "approve", app_id=app_id), 409)

    # only the applicant dismisses (the admin may too); others do not even see the project
    assert_problem(project_action(api, other.token, pid, "dismiss"), 404, "not-found")
    r = project_action(api, applicant.token, pid, "dismiss", app_id=app_id)
    assert r.status == 200, r
    assert r.json()["status"] == "deleted", r
    assert r.json()["last_application"]["state"] == "dismissed", r
    assert application(api, applicant.token, app_id)["state"] == "dismissed"
    assert_problem(project_action(api, applicant.token, pid, "dismiss", app_id=app_id), 409)
    assert app_id in ids(list_all(api, admin_token, "/applications", state="dismissed"))

    assert events(api, applicant.token, pid) == [
        ("created", None, "uninitialized"),
        ("application_denied", "uninitialized", "deleted"),
        ("application_dismissed", None, None),
    ]
    denial = history(api, applicant.token, pid)[1]
    assert denial["actor"] == f"user:{admin.id}", denial
    assert denial["detail"]["reason"] == "not this quarter", denial


@MODERATED
def test_dismiss_honours_if_match(api: Api, admin_token: str) -> None:
    """dismiss is a project action: like every other, If-Match names the project's version
    (412 when stale; a weak ETag never matches, RFC 9110 compares strongly; 422 when it is
    no ETag), and nothing changes unless it matches."""
    applicant = person(api, admin_token, "Applicant")
    project = create_project(api, applicant.token, name="Dismissed Late")
    pid = project["id"]
    r = project_action(api, admin_token, pid, "deny", reason="no")
    assert r.status == 200, r
    etag = r.headers["etag"]
    assert etag == f'"{r.json()["version"]}"', r

    def dismiss(if_match: str) -> Response:
        return api.post(
            f"/projects/{pid}/actions",
            token=applicant.token,
            json={"action": "dismiss"},
            headers={"If-Match": if_match},
        )

    stale = f'"{r.json()["version"] - 1}"'
    assert_problem(dismiss(stale), 412, "precondition-failed")
    assert_problem(dismiss(f"W/{etag}"), 412, "precondition-failed")
    assert_validation(dismiss("yesterday"), ["header", "if-match"])
    assert application(api, applicant.token, project["last_application"]["id"])["state"] == (
        "denied"
    )
    assert [e[0] for e in events(api, applicant.token, pid)][-1] == "application_denied"
    r = dismiss(etag)
    assert r.status == 200 and r.json()["last_application"]["state"] == "dismissed", r
    assert r.headers["etag"] == f'"{r.json()["version"]}"' != etag, r


@MODERATED
def test_moderated_applicant_cancels_a_pending_application(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    applicant = person(api, admin_token, "Applicant")
    project = create_project(api, applicant.token, name="Cancelled One")
    pid, app_id = project["id"], project["last_application"]["id"]
    # cancel is the applicant's: the admin's approve path is not involved
    r = project_action(api, applicant.token, pid, "cancel", reason="changed my mind")
    assert r.status == 200, r
    cancelled = r.json()
    assert cancelled["status"] == "deleted", cancelled
    assert cancelled["last_application"]["state"] == "cancelled", cancelled
    assert application(api, applicant.token, app_id)["state"] == "cancelled"
    assert_problem(project_action(api, applicant.token, pid, "cancel", app_id=app_id), 409)
    assert_problem(project_action(api, admin_token, pid, "approve", app_id=app_id), 409)
    assert app_id not in ids(list_all(api, admin_token, "/applications"))
    assert events(api, applicant.token, pid) == [
        ("created", None, "uninitialized"),
        ("application_cancelled", "uninitialized", "deleted"),
    ]
    settle(api, wait_until)
    assert executions_for(api, "CreateProjectStateMachine", pid) == []


@MODERATED
def test_deleting_an_uninitialized_project_cancels_its_pending_application(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    """The application would otherwise stay in the admins' queue, pending for a project
    that is gone, and undecidable."""
    applicant = person(api, admin_token, "Applicant")
    project = create_project(api, applicant.token, name="Deleted Unapproved")
    pid, app_id = project["id"], project["last_application"]["id"]
    r = api.delete(f"/projects/{pid}", token=applicant.token)
    assert r.status == 202, r
    assert r.json()["last_application"]["state"] == "cancelled", r.json()
    settle(api, wait_until)
    assert api.get(f"/projects/{pid}", token=applicant.token).json()["status"] == "deleted"
    decided = application(api, applicant.token, app_id)
    assert decided["state"] == "cancelled", decided
    assert app_id not in ids(list_all(api, admin_token, "/applications"))
    assert_problem(project_action(api, admin_token, pid, "approve", app_id=app_id), 409)


def test_applications_bad_input_and_missing(api: Api, admin_token: str) -> None:
    user = person(api, admin_token, "Reader")
    assert_validation(
        api.get("/applications", token=user.token, query={"limit": 0}), ["query", "limit"]
    )
    assert_validation(
        api.get("/applications", token=user.token, query={"limit": 101}), ["query", "limit"]
    )
    assert_validation(
        api.get("/applications", token=user.token, query={"state": "bogus"}), ["query", "state"]
    )
    assert_validation(
        api.get("/applications", token=user.token, query={"project_id": "p" * 65}),
        ["query", "project_id"],
    )
    assert_problem(
        api.get("/applications", token=user.token, query={"cursor": "bogus"}),
        400,
        loc=["query", "cursor"],
    )
    assert_validation(api.get(f"/applications/{'a' * 65}", token=user.token), ["path", "appId"])
    missing = "5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"
    assert_problem(api.get(f"/applications/{missing}", token=user.token), 404, "not-found")
    assert_problem(api.get(f"/applications/{missing}", token=admin_token), 404, "not-found")
    assert_problem(
        api.get("/applications", token=user.token, query={"project_id": "no-such-project"}), 404
    )
    # a bot has no applications of its own
    _, bot_token = make_bot(api, admin_token)
    r = api.get("/applications", token=bot_token)
    assert r.status == 200 and r.json() == {"items": [], "next_cursor": None}, r


# --- modify applications ------------------------------------------------------------------------


def test_owner_changes_of_policy_and_quota_become_an_application(
    api: Api, admin_token: str, team: Team, wait_until: Wait
) -> None:
    pid, owner = team.pid, team.owner
    before = api.get(f"/projects/{pid}", token=owner.token).json()
    assert (before["join_policy"], before["max_members"], before["resources"]) == ("auto", None, {})

    r = api.patch(
        f"/projects/{pid}",
        token=owner.token,
        json={"join_policy": "closed", "max_members": 10, "description": "now with words"},
    )
    assert r.status == 202, r
    patched = r.json()
    first = patched["last_application"]
    assert (first["type"], first["state"]) == ("modify", "pending"), patched
    # the governed fields wait for approval; the description applies at once
    assert (patched["join_policy"], patched["max_members"]) == ("auto", None), patched
    assert patched["description"] == "now with words", patched
    now = api.get(f"/projects/{pid}", token=owner.token).json()
    assert (now["join_policy"], now["max_members"], now["resources"]) == ("auto", None, {}), now
    assert now["description"] == "now with words", now
    assert now["last_application"] == first, now
    app1 = application(api, owner.token, first["id"])
    assert app1["type"] == "modify" and app1["state"] == "pending", app1
    assert app1["changes"] == {"join_policy": "closed", "max_members": 10}, app1
    assert app1["applicant_id"] == owner.id and app1["project_id"] == pid, app1
    # joins still follow the current policy
    assert join(api, team.outsider.token, pid).status == 201

    # a second change replaces the pending application
    resources = {"members": {"project_capacity": 50, "member_capacity": 0}}
    r = api.patch(f"/projects/{pid}", token=owner.token, json={"resources": resources})
    assert r.status == 202, r
    second = r.json()["last_application"]
    assert second["id"] != first["id"] and second["state"] == "pending", second
    replaced = application(api, owner.token, first["id"])
    assert replaced["state"] == "replaced", replaced
    assert second["id"] in (replaced.get("reason") or ""), replaced
    pending = list_all(api, admin_token, "/applications")
    assert second["id"] in ids(pending) and first["id"] not in ids(pending), pending
    in_project = list_all(api, owner.token, "/applications", project_id=pid)
    assert {a["id"]: a["state"] for a in in_project} == {
        first["id"]: "replaced",
        second["id"]: "pending",
    }, in_project
    # the applicant cannot approve their own change; an approval of the replaced one is 409
    assert_problem(project_action(api, owner.token, pid, "approve"), 403, "forbidden")
    assert_problem(
        project_action(api, admin_token, pid, "approve", app_id=first["id"]),
        409,
        "invalid-transition",
    )

    # approval applies exactly the pending change
    r = project_action(api, admin_token, pid, "approve", app_id=second["id"])
    assert r.status in (200, 202), r
    approved = r.json()
    assert approved["resources"] == resources, approved
    assert (approved["join_policy"], approved["max_members"]) == ("auto", None), approved
    assert approved["status"] == "active", approved
    assert approved["last_application"]["state"] == "approved", approved
    assert application(api, owner.token, second["id"])["state"] == "approved"
    settle(api, wait_until)
    assert api.get(f"/projects/{pid}", token=owner.token).json()["resources"] == resources

    hist = [e for e in history(api, owner.token, pid) if e["event"].startswith("application_")]
    assert [e["event"] for e in hist] == [
        "application_submitted",
        "application_submitted",
        "application_approved",
    ], hist
    assert hist[0]["detail"]["application_id"] == first["id"], hist
    assert hist[1]["detail"]["replaced"] == first["id"], hist
    assert hist[2]["detail"]["fields"] == ["resources"], hist

    # a platform admin's change of governed fields applies at once
    r = api.patch(f"/projects/{pid}", token=admin_token, json={"max_members": 30})
    assert r.status == 200, r
    assert r.json()["max_members"] == 30, r
    assert r.json()["last_application"]["state"] == "approved", r


def test_applicant_cancels_a_modify_application_and_admin_denies_one(
    api: Api, admin_token: str, team: Team
) -> None:
    pid, owner = team.pid, team.owner
    r = api.patch(f"/projects/{pid}", token=owner.token, json={"leave_policy": "closed"})
    assert r.status == 202, r
    app_id = r.json()["last_application"]["id"]
    # another manager of the project sees it but cannot cancel the owner's application
    assert application(api, team.padmin.token, app_id)["state"] == "pending"
    assert_problem(project_action(api, team.padmin.token, pid, "cancel"), 403, "forbidden")
    assert_problem(api.get(f"/applications/{app_id}", token=team.member.token), 404)
    r = project_action(api, owner.token, pid, "cancel", app_id=app_id)
    assert r.status == 200, r
    assert r.json()["status"] == "active" and r.json()["leave_policy"] == "auto", r
    assert application(api, owner.token, app_id)["state"] == "cancelled"

    r = api.patch(f"/projects/{pid}", token=owner.token, json={"leave_policy": "moderated"})
    app_id = r.json()["last_application"]["id"]
    r = project_action(api, admin_token, pid, "deny", reason="no")
    assert r.status == 200, r
    assert r.json()["status"] == "active" and r.json()["leave_policy"] == "auto", r
    assert application(api, owner.token, app_id)["state"] == "denied"
    assert project_action(api, owner.token, pid, "dismiss").status == 200
    assert application(api, owner.token, app_id)["state"] == "dismissed"


# --- templates ----------------------------------------------------------------------------------

TEMPLATE = {
    "name": "Small team",
    "description": "two environments, closed doors",
    "environments": ["dev", "prod"],
    "join_policy": "closed",
    "leave_policy": "moderated",
    "max_members": 7,
    "resources": {"members": {"project_capacity": 6, "member_capacity": 0}},
    "approval": "auto",
}


def test_templates_crud_admin_only(api: Api, admin_token: str) -> None:
    user = person(api, admin_token, "User")
    _, bot_token = make_bot(api, admin_token)

    r = api.post("/templates", token=admin_token, json=TEMPLATE)
    assert r.status == 201, r
    template = r.json()
    tid = template["id"]
    assert r.headers["location"] == f"/templates/{tid}", r
    assert {k: template[k] for k in TEMPLATE} == TEMPLATE, template
    assert template["created_at"].endswith("Z") and template["clusters"] == [], template

    for token in (user.token, bot_token, admin_token):
        r = api.get(f"/templates/{tid}", token=token)
        assert r.status == 200 and r.json() == template, r
        assert template in list_all(api, token, "/templates")

    for token in (user.token, bot_token):
        assert_problem(api.post("/templates", token=token, json=TEMPLATE), 403, "forbidden")
        assert_problem(api.delete(f"/templates/{tid}", token=token), 403, "forbidden")
    assert len(list_all(api, admin_token, "/templates")) == 1

    # bad input
    assert_validation(
        api.post("/templates", token=admin_token, json={"name": ""}), ["body", "name"]
    )
    assert_validation(api.post("/templates", token=admin_token, json={}), ["body", "name"])
    assert_validation(
        api.post("/templates", token=admin_token, json={"name": "t", "max_members": 0}),
        ["body", "max_members"],
    )
    assert_validation(
        api.post("/templates", token=admin_token, json={"name": "t", "approval": "maybe"}),
        ["body", "approval"],
    )
    assert_validation(
        api.post("/templates", token=admin_token, json={"name": "t", "environments": ["Bad Env"]}),
        ["body", "environments", 0],
    )
    assert_validation(
        api.post("/templates", token=admin_token, json={"name": "t", "clusters": [{"name": "c1"}]}),
        ["body", "clusters", 0, "name"],
    )
    assert_problem(api.post("/templates", token=admin_token, body="{nope"), 400, "bad-request")
    assert_validation(
        api.get("/templates", token=user.token, query={"limit": 0}), ["query", "limit"]
    )
    assert_problem(
        api.get("/templates", token=user.token, query={"cursor": "bogus"}),
        400,
        loc=["query", "cursor"],
    )
    assert_validation(api.get(f"/templates/{'t' * 65}", token=user.token), ["path", "templateId"])
    assert_validation(
        api.delete(f"/templates/{'t' * 65}", token=admin_token), ["path", "templateId"]
    )

    r = api.delete(f"/templates/{tid}", token=admin_token)
    assert r.status == 204 and r.body == "", r
    assert_problem(api.get(f"/templates/{tid}", token=user.token), 404, "not-found")
    assert_problem(api.delete(f"/templates/{tid}", token=admin_token), 404, "not-found")
    assert list_all(api, admin_token, "/templates") == []


def test_delete_template_honours_if_match(api: Api, admin_token: str) -> None:
    """A template carries a version (1: templates do not change) and returns it as ETag;
    DELETE with If-Match deletes only at that version: 412 when stale or weak (RFC 9110:
    If-Match compares strongly, so W/"1" never matches), 422 when it is no ETag."""
    r = api.post("/templates", token=admin_token, json={"name": "Versioned"})
    assert r.status == 201 and r.json()["version"] == 1 and r.headers["etag"] == '"1"', r
    tid = r.json()["id"]
    r = api.get(f"/templates/{tid}", token=admin_token)
    assert (r.status, r.headers["etag"], r.json()["version"]) == (200, '"1"', 1), r

    def delete(if_match: str) -> Response:
        return api.delete(f"/templates/{tid}", token=admin_token, headers={"If-Match": if_match})

    assert_problem(delete('"2"'), 412, "precondition-failed")
    assert_problem(delete('W/"1"'), 412, "precondition-failed")
    assert_validation(delete("v1"), ["header", "if-match"])
    assert api.get(f"/templates/{tid}", token=admin_token).status == 200
    assert delete('"1"').status == 204
    assert_problem(delete('"1"'), 404, "not-found")
    # `*` means any version; without the header the delete is unconditional
    for headers in ({"If-Match": "*"}, {}):
        tid = api.post("/templates", token=admin_token, json={"name": "Any"}).json()["id"]
        assert api.delete(f"/templates/{tid}", token=admin_token, headers=headers).status == 204


def test_template_presets_apply_unless_the_request_sets_them(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    user = person(api, admin_token, "User")
    tid = api.post("/templates", token=admin_token, json=TEMPLATE).json()["id"]

    preset = create_active(api, user.token, wait_until, name="From Template", template_id=tid)
    assert preset["environments"] == ["dev", "prod"], preset
    assert (preset["join_policy"], preset["leave_policy"]) == ("closed", "moderated"), preset
    assert preset["max_members"] == 7 and preset["resources"] == TEMPLATE["resources"], preset
    envs = {c["type"]: c for c in preset["conditions"]}["EnvironmentsReady"]["detail"]
    assert envs["environments"] == ["dev", "prod"], preset
    created = history(api, user.token, preset["id"])[0]
    assert created["detail"]["template_id"] == tid, created

    own = {
        "environments": ["qa"],
        "join_policy": "auto",
        "max_members": 3,
        "resources": {"members": {"project_capacity": 2, "member_capacity": 0}},
    }
    mixed = create_active(api, user.token, wait_until, name="Own Choices", template_id=tid, **own)
    assert {k: mixed[k] for k in own} == own, mixed
    assert mixed["leave_policy"] == "moderated", mixed  # not set by the request: the template's

    r = api.post(
        "/projects",
        token=user.token,
        json={"name": "No Such Template", "template_id": "5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"},
    )
    assert_validation(r, ["body", "template_id"])
    assert_problem(api.get("/projects/no-such-template", token=admin_token), 404)

    # deleting the template leaves what it gave its projects
    assert api.delete(f"/templates/{tid}", token=admin_token).status == 204
    assert api.get(f"/projects/{preset['id']}", token=user.token).json()["environments"] == [
        "dev",
        "prod",
    ]


def test_a_template_names_registered_clusters_only(api: Api, admin_token: str) -> None:
    """A registered cluster is a template's to name (its projects get it); an unknown or
    an ignored one is 422 at the cluster's entry."""
    assert api.post("/clusters", token=admin_token, json={"name": "north"}).status == 201
    ignored = api.post("/clusters", token=admin_token, json={"name": "south"}).json()
    r = api.patch(f"/clusters/{ignored['id']}", token=admin_token, json={"ignore": True})
    assert r.status == 200, r
    body = {"name": "On north", "clusters": [{"name": "north"}]}
    r = api.post("/templates", token=admin_token, json=body)
    assert r.status == 201, r
    assert [c["name"] for c in r.json()["clusters"]] == ["north"], r
    user = person(api, admin_token, "Templated")
    # its namespace waits for north's agent (none runs here): the project names the cluster
    project = create_project(api, user.token, name="North Shop", template_id=r.json()["id"])
    assert [c["name"] for c in project["clusters"]] == ["north"], project
    for names, problem in (
        (["nowhere"], "cluster 'nowhere' is not registered"),
        (["north", "south"], "cluster 'south' is ignored"),
    ):
        body = {"name": "Bad", "clusters": [{"name": n} for n in names]}
        errors = assert_validation(
            api.post("/templates", token=admin_token, json=body),
            ["body", "clusters", len(names) - 1, "name"],
        )
        assert problem in json.dumps(errors), errors


def test_a_moderated_template_needs_approval_even_under_auto(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    user = person(api, admin_token, "User")
    moderated = api.post(
        "/templates", token=admin_token, json={"name": "Gated", "approval": "moderated"}
    ).json()
    gated = create_project(api, user.token, name="Gated One", template_id=moderated["id"])
    assert gated["status"] == "uninitialized", gated
    app = gated["last_application"]
    assert (app["type"], app["state"]) == ("create", "pending"), gated
    assert app["id"] in ids(list_all(api, admin_token, "/applications"))
    # without the template, or by an admin, no approval is needed
    assert create_project(api, user.token, name="Free One")["status"] == "creating"
    settle(api, wait_until)
    by_admin = create_project(api, admin_token, name="Admin Gated", template_id=moderated["id"])
    assert by_admin["status"] == "creating" and by_admin.get("last_application") is None
    settle(api, wait_until)
    assert project_action(api, admin_token, gated["id"], "approve").status == 202
    wait_status(api, user.token, gated["id"], "active", wait_until)


# --- memberships: join ----------------------------------------------------------------------------


def test_join_under_each_policy(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    joiner = person(api, admin_token, "Joiner")
    second = person(api, admin_token, "Second")
    create_active(api, owner.token, wait_until, name="Open Doors", join_policy="auto")
    moderated = create_active(api, owner.token, wait_until, name="Knock First")
    closed = create_active(api, owner.token, wait_until, name="Closed Doors", join_policy="closed")
    assert moderated["join_policy"] == "moderated"  # the default

    # auto: accepted at once
    assert_problem(api.get("/projects/open-doors", token=joiner.token), 404)
    r = join(api, joiner.token, "open-doors")
    m = assert_membership(r, 201, state="accepted", role="member", allowed=["leave"])
    assert r.headers["location"] == f"/memberships/{m['id']}", r
    assert (m["project_id"], m["user_id"]) == ("open-doors", joiner.id), m
    assert api.get("/projects/open-doors", token=joiner.token).status == 200
    assert_problem(join(api, joiner.token, "open-doors"), 409)  # already a member
    assert_problem(join(api, owner.token, "open-doors"), 409)

    # moderated: requested, invisible until the owner accepts
    r = join(api, joiner.token, "knock-first")
    requested = assert_membership(r, 201, state="requested", role="member", allowed=["cancel"])
    assert_problem(api.get("/projects/knock-first", token=joiner.token), 404)
    seen = membership_of(api, owner.token, "knock-first", joiner.id)
    assert seen["state"] == "requested" and seen["allowed_actions"] == ["accept", "reject"], seen
    r = act(api, owner.token, requested["id"], "accept")
    assert_membership(r, 200, state="accepted", role="member", allowed=["remove"])
    assert api.get("/projects/knock-first", token=joiner.token).status == 200

    r = join(api, second.token, "knock-first")
    second_id = assert_membership(r, 201, state="requested", role="member", allowed=["cancel"])[
        "id"
    ]
    assert_membership(
        act(api, owner.token, second_id, "reject", reason="full"),
        200,
        state="rejected",
        role="member",
        allowed=[],
    )
    assert_problem(api.get("/projects/knock-first", token=second.token), 404)
    assert_problem(act(api, owner.token, second_id, "accept"), 409, "invalid-transition")
    # a rejected user may ask again
    assert join(api, second.token, "knock-first").json()["state"] == "requested"

    # closed: 409
    assert_problem(join(api, joiner.token, "closed-doors"), 409)
    assert_problem(api.get("/projects/closed-doors", token=joiner.token), 404)
    assert moderated["id"] == "knock-first" and closed["id"] == "closed-doors"

    # bad input, missing project, wrong callers
    assert_validation(
        api.post("/memberships", token=joiner.token, json={"project_id": "X!", "action": "join"}),
        ["body", "project_id"],
    )
    assert_validation(
        api.post("/memberships", token=joiner.token, json={"project_id": "open-doors"}),
        ["body", "action"],
    )
    assert_validation(
        api.post(
            "/memberships", token=joiner.token, json={"project_id": "open-doors", "action": "hop"}
        ),
        ["body", "action"],
    )
    assert_validation(
        api.post(
            "/memberships",
            token=joiner.token,
            json={"project_id": "open-doors", "action": "join", "user_id": owner.id},
        ),
        ["body"],
    )
    assert_problem(api.post("/memberships", token=joiner.token, body="{nope"), 400, "bad-request")
    assert_problem(join(api, joiner.token, "no-such-project"), 404, "not-found")
    _, bot_token = make_bot(api, admin_token)
    assert_problem(join(api, bot_token, "open-doors"), 403, "forbidden")

    assert events(api, owner.token, "knock-first")[-5:] == [
        ("membership_join", None, "requested"),
        ("membership_accept", "requested", "accepted"),
        ("membership_join", None, "requested"),
        ("membership_reject", "requested", "rejected"),
        ("membership_join", "rejected", "requested"),
    ]
    assert events(api, owner.token, "open-doors")[-1] == ("membership_join", None, "accepted")


def test_join_needs_an_active_project(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    joiner = person(api, admin_token, "Joiner")
    create_active(api, owner.token, wait_until, name="Suspended Soon", join_policy="auto")
    assert project_action(api, admin_token, "suspended-soon", "suspend").status == 200
    assert_problem(join(api, joiner.token, "suspended-soon"), 404, "not-found")


# --- memberships: enroll ------------------------------------------------------------------------


def test_enroll_by_user_id_and_email(api: Api, admin_token: str, team: Team) -> None:
    pid = team.pid
    newcomers = [person(api, admin_token, f"New {i}") for i in range(5)]

    r = enroll(api, team.owner.token, pid, user_id=newcomers[0].id, role="viewer")
    m = assert_membership(r, 201, state="accepted", role="viewer", allowed=["remove"])
    assert r.headers["location"] == f"/memberships/{m['id']}", r
    assert api.get(f"/projects/{pid}", token=newcomers[0].token).status == 200
    # by email: an invite (see test_enroll_by_email_is_an_invite...); accepting it enrolls
    r = enroll(api, team.owner.token, pid, email=newcomers[1].email.upper())
    assert r.status == 202 and "user_id" not in r.json(), r
    assert accept_invite(api, newcomers[1].token, r.json()["id"]).status == 200
    m = membership_of(api, team.owner.token, pid, newcomers[1].id)
    assert (m["state"], m["role"]) == ("accepted", "member"), m  # the default role
    # a project admin and a platform admin may enroll too
    r = enroll(api, team.padmin.token, pid, user_id=newcomers[2].id, role="admin")
    assert_membership(r, 201, state="accepted", role="admin", allowed=["remove"])
    r = enroll(api, admin_token, pid, email=newcomers[3].email)
    assert r.status == 202, r
    assert accept_invite(api, newcomers[3].token, r.json()["id"]).status == 200

    # a member or viewer may see the project but not enroll; an outsider or a bot may not see it
    for who in (team.member, team.viewer):
        assert_problem(enroll(api, who.token, pid, user_id=newcomers[4].id), 403, "forbidden")
    assert_problem(enroll(api, team.outsider.token, pid, user_id=newcomers[4].id), 404)
    _, bot_token = make_bot(api, admin_token)
    assert_problem(enroll(api, bot_token, pid, user_id=newcomers[4].id), 404)
    assert_problem(enroll(api, team.owner.token, "no-such-project", user_id=newcomers[4].id), 404)
    assert_problem(api.get(f"/projects/{pid}", token=newcomers[4].token), 404)

    # enrolling an accepted member again is a conflict
    assert_problem(enroll(api, team.owner.token, pid, user_id=team.member.id), 409)
    # enrollment accepts a pending request
    r = api.patch(f"/projects/{pid}", token=admin_token, json={"join_policy": "moderated"})
    assert r.status == 200, r
    assert join(api, newcomers[4].token, pid).json()["state"] == "requested"
    r = enroll(api, team.owner.token, pid, user_id=newcomers[4].id)
    assert_membership(r, 201, state="accepted", role="member", allowed=["remove"])

    # bad input
    assert_validation(
        enroll(api, team.owner.token, pid, user_id="5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"),
        ["body", "user_id"],
    )
    assert_validation(
        enroll(api, team.owner.token, pid, user_id=team.outsider.id, email=team.outsider.email),
        ["body"],
    )
    assert_validation(enroll(api, team.owner.token, pid), ["body"])
    assert_validation(
        enroll(api, team.owner.token, pid, user_id=team.outsider.id, role="owner"),
        ["body", "role"],
    )
    assert_validation(enroll(api, team.owner.token, pid, email="not-an-email"), ["body", "email"])
    # a deactivated user cannot be enrolled
    gone = person(api, admin_token, "Gone")
    assert (
        api.patch(f"/users/{gone.id}", token=admin_token, json={"is_active": False}).status == 200
    )
    assert_validation(enroll(api, team.owner.token, pid, user_id=gone.id), ["body", "user_id"])

    enrolled = [e for e in events(api, team.owner.token, pid) if e[0] == "membership_enroll"]
    assert len(enrolled) == 3 + 4 + 1, enrolled  # the team's three, four here, one request


def test_enroll_by_email_is_an_invite_that_never_tells_whether_the_address_has_an_account(
    api: Api, admin_token: str, team: Team
) -> None:
    """An owner enrolling by email learns nothing about the address: registered or not (or
    inactive, or already a member), the answer is the same 202 with an invite and no user id.
    The invitee sees the invite and accepting it makes the membership."""
    pid = team.pid
    known = person(api, admin_token, "Known")
    gone = person(api, admin_token, "Gone")
    r = api.patch(f"/users/{gone.id}", token=admin_token, json={"is_active": False})
    assert r.status == 200, r
    addresses = {
        "registered": known.email,
        "unregistered": "nobody-at-all@example.com",
        "inactive": gone.email,
        "already a member": team.member.email,
    }
    answers = {}
    for case, email in addresses.items():
        r = enroll(api, team.owner.token, pid, email=email.upper(), role="viewer")
        assert r.status == 202, (case, r)
        body = r.json()
        assert body.keys() == INVITE_FIELDS | {"code"}, (case, body)
        assert "user_id" not in r.body and known.id not in r.body and gone.id not in r.body
        assert r.headers["location"] == f"/invites/{body['id']}", r
        assert (body["email"], body["scope"], body["target_id"]) == (email.lower(), "project", pid)
        assert (body["roles"], body["status"], body["invited_by"]) == (
            ["viewer"],
            "pending",
            team.owner.id,
        )
        answers[case] = (r.status, sorted(body), sorted(r.headers))
    assert len(set(map(repr, answers.values()))) == 1, answers

    # nothing is enrolled yet; the registered invitee sees the invite and accepts it
    assert_problem(api.get(f"/projects/{pid}", token=known.token), 404)
    (mine,) = list_all(api, known.token, "/invites")
    assert mine["target_id"] == pid, mine
    assert accept_invite(api, known.token, mine["id"]).status == 200
    m = membership_of(api, team.owner.token, pid, known.id)
    assert (m["state"], m["role"]) == ("accepted", "viewer"), m
    assert ("membership_enroll", None, "accepted") in events(api, team.owner.token, pid)

    # the same refusals as enrolling by user_id
    for who in (team.member, team.viewer):
        assert_problem(enroll(api, who.token, pid, email=known.email), 403, "forbidden")
    assert_problem(enroll(api, team.outsider.token, pid, email=known.email), 404)
    assert_problem(enroll(api, team.owner.token, "no-such-project", email=known.email), 404)
    assert_validation(enroll(api, team.owner.token, pid, email="not-an-email"), ["body", "email"])
    r = project_action(api, admin_token, pid, "suspend")
    assert r.status == 200, r
    assert_problem(enroll(api, team.owner.token, pid, email="late@example.com"), 409)


# --- memberships: leave, remove, cancel ----------------------------------------------------------


def test_leave_under_each_policy(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    leaver = person(api, admin_token, "Leaver")
    for policy in ("auto", "moderated", "closed"):
        create_active(
            api,
            owner.token,
            wait_until,
            name=f"Leave {policy}",
            join_policy="auto",
            leave_policy=policy,
        )
        assert join(api, leaver.token, f"leave-{policy}").status == 201

    # auto: removed at once, and the project is out of sight
    mid = membership_of(api, owner.token, "leave-auto", leaver.id)["id"]
    r = act(api, leaver.token, mid, "leave", reason="bye")
    assert_membership(r, 200, state="removed", role="member", allowed=[])
    assert_problem(api.get("/projects/leave-auto", token=leaver.token), 404)
    r = api.get(f"/memberships/{mid}", token=leaver.token)  # one's own stays visible
    assert_membership(r, 200, state="removed", role="member", allowed=[])
    assert_problem(act(api, leaver.token, mid, "leave"), 409, "invalid-transition")

    # moderated: leave_requested (still a member), then cancel, or the owner accepts
    mid = membership_of(api, owner.token, "leave-moderated", leaver.id)["id"]
    r = act(api, leaver.token, mid, "leave")
    assert_membership(r, 200, state="leave_requested", role="member", allowed=["cancel"])
    assert api.get("/projects/leave-moderated", token=leaver.token).status == 200
    seen = membership_of(api, owner.token, "leave-moderated", leaver.id)
    assert seen["allowed_actions"] == ["accept", "reject", "remove"], seen
    r = act(api, leaver.token, mid, "cancel")
    assert_membership(r, 200, state="accepted", role="member", allowed=["leave"])
    assert act(api, leaver.token, mid, "leave").json()["state"] == "leave_requested"
    r = act(api, owner.token, mid, "reject")
    assert r.status == 200 and r.json()["state"] == "accepted", r
    assert act(api, leaver.token, mid, "leave").json()["state"] == "leave_requested"
    r = act(api, owner.token, mid, "accept")
    assert r.status == 200 and r.json()["state"] == "removed", r
    assert_problem(api.get("/projects/leave-moderated", token=leaver.token), 404)

    # closed: 409, still a member
    mid = membership_of(api, owner.token, "leave-closed", leaver.id)["id"]
    assert_problem(act(api, leaver.token, mid, "leave"), 409)
    r = api.get(f"/memberships/{mid}", token=leaver.token)
    assert_membership(r, 200, state="accepted", role="member", allowed=[])
    assert api.get("/projects/leave-closed", token=leaver.token).status == 200

    # the owner can neither leave nor be removed
    own = membership_of(api, owner.token, "leave-auto", owner.id)
    assert (own["role"], own["state"], own["allowed_actions"]) == ("owner", "accepted", []), own
    assert_problem(act(api, owner.token, own["id"], "leave"), 409)
    assert_problem(act(api, admin_token, own["id"], "remove"), 409)

    assert events(api, owner.token, "leave-moderated")[-6:] == [
        ("membership_leave", "accepted", "leave_requested"),
        ("membership_cancel", "leave_requested", "accepted"),
        ("membership_leave", "accepted", "leave_requested"),
        ("membership_reject", "leave_requested", "accepted"),
        ("membership_leave", "accepted", "leave_requested"),
        ("membership_accept", "leave_requested", "removed"),
    ]
    assert events(api, owner.token, "leave-auto")[-1] == ("membership_leave", "accepted", "removed")
    leave = history(api, owner.token, "leave-auto")[-1]
    assert leave["actor"] == f"user:{leaver.id}" and leave["detail"]["reason"] == "bye", leave


def test_remove_and_cancel(api: Api, admin_token: str, team: Team) -> None:
    pid = team.pid
    member_id = membership_of(api, team.owner.token, pid, team.member.id)["id"]
    viewer_id = membership_of(api, team.owner.token, pid, team.viewer.id)["id"]
    padmin_id = membership_of(api, team.owner.token, pid, team.padmin.id)["id"]

    # members and viewers see memberships but may not remove; outsiders see nothing
    assert_problem(act(api, team.member.token, viewer_id, "remove"), 403, "forbidden")
    assert_problem(act(api, team.viewer.token, member_id, "remove"), 403, "forbidden")
    assert_problem(act(api, team.outsider.token, member_id, "remove"), 404, "not-found")
    _, bot_token = make_bot(api, admin_token)
    assert_problem(act(api, bot_token, member_id, "remove"), 404, "not-found")
    # leave and cancel are the member's own
    assert_problem(act(api, team.owner.token, member_id, "leave"), 403, "forbidden")
    assert_problem(act(api, team.member.token, member_id, "accept"), 403, "forbidden")

    r = act(api, team.owner.token, member_id, "remove", reason="inactive")
    assert_membership(r, 200, state="removed", role="member", allowed=[])
    assert_problem(api.get(f"/projects/{pid}", token=team.member.token), 404)
    assert_problem(act(api, team.owner.token, member_id, "remove"), 409, "invalid-transition")
    r = act(api, team.padmin.token, viewer_id, "remove")
    assert r.status == 200 and r.json()["state"] == "removed", r
    r = act(api, admin_token, padmin_id, "remove")
    assert r.status == 200 and r.json()["state"] == "removed", r
    # removed, the project admin manages no more (and no longer sees the project)
    assert_problem(act(api, team.padmin.token, member_id, "remove"), 404)
    # a removed member may join again (auto)
    assert join(api, team.member.token, pid).json()["state"] == "accepted"

    # cancel a pending join request
    r = api.patch(f"/projects/{pid}", token=admin_token, json={"join_policy": "moderated"})
    assert r.status == 200, r
    request_id = join(api, team.outsider.token, pid).json()["id"]
    assert_problem(act(api, team.owner.token, request_id, "cancel"), 403, "forbidden")
    r = act(api, team.outsider.token, request_id, "cancel")
    assert_membership(r, 200, state="cancelled", role="member", allowed=[])
    assert_problem(act(api, team.outsider.token, request_id, "cancel"), 409, "invalid-transition")
    assert_problem(act(api, team.owner.token, request_id, "accept"), 409, "invalid-transition")

    # bad input and missing membership
    missing = "5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"
    assert_problem(act(api, team.owner.token, missing, "remove"), 404, "not-found")
    assert_validation(act(api, team.owner.token, member_id, "evict"), ["body", "action"])
    assert_validation(
        act(api, team.owner.token, member_id, "remove", reason="x" * 1025), ["body", "reason"]
    )
    assert_validation(
        api.post(f"/memberships/{member_id}/actions", token=team.owner.token, json={}),
        ["body", "action"],
    )
    assert_validation(act(api, team.owner.token, "m" * 65, "remove"), ["path", "membershipId"])
    assert_problem(
        api.post(f"/memberships/{member_id}/actions", token=team.owner.token, body="{"),
        400,
        "bad-request",
    )

    removes = [e for e in events(api, team.owner.token, pid) if e[0] == "membership_remove"]
    assert removes == [("membership_remove", "accepted", "removed")] * 3, removes


def test_max_members_reached_is_409(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    first, second = person(api, admin_token, "First"), person(api, admin_token, "Second")
    create_active(api, owner.token, wait_until, name="Tiny", join_policy="auto", max_members=2)
    assert join(api, first.token, "tiny").status == 201
    body = assert_problem(join(api, second.token, "tiny"), 409)
    assert "max_members" in body["detail"], body
    assert_problem(enroll(api, owner.token, "tiny", user_id=second.id), 409)
    r = api.get("/projects/tiny/quotas", token=owner.token)
    assert r.status == 200 and r.json()["members"]["limit"] == 2, r
    assert r.json()["members"]["usage"] == 2, r
    # a place frees up when someone leaves
    mid = membership_of(api, owner.token, "tiny", first.id)["id"]
    assert act(api, first.token, mid, "leave").json()["state"] == "removed"
    assert join(api, second.token, "tiny").status == 201
    assert api.get("/projects/tiny/quotas", token=owner.token).json()["members"]["usage"] == 2


# --- memberships: reading -----------------------------------------------------------------------


def test_membership_reads_and_allowed_actions(api: Api, admin_token: str, wait_until: Wait) -> None:
    team = build_team(api, admin_token, wait_until, join_policy="moderated")
    pid = team.pid
    requester = person(api, admin_token, "Requester")
    request_id = join(api, requester.token, pid).json()["id"]

    # GET /memberships: the caller's own
    (mine,) = list_all(api, team.member.token, "/memberships")
    assert mine.keys() >= MEMBERSHIP_FIELDS, mine
    assert (mine["project_id"], mine["user_id"], mine["role"]) == (pid, team.member.id, "member")
    assert (mine["state"], mine["allowed_actions"]) == ("accepted", ["leave"]), mine
    (own,) = list_all(api, team.owner.token, "/memberships")
    assert (own["role"], own["allowed_actions"]) == ("owner", []), own
    (asked,) = list_all(api, requester.token, "/memberships")
    assert (asked["state"], asked["allowed_actions"]) == ("requested", ["cancel"]), asked
    assert list_all(api, team.outsider.token, "/memberships") == []

    # ?project_id=: managers see requests too, members see members; outsiders 404
    everyone = {team.owner.id, team.padmin.id, team.member.id, team.viewer.id}
    by_owner = list_all(api, team.owner.token, "/memberships", project_id=pid)
    assert ids(by_owner, "user_id") == everyone | {requester.id}, by_owner
    as_owner = {m["user_id"]: m["allowed_actions"] for m in by_owner}
    assert as_owner == {
        team.owner.id: [],
        team.padmin.id: ["remove"],
        team.member.id: ["remove"],
        team.viewer.id: ["remove"],
        requester.id: ["accept", "reject"],
    }, as_owner
    by_member = list_all(api, team.member.token, "/memberships", project_id=pid)
    assert ids(by_member, "user_id") == everyone, by_member
    as_member = {m["user_id"]: m["allowed_actions"] for m in by_member}
    assert as_member == {
        team.owner.id: [],
        team.padmin.id: [],
        team.member.id: ["leave"],
        team.viewer.id: [],
    }, as_member
    by_viewer = list_all(api, team.viewer.token, "/memberships", project_id=pid)
    assert ids(by_viewer, "user_id") == everyone, by_viewer
    assert ids(
        list_all(api, admin_token, "/memberships", project_id=pid), "user_id"
    ) == everyone | {requester.id}
    assert_problem(
        api.get("/memberships", token=team.outsider.token, query={"project_id": pid}), 404
    )
    assert_problem(api.get("/memberships", token=requester.token, query={"project_id": pid}), 404)
    assert_problem(
        api.get("/memberships", token=team.owner.token, query={"project_id": "no-such-project"}),
        404,
    )

    # GET /memberships/{id}: the member, the project's members, platform admins
    member_id = mine["id"]
    for who in (team.member, team.viewer, team.owner, team.padmin):
        r = api.get(f"/memberships/{member_id}", token=who.token)
        assert r.status == 200 and r.json()["user_id"] == team.member.id, r
    assert api.get(f"/memberships/{member_id}", token=admin_token).status == 200
    assert api.get(f"/memberships/{member_id}", token=team.owner.token).json()[
        "allowed_actions"
    ] == ["remove"]
    assert api.get(f"/memberships/{member_id}", token=team.member.token).json()[
        "allowed_actions"
    ] == ["leave"]
    assert_problem(api.get(f"/memberships/{member_id}", token=team.outsider.token), 404)
    assert_problem(api.get(f"/memberships/{member_id}", token=requester.token), 404)
    assert api.get(f"/memberships/{request_id}", token=requester.token).status == 200
    missing = "5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"
    assert_problem(api.get(f"/memberships/{missing}", token=admin_token), 404, "not-found")

    # bad input
    assert_validation(
        api.get("/memberships", token=team.owner.token, query={"limit": 0}), ["query", "limit"]
    )
    assert_validation(
        api.get("/memberships", token=team.owner.token, query={"project_id": "p" * 65}),
        ["query", "project_id"],
    )
    assert_problem(
        api.get("/memberships", token=team.owner.token, query={"cursor": "bogus"}),
        400,
        loc=["query", "cursor"],
    )
    assert_validation(
        api.get(f"/memberships/{'m' * 65}", token=team.owner.token), ["path", "membershipId"]
    )

    # paging follows the cursor
    page = api.get("/memberships", token=team.owner.token, query={"project_id": pid, "limit": 2})
    assert page.status == 200 and len(page.json()["items"]) == 2, page
    assert page.json()["next_cursor"], page


def test_a_membership_is_read_by_id_only_by_those_who_list_it(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    """A project's members see its counted memberships; requests and their outcomes (a
    rejection's reason) only the requester, the project's managers and platform admins.
    Guessing the id of one of those is a 404 exactly like an id that does not exist."""
    team = build_team(api, admin_token, wait_until, join_policy="moderated")
    pid = team.pid
    rejected, pending = person(api, admin_token, "Rejected"), person(api, admin_token, "Pending")
    rejected_id = join(api, rejected.token, pid).json()["id"]
    pending_id = join(api, pending.token, pid).json()["id"]
    r = act(api, team.owner.token, rejected_id, "reject", reason="looks like a spammer")
    assert r.status == 200 and r.json()["state"] == "rejected", r

    missing = api.get("/memberships/5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a", token=team.viewer.token)
    for hidden in (rejected_id, pending_id):
        for who in (team.viewer, team.member, team.outsider):
            r = api.get(f"/memberships/{hidden}", token=who.token)
            body = assert_problem(r, 404, "not-found")
            assert {k: v for k, v in body.items() if k != "request_id"} == {
                k: v for k, v in missing.json().items() if k != "request_id"
            }
            assert "spammer" not in r.body
            # nor by acting on it
            assert_problem(act(api, who.token, hidden, "accept"), 404, "not-found")
        listed = ids(list_all(api, team.viewer.token, "/memberships", project_id=pid))
        assert hidden not in listed
        for who in (team.owner, team.padmin, team.admin):
            assert api.get(f"/memberships/{hidden}", token=who.token).status == 200
            assert hidden in ids(list_all(api, who.token, "/memberships", project_id=pid))
    assert api.get(f"/memberships/{rejected_id}", token=rejected.token).json()["state"] == (
        "rejected"
    )
    assert api.get(f"/memberships/{pending_id}", token=pending.token).status == 200
    # an accepted membership stays visible to the project's members
    assert act(api, team.owner.token, pending_id, "accept").status == 200
    r = api.get(f"/memberships/{pending_id}", token=team.viewer.token)
    assert r.status == 200 and r.json()["allowed_actions"] == [], r


def test_a_membership_by_id_costs_a_get_and_one_batch_get(api: Api, team: Team) -> None:
    from botocore.client import BaseClient

    from tenantry.domain import memberships
    from tenantry.models.principal import Principal

    member = membership_of(api, team.owner.token, team.pid, team.member.id)
    calls: list[str] = []
    real = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(client, operation, params)

    for who in (team.viewer.id, team.member.id):
        calls.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(BaseClient, "_make_api_call", counted)
            found = memberships.get(Principal(kind="user", id=who), member["id"])
        assert found.user_id == team.member.id
        assert calls == ["GetItem", "BatchGetItem"], calls


def test_project_members(api: Api, admin_token: str, wait_until: Wait) -> None:
    team = build_team(api, admin_token, wait_until, join_policy="moderated")
    pid = team.pid
    requester = person(api, admin_token, "Requester")
    assert join(api, requester.token, pid).json()["state"] == "requested"
    roles = {
        team.owner.id: ("owner", "accepted"),
        team.padmin.id: ("admin", "accepted"),
        team.member.id: ("member", "accepted"),
        team.viewer.id: ("viewer", "accepted"),
    }
    for who in (team.owner, team.padmin, team.member, team.viewer):
        items = list_all(api, who.token, f"/projects/{pid}/members", limit=2)
        for item in items:
            assert set(item) == {"user_id", "role", "state"}, item
        got = {i["user_id"]: (i["role"], i["state"]) for i in items}
        if who in (team.owner, team.padmin):
            assert got == {**roles, requester.id: ("member", "requested")}, got
        else:
            assert got == roles, got
    assert len(list_all(api, admin_token, f"/projects/{pid}/members")) == 5

    _, bot_token = make_bot(api, admin_token)
    for token in (team.outsider.token, requester.token, bot_token):
        assert_problem(api.get(f"/projects/{pid}/members", token=token), 404, "not-found")
    assert_problem(api.get("/projects/no-such-project/members", token=admin_token), 404)
    assert_validation(
        api.get(f"/projects/{pid}/members", token=team.owner.token, query={"limit": 0}),
        ["query", "limit"],
    )
    assert_problem(
        api.get(f"/projects/{pid}/members", token=team.owner.token, query={"cursor": "bogus"}),
        400,
        loc=["query", "cursor"],
    )
    assert_validation(
        api.get(f"/projects/{'p' * 65}/members", token=team.owner.token), ["path", "projectId"]
    )


def test_member_mode_lists_only_active_projects_with_accepted_membership(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner = person(api, admin_token, "Owner")
    user = person(api, admin_token, "User")
    create_active(api, owner.token, wait_until, name="Joined", join_policy="auto")
    create_active(api, owner.token, wait_until, name="Requested")  # moderated
    create_active(api, owner.token, wait_until, name="Suspended", join_policy="auto")
    create_active(
        api, owner.token, wait_until, name="Leaving", join_policy="auto", leave_policy="moderated"
    )
    create_active(api, user.token, wait_until, name="Owned")
    create_active(api, owner.token, wait_until, name="Unrelated", join_policy="auto")
    for pid in ("joined", "requested", "suspended", "leaving"):
        assert join(api, user.token, pid).status == 201
    assert project_action(api, admin_token, "suspended", "suspend").status == 200
    mid = membership_of(api, owner.token, "leaving", user.id)["id"]
    assert act(api, user.token, mid, "leave").json()["state"] == "leave_requested"

    def listed(**query: Any) -> set[str]:
        return {p["id"] for p in list_all(api, user.token, "/projects", **query)}

    assert listed(mode="member") == {"joined", "owned"}
    assert listed() == {"joined", "suspended", "leaving", "owned"}
    assert listed(mode="default") == listed()
    assert_validation(
        api.get("/projects", token=user.token, query={"mode": "everything"}), ["query", "mode"]
    )


# --- roles ----------------------------------------------------------------------------------------


def test_roles_inside_a_project(api: Api, admin_token: str, team: Team) -> None:
    pid = team.pid
    invite = {"emails": ["someone@example.com"], "roles": ["member"]}
    newcomer = person(api, admin_token, "Newcomer")

    for who in (team.member, team.viewer):
        for path in ("", "/history", "/members", "/quotas", "/profile"):
            r = api.get(f"/projects/{pid}{path}", token=who.token)
            assert r.status == 200, (path, r)
        assert_problem(
            api.patch(f"/projects/{pid}", token=who.token, json={"description": "x"}),
            403,
            "forbidden",
        )
        assert_problem(api.delete(f"/projects/{pid}", token=who.token), 403, "forbidden")
        assert_problem(api.put(f"/projects/{pid}/invites", token=who.token, json=invite), 403)
        assert_problem(enroll(api, who.token, pid, user_id=newcomer.id), 403)
        assert_problem(
            api.put(f"/projects/{pid}/profile", token=who.token, json={"description": "x"}), 403
        )
        assert_problem(project_action(api, who.token, pid, "suspend"), 403)

    # a project admin enrolls and invites
    r = enroll(api, team.padmin.token, pid, user_id=newcomer.id, role="viewer")
    assert r.status == 201 and r.json()["role"] == "viewer", r
    r = api.put(f"/projects/{pid}/invites", token=team.padmin.token, json=invite)
    assert r.status == 201 and r.json()["items"][0]["roles"] == ["member"], r

    # an outsider gets 404 for everything inside the project (but may read the profile)
    out = team.outsider.token
    for path in ("", "/history", "/members", "/quotas", "/images"):
        assert_problem(api.get(f"/projects/{pid}{path}", token=out), 404, "not-found")
    assert_problem(api.patch(f"/projects/{pid}", token=out, json={"description": "x"}), 404)
    assert_problem(api.delete(f"/projects/{pid}", token=out), 404)
    assert_problem(api.put(f"/projects/{pid}/invites", token=out, json=invite), 404)
    assert_problem(project_action(api, out, pid, "suspend"), 404)
    assert_problem(enroll(api, out, pid, user_id=newcomer.id), 404)
    assert_problem(api.get("/memberships", token=out, query={"project_id": pid}), 404)
    assert_problem(api.get("/applications", token=out, query={"project_id": pid}), 404)
    assert api.get(f"/projects/{pid}/profile", token=out).status == 200
    assert pid not in {p["id"] for p in list_all(api, out, "/projects")}
    # the project is still as it was
    r = api.get(f"/projects/{pid}", token=team.owner.token)
    assert r.json()["status"] == "active" and r.json()["description"] == "", r


# --- quotas -------------------------------------------------------------------------------------


def test_quotas_members_limit_and_413(api: Api, admin_token: str, team: Team) -> None:
    pid = team.pid
    r = api.get(f"/projects/{pid}/quotas", token=team.viewer.token)
    assert r.status == 200, r
    members = r.json()["members"]
    assert (members["limit"], members["usage"]) == (None, 4), members

    resources = {"members": {"project_capacity": 5, "member_capacity": 0}}
    r = api.patch(f"/projects/{pid}", token=admin_token, json={"resources": resources})
    assert r.status == 200 and r.json()["resources"] == resources, r
    r = api.get(f"/projects/{pid}/quotas", token=team.member.token)
    assert r.status == 200, r
    members = r.json()["members"]
    assert (members["limit"], members["usage"]) == (5, 4), members
    assert members["member_usage"] == {}, members

    assert join(api, team.outsider.token, pid).status == 201
    late = person(api, admin_token, "Late")
    body = assert_problem(join(api, late.token, pid), 413, "quota-exceeded")
    assert (body["resource"], body["limit"], body["usage"]) == ("members", 5, 5), body
    body = assert_problem(enroll(api, team.owner.token, pid, user_id=late.id), 413)
    assert (body["resource"], body["limit"], body["usage"]) == ("members", 5, 5), body
    assert api.get(f"/projects/{pid}/quotas", token=admin_token).json()["members"]["usage"] == 5
    assert_problem(api.get(f"/projects/{pid}", token=late.token), 404)

    # max_members lower than the capacity is the limit
    assert api.patch(f"/projects/{pid}", token=admin_token, json={"max_members": 3}).status == 200
    assert (
        api.get(f"/projects/{pid}/quotas", token=team.owner.token).json()["members"]["limit"] == 3
    )

    # wrong callers, missing project, bad input
    _, bot_token = make_bot(api, admin_token)
    for token in (late.token, bot_token):
        assert_problem(api.get(f"/projects/{pid}/quotas", token=token), 404, "not-found")
    assert_problem(api.get("/projects/no-such-project/quotas", token=admin_token), 404)
    assert_validation(
        api.get(f"/projects/{'p' * 65}/quotas", token=admin_token), ["path", "projectId"]
    )


def test_a_members_quota_of_two_admits_one_joiner(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner = person(api, admin_token, "Owner")
    first, second = person(api, admin_token, "First"), person(api, admin_token, "Second")
    capacity = {"members": {"project_capacity": 2, "member_capacity": 0}}
    # set by a platform admin on an active project ...
    create_active(api, owner.token, wait_until, name="Capped", join_policy="auto")
    r = api.patch("/projects/capped", token=admin_token, json={"resources": capacity})
    assert r.status == 200 and r.json()["resources"] == capacity, r
    # ... or by the owner at creation
    create_active(
        api, owner.token, wait_until, name="Born Capped", join_policy="auto", resources=capacity
    )
    for pid in ("capped", "born-capped"):
        r = api.get(f"/projects/{pid}/quotas", token=owner.token)
        assert r.status == 200, r
        assert r.json()["members"] == {
            "limit": 2,
            "usage": 1,
            "member_limit": None,
            "member_usage": {},
        }, r
        assert join(api, first.token, pid).status == 201
        body = assert_problem(join(api, second.token, pid), 413, "quota-exceeded")
        assert (body["resource"], body["limit"], body["usage"]) == ("members", 2, 2), body
        assert api.get(f"/projects/{pid}/quotas", token=first.token).json()["members"]["usage"] == 2


# --- profile ------------------------------------------------------------------------------------


def test_profile_is_public_for_active_projects(api: Api, admin_token: str, team: Team) -> None:
    pid = team.pid
    _, bot_token = make_bot(api, admin_token)
    r = api.put(
        f"/projects/{pid}/profile",
        token=team.owner.token,
        json={"description": "we build things", "homepage": "https://team.example.com"},
    )
    assert r.status == 200, r
    profile = {
        "id": pid,
        "name": "Team Project",
        "description": "we build things",
        "homepage": "https://team.example.com",
        "owner_display_name": "Owner",
    }
    assert r.json() == profile, r
    for token in (team.outsider.token, bot_token, team.viewer.token, admin_token):
        r = api.get(f"/projects/{pid}/profile", token=token)
        assert r.status == 200 and r.json() == profile, r
    project = api.get(f"/projects/{pid}", token=team.owner.token).json()
    assert (project["description"], project["homepage"]) == (
        "we build things",
        "https://team.example.com",
    )
    assert events(api, team.owner.token, pid)[-1][0] == "profile_updated"

    # the platform admin may change it too; a member, viewer or project admin may not
    r = api.put(f"/projects/{pid}/profile", token=admin_token, json={"description": "by admin"})
    assert r.status == 200 and r.json()["description"] == "by admin", r
    for who in (team.padmin, team.member, team.viewer):
        assert_problem(
            api.put(f"/projects/{pid}/profile", token=who.token, json={"description": "x"}),
            403,
            "forbidden",
        )

    # If-Match, bad input
    version = api.get(f"/projects/{pid}", token=team.owner.token).json()["version"]
    r = api.put(
        f"/projects/{pid}/profile",
        token=team.owner.token,
        json={"description": "stale"},
        headers={"If-Match": f'"{version - 1}"'},
    )
    assert_problem(r, 412)
    r = api.put(
        f"/projects/{pid}/profile",
        token=team.owner.token,
        json={"description": "fresh"},
        headers={"If-Match": f'"{version}"'},
    )
    assert r.status == 200 and r.json()["description"] == "fresh", r
    bad = api.put(f"/projects/{pid}/profile", token=team.owner.token, json={"homepage": "ftp://x"})
    assert_validation(bad, ["body", "homepage"])
    bad = api.put(
        f"/projects/{pid}/profile", token=team.owner.token, json={"description": "x" * 2049}
    )
    assert_validation(bad, ["body", "description"])
    assert_validation(
        api.put(f"/projects/{pid}/profile", token=team.owner.token, json={}), ["body"]
    )
    assert_problem(
        api.put(f"/projects/{pid}/profile", token=team.owner.token, body="{"), 400, "bad-request"
    )
    assert_problem(api.get("/projects/no-such-project/profile", token=admin_token), 404)
    assert_problem(
        api.put("/projects/no-such-project/profile", token=admin_token, json={"description": "x"}),
        404,
    )
    assert_validation(
        api.get(f"/projects/{'p' * 65}/profile", token=admin_token), ["path", "projectId"]
    )

    # not active: only those who may see the project see its profile
    assert project_action(api, admin_token, pid, "suspend").status == 200
    for token in (team.outsider.token, bot_token):
        assert_problem(api.get(f"/projects/{pid}/profile", token=token), 404, "not-found")
        assert_problem(
            api.put(f"/projects/{pid}/profile", token=token, json={"description": "x"}), 404
        )
    assert api.get(f"/projects/{pid}/profile", token=team.viewer.token).status == 200
    assert api.get(f"/projects/{pid}/profile", token=admin_token).status == 200


@MODERATED
def test_profile_of_a_project_awaiting_approval(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    applicant = person(api, admin_token, "Applicant")
    outsider = person(api, admin_token, "Outsider")
    pid = create_project(api, applicant.token, name="Not Yet")["id"]
    assert_problem(api.get(f"/projects/{pid}/profile", token=outsider.token), 404)
    r = api.get(f"/projects/{pid}/profile", token=applicant.token)
    assert r.status == 200 and r.json()["name"] == "Not Yet", r


def test_created_at_fields_are_iso_utc(api: Api, admin_token: str, team: Team) -> None:
    (m,) = [
        x for x in list_all(api, team.member.token, "/memberships") if x["project_id"] == team.pid
    ]
    for key in ("created_at", "updated_at"):
        parsed = datetime.strptime(m[key], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - parsed).total_seconds()) < 120, m
