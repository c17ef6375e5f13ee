"""Environments and their permissions in the table (their secrets: dal/secrets.py).

Every change of an environment, a permission or a secret is one transaction: the change,
its history entry and an op on the project item, which requires the project `active` and
moves its history_seq (dal/history.py). On the project item, too:
- a change of environment names rewrites the project's `environments` list (its names, in
  creation order) and bumps its version, conditioned on the list as read: the list is part
  of the project resource, so its ETag changes with it;
- a change of environments or permissions bumps `env_rev`. A membership change that grants
  or revokes environment permissions (domain/environments.membership_ops) decides from
  what it read and requires `env_rev` unchanged, so it never acts on a stale read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantry.dal import access, history, keys, table
from tenantry.errors import ChangedMeanwhile, InvalidTransition, NotFound

SEQUENCE_ATTEMPTS = 5  # writers racing on one project's history: each try reads it again
ENV_REV = "env_rev"
CHANGEABLE = "active"  # the project status environments, permissions and secrets change in
NOT_STORED = ("PK", "SK", "entity")
CURRENT_MEMBER_STATES = ("accepted", "leave_requested")

Page = tuple[list[dict[str, Any]], dict[str, Any] | None]


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in NOT_STORED}


# --- reads ------------------------------------------------------------------------------


def get_context(
    project_id: str, env_id: str, member_id: str | None, permission_id: str
) -> tuple[dict[str, Any] | None, ...]:
    """(project, the caller's member item, the environment, the caller's permission on it),
    each None when absent, in one strongly consistent BatchGetItem: they decide what the
    caller may see and do. `member_id`: None for a bot (bots are never members)."""
    wanted = [keys.project(project_id), keys.environment(project_id, env_id)]
    wanted.append(keys.env_permission(project_id, env_id, permission_id))
    if member_id is not None:
        wanted.append(keys.member(project_id, member_id))
    found = table.batch_get_keyed(wanted, consistent=True)
    project, env, permission, *member = (table.pick(found, k) for k in wanted)
    return project, (member[0] if member else None), env, permission


def get(project_id: str, env_id: str) -> dict[str, Any] | None:
    return table.get(keys.environment(project_id, env_id))


def get_permission(project_id: str, env_id: str, permission_id: str) -> dict[str, Any] | None:
    return table.get(keys.env_permission(project_id, env_id, permission_id))


def page(project_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    return access.PROJECT_ENVIRONMENTS.page(project_id, limit=limit, start_key=start_key)


def page_permissions(
    project_id: str, env_id: str, limit: int, start_key: dict[str, Any] | None
) -> Page:
    return access.ENV_PERMISSIONS.page(project_id, env_id, limit=limit, start_key=start_key)


def all_of_project(project_id: str) -> list[dict[str, Any]]:
    """Every environment of the project, strongly consistent (a project has at most
    domain.environments.MAX_PER_PROJECT, so this is one Query)."""
    envs: list[dict[str, Any]] = []
    start = None
    while True:
        items, start = access.PROJECT_ENVIRONMENTS.page(
            project_id, limit=100, start_key=start, consistent=True
        )
        envs.extend(items)
        if not start:
            return envs


def permissions_of(project_id: str, env_ids: list[str], permission_ids: list[str]) -> list[dict]:
    """The permissions that exist among (env, permission id) pairs, strongly consistent."""
    wanted = [
        keys.env_permission(project_id, env_id, pid)
        for env_id, pid in zip(env_ids, permission_ids, strict=True)
    ]
    return table.batch_get(wanted, consistent=True)


def owned_keys(project_id: str, env_id: str) -> list[dict[str, str]]:
    """Keys of what the environment owns (its permissions, secrets and their name guards),
    strongly consistent: after the environment is gone nothing can add to them."""
    return keys_under(project_id, keys.env_owned_prefixes(env_id))


def keys_under(project_id: str, prefixes: tuple[str, ...]) -> list[dict[str, str]]:
    """Keys of every item of the project's partition under one of `prefixes` (sweeps:
    not a list), strongly consistent."""
    found: list[dict[str, str]] = []
    for prefix in prefixes:
        start = None
        while True:
            items, start = table.query(
                keys.project_pk(project_id),
                sk_prefix=prefix,
                limit=100,
                start_key=start,
                consistent=True,
            )
            found.extend({"PK": i["PK"], "SK": i["SK"]} for i in items)
            if not start:
                break
    return found


# --- transaction ops ----------------------------------------------------------------------


def env_item(env: dict[str, Any]) -> dict[str, Any]:
    return {**keys.environment(env["project_id"], env["id"]), "entity": "environment", **env}


def name_guard(project_id: str, env_id: str, name: str) -> dict[str, Any]:
    return {
        **keys.environment_name(project_id, name),
        "entity": "environment_name",
        "env_id": env_id,
    }


def create_ops(env: dict[str, Any]) -> list[dict[str, Any]]:
    """The environment and its name guard, each refused if it exists."""
    pid = env["project_id"]
    return [
        table.tx_put(env_item(env), "attribute_not_exists(PK)"),
        table.tx_put(name_guard(pid, env["id"], env["name"]), "attribute_not_exists(PK)"),
    ]


def update_op(
    project_id: str, env_id: str, changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Only the fields changed are written: deployment_count is the deployments' to keep."""
    return table.tx_update_versioned(keys.environment(project_id, env_id), changes, version)


def rename_ops(project_id: str, env_id: str, old: str, new: str) -> list[dict[str, Any]]:
    return [
        table.tx_delete(
            keys.environment_name(project_id, old), "env_id = :env", values={":env": env_id}
        ),
        table.tx_put(name_guard(project_id, env_id, new), "attribute_not_exists(PK)"),
    ]


