"""Projects, their members and environments in the table. A tenant's items share one
partition (PROJECT#<id>); every status change carries its history entry in the same
transaction."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, environments, history, keys, memberships, table
from tenantry.errors import (
    ChangedMeanwhile,
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
)

SEQUENCE_ATTEMPTS = 5  # writers racing on one project's history: each try reads it again
PROJECT_FIELDS_NOT_STORED = (*keys.KEY_ATTRIBUTES, "entity")


def create(project: dict[str, Any], owner: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    """The project, its owner's membership and `ops` (its first history entry, an
    application), or nothing. The id is taken forever: a tombstone keeps it."""
    pid = project["id"]
    item = {
        **keys.project(pid),
        **keys.project_indexes(pid, project["owner_id"], project["status"], project["created_at"]),
        "entity": "project",
        **project,
    }
    ops = [table.tx_put(item, "attribute_not_exists(PK)"), *memberships.new_member_ops(owner), *ops]
    table.transact(
        history.sequenced(ops, pid, 0),
        on_condition=lambda: Conflict(f"project id {pid!r} is taken (ids are never reused)"),
    )


def get(project_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(keys.project(project_id), consistent=consistent)


def get_with_member(
    project_id: str, principal_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The project and the caller's member item, in one BatchGetItem. Strongly consistent:
    they decide who may see and change the project (a membership just ended must not
    still count, one just accepted must), a project just created must be found by its
    creator's next request, and the writes that follow are pinned to this version."""
    project_key, member_key = keys.project(project_id), keys.member(project_id, principal_id)
    found = table.batch_get_keyed([project_key, member_key], consistent=True)
    return table.pick(found, project_key), table.pick(found, member_key)


def get_many(project_ids: list[str]) -> list[dict[str, Any]]:
    # Eventually consistent: the rows of a list page (the list's own index is too).
    return table.batch_get([keys.project(p) for p in project_ids], consistent=False)


