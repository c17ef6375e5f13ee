"""The realtime WebSocket API's entry points (template.yaml WebSocketApi, stage `ws`; the
protocol: README "Realtime updates"). Thin: each calls tenantry.domain.realtime once.

    authorize       $connect's REQUEST authorizer (RealtimeAuthorizerFunction)
    lambda_handler  the routes $connect, $disconnect, $default (RealtimeFunction)
    push            a lifecycle event from PushRule to the connections allowed to see it
                    (PushFunction, invoked asynchronously by EventBridge)
"""

from __future__ import annotations

import json
from typing import Any

from tenantry.domain import realtime
from tenantry.observability import logger

UNAUTHORIZED = "Unauthorized"  # API Gateway answers 401 to an authorizer raising this


@logger.inject_lambda_context(clear_state=True)
def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The same token check as the HTTP API's authorizer: Allow with who connects, 401 for
    a missing, unknown, revoked or expired token, Deny (403) for an agent's token."""
    try:
        who = realtime.authorize(
            event.get("headers") or {}, event.get("queryStringParameters") or {}
        )
    except realtime.Refused as refused:
        logger.info("connection refused", extra={"status": refused.status, "reason": refused.why})
        if refused.status == 401:
            raise Exception(UNAUTHORIZED) from None  # API Gateway: 401
        if refused.status == 403:
            return _policy("anonymous", "Deny", event["methodArn"], {})
        raise RuntimeError(refused.why) from None
    return _policy(who["principal_id"], "Allow", event["methodArn"], who)


def _policy(principal: str, effect: str, resource: str, context: dict[str, Any]) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": context,
    }


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    route, connection_id = request["routeKey"], request["connectionId"]
    if route == "$connect":
        realtime.connect(connection_id, request.get("authorizer") or {})
        return {"statusCode": 200}
    if route == "$disconnect":
        realtime.disconnect(connection_id)
        return {"statusCode": 200}
    reply = realtime.message(event.get("body"))
    return {"statusCode": 200, "body": json.dumps(reply, separators=(",", ":"))}


@logger.inject_lambda_context(clear_state=True)
def push(event: dict[str, Any], context: Any) -> dict[str, int]:
    outcome = realtime.push(event)
    counts = {"delivered": outcome.delivered, "gone": outcome.gone, "closed": outcome.closed}
    logger.info("pushed", extra={"event": event.get("detail", {}).get("id"), **counts})
    return counts