def delete_ops(project_id: str, env_id: str, name: str, version: int) -> list[dict[str, Any]]:
    """The environment (at `version`, with no deployments) and its name guard."""
    return [
        table.tx_delete(
            keys.environment(project_id, env_id),
            "attribute_exists(PK) AND version = :version AND "
            "(attribute_not_exists(deployment_count) OR deployment_count = :zero)",
            values={":version": version, ":zero": 0},
        ),
        table.tx_delete(
            keys.environment_name(project_id, name), "env_id = :env", values={":env": env_id}
        ),
    ]


def exists_check(project_id: str, env_id: str) -> dict[str, Any]:
    return table.tx_check(keys.environment(project_id, env_id), "attribute_exists(PK)")


def permission_item(permission: dict[str, Any]) -> dict[str, Any]:
    key = keys.env_permission(permission["project_id"], permission["env_id"], permission["id"])
    return {**key, "entity": "env_permission", **permission}


def grant_op(permission: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """A new permission, refused if the principal has one on the environment (409), or,
    with `replace`, written over it (a member who joins gets a fresh one)."""
    condition = None if replace else "attribute_not_exists(PK)"
    return table.tx_put(permission_item(permission), condition)


def revoke_op(
    project_id: str, env_id: str, permission_id: str, version: int | None = None
) -> dict[str, Any]:
    condition, values = "attribute_exists(PK)", {}
    if version is not None:
        condition += " AND version = :version"
        values[":version"] = version
    return table.tx_delete(
        keys.env_permission(project_id, env_id, permission_id), condition, values=values or None
    )


def current_member_check(project_id: str, user_id: str) -> dict[str, Any]:
    return table.tx_check(
        keys.member(project_id, user_id),
        "#state IN (:s0, :s1)",
        names={"#state": "state"},
        values={":s0": CURRENT_MEMBER_STATES[0], ":s1": CURRENT_MEMBER_STATES[1]},
    )


def bot_exists_check(bot_id: str) -> dict[str, Any]:
    return table.tx_check(keys.bot(bot_id), "attribute_exists(PK)")


def env_rev_of(project: dict[str, Any]) -> int | None:
    value = project.get(ENV_REV)
    return None if value is None else int(value)


# --- the transaction ------------------------------------------------------------------------


def commit(
    project: dict[str, Any],
    ops: list[dict[str, Any]],
    *,
    why_not: Callable[[], Exception],
    names: list[str] | None = None,
    now: str | None = None,
    env_rev: bool = True,
) -> None:
    """`ops` with the history entries among them, atomically, while the project (as read,
    strongly consistent) is active. `names`: the project's new environment names list,
    written (with `now` as the project's updated_at) if the list is still the one read.
    `env_rev`: bump it (environments and
    permissions change). A failed condition of `ops` is `why_not()`; only a history that
    moved on is retried here."""
    pid = project["id"]
    before = list(project.get("environments") or [])
    project_op = _project_op(pid, before if names is not None else None, names, now, env_rev)
    after = history.sequence_of(project)
    for _ in range(SEQUENCE_ATTEMPTS):
        try:
            table.transact(
                history.sequenced([project_op, *ops], pid, after),
                on_condition=lambda after=after: _why_not(
                    pid, before if names is not None else None, after, why_not
                ),
            )
            return
        except history.Sequenced:
            after = history.sequence_of(table.get(keys.project(pid)))
    raise ChangedMeanwhile("the project's history moved on meanwhile; retry")


def _project_op(
    project_id: str,
    before: list[str] | None,
    after: list[str] | None,
    now: str | None,
    env_rev: bool,
) -> dict[str, Any]:
    names = {"#status": "status"}
    values: dict[str, Any] = {":changeable": CHANGEABLE}
    condition = "#status = :changeable"
    sets, adds = [], []
    if env_rev:
        names["#rev"] = ENV_REV
        values[":one"] = 1
        adds.append("#rev :one")
    if before is not None and after is not None:
        names["#envs"], names["#updated"] = "environments", "updated_at"
        values.update({":envs": after, ":envs_before": before, ":one": 1})
        values[":now"] = now
        sets += ["#envs = :envs", "#updated = :now"]
        adds.append("version :one")
        condition += " AND (#envs = :envs_before" + (
            " OR attribute_not_exists(#envs))" if not before else ")"
        )
    expression = " ".join(
        part
        for part in (
            f"SET {', '.join(sets)}" if sets else "",
            f"ADD {', '.join(adds)}" if adds else "",
        )
        if part
    )
    if not expression:
        return table.tx_check(keys.project(project_id), condition, names=names, values=values)
    return table.tx_update(
        keys.project(project_id), expression, condition, names=names, values=values
    )


def _why_not(
    project_id: str,
    names_before: list[str] | None,
    history_after: int,
    why_not: Callable[[], Exception],
) -> Exception:
    project = table.get(keys.project(project_id))
    if project is None:
        return NotFound(f"project {project_id!r} not found")
    if project["status"] != CHANGEABLE:
        return InvalidTransition(
            f"the project is {project['status']}; its environments, permissions and secrets "
            f"change only while it is {CHANGEABLE}",
            extra={"current_status": project["status"]},
        )
    if names_before is not None and list(project.get("environments") or []) != names_before:
        return ChangedMeanwhile("the project's environments changed meanwhile; retry")
    if history.sequence_of(project) != history_after:
        return history.Sequenced()
    return why_not()
