"""Secrets of an environment: named contents, grouped in collections (the Kubernetes Secret
they go into), unique per (environment, collection, name).

`contents` is write-only. It is sealed (tenantry.secrets_crypto: a KMS data key per write,
AES-256-GCM, bound to the secret's ids) before anything is written, and from then on only
the agent's work items open it (decrypt_secret). It is in no response, no history entry,
no idempotency record and no log line; nothing derived from it but the ciphertext is kept.

Writers: the environment's Admins, the project's owner and admins, platform admins.
Readers of names and metadata: those and the environment's Users. Other members: 403.
"""

from __future__ import annotations

from typing import Any

from tenantry import secrets_crypto
from tenantry.clock import new_id, now_iso
from tenantry.dal import environments as env_store
from tenantry.dal import history
from tenantry.dal import secrets as store
from tenantry.domain.environment_access import Scope, changing, scope
from tenantry.domain.project_access import (
    actor,
    changed_or_gone,
    check_version,
    retried_when_raced,
)
from tenantry.errors import ChangedMeanwhile, Conflict, NotFound
from tenantry.models.environments import Secret, SecretCreate, SecretPatch
from tenantry.models.principal import Principal

READERS = "only the environment's Admins and Users and the project's managers see its secrets"


def to_model(item: dict[str, Any]) -> Secret:
    return Secret.model_validate(store.strip(item))


def _reading(principal: Principal, project_id: str, env_id: str) -> Scope:
    s = scope(principal, project_id, env_id)
    s.require(s.secret_reader, READERS)
    return s


def _writing(principal: Principal, project_id: str, env_id: str) -> Scope:
    return changing(principal, project_id, env_id, "env_admin")


def list_secrets(
    principal: Principal,
    project_id: str,
    env_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    collection: str | None = None,
    name: str | None = None,
) -> tuple[list[Secret], dict[str, Any] | None]:
    _reading(principal, project_id, env_id)
    items, last = store.page(project_id, env_id, limit, start_key, collection=collection, name=name)
    return [to_model(i) for i in items], last


def get(principal: Principal, project_id: str, env_id: str, secret_id: str) -> Secret:
    _reading(principal, project_id, env_id)
    return to_model(_existing(project_id, env_id, secret_id))


def _existing(project_id: str, env_id: str, secret_id: str) -> dict[str, Any]:
    item = store.get(project_id, env_id, secret_id)
    if item is None:
        raise NotFound(f"secret {secret_id!r} not found")
    return item


def _detail(s: Scope, secret: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What a history entry says of a secret: which one, never its contents."""
    return {
        "env_id": s.env_id,
        "env_name": s.env["name"],
        "secret_id": secret["id"],
        "collection": secret["collection"],
        "name": secret["name"],
        **more,
    }


def _taken(secret: dict[str, Any], name: str) -> Conflict:
    return Conflict(f"the environment has a secret {name!r} in collection {secret['collection']!r}")


@retried_when_raced
def create(principal: Principal, project_id: str, env_id: str, body: SecretCreate) -> Secret:
    s = _writing(principal, project_id, env_id)
    now = now_iso()
    secret: dict[str, Any] = {
        "id": new_id(),
        "project_id": project_id,
        "env_id": env_id,
        "collection": body.collection,
        "name": body.name,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if store.name_taken(project_id, env_id, body.collection, body.name):
        raise _taken(secret, body.name)
    sealed = secrets_crypto.seal(project_id, env_id, secret["id"], body.contents.get_secret_value())
    entry = history.entry(
        project_id, actor(principal), "secret_created", at=now, detail=_detail(s, secret)
    )
    env_store.commit(
        s.project,
        [
            env_store.exists_check(project_id, env_id),
            *store.create_ops({**secret, "sealed": sealed}),
            entry,
        ],
        why_not=lambda: _why_not(s, secret, 1, None, body.name, created=True),
        env_rev=False,
    )
    _reinstall(s, "a secret of the environment was added")
    return to_model(secret)


@retried_when_raced
def update(
    principal: Principal,
    project_id: str,
    env_id: str,
    secret_id: str,
    body: SecretPatch,
    expected_version: int | None,
) -> Secret:
    """A new name and/or new contents (sealed afresh, under a new data key)."""
    s = _writing(principal, project_id, env_id)
    secret = _existing(project_id, env_id, secret_id)
    check_version(secret, expected_version, "secret")
    now = now_iso()
    changes: dict[str, Any] = {"updated_at": now}
    ops: list[dict[str, Any]] = []
    renamed = body.name is not None and body.name != secret["name"]
    if renamed:
        assert body.name is not None
        if store.name_taken(project_id, env_id, secret["collection"], body.name):
            raise _taken(secret, body.name)
        changes["name"] = body.name
        ops += store.rename_ops(secret, body.name)
    if body.contents is not None:
        changes["sealed"] = secrets_crypto.seal(
            project_id, env_id, secret_id, body.contents.get_secret_value()
        )
    more: dict[str, Any] = {"fields": sorted(body.model_fields_set)}
    if renamed:
        more["renamed_from"] = secret["name"]
    updated = {**secret, **changes}
    entry = history.entry(
        project_id, actor(principal), "secret_updated", at=now, detail=_detail(s, updated, **more)
    )
    env_store.commit(
        s.project,
        [store.update_op(secret, changes), *ops, entry],
        why_not=lambda: _why_not(s, secret, int(secret["version"]), expected_version, body.name),
        env_rev=False,
    )
    _reinstall(s, "a secret of the environment changed")
    return to_model({**updated, "version": int(secret["version"]) + 1})


@retried_when_raced
def delete(
    principal: Principal,
    project_id: str,
    env_id: str,
    secret_id: str,
    expected_version: int | None,
) -> None:
    s = _writing(principal, project_id, env_id)
    secret = _existing(project_id, env_id, secret_id)
    check_version(secret, expected_version, "secret")
    entry = history.entry(project_id, actor(principal), "secret_deleted", detail=_detail(s, secret))
    env_store.commit(
        s.project,
        [*store.delete_ops(secret), entry],
        why_not=lambda: _why_not(s, secret, int(secret["version"]), expected_version),
        env_rev=False,
    )
    _reinstall(s, "a secret of the environment was deleted")


def _reinstall(s: Scope, reason: str) -> None:
    """The environment's enabled deployments are rendered again with its secrets (a secret's
    write leaves the environment item as the scope read it)."""
    from tenantry.domain.deployments import reinstall_env

    reinstall_env(s.pid, s.env_id, reason, s.env)


def _why_not(
    s: Scope,
    secret: dict[str, Any],
    read_version: int,
    expected: int | None,
    new_name: str | None = None,
    *,
    created: bool = False,
) -> Exception:
    if env_store.get(s.pid, s.env_id) is None:
        return NotFound(f"environment {s.env_id!r} not found")
    if created:
        return _taken(secret, secret["name"])
    current = store.get(s.pid, s.env_id, secret["id"])
    refusal = changed_or_gone(current, "secret", read_version, expected)
    if refusal is None and new_name is not None:
        refusal = _taken(secret, new_name)
    return refusal or ChangedMeanwhile("the secret changed meanwhile; retry")
