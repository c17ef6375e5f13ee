"""Measurements 2 (list latency vs membership count) and 3 (AWS calls per route), on one
emulated stack (tests.harness.emulated: template.yaml deployed into moto in this process).

Order of play:
  1. walk the routes on a small table (bench.walk), counting calls; then seed the sample
     events' world (local/seed.py) and send the sample of every GET route the walk did
     not visit (bench.sampled)
  2. seed a member of 100 projects plus a little noise; time the admin's first page
  3. seed a member of 10,000 projects plus more noise (other users' projects)
  4. time GET /projects for the member of 100, the member of 10,000 and the admin,
     interleaved round by round; count the list routes for both members
  5. replay every GET request of the walk on the large table, and compare the counts
  6. on fresh seeded stacks, the sample of every write route not walked yet (bench.sampled)

Write routes are walked on the small table only, so the large table stays as seeded for
every GET replay. They address items by key (GetItem, TransactWriteItems on known keys), so
their calls do not depend on table size. (This was also forced once: moto deep-copied every
table a TransactWriteItems touches, about 1 s per 1,000 items; local/dynamodb_transactions.py
now rolls back item by item.)

After each seeding, `gc.freeze()` moves moto's items to the permanent generation, so a
full garbage collection does not land inside one timed request rather than another.
"""

from __future__ import annotations

import gc
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import sampled
from bench.calls import DYNAMODB, LEGEND, CallLog, Request, fmt_ops
from bench.common import BenchError, Check, median, ms, progress
from bench.seed import Seeder, field_drift
from bench.walk import Walker, capacity_json, capacity_lines, quiet, walk

SMALL, LARGE = 100, 10_000
NOISE_SMALL = (10, 10)  # other users x projects each, seeded with the member of 100
NOISE_LARGE = (40, 25)  # ... and with the member of 10,000
REPEATS, WARMUP = 15, 2
TARGET_LIST_RATIO = 1.2
PAGE = 25  # GET /projects default limit
# A request's budget of DynamoDB calls, authorizer included, whatever the table holds: the
# authorizer's 3 + an admin's look-up of the user + a filtered list's worst case of
# tenantry.pagination.MAX_READS_PER_PAGE (4) rounds of Query + BatchGetItem = 12.
MAX_DYNAMODB_CALLS = 12
SERVICE = {"stepfunctions": "SFN", "ecr": "ECR", "lambda": "Lambda"}
LIST_CASES = (  # (variant, path, as the admin?)  {uid}: the member
    ("", "/projects", False),
    ("state=suspended: filters out every row", "/projects?state=suspended", False),
    ("", "/users/{uid}/projects", True),
    ("", "/memberships", False),
    ("sort_by=-created_at: the GSI1T twin", "/projects?sort_by=-created_at", False),
    ("filter_by=BENCH", "/projects?filter_by=BENCH", False),
)


@dataclass
class Member:
    projects: int
    user_id: str
    token: str

    @property
    def label(self) -> str:
        return f"member of {self.projects:,}"


@dataclass
class Timing:
    label: str
    requests: list[Request]

    @property
    def total(self) -> float:
        return median(r.seconds for r in self.requests)

    @property
    def in_dynamodb(self) -> float:
        return median(r.dynamodb_seconds for r in self.requests)

    @property
    def cpu(self) -> float:
        return median(r.cpu_seconds for r in self.requests)

    @property
    def rest(self) -> float:
        return median(r.seconds - r.dynamodb_seconds for r in self.requests)

    def line(self, width: int = 34) -> str:
        calls = self.requests[0]
        return (
            f"   {self.label:<{width}} {self.total * 1000:7.1f} ms   (in DynamoDB/moto "
            f"{ms(self.in_dynamodb)}, rest {ms(self.rest)}; calls: "
            f"{fmt_ops(calls.service(DYNAMODB, 'handler'))}, "
            f"authorizer {fmt_ops(calls.service(DYNAMODB, 'auth'))})"
        )


def _member(api: Any, admin: str, projects: int) -> Member:
    with quiet():
        user = api.post(
            "/users",
            token=admin,
            json={"email": f"member-{projects}@bench.example", "display_name": "Member"},
        ).json()
        token = api.post("/user-tokens", token=admin, json={"user_id": user["id"]}).json()
    return Member(projects, user["id"], token["created_token"])


