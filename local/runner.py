"""`make run`: the whole stack from template.yaml on http://127.0.0.1:${PORT:-3000}.

AWS is emulated in this process (moto); every request goes through API Gateway's route
match and the Lambda authorizer to the function's handler, as deployed. Requests enter the
emulated stack one at a time, in the order they arrived (IN_FLIGHT below); workflow steps
run beside them on Step Functions' threads.

Environment:
  PORT                  listen port (default 3000), loopback only
  TENANTRY_ADMIN_TOKEN  API token of the platform admin (generated and printed if unset)
  PARAMETER_OVERRIDES   template parameters, e.g. "ApprovalPolicy=moderated Stage=dev"
  WAIT_SCALE            scale Step Functions Wait/Retry sleeps (e.g. 0.01); default real time
  SCHEDULE_SECONDS      run every schedule every n seconds instead of at its rate

What template.yaml declares beyond the API runs too: schedules (local/schedules.py),
EventBridge buses, rules and their SQS targets (local/eventbridge.py, fed by `POST
/local/events`, a platform admin's PutEvents), each SQS event source (local/sqs_delivery.py),
the table stream's event source mapping (local/stream_delivery.py: lifecycle events on the
stack's bus, as StreamFunction puts them), the WebSocket API on the same port at /ws
(local/apigateway_websockets.py: realtime updates, pushed by PushFunction from the bus's
rule, local/lambda_async.py), and ECR's
registry endpoint on another loopback port (local/ecr_registry.py), where the demo chart
(local/charts/web-frontend) is pushed at start: chart discovery finds it as ECR's push
event goes through the rule, the queue and ChartDiscoveryFunction. The web console's
static files are served under /console/ (local/console_files.py), as CloudFront serves
them from the console bucket.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local import (
    apigateway_websockets,
    console_files,
    demo_agent,
    ecr_registry,
    eventbridge,
    git_provider,
    schedules,
    sqs_delivery,
    stream_delivery,
)
from local.fifo_lock import FifoSemaphore
from local.stack import Stack, fake_aws_env, parse_overrides
from local.whole_lines import whole_lines

log = logging.getLogger("local.runner")


MAX_BODY = 10 * 1024 * 1024  # API Gateway's request payload limit (10 MB)
# Requests inside the emulated stack at once; the others wait their turn in arrival order.
# Python runs one thread at a time, so more in flight only share the GIL and moto's lock:
# with 8 keep-alive clients each request cost ~20% more CPU than one at a time (bench
# load). Bodies are read and responses written outside, so a slow client holds no turn.
IN_FLIGHT = 1
# Garbage collection: the startup heap (modules, template, moto's backends) is frozen out
# of every collection, and collections are rarer: under load the default thresholds made
# full collections of ~0.3 s (the p99 tail) and took ~6% of the CPU. A full collection
# follows every hundredth older-generation one (minutes apart under load).
GC_THRESHOLDS = (10_000, 10, 100)
BODY_TIMEOUT = 10.0  # seconds to receive a body once its headers are in
IDLE_TIMEOUT = 60.0  # a keep-alive connection with no request for this long is closed
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also takes "²", which int() refuses
# Python runs a signal's handler in the main thread, but the kernel may hand a SIGTERM to
# any of the runner's threads, and a main thread blocked on a lock for ever would not see
# it (the load bench's runner then ignored SIGTERM now and again, and was killed): so the
# main thread wakes this often to run the handlers of signals received meanwhile.
SIGNAL_CHECK = 0.5  # seconds


class BadRequest(Exception):
    """The request cannot be read as sent (its framing is broken): answered, then the
    connection is closed, since the next request's start is unknown."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive in front of Stack.http, which plays API Gateway. Every
    method reaches Stack.http (no route for it: API Gateway's 404, never http.server's
    501 page); a body that cannot be read is a 400, one over the payload limit a 413."""

    server_version = "tenantry-local"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    wbufsize = 64 * 1024  # headers and body leave in one send (flushed after each request)
    stack: Stack
    turns = FifoSemaphore(IN_FLIGHT)

    def setup(self) -> None:
        super().setup()
        # Without it Nagle holds the body's segment until the client ACKs the headers'
        # (delayed ACK): ~40 ms on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __getattr__(self, name: str) -> Any:
        """`do_<METHOD>` for any method: http.server looks the handler up by name."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.perf_counter()
        if apigateway_websockets.wanted(self.command, self.path, self.headers):
            return self._websocket(started)
        try:
            body = self._read_body()
        except BadRequest as bad:
            self.close_connection = True
            status, out_headers = bad.status, {"content-type": "application/json"}
            text = json.dumps({"message": bad.message})
        else:
            if console_files.handles(self.path):  # static files: no turn in the stack
                status, out_headers, text = console_files.serve(self.command, self.path)
            else:
                with self.turns:
                    status, out_headers, text = self._gateway(body)
        self._respond(status, out_headers, text)
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.1f ms)", self.command, self.path, status, ms)

    def _websocket(self, started: float) -> None:
        """`GET /ws` with `Upgrade: websocket`: the WebSocket API's handshake ($connect
        through its authorizer) and, once admitted, the connection until it closes, on this
        thread (local/apigateway_websockets.py). The query string (a browser's token) is
        never logged."""
        self.close_connection = True
        status = apigateway_websockets.serve(
            self.stack.websockets,
            self.connection,
            self.path,
            list(self.headers.items()),
            self.client_address[0],
            self.turns,
        )
        seconds = time.perf_counter() - started
        log.info("WebSocket %s -> %d (%.1f s)", apigateway_websockets.PATH, status, seconds)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return None
        text = lengths[0].strip()
        if len(set(lengths)) > 1 or not _DIGITS.fullmatch(text):
            raise BadRequest(400, "Bad Request")  # non-numeric, negative, conflicting
        if len(text) > len(str(MAX_BODY)) or int(text) > MAX_BODY:
            raise BadRequest(413, "Request Entity Too Large")
        length = int(text)
        return self._read_exactly(length) if length else None

    def _read_exactly(self, length: int) -> bytes:
        """`length` bytes, or a 400 if the client sends fewer (closes, or stalls for
        BODY_TIMEOUT): a Content-Length larger than the body never hangs a thread."""
        self.connection.settimeout(BODY_TIMEOUT)
        try:
            data = self.rfile.read(length)
        except OSError:  # TimeoutError included
            data = b""
        finally:
            self.connection.settimeout(self.timeout)
        if len(data) != length:
            raise BadRequest(400, "Bad Request")
        return data

    def _read_chunked(self) -> bytes:
        """Transfer-Encoding: chunked, up to MAX_BODY in all; trailers are dropped."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self._read_line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest(400, "Bad Request") from None
            if size < 0:
                raise BadRequest(400, "Bad Request")
            if size == 0:
                while self._read_line().strip():
                    pass  # trailers, up to the empty line
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise BadRequest(413, "Request Entity Too Large")
            chunks.append(self._read_exactly(size))
            if self._read_line().strip():
                raise BadRequest(400, "Bad Request")  # each chunk ends with CRLF

    def _read_line(self) -> bytes:
        self.connection.settimeout(BODY_TIMEOUT)
        try:
            line = self.rfile.readline(1024)
        except OSError:
            line = b""
        finally:
            self.connection.settimeout(self.timeout)
        if not line.endswith(b"\n"):
            raise BadRequest(400, "Bad Request")
        return line

    def _gateway(self, body: bytes | None) -> tuple[int, dict[str, str], str]:
        headers: dict[str, str] = {}
        for key, value in self.headers.items():  # repeated headers are comma-joined
            k = key.lower()
            headers[k] = f"{headers[k]},{value}" if k in headers else value
        headers.setdefault("x-forwarded-for", self.client_address[0])
        try:
            if (self.command, self.path.partition("?")[0]) == eventbridge.ROUTE:
                return eventbridge.route(self.stack, headers, body)
            return self.stack.http(self.command, self.path, headers, body=body)
        except Exception:
            log.exception("%s %s failed", self.command, self.path)
            return 500, {}, '{"message":"Internal Server Error"}'

    def _respond(self, status: int, out_headers: dict[str, str], text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        self.send_response(status)
        for key, value in out_headers.items():
            if key.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for v in value.split("\n") if key.lower() == "set-cookie" else [value]:
                self.send_header(key, v)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own answers (a malformed request line, headers too large, ...)
        in API Gateway's JSON, not an HTML page; the connection is closed after them."""
        self.close_connection = True
        # http.server takes a request line it cannot parse for HTTP/0.9 and would answer
        # without a status line or headers
        self.request_version = self.protocol_version
        text = json.dumps({"message": HTTPStatus(code).phrase})
        self._respond(code, {"content-type": "application/json"}, text)

    def log_message(self, *args: Any) -> None:
        pass  # one line per request is logged by _serve


