"""Errors: every answer of 400 or more raises an ApiError carrying the problem
(RFC 9457 problem+json, docs/api.md "Errors"), as the subclass of its status.

    try:
        client.projects.get("shop")
    except NotFound:
        ...
    except ApiError as e:
        print(e.status, e.type, e.title, e.detail, e.errors, e.request_id)

Branch on the class (the status) or on `problem_type` (the type's last segment,
e.g. "invalid-transition"), never on `detail`, which is for people. An answer that is no
problem+json (API Gateway's own `404 {"message": "Not Found"}`, a proxy's HTML page) still
raises the status's class, with the message or the reason phrase as its title.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class TenantryError(Exception):
    """Anything the client raises on purpose."""


class TransportError(TenantryError):
    """The server could not be reached or did not answer (after the retries allowed)."""


class ApiError(TenantryError):
    """An answer with status 400 or more. `problem` is the whole problem+json body (every
    extra member, e.g. `current_status` of an invalid transition, or `limit` of a quota)."""

    def __init__(
        self,
        status: int,
        *,
        title: str,
        detail: str = "",
        type: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        problem: dict[str, Any] | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors or []
        self.request_id = request_id
        self.problem = problem or {}
        self.headers = headers or httpx.Headers()
        super().__init__(self.message)

    @property
    def problem_type(self) -> str:
        """The type's last path segment ("not-found", "invalid-transition", ...)."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]

    @property
    def message(self) -> str:
        """Title and detail, and the offending fields of a 400/422: what a person reads."""
        text = f"{self.title}: {self.detail}" if self.detail else self.title
        for error in self.errors:
            loc = ".".join(str(part) for part in error.get("loc") or [])
            text += f"\n  {loc}: {error.get('msg', '')}" if loc else f"\n  {error.get('msg', '')}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, type={self.type!r}, title={self.title!r})"
        )

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        status = response.status_code
        problem: dict[str, Any] = {}
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if isinstance(body, dict):
            problem = body
        title = problem.get("title") or problem.get("message") or response.reason_phrase
        errors = problem.get("errors")
        return error_class(status)(
            status,
            title=str(title or f"HTTP {status}"),
            detail=str(problem.get("detail") or ""),
            type=str(problem.get("type") or "about:blank"),
            errors=errors if isinstance(errors, list) else None,
            request_id=problem.get("request_id"),
            problem=problem,
            headers=response.headers,
        )


class BadRequest(ApiError):
    """400: malformed (not JSON, a bad query parameter, a cursor of another list)."""


class Unauthorized(ApiError):
    """401: no token, or an unknown, revoked, expired or inactive one."""


class Forbidden(ApiError):
    """403: you may see the resource but not do this to it."""


class NotFound(ApiError):
    """404: no such resource, or one you may not see."""


class Conflict(ApiError):
    """409: the resource's state does not allow it, or it exists already."""


class Gone(ApiError):
    """410: an expired or revoked invite."""


class PreconditionFailed(ApiError):
    """412: If-Match named a version that is not the current one."""


class PayloadTooLarge(ApiError):
    """413: over a quota or a limit, or a body over 256 KiB."""


class UnsupportedMediaType(ApiError):
    """415."""


class Unprocessable(ApiError):
    """422: the body or parameters break the schema or a rule (see `errors`)."""


class TooManyRequests(ApiError):
    """429: throttled; `retry_after` says when to try again."""


class ServerError(ApiError):
    """5xx."""


class Unavailable(ServerError):
    """503: the backend is busy; retry after `Retry-After` seconds."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: TooManyRequests,
    503: Unavailable,
}


def error_class(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError
