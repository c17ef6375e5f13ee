"""Secrets in the table: the secret item (its metadata and `sealed`, the contents as
tenantry.secrets_crypto sealed them) and its name guard, which makes (environment,
collection, name) unique. Nothing here ever holds plaintext contents. The transaction
they go in is dal/environments.commit's (history, the project active)."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.pagination import collect

NOT_STORED = ("PK", "SK", "entity", "sealed")


def strip(item: dict[str, Any]) -> dict[str, Any]:
    """The secret's metadata: what a caller may read of it."""
    return {k: v for k, v in item.items() if k not in NOT_STORED}


def get(project_id: str, env_id: str, secret_id: str) -> dict[str, Any] | None:
    return table.get(keys.secret(project_id, env_id, secret_id))


def name_guard(secret: dict[str, Any], name: str) -> dict[str, Any]:
    key = keys.secret_name(secret["project_id"], secret["env_id"], secret["collection"], name)
    return {**key, "entity": "secret_name", "secret_id": secret["id"]}


def name_taken(project_id: str, env_id: str, collection: str, name: str) -> bool:
    return table.get(keys.secret_name(project_id, env_id, collection, name)) is not None


def create_ops(secret: dict[str, Any]) -> list[dict[str, Any]]:
    """The secret (`sealed` included) and its name guard, each refused if it exists."""
    item = {
        **keys.secret(secret["project_id"], secret["env_id"], secret["id"]),
        "entity": "secret",
        **secret,
    }
    return [
        table.tx_put(item, "attribute_not_exists(PK)"),
        table.tx_put(name_guard(secret, secret["name"]), "attribute_not_exists(PK)"),
    ]


def update_op(secret: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` (name, sealed, updated_at) on the secret if it is at the version read."""
    key = keys.secret(secret["project_id"], secret["env_id"], secret["id"])
    return table.tx_update_versioned(key, changes, secret["version"])


def rename_ops(secret: dict[str, Any], new_name: str) -> list[dict[str, Any]]:
    return [
        _guard_delete(secret),
        table.tx_put(name_guard(secret, new_name), "attribute_not_exists(PK)"),
    ]


def delete_ops(secret: dict[str, Any]) -> list[dict[str, Any]]:
    """The secret (if at the version read) and its name guard."""
    return [
        table.tx_delete(
            keys.secret(secret["project_id"], secret["env_id"], secret["id"]),
            "attribute_exists(PK) AND version = :version",
            values={":version": secret["version"]},
        ),
        _guard_delete(secret),
    ]


def _guard_delete(secret: dict[str, Any]) -> dict[str, Any]:
    key = keys.secret_name(
        secret["project_id"], secret["env_id"], secret["collection"], secret["name"]
    )
    return table.tx_delete(key, "secret_id = :id", values={":id": secret["id"]})


def page(
    project_id: str,
    env_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    collection: str | None = None,
    name: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The environment's secrets, filtered by collection and name after reading (within
    tenantry.pagination.collect's read budget)."""
    filters, names, values = [], {}, {}
    for attr, value in (("collection", collection), ("name", name)):
        if value is not None:
            filters.append(f"#{attr} = :{attr}")
            names[f"#{attr}"], values[f":{attr}"] = attr, value
    pattern = access.ENV_SECRETS

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        items, last = pattern.page(
            project_id,
            env_id,
            limit=n,
            start_key=key,
            filter_expression=" AND ".join(filters) or None,
            names=names or None,
            values=values or None,
        )
        return [(pattern.key_of(i), i) for i in items], last

    return collect(fetch, limit, start_key)