def get_listed(
    project_id: str, user_id: str | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A list's one row by key (field_selector metadata.name=<id>): the project and, for a
    list of `user_id`'s projects, their member item; eventually consistent, as the list's
    index is. One GetItem, or one BatchGetItem with the member item."""
    if user_id is None:
        return get(project_id, consistent=False), None
    project_key, member_key = keys.project(project_id), keys.member(project_id, user_id)
    found = table.batch_get_keyed([project_key, member_key], consistent=False)
    return table.pick(found, project_key), table.pick(found, member_key)


def transition(
    project_id: str,
    from_statuses: list[str],
    to_status: str,
    entry: dict[str, Any],
    *,
    changes: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    expected_version: int | None = None,
    require: dict[str, Any] | None = None,
    extra_ops: list[dict[str, Any]] | None = None,
    now: str,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move the project to `to_status` if it is in one of `from_statuses` (and at
    `expected_version`), with its history entry, atomically. Returns the new project."""
    update = {**(changes or {}), "status": to_status, "updated_at": now}
    return write(
        project_id,
        update,
        [entry, *(extra_ops or [])],
        remove=remove,
        statuses=from_statuses,
        expected_version=expected_version,
        require=require,
        base=base,
    )


def update(
    project_id: str,
    changes: dict[str, Any],
    entry: dict[str, Any],
    *,
    remove: tuple[str, ...] = (),
    allowed_statuses: list[str],
    expected_version: int | None,
    require: dict[str, Any] | None = None,
    extra_ops: list[dict[str, Any]] | None = None,
    now: str,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return write(
        project_id,
        {**changes, "updated_at": now},
        [entry, *(extra_ops or [])],
        remove=remove,
        statuses=allowed_statuses,
        expected_version=expected_version,
        require=require,
        base=base,
    )


def write(
    project_id: str,
    changes: dict[str, Any],
    ops: list[dict[str, Any]],
    *,
    remove: tuple[str, ...] = (),
    statuses: list[str],
    expected_version: int | None = None,
    require: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One versioned change of the project plus `ops` (history, application...), all or
    nothing. Conditions: the status is one of `statuses`, the version is
    `expected_version` when given, and each `require` attribute has that value (None: is
    absent). Returns the project as written.

    `base`: the project as the caller read it (strongly consistent). The write is then
    pinned to its version, so the project as written is `base` plus the change and needs
    no second read; a change made meanwhile fails it (409) instead."""
    pinned = base is not None and expected_version is None
    if base is not None and expected_version is None:
        expected_version = base["version"]
    indexes, unindexed = (
        keys.project_status_indexes(project_id, changes["status"])
        if "status" in changes
        else ({}, ())
    )  # the lists' index keys follow the status in the same write (dal/access.py)
    expression, names, values = table.set_expression({**changes, **indexes}, remove + unindexed)
    expression += " ADD version :one"
    names["#status"] = "status"
    values[":one"] = 1
    status_values = {f":s{i}": s for i, s in enumerate(statuses)}
    values.update(status_values)
    condition = f"attribute_exists(PK) AND #status IN ({', '.join(status_values)})"
    if expected_version is not None:
        condition += " AND version = :expected"
        values[":expected"] = expected_version
    condition += table.requirements(require, names, values)
    update = table.tx_update(
        keys.project(project_id), expression, condition, names=names, values=values
    )
    # The history's sequence is the one thing a writer may retry on without deciding
    # again: every other condition is the caller's, and _why_not says which failed.
    seen = base
    for attempt in range(SEQUENCE_ATTEMPTS):
        seen = seen if seen is not None and attempt == 0 else get(project_id)
        after = history.sequence_of(seen)
        try:
            table.transact(
                history.sequenced([update, *ops], project_id, after),
                on_condition=lambda after=after: _why_not(
                    project_id, statuses, expected_version, require, pinned, after
                ),
            )
            break
        except history.Sequenced:
            continue
    else:
        raise ChangedMeanwhile("the project's history moved on meanwhile; retry")
    written_entries = sum(1 for op in ops if history.is_entry(op, project_id))
    assert seen is not None
    written = {k: v for k, v in seen.items() if k not in remove + unindexed}
    return {
        **written,
        **changes,
        **indexes,
        "version": int(seen["version"]) + 1,
        history.SEQ: history.sequence_of(seen) + written_entries,
    }


def _why_not(
    project_id: str,
    statuses: list[str],
    expected_version: int | None,
    require: dict[str, Any] | None = None,
    pinned: bool = False,
    history_after: int | None = None,
) -> Exception:
    current = get(project_id)
    if current is None:
        return NotFound("project not found")
    if pinned and current["version"] != expected_version:
        return ChangedMeanwhile("the project changed meanwhile; fetch it again and retry")
    if expected_version is not None and current["version"] != expected_version:
        return PreconditionFailed(
            f"the project is at version {current['version']}, not {expected_version}"
        )
    if current["status"] not in statuses:
        return InvalidTransition(
            f"the project is {current['status']}; this needs one of: {', '.join(statuses)}",
            extra={"current_status": current["status"]},
        )
    if any(current.get(k) != v for k, v in (require or {}).items()):
        return Conflict("the project changed meanwhile (another application or decision); retry")
    if history_after is not None and history.sequence_of(current) != history_after:
        return history.Sequenced()
    return Conflict("a related item changed meanwhile; fetch again and retry")


# --- lists ----------------------------------------------------------------------------------


def page_listed(
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    status: str | None = None,
    owner_id: str | None = None,
    by_created: bool = False,
    reverse: bool = False,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any] | None]:
    """One Query of the platform's project list, as rows (cursor key, project): without
    `status`, the projects that are not deleted; with it, those in that status. The
    partition read holds only such projects, except for an owner's projects in a live
    status: the owner's live range is read and the status is left to the caller's filter
    (one owner's projects are few: projects_per_user in dal/limits.py).

    By project id, or (`by_created`) in creation order: then the live projects' GSI1T
    partition is read, whatever the status and owner (left to the caller's filter, which
    the rows' projection carries: id, status, owner_id), and a row is that projection, not
    the project (the caller reads the ones it keeps: get_many). Deleted projects are in no
    GSI1 partition, so have no creation order here (the caller refuses that list).
    `reverse`: the other way round."""
    if by_created:
        if status == keys.TOMBSTONE:
            raise ValueError("deleted projects are not kept in creation order")
        pattern = access.LIVE_PROJECTS_BY_CREATED
        items, last = pattern.page(limit=limit, start_key=start_key, reverse=reverse)
    elif owner_id is not None:
        pattern = (
            access.OWNER_DELETED_PROJECTS
            if status == keys.TOMBSTONE
            else access.OWNER_LIVE_PROJECTS
        )
        items, last = pattern.page(owner_id, limit=limit, start_key=start_key, reverse=reverse)
    elif status is not None:
        pattern = access.PROJECTS_IN_STATUS
        items, last = pattern.page(status, limit=limit, start_key=start_key, reverse=reverse)
    else:
        pattern = access.LIVE_PROJECTS
        items, last = pattern.page(limit=limit, start_key=start_key, reverse=reverse)
    return [(pattern.key_of(i), i) for i in items], last


def backfill_created_order(batch: int = 100) -> tuple[int, int]:
    """Give the items written before GSI1T existed their place in it: every live project
    its GSI1TSK, and every current member item of a live or deleted project its
    project_created_at and GSI1TSK (dal/keys.py). Until then such an item is missing from
    the lists sorted by created_at. Idempotent and safe beside live traffic: each write is
    conditioned on the item still lacking GSI1TSK (and a member on still being current),
    so a membership changed meanwhile (rewritten whole, with it) is left alone. Reads
    through the lists' own patterns, `batch` items a Query. Returns (projects, members)
    updated."""
    projects = members = 0
    sources = (
        (access.LIVE_PROJECTS, ()),
        (access.PROJECTS_IN_STATUS, (keys.TOMBSTONE,)),
    )
    for pattern, args in sources:
        key = None
        while True:
            items, key = pattern.page(*args, limit=batch, start_key=key)
            for project in items:
                order = keys.created_order(project["created_at"], project["id"])
                if "GSI1PK" in project and "GSI1TSK" not in project:
                    projects += _set_if_missing(keys.project(project["id"]), {"GSI1TSK": order})
                members += _backfill_members(project["id"], project["created_at"], batch)
            if not key:
                break
    return projects, members


def _backfill_members(project_id: str, created_at: str, batch: int) -> int:
    updated, key = 0, None
    while True:
        items, key = access.PROJECT_MEMBERSHIPS.page(project_id, limit=batch, start_key=key)
        for member in items:
            if "GSI1PK" in member and "GSI1TSK" not in member:
                fields = {
                    "project_created_at": created_at,
                    "GSI1TSK": keys.created_order(created_at, project_id),
                }
                updated += _set_if_missing(keys.member(project_id, member["user_id"]), fields)
        if not key:
            return updated


def _set_if_missing(key: dict[str, str], fields: dict[str, Any]) -> int:
    """1 if `fields` were set on the item (still in GSI1, still without GSI1TSK), else 0."""
    expression, names, values = table.set_expression(fields)
    try:
        table.update(
            key,
            expression,
            condition="attribute_exists(GSI1PK) AND attribute_not_exists(GSI1TSK)",
            names=names,
            values=values,
        )
    except Conflict:  # changed meanwhile: written whole since, with its place
        return 0
    return 1


# --- environments -----------------------------------------------------------------------------


def recorded_by(project_id: str, operation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Set `fields` on the project while `operation_id` is its current operation (a
    workflow step's record; it stands for the step's operation check)."""
    expression, names, values = table.set_expression(fields)
    return table.tx_update(
        keys.project(project_id),
        expression,
        "operation_id = :operation",
        names=names,
        values={**values, ":operation": operation_id},
    )


def environment_ops(project_id: str, envs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transaction ops creating each environment and its name guard (refused if taken)."""
    return [op for env in envs for op in environments.create_ops({**env, "project_id": project_id})]


def environment_names(project_id: str) -> set[str]:
    """Names of the project's environments (from their name guards), strongly consistent."""
    guards = environments.keys_under(project_id, (keys.ENV_NAME_PREFIX,))
    return {k["SK"].removeprefix(keys.ENV_NAME_PREFIX) for k in guards}


def owned_keys(project_id: str) -> list[dict[str, str]]:
    """Keys of what the project's deletion removes from its partition
    (keys.PROJECT_OWNED_PREFIXES): its environments and what they own (name guards,
    permissions, secrets and their name guards), its apps and their limit count."""
    return environments.keys_under(project_id, keys.PROJECT_OWNED_PREFIXES)


DELETE_CHUNK = 25  # items per transaction: moto's cap (AWS takes 100)


def delete_items(item_keys: list[dict[str, str]]) -> None:
    for i in range(0, len(item_keys), DELETE_CHUNK):
        table.transact([table.tx_delete(k) for k in item_keys[i : i + DELETE_CHUNK]])


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in PROJECT_FIELDS_NOT_STORED}
