"""HTTP API Lambda authorizer (payload 2.0, simple responses).

It resolves the bearer token to a principal and always authorizes: the function behind the
route turns a missing principal into a 401 problem+json (API Gateway itself could only
answer a bare 403). Caching is off in the template, so revocation is immediate."""

from __future__ import annotations

from typing import Any

from tenantry.auth import bearer_token
from tenantry.domain.authn import resolve_token
from tenantry.errors import ServiceUnavailable
from tenantry.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    secret = bearer_token(headers.get("authorization"))
    if not secret:
        return _allow({"auth_error": "a bearer token is required"})
    try:
        principal, why = resolve_token(secret)
    except ServiceUnavailable:
        logger.warning("token lookup throttled")
        return _allow({"auth_error": "authentication backend busy", "auth_status": 503})
    if principal is None:
        logger.info("token refused", extra={"reason": why})
        return _allow({"auth_error": why})
    return _allow(principal)


def _allow(context: dict[str, Any]) -> dict[str, Any]:
    return {"isAuthorized": True, "context": context}
