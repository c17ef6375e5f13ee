"""The HTTP core of the client: authentication, retries, Idempotency-Key, If-Match,
problems as exceptions, and lists followed page by page.

    from tenantry_client import Tenantry

    with Tenantry("http://127.0.0.1:3000", "tnt_...") as t:
        project = t.projects.create(name="Payments API", environments=["dev"])
        for p in t.projects.list(label_selector="team=pay"):
            print(p.id, p.status)
        p = t.projects.get("payments-api")
        t.projects.update("payments-api", description="Cards", if_match=p)  # 412 if stale

Retries: a 429 or 503 answer, and a 409 answering a retry of an idempotent create still
running (it comes with Retry-After), are sent again after Retry-After seconds (or a short
backoff), at most `max_retries` times, and never when the server asks for a wait longer
than `max_retry_wait`. A connection failure is retried for requests that are safe to repeat
(GET, PUT, DELETE, and POSTs carrying an Idempotency-Key). Every retry of a call sends the
same Idempotency-Key, so a create retried after a lost answer creates one thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from tenantry_client import resources
from tenantry_client.errors import ApiError, TransportError
from tenantry_client.models import Health, Me, Model, Page, ServerInfo
from tenantry_client.util import IfMatch, if_match_header, retry_after_seconds

__version__ = "0.1.0"
M = TypeVar("M", bound=Model)
RETRY_STATUSES = frozenset({429, 503})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Tenantry:
    """A client of one Tenantry API (`base_url`, e.g. http://127.0.0.1:3000) with one token.

    `transport`: an httpx transport (tests pass one that calls an in-process stack).
    `sleep`: what waits between retries (tests pass a recorder)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        headers = {
            "accept": "application/json",
            "user-agent": user_agent or f"tenantry-client/{__version__}",
        }
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        self.projects = resources.Projects(self)
        self.memberships = resources.Memberships(self)
        self.applications = resources.Applications(self)
        self.invites = resources.Invites(self)
        self.environments = resources.Environments(self)
        self.secrets = resources.Secrets(self)
        self.deployments = resources.Deployments(self)
        self.tasks = resources.Tasks(self)
        self.clusters = resources.Clusters(self)
        self.users = resources.Users(self)
        self.tokens = resources.Tokens(self)

    # --- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Tenantry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the few routes of no group -------------------------------------------------------
    def me(self) -> Me:
        """Who the token belongs to (GET /auth/me): verifies a token."""
        return self.get("/auth/me", Me)

    def health(self) -> Health:
        return self.get("/health", Health)

    def server_info(self) -> ServerInfo:
        return self.get("/server/info", ServerInfo)

    # --- requests -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        if_match: IfMatch = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call, retried as the module says; an answer of 400 or more raises ApiError
        (its subclass by status). Returns the successful response."""
        method = method.upper()
        sent = dict(headers or {})
        if idempotency_key is not None:
            sent["idempotency-key"] = idempotency_key
        match = if_match_header(if_match)
        if match is not None:
            sent["if-match"] = match
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        repeatable = method in SAFE_METHODS or idempotency_key is not None
        attempt = 0
        while True:
            try:
                response = self._http.request(method, url, params=query, json=json, headers=sent)
            except httpx.TransportError as e:
                if not repeatable or attempt >= self.max_retries:
                    raise TransportError(f"{method} {self.base_url}{url}: {e}") from e
                self._sleep(_backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            wait = self._retry_wait(response, attempt, idempotency_key is not None)
            if wait is None:
                raise ApiError.from_response(response)
            self._sleep(wait)
            attempt += 1

    def _retry_wait(self, response: httpx.Response, attempt: int, keyed: bool) -> float | None:
        """Seconds to wait before sending the call again, or None: raise."""
        status = response.status_code
        after = retry_after_seconds(response.headers.get("retry-after"))
        retryable = status in RETRY_STATUSES or (status == 409 and keyed and after is not None)
        if not retryable or attempt >= self.max_retries:
            return None
        wait = _backoff(attempt) if after is None else after
        return None if wait > self.max_retry_wait else wait

    def send(self, method: str, url: str, model: type[M], **options: Any) -> M:
        """One call (`request`, with its `options`), its answer as `model`."""
        return self.parse(self.request(method, url, **options), model)

    def get(self, url: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        return self.send("GET", url, model, params=params)

    def parse(self, response: httpx.Response, model: type[M]) -> M:
        """The answer's body as `model`, with its ETag."""
        result = model.model_validate(response.json())
        result._etag = response.headers.get("etag")
        return result

    def page(
        self,
        url: str,
        model: type[M],
        params: Mapping[str, Any] | None = None,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        page_model: type[Any] | None = None,
    ) -> Any:
        """One page of a list: a Page of `model`, or `page_model` for a list answered in a
        shape of its own (a project's History: its items and `next_cursor` beside the
        project's fields)."""
        query = {**(params or {}), "cursor": cursor, "limit": limit}
        return self.get(url, page_model or Page[model], query)  # type: ignore[valid-type]

    def iterate(
        self,
        url: str,
        model: type[M],
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        max_items: int | None = None,
        page_model: type[Any] | None = None,
    ) -> Iterator[M]:
        """Every item of a list, page after page (`limit` per page), following
        `next_cursor` until it is null: a page may be short, or empty, before the end
        (docs/api.md, "Lists and cursors"). Stops after `max_items` when given."""
        cursor: str | None = None
        count = 0
        while True:
            page = self.page(url, model, params, cursor=cursor, limit=limit, page_model=page_model)
            for item in page.items:
                if max_items is not None and count >= max_items:
                    return
                count += 1
                yield item
            if not page.next_cursor or (max_items is not None and count >= max_items):
                return
            cursor = page.next_cursor


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _backoff(attempt: int) -> float:
    return min(0.5 * 2**attempt, 8.0)
