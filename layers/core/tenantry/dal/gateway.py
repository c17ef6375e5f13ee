"""API subscriptions in the table (dal/keys.py): the gateway services (platform-level, each
with its name guard and its count of `subscriptions`) and a project's subscriptions (one
item per service in the project's partition, holding its API key's id and last four
characters, never the key).

A subscription is added or removed in one transaction with the service's count (adding
requires the service to exist and be enabled), the project's history entry, and a
condition on the project's status (which the history sequence turns into the update of
its history_seq, dal/history.py). A service is deleted only while its count is 0, so a
subscription never outlives its service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantry.dal import access, history, keys, table
from tenantry.errors import ChangedMeanwhile, Conflict, NotFound, PreconditionFailed

SEQUENCE_ATTEMPTS = 5  # writers racing on one project's history: each try reads it again
PRIVATE = (*keys.KEY_ATTRIBUTES, "entity")
Page = access.Page


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in PRIVATE}


# --- services -----------------------------------------------------------------------------------


def get_service(service_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(keys.gateway_service(service_id), consistent=consistent)


BATCH = 100  # keys per BatchGetItem


def services_by_id(service_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The services of these ids that exist, by id: one BatchGetItem per 100 ids (a page
    of subscriptions is at most 100)."""
    wanted = list(dict.fromkeys(service_ids))
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), BATCH):
        chunk = [keys.gateway_service(s) for s in wanted[i : i + BATCH]]
        found.update({s["id"]: s for s in table.batch_get(chunk)})
    return found


def service_id_by_name(name: str) -> str | None:
    pointer = table.get(keys.gateway_service_name(name), consistent=False)
    return str(pointer["service_id"]) if pointer else None


def create_service(service: dict[str, Any]) -> None:
    """The service and its name guard; a taken name (in any case) is 409."""
    table.transact(
        [
            table.tx_put(
                {
                    **keys.gateway_service(service["id"]),
                    **keys.gateway_service_indexes(
                        service["id"], service["name"], service["enabled"]
                    ),
                    "entity": "gateway_service",
                    **service,
                },
                "attribute_not_exists(PK)",
            ),
            table.tx_put(
                {**keys.gateway_service_name(service["name"]), "service_id": service["id"]},
                "attribute_not_exists(PK)",
            ),
        ],
        on_condition=lambda: name_taken(service["name"]),
    )


def name_taken(name: str) -> Conflict:
    return Conflict(f"a gateway service named {name!r} exists")


def update_service(
    service: dict[str, Any],
    changes: dict[str, Any],
    remove: tuple[str, ...],
    expected: int | None,
) -> dict[str, Any]:
    """`changes` set and `remove` removed at the version read (or `expected`, If-Match),
    the index keys following the name and the state, the name guard moved with a rename
    (a taken name is 409). Returns the service as written."""
    if expected is not None and expected != service["version"]:
        raise PreconditionFailed(f"the gateway service is at version {service['version']}")
    updated = {k: v for k, v in {**service, **changes}.items() if k not in remove}
    indexes = keys.gateway_service_indexes(service["id"], updated["name"], updated["enabled"])
    expression, names, values = table.set_expression({**changes, **indexes}, remove)
    values.update({":version": service["version"], ":one": 1})
    ops = [
        table.tx_update(
            keys.gateway_service(service["id"]),
            f"{expression} ADD version :one",
            "attribute_exists(PK) AND version = :version",
            names=names,
            values=values,
        )
    ]
    renamed = updated["name"].lower() != service["name"].lower()
    if renamed:
        ops += [
            table.tx_delete(keys.gateway_service_name(service["name"])),
            table.tx_put(
                {**keys.gateway_service_name(updated["name"]), "service_id": service["id"]},
                "attribute_not_exists(PK)",
            ),
        ]

    def refused() -> Exception:
        current = get_service(service["id"])
        if current is None:
            return NotFound("gateway service not found")
        if current["version"] != service["version"]:
            if expected is not None:
                return PreconditionFailed(f"the gateway service is at version {current['version']}")
            return ChangedMeanwhile("the gateway service changed meanwhile; retry")
        return name_taken(updated["name"])

    table.transact(ops, on_condition=refused)
    return {**updated, **indexes, "version": service["version"] + 1}


def delete_service(service: dict[str, Any], expected: int | None) -> None:
    """The service and its name guard, only while no project subscribes (409)."""
    if expected is not None and expected != service["version"]:
        raise PreconditionFailed(f"the gateway service is at version {service['version']}")
    condition = "version = :seen AND (attribute_not_exists(subscriptions) OR subscriptions = :zero)"

    def refused() -> Exception:
        current = get_service(service["id"])
        if current is None:
            return NotFound("gateway service not found")
        if current.get("subscriptions", 0):
            return Conflict(
                f"{current['subscriptions']} project(s) subscribe to the gateway service; "
                "they must disable it first",
                extra={"subscriptions": int(current["subscriptions"])},
            )
        if expected is not None:
            return PreconditionFailed(f"the gateway service is at version {current['version']}")
        return ChangedMeanwhile("the gateway service changed meanwhile; retry")

    table.transact(
        [
            table.tx_delete(
                keys.gateway_service(service["id"]),
                condition,
                values={":seen": service["version"], ":zero": 0},
            ),
            table.tx_delete(keys.gateway_service_name(service["name"])),
        ],
        on_condition=refused,
    )


