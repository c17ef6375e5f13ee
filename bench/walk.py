"""A scripted walk through the HttpApi routes of template.yaml, with the principals that
normally call them (an owner who is no admin, another user, a bot), through the emulated
API Gateway and the Lambda authorizer, recording each request's AWS calls (bench.calls).
The routes it does not visit are walked from their sample events (bench/sampled.py).

Every request must answer the status the script expects (a counted error path would
mislead). Section 3 fails its coverage target when a route of the template was not
visited by either, so a new route cannot silently escape the count.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

from bench.calls import AUTHORIZER_TIMED_WRITES, CallLog, Request
from bench.common import BenchError
from bench.seed import stored

WORKFLOW_TIMEOUT = 120.0


Expect = int | frozenset[int]  # the status a walked request must answer, or the statuses


def _statuses(expect: Expect) -> frozenset[int]:
    return frozenset([expect]) if isinstance(expect, int) else expect


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


DISCARD = _Discard()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Handlers print EMF metrics (and Powertools logs) to stdout; keep the report clean."""
    with contextlib.redirect_stdout(DISCARD):
        yield


class Walker:
    def __init__(self, api: Any, log: CallLog) -> None:
        self.api = api
        self.log = log
        self.results: dict[str, Request] = {}
        self.route_of: dict[str, str] = {}
        self.reads: dict[str, tuple[str, str, str | None, Expect, dict[str, Any]]] = {}

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        expect: Expect,
        variant: str = "",
        record: bool = True,
        **kwargs: Any,
    ) -> Any:
        """One request, measured; it must answer `expect` (a status or a set of them).
        Returns its JSON body (None when empty)."""
        key, label = self.label(method, path, variant)
        response, request = self.send(method, path, token=token, **kwargs)
        if response.status not in _statuses(expect):
            raise BenchError(f"{label}: expected HTTP {expect}, got {response!r}")
        if record:
            self.keep(label, key, request, method, (path, variant, token, expect, kwargs))
        return response.json() if response.body else None

    def label(self, method: str, path: str, variant: str = "") -> tuple[str, str]:
        """(the template's route key for the request, its label in the report)."""
        found = self.api.stack.match(method, path.partition("?")[0])
        if found is None:
            raise BenchError(f"{method} {path} matches no route of template.yaml")
        key = found[0].key
        return key, f"{key} [{variant}]" if variant else key

    def send(
        self, method: str, path: str, *, token: str | None, **kwargs: Any
    ) -> tuple[Any, Request]:
        """One request, its AWS calls counted; the caller judges the answer."""
        with quiet(), self.log.request() as request:
            response = self.api.request(method, path, token=token, **kwargs)
        return response, request

    def keep(
        self,
        label: str,
        key: str,
        request: Request,
        method: str,
        replay: tuple[str, str, str | None, Expect, dict[str, Any]],
    ) -> None:
        """Record a request in the report; a GET is kept to be replayed on the large table."""
        if label in self.results:
            raise BenchError(f"{label} recorded twice; give it a variant")
        self.results[label] = request
        self.route_of[label] = key
        if method == "GET":
            self.reads[label] = replay

    def absorb(self, other: Walker) -> None:
        """Take another walk's records (on another stack) into this one's report."""
        for label, request in other.results.items():
            if label in self.results:
                raise BenchError(f"{label} recorded twice; give it a variant")
            self.results[label] = request
            self.route_of[label] = other.route_of[label]
        self.reads.update(other.reads)

    def replay_reads(self, walked: Walker) -> None:
        """The GET requests of another walk, again (on a table that has grown since)."""
        for path, variant, token, expect, kwargs in walked.reads.values():
            self.call("GET", path, variant=variant, token=token, expect=expect, **kwargs)

    def covered(self) -> set[str]:
        return set(self.route_of.values())

    def settle(self, project_id: str, status: str) -> None:
        """Wait for the workflows, then check the project got where it should."""
        from tenantry.dal import projects

        with quiet():
            executions = self.api.wait_for_executions(timeout=WORKFLOW_TIMEOUT)
        failed = [e["executionArn"] for e in executions if e["status"] != "SUCCEEDED"]
        project = projects.get(project_id)
        if failed or not project or project["status"] != status:
            found = project and project["status"]
            raise BenchError(f"{project_id}: expected {status}, got {found}; failed: {failed}")


