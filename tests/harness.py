"""Test helpers: the emulated stack (local/stack.py) per test, an HTTP-ish client on it,
and polling for workflows. The fixtures in tests/conftest.py are thin wrappers.

    def test_me(api, admin_token):
        r = api.get("/auth/me", token=admin_token)
        assert r.status == 200, r
        assert r.json()["is_admin"] is True
"""

from __future__ import annotations

import json as _json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from local.stack import Stack

ADMIN_TOKEN = "tnt_test-admin-token-0123456789abcdefghij"
WAIT_SCALE = 0.001  # Step Functions Wait states and Retry backoff: 2 s -> 2 ms
CACHED_PACKAGES = ("tenantry", "functions")
T = TypeVar("T")


def clear_caches() -> None:
    """Clear every functools.cache/lru_cache defined at module level in tenantry.* and
    functions.* (boto3 resources/clients in tenantry.dal, settings in tenantry.settings,
    ...), so each test builds them from its own environment inside its own mock."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(CACHED_PACKAGES):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and (
                getattr(value, "__module__", None) == name
            ):
                value.cache_clear()


class Headers(Mapping[str, str]):
    """Response headers with case-insensitive lookup."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {k.lower(): (k, v) for k, v in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Response:
    def __init__(self, status: int, headers: Mapping[str, str], body: str) -> None:
        self.status = status
        self.headers = Headers(headers)
        self.body = body

    @property
    def text(self) -> str:
        return self.body

    def json(self) -> Any:
        return _json.loads(self.body) if self.body else None

    def __repr__(self) -> str:  # shows up in assertion messages: `assert r.status == 200, r`
        return f"<Response {self.status} {self.headers!r} {self.body[:2000]}>"


class Api:
    """Requests through API Gateway's route match and the Lambda authorizer, in process."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | str | None = None,
        body: str | bytes | None = None,
    ) -> Response:
        """`json` is sent as the JSON body (None: no body); `body` sends raw text instead.
        `token` becomes `Authorization: Bearer <token>`. `path` may carry `?query`."""
        hdrs = {"user-agent": "tenantry-tests", "accept": "application/json"}
        if token is not None:
            hdrs["authorization"] = f"Bearer {token}"
        if json is not None:
            body = _json.dumps(json)
        if body is not None:
            hdrs["content-type"] = "application/json"
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        status, out_headers, text = self.stack.http(method, path, hdrs, query=query, body=body)
        return Response(status, out_headers, text)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    # --- beyond HTTP ---------------------------------------------------------------------
    def invoke(self, function: str, event: Any) -> Any:
        """Call a function's handler directly (e.g. a workflow step with an events/ file)."""
        return self.stack.invoke(function, event)

    def executions(self, state_machine: str) -> list[dict[str, Any]]:
        """describe_execution of every execution of a state machine (logical id), newest
        first."""
        sfn = self.stack.client("stepfunctions")
        arn = self.stack.state_machine_arns()[state_machine]
        listed = sfn.list_executions(stateMachineArn=arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def wait_for_executions(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until no execution of any state machine runs; returns them all."""

        def settled() -> tuple[list[dict[str, Any]]] | None:  # a tuple: [] is falsy
            done = [e for sm in self.stack.state_machine_arns() for e in self.executions(sm)]
            return None if any(e["status"] == "RUNNING" for e in done) else (done,)

        return wait_until(settled, timeout=timeout)[0]


def wait_until(predicate: Callable[[], T], timeout: float = 10, interval: float = 0.05) -> T:
    """Poll until `predicate()` is truthy and return that value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s; last value: {value!r}")
        time.sleep(interval)


@contextmanager
def emulated(parameters: Mapping[str, str] | None = None) -> Iterator[Api]:
    """The stack deployed in a fresh moto mock, caches cleared on both sides. Usable
    directly where a function-scoped fixture does not fit (e.g. inside a hypothesis test)."""
    stack = Stack(parameters, raise_handler_errors=True)
    clear_caches()
    try:
        with stack.emulate(wait_scale=WAIT_SCALE):
            clear_caches()  # settings are read again from this stack's environment
            yield Api(stack)
    finally:
        clear_caches()


@contextmanager
def emulated_ecr(api: Api, **options: Any) -> Iterator[Any]:
    """The ECR registry endpoint (local/ecr_registry.Registry, `options` for it) serving
    for the block, named in the functions' settings, taking the emulated ECR's login and
    announcing pushes as ECR does: a push goes through the template's rule to the chart
    discovery queue; `deliver(api)` plays the queue's event source until it is empty."""
    from local import ecr_registry
    from tenantry.settings import get_settings

    registry = ecr_registry.Registry(**options)
    with registry.serving(), ecr_registry.named(registry):
        get_settings.cache_clear()
        try:
            ecr_registry.attach(registry, api.stack)
            yield registry
        finally:
            get_settings.cache_clear()


def deliver(api: Api) -> int:
    """Deliver what the stack's queues hold to their functions (local/sqs_delivery.py)."""
    from local import sqs_delivery

    return sqs_delivery.drain(api.stack)


def deliver_stream(api: Api) -> int:
    """Play the table stream's event source mapping until it has read and settled every
    record written so far (local/stream_delivery.py): each new history entry's lifecycle
    event is then on the stack's bus. Returns the polls made."""
    from local import stream_delivery

    return stream_delivery.drain(api.stack)


@contextmanager
def serving(api: Api) -> Iterator[str]:
    """The runner's server (local/runner.py: the HTTP API, and the WebSocket API at /ws) for
    this stack on a free loopback port, for the block; yields its base URL
    (http://127.0.0.1:<port>). Pushes reach its sockets as in `make run`: from the stream
    (deliver_stream, or stream_delivery.running) through the bus's rule and PushFunction."""
    import threading

    from local import runner

    handler = type("Handler", (runner.Handler,), {"stack": api.stack})
    server = runner.Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def ensure_test_admin() -> str:
    from tenantry.domain.identity import ensure_admin

    ensure_admin(ADMIN_TOKEN)
    return ADMIN_TOKEN
