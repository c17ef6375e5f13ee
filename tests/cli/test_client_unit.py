"""The client's HTTP behaviour against scripted answers (httpx.MockTransport): retries and
their bounds, Retry-After, the Idempotency-Key kept across retries, If-Match values, and
problems (or other error bodies) as exceptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from tenantry_client import (
    ApiError,
    NotFound,
    ServerError,
    Tenantry,
    TooManyRequests,
    TransportError,
    Unavailable,
    Unprocessable,
)
from tenantry_client.util import if_match_header, retry_after_seconds

PROJECT = {
    "id": "shop",
    "name": "Shop",
    "owner_id": "u1",
    "status": "creating",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "version": 1,
    "join_policy": "moderated",
    "leave_policy": "auto",
}


def scripted(
    *answers: httpx.Response | Exception,
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A transport answering the given responses in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, httpx.MockTransport(handle)


def problem(
    status: int, kind: str, headers: dict[str, str] | None = None, **extra: object
) -> httpx.Response:
    body = {
        "type": f"https://tenantry.dev/problems/{kind}",
        "title": kind.title(),
        "status": status,
        "detail": f"{kind} happened",
        **extra,
    }
    return httpx.Response(
        status, json=body, headers={"content-type": "application/problem+json", **(headers or {})}
    )


def client_on(transport: httpx.MockTransport, sleeps: list[float], **options: object) -> Tenantry:
    return Tenantry("http://t.test/", "tnt_x", transport=transport, sleep=sleeps.append, **options)  # type: ignore[arg-type]


def test_a_create_retried_after_503_sends_the_same_idempotency_key() -> None:
    busy = httpx.Response(
        503,
        json={"type": "x/unavailable", "title": "Unavailable", "status": 503, "detail": "busy"},
        headers={"retry-after": "2"},
    )
    seen, transport = scripted(busy, httpx.Response(202, json=PROJECT, headers={"etag": '"1"'}))
    sleeps: list[float] = []
    project = client_on(transport, sleeps).projects.create("Shop")
    assert project.id == "shop" and project.etag == '"1"'
    assert sleeps == [2.0]
    keys = [r.headers["idempotency-key"] for r in seen]
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 36
    assert json.loads(seen[0].content) == {"name": "Shop"}


def test_each_call_has_its_own_key_unless_given() -> None:
    seen, transport = scripted(httpx.Response(202, json=PROJECT))
    c = client_on(transport, [])
    c.projects.create("Shop")
    c.projects.create("Shop")
    c.projects.create("Shop", idempotency_key="mine-1")
    keys = [r.headers["idempotency-key"] for r in seen]
    assert keys[0] != keys[1] and keys[2] == "mine-1"


def test_retries_are_bounded_and_the_last_answer_raises() -> None:
    throttled = problem(429, "throttled", headers={"retry-after": "1"})
    seen, transport = scripted(throttled)
    sleeps: list[float] = []
    with pytest.raises(TooManyRequests) as e:
        client_on(transport, sleeps, max_retries=3).projects.get("shop")
    assert len(seen) == 4 and sleeps == [1.0, 1.0, 1.0]
    assert e.value.status == 429 and e.value.problem_type == "throttled"


def test_a_wait_longer_than_allowed_is_not_waited() -> None:
    seen, transport = scripted(problem(503, "unavailable", headers={"retry-after": "3600"}))
    sleeps: list[float] = []
    with pytest.raises(Unavailable):
        client_on(transport, sleeps, max_retry_wait=60).projects.get("shop")
    assert len(seen) == 1 and sleeps == []


def test_without_retry_after_the_backoff_grows() -> None:
    _, transport = scripted(
        httpx.Response(503, text="busy"),
        httpx.Response(503, text="busy"),
        httpx.Response(200, json=PROJECT),
    )
    sleeps: list[float] = []
    client_on(transport, sleeps).projects.get("shop")
    assert sleeps == [0.5, 1.0]


def test_a_409_of_a_running_retry_is_waited_for_only_with_a_key() -> None:
    running = problem(409, "conflict", headers={"retry-after": "1"})
    seen, transport = scripted(running, httpx.Response(202, json=PROJECT))
    sleeps: list[float] = []
    client_on(transport, sleeps).projects.create("Shop")
    assert sleeps == [1.0] and len(seen) == 2
    seen, transport = scripted(running)
    with pytest.raises(ApiError) as e:  # an action takes no key: its 409 is final
        client_on(transport, []).projects.action("shop", "suspend")
    assert e.value.status == 409 and len(seen) == 1


def test_connection_failures_are_retried_only_where_safe() -> None:
    down = httpx.ConnectError("refused")
    seen, transport = scripted(down, httpx.Response(200, json=PROJECT))
    assert client_on(transport, []).projects.get("shop").id == "shop"
    assert len(seen) == 2
    seen, transport = scripted(down)
    with pytest.raises(TransportError):  # POST without a key: never sent twice
        client_on(transport, []).projects.action("shop", "suspend")
    assert len(seen) == 1
    seen, transport = scripted(down)
    with pytest.raises(TransportError):
        client_on(transport, [], max_retries=2).projects.create("Shop")
    assert len(seen) == 3


def test_problems_become_exceptions_with_their_members() -> None:
    body = problem(
        422, "validation", errors=[{"loc": ["body", "name"], "msg": "too long"}], request_id="req-1"
    )
    _, transport = scripted(body)
    with pytest.raises(Unprocessable) as e:
        client_on(transport, []).projects.create("x" * 300)
    err = e.value
    assert (err.status, err.problem_type, err.title, err.request_id) == (
        422,
        "validation",
        "Validation",
        "req-1",
    )
    assert err.errors == [{"loc": ["body", "name"], "msg": "too long"}]
    assert "body.name: too long" in err.message


def test_answers_that_are_no_problem_still_raise_by_status() -> None:
    _, transport = scripted(httpx.Response(404, json={"message": "Not Found"}))
    with pytest.raises(NotFound) as e:
        client_on(transport, []).projects.get("shop")
    assert e.value.title == "Not Found"
    _, transport = scripted(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ServerError) as e2:
        client_on(transport, []).projects.get("shop")
    assert e2.value.status == 502 and e2.value.title == "Bad Gateway"


def test_ids_stay_one_path_segment() -> None:
    seen, transport = scripted(httpx.Response(404, json={"message": "Not Found"}))
    with pytest.raises(NotFound):
        client_on(transport, []).projects.get("../users/x?y=1")
    assert seen[0].url.raw_path == b"/projects/..%2Fusers%2Fx%3Fy%3D1"


@pytest.mark.parametrize(
    ("value", "header"),
    [(3, '"3"'), ("3", '"3"'), ('"3"', '"3"'), ("*", "*"), ('W/"3"', 'W/"3"'), (None, None)],
)
def test_if_match_values(value: object, header: str | None) -> None:
    assert if_match_header(value) == header  # type: ignore[arg-type]


def test_if_match_of_a_model_is_its_etag_else_its_version() -> None:
    from tenantry_client.models import Project

    project = Project.model_validate({**PROJECT, "version": 7})
    assert if_match_header(project) == '"7"'
    project._etag = '"8"'
    assert if_match_header(project) == '"8"'


def test_retry_after_as_seconds_or_a_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_list_follows_cursors_and_stops_at_max_items() -> None:
    pages = {
        None: {"items": [PROJECT], "next_cursor": "c1"},
        "c1": {"items": [], "next_cursor": "c2"},  # a short page before the end
        "c2": {
            "items": [{**PROJECT, "id": "two"}, {**PROJECT, "id": "three"}],
            "next_cursor": None,
        },
    }
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    c = Tenantry("http://t.test", "tnt_x", transport=httpx.MockTransport(handle))
    assert [p.id for p in c.projects.list(state="active", limit=1)] == ["shop", "two", "three"]
    assert [r.url.params.get("state") for r in seen] == ["active"] * 3
    assert [r.url.params.get("limit") for r in seen] == ["1"] * 3
    seen.clear()
    assert [p.id for p in c.projects.list(max_items=1)] == ["shop"]
    assert len(seen) == 1


def test_the_token_is_sent_as_a_bearer_header() -> None:
    seen, transport = scripted(
        httpx.Response(
            200, json={"kind": "user", "id": "u", "display_name": "U", "is_admin": False}
        )
    )
    client_on(transport, []).me()
    assert seen[0].headers["authorization"] == "Bearer tnt_x"
    assert seen[0].url == "http://t.test/auth/me"
