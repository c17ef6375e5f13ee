"""The template's API Gateway WebSocket API (AWS::ApiGatewayV2::Api, ProtocolType
WEBSOCKET, with its Routes, Integrations, Authorizer, RouteResponses and Stage), emulated
(dev only), and its management API (`apigatewaymanagementapi`: PostToConnection,
DeleteConnection, GetConnection) delivering to the sockets it holds.

The runner serves the API on the HTTP API's port, at PATH (`ws://127.0.0.1:<port>/ws`;
local/runner.py hands an `Upgrade: websocket` request here). As API Gateway does:

- $connect: the route's REQUEST authorizer gets the handshake's headers and query string
  (an exception "Unauthorized" is 401, a Deny policy 403, any other failure 500), then the
  route's function gets the CONNECT event with the authorizer's context; a non-2xx answer
  refuses the connection with that status. Only then is the upgrade answered 101;
- a message (text frame) goes to the route the RouteSelectionExpression
  (`$request.body.<field>`) picks, else $default; when the route has a RouteResponse,
  the function's `body` goes back to the sender;
- a close (by the client, or DeleteConnection) invokes $disconnect.
- PostToConnection sends a text frame to the connection, DeleteConnection closes it, and
  either answers GoneException (410) for a connection it does not hold. moto's backend
  answers them; `management_api(gateway)` (Stack.emulate) makes it use these sockets.

Framing, handshake validation, pings and the closing handshake are the `websockets`
library's (sans-I/O ServerProtocol, threading Connection). A message posted while the
client is slow to read waits in the connection's queue (MAX_QUEUED), written by the
connection's own thread, so a push never blocks on a client.

Not emulated: the 2-hour connection limit and the 10-minute idle timeout (DynamoDB's TTL on
the connection item stands for the first), the 128 KB message limit (MAX_MESSAGE for what
a client sends), throttling.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, unquote

from local import template

API_KIND = "AWS::ApiGatewayV2::Api"
ROUTE_KIND = "AWS::ApiGatewayV2::Route"
INTEGRATION_KIND = "AWS::ApiGatewayV2::Integration"
AUTHORIZER_KIND = "AWS::ApiGatewayV2::Authorizer"
ROUTE_RESPONSE_KIND = "AWS::ApiGatewayV2::RouteResponse"
STAGE_KIND = "AWS::ApiGatewayV2::Stage"
KINDS = {API_KIND, ROUTE_KIND, INTEGRATION_KIND, AUTHORIZER_KIND, ROUTE_RESPONSE_KIND, STAGE_KIND}
API_ID = "localws01"
PATH = "/ws"
MAX_MESSAGE = 128 * 1024  # API Gateway's WebSocket message limit
MAX_QUEUED = 1000  # messages posted to a connection and not yet written: beyond, it is closed
log = logging.getLogger("local.apigateway_websockets")
_FUNCTION_IN_URI = re.compile(r"/functions/(arn:[^/]+)/invocations")


@dataclass(frozen=True)
class WebSocketApi:
    """The template's WebSocket API, resolved: its routes' functions and authorizer."""

    logical_id: str
    stage: str
    selection: str  # RouteSelectionExpression, e.g. $request.body.action
    routes: dict[str, str]  # route key -> the function's logical id
    authorizer: str | None  # $connect's authorizer function, by logical id
    answered: frozenset[str]  # route keys with a RouteResponse: the function's body is sent

    @property
    def management_url(self) -> str:
        from local.stack import REGION

        return f"https://{API_ID}.execute-api.{REGION}.amazonaws.com/{self.stage}"


def _function_of(stack: Any, uri: Any) -> str:
    found = _FUNCTION_IN_URI.search(str(stack.resolve(uri)))
    function = stack.function_for(found.group(1)) if found else None
    if function is None:
        raise ValueError(f"{uri}: not a Lambda function of the template")
    return str(function.logical_id)


def api(stack: Any) -> WebSocketApi | None:
    """The template's WebSocket API (at most one is emulated), or None."""
    tpl = stack.template
    apis = [
        lid
        for lid, p in template.resources_of_type(API_KIND, tpl).items()
        if p.get("ProtocolType") == "WEBSOCKET"
    ]
    if not apis:
        return None
    if len(apis) > 1:
        raise NotImplementedError(f"one WebSocket API is emulated, not {apis}")
    (lid,) = apis
    props = template.resources_of_type(API_KIND, tpl)[lid]

    def of_api(kind: str) -> dict[str, Any]:
        return {
            k: v
            for k, v in template.resources_of_type(kind, tpl).items()
            if v.get("ApiId") == {"Ref": lid}
        }

    integrations = {
        k: _function_of(stack, v["IntegrationUri"]) for k, v in of_api(INTEGRATION_KIND).items()
    }
    authorizers = {
        k: _function_of(stack, v["AuthorizerUri"]) for k, v in of_api(AUTHORIZER_KIND).items()
    }
    routes: dict[str, str] = {}
    route_keys: dict[str, str] = {}
    authorizer = None
    for rid, route in of_api(ROUTE_KIND).items():
        key = str(route["RouteKey"])
        route_keys[rid] = key
        target = str(stack.resolve(route["Target"]))
        routes[key] = integrations[target.removeprefix("integrations/")]
        if route.get("AuthorizationType") == "CUSTOM":
            if key != "$connect":
                raise ValueError(f"{rid}: WebSocket APIs authorize $connect only")
            authorizer = authorizers[str(stack.resolve(route["AuthorizerId"]))]
    answered = frozenset(
        route_keys[str(stack.resolve(r["RouteId"]))] for r in of_api(ROUTE_RESPONSE_KIND).values()
    )
    (stage,) = [str(s["StageName"]) for s in of_api(STAGE_KIND).values()]
    return WebSocketApi(
        lid, stage, str(props["RouteSelectionExpression"]), routes, authorizer, answered
    )