def _noise(seeder: Seeder, phase: str, users: int, each: int) -> None:
    for k in range(users):
        seeder.projects_of(
            f"bench-noise-{phase}-{k:02d}", (f"noise-{phase}-{k:02d}-{i:03d}" for i in range(each))
        )


def _settle_heap() -> None:
    gc.collect()
    gc.freeze()


def _time_pages(api: Any, log: CallLog, cases: Sequence[tuple[str, str]]) -> list[Timing]:
    """GET /projects (first page) per (label, token), interleaved round by round."""
    out = [Timing(label, []) for label, _ in cases]
    for round_ in range(WARMUP + REPEATS):
        for timing, (_, token) in zip(out, cases, strict=True):
            with quiet(), log.request() as request:
                response = api.get("/projects", token=token)
            body = response.json()
            if response.status != 200 or len(body["items"]) != PAGE or not body["next_cursor"]:
                raise BenchError(f"GET /projects as {timing.label}: {response!r}")
            if round_ >= WARMUP:
                timing.requests.append(request)
    return out


def run() -> tuple[list[str], list[Check], list[str], list[Check]]:
    from tests.harness import emulated, ensure_test_admin

    with emulated() as api:
        from tenantry.settings import get_settings

        stack = api.stack
        with quiet():
            stack.import_handlers()  # cold imports are measurement 1, not part of a request
        admin = ensure_test_admin()
        authorizers = {r.authorizer for r in stack.routes if r.authorizer}
        log = CallLog(authorizers, get_settings().idempotency_table_name)
        with log.installed(stack):
            seeder = Seeder()
            progress("walk: every route, small table")
            small = Walker(api, log)
            kept = walk(small, admin, "small")
            background = {fn: Counter(ops) for fn, ops in log.background.items()}
            progress("walk: the other GET routes, from their sample events (seeded world)")
            sampled_reads = sampled.walk_reads(small, small.covered())
            small_items = seeder.item_count()

            progress(f"seeding a member of {SMALL} projects + noise")
            members = [_member(api, admin, SMALL), _member(api, admin, LARGE)]
            seeder.projects_of(members[0].user_id, (f"a-{i:05d}" for i in range(SMALL)))
            _noise(seeder, "s", *NOISE_SMALL)
            drift = field_drift("a-00000", kept["provisioned"])
            _settle_heap()
            admin_small_items = seeder.item_count()
            progress(f"timing the admin's first page ({admin_small_items:,} items)")
            (admin_small,) = _time_pages(api, log, [("admin, small table", admin)])

            progress(f"seeding a member of {LARGE:,} projects + noise (batch_writer)")
            seeder.projects_of(members[1].user_id, (f"b-{i:05d}" for i in range(LARGE)))
            _noise(seeder, "l", *NOISE_LARGE)
            _settle_heap()
            large_items = seeder.item_count()
            progress(f"timing first pages, {large_items:,} items, {REPEATS} rounds")
            few, many, admin_large = _time_pages(
                api,
                log,
                [(m.label, m.token) for m in members] + [("admin, 10k table", admin)],
            )

            progress("list routes for both members")
            lists = Walker(api, log)
            for member in members:
                for variant, path, as_admin in LIST_CASES:
                    lists.call(
                        "GET",
                        path.format(uid=member.user_id),
                        variant=", ".join(filter(None, [member.label, variant])),
                        token=admin if as_admin else member.token,
                        expect=200,
                    )
            progress("replaying the walk's GET requests on the large table")
            large = Walker(api, log)
            large.replay_reads(small)

    progress("walk: the other write routes, from their sample events (fresh seeded worlds)")
    writes = sampled.walk_writes(log, small.covered())
    for walker in writes.walkers:
        small.absorb(walker)
    for function, ops in writes.steps.items():
        background.setdefault(function, Counter()).update(ops)
    scans = log.scans()
    everywhere = Counter(log.everywhere)

    sizes = {"small": small_items, "admin_small": admin_small_items, "large": large_items}
    s2 = _section2(few, many, admin_small, admin_large, sizes)
    s2[0].insert(
        2,
        f"   seeded with batch_writer: {seeder.projects:,} projects, each its project and "
        f"member items as create_project builds them (not: {', '.join(sorted(seeder.skipped))}); "
        + (
            "same attributes as a project created through the API"
            if not drift
            else "DIFFERENT from a project created through the API: " + "; ".join(drift)
        ),
    )
    s3 = _section3(stack, small, large, lists, members, (admin_small, admin_large), background)
    s3_lines, s3_checks = s3
    s3_lines[2:2] = _sampled_lines(sampled_reads, writes)
    s3_checks.append(
        Check("calls", "no Scan anywhere (every thread, whole run)", str(scans), "0", scans == 0)
    )
    s3_lines.extend(capacity_lines(small, large))
    if os.environ.get("BENCH_CAPACITY_JSON"):
        with open(os.environ["BENCH_CAPACITY_JSON"], "w") as f:
            json.dump(capacity_json(small, large), f, indent=1)
    s3_lines.append(
        "   whole run, every thread: "
        + ", ".join(f"{svc}:{op} {n}" for (svc, op), n in sorted(everywhere.items()))
    )
    return (*s2, s3_lines, s3_checks)