def _bootstrap_admin() -> tuple[str, bool]:
    from tenantry.domain.identity import ensure_admin  # the layer is on sys.path now

    token = os.environ.get("TENANTRY_ADMIN_TOKEN", "")
    generated = not token
    if generated:
        from tenantry.auth import new_token_secret

        token = new_token_secret()
    ensure_admin(token)
    return token, generated


class Server(ThreadingHTTPServer):
    """One thread per connection. A listen backlog of 5 (http.server's default) refuses
    connections under a burst of clients; API Gateway never does."""

    daemon_threads = True
    request_queue_size = 128


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Before any logger or handler module takes sys.stdout: lines are never cut by another
    # thread's (local/whole_lines.py).
    sys.stdout, sys.stderr = whole_lines(sys.stdout, sys.stderr)  # type: ignore[assignment]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # moto logs whole ASL trees on every failed state; the execution history has it all.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    os.environ.update(fake_aws_env())  # before any boto3 client exists
    port = int(os.environ.get("PORT", "3000"))
    scale = os.environ.get("WAIT_SCALE")
    overrides = parse_overrides(os.environ.get("PARAMETER_OVERRIDES"))
    signal.signal(signal.SIGTERM, _stop)
    registry = ecr_registry.Registry()
    with (
        git_provider.standing_in(overrides) as (git, parameters),
        registry.serving(),
        ecr_registry.named(registry),
    ):
        stack = Stack(parameters)
        with stack.emulate(wait_scale=float(scale) if scale else None):
            _serve(stack, registry, git, port)
    return 0


