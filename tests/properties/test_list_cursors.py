"""Following a list's cursors yields every match exactly once, whatever is written between
pages (issue 7, item 5; docs/api.md "Lists and cursors"), property-tested through HTTP.

Each example is a fresh emulated stack with random projects (two owners, every status,
overlapping names and labels) and a user who is a member of some of them. It draws a
GET /projects list (the platform admin's or the member's, with a random status, owner,
name prefix, label selector, mode, field selector, keyword (filter_by) and sort) and a small
page size, then follows next_cursor to the end while, between pages, projects are created,
change status (deleted included), change labels, and the user joins and leaves them. Reads go through the API; the writes
go through the same dal writes the routes and workflows use (tests/integration/lists.py),
without running workflows.

Over the pages:
- no project is returned twice;
- every project that matched the list at every moment (before the first page and after
  each write) is returned;
- every project returned matched at some moment;
- no page holds more than `limit` items, and only the last page has no cursor;
- the projects come in the order asked for (sort_by: by id or by creation time, either
  way), across pages.
The filters include ones no index serves (name, label selector, status and owner for the
member), so with small pages the read budget runs out and pages come back short or empty
with a cursor: those must still lose nothing.

Which projects match is decided by tenantry.domain.selectors.ProjectFilter.matches (the
one definition of "matches") on the model's projects, plus who sees what: the admin every
project, the member the projects of their current memberships.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tenantry.domain.selectors import (
    PROJECT_FIELDS,
    ProjectFilter,
    parse_field_selector,
    parse_label_selector,
)
from tests.harness import Api, emulated, ensure_test_admin
from tests.integration.lists import move_membership, move_project, relabel, seed_project
from tests.properties import new_user

STATUSES = ("creating", "active", "suspended", "failed", "terminated", "deleted")
OWNERS = ("owner-a", "owner-b")
LABELS = ({}, {"tier": "web"}, {"tier": "db"}, {"tier": "web", "team": "core"}, {"team": "x"})
PREFIXES = ("a", "ab", "b", "ba")  # project ids (and names) start with these: they interleave
SELECTORS = (None, "tier=web", "team", "!team", "tier!=db")
DESCRIPTIONS = ("", "Card payments", "the LEDGER", "payments ledger")
KEYWORDS = (None, "pay", "LEDGER", "a-0", "zzz")  # a-0: in names a-000 to a-009
PHASE_SELECTORS = (None, "status.phase!=deleted", "status.phase=active", "status.phase!=active")
SORTS = (None, "name", "-name", "created_at", "-created_at")
MAX_PAGES = 200


@dataclass
class Model:
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    membership: dict[str, str] = field(default_factory=dict)  # project -> the member's state

    def visible(self, project_id: str, as_admin: bool, flt: ProjectFilter) -> bool:
        if as_admin:
            return True
        wanted = ("accepted",) if flt.mode == "member" else ("accepted", "leave_requested")
        return self.membership.get(project_id) in wanted

    def matches(self, as_admin: bool, flt: ProjectFilter) -> set[str]:
        return {
            pid
            for pid, project in self.projects.items()
            if self.visible(pid, as_admin, flt) and flt.matches(project)
        }


class World:
    def __init__(self, api: Api, member_id: str) -> None:
        self.api, self.member_id = api, member_id
        self.model = Model()
        self.ids = itertools.count()
        self.log: list[str] = []

    def create(
        self,
        prefix: str,
        owner: str,
        status: str,
        labels: dict[str, str],
        join: bool,
        description: str = "",
    ):
        from tenantry.dal import projects as store

        pid = f"{prefix}-{next(self.ids):03d}"
        seed_project(
            owner,
            pid,
            "active" if join else status,
            name=pid,
            labels=labels,
            description=description,
        )
        if join:  # memberships grow only while the project is active
            move_membership(pid, self.member_id, "enroll")
            self.model.membership[pid] = "accepted"
            if status != "active":
                move_project(pid, status)
        self.model.projects[pid] = {
            "id": pid,
            "name": pid,
            "description": description,
            "owner_id": owner,
            "status": status,
            "labels": labels,
            "created_at": store.get(pid)["created_at"],  # type: ignore[index]
        }
        self.log.append(f"create {pid} {owner} {status} {labels} join={join}")

    def move(self, pid: str, status: str) -> None:
        move_project(pid, status)
        self.model.projects[pid]["status"] = status
        self.log.append(f"move {pid} -> {status}")

    def relabel(self, pid: str, labels: dict[str, str]) -> None:
        relabel(pid, labels)
        self.model.projects[pid]["labels"] = labels
        self.log.append(f"relabel {pid} {labels}")

    def toggle_membership(self, pid: str) -> None:
        action = "remove" if self.model.membership.get(pid) == "accepted" else "enroll"
        move_membership(pid, self.member_id, action)
        self.model.membership[pid] = "removed" if action == "remove" else "accepted"
        self.log.append(f"{action} member of {pid}")


def _write(world: World, data: st.DataObject) -> None:
    live = sorted(p for p, v in world.model.projects.items() if v["status"] != "deleted")
    active = sorted(p for p, v in world.model.projects.items() if v["status"] == "active")
    kinds = ["create"] + (["move", "relabel"] if live else []) + (["member"] if active else [])
    kind = data.draw(st.sampled_from(kinds))
    if kind == "create":
        world.create(
            data.draw(st.sampled_from(PREFIXES)),
            data.draw(st.sampled_from(OWNERS)),
            data.draw(st.sampled_from(STATUSES)),
            data.draw(st.sampled_from(LABELS)),
            data.draw(st.booleans()),
            data.draw(st.sampled_from(DESCRIPTIONS)),
        )
    elif kind == "move":
        pid = data.draw(st.sampled_from(live))
        current = world.model.projects[pid]["status"]
        world.move(pid, data.draw(st.sampled_from([s for s in STATUSES if s != current])))
    elif kind == "relabel":
        world.relabel(data.draw(st.sampled_from(live)), data.draw(st.sampled_from(LABELS)))
    else:
        world.toggle_membership(data.draw(st.sampled_from(active)))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no shrinking: a step is several writes and requests; the failing run is printed
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
@given(data=st.data())
def test_following_cursors_returns_every_match_exactly_once(data: st.DataObject) -> None:
    with emulated() as api:
        admin = ensure_test_admin()
        member_id, _, member_token = new_user(api, admin, "member")
        world = World(api, member_id)
        for _ in range(data.draw(st.integers(4, 24), label="projects")):
            world.create(
                data.draw(st.sampled_from(PREFIXES)),
                data.draw(st.sampled_from(OWNERS)),
                data.draw(st.sampled_from(STATUSES)),
                data.draw(st.sampled_from(LABELS)),
                data.draw(st.booleans()),
                data.draw(st.sampled_from(DESCRIPTIONS)),
            )

        as_admin = data.draw(st.booleans(), label="as admin")
        query = {
            "state": data.draw(st.sampled_from((None, None, *STATUSES)), label="state"),
            "owner": data.draw(st.sampled_from((None, None, *OWNERS)), label="owner"),
            "name": data.draw(st.sampled_from((None, None, *PREFIXES)), label="name"),
            "label_selector": data.draw(st.sampled_from(SELECTORS), label="selector"),
            "mode": "default" if as_admin else data.draw(st.sampled_from(("default", "member"))),
            "limit": data.draw(st.integers(1, 4), label="limit"),
            "field_selector": _field_selector(data, sorted(world.model.projects)),
            "filter_by": data.draw(st.sampled_from(KEYWORDS), label="filter_by"),
            "sort_by": data.draw(st.sampled_from(SORTS), label="sort_by"),
        }
        query = {k: v for k, v in query.items() if v is not None}
        flt = ProjectFilter(
            state=query.get("state"),
            owner=query.get("owner"),
            name=query.get("name"),
            mode=query["mode"],
            labels=parse_label_selector(query.get("label_selector")),
            fields=parse_field_selector(query.get("field_selector"), PROJECT_FIELDS),
            keyword=query.get("filter_by"),
            sort=query.get("sort_by") or "name",
        )
        token = admin if as_admin else member_token
        if as_admin and flt.by_created and flt.phase == "deleted" and not flt.impossible:
            # tombstones have no creation order in the platform's list: refused, naming it
            r = api.get("/projects", token=token, query=query)
            assert r.status == 400 and r.json()["errors"][0]["loc"] == ["query", "sort_by"], r
            return

        snapshots = [world.model.matches(as_admin, flt)]
        returned: list[str] = []
        cursor = None
        for _ in range(MAX_PAGES):
            r = api.get(
                "/projects", token=token, query={**query, "cursor": cursor} if cursor else query
            )
            assert r.status == 200, r
            body = r.json()
            ids = [p["id"] for p in body["items"]]
            assert len(ids) <= query["limit"], (body, world.log)
            returned.extend(ids)
            world.log.append(f"page {ids} cursor={bool(body['next_cursor'])}")
            cursor = body["next_cursor"]
            if cursor is None:
                break
            for _ in range(data.draw(st.integers(0, 3), label="writes")):
                _write(world, data)
                snapshots.append(world.model.matches(as_admin, flt))
        else:
            raise AssertionError(f"no end after {MAX_PAGES} pages: {world.log}")

        context = (query, "\n".join(world.log))
        assert len(returned) == len(set(returned)), ("returned twice", returned, context)
        projects = world.model.projects
        order = [(projects[p]["created_at"], p) if flt.by_created else (p,) for p in returned]
        assert order == sorted(order, reverse=flt.reverse), ("out of order", order, context)
        throughout = set.intersection(*snapshots)
        assert throughout <= set(returned), ("missed", throughout - set(returned), context)
        ever = set.union(*snapshots)
        assert set(returned) <= ever, ("never matched", set(returned) - ever, context)


def _field_selector(data: st.DataObject, ids: list[str]) -> str | None:
    """A field selector: on the status, on an existing project's id, both, or none."""
    terms = [data.draw(st.sampled_from(PHASE_SELECTORS), label="phase selector")]
    if ids and data.draw(st.booleans(), label="by name"):
        op = data.draw(st.sampled_from(("=", "!=")), label="name op")
        terms.append(f"metadata.name{op}{data.draw(st.sampled_from(ids), label='name')}")
    kept = [t for t in terms if t]
    return ",".join(kept) if kept else None