# --- report ----------------------------------------------------------------------------------


def _sampled_lines(reads: list[str], writes: sampled.WriteWalk) -> list[str]:
    written = sum(len(w.results) for w in writes.walkers)
    lines = [
        f"   the routes the scripted walk (bench/walk.py) does not visit are walked from their "
        f"sample events (bench/sampled.py, [sample] below): {len(reads)} GET on the seeded world "
        f"of local/seed.py in this stack, {written} writes on {writes.worlds} fresh seeded "
        "world(s)"
    ]
    if writes.fresh:
        lines.append(
            "   sent again on a fresh world (their sample collides with an earlier one): "
            + "; ".join(
                f"{label} (first answered {writes.collided[label]})" for label in writes.fresh
            )
        )
    return lines


def _section2(
    few: Timing, many: Timing, admin_small: Timing, admin_large: Timing, sizes: dict[str, int]
) -> tuple[list[str], list[Check]]:
    ratio = many.total / few.total
    rest_ratio = many.rest / few.rest
    ok = ratio <= TARGET_LIST_RATIO
    lines = [
        f"2. First page of GET /projects (limit {PAGE}) through the emulated stack (moto), "
        f"median of {REPEATS} (after {WARMUP} warm-up)",
        f"   target: {many.label} / {few.label} <= {TARGET_LIST_RATIO:.2f}, same table "
        f"({sizes['large']:,} items: their projects + other users')",
        few.line(),
        many.line(),
        f"   {f'ratio {LARGE:,}/{SMALL}':<34} x{ratio:.2f}  {'PASS' if ok else 'FAIL'}"
        f"   (outside DynamoDB/moto: x{rest_ratio:.2f}; inside: "
        f"x{many.in_dynamodb / few.in_dynamodb:.2f}; CPU time: x{many.cpu / few.cpu:.2f})",
        "   admin's first page (GSI1 PROJECTS partition), for information:",
        admin_small.line() + f"  [table: {sizes['admin_small']:,} items]",
        admin_large.line() + f"  [table: {sizes['large']:,} items]",
        f"   {'ratio 10k table / small table':<34} x{admin_large.total / admin_small.total:.2f}"
        f"   (outside DynamoDB/moto: x{admin_large.rest / admin_small.rest:.2f})",
    ]
    check = Check("lists", "GET /projects first page, 10k/100", f"x{ratio:.2f}", "<= 1.2", ok)
    return lines, [check]


def _cell(request: Request, part: str) -> str:
    return fmt_ops(request.service(DYNAMODB, part))


def _other(request: Request) -> str:
    ops: Counter[str] = Counter()
    for (svc, op), n in (request.auth + request.handler).items():
        if svc != DYNAMODB:
            ops[f"{SERVICE.get(svc, svc)}:{op}"] += n
    return " ".join(f"{k} {n}" for k, n in sorted(ops.items())) or "-"


