"""Domain errors. Each carries its HTTP status and a problem type; `tenantry.http` renders
them as RFC 9457 application/problem+json. Domain and dal code raise these, never HTTP
responses."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://tenantry.dev/problems/"


class TenantryError(Exception):
    status: ClassVar[int] = 500
    type_name: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.type_name

    def problem(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        body["request_id"] = request_id
        return body


class BadRequest(TenantryError):
    status, type_name, title = 400, "bad-request", "Malformed request"


class Unauthorized(TenantryError):
    status, type_name, title = 401, "unauthorized", "Authentication required"


class Forbidden(TenantryError):
    status, type_name, title = 403, "forbidden", "Not allowed"


class NotFound(TenantryError):
    status, type_name, title = 404, "not-found", "Not found"


class Conflict(TenantryError):
    status, type_name, title = 409, "conflict", "Conflict"


class ChangedMeanwhile(Conflict):
    """A write pinned to the version just read lost a race with another writer. Without
    If-Match the domain reads again and retries; only a client's own If-Match makes a race
    the client's business (412)."""


class InvalidTransition(Conflict):
    type_name, title = "invalid-transition", "Invalid state transition"


class Gone(TenantryError):
    status, type_name, title = 410, "gone", "Gone"


class PreconditionFailed(TenantryError):
    status, type_name, title = 412, "precondition-failed", "Precondition failed"


class QuotaExceeded(TenantryError):
    status, type_name, title = 413, "quota-exceeded", "Quota exceeded"


class PayloadTooLarge(TenantryError):
    status, type_name, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(TenantryError):
    status, type_name, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(TenantryError):
    status, type_name, title = 422, "validation", "Validation failed"


class UnknownReference(Unprocessable):
    """The body names something (a user, template, org, cluster) that does not exist or
    cannot be used: valid in shape, refused by the server's state."""

    type_name, title = "unknown-reference", "Names something that does not exist"


class Throttled(TenantryError):
    status, type_name, title = 429, "throttled", "Too many requests"


class ServiceUnavailable(TenantryError):
    status, type_name, title = 503, "unavailable", "Backend busy, retry later"


class TransientError(Exception):
    """A failure worth retrying (throttling, a 5xx from a dependency). Workflow steps let
    it escape so the state machine's Retry catches it by name."""
