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
applied to what is read, within tenantry.pagination.MAX_READS_PER_PAGE rounds, `key` when
the list is one item read by its key (field_selector metadata.name=<id>: no Query).

The Kubernetes-style list options (field_selector, sort_by, filter_by: issue 10, item 6) are
among the lists, and for each list that uses one the first page is also timed at both sizes
(median of TIMED rounds, after WARMUP, the heap frozen after seeding as in measurement 2):
the first page with 10,000 projects against the first page with 100, in CPU time relative
to a reference request timed right after each page (the two sizes are two stacks timed a
minute apart, and the machine's speed drifts between them; raw CPU and wall-clock times
are shown for information), at TIMED_LIMIT items a page (see there why).

Targets: an `index` list reads only what it returns, one Query per page, at both sizes; a
`budget` list never makes more than MAX_READS_PER_PAGE Query calls per page; a `key` list
makes no Query and at most one BatchGetItem; the first page with each option, 10,000/100
<= bench.emulated.TARGET_LIST_RATIO (measurement 2's target).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

from bench.common import BenchError, Check, median, progress
from bench.seed import created_items, moved, provisioned
from bench.walk import quiet

SIZES = (100, 10_000)
LIMIT = 25
PAGES = 4
OWNER = "bench-owner"
TIMED, WARMUP = 25, 10  # the first stack timed runs colder: 3 warm-up rounds left it ~20% slower
# The timed first pages hold 5: with 100 projects every list still fills such a page and
# reads its whole budget (5 suspended projects, 1 `rare` one in each list's first 20 rows,
# 70 current memberships), so both sizes do the same work; at limit 25 the small lists would
# end early (5 suspended of 100) and the ratio would compare unequal pages.
TIMED_LIMIT = 5
LIST_OPTIONS = ("field_selector", "sort_by", "filter_by")


@dataclass(frozen=True)
class Case:
    who: str  # whose token: admin, member, viewer, owner, invitee
    path: str
    query: tuple[tuple[str, str], ...] = ()
    served: str = "index"  # index | budget | key

    @property
    def label(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query)
        return f"GET {self.path}{'?' + q if q else ''} [{self.who}]"

    @property
    def has_option(self) -> bool:
        return any(k in LIST_OPTIONS for k, _ in self.query)


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
    # the list options (issue 10, item 6)
    Case("admin", "/projects", (("sort_by", "-name"),)),
    Case("admin", "/projects", (("sort_by", "created_at"),)),
    Case("admin", "/projects", (("sort_by", "-created_at"),)),
    Case("admin", "/projects", (("state", "suspended"), ("sort_by", "-name"))),
    Case("admin", "/projects", (("state", "suspended"), ("sort_by", "-created_at")), "budget"),
    Case("admin", "/projects", (("field_selector", "metadata.name=p-00044"),), "key"),
    Case("admin", "/projects", (("field_selector", "metadata.name!=p-00001"),), "budget"),
    Case("admin", "/projects", (("field_selector", "status.phase=suspended"),)),
    Case("admin", "/projects", (("field_selector", "status.phase!=suspended"),), "budget"),
    Case("admin", "/projects", (("field_selector", "status.phase!=deleted"),)),
    Case("admin", "/projects", (("filter_by", "RARE"),), "budget"),
    Case("admin", "/projects", (("filter_by", "bench"), ("sort_by", "-created_at")), "budget"),
    Case("member", "/projects", (("sort_by", "-name"),), "budget"),
    Case("member", "/projects", (("sort_by", "-created_at"),), "budget"),
    Case("member", "/projects", (("field_selector", "metadata.name=p-00044"),), "key"),
    Case("member", "/projects", (("field_selector", "status.phase!=suspended"),), "budget"),
    Case("member", "/projects", (("filter_by", "rare"),), "budget"),
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

    def read_by_key(self) -> bool:
        return all(p.queries == 0 and p.batches <= 1 for p in self.pages)

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

    created: dict[str, str] = {}  # project id -> its created_at

    def membership(pid: str, uid: str, state: str, role: str = "member") -> dict[str, Any]:
        item = {
            "id": membership_id(pid, uid),
            "project_id": pid,
            "user_id": uid,
            "role": role,
            "state": state,
            "created_at": now,
            "updated_at": now,
            "project_created_at": created[pid],
        }
        return members.member_item(item, current=state in ("accepted", "leave_requested"))

    def project_items(owner: str, pid: str, status: str, **body: Any) -> list[dict[str, Any]]:
        out = []
        for item in created_items(owner, pid, **body):
            if item["entity"] == "project":
                created[pid] = item["created_at"]
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


REFERENCE = Case("admin", "/auth/me")  # the same work at any size: one GetItem by key


@dataclass(frozen=True)
class Timed:
    cpu: float  # the median CPU time of the process (the emulated stack runs in it)
    wall: float  # the median wall-clock time
    relative: float  # the median of cpu / the reference request's cpu in the same round


def _first_pages(api: Any, tokens: dict[str, str], cases: list[Case]) -> dict[Case, Timed]:
    """Each case's first page, timed round by round (the cases interleaved), each timing
    followed by one of REFERENCE: the two sizes are two stacks timed a minute apart, and
    the machine's speed drifts more than that between them (a page's CPU time varied by a
    third across runs of the same code), so each page is also measured against the
    reference request made just after it, whose cost does not depend on the table."""
    import time

    def timed(case: Case, query: dict[str, Any]) -> tuple[float, float]:
        started, started_cpu = time.perf_counter(), time.process_time()
        with quiet():
            r = api.get(case.path, token=tokens[case.who], query=query)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if r.status != 200:
            raise BenchError(f"{case.label}: expected HTTP 200, got {r!r}")
        return elapsed_cpu, elapsed

    cpu: dict[Case, list[float]] = {case: [] for case in cases}
    wall: dict[Case, list[float]] = {case: [] for case in cases}
    relative: dict[Case, list[float]] = {case: [] for case in cases}
    for round_ in range(WARMUP + TIMED):
        for case in cases:
            page_cpu, page_wall = timed(case, {**dict(case.query), "limit": TIMED_LIMIT})
            reference_cpu, _ = timed(REFERENCE, {})
            if round_ >= WARMUP:
                cpu[case].append(page_cpu)
                wall[case].append(page_wall)
                relative[case].append(page_cpu / reference_cpu)
    return {
        case: Timed(median(cpu[case]), median(wall[case]), median(relative[case])) for case in cases
    }


def run() -> tuple[list[str], list[Check]]:
    import gc

    from bench.emulated import TARGET_LIST_RATIO
    from tenantry.pagination import MAX_READS_PER_PAGE
    from tests.harness import emulated, ensure_test_admin

    results: dict[int, dict[Case, Result]] = {}
    timed: dict[int, dict[Case, Timed]] = {}
    items: dict[int, int] = {}
    optioned = [case for case in CASES if case.has_option]
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
            gc.collect()
            gc.freeze()  # as measurement 2 does: no full collection inside one timed request
            tokens = {"admin": admin, **{name: u[2] for name, u in users.items()}}
            progress(f"pages: following {len(CASES)} lists at {size:,}")
            results[size] = {case: _follow(api, tokens[case.who], case) for case in CASES}
            progress(f"pages: timing the first page of {len(optioned)} lists at {size:,}")
            timed[size] = _first_pages(api, tokens, optioned)
            gc.unfreeze()

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
    exact_misses, budget_misses, key_misses = [], [], []
    for case in CASES:
        small, large = results[SIZES[0]][case], results[SIZES[1]][case]
        lines.append(f"   {case.label:<{width}} {case.served:<7} {small.cell()} | {large.cell()}")
        for size, result in ((SIZES[0], small), (SIZES[1], large)):
            if case.served == "index" and not result.reads_only_returned():
                exact_misses.append(f"{case.label} at {size:,}")
            if case.served == "key" and not result.read_by_key():
                key_misses.append(f"{case.label} at {size:,}")
            if result.per_page("queries")[1] > MAX_READS_PER_PAGE:
                budget_misses.append(f"{case.label} at {size:,}")
    lines += [
        f"   first page (limit {TIMED_LIMIT}) of each list with a list option (field_selector, "
        f"sort_by, filter_by), median of {TIMED} after {WARMUP} warm-up, with {SIZES[0]} and "
        f"{SIZES[1]:,} projects; target {SIZES[1]:,}/{SIZES[0]} <= {TARGET_LIST_RATIO:.2f} in "
        f"CPU time relative to a reference request ({REFERENCE.label}, one GetItem) timed "
        "right after each page: the two sizes are two stacks timed a minute apart, and the "
        "machine's speed drifts between them (raw CPU and wall-clock times shown for "
        "information):",
    ]
    slow, ratios = [], []
    for case in optioned:
        few, many = timed[SIZES[0]][case], timed[SIZES[1]][case]
        ratio = many.relative / few.relative
        ratios.append(ratio)
        if ratio > TARGET_LIST_RATIO:
            slow.append(f"{case.label} x{ratio:.2f}")
        lines.append(
            f"   {case.label:<{width}} {case.served:<7} {few.relative:5.2f} | "
            f"{many.relative:5.2f} references  x{ratio:.2f} "
            f"{'PASS' if ratio <= TARGET_LIST_RATIO else 'FAIL'}   (CPU {few.cpu * 1000:.1f} | "
            f"{many.cpu * 1000:.1f} ms, x{many.cpu / few.cpu:.2f}; wall {few.wall * 1000:.1f} | "
            f"{many.wall * 1000:.1f} ms)"
        )
    worst = max(ratios)
    checks = [
        Check(
            "pages",
            f"first page with each list option, {SIZES[1]:,}/{SIZES[0]} projects (worst)",
            f"x{worst:.2f}" + (f": {', '.join(slow)}" if slow else ""),
            f"<= {TARGET_LIST_RATIO}",
            not slow,
        ),
        Check(
            "pages",
            "lists limited to one project by key read it by key (no Query)",
            f"{len(key_misses)} do not" + (f": {', '.join(key_misses)}" if key_misses else ""),
            "all do",
            not key_misses,
        ),
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
