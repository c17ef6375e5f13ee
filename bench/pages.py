"""Measurement 5 (pages): DynamoDB reads per page for each list filter, with 100 and with
10,000 items in the list's partition (issue 7, "What must exist").

For each size, a fresh emulated stack (tests.harness.emulated) is seeded with `size` items
per list, in a fixed mix of states, with the application's own item builders (bench/seed.py
for projects; tenantry.dal's member_item, invites.put_op and applications.put_op for the
rest) written with batch_writer:

- projects `p-<i>` of one owner: 80 % active, 5 % suspended, 5 % failed, 10 % deleted;
  1 % named `rare-...`, 1 % labelled tier=web;
- a member of all of them, whose membership is current in 70 % (removed in 30 %, the
  deleted projects among the current ones);
- project `club` with `size` members, 70 % current, 30 % removed;
- `size` invites to one address: 20 % pending, 40 % revoked, 40 % expired;
- `size` applications of one applicant on project `governed`: 10 % pending, 60 %
  approved, 30 % denied.

Then each list below is followed through the emulated API (authorizer and handler), page
by page (limit 25, up to PAGES pages), counting the Query and BatchGetItem calls of each
page and the items they returned (none of these lists uses a FilterExpression, so that is
what was read). "served" says how the filter is applied: `index` when the partition read
holds exactly the matches (a page reads only what it returns), `budget` when the filter is
applied to what is read, within tenantry.pagination.MAX_READS_PER_PAGE rounds.

Targets: an `index` list reads only what it returns, one Query per page, at both sizes; a
`budget` list never makes more than MAX_READS_PER_PAGE Query calls per page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

from bench.common import BenchError, Check, progress
from bench.seed import created_items, moved, provisioned
from bench.walk import quiet

SIZES = (100, 10_000)
LIMIT = 25
PAGES = 4
OWNER = "bench-owner"


@dataclass(frozen=True)
class Case:
    who: str  # whose token: admin, member, viewer, owner, invitee
    path: str
    query: tuple[tuple[str, str], ...] = ()
    served: str = "index"  # index | budget

    @property
    def label(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query)
        return f"GET {self.path}{'?' + q if q else ''} [{self.who}]"


CASES = (
    Case("admin", "/projects"),
    Case("admin", "/projects", (("state", "suspended"),)),
    Case("admin", "/projects", (("state", "deleted"),)),
    Case("admin", "/projects", (("owner", OWNER),)),
    Case("admin", "/projects", (("owner", OWNER), ("state", "suspended")), "budget"),
    Case("admin", "/projects", (("name", "rare"),), "budget"),
    Case("admin", "/projects", (("label_selector", "tier=web"),), "budget"),
    Case("member", "/projects", (), "budget"),  # tombstones among current memberships
    Case("member", "/projects", (("state", "suspended"),), "budget"),
    Case("member", "/projects", (("label_selector", "tier=web"),), "budget"),
    Case("member", "/projects", (("mode", "member"),), "budget"),
    Case("member", "/memberships"),
    Case("viewer", "/projects/club/members"),
    Case("owner", "/projects/club/members"),
    Case("invitee", "/invites"),
    Case("admin", "/applications"),
    Case("admin", "/applications", (("state", "denied"),)),
    Case("owner", "/applications", (("state", "pending"),), "budget"),
    Case("owner", "/applications", (("project_id", "governed"), ("state", "pending")), "budget"),
)


@dataclass
class PageReads:
    queries: int = 0
    batches: int = 0
    query_items: int = 0
    batch_items: int = 0
    returned: int = 0
    cursor: bool = False


@dataclass
class Result:
    pages: list[PageReads] = field(default_factory=list)

    def per_page(self, attr: str) -> tuple[float, int]:
        values = [getattr(p, attr) for p in self.pages]
        return sum(values) / len(values), max(values)

    def reads_only_returned(self) -> bool:
        return all(p.query_items == p.returned and p.queries == 1 for p in self.pages)

    def cell(self) -> str:
        q_mean, q_max = self.per_page("queries")
        b_mean, _ = self.per_page("batches")
        read, _ = self.per_page("query_items")
        got, _ = self.per_page("returned")
        batch_read, _ = self.per_page("batch_items")
        empty = sum(1 for p in self.pages if p.returned == 0 and p.cursor)
        text = f"{len(self.pages)}p: Query {q_mean:.1f} (max {q_max})"
        if b_mean:
            text += f" + BatchGet {b_mean:.1f} ({batch_read:.0f} items)"
        text += f", read {read:.0f} → {got:.0f}"
        if empty:
            text += f", {empty} empty+cursor"
        return text


@contextlib.contextmanager
def counting() -> Iterator[list[PageReads]]:
    """Query and BatchGetItem calls on the application's table, into the last PageReads of
    the list yielded (append one per page)."""
    from botocore.client import BaseClient

    from tenantry.dal.table import table_name

    pages: list[PageReads] = []
    make_api_call = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = make_api_call(client, operation, params)
        if pages and client.meta.service_model.service_name == "dynamodb":
            page = pages[-1]
            if operation == "Query" and params.get("TableName") == table_name():
                page.queries += 1
                page.query_items += int(answer.get("ScannedCount", len(answer["Items"])))
            elif operation == "BatchGetItem" and table_name() in params["RequestItems"]:
                page.batches += 1
                page.batch_items += len(answer.get("Responses", {}).get(table_name(), []))
        return answer

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        yield pages


# --- seeding ------------------------------------------------------------------------------


def _user(api: Any, admin: str, name: str) -> tuple[str, str, str]:
    r = api.post(
        "/users", token=admin, json={"email": f"{name}@bench.example", "display_name": name}
    )
    user = r.json()
    token = api.post("/user-tokens", token=admin, json={"user_id": user["id"]}).json()
    return user["id"], user["email"], token["created_token"]


def _project_status(i: int) -> str:
    if i % 10 == 0:
        return "deleted"
    return {5: "suspended", 15: "failed"}.get(i % 20, "active")


def _seed(size: int, users: dict[str, tuple[str, str, str]]) -> int:
    import boto3

    from tenantry.clock import new_id, now_iso
    from tenantry.dal import applications, invites
    from tenantry.dal import memberships as members
    from tenantry.dal.table import table_name
    from tenantry.domain import applications as app_domain
    from tenantry.domain.memberships import membership_id

    now = now_iso()
    table = boto3.resource("dynamodb").Table(table_name())
    member_id, viewer_id, owner_id = users["member"][0], users["viewer"][0], users["owner"][0]
    invitee_email = users["invitee"][1]

    def membership(pid: str, uid: str, state: str, role: str = "member") -> dict[str, Any]:
        item = {
            "id": membership_id(pid, uid),
            "project_id": pid,
            "user_id": uid,
            "role": role,
            "state": state,
            "created_at": now,
            "updated_at": now,
        }
        return members.member_item(item, current=state in ("accepted", "leave_requested"))

    def project_items(owner: str, pid: str, status: str, **body: Any) -> list[dict[str, Any]]:
        out = []
        for item in created_items(owner, pid, **body):
            if item["entity"] == "project":
                item = provisioned(item, now)
                item = moved(item, status, now) if status != "active" else item
            if item["entity"] in ("project", "member"):
                out.append(item)
        return out

    written = 0
    with table.batch_writer() as batch:

        def put(item: dict[str, Any]) -> None:
            nonlocal written
            batch.put_item(Item=item)
            written += 1

        for i in range(size):
            pid = f"p-{i:05d}"
            rare = i % 100 == 3
            labels = {"tier": "web"} if i % 100 == 7 else {"seeded-by": "bench"}
            for item in project_items(
                OWNER,
                pid,
                _project_status(i),
                name=f"{'rare' if rare else 'bench'}-{i:05d}",
                labels=labels,
            ):
                put(item)
            put(membership(pid, member_id, "removed" if i % 10 in (1, 2, 3) else "accepted"))

        for pid in ("club", "governed"):
            for item in project_items(owner_id, pid, "active"):
                put(item)
        put(membership("club", viewer_id, "accepted"))
        for i in range(size):
            put(membership("club", f"u-{i:05d}", "removed" if i % 10 in (1, 2, 3) else "accepted"))

        from tenantry.domain.invites import ttl_after

        past, future = now_iso(timedelta(days=-30)), now_iso(timedelta(days=7))
        for i in range(size):
            kind = ("pending", "revoked", "revoked", "expired", "expired")[i % 5]
            invite = {
                "id": new_id(),
                "email": invitee_email,
                "scope": "org",
                "target_id": "bench-org",
                "roles": ["member"],
                "status": "pending",
                "secure": False,
                "valid_until": past if kind == "expired" else future,
                "expires_at": ttl_after(past if kind == "expired" else future),
                "created_at": now,
                "invited_by": owner_id,
            }
            item = invites.put_op(invite)["Put"]["Item"]
            if kind == "revoked":  # as invites.status_op leaves it
                item = {k: v for k, v in item.items() if k not in invite_answered_remove()}
                item.update(status="revoked", answered_by=owner_id)
            put(item)

        governed = {"id": "governed", "owner_id": owner_id, "name": "governed"}
        for i in range(size):
            app = app_domain.new(governed, owner_id, "modify", {"max_members": i + 2}, now)
            app["state"] = "pending" if i % 10 == 0 else "approved" if i % 10 < 7 else "denied"
            put(applications.put_op(app)["Put"]["Item"])
    return written


def invite_answered_remove() -> tuple[str, ...]:
    from tenantry.dal import keys

    return keys.INVITE_ANSWERED_REMOVE


# --- measuring ------------------------------------------------------------------------------


def _follow(api: Any, token: str, case: Case) -> Result:
    result = Result()
    cursor = None
    with counting() as pages:
        for _ in range(PAGES):
            pages.append(PageReads())
            query = {**dict(case.query), "limit": LIMIT, **({"cursor": cursor} if cursor else {})}
            with quiet():
                r = api.get(case.path, token=token, query=query)
            if r.status != 200:
                raise BenchError(f"{case.label}: expected HTTP 200, got {r!r}")
            body = r.json()
            pages[-1].returned = len(body["items"])
            cursor = body["next_cursor"]
            pages[-1].cursor = cursor is not None
            if cursor is None:
                break
        result.pages = pages
    return result


def run() -> tuple[list[str], list[Check]]:
    from tenantry.pagination import MAX_READS_PER_PAGE
    from tests.harness import emulated, ensure_test_admin

    results: dict[int, dict[Case, Result]] = {}
    items: dict[int, int] = {}
    for size in SIZES:
        with emulated() as api:
            admin = ensure_test_admin()
            with quiet():
                users = {
                    name: _user(api, admin, name)
                    for name in ("member", "viewer", "owner", "invitee")
                }
            progress(f"pages: seeding {size:,} items per list")
            items[size] = _seed(size, users)
            tokens = {"admin": admin, **{name: u[2] for name, u in users.items()}}
            progress(f"pages: following {len(CASES)} lists at {size:,}")
            results[size] = {case: _follow(api, tokens[case.who], case) for case in CASES}

    width = 68
    lines = [
        f"5. Reads per page for each list filter, with {SIZES[0]} and {SIZES[1]:,} items in the "
        f"list's partition (limit {LIMIT}, up to {PAGES} pages followed; bench/pages.py)",
        f"   targets: `index` lists read only what they return (one Query a page) at both "
        f"sizes; `budget` lists make at most {MAX_READS_PER_PAGE} Query calls a page",
        "   pages followed (Np), then per page: Query calls (max) [+ BatchGetItem calls (items "
        "read)], items the Query read → items returned; `empty+cursor`: pages with no item "
        "but a cursor",
        f"   ({items[SIZES[0]]:,} and {items[SIZES[1]]:,} items seeded)",
        f"   {'list':<{width}} {'served':<7} {SIZES[0]:>5}: ... | {SIZES[1]:,}: ...",
    ]
    exact_misses, budget_misses = [], []
    for case in CASES:
        small, large = results[SIZES[0]][case], results[SIZES[1]][case]
        lines.append(f"   {case.label:<{width}} {case.served:<7} {small.cell()} | {large.cell()}")
        for size, result in ((SIZES[0], small), (SIZES[1], large)):
            if case.served == "index" and not result.reads_only_returned():
                exact_misses.append(f"{case.label} at {size:,}")
            if result.per_page("queries")[1] > MAX_READS_PER_PAGE:
                budget_misses.append(f"{case.label} at {size:,}")
    checks = [
        Check(
            "pages",
            "index-served list filters read only what they return",
            f"{len(exact_misses)} do not"
            + (f": {', '.join(exact_misses)}" if exact_misses else ""),
            "all do",
            not exact_misses,
        ),
        Check(
            "pages",
            f"Query calls per page, every list (budget {MAX_READS_PER_PAGE})",
            f"{len(budget_misses)} over"
            + (f": {', '.join(budget_misses)}" if budget_misses else ""),
            f"<= {MAX_READS_PER_PAGE}",
            not budget_misses,
        ),
    ]
    return lines, checks
