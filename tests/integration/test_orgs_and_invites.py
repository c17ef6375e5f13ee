"""Org and invite routes over HTTP (API.md, "Governance": orgs and invites), through the real
authorizer and handlers: orgs and their members; invites to orgs and projects by email,
with roles, expiry, secure codes, acceptance once, revocation; 410 for expired or revoked.
Every route of OrgsFunction gets its success, its bad input (422/400 with errors[].loc),
its wrong callers (401, 403, 404) and its missing resource (404)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness import Api, Response
from tests.integration.helpers import (
    INVITE_FIELDS,
    assert_problem,
    assert_validation,
    create_active,
    list_all,
    make_bot,
    make_user,
)

Wait = Callable[..., Any]
BAD_TOKEN = "tnt_" + "x" * 43
MISSING = "5f0c8f4e-1e8c-4f0b-9c52-0f1e2d3c4b5a"
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Who:
    id: str
    token: str
    email: str


def person(api: Api, admin_token: str, name: str, email: str | None = None) -> Who:
    user, token = make_user(api, admin_token, name, email=email)
    return Who(user["id"], token, user["email"])


def when(text: str) -> datetime:
    return datetime.strptime(text, ISO).replace(tzinfo=UTC)


def new_org(api: Api, token: str, name: str = "Acme") -> dict[str, Any]:
    r = api.post("/orgs", token=token, json={"name": name})
    assert r.status == 201, r
    return r.json()  # type: ignore[no-any-return]


def invite(
    api: Api,
    token: str,
    scope: str,
    target: str,
    emails: list[str],
    roles: list[str] | None = None,
    **extra: Any,
) -> Response:
    body = {"emails": emails, "roles": roles or ["member"], **extra}
    return api.put(f"/{scope}s/{target}/invites", token=token, json=body)


def invited(api: Api, token: str, scope: str, target: str, email: str, **kw: Any) -> dict[str, Any]:
    """One invite for `email`, asserting the 201; returns it as created."""
    r = invite(api, token, scope, target, [email], **kw)
    assert r.status == 201, r
    (item,) = r.json()["items"]
    return item  # type: ignore[no-any-return]


def accept(api: Api, token: str, invite_id: str, code: str | None = None) -> Response:
    return api.post(
        f"/invites/{invite_id}/accept", token=token, json={"code": code} if code else {}
    )


def pending_ids(api: Api, token: str) -> set[str]:
    return {i["id"] for i in list_all(api, token, "/invites")}


def org_members(api: Api, token: str, org_id: str) -> dict[str, str]:
    return {m["user_id"]: m["role"] for m in list_all(api, token, f"/orgs/{org_id}/members")}


def expire(api: Api, invite_id: str) -> None:
    """Move an invite's validity (valid_until, shown as expires_at) into the past, in the
    table itself (and its place in its email's pending list, which is by expiry:
    tenantry.dal.keys.invite_indexes)."""
    table = api.stack.table_names()["TenantryTable"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime(ISO)
    api.stack.client("dynamodb").update_item(
        TableName=table,
        Key={"PK": {"S": f"INVITE#{invite_id}"}, "SK": {"S": "INVITE"}},
        UpdateExpression="SET valid_until = :t, GSI1SK = :k",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":t": {"S": past}, ":k": {"S": f"{past}#{invite_id}"}},
    )


# --- 401 on every route -------------------------------------------------------------------------

ORGS_ROUTES = [
    ("POST", "/orgs", {"name": "x"}),
    ("GET", "/orgs", None),
    ("GET", f"/orgs/{MISSING}", None),
    ("GET", f"/orgs/{MISSING}/members", None),
    ("PUT", f"/orgs/{MISSING}/invites", {"emails": ["a@example.com"], "roles": ["member"]}),
    ("PUT", "/projects/some-project/invites", {"emails": ["a@example.com"], "roles": ["member"]}),
    ("GET", "/invites", None),
    ("GET", f"/orgs/{MISSING}/invites", None),
    ("GET", "/projects/some-project/invites", None),
    ("POST", f"/invites/{MISSING}/accept", {}),
    ("DELETE", f"/invites/{MISSING}", None),
]


def test_every_orgs_route_needs_a_valid_token(api: Api, admin_token: str) -> None:
    for method, path, body in ORGS_ROUTES:
        for token in (None, BAD_TOKEN):
            assert_problem(api.request(method, path, token=token, json=body), 401, "unauthorized")


def test_a_missing_token_is_401_even_with_bad_input(api: Api, admin_token: str) -> None:
    """No or bad token: 401 (API.md, Conventions), before the request is validated."""
    bad_requests = [
        ("POST", "/orgs", {}),
        ("GET", "/orgs?limit=0", None),
        ("PUT", f"/orgs/{MISSING}/invites", {"emails": []}),
        ("PUT", "/projects/some-project/invites", {"roles": ["owner"]}),
        ("POST", f"/invites/{MISSING}/accept", {"code": "c" * 129}),
        ("DELETE", f"/invites/{'i' * 65}", None),
    ]
    for method, path, body in bad_requests:
        for token in (None, BAD_TOKEN):
            assert_problem(api.request(method, path, token=token, json=body), 401, "unauthorized")


# --- orgs ---------------------------------------------------------------------------------------


def test_create_list_and_read_orgs(api: Api, admin_token: str) -> None:
    alice = person(api, admin_token, "Alice")
    bob = person(api, admin_token, "Bob")
    carol = person(api, admin_token, "Carol")
    _, bot_token = make_bot(api, admin_token)

    r = api.post("/orgs", token=alice.token, json={"name": "Acme"})
    assert r.status == 201, r
    acme = r.json()
    assert r.headers["location"] == f"/orgs/{acme['id']}", r
    assert (acme["name"], acme["created_by"]) == ("Acme", alice.id), acme
    assert abs((datetime.now(UTC) - when(acme["created_at"])).total_seconds()) < 120, acme
    globex = new_org(api, bob.token, "Globex")

    # the creator is the owner; each sees their own, the platform admin all
    assert org_members(api, alice.token, acme["id"]) == {alice.id: "owner"}
    (member,) = list_all(api, alice.token, f"/orgs/{acme['id']}/members")
    assert set(member) == {"user_id", "role", "created_at"}, member
    assert list_all(api, alice.token, "/orgs") == [acme]
    assert list_all(api, bob.token, "/orgs") == [globex]
    assert list_all(api, carol.token, "/orgs") == []
    assert list_all(api, bot_token, "/orgs") == []
    assert {o["id"] for o in list_all(api, admin_token, "/orgs")} == {acme["id"], globex["id"]}

    r = api.get(f"/orgs/{acme['id']}", token=alice.token)
    assert r.status == 200 and r.json() == acme, r
    assert api.get(f"/orgs/{acme['id']}", token=admin_token).json() == acme
    assert org_members(api, admin_token, acme["id"]) == {alice.id: "owner"}
    for token in (bob.token, carol.token, bot_token):
        assert_problem(api.get(f"/orgs/{acme['id']}", token=token), 404, "not-found")
        assert_problem(api.get(f"/orgs/{acme['id']}/members", token=token), 404, "not-found")
    assert_problem(api.get(f"/orgs/{MISSING}", token=admin_token), 404, "not-found")
    assert_problem(api.get(f"/orgs/{MISSING}/members", token=admin_token), 404, "not-found")

    # bad input; bots create no orgs
    assert_validation(api.post("/orgs", token=alice.token, json={"name": ""}), ["body", "name"])
    assert_validation(api.post("/orgs", token=alice.token, json={}), ["body", "name"])
    assert_validation(
        api.post("/orgs", token=alice.token, json={"name": "x" * 129}), ["body", "name"]
    )
    assert_problem(api.post("/orgs", token=alice.token, body="{nope"), 400, "bad-request")
    assert_problem(api.post("/orgs", token=bot_token, json={"name": "Bots"}), 403, "forbidden")
    assert_validation(api.get("/orgs", token=alice.token, query={"limit": 0}), ["query", "limit"])
    assert_problem(
        api.get("/orgs", token=alice.token, query={"cursor": "bogus"}), 400, loc=["query", "cursor"]
    )
    assert_validation(api.get(f"/orgs/{'o' * 65}", token=alice.token), ["path", "orgId"])
    assert_validation(
        api.get(f"/orgs/{acme['id']}/members", token=alice.token, query={"limit": 101}),
        ["query", "limit"],
    )
    assert_validation(api.get(f"/orgs/{'o' * 65}/members", token=alice.token), ["path", "orgId"])

    # paging over the admin's list
    for n in range(3):
        new_org(api, carol.token, f"Carol {n}")
    assert len(list_all(api, carol.token, "/orgs", limit=2)) == 3
    assert len(list_all(api, admin_token, "/orgs", limit=2)) == 5


def test_org_invites_make_org_members(api: Api, admin_token: str) -> None:
    owner = person(api, admin_token, "Owner")
    ann = person(api, admin_token, "Ann", email="ann@example.com")
    ben = person(api, admin_token, "Ben", email="ben@example.com")
    stranger = person(api, admin_token, "Stranger")
    org = new_org(api, owner.token)
    oid = org["id"]

    r = invite(api, owner.token, "org", oid, ["Ann@Example.com", "ben@example.com"])
    assert r.status == 201, r
    items = r.json()["items"]
    assert [i["email"] for i in items] == ["ann@example.com", "ben@example.com"], items
    for item in items:
        assert item.keys() >= INVITE_FIELDS, item
        assert (item["scope"], item["target_id"], item["roles"]) == ("org", oid, ["member"])
        assert (item["status"], item["invited_by"]) == ("pending", owner.id), item
        assert item.get("code") is None, item
        days = (when(item["expires_at"]) - when(item["created_at"])).total_seconds() / 86400
        assert round(days, 3) == 7, item  # the default
    ann_invite, ben_invite = (i["id"] for i in items)

    # each invitee sees their own pending invites, nobody else's
    (mine,) = list_all(api, ann.token, "/invites")
    assert mine["id"] == ann_invite and mine["status"] == "pending", mine
    assert mine.get("code") is None, mine
    assert pending_ids(api, ben.token) == {ben_invite}
    assert pending_ids(api, stranger.token) == set()
    assert pending_ids(api, owner.token) == set()

    # accept: the org member with the invite's role, once
    assert_problem(accept(api, stranger.token, ann_invite), 404, "not-found")
    assert_problem(accept(api, owner.token, ann_invite), 404, "not-found")
    assert_problem(accept(api, admin_token, ann_invite), 404, "not-found")
    r = accept(api, ann.token, ann_invite)
    assert r.status == 200, r
    assert r.json()["id"] == ann_invite and r.json()["status"] == "accepted", r
    assert org_members(api, owner.token, oid) == {owner.id: "owner", ann.id: "member"}
    assert [o["id"] for o in list_all(api, ann.token, "/orgs")] == [oid]
    assert api.get(f"/orgs/{oid}", token=ann.token).status == 200
    assert org_members(api, ann.token, oid)[ann.id] == "member"
    assert_problem(accept(api, ann.token, ann_invite), 409)
    assert pending_ids(api, ann.token) == set()

    # an org member may not invite; an outsider does not see the org; an org admin may
    assert_problem(invite(api, ann.token, "org", oid, ["x@example.com"]), 403, "forbidden")
    assert_problem(invite(api, stranger.token, "org", oid, ["x@example.com"]), 404, "not-found")
    _, bot_token = make_bot(api, admin_token)
    assert_problem(invite(api, bot_token, "org", oid, ["x@example.com"]), 404, "not-found")
    assert_problem(invite(api, owner.token, "org", MISSING, ["x@example.com"]), 404, "not-found")
    r = invite(api, owner.token, "org", oid, ["ben@example.com"], roles=["admin", "member"])
    assert r.status == 201, r
    admin_invite = r.json()["items"][0]["id"]
    assert pending_ids(api, ben.token) == {ben_invite, admin_invite}
    assert accept(api, ben.token, admin_invite).status == 200
    assert org_members(api, owner.token, oid)[ben.id] == "admin"  # the strongest role
    # the other invite to the same org: already a member
    assert_problem(accept(api, ben.token, ben_invite), 409)
    assert invite(api, ben.token, "org", oid, [stranger.email]).status == 201
    assert invite(api, admin_token, "org", oid, [stranger.email]).status == 201
    assert len(pending_ids(api, stranger.token)) == 2


def test_invite_bad_input(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    oid = new_org(api, owner.token)["id"]
    pid = create_active(api, owner.token, wait_until, name="Invites Here")["id"]
    for scope, target in (("org", oid), ("project", pid)):
        path = f"/{scope}s/{target}/invites"

        def put(body: Any, path: str = path) -> Response:
            return api.put(path, token=owner.token, json=body)

        ok = {"emails": ["a@example.com"], "roles": ["member"]}
        assert_validation(put({**ok, "expire_days": 0}), ["body", "expire_days"])
        assert_validation(put({**ok, "expire_days": 31}), ["body", "expire_days"])
        assert_validation(put({**ok, "expire_days": "soon"}), ["body", "expire_days"])
        for days in (1, 30):
            r = put({**ok, "expire_days": days})
            assert r.status == 201, r
            item = r.json()["items"][0]
            span = when(item["expires_at"]) - when(item["created_at"])
            assert abs(span - timedelta(days=days)) < timedelta(seconds=1), item
        assert_validation(put({**ok, "emails": []}), ["body", "emails"])
        assert_validation(put({**ok, "emails": ["not-an-email"]}), ["body", "emails", 0])
        assert_validation(put({**ok, "roles": []}), ["body", "roles"])
        assert_validation(put({**ok, "roles": ["owner"]}), ["body", "roles", 0])
        assert_validation(put({"roles": ["member"]}), ["body", "emails"])
        assert_validation(put({"emails": ["a@example.com"]}), ["body", "roles"])
        assert_validation(put({**ok, "secure": "perhaps"}), ["body", "secure"])
        assert_problem(api.put(path, token=owner.token, body="{"), 400, "bad-request")
        # duplicates count once
        r = put({"emails": ["d@example.com", "D@example.com"], "roles": ["member", "member"]})
        assert r.status == 201, r
        (item,) = r.json()["items"]
        assert item["roles"] == ["member"], item
    # an org grants admin or member, never viewer
    r = invite(api, owner.token, "org", oid, ["v@example.com"], roles=["viewer"])
    assert_validation(r, ["body", "roles", 0])
    r = invite(api, owner.token, "project", pid, ["v@example.com"], roles=["viewer"])
    assert r.status == 201, r
    assert_validation(
        invite(api, owner.token, "project", "p" * 65, ["a@b.co"]), ["path", "projectId"]
    )
    assert_validation(invite(api, owner.token, "org", "o" * 65, ["a@b.co"]), ["path", "orgId"])


# --- project invites ------------------------------------------------------------------------------


def test_project_invites_grant_the_invited_role(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner = person(api, admin_token, "Owner")
    padmin = person(api, admin_token, "Project Admin")
    member = person(api, admin_token, "Member")
    vera = person(api, admin_token, "Vera")
    adam = person(api, admin_token, "Adam")
    outsider = person(api, admin_token, "Outsider")
    pid = create_active(api, owner.token, wait_until, name="Invited", join_policy="closed")["id"]
    for who, role in ((padmin, "admin"), (member, "member")):
        r = api.post(
            "/memberships",
            token=owner.token,
            json={"project_id": pid, "action": "enroll", "user_id": who.id, "role": role},
        )
        assert r.status == 201, r

    as_viewer = invited(api, owner.token, "project", pid, vera.email, roles=["viewer"])
    assert (as_viewer["scope"], as_viewer["target_id"]) == ("project", pid), as_viewer
    as_admin = invited(api, padmin.token, "project", pid, adam.email, roles=["member", "admin"])
    assert as_admin["invited_by"] == padmin.id, as_admin
    assert invite(api, admin_token, "project", pid, ["p@example.com"]).status == 201

    # members may see the project but not invite; outsiders and bots do not see it
    assert_problem(invite(api, member.token, "project", pid, ["x@example.com"]), 403, "forbidden")
    assert_problem(invite(api, outsider.token, "project", pid, ["x@example.com"]), 404)
    _, bot_token = make_bot(api, admin_token)
    assert_problem(invite(api, bot_token, "project", pid, ["x@example.com"]), 404)
    assert_problem(invite(api, owner.token, "project", "no-such-project", ["x@example.com"]), 404)

    # accepting makes the membership, with the invite's role, even under join_policy closed
    assert_problem(api.get(f"/projects/{pid}", token=vera.token), 404)
    r = accept(api, vera.token, as_viewer["id"])
    assert r.status == 200 and r.json()["status"] == "accepted", r
    assert api.get(f"/projects/{pid}", token=vera.token).status == 200
    members = {
        m["user_id"]: (m["role"], m["state"])
        for m in list_all(api, owner.token, f"/projects/{pid}/members")
    }
    assert members[vera.id] == ("viewer", "accepted"), members
    (mine,) = [m for m in list_all(api, vera.token, "/memberships") if m["project_id"] == pid]
    assert (mine["role"], mine["state"]) == ("viewer", "accepted"), mine
    assert_problem(accept(api, vera.token, as_viewer["id"]), 409)

    assert accept(api, adam.token, as_admin["id"]).status == 200
    (adams,) = [m for m in list_all(api, adam.token, "/memberships") if m["project_id"] == pid]
    assert adams["role"] == "admin", adams  # the strongest of the invite's roles
    # ... and as a project admin, Adam may now invite
    assert invite(api, adam.token, "project", pid, ["y@example.com"]).status == 201

    hist = [
        e
        for e in list_all(api, owner.token, f"/projects/{pid}/history")
        if e["event"].startswith("membership_")
    ]
    assert [(e["event"], e["to"], e["detail"]["user_id"]) for e in hist[-2:]] == [
        ("membership_enroll", "accepted", vera.id),
        ("membership_enroll", "accepted", adam.id),
    ], hist
    assert hist[-2]["detail"]["role"] == "viewer" and hist[-1]["detail"]["role"] == "admin"


def test_an_invite_to_a_member_already_in_is_409(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner = person(api, admin_token, "Owner")
    joiner = person(api, admin_token, "Joiner")
    pid = create_active(api, owner.token, wait_until, name="Already In", join_policy="auto")["id"]
    item = invited(api, owner.token, "project", pid, joiner.email)
    r = api.post("/memberships", token=joiner.token, json={"project_id": pid, "action": "join"})
    assert r.status == 201, r
    assert_problem(accept(api, joiner.token, item["id"]), 409)
    # the invite was not used up
    assert pending_ids(api, joiner.token) == {item["id"]}


def test_accepting_a_plain_invite_needs_no_body(api: Api, admin_token: str) -> None:
    """API.md: POST /invites/{inviteId}/accept (`{code}` when secure)."""
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    item = invited(api, owner.token, "org", oid, guest.email)
    r = api.post(f"/invites/{item['id']}/accept", token=guest.token)
    assert r.status == 200, r
    assert org_members(api, owner.token, oid)[guest.id] == "member"


# --- secure invites -----------------------------------------------------------------------------


def test_secure_invites_need_their_code(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    pid = create_active(api, owner.token, wait_until, name="Secured")["id"]
    r = invite(api, owner.token, "project", pid, [guest.email], roles=["member"], secure=True)
    assert r.status == 201, r
    (item,) = r.json()["items"]
    code = item["code"]
    assert isinstance(code, str) and len(code) >= 8, item
    assert item["secure"] is True, item
    # the code is shown to the inviter once, never again
    (listed,) = list_all(api, guest.token, "/invites")
    assert listed["id"] == item["id"] and listed.get("code") is None, listed
    assert listed["secure"] is True, listed
    assert code not in api.get("/invites", token=guest.token).body

    assert_problem(accept(api, guest.token, item["id"]), 403, "forbidden")
    assert_problem(accept(api, guest.token, item["id"], code="wrong-code"), 403, "forbidden")
    assert_problem(accept(api, guest.token, item["id"], code=code.upper() + "x"), 403)
    assert_validation(accept(api, guest.token, item["id"], code="c" * 129), ["body", "code"])
    assert_problem(accept(api, owner.token, item["id"], code=code), 404)  # not the invitee
    r = accept(api, guest.token, item["id"], code=code)
    assert r.status == 200 and r.json()["status"] == "accepted", r
    assert r.json().get("code") is None, r
    assert api.get(f"/projects/{pid}", token=guest.token).status == 200
    assert_problem(accept(api, guest.token, item["id"], code=code), 409)

    # each secure invite has its own code
    r = invite(api, owner.token, "project", pid, ["a@example.com", "b@example.com"], secure=True)
    codes = [i["code"] for i in r.json()["items"]]
    assert len(set(codes)) == 2 and all(codes), r


# --- revoke, expiry -----------------------------------------------------------------------------


def test_revoke_then_accept_is_410(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    padmin = person(api, admin_token, "Project Admin")
    member = person(api, admin_token, "Member")
    guest = person(api, admin_token, "Guest")
    pid = create_active(api, owner.token, wait_until, name="Revoked")["id"]
    for who, role in ((padmin, "admin"), (member, "member")):
        body = {"project_id": pid, "action": "enroll", "user_id": who.id, "role": role}
        assert api.post("/memberships", token=owner.token, json=body).status == 201

    item = invited(api, owner.token, "project", pid, guest.email)
    # neither a plain member nor an outsider may see another's invite
    assert_problem(api.delete(f"/invites/{item['id']}", token=member.token), 404, "not-found")
    _, bot_token = make_bot(api, admin_token)
    assert_problem(api.delete(f"/invites/{item['id']}", token=bot_token), 404, "not-found")
    r = api.delete(f"/invites/{item['id']}", token=owner.token)
    assert r.status == 204 and r.body == "", r
    assert pending_ids(api, guest.token) == set()
    body = assert_problem(accept(api, guest.token, item["id"]), 410, "gone")
    assert "revoked" in body["detail"], body
    assert_problem(api.delete(f"/invites/{item['id']}", token=owner.token), 410)
    assert_problem(api.get(f"/projects/{pid}", token=guest.token), 404)

    # the project's managers and the platform admin may revoke another's invite
    for token in (padmin.token, admin_token):
        other = invited(api, owner.token, "project", pid, guest.email)
        assert api.delete(f"/invites/{other['id']}", token=token).status == 204
    # an accepted invite cannot be revoked
    used = invited(api, owner.token, "project", pid, guest.email)
    assert accept(api, guest.token, used["id"]).status == 200
    assert_problem(api.delete(f"/invites/{used['id']}", token=owner.token), 409)
    assert_problem(api.delete(f"/invites/{MISSING}", token=admin_token), 404, "not-found")
    assert_validation(api.delete(f"/invites/{'i' * 65}", token=admin_token), ["path", "inviteId"])

    # org invites: the org's owner and admins revoke; a plain org member does not see them
    oid = new_org(api, owner.token)["id"]
    joined = invited(api, owner.token, "org", oid, member.email)
    assert accept(api, member.token, joined["id"]).status == 200
    org_invite = invited(api, owner.token, "org", oid, guest.email)
    assert_problem(api.delete(f"/invites/{org_invite['id']}", token=member.token), 404)
    assert api.delete(f"/invites/{org_invite['id']}", token=owner.token).status == 204
    assert_problem(accept(api, guest.token, org_invite["id"]), 410, "gone")


def test_revoke_honours_if_match(api: Api, admin_token: str) -> None:
    """An invite carries a version (1 when created, one more when accepted or revoked);
    DELETE with If-Match revokes only at that version: 412 when stale or weak (RFC 9110
    compares strongly), 422 when it is no ETag."""
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    item = invited(api, owner.token, "org", oid, guest.email)
    assert item["version"] == 1, item
    (listed,) = list_all(api, guest.token, "/invites")
    assert listed["version"] == 1, listed

    def revoke(invite_id: str, if_match: str) -> Response:
        return api.delete(
            f"/invites/{invite_id}", token=owner.token, headers={"If-Match": if_match}
        )

    assert_problem(revoke(item["id"], '"2"'), 412, "precondition-failed")
    assert_problem(revoke(item["id"], 'W/"1"'), 412, "precondition-failed")
    assert_validation(revoke(item["id"], "one"), ["header", "if-match"])
    assert pending_ids(api, guest.token) == {item["id"]}
    assert revoke(item["id"], '"1"').status == 204
    assert_problem(revoke(item["id"], '"2"'), 410, "gone")  # the state's answer, at its version

    # accepting moves the version too: a revoke at the version read before is refused
    other = invited(api, owner.token, "org", oid, guest.email)
    r = accept(api, guest.token, other["id"])
    assert (r.status, r.json()["version"]) == (200, 2), r
    assert_problem(revoke(other["id"], '"1"'), 412, "precondition-failed")
    assert_problem(revoke(other["id"], "*"), 409)


def test_an_expired_invite_is_410(api: Api, admin_token: str) -> None:
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    stale, fresh = (invited(api, owner.token, "org", oid, guest.email) for _ in range(2))
    expire(api, stale["id"])
    assert pending_ids(api, guest.token) == {fresh["id"]}
    body = assert_problem(accept(api, guest.token, stale["id"]), 410, "gone")
    assert "expired" in body["detail"], body
    assert guest.id not in org_members(api, owner.token, oid)
    assert accept(api, guest.token, fresh["id"]).status == 200


def test_an_invite_expires_with_time(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tenantry.domain.invites as invites_domain

    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    item = invited(api, owner.token, "org", oid, guest.email, expire_days=1)
    real_now = invites_domain.now_iso

    def a_day_later(delta: timedelta | None = None) -> str:
        return real_now(timedelta(days=1, seconds=1) + (delta or timedelta()))

    monkeypatch.setattr(invites_domain, "now_iso", a_day_later)
    assert pending_ids(api, guest.token) == set()
    assert_problem(accept(api, guest.token, item["id"]), 410, "gone")
    monkeypatch.undo()
    assert pending_ids(api, guest.token) == {item["id"]}


def test_every_ttl_attribute_holds_epoch_seconds(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    """DynamoDB's TTL deletes an item only when its TTL attribute (template.yaml,
    TimeToLiveSpecification) is a Number of epoch seconds; any other type is ignored and
    the item stays forever. Every item written with that attribute, after invites (plain,
    secure, accepted, revoked) and the per-day limit counters they move, must hold one, a
    little after the moment the item stops mattering. The invite's own expiry, which the
    API shows, stays an ISO time."""
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    pid = create_active(api, owner.token, wait_until, name="Expiring")["id"]
    plain = invited(api, owner.token, "org", oid, guest.email, expire_days=2)
    secure = invited(api, owner.token, "project", pid, guest.email, secure=True)
    revoked = invited(api, owner.token, "project", pid, "gone@example.com", expire_days=30)
    assert accept(api, guest.token, plain["id"]).status == 200
    assert api.delete(f"/invites/{revoked['id']}", token=owner.token).status == 204
    for item, days in ((plain, 2), (secure, 7), (revoked, 30)):
        shown = (when(item["expires_at"]) - when(item["created_at"])).total_seconds() / 86400
        assert round(shown, 3) == days, item

    dynamodb = api.stack.client("dynamodb")
    table = api.stack.table_names()["TenantryTable"]
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    attribute = ttl["AttributeName"]
    items = dynamodb.scan(TableName=table)["Items"]  # a test may scan
    with_ttl = [i for i in items if attribute in i]
    kinds = {i["entity"]["S"] for i in with_ttl if "entity" in i}
    assert {"invite"} <= kinds, kinds
    assert any(i["PK"]["S"].startswith("LIMIT#") for i in with_ttl), with_ttl
    now = datetime.now(UTC).timestamp()
    wrong = [i for i in with_ttl if set(i[attribute]) != {"N"}]
    assert wrong == [], wrong
    for i in with_ttl:
        assert now < int(i[attribute]["N"]) < now + 90 * 86400, i
    invites = {i["id"]["S"]: i for i in with_ttl if i.get("entity", {}).get("S") == "invite"}
    for item in (plain, secure, revoked):
        stored = invites[item["id"]]
        # gone from the table only after it stopped being valid (410 until then)
        assert int(stored[attribute]["N"]) > when(item["expires_at"]).timestamp(), stored


def test_an_invite_stored_before_the_ttl_fix_still_reads(api: Api, admin_token: str) -> None:
    """Invites written before held their validity as an ISO string in expires_at (and no
    valid_until): they read, list and expire as before."""
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    current, stale = (invited(api, owner.token, "org", oid, guest.email) for _ in range(2))
    dynamodb = api.stack.client("dynamodb")
    table = api.stack.table_names()["TenantryTable"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime(ISO)
    for item, until in ((current, current["expires_at"]), (stale, past)):
        dynamodb.update_item(
            TableName=table,
            Key={"PK": {"S": f"INVITE#{item['id']}"}, "SK": {"S": "INVITE"}},
            UpdateExpression="SET expires_at = :t REMOVE valid_until",
            ExpressionAttributeValues={":t": {"S": until}},
        )
    (listed,) = list_all(api, guest.token, "/invites")
    assert (listed["id"], listed["expires_at"]) == (current["id"], current["expires_at"]), listed
    assert_problem(accept(api, guest.token, stale["id"]), 410, "gone")
    assert accept(api, guest.token, current["id"]).status == 200


# --- GET /invites -------------------------------------------------------------------------------


def test_list_invites_is_by_the_callers_email(api: Api, admin_token: str, wait_until: Wait) -> None:
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    other = person(api, admin_token, "Other")
    oid = new_org(api, owner.token)["id"]
    pid = create_active(api, owner.token, wait_until, name="Listed")["id"]
    mine = [invited(api, owner.token, "org", oid, guest.email)["id"]]
    mine += [invited(api, owner.token, "project", pid, guest.email.upper())["id"] for _ in range(2)]
    theirs = invited(api, owner.token, "project", pid, other.email)["id"]

    items = list_all(api, guest.token, "/invites", limit=1)
    assert sorted(i["id"] for i in items) == sorted(mine), items
    assert all(i["email"] == guest.email and i["status"] == "pending" for i in items), items
    assert {i["scope"] for i in items} == {"org", "project"}, items
    assert pending_ids(api, other.token) == {theirs}
    _, bot_token = make_bot(api, admin_token)
    r = api.get("/invites", token=bot_token)
    assert r.status == 200 and r.json() == {"items": [], "next_cursor": None}, r
    assert pending_ids(api, admin_token) == set()

    # answered invites leave the list
    assert accept(api, guest.token, mine[0]).status == 200
    assert api.delete(f"/invites/{mine[1]}", token=owner.token).status == 204
    assert pending_ids(api, guest.token) == {mine[2]}

    assert_validation(
        api.get("/invites", token=guest.token, query={"limit": 0}), ["query", "limit"]
    )
    assert_problem(
        api.get("/invites", token=guest.token, query={"cursor": "bogus"}),
        400,
        loc=["query", "cursor"],
    )


def test_someone_elses_invite_is_404(api: Api, admin_token: str) -> None:
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    other = person(api, admin_token, "Other")
    _, bot_token = make_bot(api, admin_token)
    oid = new_org(api, owner.token)["id"]
    item = invited(api, owner.token, "org", oid, guest.email)
    for token in (other.token, owner.token, admin_token, bot_token):
        assert_problem(accept(api, token, item["id"]), 404, "not-found")
    assert_problem(accept(api, guest.token, MISSING), 404, "not-found")
    assert_validation(accept(api, guest.token, "i" * 65), ["path", "inviteId"])
    assert_problem(
        api.post(f"/invites/{item['id']}/accept", token=guest.token, body="{"), 400, "bad-request"
    )
    assert accept(api, guest.token, item["id"]).status == 200


def test_the_invitee_sees_an_invite_but_may_not_revoke_it(api: Api, admin_token: str) -> None:
    """Revoking is the inviter's or the target's managers' (openapi.json). The invitee sees
    the invite (GET /invites), so API.md's rule makes that 403, not 404."""
    owner = person(api, admin_token, "Owner")
    guest = person(api, admin_token, "Guest")
    oid = new_org(api, owner.token)["id"]
    item = invited(api, owner.token, "org", oid, guest.email)
    assert pending_ids(api, guest.token) == {item["id"]}
    assert_problem(api.delete(f"/invites/{item['id']}", token=guest.token), 403, "forbidden")
    assert pending_ids(api, guest.token) == {item["id"]}


