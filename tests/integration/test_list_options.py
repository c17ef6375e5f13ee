"""Kubernetes-style list options on the project lists and the namespace list (issue 10,
item 6): `field_selector`, `sort_by` and `filter_by` beside `label_selector`, `limit` and
`cursor`. What each answers, what it reads (an index or a key, never a Scan, and the
tombstones and former memberships nobody asked for never read), which cursor it takes,
and the 400 naming the option it cannot serve.

Projects are seeded through the domain code with the workflows not started and moved to
their status as the workflows do (tests/integration/lists.py). They are created in an
order unlike their ids', so a sort by creation and one by id differ."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import assert_problem, list_all, make_user
from tests.integration.lists import move_membership, reads, seed_project

# (id, status, description), in creation order
SEEDED = (
    ("c-gamma", "active", "Card payments"),
    ("a-alpha", "active", "Ledger of PAYMENTS"),
    ("e-epsilon", "deleted", "Payments, gone"),
    ("b-beta", "suspended", "Search"),
    ("d-delta", "active", ""),
)
LIVE = [pid for pid, status, _ in SEEDED if status != "deleted"]


@pytest.fixture
def seeded(api: Api, admin_token: str) -> dict[str, Any]:
    """SEEDED, owned by `owner`, and a member of all of them but b-beta (a former
    membership) and e-epsilon (never)."""
    owner, owner_token = make_user(api, admin_token, "Owner")
    member, member_token = make_user(api, admin_token, "Member")
    for pid, status, description in SEEDED:
        seed_project(owner["id"], pid, name=pid.title(), description=description)
        if pid != "e-epsilon":
            move_membership(pid, member["id"], "enroll")
        if pid == "b-beta":
            move_membership(pid, member["id"], "remove")
        if status != "active":
            from tests.integration.lists import move_project

            move_project(pid, status)
    return {"owner": owner, "owner_token": owner_token, "member": member, "token": member_token}


def ids(api: Api, token: str, path: str = "/projects", **query: Any) -> list[str]:
    return [p["id"] for p in list_all(api, token, path, **query)]


def page(api: Api, token: str, path: str = "/projects", **query: Any) -> dict[str, Any]:
    r = api.get(path, token=token, query=query)
    assert r.status == 200, r
    body: dict[str, Any] = r.json()
    return body


# --- sort_by ---------------------------------------------------------------------------------


def test_sort_by_name_and_creation_either_way(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    by_id, by_creation = sorted(LIVE), LIVE
    for token, expected_ids in ((admin_token, by_id), (seeded["owner_token"], by_id)):
        assert ids(api, token) == expected_ids
        assert ids(api, token, sort_by="name", limit=2) == expected_ids
        assert ids(api, token, sort_by="-name", limit=2) == expected_ids[::-1]
    for token in (admin_token, seeded["owner_token"]):
        assert ids(api, token, sort_by="created_at", limit=2) == by_creation
        assert ids(api, token, sort_by="-created_at", limit=2) == by_creation[::-1]
    # the member: current memberships only (b-beta's ended), in either order
    mine = [p for p in LIVE if p != "b-beta"]
    assert ids(api, seeded["token"], sort_by="created_at", limit=1) == mine
    assert ids(api, seeded["token"], sort_by="-name", limit=3) == sorted(mine, reverse=True)
    # what an admin sees as that user: the same list
    path = f"/users/{seeded['member']['id']}/projects"
    assert ids(api, admin_token, path, sort_by="-created_at") == mine[::-1]


def test_sort_by_creation_reads_an_index_in_that_order(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    """The admin's list: one Query of GSI1T (live projects only: no tombstone read) and a
    BatchGetItem of the rows of the page; the member's: GSI1T of their current
    memberships (the former one not read) and the projects."""
    with reads(api) as found:
        body = page(api, admin_token, sort_by="-created_at", limit=2)
    assert [p["id"] for p in body["items"]] == LIVE[::-1][:2] and body["next_cursor"], body
    assert found.ops() == ["Query", "BatchGetItem"], found.ops()
    (query,) = found.queries()
    assert query.params["IndexName"] == "GSI1T" and query.params["ScanIndexForward"] is False
    assert [i["id"] for i in query.items] == LIVE[::-1][:2], query.items
    assert {i["status"] for i in query.items} <= {"active", "suspended"}

    with reads(api) as found:
        body = page(api, seeded["token"], sort_by="created_at", limit=5)
    assert [p["id"] for p in body["items"]] == ["c-gamma", "a-alpha", "d-delta"], body
    assert body["next_cursor"] is None, body
    assert found.ops() == ["Query", "BatchGetItem"], found.ops()
    member_rows = found.queries()[0].items
    assert {i["state"] for i in member_rows} == {"accepted"}, member_rows


def test_a_cursor_is_bound_to_its_sort(api: Api, admin_token: str, seeded: dict[str, Any]) -> None:
    cursor = page(api, admin_token, sort_by="created_at", limit=1)["next_cursor"]
    assert cursor
    follow = page(api, admin_token, sort_by="created_at", limit=1, cursor=cursor)
    assert [p["id"] for p in follow["items"]] == [LIVE[1]], follow
    for other in ({"sort_by": "-created_at"}, {"sort_by": "name"}, {}, {"filter_by": "x"}):
        r = api.get("/projects", token=admin_token, query={**other, "limit": 1, "cursor": cursor})
        assert_problem(r, 400, "bad-request", loc=["query", "cursor"])


def test_deleted_projects_have_no_creation_order_for_admins(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    for query in (
        {"state": "deleted", "sort_by": "created_at"},
        {"field_selector": "status.phase=deleted", "sort_by": "-created_at"},
        {"owner": seeded["owner"]["id"], "state": "deleted", "sort_by": "created_at"},
    ):
        r = api.get("/projects", token=admin_token, query=query)
        body = assert_problem(r, 400, "bad-request", loc=["query", "sort_by"])
        assert "name" in body["errors"][0]["msg"], body
    assert ids(api, admin_token, state="deleted", sort_by="-name") == ["e-epsilon"]
    # an owner's own list (their memberships) does sort their tombstones by creation
    assert ids(api, seeded["owner_token"], state="deleted", sort_by="created_at") == ["e-epsilon"]


# --- field_selector ----------------------------------------------------------------------------


def test_metadata_name_is_one_project_read_by_key(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    with reads(api) as found:
        body = page(api, admin_token, field_selector="metadata.name=b-beta")
    assert [p["id"] for p in body["items"]] == ["b-beta"] and body["next_cursor"] is None
    assert found.ops() == [], found.ops()  # one GetItem, no list read
    assert page(api, admin_token, field_selector="metadata.name==e-epsilon")["items"] == []
    deleted = page(api, admin_token, field_selector="metadata.name=e-epsilon,status.phase=deleted")
    assert [p["id"] for p in deleted["items"]] == ["e-epsilon"], deleted

    with reads(api) as found:  # the member: the project and their member item, one batch
        body = page(api, seeded["token"], field_selector="metadata.name=a-alpha")
    assert [p["id"] for p in body["items"]] == ["a-alpha"], body
    assert found.ops() == ["BatchGetItem"], found.ops()
    # a project they are no longer (or never were) a member of is not in their list
    for pid in ("b-beta", "e-epsilon", "no-such-project"):
        assert page(api, seeded["token"], field_selector=f"metadata.name={pid}")["items"] == []
    # with other filters, all must hold
    assert (
        page(api, admin_token, field_selector="metadata.name=a-alpha", filter_by="search")["items"]
        == []
    )


def test_metadata_name_and_status_phase_exclusions(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    assert ids(api, admin_token, field_selector="metadata.name!=a-alpha", limit=2) == [
        "b-beta",
        "c-gamma",
        "d-delta",
    ]
    assert ids(api, admin_token, field_selector="status.phase!=active") == ["b-beta"]
    assert ids(api, admin_token, field_selector="status.phase!=deleted") == sorted(LIVE)
    assert ids(
        api, admin_token, field_selector="status.phase!=suspended, metadata.name!=c-gamma"
    ) == ["a-alpha", "d-delta"]
    assert ids(api, seeded["token"], field_selector="status.phase!=active") == []


def test_status_phase_is_served_as_state(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    with reads(api) as found:
        body = page(api, admin_token, field_selector="status.phase=suspended")
    assert [p["id"] for p in body["items"]] == ["b-beta"], body
    (query,) = found.queries()  # the status partition: nothing else read
    assert query.params["IndexName"] == "GSI3", query.params
    assert [i["status"] for i in query.items] == ["suspended"]
    both = page(api, admin_token, state="suspended", field_selector="status.phase==suspended")
    assert [p["id"] for p in both["items"]] == ["b-beta"], both

    with reads(api) as found:  # contradictions: nothing can match, nothing is read
        for query_ in (
            {"state": "active", "field_selector": "status.phase=suspended"},
            {"field_selector": "status.phase=active,status.phase!=active"},
            {"field_selector": "metadata.name=a-alpha,metadata.name=b-beta"},
            {"mode": "member", "field_selector": "status.phase=failed"},
        ):
            assert page(api, admin_token, **query_) == {"items": [], "next_cursor": None}
    assert found.ops() == [], found.ops()


# --- filter_by ---------------------------------------------------------------------------------


def test_filter_by_matches_name_or_description_ignoring_case(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    assert ids(api, admin_token, filter_by="payments") == ["a-alpha", "c-gamma"]
    assert ids(api, admin_token, filter_by="PAYMENTS", state="deleted") == ["e-epsilon"]
    assert ids(api, admin_token, filter_by="ALPHA") == ["a-alpha"]  # the name, A-Alpha
    assert ids(api, admin_token, filter_by="lta") == ["d-delta"]
    assert ids(api, admin_token, filter_by="payments", sort_by="-created_at") == [
        "a-alpha",
        "c-gamma",
    ]
    assert ids(api, seeded["token"], filter_by="search") == []  # b-beta: a former membership
    assert ids(api, seeded["owner_token"], filter_by="search") == ["b-beta"]
    assert ids(api, admin_token, filter_by="") == sorted(LIVE)
    assert ids(api, admin_token, filter_by="nowhere") == []


def test_filtered_pages_stay_within_the_read_budget(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    """A filter no index serves is applied to what a page reads: at most
    MAX_READS_PER_PAGE Query calls of `limit` rows, then a cursor (docs/api.md)."""
    from tenantry.pagination import MAX_READS_PER_PAGE

    for i in range(12):
        seed_project("owner-x", f"f-filler-{i:02d}", name="Filler", description="nothing")
    with reads(api) as found:
        body = page(api, admin_token, filter_by="zzz-no-match", limit=2, sort_by="-created_at")
    assert body["items"] == [] and body["next_cursor"], body
    assert len(found.queries()) == MAX_READS_PER_PAGE, found.ops()
    assert sum(len(q.items) for q in found.queries()) <= MAX_READS_PER_PAGE * 2
    assert ids(api, admin_token, filter_by="zzz-no-match", limit=2) == []  # to the end


# --- bad input and wrong callers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "loc", "names"),
    [
        ({"field_selector": "spec.owner=x"}, "field_selector", "spec.owner"),
        ({"field_selector": "metadata.labels=x"}, "field_selector", "metadata.labels"),
        ({"field_selector": "status.phase=Active"}, "field_selector", "status.phase"),
        ({"field_selector": "metadata.name=Not_A_Name"}, "field_selector", "metadata.name"),
        ({"field_selector": "metadata.name"}, "field_selector", "metadata.name"),
        ({"field_selector": "metadata.name=x,"}, "field_selector", "''"),
        ({"sort_by": "updated_at"}, "sort_by", "updated_at"),
        ({"sort_by": "+name"}, "sort_by", "+name"),
    ],
)
def test_what_a_list_cannot_serve_is_400_naming_it(
    api: Api, admin_token: str, query: dict[str, str], loc: str, names: str
) -> None:
    for path in ("/projects", "/projects/any-project/clusters/edge/namespaces"):
        r = api.get(path, token=admin_token, query=query)
        body = assert_problem(r, 400, "bad-request", loc=["query", loc])
        assert names in body["detail"], body


def test_long_options_are_refused(api: Api, admin_token: str) -> None:
    r = api.get("/projects", token=admin_token, query={"filter_by": "x" * 129})
    assert_problem(r, 422, "validation", loc=["query", "filter_by"])


def test_the_options_never_widen_what_a_caller_sees(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    stranger, token = make_user(api, admin_token, "Stranger")
    for query in (
        {"field_selector": "metadata.name=a-alpha"},
        {"filter_by": "payments"},
        {"sort_by": "-created_at"},
        {"field_selector": "status.phase=deleted", "sort_by": "created_at"},
    ):
        assert page(api, token, **query)["items"] == [], query
    r = api.get(
        f"/users/{seeded['member']['id']}/projects",
        token=token,
        query={"sort_by": "created_at"},
    )
    assert_problem(r, 403, "forbidden")
    r = api.get(f"/users/{stranger['id']}x/projects", token=admin_token, query={"sort_by": "name"})
    assert_problem(r, 404, "not-found")


# --- the namespace list ------------------------------------------------------------------------


@pytest.fixture
def edge(api: Api, admin_token: str) -> dict[str, Any]:
    """Cluster `edge`, project `edgy` naming it (its namespace not asked for yet: Pending),
    project `ready` whose namespace on it was Created, and a member of `ready`."""
    from tenantry.clock import now_iso
    from tenantry.dal import namespaces, table

    r = api.post("/clusters", token=admin_token, json={"name": "edge"})
    assert r.status == 201, r
    cluster = {"name": "edge", "id": r.json()["id"]}
    seed_project("owner-n", "edgy", description="Edge services", clusters=["edge"])
    seed_project("owner-n", "ready", description="Ready ones", clusters=["edge"])
    table.transact(namespaces.ask("ready", cluster, "Pending", now_iso(), None))
    record = {"PK": "PROJECT#ready", "cluster": "edge", "cluster_id": cluster["id"]}
    table.transact(namespaces.settle(record, "Created", None, now_iso(), when=("Pending",)))
    member, token = make_user(api, admin_token, "Reader")
    move_membership("ready", member["id"], "enroll")
    return {"token": token}


def ns(api: Api, token: str, pid: str, **query: Any) -> list[str]:
    r = api.get(f"/projects/{pid}/clusters/edge/namespaces", token=token, query=query)
    assert r.status == 200, r
    assert r.json()["next_cursor"] is None, r
    return [f"{n['name']}:{n['status']}" for n in r.json()["items"]]


def test_namespace_list_options(api: Api, admin_token: str, edge: dict[str, Any]) -> None:
    token = edge["token"]
    assert ns(api, token, "ready") == ["ready:Created"]
    r = api.get("/projects/ready/clusters/edge/namespaces", token=token)
    assert r.json()["items"][0]["labels"] == {"tenantry.io/project": "ready"}, r
    for query, expected in (
        ({"field_selector": "status.phase=Created"}, ["ready:Created"]),
        ({"field_selector": "status.phase!=Created"}, []),
        ({"field_selector": "status.phase=Pending"}, []),
        ({"field_selector": "metadata.name=ready,status.phase!=Failed"}, ["ready:Created"]),
        ({"field_selector": "metadata.name!=ready"}, []),
        ({"label_selector": "tenantry.io/project=ready"}, ["ready:Created"]),
        ({"label_selector": "tenantry.io/project!=ready"}, []),
        ({"filter_by": "READY ONES"}, ["ready:Created"]),  # its project's description
        ({"filter_by": "edge"}, []),
        ({"sort_by": "-created_at", "limit": 1}, ["ready:Created"]),
    ):
        assert ns(api, token, "ready", **query) == expected, query
    # a namespace not asked for yet is Pending, and selected as such
    assert ns(api, admin_token, "edgy", field_selector="status.phase=Pending") == ["edgy:Pending"]
    assert ns(api, admin_token, "edgy", filter_by="edge services") == ["edgy:Pending"]


def test_namespace_list_refusals(api: Api, admin_token: str, edge: dict[str, Any]) -> None:
    token = edge["token"]
    path = "/projects/ready/clusters/edge/namespaces"
    r = api.get(path, token=token, query={"field_selector": "status.phase=active"})
    assert_problem(r, 400, "bad-request", loc=["query", "field_selector"])
    r = api.get(path, token=token, query={"cursor": "bm90LWEtY3Vyc29y"})
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    r = api.get(path, token=token, query={"label_selector": "a b"})
    assert_problem(r, 400, "bad-request", loc=["query", "label_selector"])
    # a caller who may not see the project, and a cluster it never named: 404
    r = api.get("/projects/edgy/clusters/edge/namespaces", token=token, query={"sort_by": "name"})
    assert_problem(r, 404, "not-found")
    r = api.get("/projects/ready/clusters/west/namespaces", token=token)
    assert_problem(r, 404, "not-found")


# --- items written before GSI1T existed ----------------------------------------------------------


def test_older_items_get_their_creation_order_from_the_backfill(
    api: Api, admin_token: str, seeded: dict[str, Any]
) -> None:
    """Items without GSI1TSK (as written before GSI1T existed) are missing from the lists
    sorted by created_at until local.backfill_created_order has run; then they are in
    place, and running it again writes nothing."""
    from tenantry.dal import keys, table
    from tenantry.dal.projects import backfill_created_order

    member_id = seeded["member"]["id"]
    for key in (keys.project("a-alpha"), keys.member("a-alpha", member_id)):
        table.update(key, "REMOVE GSI1TSK, project_created_at")
    assert "a-alpha" not in ids(api, admin_token, sort_by="created_at")
    assert "a-alpha" not in ids(api, seeded["token"], sort_by="created_at")

    # a-alpha, and the member's membership (the owner's kept its place)
    assert backfill_created_order(batch=2) == (1, 1)
    assert ids(api, admin_token, sort_by="created_at") == LIVE
    assert ids(api, seeded["token"], sort_by="-created_at") == ["d-delta", "a-alpha", "c-gamma"]
    assert backfill_created_order() == (0, 0)
