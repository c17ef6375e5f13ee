"""The HTTP side every function shares: the resolver factory, authentication from the
authorizer's context, problem+json rendering, response helpers and OpenAPI metadata.

The Lambda authorizer resolves the bearer token and always lets the request through with
what it found: API Gateway HTTP APIs answer a denied request with a bare 403, while the
contract wants 401 problem+json. The route group's entry point (lambda_handler_for) turns
"no principal" into that 401 for every route that is not public, before validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from tenantry.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    TenantryError,
    Unauthorized,
)
from tenantry.models.common import Page, Problem
from tenantry.models.principal import Principal
from tenantry.observability import logger
from tenantry.pagination import PageFetch, listed
from tenantry.request_body import check_request_body

T = TypeVar("T")

PROBLEM_JSON = "application/problem+json"
PUBLIC_ROUTES = {"GET /health"}
# The caller kinds a route admits, declared per route group (make_app) and checked in one
# place (lambda_handler_for), before the route runs: people and bots call the API; a
# cluster's agent token opens the agent routes and nothing else, and only it opens them.
PEOPLE_AND_BOTS = frozenset({"user", "bot"})
AGENTS = frozenset({"agent"})

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100")]
# An id in a path: every id Tenantry issues (UUIDs, project DNS labels) is made of URL
# unreserved characters, which pass API Gateway's path decoding unchanged.
ID_PATTERN = r"^[A-Za-z0-9._~-]{1,64}$"
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
ProjectIdPath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The project's DNS-label id"),
]


def id_query(description: str) -> Any:
    """An optional query parameter naming something by id (`?deployment_id=`): an id's
    shape, else 422."""
    return Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=ID_PATTERN, description=description),
    ]


# A version is a positive integer of at most 18 digits (DynamoDB numbers hold 38).
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}"|[0-9]{1,18})$'
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=24,
        pattern=IF_MATCH_PATTERN,
        description='An ETag (`"3"`) or `*`: the write happens only at that version (412 '
        'otherwise). If-Match compares strongly (RFC 9110), so a weak ETag (`W/"3"`) never '
        "matches: 412",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="A retry with the same key and body returns the first response and creates nothing more",
    ),
]
Cursor = Annotated[
    str | None, Query(max_length=2048, description="Opaque cursor from the previous page")
]

_TITLES = {
    400: "Malformed request",
    401: "No or bad token",
    403: "Authenticated but not allowed",
    404: "Not found, or not visible to the caller",
    409: "Conflict or invalid state transition",
    410: "Gone: expired or revoked",
    412: "If-Match did not match the current version",
    413: "Over quota",
    422: "Validation failed",
    429: "Throttled",
    503: "Backend busy",
}


def problems(*codes: int) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer: every route
    may answer 403 to a caller kind its group does not admit (admit)."""
    return {
        c: {"description": _TITLES[c], "content": {PROBLEM_JSON: {"model": Problem}}}
        for c in sorted({400, 401, 403, 422, 503, *codes})
    }


_HEADER_DOCS = {
    "ETag": {"description": "The resource's version, for If-Match", "schema": {"type": "string"}},
    "Location": {"description": "Where the resource lives", "schema": {"type": "string"}},
}


def responses(
    status: int,
    model: Any,
    *error_codes: int,
    description: str = "OK",
    headers: tuple[str, ...] = (),
) -> dict[int, dict[str, Any]]:
    """The success response (its model and headers) plus the problem responses of a route."""
    ok: dict[str, Any] = {"description": description}
    if model is not None:
        ok["content"] = {"application/json": {"model": model}}
    if headers:
        ok["headers"] = {h: _HEADER_DOCS[h] for h in headers}
    return {status: ok, **problems(*error_codes)}