# --- a target's invites ------------------------------------------------------------------------


def test_a_projects_and_an_orgs_invites_for_their_managers(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    owner = person(api, admin_token, "Owner")
    padmin, member, outsider = (person(api, admin_token, n) for n in ("PA", "Member", "Out"))
    vera = person(api, admin_token, "Vera")
    pid = create_active(api, owner.token, wait_until, name="Listed", join_policy="closed")["id"]
    for who, role in ((padmin, "admin"), (member, "member")):
        body = {"project_id": pid, "action": "enroll", "user_id": who.id, "role": role}
        assert api.post("/memberships", token=owner.token, json=body).status == 201

    first = invited(api, owner.token, "project", pid, vera.email)
    revoked = invited(api, owner.token, "project", pid, "gone@example.com")
    secure = invited(api, padmin.token, "project", pid, "code@example.com", secure=True)
    assert secure["code"]
    assert api.delete(f"/invites/{revoked['id']}", token=owner.token).status == 204
    assert accept(api, vera.token, first["id"]).status == 200
    expired = invited(api, owner.token, "project", pid, "late@example.com")
    expire(api, expired["id"])

    path = f"/projects/{pid}/invites"
    for token in (owner.token, padmin.token, admin_token):
        listed = list_all(api, token, path)
        assert [i["id"] for i in listed] == [
            expired["id"],
            secure["id"],
            revoked["id"],
            first["id"],
        ]  # newest first
        assert [i["status"] for i in listed] == ["expired", "pending", "revoked", "accepted"]
        assert all(i["code"] is None and set(i) == INVITE_FIELDS | {"code"} for i in listed), listed
    one_by_one = list_all(api, owner.token, path, limit=1)
    assert [i["id"] for i in one_by_one] == [i["id"] for i in listed]
    for status, wanted in (("pending", secure), ("accepted", first), ("revoked", revoked)):
        (found,) = list_all(api, owner.token, path, status=status)
        assert found["id"] == wanted["id"], status

    assert_problem(api.get(path, token=member.token), 403, "forbidden")  # sees the project
    assert_problem(api.get(path, token=outsider.token), 404)
    assert_problem(api.get("/projects/no-such-project/invites", token=owner.token), 404)
    assert_validation(
        api.get(path, token=owner.token, query={"status": "lost"}), ["query", "status"]
    )
    assert_validation(api.get(path, token=owner.token, query={"limit": 0}), ["query", "limit"])

    org = new_org(api, owner.token, "Listing Org")
    org_invite = invited(api, owner.token, "org", org["id"], "org@example.com")
    (listed_org,) = list_all(api, owner.token, f"/orgs/{org['id']}/invites")
    assert listed_org["id"] == org_invite["id"] and listed_org["scope"] == "org"
    assert list_all(api, owner.token, f"/orgs/{org['id']}/invites", status="revoked") == []
    assert_problem(api.get(f"/orgs/{org['id']}/invites", token=outsider.token), 404)
    assert_problem(api.get(f"/orgs/{MISSING}/invites", token=owner.token), 404)
