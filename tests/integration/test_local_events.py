"""`make run` emulates what template.yaml declares beyond the API, end to end against the
runner as a subprocess: the demo chart pushed to its emulated ECR at start is discovered;
`POST /local/events` (PutEvents, a platform admin's) goes through the template's rule,
queue and event source to ChartDiscoveryFunction; SCHEDULE_SECONDS shortens schedules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.ecr_registry import DEMO_REPOSITORY, DEMO_TAG
from local.runner_process import Running, request, running

ADMIN_TOKEN = "local-events-admin-token-0123456789abcdef"


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    log_path = tmp_path_factory.mktemp("runner") / "runner.log"
    with running(log_path, ADMIN_TOKEN, {"SCHEDULE_SECONDS": "1"}) as process:
        yield process


def _charts(runner: Running) -> list[dict[str, Any]]:
    status, body = request("GET", f"{runner.url}/helm-charts?limit=100", ADMIN_TOKEN)
    assert status == 200, body
    return list(body["items"])


def _until(found: Any, timeout: float = 60.0) -> Any:
    # Generous: a loaded 2-core machine took over 20 s to provision (a project's workflow
    # and its stream) beside a bench and other test runs; a passing wait returns at once.
    deadline = time.monotonic() + timeout
    while not (value := found()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)
    return value


def _put(runner: Running, body: Any, token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
    return request("POST", f"{runner.url}/local/events", token, body)


def _entry(detail: dict[str, Any]) -> dict[str, Any]:
    return {"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": json.dumps(detail)}


def test_the_demo_chart_pushed_at_start_is_discovered(runner: Running) -> None:
    (chart,) = _until(lambda: _charts(runner))
    assert chart["image_tag"] == DEMO_TAG and chart["error"] is None
    assert chart["values_ui"]["kind"] == "ValuesUi"
    assert f"pushed {DEMO_REPOSITORY}:{DEMO_TAG}" in runner.log_path.read_text()


def test_an_ecr_push_put_on_local_events_becomes_a_chart(runner: Running) -> None:
    (demo,) = _until(lambda: _charts(runner))
    push = {
        "result": "SUCCESS",
        "repository-name": DEMO_REPOSITORY,
        "image-digest": demo["image_digest"],
        "action-type": "PUSH",
        "image-tag": "stable",
    }
    other = {**push, "repository-name": "tenantry/demo"}  # matches no rule: nowhere to go
    status, body = _put(runner, {"Entries": [_entry(push), _entry(other)]})
    assert status == 200, body
    assert body["FailedEntryCount"] == 0 and len(body["Entries"]) == 2
    assert all("EventId" in e for e in body["Entries"])
    stable = _until(lambda: [c for c in _charts(runner) if c["image_tag"] == "stable"])
    assert stable[0]["image_digest"] == demo["image_digest"]

    status, body = _put(runner, {"Entries": [_entry({**push, "action-type": "DELETE"})]})
    assert status == 200, body
    _until(
        lambda: [c for c in _charts(runner) if c["image_tag"] == "stable" and not c["available"]]
    )
    assert len(_charts(runner)) == 2


def test_a_malformed_detail_is_a_failed_entry(runner: Running) -> None:
    entry = {"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": "{not json"}
    status, body = _put(runner, {"Entries": [entry]})
    assert status == 200, body
    assert body["FailedEntryCount"] == 1
    assert body["Entries"][0]["ErrorCode"] == "MalformedDetail"


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"Entries": []},
        {"Entries": [{"Source": "aws.ecr", "DetailType": "x"}]},
        {"Entries": [{"Source": "aws.ecr", "DetailType": "x", "Detail": "{}", "Bus": "b"}]},
        {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 11},
        {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}", "Time": "noon"}]},
    ],
)
def test_a_request_that_is_not_put_events_is_400(runner: Running, body: Any) -> None:
    status, answer = _put(runner, body)
    assert status == 400, answer
    assert answer["status"] == 400 and answer["detail"]


def test_only_a_platform_admin_puts_events(runner: Running) -> None:
    entries = {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}
    status, user = request(
        "POST",
        f"{runner.url}/users",
        ADMIN_TOKEN,
        {"email": "events@example.com", "display_name": "Events"},
    )
    assert status == 201, user
    status, token = request(
        "POST", f"{runner.url}/user-tokens", ADMIN_TOKEN, {"user_id": user["id"]}
    )
    assert status == 201, token
    assert _put(runner, entries, token["created_token"])[0] == 403
    assert _put(runner, entries, None)[0] == 401
    assert _put(runner, entries, "not-a-token")[0] == 401


def test_schedule_seconds_runs_every_schedule_that_often(runner: Running) -> None:
    log = runner.log_path
    assert "Schedule EveryMinute: ReconcilerFunction every 1 s" in log.read_text()
    _until(lambda: log.read_text().count("ReconcilerFunction (EveryMinute)") >= 2)


def _published(runner: Running) -> list[dict[str, Any]]:
    """StreamFunction's log lines (one per invocation) so far. Matched by their message:
    the functions share one Powertools logger in the runner's process, so a line's
    function_name may be another's that ran meanwhile. Every such line must be whole JSON:
    the runner writes its output a line at a time (local/whole_lines.py)."""
    found = []
    for line in runner.log_path.read_text().splitlines():
        if '"message":"lifecycle events"' not in line:
            continue
        record = json.loads(line)  # a cut line fails here
        if record.get("message") == "lifecycle events":
            found.append(record)
    return found


def test_the_tables_stream_is_read_and_each_history_entry_published(runner: Running) -> None:
    """The runner plays the template's stream event source mapping: a project's history
    entries reach StreamFunction, which puts them on the bus (tests/integration/
    test_lifecycle_events.py follows them to a subscriber; here, the runner's own log)."""
    assert "Stream TenantryTable: StreamFunction" in runner.log_path.read_text()
    before = sum(line["published"] for line in _published(runner))
    status, body = request("POST", f"{runner.url}/projects", ADMIN_TOKEN, {"name": "Streamed"})
    assert status == 202, body

    def history() -> list[Any]:
        status, page = request("GET", f"{runner.url}/projects/streamed/history", ADMIN_TOKEN)
        assert status == 200, page
        entries = list(page["items"])
        return entries if entries and entries[-1]["event"] == "provisioned" else []

    entries = _until(history)
    _until(lambda: sum(line["published"] for line in _published(runner)) - before >= len(entries))
    assert all(not line["failed"] for line in _published(runner))