def lambda_handler_for(
    app: APIGatewayHttpResolver,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of a route group: request-scoped logs with the request's
    correlation id, metrics flushed, then the resolver."""
    from aws_lambda_powertools.logging import correlation_paths

    from tenantry.observability import metrics

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Authentication before anything else: Powertools validates the request before any
        # middleware runs, and a caller without a valid token must learn only that (401).
        # Then the body: Powertools would parse forms too, and turn bad bytes into 500s.
        try:
            if event.get("routeKey", "") not in PUBLIC_ROUTES:
                principal = principal_from_event(event)
                app.append_context(principal=principal)  # read by caller(app); cleared after
            check_request_body(event)
            if event.get("routeKey", "") not in PUBLIC_ROUTES:
                admit(app, principal)  # a body's form is judged before who sends it
        except TenantryError as exc:
            app.clear_context()
            request_id = (event.get("requestContext") or {}).get("requestId")
            return {
                "statusCode": exc.status,
                "headers": {"Content-Type": PROBLEM_JSON, **exc.headers},
                "body": json.dumps(exc.problem(request_id)),
                "isBase64Encoded": False,
            }
        return app.resolve(event, context)

    return lambda_handler


def admit(app: APIGatewayHttpResolver, principal: Principal) -> None:
    """The one check of caller kinds: a principal the route group does not admit is 403,
    whatever the route (an agent token on /projects, a user token on /agent/...)."""
    callers = getattr(app, "tenantry_callers", PEOPLE_AND_BOTS)
    if principal.kind not in callers:
        raise Forbidden(
            f"a {principal.kind} token cannot call this route; it admits "
            + " and ".join(f"{k} tokens" for k in sorted(callers))
        )


def make_app(callers: frozenset[str] = PEOPLE_AND_BOTS) -> APIGatewayHttpResolver:
    """A route group's resolver; `callers`: the principal kinds its routes admit."""
    # OpenAPI metadata is applied by local/openapi.py at build time, not here: its models
    # cost ~115 ms of imports that a cold start does not need.
    app = APIGatewayHttpResolver(enable_validation=True)
    app.tenantry_callers = callers  # type: ignore[attr-defined]

    @app.exception_handler(TenantryError)
    def _domain_error(exc: TenantryError) -> Response:
        return problem_response(app, exc)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid")} for e in exc.errors()
        ]
        if any(e["loc"][:1] == ["body"] and "JSON" in e["msg"] for e in errors):
            return problem_response(app, BadRequest("request body is not valid JSON"))
        return problem_response(
            app,
            _Unprocessable422("the request does not match the schema", errors=errors),
        )

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return problem_response(app, NotFound("no such route"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return problem_response(app, TenantryError("internal error"))

    return app


class _Unprocessable422(TenantryError):
    status, type_name, title = 422, "validation", "Validation failed"


def problem_response(app: APIGatewayHttpResolver, exc: TenantryError) -> Response:
    request_id = _request_id(app)
    return Response(
        status_code=exc.status,
        content_type=PROBLEM_JSON,
        body=json.dumps(exc.problem(request_id)),
        headers=exc.headers,
    )


def _request_id(app: APIGatewayHttpResolver) -> str | None:
    try:
        return app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        return None


def principal_from_event(event: dict[str, Any]) -> Principal:
    ctx = (event.get("requestContext", {}).get("authorizer") or {}).get("lambda") or {}
    if not ctx.get("principal_id"):
        if ctx.get("auth_status") == 503:
            raise ServiceUnavailable(ctx.get("auth_error"), headers={"Retry-After": "1"})
        raise Unauthorized(ctx.get("auth_error") or "a valid bearer token is required")
    return Principal(
        kind=ctx["principal_kind"],
        id=ctx["principal_id"],
        is_admin=ctx.get("is_admin") in (True, "true"),
    )


def caller(app: APIGatewayHttpResolver) -> Principal:
    principal: Principal = app.context["principal"]
    return principal


# --- responses ------------------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header requires, or None. `*` means any version. If-Match
    uses the strong comparison (RFC 9110, 13.1.1): a weak ETag matches nothing, not even
    the current version's tag (Tenantry's ETags are all strong), so it is 412."""
    if if_match is None or if_match.strip() == "*":
        return None
    if if_match.strip().startswith("W/"):
        raise PreconditionFailed(
            f"If-Match compares strongly: a weak ETag ({if_match!r}) never matches"
        )
    value = if_match.strip().strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise PreconditionFailed(f"If-Match must be an ETag of this resource, got {if_match!r}")
    return int(value)


def respond(
    body: Any,
    status: int = 200,
    *,
    version: int | None = None,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if version is not None:
        all_headers["ETag"] = etag(version)
    if location:
        all_headers["Location"] = location
    return Response(
        status_code=status, content_type="application/json", body=body, headers=all_headers
    )


def no_content() -> Response:
    return Response(status_code=204)


def paged(model: type[T], cursor: str | None, scope: tuple[Any, ...], fetch: PageFetch) -> Page[T]:
    """Every list route's answer: `fetch(start key) -> (items, last key)` read from the
    caller's cursor, and the next page's cursor, tied to `scope` (the list's name and
    everything that narrows it) so that it only continues its own list."""
    return Page[model](**listed(cursor, scope, fetch))  # type: ignore[valid-type]
