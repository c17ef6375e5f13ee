"""Replay every checked-in sample event (events/) through its real handler, on the stack
deployed from template.yaml under moto (the `api` fixture), after seeding the state the
samples refer to: the admin with the samples' token, a second admin token, a bot with a
token, and project `demo` owned by the admin.

Every sample is a request that should succeed, so HTTP samples must answer 2xx (GETs 200)
with a well-formed payload 2.0 response; workflow steps must return a JSON result; the
authorizer must resolve the samples' token to exactly the context the HTTP samples carry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local import sample_events as samples
from local.seed import admin, project_status_for
from local.seed import seed as seed_world

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ENTRIES = samples.build()


@pytest.fixture
def git() -> Any:
    """The emulated Git provider, for the Git steps' samples (as `make invoke` has it)."""
    from local import git_provider

    with git_provider.Provider().serving() as provider:
        yield provider


@pytest.fixture
def stack_parameters(git: Any) -> dict[str, str]:
    return dict(git.parameters())


def seed(api: Any, project_status: str, git: Any) -> None:
    """The samples' world (local/seed.py, shared with `make invoke` and `make moto`), with
    the Git provider's token where the template says."""
    from local import git_provider

    seed_world(api.stack, project_status)
    git_provider.attach(git, api.stack)


def _assert_executions_succeeded(api: Any) -> None:
    """Every execution a sample started ends well; the edge cluster's agent (the samples'
    AGENT_TOKEN) does the work they hand it meanwhile, as a real agent would."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = api.post("/agent/work/claim", token=samples.AGENT_TOKEN, json={"limit": 10})
        for item in r.json().get("items", []) if r.status == 200 else []:
            done = {"lease_token": item["lease_token"], "status": "Done"}
            api.post(f"/agent/work/{item['id']}/result", token=samples.AGENT_TOKEN, json=done)
        every = [e for sm in api.stack.state_machine_arns() for e in api.executions(sm)]
        running = [e for e in every if e["status"] == "RUNNING"]
        if not running:
            break
        time.sleep(0.05)
    executions = api.wait_for_executions()
    failed = [e for e in executions if e["status"] != "SUCCEEDED"]
    assert not failed, failed


def _status_for(entry: samples.Entry) -> str:
    return project_status_for(entry.event)


def _assert_http_response(entry: samples.Entry, result: Any) -> dict[str, Any] | None:
    """A well-formed payload 2.0 response; returns the JSON body (None when empty)."""
    assert isinstance(result, dict), result
    status = result.get("statusCode")
    assert isinstance(status, int), result
    assert status != 500, result
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    assert not result.get("isBase64Encoded"), result
    body = result.get("body") or ""
    assert isinstance(body, str), result
    parsed = json.loads(body) if body else None
    if status >= 400:
        assert headers.get("content-type") == "application/problem+json", result
        assert isinstance(parsed, dict), result
        assert parsed["status"] == status, result
        assert {"type", "title", "detail"} <= parsed.keys(), result
    elif status != 204:
        assert headers.get("content-type", "").startswith("application/json"), result
        assert parsed is not None, result
    return parsed


@pytest.mark.parametrize("rel", sorted(ENTRIES), ids=lambda p: p.as_posix())
def test_sample_event_is_handled(api: Any, git: Any, rel: Path) -> None:
    entry = ENTRIES[rel]
    path = samples.EVENTS_DIR / rel
    assert path.is_file(), f"{path} is missing: run `python -m local.sample_events`"
    event = json.loads(path.read_text())
    seed(api, _status_for(entry), git)

    result = api.invoke(entry.function, event)

    if entry.kind == "authorizer":
        assert result == {"isAuthorized": True, "context": samples.authorizer_context()}
    elif entry.kind == "step":
        assert isinstance(result, dict), result
        json.dumps(result)
        if entry.function in ("NamespaceOutcomeFunction", "FinishTaskFunction"):
            if "error" in event:  # a cluster's or a task's wait, caught: failed, saying why
                assert result["status"] == "Failed" and result["reason"], result
        elif "error" in event:  # a Catch target: the project is failed with a readable reason
            from tenantry.domain import projects

            project = projects.get_project(admin(), samples.PROJECT_ID)
            assert project.status == "failed", project
            assert project.reason and project.reason.startswith("the image registry refused")
    elif entry.kind == "schedule":  # the reconciler: how many operations got which action
        assert isinstance(result, dict) and all(isinstance(n, int) for n in result.values())
    elif entry.kind == "websocket-authorizer":  # Allow, with who connects
        assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow", result
        assert result["policyDocument"]["Statement"][0]["Resource"] == event["methodArn"]
        assert result["context"] == samples.realtime_context(), result
    elif entry.kind == "websocket":
        assert result["statusCode"] == 200, result
        route = event["requestContext"]["routeKey"]
        connection = api.stack.client("dynamodb").get_item(
            TableName=api.stack.physical_id("TenantryTable"),
            Key={"PK": {"S": f"CONN#{samples.CONNECTION_ID}"}, "SK": {"S": "CONN"}},
        )
        if route == "$connect":  # recorded, with who it is and when it ends
            item = connection["Item"]
            assert item["principal_id"]["S"] == samples.admin_user_id(), item
            assert item["GSI1PK"]["S"] == "CONNS#admin", item
            assert int(item["expires_at"]["N"]) > 0, item
        elif route == "$disconnect":
            assert "Item" not in connection, connection
        else:  # a ping
            assert json.loads(result["body"]) == {"type": "pong"}, result
    elif entry.kind == "rule":  # a lifecycle event pushed: to nobody (no connection yet)
        assert result == {"delivered": 0, "gone": 0, "closed": 0}, result
    elif entry.kind in ("queue", "stream"):
        # a batch: every message handled (the seed's push, again), every history entry's
        # event put on the bus
        assert result == {"batchItemFailures": []}, result
    else:
        assert entry.route is not None
        body = _assert_http_response(entry, result)
        status = result["statusCode"]
        assert 200 <= status < 300, f"{entry.route.key}: {result}"
        if entry.route.method == "GET":
            assert status == 200, result
            assert body is not None
            if "items" in body:  # the seed gives every list something to return
                assert body["items"], f"{entry.route.key}: empty list {result}"
        _assert_executions_succeeded(api)  # create/delete samples start a real workflow
        if status == 204:
            assert not result.get("body"), f"{entry.route.key}: a 204 carries no body"


def test_http_samples_carry_what_the_authorizer_returns(api: Any, git: Any) -> None:
    """The context in the HTTP samples is what the real authorizer resolves their token to."""
    seed(api, "active", git)
    authorizer = next(e for e in ENTRIES.values() if e.kind == "authorizer")
    for rel, entry in ENTRIES.items():
        if entry.kind != "http" or entry.route is None or entry.route.authorizer is None:
            continue
        event = json.loads((samples.EVENTS_DIR / rel).read_text())
        request = {**authorizer.event, "headers": event["headers"]}
        decision = api.invoke(authorizer.function, request)
        assert decision["context"] == event["requestContext"]["authorizer"]["lambda"], rel
