"""Users, bots and API tokens in the table."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Conflict, NotFound, PreconditionFailed
from tenantry.pagination import collect

# --- users ----------------------------------------------------------------------------------


def create_user(user: dict[str, Any]) -> None:
    """The user and its unique email, together or not at all."""
    table.transact(
        user_ops(user),
        on_condition=lambda: Conflict(f"a user with email {user['email']} already exists"),
    )


def user_ops(user: dict[str, Any]) -> list[dict[str, Any]]:
    """The transaction ops writing a new user and its unique email."""
    item = {
        **keys.user(user["id"]),
        **keys.user_indexes(user["id"], user["created_at"]),
        "entity": "user",
        **user,
    }
    guard = {**keys.email(user["email"]), "entity": "email", "user_id": user["id"]}
    return [
        table.tx_put(item, "attribute_not_exists(PK)"),
        table.tx_put(guard, "attribute_not_exists(PK)"),
    ]


def get_user(user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(keys.user(user_id), consistent=consistent)


def users_by_id(user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The users among `user_ids` (up to 100), by id, in one BatchGetItem. Eventually
    consistent (the rows of a list page); an id not found so is read again strongly
    consistent (a user just made), so only users that do not exist are missing."""
    wanted = list(dict.fromkeys(user_ids))
    found = {u["id"]: u for u in table.batch_get([keys.user(i) for i in wanted])}
    missing = [i for i in wanted if i not in found]
    if missing:
        again = table.batch_get([keys.user(i) for i in missing], consistent=True)
        found.update({u["id"]: u for u in again})
    return found


def user_id_by_email(email: str, *, consistent: bool = True) -> str | None:
    item = table.get(keys.email(email), consistent=consistent)
    return item["user_id"] if item else None


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
        items, last = access.ALL_USERS.page(
            limit=n,
            start_key=key,
            filter_expression=" AND ".join(filters) or None,
            names=names or None,
            values=values or None,
        )
        return [(access.ALL_USERS.key_of(i), i) for i in items], last

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


