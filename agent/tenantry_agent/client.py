"""Tenantry's agent API over HTTP: one method per route, typed results, typed errors.

Every call is one HTTP request; retrying is the caller's choice (`Backoff`, `retrying`),
because what to do on a transient error differs per call (a claim waits for the next poll,
a result is retried until it lands, a lease extension races the lease's expiry).

Errors (RFC 9457 problem+json bodies are read for their title and detail):
  Unauthorized  401/403: the agent token was refused
  LeaseLost     409 (or 404) on a work item's routes: the lease is gone, stop and drop it
  Retryable     429, 5xx, no answer (connection refused, timeout): back off, then retry;
                `retry_after` carries the server's Retry-After in seconds when it sent one
  Rejected      any other 4xx: the request itself is wrong, retrying will not help
The token is never logged or put in an error message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from tenantry_agent import __version__

T = TypeVar("T")
log = logging.getLogger("tenantry_agent.client")
MAX_REASON = 500
RETRY_AFTER_CAP = 300.0  # seconds; a Retry-After beyond this is read as this


class ApiError(Exception):
    """An answer (or its absence) the agent cannot use as is. `status` 0: no answer."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ApiError):
    pass


class LeaseLost(ApiError):
    pass


class Rejected(ApiError):
    pass


class Retryable(ApiError):
    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp (`Z` or an offset); a naive one is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Heartbeat:
    cluster_id: str
    server_time: datetime | None


@dataclass(frozen=True)
class Lease:
    lease_expires_at: datetime
    cancel_requested: bool


@dataclass(frozen=True)
class WorkItem:
    """A claimed work item. Its lease token and payloads stay out of its repr (logs)."""

    id: str
    kind: str
    lease_token: str = field(repr=False)
    attempt: int
    lease_expires_at: datetime
    project_id: str
    namespace: str
    release_name: str | None = None
    task: Any = field(default=None, repr=False)
    deployment: Any = field(default=None, repr=False)
    helm_chart: Any = field(default=None, repr=False)
    secrets: Any = field(default=None, repr=False)
    resource: Any = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkItem:
        if not isinstance(data, dict) or not data.get("id") or not data.get("lease_token"):
            raise ValueError("a work item without id or lease_token")
        try:  # unreadable: take it as expiring now, so the first extension tells the truth
            expires = parse_time(str(data["lease_expires_at"]))
        except (KeyError, ValueError):
            expires = datetime.now(UTC)
        try:
            attempt = int(data.get("attempt") or 1)
        except (TypeError, ValueError):
            attempt = 1
        return cls(
            id=str(data["id"]),
            kind=str(data.get("kind") or ""),
            lease_token=str(data["lease_token"]),
            attempt=attempt,
            lease_expires_at=expires,
            project_id=str(data.get("project_id") or ""),
            namespace=str(data.get("namespace") or ""),
            release_name=data.get("release_name"),
            task=data.get("task"),
            deployment=data.get("deployment"),
            helm_chart=data.get("helm_chart"),
            secrets=data.get("secrets"),
            resource=data.get("resource"),
        )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), RETRY_AFTER_CAP)


def _problem_text(response: httpx.Response) -> str:
    """`<status> <title>: <detail>` from a problem+json body, or the status alone."""
    text = f"{response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        title, detail = body.get("title"), body.get("detail")
        if isinstance(title, str) and title:
            text += f" {title}"
        if isinstance(detail, str) and detail:
            text += f": {detail}"
    else:
        text += f" {response.reason_phrase}".rstrip()
    return text[:MAX_REASON]