def push_image(api: Any, project_id: str) -> None:
    """One tagged image in the project's repository, so the images routes list something."""
    from tenantry.registry import repository_name

    config = "sha256:" + "0" * 64
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": config,
        },
        "layers": [],
    }
    api.stack.client("ecr").put_image(
        repositoryName=repository_name(project_id),
        imageManifest=json.dumps(manifest),
        imageTag="v1",
    )


def walk(w: Walker, admin: str, tag: str) -> dict[str, Any]:
    """Every route, with the principals that normally call it. What the read routes look
    at survives the walk (the delete routes get entities of their own), so they can be
    replayed on a bigger table. `tag` keeps this walk's emails and ids apart. Returns the ids
    of what it keeps (the user, the project) and the project's items as its provisioning
    workflow left them."""
    w.call("GET", "/health", token=None, expect=200)
    w.call("GET", "/auth/me", token=admin, expect=200)
    w.call("GET", "/server/info", token=admin, expect=200)

    # users and their tokens
    user = w.call(
        "POST",
        "/users",
        token=admin,
        expect=201,
        json={"email": f"dev-{tag}@bench.example", "display_name": f"Dev {tag}"},
    )
    other_user = w.call(
        "POST",
        "/users",
        variant="Idempotency-Key",
        token=admin,
        expect=201,
        headers={"Idempotency-Key": f"bench-user-{tag}"},
        json={"email": f"ops-{tag}@bench.example", "display_name": f"Ops {tag}"},
    )
    uid = user["id"]
    w.call("GET", "/users", token=admin, expect=200)
    w.call("GET", f"/users/{uid}", token=admin, expect=200)
    w.call(
        "PATCH",
        f"/users/{uid}",
        token=admin,
        expect=200,
        headers={"If-Match": '"1"'},
        json={"is_active": True},
    )
    mine = w.call("POST", "/user-tokens", token=admin, expect=201, json={"user_id": uid})
    secret = mine["created_token"]
    doomed = w.call(
        "POST", "/user-tokens", variant="own", token=secret, expect=201, json={"user_id": uid}
    )
    w.call("GET", "/user-tokens", variant="own", token=secret, expect=200)
    w.call("GET", f"/user-tokens/{mine['id']}", variant="own", token=secret, expect=200)
    w.call("DELETE", f"/user-tokens/{doomed['id']}", variant="own", token=secret, expect=204)

    # bots and their tokens
    bot = w.call("POST", "/bots", token=admin, expect=201, json={"display_name": f"ci-{tag}"})
    bid = bot["id"]
    w.call("GET", "/bots", token=admin, expect=200)
    w.call("GET", f"/bots/{bid}", token=admin, expect=200)
    w.call(
        "PATCH",
        f"/bots/{bid}",
        token=admin,
        expect=200,
        headers={"If-Match": '"1"'},
        json={"display_name": f"ci-{tag}-renamed"},
    )
    kept = w.call("POST", "/bot-tokens", token=admin, expect=201, json={"bot_id": bid})
    doomed = w.call(
        "POST", "/bot-tokens", token=admin, expect=201, json={"bot_id": bid}, record=False
    )
    w.call("GET", "/auth/me", variant="bot token", token=kept["created_token"], expect=200)
    w.call("GET", f"/bot-tokens?bot_id={bid}", token=admin, expect=200)
    w.call("GET", f"/bot-tokens/{kept['id']}", token=admin, expect=200)
    w.call("DELETE", f"/bot-tokens/{doomed['id']}", token=admin, expect=204)

    # projects, as their owner (a non-admin user) unless the route is an admin's
    pid, doomed_pid = f"bench-walk-{tag}", f"bench-walk-idem-{tag}"
    body = {
        "name": f"Bench walk {tag}",
        "id": pid,
        "environments": ["dev", "prod"],
        "labels": {"team": "bench"},
    }
    w.call("POST", "/projects", token=secret, expect=202, json=body)
    w.settle(pid, "active")
    provisioned = stored(pid)
    w.call(
        "POST",
        "/projects",
        variant="Idempotency-Key",
        token=secret,
        expect=202,
        headers={"Idempotency-Key": f"bench-project-{tag}"},
        json={**body, "id": doomed_pid, "name": f"Bench walk idem {tag}"},
    )
    w.settle(doomed_pid, "active")
    push_image(w.api, pid)
    w.call("GET", "/projects", variant="owner", token=secret, expect=200)
    w.call("GET", "/projects", variant="admin", token=admin, expect=200)
    w.call("GET", f"/users/{uid}/projects", token=admin, expect=200)
    w.call("GET", f"/projects/{pid}", token=secret, expect=200)
    w.call("PATCH", f"/projects/{pid}", token=secret, expect=200, json={"description": "patched"})
    for action in ("suspend", "unsuspend"):
        w.call(
            "POST",
            f"/projects/{pid}/actions",
            variant=action,
            token=admin,
            expect=200,
            json={"action": action},
        )
    w.call("GET", f"/projects/{pid}/history", token=secret, expect=200)
    w.call("GET", f"/projects/{pid}/images", token=secret, expect=200)
    w.call("GET", f"/users/{uid}/projects/{pid}/images", token=admin, expect=200)

    # governance: public profile, quotas, memberships and members, applications
    other = w.call(
        "POST",
        "/user-tokens",
        token=admin,
        expect=201,
        json={"user_id": other_user["id"]},
        record=False,
    )["created_token"]
    w.call("GET", f"/projects/{pid}/profile", variant="another user", token=other, expect=200)
    w.call("PUT", f"/projects/{pid}/profile", token=secret, expect=200, json={"description": "p"})
    w.call("GET", f"/projects/{pid}/quotas", token=secret, expect=200)
    joined = w.call(
        "POST",
        "/memberships",
        variant="join",
        token=other,
        expect=201,
        json={"project_id": pid, "action": "join"},
    )
    w.call("GET", "/memberships", variant="own", token=other, expect=200)
    w.call("GET", f"/memberships/{joined['id']}", variant="owner", token=secret, expect=200)
    w.call(
        "POST",
        f"/memberships/{joined['id']}/actions",
        variant="accept",
        token=secret,
        expect=200,
        json={"action": "accept"},
    )
    w.call("GET", f"/projects/{pid}/members", token=secret, expect=200)
    w.call(
        "PATCH",
        f"/projects/{pid}",
        variant="governed: files an application",
        token=secret,
        expect=202,
        json={"max_members": 50},
    )
    filed = w.call("GET", "/applications", variant="own", token=secret, expect=200)["items"]
    if not filed:
        raise BenchError("a non-admin's governed PATCH filed no application")
    w.call("GET", f"/applications/{filed[0]['id']}", token=secret, expect=200)

    # orgs and invites (a user creates an org and invites another; a project invite revoked)
    org = w.call("POST", "/orgs", token=secret, expect=201, json={"name": f"Org {tag}"})
    w.call("GET", "/orgs", variant="own", token=secret, expect=200)
    w.call("GET", f"/orgs/{org['id']}", token=secret, expect=200)
    w.call("GET", f"/orgs/{org['id']}/members", token=secret, expect=200)
    invited = w.call(
        "PUT",
        f"/orgs/{org['id']}/invites",
        token=secret,
        expect=201,
        json={"emails": [other_user["email"]], "roles": ["member"]},
    )["items"]
    w.call("GET", "/invites", variant="own", token=other, expect=200)
    w.call("POST", f"/invites/{invited[0]['id']}/accept", token=other, expect=200, json={})
    unwanted = w.call(
        "PUT",
        f"/projects/{pid}/invites",
        token=secret,
        expect=201,
        json={"emails": [f"nobody-{tag}@bench.example"], "roles": ["viewer"]},
    )["items"]
    w.call("DELETE", f"/invites/{unwanted[0]['id']}", token=secret, expect=204)

    # project templates (platform admins)
    template = w.call("POST", "/templates", token=admin, expect=201, json={"name": f"tpl-{tag}"})
    w.call("GET", "/templates", token=secret, expect=200)
    w.call("GET", f"/templates/{template['id']}", token=secret, expect=200)
    doomed = w.call(
        "POST", "/templates", token=admin, expect=201, json={"name": "doomed"}, record=False
    )
    w.call("DELETE", f"/templates/{doomed['id']}", token=admin, expect=204)

    w.call("DELETE", f"/projects/{doomed_pid}?reclaim=true", token=secret, expect=202)
    w.settle(doomed_pid, "deleted")

    doomed = w.call(
        "POST", "/bots", token=admin, expect=201, json={"display_name": "doomed"}, record=False
    )
    w.call(
        "POST", "/bot-tokens", token=admin, expect=201, json={"bot_id": doomed["id"]}, record=False
    )
    w.call("DELETE", f"/bots/{doomed['id']}", variant="revokes 1 token", token=admin, expect=204)
    return {"user": uid, "project": pid, "provisioned": provisioned}