def list_bots(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.ALL_BOTS.page(limit=limit, start_key=start_key)


# --- tokens ---------------------------------------------------------------------------------


MAX_TOKENS_PER_OWNER = 20  # one transaction rewrites the owner and all its hash items
TX_CHUNK = 24  # deletes per transaction (25 items: moto's cap, and AWS's before 2022)
ATTEMPTS = 3  # owner rewrites retried when a token was created or deleted meanwhile


def owner_with_tokens(
    kind: keys.PrincipalKind, owner_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The user or bot and the pointers to its tokens: one Query of its partition, strongly
    consistent (what is written next must see every token created so far)."""
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page, start = table.query(
            keys.owner_pk(kind, owner_id), limit=100, start_key=start, consistent=True
        )
        items.extend(page)
        if not start:
            break
    owner_sk = keys.owner(kind, owner_id)["SK"]
    owner = next((i for i in items if i["SK"] == owner_sk), None)
    pointers = [i for i in items if i["SK"].startswith(keys.OWNER_TOKEN_PREFIX)]
    return owner, pointers


def _rev_condition(owner: dict[str, Any], values: dict[str, Any]) -> str:
    """The owner's token set and flags are still as read (tokens_rev unchanged)."""
    if "tokens_rev" not in owner:
        return "attribute_not_exists(tokens_rev)"
    values[":rev"] = owner["tokens_rev"]
    return "tokens_rev = :rev"


def owner_flags(kind: keys.PrincipalKind, owner: dict[str, Any]) -> dict[str, bool]:
    """What the authorizer needs of a token's owner, copied onto the token's hash item."""
    if kind == "bot":
        return {"owner_active": True, "owner_admin": False}
    return {
        "owner_active": bool(owner.get("is_active", True)),
        "owner_admin": bool(owner.get("is_admin")),
    }


def create_token(token_hash: str, record: dict[str, Any], owner: dict[str, Any]) -> None:
    """`record`: id, owner_kind, owner_id, created_at; `owner`: the owner's item as
    owner_with_tokens read it. Three items and the owner's tokens_rev, one transaction,
    which fails (409) if the owner changed since it was read."""
    kind = record["owner_kind"]
    secret_item = {
        **keys.token(token_hash),
        "entity": "token_secret",
        "token_id": record["id"],
        "owner_kind": kind,
        "owner_id": record["owner_id"],
        **owner_flags(kind, owner),
    }
    record_item = {
        **keys.token_record(record["id"]),
        **keys.token_record_indexes(kind, record["owner_id"], record["id"], record["created_at"]),
        "entity": "token",
        "token_hash": token_hash,
        **record,
    }
    pointer = {
        **keys.owner_token(kind, record["owner_id"], record["id"]),
        "entity": "token_pointer",
        "token_id": record["id"],
        "token_hash": token_hash,
    }
    values: dict[str, Any] = {":next": int(owner.get("tokens_rev", 0)) + 1}
    condition = "attribute_exists(PK) AND " + _rev_condition(owner, values)
    table.transact(
        [
            table.tx_put(secret_item, "attribute_not_exists(PK)"),
            table.tx_put(record_item, "attribute_not_exists(PK)"),
            table.tx_put(pointer, "attribute_not_exists(PK)"),
            table.tx_update(
                keys.owner(kind, record["owner_id"]),
                "SET tokens_rev = :next",
                condition,
                values=values,
            ),
        ],
        on_condition=lambda: Conflict(f"the {kind} changed meanwhile; retry"),
    )


def _owner_at(
    kind: keys.PrincipalKind, owner_id: str, expected_version: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The owner and its token pointers (owner_with_tokens), at `expected_version` when
    given: 404 when there is no such owner, 412 when it has changed."""
    owner, pointers = owner_with_tokens(kind, owner_id)
    if owner is None:
        raise NotFound(f"{kind} not found")
    if expected_version is not None and owner["version"] != expected_version:
        raise PreconditionFailed(f"the {kind} has changed; fetch it again and retry")
    return owner, pointers


def update_user_flags(
    user_id: str, changes: dict[str, Any], now: str, expected_version: int | None
) -> dict[str, Any]:
    """Change is_active / is_admin of a user and, in the same transaction, the copies on
    every one of its tokens' hash items, so the authorizer's one read sees the change at
    once. Returns the user as written."""
    for _ in range(ATTEMPTS):
        user, pointers = _owner_at("user", user_id, expected_version)
        rev = int(user.get("tokens_rev", 0)) + 1
        new = {**user, **changes, "updated_at": now, "version": user["version"] + 1}
        new["tokens_rev"] = rev
        expression, names, values = table.set_expression(
            {**changes, "updated_at": now, "tokens_rev": rev}
        )
        expression += " ADD version :one"
        values.update({":one": 1, ":seen": user["version"]})
        condition = "attribute_exists(PK) AND version = :seen AND " + _rev_condition(user, values)
        flags = {f":{k}": v for k, v in owner_flags("user", new).items()}
        ops = [
            table.tx_update(keys.user(user_id), expression, condition, names=names, values=values),
            *(
                table.tx_update(
                    keys.token(p["token_hash"]),
                    "SET owner_active = :owner_active, owner_admin = :owner_admin",
                    "attribute_exists(PK)",  # a token revoked meanwhile: read again
                    values=flags,
                )
                for p in pointers
            ),
        ]
        try:
            table.transact(ops)
        except Conflict:
            continue
        return new
    raise Conflict("the user's tokens changed meanwhile; retry")


def delete_bot(bot_id: str, expected_version: int | None) -> None:
    """The bot and its tokens' hash items in one transaction (its tokens stop at once),
    then their records and pointers."""
    for _ in range(ATTEMPTS):
        bot, pointers = _owner_at("bot", bot_id, expected_version)
        values: dict[str, Any] = {":seen": bot["version"]}
        condition = "attribute_exists(PK) AND version = :seen AND " + _rev_condition(bot, values)
        ops = [
            table.tx_delete(keys.bot(bot_id), condition, values=values),
            *(table.tx_delete(keys.token(p["token_hash"])) for p in pointers),
        ]
        try:
            table.transact(ops)
        except Conflict:
            continue
        rest = [
            table.tx_delete(k)
            for p in pointers
            for k in (
                keys.token_record(p["token_id"]),
                keys.owner_token("bot", bot_id, p["token_id"]),
            )
        ]
        for i in range(0, len(rest), TX_CHUNK):
            table.transact(rest[i : i + TX_CHUNK])
        return
    raise Conflict("the bot's tokens changed meanwhile; retry")


def token_by_hash(token_hash: str) -> dict[str, Any] | None:
    # Strongly consistent: a token revoked (or its owner deactivated) a moment ago must
    # not work any more.
    return table.get(keys.token(token_hash))


def token_by_id(token_id: str) -> dict[str, Any] | None:
    # Strongly consistent: GET shows a just-created token, DELETE must find it.
    return table.get(keys.token_record(token_id))


def delete_token(record: dict[str, Any]) -> None:
    table.transact(
        [
            table.tx_delete(keys.token(record["token_hash"])),
            table.tx_delete(keys.token_record(record["id"])),
            table.tx_delete(
                keys.owner_token(record["owner_kind"], record["owner_id"], record["id"])
            ),
        ]
    )


def list_tokens(
    owner_kind: keys.PrincipalKind, owner_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.OWNER_TOKENS.page(owner_kind, owner_id, limit=limit, start_key=start_key)


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
