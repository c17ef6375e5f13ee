"""Deliberate refusals that no static schema can express, in one place, each with its
reason. The fuzzing gate forgives a "schema-valid request rejected" failure only when the
response is one of these problems; anything else still fails the gate.

A rule matches on the status, the problem `type` and, where given, the first error's `loc`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEMS = "https://tenantry.dev/problems/"


@dataclass(frozen=True)
class Refusal:
    status: int
    type: str
    loc: tuple[Any, ...] | None
    reason: str
    msg: str | None = None  # and every error's message says this (when `loc` is None)

    def matches(self, status: int, problem: dict[str, Any]) -> bool:
        if status != self.status or problem.get("type") != PROBLEMS + self.type:
            return False
        errors = problem.get("errors") or []
        if self.msg is not None:
            return bool(errors) and all(self.msg in str(e.get("msg", "")) for e in errors)
        if self.loc is None:
            return True
        locs = [tuple(e.get("loc", ()))[: len(self.loc)] for e in errors]
        return self.loc in locs


REFUSALS = (
    Refusal(
        422,
        "validation",
        None,
        "A free-form JSON value (a chart's config, reported metadata) may hold only numbers "
        "DynamoDB stores: 1e-130 to below 1e126. JSON Schema cannot bound every nested number.",
        msg="a number out of the range the platform stores",
    ),
    Refusal(
        422,
        "validation",
        ("body", "initial_user"),
        "A project's owner is named one way: owner_id or initial_user, not both.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "init_git_repository"),
        "A repository needs the platform's Git provider, a deployment setting (none in the "
        "fuzzed stack).",
    ),
    Refusal(
        400,
        "bad-request",
        ("query", "cursor"),
        "A cursor is opaque: only one the server issued, for the same list and filters, is valid.",
    ),
    Refusal(
        412,
        "precondition-failed",
        None,
        "If-Match must name the resource's current version, which only the server knows.",
    ),
    Refusal(
        422,
        "validation",
        ("header", "Idempotency-Key"),
        "An Idempotency-Key may be reused only with the body it was first sent with.",
    ),
    Refusal(
        422,
        "unknown-reference",
        None,
        "A body may name users, templates, orgs or clusters; they must exist and be usable.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "id"),
        "Without an id, the project's id derives from its name, which needs latin letters or digits.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "clusters"),
        "Cluster names must be unique in a list; JSON Schema cannot say 'unique by name'.",
    ),
    Refusal(
        413,
        "quota-exceeded",
        None,
        "A quota or capacity is spent by earlier requests: server state.",
    ),
    Refusal(
        410,
        "gone",
        None,
        "An invite expires or is revoked: server state.",
    ),
    Refusal(
        400,
        "bad-request",
        ("query", "sort_by"),
        "A platform admin's list of deleted projects has no creation order (tombstones are in "
        "no GSI1 partition, so not in GSI1T): sort_by=created_at with state=deleted or "
        "status.phase=deleted is refused, naming sort_by. JSON Schema cannot relate two "
        "query parameters, nor the caller's role.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "initial_user"),
        "A new project's owner is named once: by owner_id (an existing user) or by "
        "initial_user (found or made by email), not both; each field alone is valid.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "pattern"),
        "A tag format must compile as a regular expression naming only the known groups; "
        "JSON Schema can say only that it names one.",
    ),
    Refusal(
        422,
        "validation",
        ("body", "props"),
        "A deployment resource's props must satisfy its type's values UI, which a chart "
        "declares: server state, not a static schema.",
    ),
)


def forgiven(status: int, problem: Any) -> Refusal | None:
    if not isinstance(problem, dict):
        return None
    return next((r for r in REFUSALS if r.matches(status, problem)), None)


def gateway_has_no_such_route(status: int, body: Any) -> bool:
    """A method no route has (TRACE, say) gets API Gateway HTTP API's own 404, not the 405
    schemathesis asks for: the local runner answers as the deployed API does."""
    return status == 404 and body == {"message": "Not Found"}
