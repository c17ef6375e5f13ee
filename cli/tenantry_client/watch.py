"""Following lifecycle events: the WebSocket, with polling of history as the fallback.

The realtime protocol (README, "Realtime updates"): connect to `<api>/ws` (ws:// or wss://)
with `Authorization: Bearer <token>`; the server sends one JSON text message per
lifecycle event the caller may see,

    {"type": "event", "source": "tenantry", "detail_type": "Project Status Changed",
     "detail": {"id", "project_id", "seq", "event", "from", "to", "actor", "at", "detail"}}

and answers `{"action": "ping"}` with `{"type": "pong"}`. Delivery is best effort and at
least once: `id` de-duplicates, `seq` orders a project's events, and a client that needs
completeness reads GET /projects/{id}/history, which is what the fallback does.

    for event in watch(client, "payments-api"):
        print(event.detail_type, event.event, event.to)

`watch` yields Event objects in the protocol's shape from whichever source works: the
WebSocket when it connects, else (or once it has failed for good) history polled every
`interval` seconds. Events are de-duplicated by id on both paths. After a dropped
connection it reconnects and first reads, from history, what it may have missed of the
projects it has seen events of.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tenantry_client.errors import NotFound, TenantryError

if TYPE_CHECKING:
    from tenantry_client.client import Tenantry
    from tenantry_client.models import HistoryItem

SOURCE = "tenantry"

# The detail-type of a history entry, as the server names it
# (layers/core/tenantry/domain/lifecycle_events.py; tests/cli/test_watch.py compares them):
# the first prefix that matches wins; a project event with `to` is a status change.
ENTITIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("membership_",), "Membership Changed"),
    (("task_",), "Task Status Changed"),
    (("deployment_", "deployments_"), "Deployment Changed"),
    (("environment_", "environments_"), "Environment Changed"),
    (("secret_",), "Secret Changed"),
    (("app_",), "App Changed"),
)


def detail_type(event: str, to: str | None) -> str:
    for prefixes, kind in ENTITIES:
        if event.startswith(prefixes):
            return kind
    if to:
        return "Project Status Changed"
    if event.startswith("application_"):
        return "Application Changed"
    return "Project Changed"


@dataclass(frozen=True)
class Event:
    """One lifecycle event: `detail` is {id, project_id, seq, event, from, to, actor, at,
    detail}."""

    detail_type: str
    detail: dict[str, Any]
    source: str = SOURCE
    via: str = field(default="websocket", compare=False)  # or "history"

    @property
    def id(self) -> str:
        return str(self.detail.get("id") or f"{self.project_id}/{self.seq}")

    @property
    def project_id(self) -> str:
        return str(self.detail.get("project_id") or "")

    @property
    def seq(self) -> int:
        return int(self.detail.get("seq") or 0)

    @property
    def event(self) -> str:
        return str(self.detail.get("event") or "")

    @property
    def to(self) -> str | None:
        return self.detail.get("to")

    def message(self) -> dict[str, Any]:
        """The protocol's message for this event."""
        return {
            "type": "event",
            "source": self.source,
            "detail_type": self.detail_type,
            "detail": self.detail,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event | None:
        """The event of a server message; None for anything else (a pong, a later kind)."""
        detail = message.get("detail")
        if message.get("type") != "event" or not isinstance(detail, dict):
            return None
        return cls(
            str(message.get("detail_type") or ""), detail, str(message.get("source") or SOURCE)
        )

    @classmethod
    def from_history(cls, project_id: str, seq: int, item: HistoryItem) -> Event:
        detail = {
            "id": f"{project_id}/{seq}",
            "project_id": project_id,
            "seq": seq,
            "event": item.event,
            "from": item.from_,
            "to": item.to,
            "actor": item.actor,
            "at": item.at,
            "detail": item.detail,
        }
        return cls(detail_type(item.event, item.to), detail, via="history")


def websocket_url(base_url: str) -> str:
    """The API's WebSocket: the same host, scheme ws/wss, path `<base path>/ws`."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class WebSocketUnavailable(TenantryError):
    """The WebSocket could not be opened (refused, no such path, no library, ...)."""


class _Seen:
    """Ids already yielded (bounded: the oldest are forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self.last_seq: dict[str, int] = {}  # per project, the highest seq yielded

    def add(self, event: Event) -> bool:
        """True when the event is new."""
        if event.id in self._ids:
            return False
        self._ids[event.id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        if event.project_id:
            self.last_seq[event.project_id] = max(self.last_seq.get(event.project_id, 0), event.seq)
        return True


def open_websocket(url: str, token: str | None, *, open_timeout: float = 10.0) -> Any:
    """A connected websockets.sync client connection, authenticated with the token's
    header. WebSocketUnavailable when it cannot connect (refused, 401, no such path)."""
    try:
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect
    except ImportError as e:  # a dependency of the package; a trimmed install may lack it
        raise WebSocketUnavailable(f"the websockets package is not installed ({e})") from e
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return connect(
            url,
            additional_headers=headers,
            open_timeout=open_timeout,
            ping_interval=None,  # the protocol's own ping (below) passes through proxies
            max_size=1 << 20,
        )
    except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as e:
        raise WebSocketUnavailable(f"{url}: {e}") from e


class Expired(Exception):
    """The watch's time ran out (internal: `watch` then ends)."""


def messages(
    ws: Any,
    *,
    project_id: str | None = None,
    ping_interval: float = 30.0,
    expired: Callable[[], bool] = lambda: False,
) -> Iterator[Event]:
    """The events a connection receives (of `project_id` only, when given) until it
    closes; a `{"action": "ping"}` after each `ping_interval` seconds of silence.
    Raises Expired once `expired()` is true."""
    from websockets.exceptions import ConnectionClosed

    last = time.monotonic()
    while True:
        if expired():
            raise Expired
        try:
            raw = ws.recv(timeout=min(ping_interval, 0.5))
        except TimeoutError:
            if time.monotonic() - last >= ping_interval:
                last = time.monotonic()
                try:
                    ws.send(json.dumps({"action": "ping"}))
                except ConnectionClosed:
                    return
            continue
        except ConnectionClosed:
            return
        last = time.monotonic()
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            continue  # not JSON: nothing of the protocol
        event = Event.from_message(message) if isinstance(message, dict) else None
        if event is not None and (project_id is None or event.project_id == project_id):
            yield event


class HistoryFollower:
    """Polls projects' histories and yields each entry not seen yet as an Event.

    `project_id`: that project; None: every project the caller lists (GET /projects,
    listed again every `relist_every` polls; a project found later is read from its
    start). `from_start`: also yield what the history held when following began."""

    def __init__(
        self,
        client: Tenantry,
        project_id: str | None = None,
        *,
        from_start: bool = False,
        relist_every: int = 10,
        page_limit: int = 100,
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.from_start = from_start
        self.relist_every = relist_every
        self.page_limit = page_limit
        # project -> (cursor of the last page read, entries before that page, entries yielded)
        self._state: dict[str, tuple[str | None, int, int]] = {}
        self._polls = 0
        self.started = False

    def start(self) -> None:
        """Take the histories' current ends (unless from_start): what comes after is new."""
        for pid in self._projects():
            self._state[pid] = (None, 0, 0)
            if not self.from_start:
                self._read(pid, emit=False)
        self.started = True

    def poll(self) -> list[Event]:
        """One round: the new entries of every followed project, each project's in order."""
        if not self.started:
            self.start()
        self._polls += 1
        if self.project_id is None and self._polls % self.relist_every == 0:
            for pid in self._projects():
                self._state.setdefault(pid, (None, 0, 0))  # new since: read from its start
        events: list[Event] = []
        for pid in list(self._state):
            try:
                events.extend(self._read(pid, emit=True))
            except NotFound:
                if pid == self.project_id:
                    raise
                del self._state[pid]  # no longer visible to the caller
        return events

    def catch_up(self, last_seq: dict[str, int]) -> list[Event]:
        """The entries after `last_seq[project]` of each project named there."""
        events: list[Event] = []
        for pid, seq in last_seq.items():
            self._state[pid] = (None, 0, seq)
            events.extend(self._read(pid, emit=True))
        return events

    def _projects(self) -> Iterable[str]:
        if self.project_id is not None:
            return [self.project_id]
        return [p.id for p in self.client.projects.list(limit=self.page_limit)]

    def _read(self, pid: str, *, emit: bool) -> list[Event]:
        cursor, before, done = self._state[pid]
        events: list[Event] = []
        while True:
            page = self.client.projects.history_page(pid, cursor=cursor, limit=self.page_limit)
            for offset, item in enumerate(page.items, start=1):
                seq = before + offset
                if seq > done:
                    done = seq
                    if emit:
                        events.append(Event.from_history(pid, seq, item))
            if not page.next_cursor:
                break
            before += len(page.items)
            cursor = page.next_cursor
        self._state[pid] = (cursor, before, done)
        return events


def watch(
    client: Tenantry,
    project_id: str | None = None,
    *,
    ws_url: str | None = None,
    mode: str = "auto",
    interval: float = 2.0,
    from_start: bool = False,
    reconnects: int = 3,
    ping_interval: float = 30.0,
    open_timeout: float = 10.0,
    timeout: float | None = None,
    on_fallback: Callable[[str], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Events of `project_id` (None: every project the caller may see) from now on, or
    from the project's first history entry with `from_start`. `mode`: "auto" (the
    WebSocket; polling history when it cannot connect, or keeps closing after
    `reconnects` attempts), "websocket" (no fallback: WebSocketUnavailable) or "poll".
    `on_fallback(reason)` is told when polling takes over; `on_ready(source)` once
    following has begun ("websocket" or "history"): what happens after it is seen.
    `timeout`: the iteration ends after that many seconds."""
    if mode not in ("auto", "websocket", "poll"):
        raise ValueError(f"unknown watch mode {mode!r}")
    deadline = None if timeout is None else time.monotonic() + timeout

    def expired() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def wait(seconds: float) -> None:
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - time.monotonic()))
        sleep(seconds)

    try:
        yield from _watch(
            client,
            project_id,
            ws_url=ws_url,
            mode=mode,
            interval=interval,
            from_start=from_start,
            reconnects=reconnects,
            ping_interval=ping_interval,
            open_timeout=open_timeout,
            on_fallback=on_fallback,
            on_ready=on_ready,
            sleep=wait,
            expired=expired,
        )
    except Expired:
        return


def _watch(
    client: Tenantry,
    project_id: str | None,
    *,
    ws_url: str | None,
    mode: str,
    interval: float,
    from_start: bool,
    reconnects: int,
    ping_interval: float,
    open_timeout: float,
    on_fallback: Callable[[str], None] | None,
    on_ready: Callable[[str], None] | None,
    sleep: Callable[[float], None],
    expired: Callable[[], bool],
) -> Iterator[Event]:
    seen = _Seen()
    follower = HistoryFollower(client, project_id, from_start=from_start)

    def fresh(events: Iterable[Event]) -> Iterator[Event]:
        return (e for e in events if seen.add(e))

    if mode != "poll":
        url = ws_url or websocket_url(client.base_url)
        connected = False
        failures = 0
        while True:
            try:
                ws = open_websocket(url, client.token, open_timeout=open_timeout)
            except WebSocketUnavailable as e:
                if mode == "websocket" and (not connected or failures >= reconnects):
                    raise
                if not connected or failures >= reconnects:
                    if on_fallback is not None:
                        on_fallback(str(e))
                    break
                failures += 1
                sleep(min(2.0**failures, 30.0))
                if expired():
                    raise Expired from e
                continue
            with ws:
                if not connected:
                    connected = True
                    backlog: list[Event] = []
                    if project_id is not None:  # one history: its end now, or all of it
                        follower.start()
                        backlog = follower.poll() if from_start else []
                    if on_ready is not None:
                        on_ready("websocket")
                else:  # what a reconnection may have missed
                    backlog = _catch_up(follower, seen)
                yield from fresh(backlog)
                delivered = False
                for event in messages(
                    ws, project_id=project_id, ping_interval=ping_interval, expired=expired
                ):
                    delivered = True
                    if seen.add(event):
                        yield event
            failures = 0 if delivered else failures + 1  # closed: reconnect
            if failures > reconnects:
                if mode == "websocket":
                    raise WebSocketUnavailable(f"{url}: closed {failures} times in a row")
                if on_fallback is not None:
                    on_fallback(f"{url} kept closing")
                break
            sleep(min(2.0 ** max(failures, 1), 30.0))
            if expired():
                raise Expired
        if connected:  # polling goes on from where the WebSocket left off
            yield from fresh(_catch_up(follower, seen))
    if not follower.started:
        follower.start()
        if on_ready is not None:
            on_ready("history")
    while True:
        yield from fresh(follower.poll())
        if expired():
            raise Expired
        sleep(interval)


def _catch_up(follower: HistoryFollower, seen: _Seen) -> list[Event]:
    """History entries the WebSocket may have missed: of the one project followed, all
    since following began; of every project, those after the last event seen of each."""
    if follower.project_id is not None:
        return follower.poll()
    if not follower.started:
        follower.start()
    return follower.catch_up(dict(seen.last_seq))