class TenantryClient:
    """The agent routes of one Tenantry API. Thread-safe (one pooled httpx client).

    `token` is the agent token, or a function returning it (read per request, so a token
    file that Kubernetes updates after a rotation is picked up without a restart).
    """

    def __init__(
        self,
        url: str,
        token: str | Callable[[], str],
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._token = token if callable(token) else (lambda: token)
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"tenantry-agent/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TenantryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- routes ---------------------------------------------------------------------------

    def heartbeat(
        self, *, is_ok: bool, not_ok_reason: str | None = None, agent_version: str = __version__
    ) -> Heartbeat:
        body: dict[str, Any] = {"is_ok": is_ok, "agent_version": agent_version}
        if not is_ok and not_ok_reason:
            body["not_ok_reason"] = not_ok_reason[:MAX_REASON]
        data = self._post("/agent/heartbeat", body)
        server_time = data.get("server_time")
        return Heartbeat(
            cluster_id=str(data.get("cluster_id") or ""),
            server_time=parse_time(server_time) if server_time else None,
        )

    def claim(self, limit: int = 1) -> list[WorkItem]:
        data = self._post("/agent/work/claim", {"limit": max(1, min(int(limit), 10))})
        items = []
        for raw in data.get("items") or []:
            try:
                items.append(WorkItem.from_json(raw))
            except ValueError as exc:  # nothing to report it with: its lease will expire
                log.error("claim answered an unusable work item (%s); skipped", exc)
        return items

    def extend_lease(self, work_id: str, lease_token: str) -> Lease:
        data = self._post(f"/agent/work/{work_id}/heartbeat", {"lease_token": lease_token}, True)
        expires = data.get("lease_expires_at")
        return Lease(
            lease_expires_at=parse_time(expires) if expires else datetime.now(UTC),
            cancel_requested=bool(data.get("cancel_requested")),
        )

    def report_result(
        self,
        work_id: str,
        lease_token: str,
        status: str,
        reason: str | None = None,
        reported_status: Any = None,
    ) -> None:
        if status not in ("Done", "Failed"):
            raise ValueError(f"status must be Done or Failed, not {status!r}")
        body: dict[str, Any] = {"lease_token": lease_token, "status": status}
        if reason:
            body["reason"] = reason[:MAX_REASON]
        if reported_status is not None:
            body["reported_status"] = reported_status
        self._post(f"/agent/work/{work_id}/result", body, True)

    def release(self, work_id: str, lease_token: str, reason: str | None = None) -> None:
        body: dict[str, Any] = {"lease_token": lease_token}
        if reason:
            body["reason"] = reason[:MAX_REASON]
        self._post(f"/agent/work/{work_id}/release", body, True)

    # --- transport ------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], work_item: bool = False) -> dict[str, Any]:
        try:
            response = self._http.post(
                path, json=body, headers={"Authorization": f"Bearer {self._token()}"}
            )
        except httpx.TransportError as exc:  # refused, reset, timeouts, protocol errors
            raise Retryable(f"POST {path}: no answer ({type(exc).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return {}
            try:
                data = response.json()
            except ValueError:
                raise Retryable(f"POST {path}: {status} with a body that is not JSON") from None
            return data if isinstance(data, dict) else {}
        text = f"POST {path}: {_problem_text(response)}"
        if status in (401, 403):
            raise Unauthorized(text, status=status)
        if work_item and status in (404, 409):
            raise LeaseLost(text, status=status)
        if status in (408, 425, 429) or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise Retryable(text, status=status, retry_after=retry_after)
        raise Rejected(text, status=status)


class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of
    min(cap, base * 2**n); a server's Retry-After is a floor. `reset` after a success."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = random.random
    ) -> None:
        self.base, self.cap, self._rng, self.attempt = base, cap, rng, 0

    def next(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        delay = ceiling / 2 + self._rng() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
        return delay

    def reset(self) -> None:
        self.attempt = 0


def retrying(
    call: Callable[[], T],
    *,
    backoff: Backoff | None = None,
    stop: threading.Event | None = None,
    deadline: float | None = None,
    on_retry: Callable[[ApiError, float], None] | None = None,
) -> T:
    """`call()` until it returns, retrying Retryable errors with backoff. Gives up (raising
    the last error) when `stop` is set during a wait or the next try would start after
    `deadline` (time.monotonic()). Other errors propagate at once."""
    backoff = backoff or Backoff()
    while True:
        try:
            return call()
        except Retryable as exc:
            delay = backoff.next(exc.retry_after)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            if stop is not None:
                if stop.wait(delay):
                    raise
            else:
                time.sleep(delay)
