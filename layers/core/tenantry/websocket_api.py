"""The adapter to API Gateway's management API of the realtime WebSocket API
(`apigatewaymanagementapi`, at WEBSOCKET_MANAGEMENT_URL: https://<api>.execute-api.<region>.
amazonaws.com/ws): post a message to a connection, close one. The only code that calls it.

A connection that is no longer there answers GoneException (410): `post` and `close` say
so (False) rather than raise, for the caller to forget the connection. Any other error
(throttled, the service unavailable) is raised: the push is retried as a whole
(at-least-once delivery; clients de-duplicate on the event's id).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tenantry.settings import get_settings

GONE = "GoneException"


@cache
def _client() -> Any:
    import boto3

    url = get_settings().websocket_management_url
    if not url:
        raise RuntimeError("WEBSOCKET_MANAGEMENT_URL is not set: there is no WebSocket API")
    return boto3.client("apigatewaymanagementapi", endpoint_url=url)


def _gone(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == GONE)


def post(connection_id: str, data: bytes) -> bool:
    """Send one message (a text frame: UTF-8 JSON) to the connection; False if it is gone."""
    from botocore.exceptions import ClientError

    try:
        _client().post_to_connection(ConnectionId=connection_id, Data=data)
    except ClientError as exc:
        if _gone(exc):
            return False
        raise
    return True


def close(connection_id: str) -> bool:
    """Close the connection (API Gateway then invokes $disconnect); False if it was gone."""
    from botocore.exceptions import ClientError

    try:
        _client().delete_connection(ConnectionId=connection_id)
    except ClientError as exc:
        if _gone(exc):
            return False
        raise
    return True
