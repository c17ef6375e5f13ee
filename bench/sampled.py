"""The routes the scripted walk (bench/walk.py) does not visit, walked from their sample
events: local/sample_events.py builds one request per HttpApi route of template.yaml (its
path values, query, headers and a valid body, sent with the admin's or the edge cluster's
agent token, as the sample says) and local/seed.py builds the world those requests succeed
in. A route added to the template gets a sample (the sample-event test insists), so it is
walked here without touching the bench.

Each request must answer a success status openapi.json documents for its operation. The
samples are written to succeed one at a time against a freshly seeded world (the sample
replay test seeds afresh for each), and some of them change what another relies on (a
second PATCH with the same If-Match, a release after the result with the same lease, the
project suspended or deleted). So:

- reads (GET) go first, on the bench's own stack with the world seeded into it after the
  scripted walk; they are replayed on the 10k table with the walk's other GET requests;
- writes go after the main stack is done, on a fresh stack seeded the same way, in the
  template's order with the DELETE routes last (the widest resource last: deleting a
  project ends its children's samples). A write that does not succeed there (its sample
  collides with an earlier one) is sent again, first, on a fresh seeded world, and the
  ones after it follow it there; a write that fails on a fresh world too is an error.
  The report names the writes that needed a fresh world.

Between requests the edge cluster's agent does the work they hand it (claim, report Done)
and every workflow they start must succeed, as in the sample replay test; those requests
are not measured.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.calls import CallLog
from bench.common import ROOT, BenchError, progress
from bench.walk import Walker, quiet

WORKFLOW_TIMEOUT = 30.0
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}


@dataclass(frozen=True)
class SampleRequest:
    """A route's sample event, as a request."""

    key: str  # the template's route key
    method: str
    path: str  # with ?query
    token: str | None
    headers: dict[str, str]
    body: str | None
    expect: frozenset[int]  # the 2xx statuses openapi.json documents
    variant: str  # "sample" or "sample, agent"
    order: tuple[int, int, int]


def _documented_successes(spec: dict[str, Any], path: str, method: str) -> frozenset[int]:
    from local.template import openapi_path

    operation = spec["paths"].get(openapi_path(path), {}).get(method.lower())
    if not operation:
        raise BenchError(f"{method} {path} is not in openapi.json: run `make openapi`")
    found = frozenset(int(s) for s in operation["responses"] if s.startswith("2"))
    if not found:
        raise BenchError(f"{method} {path}: openapi.json documents no success status")
    return found


def requests() -> list[SampleRequest]:
    """Every HttpApi route's sample request, reads first, then writes, then deletes (the
    widest resource last), in the template's order otherwise."""
    from local import sample_events as samples

    spec = json.loads((ROOT / "openapi.json").read_text())
    out = []
    for position, entry in enumerate(samples.build().values()):
        if entry.kind != "http" or entry.route is None:
            continue
        route, event = entry.route, entry.event
        sample = samples.SAMPLES.get(route.event, samples.Sample())
        query = event.get("rawQueryString") or ""
        auth = event["headers"].get("authorization", "")
        method_rank = METHOD_ORDER.get(route.method, 1)
        depth = route.path.count("/")
        out.append(
            SampleRequest(
                key=route.key,
                method=route.method,
                path=event["rawPath"] + (f"?{query}" if query else ""),
                token=auth.removeprefix("Bearer ") or None,
                headers=dict(sample.headers),
                body=event.get("body"),
                expect=_documented_successes(spec, route.path, route.method),
                variant="sample, agent" if sample.agent else "sample",
                # deletes: the deepest resource first, a project after its children
                order=(method_rank, -depth if method_rank == 2 else 0, position),
            )
        )
    return sorted(out, key=lambda r: r.order)


def _send(w: Walker, r: SampleRequest) -> tuple[bool, Any]:
    """Send one sample through the walker; keep it in the report when it succeeded."""
    key, label = w.label(r.method, r.path, r.variant)
    kwargs: dict[str, Any] = {"headers": r.headers}
    if r.body is not None:
        kwargs["body"] = r.body
    response, request = w.send(r.method, r.path, token=r.token, **kwargs)
    if response.status not in r.expect:
        return False, response
    w.keep(label, key, request, r.method, (r.path, r.variant, r.token, r.expect, kwargs))
    return True, response


