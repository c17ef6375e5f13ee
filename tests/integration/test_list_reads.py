"""Lists read what they can answer (issue 7, item 5): the common filters are the partition
a list queries, not a filter after the Query. A project's status, a membership's being
current, an invite's being pending and unexpired, an application's state: when one
changes, the item's index keys change in the same write, so tombstones, former
memberships and answered invites are never read by the lists that do not show them.

Items are seeded through the domain code with the workflows not started, then moved to the
status wanted through tenantry.dal.projects.transition, as the workflows do
(tests/integration/lists.py): the lists see exactly the items a real run leaves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import list_all, make_user
from tests.integration.lists import move_membership, reads, seed_project

ZERO = timedelta()


def statuses_read(found: Any) -> list[str]:
    return [i["status"] for i in found.items("project")]


# --- projects: the admin's lists ----------------------------------------------------------


def test_the_admins_default_list_reads_no_tombstone(api: Api, admin_token: str) -> None:
    for i in range(12):  # sorted before the live ones
        seed_project("owner-a", f"a-dead-{i:02d}", "deleted")
    live = {f"z-live-{i}" for i in range(3)}
    for pid in live:
        seed_project("owner-a", pid)

    with reads(api) as found:
        r = api.get("/projects", token=admin_token, query={"limit": 5})
    assert r.status == 200, r
    assert {p["id"] for p in r.json()["items"]} == live and r.json()["next_cursor"] is None, r
    assert "deleted" not in statuses_read(found), statuses_read(found)
    assert found.ops() == ["Query"], found.ops()

    assert {p["id"] for p in list_all(api, admin_token, state="deleted", limit=5)} == {
        f"a-dead-{i:02d}" for i in range(12)
    }


def test_the_admins_status_filter_reads_only_that_status(api: Api, admin_token: str) -> None:
    for i in range(10):
        seed_project("owner-s", f"a-active-{i:02d}")
    seed_project("owner-s", "b-suspended", "suspended")
    seed_project("owner-s", "c-failed", "failed")

    for state, expected in (("suspended", {"b-suspended"}), ("failed", {"c-failed"})):
        with reads(api) as found:
            r = api.get("/projects", token=admin_token, query={"state": state, "limit": 3})
        assert r.status == 200, r
        assert {p["id"] for p in r.json()["items"]} == expected, r
        assert r.json()["next_cursor"] is None, r
        assert set(statuses_read(found)) == {state}, statuses_read(found)
        assert found.ops() == ["Query"], found.ops()

    # a status change moves the project between the status partitions in the same write
    r = api.post("/projects/b-suspended/actions", token=admin_token, json={"action": "unsuspend"})
    assert r.status == 200, r
    assert list_all(api, admin_token, state="suspended") == []
    active = {p["id"] for p in list_all(api, admin_token, state="active", limit=4)}
    assert active == {f"a-active-{i:02d}" for i in range(10)} | {"b-suspended"}


def test_an_owners_list_reads_no_tombstone(api: Api, admin_token: str) -> None:
    owner, _ = make_user(api, admin_token, "Owner")
    for i in range(8):
        seed_project(owner["id"], f"a-gone-{i}", "deleted")
    seed_project(owner["id"], "b-kept")
    seed_project("someone-else", "b-other")

    with reads(api) as found:
        r = api.get("/projects", token=admin_token, query={"owner": owner["id"], "limit": 2})
    assert r.status == 200, r
    assert [p["id"] for p in r.json()["items"]] == ["b-kept"], r
    assert r.json()["next_cursor"] is None, r
    assert statuses_read(found) == ["active"], statuses_read(found)

    gone = list_all(api, admin_token, owner=owner["id"], state="deleted", limit=3)
    assert {p["id"] for p in gone} == {f"a-gone-{i}" for i in range(8)}
    assert list_all(api, admin_token, owner=owner["id"], state="suspended") == []


# --- memberships: current ones in the lists that show only those --------------------------


def member_states_read(found: Any) -> list[str]:
    return [i["state"] for i in found.items("member")]


def test_a_users_project_list_reads_no_formermove_membership(api: Api, admin_token: str) -> None:
    user, token = make_user(api, admin_token, "Member")
    for i in range(10):  # sorted before the current ones
        seed_project("owner-f", f"a-former-{i:02d}")
        move_membership(f"a-former-{i:02d}", user["id"], "enroll", "remove")
    for pid in ("z-current-1", "z-current-2"):
        seed_project("owner-f", pid)
        move_membership(pid, user["id"], "enroll")

    with reads(api) as found:
        r = api.get("/projects", token=token, query={"limit": 4})
    assert r.status == 200, r
    assert [p["id"] for p in r.json()["items"]] == ["z-current-1", "z-current-2"], r
    assert r.json()["next_cursor"] is None, r
    assert set(member_states_read(found)) == {"accepted"}, member_states_read(found)
    assert found.ops() == ["Query", "BatchGetItem"], found.ops()

    # the user's own memberships still list every one of them, former ones included
    mine = list_all(api, token, "/memberships", limit=5)
    assert sorted(m["state"] for m in mine) == ["accepted"] * 2 + ["removed"] * 10, mine
    # a membership made current again is listed again
    move_membership("a-former-03", user["id"], "enroll")
    ids = [p["id"] for p in list_all(api, token, limit=2)]
    assert ids == ["a-former-03", "z-current-1", "z-current-2"], ids


def test_a_projects_members_list_reads_no_former_member_for_non_managers(
    api: Api, admin_token: str
) -> None:
    owner, owner_token = make_user(api, admin_token, "Owner")
    viewer, viewer_token = make_user(api, admin_token, "Viewer")
    seed_project(owner["id"], "club")
    for i in range(10):  # made-up user ids, sorted before any uuid
        move_membership("club", f"0-former-{i:02d}", "enroll", "remove")
    move_membership("club", viewer["id"], "enroll")
    current = {owner["id"], viewer["id"]}

    for path in ("/projects/club/members", "/memberships?project_id=club"):
        with reads(api) as found:
            r = api.get(path, token=viewer_token, query={"limit": 3})
        assert r.status == 200, r
        assert {m["user_id"] for m in r.json()["items"]} == current, r
        assert r.json()["next_cursor"] is None, r
        assert set(member_states_read(found)) == {"accepted"}, member_states_read(found)

    # the project's managers see every membership, former ones included
    everyone = list_all(api, owner_token, "/projects/club/members", limit=4)
    assert len(everyone) == 12 and {m["state"] for m in everyone} == {"accepted", "removed"}


# --- invites: pending and unexpired ones only -----------------------------------------------


def test_the_pending_invites_list_reads_no_answered_or_expired_invite(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tenantry.domain.invites as invites_domain

    guest, guest_token = make_user(api, admin_token, "Guest")
    r = api.post("/orgs", token=admin_token, json={"name": "Inviters"})
    assert r.status == 201, r
    org_id = r.json()["id"]

    def invite() -> str:
        body = {"emails": [guest["email"]], "roles": ["member"], "expire_days": 1}
        r = api.put(f"/orgs/{org_id}/invites", token=admin_token, json=body)
        assert r.status == 201, r
        return str(r.json()["items"][0]["id"])

    real_now = invites_domain.now_iso
    with monkeypatch.context() as m:  # sent ten days ago, for a day: expired
        m.setattr(
            invites_domain, "now_iso", lambda d=None: real_now(timedelta(days=-10) + (d or ZERO))
        )
        expired = [invite() for _ in range(4)]
    for invite_id in [invite() for _ in range(8)]:  # revoked
        assert api.delete(f"/invites/{invite_id}", token=admin_token).status == 204
    pending = {invite() for _ in range(2)}

    with reads(api) as found:
        r = api.get("/invites", token=guest_token, query={"limit": 5})
    assert r.status == 200, r
    assert {i["id"] for i in r.json()["items"]} == pending and r.json()["next_cursor"] is None, r
    read = found.items("invite")
    assert {i["id"] for i in read} == pending, [(i["status"], i["expires_at"]) for i in read]
    assert found.ops() == ["Query"], found.ops()
    assert not set(expired) & {i["id"] for i in read}


# --- filters that stay after the Query: pages filled from a bounded budget ------------------


def test_an_applicants_state_filter_fills_its_page_from_the_budget(
    api: Api, admin_token: str
) -> None:
    """?state= on the applicant's own list (and on a project's) is applied to what is read;
    a page keeps reading (up to the budget) rather than answering the first Query's
    leftovers: here 3 replaced applications come before the pending one."""
    owner, token = make_user(api, admin_token, "Applicant")
    seed_project(owner["id"], "governed")
    for n in range(4):  # each replaces the one before: 3 replaced, then 1 pending
        r = api.patch("/projects/governed", token=token, json={"max_members": 10 + n})
        assert r.status == 202, r
    for query in ({"state": "pending"}, {"state": "pending", "project_id": "governed"}):
        r = api.get("/applications", token=token, query={**query, "limit": 1})
        assert r.status == 200, r
        items = r.json()["items"]
        assert [(i["state"], i["changes"]) for i in items] == [("pending", {"max_members": 13})], (
            query,
            r,
        )
