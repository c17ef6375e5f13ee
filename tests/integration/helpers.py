"""Shared helpers of the route tests: principals, projects, problem+json checks, paging."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from tests.harness import Api, Response

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tenantry.dev/problems/"
_seq = itertools.count(1)


# An invite as every route answers it (`code` only in the creating answer of a secure one).
INVITE_FIELDS = {
    "id",
    "email",
    "scope",
    "target_id",
    "roles",
    "status",
    "expires_at",
    "created_at",
    "invited_by",
    "secure",
    "version",
}


def assert_problem(
    r: Response,
    status: int,
    type_name: str | None = None,
    *,
    loc: list[Any] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem: status, media type, the required members; with `loc`, an entry
    of `errors` at that location."""
    assert r.status == status, r
    assert r.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, r
    body = r.json()
    assert {"type", "title", "status", "detail", "request_id"} <= body.keys(), body
    assert body["status"] == status, body
    assert isinstance(body["type"], str) and body["type"], body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["request_id"], str) and body["request_id"], body
    if type_name is not None:
        assert body["type"].endswith(type_name), body
    if loc is not None:
        errors = body.get("errors")
        assert isinstance(errors, list) and errors, body
        for e in errors:
            assert isinstance(e["loc"], list) and isinstance(e["msg"], str) and e["msg"], body
        # list indexes may come as 0 or "0" (see the report); compare them as text
        wanted = [str(x) for x in loc]
        assert any([str(x) for x in e["loc"]] == wanted for e in errors), (loc, body)
    return body


def assert_validation(r: Response, loc: list[Any]) -> dict[str, Any]:
    return assert_problem(r, 422, loc=loc)


def make_user(
    api: Api,
    admin_token: str,
    display_name: str | None = None,
    *,
    email: str | None = None,
    is_admin: bool = False,
) -> tuple[dict[str, Any], str]:
    """A new user (by the admin) and an API token of theirs: (user, token secret)."""
    n = next(_seq)
    display_name = display_name or f"User {n}"
    email = email or f"user{n}-{hashlib.sha1(display_name.encode()).hexdigest()[:6]}@example.com"
    r = api.post(
        "/users",
        token=admin_token,
        json={"email": email, "display_name": display_name, "is_admin": is_admin},
    )
    assert r.status == 201, r
    user = r.json()
    r = api.post("/user-tokens", token=admin_token, json={"user_id": user["id"]})
    assert r.status == 201, r
    return user, r.json()["created_token"]


def make_bot(api: Api, admin_token: str, display_name: str = "Bot") -> tuple[dict[str, Any], str]:
    r = api.post("/bots", token=admin_token, json={"display_name": display_name})
    assert r.status == 201, r
    bot = r.json()
    r = api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    assert r.status == 201, r
    return bot, r.json()["created_token"]


def create_project(api: Api, token: str, **body: Any) -> dict[str, Any]:
    """POST /projects, asserting the 202; returns the project as answered."""
    r = api.post("/projects", token=token, json=body)
    assert r.status == 202, r
    project = r.json()
    assert r.headers["location"] == f"/projects/{project['id']}", r
    return project


def workflows_running(api: Api) -> bool:
    sfn = api.stack.client("stepfunctions")
    return any(
        sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        for arn in api.stack.state_machine_arns().values()
    )


def wait_status(
    api: Api,
    token: str,
    project_id: str,
    status: str,
    wait_until: Callable[..., Any],
    timeout: float = 10,
) -> dict[str, Any]:
    """Poll GET /projects/{id} until it has `status`; returns the project.

    The GET is sent only while no workflow runs: moto's DynamoDB backend is not thread-safe
    and Step Functions executions run their Lambda steps in background threads, so a
    request overlapping a step can fail inside moto ("dictionary changed size during
    iteration" from the whole-table deepcopy in transact_write_items). Tests therefore let
    the workflows settle before their next request."""

    def reached() -> dict[str, Any] | None:
        if workflows_running(api):
            return None
        r = api.get(f"/projects/{project_id}", token=token)
        assert r.status == 200, r
        body = r.json()
        return body if body["status"] == status else None

    result: dict[str, Any] = wait_until(reached, timeout=timeout)
    return result