# --- connections ------------------------------------------------------------------------------


class Gone(Exception):
    """The connection is not (or no longer) there: API Gateway's GoneException."""


@dataclass
class Connection:
    """One client's socket: the `websockets` connection and a writer for what is posted."""

    connection_id: str
    socket: Any  # websockets.sync.connection.Connection
    source_ip: str
    connected_at: float = field(default_factory=time.time)
    outbox: queue.Queue[str | None] = field(default_factory=lambda: queue.Queue(MAX_QUEUED))
    writer: threading.Thread | None = None

    def start(self) -> None:
        self.writer = threading.Thread(
            target=self._write, name=f"ws-{self.connection_id}", daemon=True
        )
        self.writer.start()

    def _write(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while (text := self.outbox.get()) is not None:
            try:
                self.socket.send(text)
            except ConnectionClosed:
                return

    def post(self, text: str) -> None:
        try:
            self.outbox.put_nowait(text)
        except queue.Full:
            log.warning("%s reads too slowly: closed", self.connection_id)
            self.close(1008, "too many messages waiting")
            raise Gone(self.connection_id) from None

    def stop_writing(self) -> None:
        with contextlib.suppress(queue.Full):
            self.outbox.put_nowait(None)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket (the closing handshake runs on its own thread: whoever asks,
        a push among them, does not wait for the client)."""
        self.stop_writing()
        threading.Thread(target=self.socket.close, args=(code, reason), daemon=True).start()


class Gateway:
    """The WebSocket API of one emulated stack: its connections and their routes."""

    def __init__(self, stack: Any, definition: WebSocketApi) -> None:
        self.stack = stack
        self.api = definition
        self.connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    # --- the events API Gateway sends ---------------------------------------------------------
    def _context(
        self, connection_id: str, route: str, kind: str, source_ip: str, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        from local import request_ids
        from local.stack import ACCOUNT, REGION

        now = time.time()
        return {
            "routeKey": route,
            "eventType": kind,
            "extendedRequestId": base64.b64encode(secrets.token_bytes(9)).decode(),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": int(now * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(request_ids.uuid4()),
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "connectionId": connection_id,
            "apiId": API_ID,
            "accountId": ACCOUNT,
        }

    def _request_event(
        self,
        connection_id: str,
        kind: str,
        route: str,
        source_ip: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": self._context(connection_id, route, kind, source_ip, headers),
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = dict(query)
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        return event

    # --- $connect -----------------------------------------------------------------------------
    def open(
        self, raw_path: str, headers: Mapping[str, str], source_ip: str
    ) -> tuple[int, str, str]:
        """The $connect authorizer and route for a handshake: (status, connection id,
        refusal message); 200 admits it."""
        from local.stack import ACCOUNT, REGION

        # API Gateway's shape (e.g. "L0SM9cOFvHcCIhw="), without "/" or "+"
        connection_id = base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()
        query: dict[str, str] = {}
        for k, v in parse_qsl(raw_path.partition("?")[2], keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v
        hdrs = {str(k): str(v) for k, v in headers.items()}
        event = self._request_event(connection_id, "CONNECT", "$connect", source_ip, hdrs, query)
        if self.api.authorizer:
            request = {
                "type": "REQUEST",
                "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{self.api.stage}/$connect",
                **{k: v for k, v in event.items() if k != "isBase64Encoded"},
            }
            try:
                decision = self.stack.invoke(self.api.authorizer, request)
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    return 401, connection_id, "Unauthorized"
                log.exception("authorizer %s failed", self.api.authorizer)
                return 500, connection_id, "Internal server error"
            if not _allows(decision):
                return 403, connection_id, "Forbidden"
            event["requestContext"]["authorizer"] = {
                "principalId": decision.get("principalId"),
                **(decision.get("context") or {}),
            }
        status = self._invoke_route("$connect", event)[0]
        if not 200 <= status < 300:
            return status, connection_id, "Forbidden" if status == 403 else "Refused"
        return 200, connection_id, ""

    def _invoke_route(self, route: str, event: dict[str, Any]) -> tuple[int, str | None]:
        """(status, body) of the route's function; 500 when it fails, as API Gateway."""
        function = self.api.routes.get(route)
        if function is None:
            return 200, None
        try:
            result = self.stack.invoke(function, event)
        except Exception:
            log.exception("%s failed on %s", function, route)
            return 500, None
        if not isinstance(result, dict):
            return 200, None if result is None else json.dumps(result)
        body = result.get("body")
        return int(result.get("statusCode", 200)), None if body is None else str(body)

    def attach(self, connection: Connection) -> None:
        with self._lock:
            self.connections[connection.connection_id] = connection
        connection.start()

    # --- messages and $disconnect -----------------------------------------------------------
    def route_of(self, body: str) -> str:
        """The route a message goes to: RouteSelectionExpression's field, else $default."""
        field_name = self.api.selection.removeprefix("$request.body.")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        key = parsed.get(field_name) if isinstance(parsed, dict) else None
        if isinstance(key, str) and key in self.api.routes and not key.startswith("$"):
            return key
        return "$default"

    def message(self, connection: Connection, body: str) -> str | None:
        """A client's message through its route; the answer to send back, if any."""
        route = self.route_of(body)
        event = self._request_event(
            connection.connection_id, "MESSAGE", route, connection.source_ip, {}, {}
        )
        del event["headers"], event["multiValueHeaders"]
        event["requestContext"]["messageId"] = base64.b64encode(secrets.token_bytes(9)).decode()
        event["body"] = body
        status, answer = self._invoke_route(route, event)
        if route not in self.api.answered:
            return None
        if status >= 500:
            return json.dumps({"message": "Internal server error"})
        return answer

    def closed(self, connection: Connection) -> None:
        """The client (or DeleteConnection) closed it: $disconnect."""
        with self._lock:
            if self.connections.get(connection.connection_id) is connection:
                del self.connections[connection.connection_id]
        connection.stop_writing()
        event = self._request_event(
            connection.connection_id, "DISCONNECT", "$disconnect", connection.source_ip, {}, {}
        )
        event["requestContext"]["disconnectStatusCode"] = 1000
        self._invoke_route("$disconnect", event)

    # --- the management API -------------------------------------------------------------------
    def _get(self, connection_id: str) -> Connection:
        with self._lock:
            found = self.connections.get(connection_id)
        if found is None:
            raise Gone(connection_id)
        return found

    def post(self, connection_id: str, data: bytes) -> None:
        self._get(connection_id).post(data.decode("utf-8", "replace"))

    def delete(self, connection_id: str) -> None:
        connection = self._get(connection_id)
        with self._lock:
            self.connections.pop(connection_id, None)
        connection.close(1000, "closed by the server")

    def describe(self, connection_id: str) -> dict[str, Any]:
        c = self._get(connection_id)
        return {
            "connectedAt": c.connected_at,
            "lastActiveAt": time.time(),
            "identity": {"sourceIp": c.source_ip, "userAgent": ""},
        }


def _allows(decision: Any) -> bool:
    """An IAM policy that allows execute-api:Invoke (a Deny anywhere wins)."""
    if not isinstance(decision, dict):
        return False
    statements = (decision.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect")) for s in statements if isinstance(s, dict)}
    return "Allow" in effects and "Deny" not in effects


# --- serving a socket (local/runner.py) -------------------------------------------------------


def wanted(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """Whether a request is a WebSocket handshake for the API (GET /ws, Upgrade)."""
    upgrade = {k.lower(): v for k, v in headers.items()}.get("upgrade", "")
    return method == "GET" and path.partition("?")[0] == PATH and upgrade.lower() == "websocket"


def serve(
    gateway: Gateway | None,
    sock: socket.socket,
    raw_path: str,
    headers: list[tuple[str, str]],
    source_ip: str,
    turn: Any,
) -> int:
    """Answer the handshake read from `sock` (its request line and headers are read) and,
    once admitted, serve the connection until it closes. `turn` is held around each call
    into the emulated stack. Returns the handshake's status (101 when admitted)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.http11 import Request
    from websockets.server import ServerProtocol
    from websockets.sync.connection import Connection as Socket

    protocol = ServerProtocol(max_size=MAX_MESSAGE)
    # The request line and headers were read by http.server: the protocol parses them
    # again from their bytes, which moves its parser on to the frames that follow.
    head = f"GET {raw_path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    protocol.receive_data(f"{head}\r\n".encode("latin-1", "replace"))
    parsed = protocol.events_received()
    if len(parsed) != 1 or not isinstance(parsed[0], Request):
        raise ValueError("the handshake request could not be parsed again")
    response = protocol.accept(parsed[0])
    connection_id = ""
    if response.status_code == 101:
        if gateway is None:
            response = protocol.reject(404, "No WebSocket API in template.yaml\n")
        else:
            with turn:
                status, connection_id, why = gateway.open(raw_path, dict(headers), source_ip)
            if status != 200:
                response = protocol.reject(status, f"{why}\n")
    protocol.send_response(response)
    sock.settimeout(None)
    sock.sendall(b"".join(protocol.data_to_send()))
    if response.status_code != 101 or gateway is None:
        return response.status_code
    ws = Socket(sock, protocol, ping_interval=None)
    connection = Connection(connection_id, ws, source_ip)
    gateway.attach(connection)
    try:
        while True:
            try:
                body = ws.recv()
            except ConnectionClosed:
                break
            if isinstance(body, bytes):  # API Gateway takes text frames (JSON) only
                continue
            with turn:
                answer = gateway.message(connection, body)
            if answer is not None:
                connection.post(answer)
    except Gone:
        pass
    finally:
        with turn:
            gateway.closed(connection)
    return 101


# --- the management API in moto -----------------------------------------------------------------


@contextlib.contextmanager
def management_api(stack: Any) -> Iterator[None]:
    """moto's apigatewaymanagementapi backend delivers to the stack's gateway (if any):
    a connection it does not hold is GoneException (410). moto hands the connection id
    on as it is in the URL (percent-encoded, `=` as %3D)."""
    from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend
    from moto.core.exceptions import JsonRESTError

    class GoneException(JsonRESTError):
        code = 410

        def __init__(self, connection_id: str) -> None:
            super().__init__("GoneException", f"connection {connection_id} is gone")

    def gateway() -> Gateway:
        found = getattr(stack, "websockets", None)
        if found is None:
            raise GoneException("(no WebSocket API)")
        return found

    def post_to_connection(_self: Any, data: bytes, connection_id: str) -> None:
        try:
            gateway().post(unquote(connection_id), data)
        except Gone:
            raise GoneException(connection_id) from None

    def delete_connection(_self: Any, connection_id: str) -> None:
        try:
            gateway().delete(unquote(connection_id))
        except Gone:
            raise GoneException(connection_id) from None

    def get_connection(_self: Any, connection_id: str) -> Any:
        try:
            described = gateway().describe(unquote(connection_id))
        except Gone:
            raise GoneException(connection_id) from None
        return type("Described", (), {"to_dict": lambda _s: described})()

    with (
        mock.patch.object(ApiGatewayManagementApiBackend, "post_to_connection", post_to_connection),
        mock.patch.object(ApiGatewayManagementApiBackend, "delete_connection", delete_connection),
        mock.patch.object(ApiGatewayManagementApiBackend, "get_connection", get_connection),
    ):
        yield
