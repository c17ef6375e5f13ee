"""Realtime updates: lifecycle events (tenantry.domain.lifecycle_events) pushed over an API
Gateway WebSocket API to the connections allowed to see them (README "Realtime updates").

    $connect     authorize(): the token of the HTTP API (header `Authorization: Bearer`
                 or `?token=`, for browsers), resolved as the HTTP API's authorizer does;
                 connect(): the connection's item, with who it belongs to and its TTL
    $disconnect  disconnect(): the item goes
    $default     message(): {"action": "ping"} is answered {"type": "pong"}
    push         push(): one lifecycle event (PushRule on the stack's bus) to its audience

Who may see an event, decided when it is pushed (`audience`): a platform admin's
connection every event; anyone else's the events of the projects its user is a current
member of (accepted, leave_requested) at that moment, so a removed member stops receiving
at once. Each connection's credential is read again at every push it is part of: a token
revoked, its user or bot deactivated, a JWT expired or the admin flag changed since the
connection was made, and the connection is closed and forgotten (a client reconnects with
a valid token and is placed anew). A connection API Gateway no longer has (GoneException)
is forgotten too. Delivery is at least once and best effort: a client that needs every
event re-reads GET /projects/{id}/history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tenantry import auth, websocket_api
from tenantry.clock import now_iso
from tenantry.dal import connections as store
from tenantry.dal import keys
from tenantry.errors import ServiceUnavailable
from tenantry.observability import logger
from tenantry.settings import get_settings

PING = {"type": "pong"}
MAX_MESSAGE = 32 * 1024  # what a client may send ($default); API Gateway's frame limit


# --- $connect ---------------------------------------------------------------------------------


class Refused(Exception):
    """A connection is refused: `status` 401 (no valid token) or 403 (a token that opens no
    realtime updates: a cluster agent's, or a bot's: a bot is no project's member, so it
    may read no project's history, and would never be sent an event)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def credential(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a client connects with: `Authorization: Bearer <token>` (programs), else
    the `token` query parameter (browsers cannot set a WebSocket's headers)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return auth.bearer_token(lowered.get("authorization")) or (query.get("token") or None)


def authorize(headers: Mapping[str, str], query: Mapping[str, str]) -> dict[str, Any]:
    """Who connects (the authorizer's context for $connect), or Refused."""
    from tenantry.domain.authn import resolve_token

    secret = credential(headers, query)
    if not secret:
        raise Refused(401, "a token is required (Authorization: Bearer, or ?token=)")
    try:
        principal, why = resolve_token(secret)
    except ServiceUnavailable:
        raise Refused(503, "authentication backend busy") from None
    if principal is None:
        raise Refused(401, why or "unknown token")
    if principal["principal_kind"] == "bot":
        raise Refused(403, "a bot sees no project's events; connect with a user's token")
    if principal["principal_kind"] != "user":
        raise Refused(403, "an agent token opens the agent routes only")
    context = {
        "principal_kind": principal["principal_kind"],
        "principal_id": principal["principal_id"],
        "is_admin": bool(principal["is_admin"]),
        "token_id": principal["token_id"],
    }
    if principal.get("token_expires_at"):  # an OIDC identity's JWT: until it expires
        context["token_expires_at"] = int(principal["token_expires_at"])
    else:  # an API token: checked again by its hash at every push
        context["token_hash"] = auth.hash_token(secret)
    return context


def _flag(value: Any) -> bool:
    """API Gateway hands an authorizer's context values on as given or as text."""
    return value is True or str(value).lower() == "true"


def connect(connection_id: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Record the connection (its owner from the authorizer's `context`); the item."""
    now = int(time.time())
    expires = now + get_settings().websocket_connection_seconds
    if context.get("token_expires_at"):
        expires = min(expires, int(context["token_expires_at"]))
    kind, principal_id = str(context["principal_kind"]), str(context["principal_id"])
    is_admin = _flag(context.get("is_admin"))
    item: dict[str, Any] = {
        **keys.connection(connection_id),
        **keys.connection_indexes(connection_id, kind, principal_id, is_admin=is_admin),
        "entity": "connection",
        "connection_id": connection_id,
        "principal_kind": kind,
        "principal_id": principal_id,
        "is_admin": is_admin,
        "token_id": str(context.get("token_id") or ""),
        "connected_at": now_iso(),
        "expires_at": expires,  # the table's TTL attribute
    }
    if context.get("token_hash"):
        item["token_hash"] = str(context["token_hash"])
    store.put(item)
    logger.info("connected", extra={"connection": connection_id, "principal": principal_id})
    return item


# --- $disconnect and messages -----------------------------------------------------------------


def disconnect(connection_id: str) -> bool:
    """Forget the connection; False if it was forgotten already (a push found it gone)."""
    return store.delete(connection_id) is not None


def message(body: str | None) -> dict[str, Any]:
    """The answer to a client's message: `{"action": "ping"}` -> `{"type": "pong"}`."""
    if body is not None and len(body) > MAX_MESSAGE:
        return {"type": "error", "detail": f"messages are at most {MAX_MESSAGE} bytes"}
    try:
        parsed = json.loads(body or "")
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("action") == "ping":
        return dict(PING)
    return {"type": "error", "detail": 'the one message a client sends is {"action": "ping"}'}


# --- push: who may see an event ---------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    id: str
    kind: str  # user or bot
    principal_id: str
    is_admin: bool
    token_hash: str | None  # None: an OIDC identity's connection (no API token)
    expires_at: int

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Connection:
        return cls(
            id=str(item["connection_id"]),
            kind=str(item["principal_kind"]),
            principal_id=str(item["principal_id"]),
            is_admin=bool(item.get("is_admin")),
            token_hash=item.get("token_hash") or None,
            expires_at=int(item["expires_at"]),
        )


def standing(
    conn: Connection,
    tokens: Mapping[str, Mapping[str, Any]],
    users: Mapping[str, Mapping[str, Any]],
    now: int,
) -> str | None:
    """Why the connection may receive nothing any more (None: it may, as it was placed).
    `tokens`: the API token items found by hash; `users`: user items found by id."""
    if conn.expires_at <= now:
        return "the connection's time or its token has expired"
    if conn.token_hash is not None:
        token = tokens.get(conn.token_hash)
        if token is None:
            return "the token was revoked"
        if "owner_active" in token:  # the flags the authorizer reads (dal/keys.py)
            active, admin = bool(token["owner_active"]), bool(token.get("owner_admin"))
        elif conn.kind == "bot":  # a token made before the flags were copied
            active, admin = True, False
        else:
            active, admin = _owner_flags(users.get(conn.principal_id))
    else:
        active, admin = _owner_flags(users.get(conn.principal_id))
    if not active:
        return f"the token's {conn.kind} is inactive"
    if admin != conn.is_admin:
        return "the user's platform admin flag changed: reconnect"
    return None


def _owner_flags(owner: Mapping[str, Any] | None) -> tuple[bool, bool]:
    """(active, platform admin) of a user item; a user that is gone is neither."""
    if not owner:
        return False, False
    return bool(owner.get("is_active", True)), bool(owner.get("is_admin"))


def needs_owner(conn: Connection, tokens: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether `standing` needs the connection's user item: an OIDC identity's, or a user's
    token made before the token item carried its owner's flags."""
    if conn.token_hash is None:
        return True
    token = tokens.get(conn.token_hash)
    return conn.kind == "user" and token is not None and "owner_active" not in token


def audience(
    admins: Iterable[Connection],
    members: Iterable[Connection],
    tokens: Mapping[str, Mapping[str, Any]],
    users: Mapping[str, Mapping[str, Any]],
    now: int,
) -> tuple[list[Connection], list[tuple[Connection, str]]]:
    """(the connections an event goes to, those to close with why) among the platform
    admins' connections and the (non-admin) connections of the project's current members.
    Each connection once; a connection found in neither set is no part of it."""
    send: list[Connection] = []
    drop: list[tuple[Connection, str]] = []
    seen: set[str] = set()
    for conn in [*admins, *members]:
        if conn.id in seen:
            continue
        seen.add(conn.id)
        why = standing(conn, tokens, users, now)
        if why is None:
            send.append(conn)
        else:
            drop.append((conn, why))
    return send, drop


def envelope(event: Mapping[str, Any]) -> bytes:
    """The message of one EventBridge lifecycle event (the protocol's shape)."""
    out = {
        "type": "event",
        "source": event["source"],
        "detail_type": event["detail-type"],
        "detail": event["detail"],
    }
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Pushed:
    delivered: int
    gone: int  # connections API Gateway no longer had: forgotten
    closed: int  # connections that may no longer see anything: closed and forgotten


def push(event: Mapping[str, Any]) -> Pushed:
    """Post one lifecycle event to every connection allowed to see it. With no connection
    open at all (the common case between sessions), one Query and nothing else."""
    if not store.any_connection():
        return Pushed(0, 0, 0)
    project_id = str(event["detail"]["project_id"])
    admins = [Connection.of(i) for i in store.of_admins()]
    member_ids = store.current_member_ids(project_id)
    members = [Connection.of(i) for i in store.of_principals("user", member_ids)]
    candidates = [*admins, *members]
    if not candidates:
        return Pushed(0, 0, 0)
    hashes = [c.token_hash for c in candidates if c.token_hash]
    oidc_users = [c.principal_id for c in candidates if c.token_hash is None]
    tokens, users = store.credentials(hashes, oidc_users)
    legacy = [c.principal_id for c in candidates if c.token_hash and needs_owner(c, tokens)]
    if legacy:
        users |= store.credentials([], legacy)[1]
    send, drop = audience(admins, members, tokens, users, int(time.time()))
    data = envelope(event)
    gone = 0
    for conn in send:
        if not websocket_api.post(conn.id, data):
            store.delete(conn.id)
            gone += 1
    for conn, why in drop:
        logger.info("closing a connection", extra={"connection": conn.id, "reason": why})
        websocket_api.close(conn.id)
        store.delete(conn.id)
    return Pushed(len(send) - gone, gone, len(drop))
