"""`make run` end to end: the runner as a subprocess on a free loopback port."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.runner_process import request, running

ADMIN_TOKEN = "runner-test-admin-token-0123456789abcdef"


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    return request("GET", url, token)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One runner for the module's tests (startup is seconds); each test leaves it serving."""
    log_path = tmp_path_factory.mktemp("runner") / "runner.log"
    with running(log_path, ADMIN_TOKEN) as process:
        yield process.url


def test_runner_serves_the_api_with_the_admin_token(runner: str) -> None:
    status, body = _get(f"{runner}/auth/me", ADMIN_TOKEN)
    assert status == 200, body
    assert body["is_admin"] is True

    status, body = _get(f"{runner}/auth/me", "not-a-valid-token")
    assert status == 401, body

    status, body = _get(f"{runner}/no/such/route")
    assert (status, body) == (404, {"message": "Not Found"})


def _exchange(base: str, raw: bytes, *, half_close: bool = False) -> tuple[int, Any]:
    """Send raw bytes to the runner; the status and JSON body of its answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)  # the client has sent all it will send
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        return resp.status, json.loads(resp.read() or b"null")


def _connection(base: str) -> http.client.HTTPConnection:
    host, port = base.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def test_path_parameters_are_percent_decoded_as_api_gateway_does(runner: str) -> None:
    _, me = _get(f"{runner}/auth/me", ADMIN_TOKEN)
    user_id = me["id"]
    encoded = "".join(f"%{b:02X}" for b in user_id.encode())

    status, body = _get(f"{runner}/users/{encoded}", ADMIN_TOKEN)
    assert (status, body["id"]) == (200, user_id), body
    # HTTP API decodes before routing: %2F is a "/", so no {userId} route matches.
    status, body = _get(f"{runner}/users/{user_id[:4]}%2F{user_id[4:]}", ADMIN_TOKEN)
    assert (status, body) == (404, {"message": "Not Found"})
    status, body = _get(f"{runner}/users/%zz", ADMIN_TOKEN)
    assert (status, body) == (400, {"message": "Bad Request"})


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "OPTIONS", "BREW", "HEAD"])
def test_a_method_no_route_has_is_api_gateways_404(runner: str, method: str) -> None:
    conn = _connection(runner)
    conn.request(method, "/health")
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 404 and resp.getheader("content-type") == "application/json"
    assert body == (b"" if method == "HEAD" else b'{"message": "Not Found"}')
    conn.request("GET", "/health")  # the connection is still good
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (200, {"status": "ok"})
    conn.close()


@pytest.mark.parametrize(
    ("content_length", "sent", "expected"),
    [
        ("abc", b"{}", 400),
        ("-5", b"{}", 400),
        ("1e3", b"{}", 400),
        ("2, 3", b"{}", 400),
        ("20", b"{}", 400),  # more than the body, and the client is done sending
        (str(10 * 1024 * 1024 + 1), b"{}", 413),  # over API Gateway's 10 MB payload limit
        ("9" * 5000, b"{}", 413),
    ],
)
def test_a_bad_content_length_is_a_4xx_never_a_crash_or_a_hang(
    runner: str, content_length: str, sent: bytes, expected: int
) -> None:
    head = (
        f"POST /users HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
    started = time.monotonic()
    status, body = _exchange(runner, head.encode() + sent, half_close=True)
    message = "Bad Request" if expected == 400 else "Request Entity Too Large"
    assert (status, body) == (expected, {"message": message})
    assert time.monotonic() - started < 5
    assert _get(f"{runner}/health")[0] == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health HTTP/2.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_what_http_server_rejects_is_json_too(runner: str, raw: bytes, expected: int) -> None:
    status, body = _exchange(runner, raw)
    assert status == expected and set(body) == {"message"}, body


def test_a_chunked_body_reaches_the_handler(runner: str) -> None:
    conn = _connection(runner)
    payload = json.dumps({"email": "chunked@example.com", "display_name": "Chunked"}).encode()
    conn.request(
        "POST",
        "/users",
        body=iter([payload[:10], payload[10:]]),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 201 and body["email"] == "chunked@example.com", body
    conn.close()


# --- the emulation itself (local/stack.py), in process, with stand-in handlers -------------


class Recorder:
    def __init__(self, result: Any = None, errors: list[Exception] | None = None) -> None:
        self.events: list[Any] = []
        self.result, self.errors = result, list(errors or [])

    def __call__(self, event: Any, context: Any) -> Any:
        assert context.function_name and context.get_remaining_time_in_millis() > 0
        self.events.append(event)
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class TransientError(Exception):
    pass


def test_unmatched_route_is_api_gateways_404(api: Any) -> None:
    for method, path in [("GET", "/no/such/route"), ("DELETE", "/health"), ("GET", "/health/")]:
        r = api.request(method, path)
        assert (r.status, r.json()) == (404, {"message": "Not Found"}), (method, path)


def test_request_becomes_http_api_payload_v2_through_the_authorizer(api: Any) -> None:
    authorizer = Recorder({"isAuthorized": True, "context": {"principal_id": "p1"}})
    route = Recorder({"statusCode": 201, "headers": {"X-One": "1"}, "body": "created"})
    api.stack.set_handler("AuthorizerFunction", authorizer)
    api.stack.set_handler("IdentityFunction", route)

    r = api.get(
        "/users/u%201?a=1&a=2&b=",
        token="secret",
        headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "Yes"},
    )
    assert (r.status, r.headers["x-one"], r.body) == (201, "1", "created")

    (event,) = route.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /users/{userId}"
    assert (event["rawPath"], event["rawQueryString"]) == ("/users/u 1", "a=1&a=2&b=")
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"userId": "u 1"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "Yes" and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False and "body" not in event
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "GET" and ctx["stage"] == "$default"
    assert ctx["authorizer"] == {"lambda": {"principal_id": "p1"}}

    (auth_event,) = authorizer.events
    assert auth_event["type"] == "REQUEST" and auth_event["version"] == "2.0"
    assert auth_event["identitySource"] == ["Bearer secret"]
    assert auth_event["routeArn"].endswith("/$default/GET/users/u 1")
    assert auth_event["headers"]["authorization"] == "Bearer secret"


def test_public_route_skips_the_authorizer_and_denied_is_403(api: Any) -> None:
    authorizer = Recorder({"isAuthorized": False})
    route = Recorder({"ok": True})  # no statusCode: 200 with the JSON of the result
    api.stack.set_handler("AuthorizerFunction", authorizer)
    api.stack.set_handler("IdentityFunction", route)

    r = api.get("/health")
    assert (r.status, r.json(), len(authorizer.events)) == (200, {"ok": True}, 0)
    r = api.post("/users", token="x", json={"a": 1})
    assert (r.status, r.json()) == (403, {"message": "Forbidden"})
    assert len(authorizer.events) == 1 and len(route.events) == 1


def test_step_errors_reach_retry_and_catch_by_name(api: Any, wait_until: Any) -> None:
    """Lambda errors are signalled like AWS (x-amz-function-error + errorType), so the
    template's Retry (TransientError) and Catch (States.ALL) see them; waits are scaled."""
    steps = {
        name: Recorder({}) for name in ("CreateEnvironmentsFunction", "FinishProvisioningFunction")
    }
    steps["CreateImageRepositoryFunction"] = Recorder({}, [TransientError("busy")] * 2)
    steps["PlanNamespacesFunction"] = Recorder({"clusters": [], "heartbeat": 5, "timeout": 10})
    steps["RecordFailureFunction"] = Recorder({})
    for name, handler in steps.items():
        api.stack.set_handler(name, handler)
    sfn = api.stack.client("stepfunctions")
    arn = api.stack.state_machine_arns()["CreateProjectStateMachine"]

    def run(name: str) -> dict[str, Any]:
        ex = sfn.start_execution(stateMachineArn=arn, name=name, input='{"project_id": "p"}')
        return wait_until(
            lambda: (d := sfn.describe_execution(executionArn=ex["executionArn"]))["status"]
            != "RUNNING"
            and d
        )

    started = time.monotonic()
    assert run("p-create-1")["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5  # 2 s + 4 s of backoff, scaled down
    assert len(steps["CreateImageRepositoryFunction"].events) == 3
    assert steps["RecordFailureFunction"].events == []

    steps["CreateEnvironmentsFunction"].errors = [ValueError("no environments")]
    assert run("p-create-2")["error"] == "ProvisioningFailed"
    (failure,) = steps["RecordFailureFunction"].events
    assert failure["error"]["Error"] == "ValueError"
    assert json.loads(failure["error"]["Cause"])["errorMessage"] == "no environments"
