"""`Idempotency-Key` on create routes, with Powertools idempotency persisted in DynamoDB.

The key is scoped to the caller and the route; the stored record holds the whole first
response (status, headers, body), so a retry gets exactly what the first call got.
The same key with a different body is 422; a retry while the first is still running is
409 with Retry-After. Powertools is imported on first use: routes without the header
never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel

from tenantry.errors import Conflict, Unprocessable
from tenantry.settings import get_settings


@cache
def _persistence() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name)


def created(
    app: APIGatewayHttpResolver,
    key: str | None,
    principal_id: str,
    body: BaseModel,
    make: Callable[[], Any],
    collection: str,
    *,
    status: int = 201,
    redact: Callable[[Any], Any] | None = None,
    unchecked: frozenset[str] = frozenset(),
) -> Response:
    """A create route's answer: `make()` the resource once per Idempotency-Key and answer
    `status` with its Location (and ETag when it is versioned). `redact`: as in once().
    `unchecked`: body fields left out of the stored record, so not compared on a retry
    either (a secret's contents: not even a hash of them is kept)."""
    from tenantry.http import respond

    def create() -> Response:
        resource = make()
        return respond(
            resource,
            status,
            version=getattr(resource, "version", None),
            location=f"{collection}/{resource.id}",
        )

    return once(
        app,
        key,
        principal_id,
        body.model_dump(mode="json", exclude=set(unchecked)),
        create,
        redact=redact,
    )


def once(
    app: APIGatewayHttpResolver,
    key: str | None,
    principal_id: str,
    body: dict[str, Any],
    create: Callable[[], Response],
    *,
    redact: Callable[[Any], Any] | None = None,
) -> Response:
    """Run `create` at most once per (caller, route, Idempotency-Key, body). `redact`
    takes the secrets out of the body before it is stored: the first answer carries them,
    a replay does not (secrets are never stored in plaintext)."""
    if key is None:
        return create()

    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[caller, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
    )
    if app.lambda_context is not None:
        config.register_lambda_context(app.lambda_context)

    @idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=config
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        response = create()
        body = response.body
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json", by_alias=True)
        answer = {"status": response.status_code, "headers": response.headers, "body": body}
        first.append(answer)
        return {**answer, "body": redact(body)} if redact else answer

    first: list[dict[str, Any]] = []  # set when this request ran `create`

    request = {
        "caller": principal_id,
        "route": app.current_event.raw_event.get("routeKey", ""),
        "key": key,
        "body": body,
    }
    try:
        stored = run(request=request)
    except IdempotencyValidationError as exc:
        raise Unprocessable(
            "this Idempotency-Key was used with a different request body",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with another body"}],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress", headers={"Retry-After": "1"}
        ) from exc
    if first:
        stored = first[0]
    return Response(
        status_code=stored["status"],
        content_type="application/json",
        body=stored["body"],
        headers=stored["headers"],
    )
