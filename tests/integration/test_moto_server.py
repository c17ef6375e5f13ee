"""`make moto` (local/moto_server.py) and local/env.json, what `sam local invoke` (Docker)
runs against. Docker is not needed here: the server runs as a subprocess on a free port,
boto3 checks what it serves, and a function runs in another process with its env.json
environment (AWS_ENDPOINT_URL pointed at 127.0.0.1 instead of host.docker.internal), as
it would in SAM's container."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import env_json
from local import sample_events as samples
from local.runner_process import child_env, free_port, started

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 120.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# What SAM's container runs, in short: the handler with the event and a context.
CONTAINER = """
import json, sys, types
sys.path[:0] = ["layers/core", "."]
from functions.projects.app import lambda_handler
context = types.SimpleNamespace(
    function_name="ProjectsFunction", memory_limit_in_mb=512, aws_request_id="req-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ProjectsFunction",
    get_remaining_time_in_millis=lambda: 10000,
)
result = lambda_handler(json.load(open(sys.argv[1])), context)
sys.stderr.flush()
sys.__stdout__.write("RESULT " + json.dumps(result) + "\\n")
"""


def test_env_json_is_current() -> None:
    assert env_json.ENV_JSON.read_text() == env_json.render(env_json.build()), (
        "local/env.json is out of date: run `python -m local.env_json`"
    )


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "moto.log"
    env = child_env(MOTO_PORT=str(port), MOTO_HOST="127.0.0.1")
    with started(
        "local.moto_server", log_path, env, lambda: "moto on http://" in log_path.read_text()
    ):
        yield f"http://127.0.0.1:{port}"


def _client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_make_moto_serves_the_seeded_stack_to_an_out_of_process_function(
    moto_endpoint: str, tmp_path: Path
) -> None:
    ddb, sfn = _client("dynamodb", moto_endpoint), _client("stepfunctions", moto_endpoint)
    env = json.loads(env_json.ENV_JSON.read_text())["ProjectsFunction"]

    # The tables and state machines env.json names exist, and the seed is there.
    tables = ddb.list_tables()["TableNames"]
    assert {env["TABLE_NAME"], env["IDEMPOTENCY_TABLE_NAME"]} <= set(tables)
    machines = {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    assert {
        env["CREATE_PROJECT_STATE_MACHINE_ARN"],
        env["DELETE_PROJECT_STATE_MACHINE_ARN"],
    } <= machines
    demo = _project(ddb, env["TABLE_NAME"], samples.PROJECT_ID)
    assert demo["status"] == {"S": "active"}

    # A sample event, run by the function in another process with its env.json environment:
    # it writes through the server and starts a workflow that runs in the server's process.
    container_env = {**child_env(), **env, **FAKE_CREDENTIALS}
    container_env["AWS_ENDPOINT_URL"] = moto_endpoint  # host.docker.internal, from a container
    proc = subprocess.run(
        [sys.executable, "-c", CONTAINER, str(samples.EVENTS_DIR / "projects/CreateProject.json")],
        cwd=ROOT,
        env=container_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["statusCode"] == 202, result
    project_id = json.loads(result["body"])["id"]

    deadline = time.monotonic() + 30
    while _project(ddb, env["TABLE_NAME"], project_id)["status"] != {"S": "active"}:
        assert time.monotonic() < deadline, _project(ddb, env["TABLE_NAME"], project_id)
        time.sleep(0.2)
    executions = sfn.list_executions(stateMachineArn=env["CREATE_PROJECT_STATE_MACHINE_ARN"])
    statuses = {e["name"]: e["status"] for e in executions["executions"]}
    assert any(project_id in name and s == "SUCCEEDED" for name, s in statuses.items()), statuses


def _project(ddb: Any, table: str, project_id: str) -> dict[str, Any]:
    key = {"PK": {"S": f"PROJECT#{project_id}"}, "SK": {"S": "PROJECT"}}
    return ddb.get_item(TableName=table, Key=key).get("Item") or {}