def _serve(
    stack: Stack, registry: ecr_registry.Registry, git: git_provider.Provider | None, port: int
) -> None:
    for fn, error in stack.import_handlers().items():
        log.error("%s cannot be imported, its routes will answer 500: %s", fn, error)
    ecr_registry.attach(registry, stack)
    if git is not None:
        git_provider.attach(git, stack)
        print(f"Git provider (emulated) on {git.url}, organization {git.org}", flush=True)
    token, generated = _bootstrap_admin()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    Handler.stack = stack
    server = Server(("127.0.0.1", port), Handler)
    params = " ".join(f"{k}={v}" for k, v in stack.parameters.items() if v)
    print(f"Tenantry on http://127.0.0.1:{server.server_port}  ({params})", flush=True)
    if generated:
        print(f"Admin token (generated): {token}", flush=True)
    else:
        print("Admin token: the value of TENANTRY_ADMIN_TOKEN", flush=True)
    url = f"http://127.0.0.1:{server.server_port}"
    heartbeat = float(stack.parameters.get("AgentHeartbeatSeconds") or 30)
    with (
        schedules.running(stack) as emulated,
        sqs_delivery.running(stack) as event_sources,
        stream_delivery.running(stack) as stream_readers,
        _serving(server),
        demo_agent.running(url, heartbeat),
    ):
        for lid, name, seconds in emulated:
            print(f"Schedule {name}: {lid} every {seconds:g} s", flush=True)
        for source in event_sources:
            print(f"Queue {source.queue_url.rsplit('/', 1)[-1]}: {source.function}", flush=True)
        for reader in stream_readers:
            mapping = reader.mapping
            print(f"Stream {mapping.stream_arn.split('/')[1]}: {mapping.function}", flush=True)
        if stack.websockets is not None:
            ws = f"ws://127.0.0.1:{server.server_port}{apigateway_websockets.PATH}"
            print(f"WebSocket API (realtime updates) on {ws}", flush=True)
        digest = ecr_registry.push_demo_chart(registry)
        print(
            f"ECR registry (emulated) on {registry.url}: pushed "
            f"{ecr_registry.DEMO_REPOSITORY}:{ecr_registry.DEMO_TAG} ({digest})",
            flush=True,
        )
        try:
            while True:  # until SIGINT or SIGTERM (_stop)
                time.sleep(SIGNAL_CHECK)
        except KeyboardInterrupt:
            print("stopping", flush=True)


@contextlib.contextmanager
def _serving(server: Server) -> Iterator[None]:
    """Serve on a thread: what runs inside (the demo agent) stops while requests are still
    answered (an agent releases its work on the way out)."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
