"""Users, bots and API tokens in the table."""

from __future__ import annotations

from typing import Any

from tenantry.dal import keys, table
from tenantry.errors import Conflict, NotFound, PreconditionFailed
from tenantry.pagination import collect

# --- users ----------------------------------------------------------------------------------


def create_user(user: dict[str, Any]) -> None:
    """The user and its unique email, together or not at all."""
    item = {
        **keys.user(user["id"]),
        **keys.user_indexes(user["id"], user["created_at"]),
        "entity": "user",
        **user,
    }
    guard = {**keys.email(user["email"]), "entity": "email", "user_id": user["id"]}
    table.transact(
        [
            table.tx_put(item, "attribute_not_exists(PK)"),
            table.tx_put(guard, "attribute_not_exists(PK)"),
        ],
        on_condition=lambda: Conflict(f"a user with email {user['email']} already exists"),
    )


def get_user(user_id: str) -> dict[str, Any] | None:
    return table.get(keys.user(user_id))


def user_id_by_email(email: str) -> str | None:
    item = table.get(keys.email(email))
    return item["user_id"] if item else None


def update_user(
    user_id: str, changes: dict[str, Any], now: str, expected_version: int | None
) -> dict[str, Any]:
    return _update_versioned(keys.user(user_id), changes, now, expected_version, "user")


def list_users(
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    display_name: str | None = None,
    is_active: bool | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    filters, names, values = [], {}, {}
    if display_name:
        filters.append("contains(#dn, :dn)")
        names["#dn"], values[":dn"] = "display_name", display_name
    if is_active is not None:
        filters.append("#ia = :ia")
        names["#ia"], values[":ia"] = "is_active", is_active

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        items, last = table.query(
            keys.ALL_USERS,
            index="GSI1",
            limit=n,
            start_key=key,
            filter_expression=" AND ".join(filters) or None,
            names=names or None,
            values=values or None,
        )
        return [(table.key_of(i, "GSI1"), i) for i in items], last

    return collect(fetch, limit, start_key)


# --- bots -----------------------------------------------------------------------------------


def create_bot(bot: dict[str, Any]) -> None:
    item = {
        **keys.bot(bot["id"]),
        **keys.bot_indexes(bot["id"], bot["created_at"]),
        "entity": "bot",
        **bot,
    }
    table.put(item, condition="attribute_not_exists(PK)")


def get_bot(bot_id: str) -> dict[str, Any] | None:
    return table.get(keys.bot(bot_id))


def update_bot(
    bot_id: str, changes: dict[str, Any], now: str, expected_version: int | None
) -> dict[str, Any]:
    return _update_versioned(keys.bot(bot_id), changes, now, expected_version, "bot")


def delete_bot(bot_id: str, expected_version: int | None) -> None:
    condition, values = "attribute_exists(PK)", {}
    if expected_version is not None:
        condition += " AND version = :v"
        values[":v"] = expected_version
    table.delete(
        keys.bot(bot_id),
        condition=condition,
        values=values or None,
        on_condition=lambda: _missing_or_changed(keys.bot(bot_id), "bot"),
    )


def list_bots(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return table.query(keys.ALL_BOTS, index="GSI1", limit=limit, start_key=start_key)


# --- tokens ---------------------------------------------------------------------------------


def create_token(token_hash: str, record: dict[str, Any]) -> None:
    """`record`: id, owner_kind, owner_id, created_at. Two items, one transaction."""
    secret_item = {
        **keys.token(token_hash),
        "entity": "token_secret",
        "token_id": record["id"],
        "owner_kind": record["owner_kind"],
        "owner_id": record["owner_id"],
    }
    record_item = {
        **keys.token_record(record["id"]),
        **keys.token_record_indexes(
            record["owner_kind"], record["owner_id"], record["id"], record["created_at"]
        ),
        "entity": "token",
        "token_hash": token_hash,
        **record,
    }
    table.transact(
        [
            table.tx_put(secret_item, "attribute_not_exists(PK)"),
            table.tx_put(record_item, "attribute_not_exists(PK)"),
        ]
    )


def token_by_hash(token_hash: str) -> dict[str, Any] | None:
    return table.get(keys.token(token_hash))


def token_by_id(token_id: str) -> dict[str, Any] | None:
    return table.get(keys.token_record(token_id))


def delete_token(record: dict[str, Any]) -> None:
    table.transact(
        [
            table.tx_delete(keys.token(record["token_hash"])),
            table.tx_delete(keys.token_record(record["id"])),
        ]
    )


def list_tokens(
    owner_kind: keys.PrincipalKind, owner_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return table.query(
        keys.owner_tokens(owner_kind, owner_id), index="GSI1", limit=limit, start_key=start_key
    )


def all_tokens_of(owner_kind: keys.PrincipalKind, owner_id: str) -> list[dict[str, Any]]:
    items, key = [], None
    while True:
        page, key = list_tokens(owner_kind, owner_id, 100, key)
        items.extend(page)
        if not key:
            return items


def touch_token(token_hash: str, token_id: str, now: str, older_than: str) -> None:
    """Record use on both token items, at most once per resolution window: the caller
    has read the hash item and only calls this when its last_used_at is older than the
    window. Losing the race to a concurrent request is fine."""
    condition = (
        "attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR last_used_at < :old)"
    )
    values = {":now": now, ":old": older_than}
    try:
        table.transact(
            [
                table.tx_update(
                    keys.token(token_hash), "SET last_used_at = :now", condition, values=values
                ),
                table.tx_update(
                    keys.token_record(token_id),
                    "SET last_used_at = :now",
                    "attribute_exists(PK)",
                    values={":now": now},
                ),
            ]
        )
    except Conflict:
        pass


# --- shared ---------------------------------------------------------------------------------


def _update_versioned(
    key: dict[str, str], changes: dict[str, Any], now: str, expected_version: int | None, what: str
) -> dict[str, Any]:
    expression, names, values = table.set_expression({**changes, "updated_at": now})
    expression += " ADD version :one"
    values[":one"] = 1
    condition = "attribute_exists(PK)"
    if expected_version is not None:
        condition += " AND version = :expected"
        values[":expected"] = expected_version
    return table.update(
        key,
        expression,
        condition=condition,
        names=names,
        values=values,
        on_condition=lambda: _missing_or_changed(key, what),
    )


def _missing_or_changed(key: dict[str, str], what: str) -> Exception:
    if table.get(key) is None:
        return NotFound(f"{what} not found")
    return PreconditionFailed(f"the {what} has changed; fetch it again and retry")