def _section3(
    stack: Any,
    small: Walker,
    large: Walker,
    lists: Walker,
    members: list[Member],
    admin_pages: tuple[Timing, Timing],
    background: dict[str, Counter[tuple[str, str]]],
) -> tuple[list[str], list[Check]]:
    width = 52
    lines = [
        f"3. AWS calls per request, by route: a walk through every HttpApi route of "
        f"template.yaml on the small table; its GET requests again on the {LARGE:,} table",
        f"   targets: no Scan; same calls at both sizes; list routes same for {SMALL} and "
        f"{LARGE:,} memberships; <= {MAX_DYNAMODB_CALLS} DynamoDB calls per request",
        f"   {LEGEND}",
        f"   {'route':<{width}} {'authorizer':<16} {'function: DynamoDB':<36} "
        f"{'other AWS':<26} {'ddb':>3}  10k table",
    ]
    changed = []
    for label, request in small.results.items():
        at_10k = large.results.get(label)
        if at_10k is None:
            verdict = "small table only (write)"
        elif at_10k.signature() == request.signature():
            verdict = "same"
        else:
            changed.append(label)
            verdict = f"DIFFERENT: {_cell(at_10k, 'auth')} | {_cell(at_10k, 'handler')}"
        total = request.dynamodb_calls()
        lines.append(
            f"   {label:<{width}} {_cell(request, 'auth'):<16} {_cell(request, 'handler'):<36} "
            f"{_other(request):<26} {total:>3}  {verdict}"
        )

    lines.append(f"   list routes, {members[0].label} vs {members[1].label} (same large table):")
    list_diff = []
    for variant, path, as_admin in LIST_CASES:
        labels = []
        for member in members:
            route = stack.match("GET", path.format(uid=member.user_id).partition("?")[0])[0].key
            labels.append(f"{route} [{', '.join(filter(None, [member.label, variant]))}]")
        a, b = lists.results[labels[0]], lists.results[labels[1]]
        same = a.signature() == b.signature()
        if not same:
            list_diff.append(labels[1])
        tags = ", ".join(filter(None, ["admin" if as_admin else "", variant]))
        name = f"GET {path.partition('?')[0].replace('{uid}', '{userId}')}"
        name += f" [{tags}]" if tags else ""
        lines.append(
            f"     {name:<{width - 2}} {_cell(a, 'handler'):<24} | {_cell(b, 'handler'):<24} "
            f"{'same' if same else 'DIFFERENT'}"
        )
    admin_small, admin_large = (t.requests[0] for t in admin_pages)
    admin_same = admin_small.signature() == admin_large.signature()
    if not admin_same:
        list_diff.append("GET /projects [admin, small vs 10k table]")
    lines.append(
        f"     {'GET /projects [admin: small table | 10k table]':<{width - 2}} "
        f"{_cell(admin_small, 'handler'):<24} | {_cell(admin_large, 'handler'):<24} "
        f"{'same' if admin_same else 'DIFFERENT'}"
    )

    start = ("stepfunctions", "StartExecution")
    started = sum(r.handler[start] for r in small.results.values())
    by_steps = sum(ops[start] for ops in background.values())  # a finished task starts the next
    lines.append(
        f"   workflow steps, all {started + by_steps} executions the walk started ({started} by "
        f"its requests, {by_steps} by workflow steps) (for information):"
    )
    for function, ops in sorted(background.items()):
        by_service: dict[str, Counter[str]] = {}
        for (svc, op), n in ops.items():
            by_service.setdefault(svc, Counter())[op] += n
        text = "; ".join(f"{svc}: {fmt_ops(c)}" for svc, c in sorted(by_service.items()))
        lines.append(f"     {function:<{width - 2}} {text}")

    routes = {r.key for r in stack.routes}
    missed = sorted(routes - small.covered())
    everything = [(label, r) for w in (small, large, lists) for label, r in w.results.items()]
    peak = max(r.dynamodb_calls() for _, r in everything)
    over = sorted({label for label, r in everything if r.dynamodb_calls() > MAX_DYNAMODB_CALLS})
    checks = [
        Check(
            "calls",
            "every template route walked",
            f"{len(routes) - len(missed)}/{len(routes)}",
            "all",
            not missed,
        ),
        Check(
            "calls",
            "same calls on the small and the 10k table, every GET request",
            f"{len(changed)} differ" + (f": {', '.join(changed)}" if changed else ""),
            "0 differ",
            not changed,
        ),
        Check(
            "calls",
            f"list routes: same calls for {SMALL} and {LARGE:,} memberships",
            f"{len(list_diff)} differ" + (f": {', '.join(list_diff)}" if list_diff else ""),
            "0 differ",
            not list_diff,
        ),
        Check(
            "calls",
            "DynamoDB calls per request (authorizer + function), max",
            str(peak) + (f" ({', '.join(over)})" if over else ""),
            f"<= {MAX_DYNAMODB_CALLS}",
            peak <= MAX_DYNAMODB_CALLS,
        ),
    ]
    if missed:
        lines.append(f"   NOT WALKED: {', '.join(missed)}")
    return lines, checks