def page_services(state: str | None, limit: int, start_key: dict[str, Any] | None) -> Page:
    """All services by name, or those `enabled` or `disabled`."""
    if state is None:
        return access.ALL_GATEWAY_SERVICES.page(limit=limit, start_key=start_key)
    return access.GATEWAY_SERVICES_IN_STATE.page(state, limit=limit, start_key=start_key)


# --- subscriptions ------------------------------------------------------------------------------


def get_subscription(
    project_id: str, service_id: str, *, consistent: bool = True
) -> dict[str, Any] | None:
    return table.get(keys.gateway_subscription(project_id, service_id), consistent=consistent)


def page_subscriptions(project_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    return access.PROJECT_GATEWAY.page(project_id, limit=limit, start_key=start_key)


def set_key_enabled(project_id: str, service_id: str, key_id: str, enabled: bool) -> bool:
    """Record the subscription's key as on or off, if the subscription still holds that
    key; False when it does not (disabled, or enabled again with another key)."""
    try:
        table.update(
            keys.gateway_subscription(project_id, service_id),
            "SET #key.#enabled = :enabled",
            condition="#key.#id = :key",
            names={"#key": "api_key", "#enabled": "enabled", "#id": "id"},
            values={":enabled": enabled, ":key": key_id},
        )
    except Conflict:
        return False
    return True


def subscribe_ops(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscription's Put (none yet for the pair) and its service's count, while the
    service exists and is enabled."""
    item = {
        **keys.gateway_subscription(subscription["project_id"], subscription["service_id"]),
        "entity": "gateway_subscription",
        **subscription,
    }
    return [
        table.tx_put(item, "attribute_not_exists(PK)"),
        table.tx_update(
            keys.gateway_service(subscription["service_id"]),
            "ADD subscriptions :one",
            "attribute_exists(PK) AND enabled = :true",
            values={":one": 1, ":true": True},
        ),
    ]


def unsubscribe_ops(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscription's Delete (it must still be there) and its service's count."""
    return [
        table.tx_delete(
            keys.gateway_subscription(subscription["project_id"], subscription["service_id"]),
            "attribute_exists(PK)",
        ),
        table.tx_update(
            keys.gateway_service(subscription["service_id"]),
            "ADD subscriptions :minus",
            "attribute_exists(PK)",
            values={":minus": -1},
        ),
    ]


class _Refused(Conflict):
    pass


def remove_subscription(subscription: dict[str, Any]) -> bool:
    """A project's deletion: the subscription and its service's count, without a history
    entry (the deprovisioning step writes one for all). False if it was gone already. A
    service that is gone (it cannot be while subscribed) leaves the subscription alone to
    remove."""
    try:
        table.transact(unsubscribe_ops(subscription), on_condition=_Refused)
    except _Refused:
        key = keys.gateway_subscription(subscription["project_id"], subscription["service_id"])
        return table.delete(key) is not None
    return True


def _status_check(project_id: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    placeholders = {f":s{i}": s for i, s in enumerate(statuses)}
    return table.tx_check(
        keys.project(project_id),
        f"#status IN ({', '.join(placeholders)})",
        names={"#status": "status"},
        values=placeholders,
    )


def commit(
    project: dict[str, Any],
    ops: list[dict[str, Any]],
    *,
    statuses: tuple[str, ...],
    why_not: Callable[[dict[str, Any] | None], Exception],
) -> None:
    """`ops` (with the history entry among them) atomically, while the project is in one
    of `statuses`. Any failed condition is `why_not(project as read now)` (None: gone),
    unless only the history moved on: then the transaction is numbered again and retried."""
    pid = project["id"]
    after = history.sequence_of(project)
    for _ in range(SEQUENCE_ATTEMPTS):
        try:
            table.transact(
                history.sequenced([_status_check(pid, statuses), *ops], pid, after),
                on_condition=lambda after=after: _why_not(pid, after, statuses, why_not),
            )
            return
        except history.Sequenced:
            after = history.sequence_of(table.get(keys.project(pid)))
    raise ChangedMeanwhile("the project's history moved on meanwhile; retry")


def _why_not(
    project_id: str,
    history_after: int,
    statuses: tuple[str, ...],
    why_not: Callable[[dict[str, Any] | None], Exception],
) -> Exception:
    project = table.get(keys.project(project_id))
    current = project is not None and project["status"] in statuses
    if current and history.sequence_of(project) != history_after:
        return history.Sequenced()
    return why_not(project)