def walk_reads(w: Walker, covered: set[str]) -> list[str]:
    """Seed the samples' world into the walker's stack and send the sample of every GET
    route not in `covered`. Returns the route keys walked."""
    from local.seed import seed

    todo = [r for r in requests() if r.method == "GET" and r.key not in covered]
    if not todo:
        return []
    with quiet():
        seed(w.api.stack, "active")
    for r in todo:
        ok, response = _send(w, r)
        if not ok:
            raise BenchError(
                f"{r.key} [{r.variant}]: its sample answered {response!r} on the seeded world "
                f"(expected {sorted(r.expect)})"
            )
    return [r.key for r in todo]


@dataclass
class WriteWalk:
    walkers: list[Walker] = field(default_factory=list)
    worlds: int = 0
    fresh: list[str] = field(default_factory=list)  # labels sent again on a fresh world
    collided: dict[str, str] = field(default_factory=dict)  # label -> the first answer
    steps: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)  # per function


def walk_writes(log: CallLog, covered: set[str]) -> WriteWalk:
    """Send the sample of every write route not in `covered`, on fresh seeded stacks (see
    the module's docstring). Each stack's calls go to `log`."""
    from local.seed import seed
    from tests.harness import emulated

    todo = [r for r in requests() if r.method != "GET" and r.key not in covered]
    out = WriteWalk()
    while todo:
        out.worlds += 1
        with emulated() as api:
            with quiet():
                api.stack.import_handlers()
                seed(api.stack, "active")
            with log.installed(api.stack):
                before = _copy(log.background)
                w = Walker(api, log)
                first = True
                while todo:
                    r = todo[0]
                    ok, response = _send(w, r)
                    label = f"{r.key} [{r.variant}]"
                    if not ok:
                        if first:
                            raise BenchError(
                                f"{label}: its sample answered {response!r} on a freshly seeded "
                                f"world (expected {sorted(r.expect)}; the sample replay test "
                                "should fail too)"
                            )
                        out.collided[label] = f"{response.status} {_title(response)}"
                        out.fresh.append(label)
                        break  # again, first, on a fresh world
                    todo.pop(0)
                    first = False
                    _agent_does_the_work(api, label)
                for function, ops in log.background.items():
                    grown = ops - before.get(function, Counter())
                    if grown:
                        out.steps.setdefault(function, Counter()).update(grown)
            out.walkers.append(w)
        if todo:
            progress(f"walk: {todo[0].key} again on a fresh seeded world")
    return out


def _copy(background: dict[str, Counter[tuple[str, str]]]) -> dict[str, Counter[tuple[str, str]]]:
    return {k: Counter(v) for k, v in background.items()}


def _title(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("title", "")) if isinstance(body, dict) else ""


def _agent_does_the_work(api: Any, label: str) -> None:
    """The edge cluster's agent claims and reports Done whatever the request handed it,
    until no execution runs; every execution must have succeeded (unmeasured requests)."""
    from local import sample_events as samples

    deadline = time.monotonic() + WORKFLOW_TIMEOUT
    with quiet():
        while True:
            r = api.post("/agent/work/claim", token=samples.AGENT_TOKEN, json={"limit": 10})
            items: Iterable[dict[str, Any]] = r.json().get("items", []) if r.status == 200 else []
            for item in items:
                done = {"lease_token": item["lease_token"], "status": "Done"}
                api.post(f"/agent/work/{item['id']}/result", token=samples.AGENT_TOKEN, json=done)
            every = [e for sm in api.stack.state_machine_arns() for e in api.executions(sm)]
            if not any(e["status"] == "RUNNING" for e in every):
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{label}: executions still running after {WORKFLOW_TIMEOUT:.0f} s"
                )
            time.sleep(0.02)
    failed = [e["executionArn"] for e in every if e["status"] != "SUCCEEDED"]
    if failed:
        raise BenchError(f"{label}: workflow executions failed: {failed}")
