"""Project memberships in the table, and the member counter on the project item.

A change of membership state is one transaction: the member item (conditional on the
state it was read in), its id pointer, the project's `usage.members` counter (conditional
on max_members and the `members` quota when it grows, and on the join or leave policy the
change was decided under) and the history entry. Concurrent joins therefore can never
push a project over its limits, nor land under a policy changed meanwhile: DynamoDB
checks the count and the policy.

The counter stays on the project item. Moving it to an item of its own would not keep a
membership change off the project item: the change must also hold the project's status
(joins only while active, the rest while live) in the same transaction, and a
ConditionCheck on the project conflicts with a concurrent write to it exactly as the
counter's update does. Only copying the status and the limits onto the counter item would;
then every status change and every change of max_members or quotas writes that item too,
and conflicts with membership changes there instead. Membership changes of one project
conflict with each other on the counter wherever it lives. What a separate item would
save is write units, not conflicts: the project item is in three indexes written whole
(a fourth, GSI1T, projects only what the counter's change leaves alone), so each counted
change writes it four times. The counter's ADD leaves the project's version (its ETag) as
it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantry.dal import access, history, keys, table
from tenantry.errors import ChangedMeanwhile, Conflict, InvalidTransition, NotFound, QuotaExceeded

SEQUENCE_ATTEMPTS = 5  # membership changes of one project racing on its history
MEMBERS = "members"


def get(project_id: str, user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(keys.member(project_id, user_id), consistent=consistent)


def get_with_context(
    membership_id: str, caller_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(the membership, its project, the caller's own membership of that project), each
    None when absent: the pointer, then one strongly consistent BatchGetItem."""
    pointer = table.get(keys.membership_pointer(membership_id))
    if not pointer:
        return None, None, None
    pid, uid = pointer["project_id"], pointer["user_id"]
    wanted = [keys.member(pid, uid), keys.project(pid)]
    if caller_id != uid:
        wanted.append(keys.member(pid, caller_id))
    found = {(i["PK"], i["SK"]): i for i in table.batch_get(wanted, consistent=True)}
    member, project, *mine = [found.get((k["PK"], k["SK"])) for k in wanted]
    return member, project, (mine[0] if mine else member)


Rows = list[tuple[dict[str, Any], dict[str, Any]]]


def page_for_project(
    project_id: str, limit: int, start_key: dict[str, Any] | None, *, current_only: bool
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The project's memberships; `current_only`: only current ones (accepted,
    leave_requested), read from a partition that holds nothing else."""
    pattern = access.PROJECT_CURRENT_MEMBERS if current_only else access.PROJECT_MEMBERSHIPS
    return pattern.page(project_id, limit=limit, start_key=start_key)


def page_for_user(
    user_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every membership of the user, in any state."""
    return access.USER_MEMBERSHIPS.page(user_id, limit=limit, start_key=start_key)


def page_current_for_user(
    user_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    by_created: bool = False,
    reverse: bool = False,
) -> tuple[Rows, dict[str, Any] | None]:
    """The user's current memberships (accepted, leave_requested) as rows (cursor key,
    member item): the partition holds nothing else. By project id, or (`by_created`) by
    their projects' creation time, where a row is the item's projection (project_id,
    state: what the list needs to read the projects); `reverse`: the other way round."""
    pattern = (
        access.USER_CURRENT_PROJECTS_BY_CREATED if by_created else access.USER_CURRENT_PROJECTS
    )
    items, last = pattern.page(user_id, limit=limit, start_key=start_key, reverse=reverse)
    return [(pattern.key_of(i), i) for i in items], last


def new_member_ops(member: dict[str, Any]) -> list[dict[str, Any]]:
    """The puts of a brand-new, current membership (project creation: the owner)."""
    return [table.tx_put(member_item(member, current=True)), table.tx_put(_pointer(member))]


def member_item(member: dict[str, Any], *, current: bool) -> dict[str, Any]:
    """The member item, whole: its keys, and the index keys of its lists (keys.py). Also
    what bench/pages.py seeds."""
    pid, uid = member["project_id"], member["user_id"]
    indexes = keys.member_indexes(
        pid, uid, current=current, project_created_at=member.get("project_created_at")
    )
    return {**strip(member), **keys.member(pid, uid), **indexes, "entity": "member"}


def strip(member: dict[str, Any]) -> dict[str, Any]:
    """The membership's own fields, without the table's keys."""
    internal = {*keys.KEY_ATTRIBUTES, "entity"}
    return {k: v for k, v in member.items() if k not in internal}


def _pointer(member: dict[str, Any]) -> dict[str, Any]:
    return {
        **keys.membership_pointer(member["id"]),
        "entity": "membership_pointer",
        "project_id": member["project_id"],
        "user_id": member["user_id"],
    }


