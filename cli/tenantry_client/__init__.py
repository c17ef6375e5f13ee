"""A small typed client of the Tenantry API (the `tenantry` CLI is built on it).

    from tenantry_client import Tenantry, NotFound

    with Tenantry("http://127.0.0.1:3000", token) as t:
        t.me()
        for project in t.projects.list(state="active"):
            ...

See tenantry_client.client for retries, Idempotency-Key and If-Match, tenantry_client.errors
for the exceptions, tenantry_client.watch for following lifecycle events.
"""

from tenantry_client.client import Tenantry, __version__
from tenantry_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServerError,
    TenantryError,
    TooManyRequests,
    TransportError,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from tenantry_client.resources import WaitTimeout
from tenantry_client.util import NULL

__all__ = [
    "NULL",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ServerError",
    "Tenantry",
    "TenantryError",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMediaType",
    "WaitTimeout",
    "__version__",
]