def wait_all(
    api: Api,
    token: str,
    project_ids: list[str],
    status: str,
    wait_until: Callable[..., Any],
) -> None:
    for pid in project_ids:
        wait_status(api, token, pid, status, wait_until)


def settle(api: Api, wait_until: Callable[..., Any], timeout: float = 10) -> None:
    """Wait until no workflow runs (see wait_status for why requests must not overlap)."""
    wait_until(lambda: not workflows_running(api), timeout=timeout)


def create_active(
    api: Api, token: str, wait_until: Callable[..., Any], **body: Any
) -> dict[str, Any]:
    """POST /projects, then wait until it is active; returns the active project."""
    project = create_project(api, token, **body)
    assert project["status"] == "creating", project
    return wait_status(api, token, project["id"], "active", wait_until)


def list_ids(api: Api, token: str, path: str = "/projects", **query: Any) -> list[str]:
    """Every id of a project list, across all its pages."""
    return [p["id"] for p in list_all(api, token, path, **query)]


def list_all(
    api: Api, token: str, path: str = "/projects", *, limit: int = 100, **query: Any
) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor; asserts the pages are well formed."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        q = {k: v for k, v in {**query, "limit": limit, "cursor": cursor}.items() if v is not None}
        r = api.get(path, token=token, query=q)
        assert r.status == 200, r
        body = r.json()
        assert set(body) >= {"items", "next_cursor"}, body
        assert len(body["items"]) <= limit, body
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path} did not end after 200 pages")


MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def push_image(api: Api, repository: str, tag: str, config_size: int = 1234) -> str:
    """Push an image manifest into an (existing) ECR repository; returns its digest."""
    seed = hashlib.sha256(f"{repository}:{tag}:{config_size}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config_size,
            "digest": f"sha256:{seed}",
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 4321,
                "digest": f"sha256:{hashlib.sha256(seed.encode()).hexdigest()}",
            }
        ],
    }
    ecr = api.stack.client("ecr")
    out = ecr.put_image(
        repositoryName=repository,
        imageManifest=json.dumps(manifest),
        imageManifestMediaType=MANIFEST_MEDIA_TYPE,
        imageTag=tag,
    )
    digest: str = out["image"]["imageId"]["imageDigest"]
    return digest


def ecr_repositories(api: Api) -> set[str]:
    repos = api.stack.client("ecr").describe_repositories()["repositories"]
    return {r["repositoryName"] for r in repos}


def executions_for(api: Api, state_machine: str, project_id: str) -> list[dict[str, Any]]:
    """The executions of a state machine whose input names this project."""
    return [
        e
        for e in api.executions(state_machine)
        if json.loads(e["input"]).get("project_id") == project_id
    ]


def without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def tampered_cursors(cursor: str) -> list[tuple[dict[str, Any], str]]:
    """A real cursor decoded (it is only base64 JSON), its key replaced, encoded again: what
    a client that edits cursors would send. Each must be refused like any bad cursor."""
    import base64

    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    keys: list[dict[str, Any]] = [
        {"PK": "x"},
        {"PK": "x", "SK": "y"},
        {"foo": "bar"},
    ]
    stripped = {k: v for k, v in data["k"].items() if k in ("PK", "SK")}
    if stripped != data["k"]:  # an index list's cursor without its index attributes
        keys.append(stripped)
    else:  # a base-table list's cursor moved to another partition
        keys.append({**stripped, "PK": stripped["PK"] + "-other"})
    return [
        (k, base64.urlsafe_b64encode(json.dumps({**data, "k": k}).encode()).decode().rstrip("="))
        for k in keys
    ]


def sqs_batch(*bodies: Any) -> dict[str, Any]:
    """An SQS event source's batch of these message bodies (JSON; a str as it is), message
    ids from the events' ids (or their place in the batch)."""
    return {
        "Records": [
            {
                "messageId": str(body.get("id") or i) if isinstance(body, dict) else str(i),
                "body": body if isinstance(body, str) else json.dumps(body),
            }
            for i, body in enumerate(bodies)
        ]
    }
