"""WebSocket connections of the realtime API (tenantry.domain.realtime): one item per
connection (dal/keys.py CONN#<connection id>), and the reads a push makes to find who may
see an event. Every read is by key or a Query of a declared pattern (dal/access.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tenantry.dal import access, keys, table

PAGE = 100  # items per Query page; a push reads every page of its partitions


def put(item: dict[str, Any]) -> None:
    """A new connection (API Gateway's connection ids are unique: a plain put)."""
    table.put(item)


def delete(connection_id: str) -> dict[str, Any] | None:
    """Forget a connection; the item it was (None if it was gone already)."""
    return table.delete(keys.connection(connection_id))


def get(connection_id: str) -> dict[str, Any] | None:
    return table.get(keys.connection(connection_id))


def _all(pattern: access.Pattern, *args: str) -> Iterator[dict[str, Any]]:
    start: dict[str, Any] | None = None
    while True:
        items, start = pattern.page(*args, limit=PAGE, start_key=start)
        yield from items
        if not start:
            return


def any_connection() -> bool:
    """Whether any connection is open: one Query, of at most one item."""
    items, _ = access.ALL_CONNECTIONS.page(limit=1, start_key=None)
    return bool(items)


def of_admins() -> list[dict[str, Any]]:
    """Every platform admin's connection."""
    return list(_all(access.ADMIN_CONNECTIONS))


def of_principals(kind: str, principal_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The (non-admin) connections of each of these principals: one Query each."""
    return [c for pid in principal_ids for c in _all(access.PRINCIPAL_CONNECTIONS, kind, pid)]


def current_member_ids(project_id: str) -> list[str]:
    """The user ids of the project's current members (accepted, leave_requested)."""
    return [str(m["user_id"]) for m in _all(access.PROJECT_CURRENT_MEMBERS, project_id)]


def credentials(
    token_hashes: Iterable[str], user_ids: Iterable[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The API token items (by hash) and user items (by id) still there, strongly
    consistent (a revoked token or a deactivated user is seen at once), 100 keys a call:
    ({token hash: item}, {user id: item})."""
    wanted = [keys.token(h) for h in dict.fromkeys(token_hashes)]
    wanted += [keys.user(u) for u in dict.fromkeys(user_ids)]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for i in range(0, len(wanted), 100):
        found |= table.batch_get_keyed(wanted[i : i + 100], consistent=True)
    tokens, users = {}, {}
    for (pk, _), item in found.items():
        if pk.startswith("TOKEN#"):
            tokens[pk.removeprefix("TOKEN#")] = item
        else:
            users[pk.removeprefix("USER#")] = item
    return tokens, users