# --- capacity -----------------------------------------------------------------------------------


def _units(value: float) -> str:
    return f"{value:g}"


def capacity_lines(small: Walker, large: Walker) -> list[str]:
    """Per route: DynamoDB calls, read and write units (bench.calls.CapacityModel), on the
    small table and (GET requests) again on the 10k one. The authorizer's reads are
    counted with the request; its token-use write (at most once a minute per token) is not."""
    width = 60
    lines = [
        "   DynamoDB cost per request (computed from item sizes as DynamoDB bills them, see "
        "bench/calls.py; moto's own ConsumedCapacity figures are placeholders):",
        "   calls = authorizer + function; RCU = read units (authorizer + function); "
        "WCU = write units of the function, GSI writes included",
        f"   {'route':<{width}} {'calls':>9} {'RCU':>10} {'WCU':>6}   "
        f"{'10k: calls':>10} {'RCU':>10}",
    ]
    for label, request in small.results.items():
        at_10k = large.results.get(label)
        far = f"{_calls(at_10k):>10} {_rcu(at_10k):>10}" if at_10k else f"{'(write)':>10} {'':>10}"
        lines.append(
            f"   {label:<{width}} {_calls(request):>9} {_rcu(request):>10} "
            f"{_units(request.handler_capacity.wcu):>6}   {far}"
        )
    return lines


def _calls(request: Request) -> str:
    auth = sum(n for (svc, op), n in request.auth.items() if svc == "dynamodb" and _read(op))
    handler = sum(n for (svc, _), n in request.handler.items() if svc == "dynamodb")
    return f"{auth}+{handler}"


def _rcu(request: Request) -> str:
    return f"{_units(request.auth_capacity.rcu)}+{_units(request.handler_capacity.rcu)}"


def _read(operation: str) -> bool:
    return operation.partition("(")[0] not in AUTHORIZER_TIMED_WRITES


def capacity_json(small: Walker, large: Walker) -> dict[str, Any]:
    """The same figures, machine-readable (BENCH_CAPACITY_JSON=<path> writes them)."""
    out: dict[str, Any] = {}
    for walker, size in ((small, "small"), (large, "large")):
        for label, r in walker.results.items():
            out.setdefault(label, {})[size] = {
                "calls": _calls(r),
                "rcu": [r.auth_capacity.rcu, r.handler_capacity.rcu],
                "wcu": r.handler_capacity.wcu,
                "ops": sorted(f"{op}" for (_, op) in r.handler),
            }
    return out
