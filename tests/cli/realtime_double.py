"""A tiny WebSocket server speaking the realtime protocol's server side on 127.0.0.1 (the
real one is the runner's /ws): it refuses a connection without the expected bearer token
(401) or at another path (404), answers {"action": "ping"} with {"type": "pong"}, and
plays a script per connection: `script(n, ws)` for the n-th connection (0-based), which
sends what the test wants and returns to close the connection."""

from __future__ import annotations

import http
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

Script = Callable[[int, "Session"], None]


def event_message(project_id: str, seq: int, event: str, to: str | None = None) -> dict[str, Any]:
    return {
        "type": "event",
        "source": "tenantry",
        "detail_type": "Project Status Changed" if to else "Project Changed",
        "detail": {
            "id": f"{project_id}/{seq}",
            "project_id": project_id,
            "seq": seq,
            "event": event,
            "from": None,
            "to": to,
            "actor": "user:u1",
            "at": f"2026-11-27T10:00:{seq:02d}Z",
            "detail": None,
        },
    }


class Session:
    def __init__(self, ws: ServerConnection, pings: list[str]) -> None:
        self.ws = ws
        self.pings = pings

    def send(self, message: Any) -> None:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def expect_ping(self, timeout: float = 5.0) -> None:
        """Wait for the client's ping and answer it."""
        received = json.loads(self.ws.recv(timeout=timeout))
        assert received == {"action": "ping"}, received
        self.pings.append("ping")
        self.send({"type": "pong"})

    def hold(self, until: threading.Event, timeout: float = 10.0) -> None:
        """Keep the connection open (answering pings) until `until` is set (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while not until.is_set() and time.monotonic() < deadline:
            try:
                raw = self.ws.recv(timeout=0.02)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            if json.loads(raw) == {"action": "ping"}:
                self.send({"type": "pong"})


class RealtimeDouble:
    def __init__(self, token: str, script: Script) -> None:
        self.token = token
        self.script = script
        self.connections = 0
        self.refused: list[int] = []
        self.pings: list[str] = []
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/ws"

    def _check(self, connection: ServerConnection, request: Any) -> Any:
        if request.path.split("?")[0] != "/ws":
            self.refused.append(404)
            return connection.respond(http.HTTPStatus.NOT_FOUND, "no such path\n")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused.append(401)
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        return None

    def _handle(self, ws: ServerConnection) -> None:
        n = self.connections
        self.connections += 1
        self.script(n, Session(ws, self.pings))

    @contextmanager
    def serving(self) -> Iterator[RealtimeDouble]:
        with serve(self._handle, "127.0.0.1", 0, process_request=self._check) as server:
            self.server = server
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield self
            finally:
                server.shutdown()
                thread.join(5)