def change(
    member: dict[str, Any],
    from_state: str | None,
    delta: int,
    entry: dict[str, Any],
    *,
    current: bool,
    project_statuses: tuple[str, ...],
    policy: tuple[str, str] | None = None,
    require: dict[str, Any] | None = None,
    history_after: int = 0,
    extra_ops: list[dict[str, Any]] | None = None,
    project: dict[str, Any] | None = None,
    derived: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> None:
    """Write `member` (its new state and fields) if it is still in `from_state` (None: it
    must not exist), move the member count by `delta` within the project's limits, and
    append `entry`. `policy` (attribute, value): the project's policy the change was
    decided under, which must still be the project's. `require`: other attributes of the
    project the change was decided under (None: absent); another value is ChangedMeanwhile
    (decide again). Anything else in the same transaction goes in `extra_ops`. `current`:
    the new state counts as a member, so the item is in the lists of current members and
    of its user's projects (it leaves them, in this write, when not). `history_after`: the
    project's history_seq as the caller read it (dal/history.py). `derived(project)`: ops
    that follow from the project's other attributes (its usage: Tenantry's quota
    notifications), made from `project` as the caller read it and again from the project
    as read anew when another change wrote history first: the transaction commits only
    at the history_seq it was made from, so they are true of the project it commits on."""
    pid, uid = member["project_id"], member["user_id"]
    item = member_item(member, current=current)
    if from_state is None:
        member_op = table.tx_put(item, "attribute_not_exists(PK)")
    else:
        member_op = table.tx_put(
            item, "#state = :from", names={"#state": "state"}, values={":from": from_state}
        )
    ops = [
        member_op,
        table.tx_put(_pointer(member)),
        _project_op(pid, delta, project_statuses, policy, require),
        entry,
        *(extra_ops or []),
    ]
    after = history_after
    basis = project
    for _ in range(SEQUENCE_ATTEMPTS):
        attempt = ops + (derived(basis) if derived is not None and basis is not None else [])
        try:
            table.transact(
                history.sequenced(attempt, pid, after),
                on_condition=lambda after=after: _why_not(
                    pid, uid, from_state, delta, project_statuses, policy, after, require
                ),
            )
            return
        except history.Sequenced:  # another change of the project wrote history first
            basis = table.get(keys.project(pid))
            after = history.sequence_of(basis)
    raise Conflict("the project's history moved on meanwhile; retry")


def _project_op(
    project_id: str,
    delta: int,
    statuses: tuple[str, ...],
    policy: tuple[str, str] | None,
    require: dict[str, Any] | None = None,
) -> dict[str, Any]:
    names = {"#status": "status"}
    values: dict[str, Any] = {f":s{i}": s for i, s in enumerate(statuses)}
    condition = f"#status IN ({', '.join(values)})"
    if policy is not None:
        names["#policy"], values[":policy"] = policy
        condition += " AND #policy = :policy"
    condition += table.requirements(require, names, values)
    if delta == 0:
        return table.tx_check(keys.project(project_id), condition, names=names, values=values)
    names.update({"#usage": "usage", "#m": MEMBERS})
    values[":d"] = delta
    if delta > 0:
        names.update({"#res": "resources", "#pc": "project_capacity"})
        condition += (
            " AND (attribute_not_exists(max_members) OR #usage.#m < max_members)"
            " AND (attribute_not_exists(#res.#m.#pc) OR #usage.#m < #res.#m.#pc)"
        )
    return table.tx_update(
        keys.project(project_id), "ADD #usage.#m :d", condition, names=names, values=values
    )


def _why_not(
    project_id: str,
    user_id: str,
    from_state: str | None,
    delta: int,
    statuses: tuple[str, ...],
    policy: tuple[str, str] | None,
    history_after: int | None = None,
    require: dict[str, Any] | None = None,
) -> Exception:
    project = table.get(keys.project(project_id))
    if project is None:
        return NotFound(f"project {project_id!r} not found")
    if project["status"] not in statuses:
        return InvalidTransition(
            f"the project is {project['status']}; memberships change only while it is "
            + " or ".join(statuses),
            extra={"current_status": project["status"]},
        )
    if policy is not None and project.get(policy[0]) != policy[1]:
        field, decided = policy
        return Conflict(
            f"the project's {field} changed meanwhile (from {decided} to "
            f"{project.get(field)}); ask again",
            extra={field: project.get(field)},
        )
    if any(project.get(k) != v for k, v in (require or {}).items()):
        return ChangedMeanwhile("the project changed meanwhile; retry")
    current = get(project_id, user_id)
    if (current or {}).get("state") != from_state:
        return Conflict("the membership changed meanwhile; fetch it again and retry")
    used = int((project.get("usage") or {}).get(MEMBERS, 0))
    if delta > 0 and project.get("max_members") is not None and used >= project["max_members"]:
        return Conflict(
            f"the project has reached max_members ({project['max_members']})",
            extra={"max_members": project["max_members"], "members": used},
        )
    capacity = ((project.get("resources") or {}).get(MEMBERS) or {}).get("project_capacity")
    if delta > 0 and capacity is not None and used >= capacity:
        return QuotaExceeded(
            f"over quota: members limit {capacity}, usage {used}",
            extra={"resource": MEMBERS, "limit": capacity, "usage": used},
        )
    if history_after is not None and history.sequence_of(project) != history_after:
        return history.Sequenced()
    return Conflict("the membership could not change; retry")
