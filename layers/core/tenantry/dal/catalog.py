"""The deployment catalog (platform-level, Platz's): deployment kinds, helm registries and
their charts, and the tag formats that parse chart tags (dal/keys.py). A chart names its
registry; a registry names its deployment kind. Charts are written by chart discovery (an
ECR push, tenantry.domain.chart_discovery); deployments read them.

Reads here are what a deployment needs of the catalog (a chart with its registry and kind
in one BatchGetItem after the chart's read), the catalog routes' reads and lists, and
discovery's writes. Every write that could meet another (a re-delivered event, two
discoveries of one repository at once, two admins) is conditional: a put finds the item
taken, an update finds the version it read changed.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Conflict, NotFound, PreconditionFailed

PRIVATE = (*keys.KEY_ATTRIBUTES, "entity", "availability_at")
Page = access.Page


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in PRIVATE}


def get_chart(chart_id: str) -> dict[str, Any] | None:
    return table.get(keys.helm_chart(chart_id), consistent=False)


def get_kind(kind_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment_kind(kind_id), consistent=False)


def chart_with_registry_and_kind(
    chart_id: str,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(chart, its registry, the registry's kind); None for what does not exist."""
    chart = get_chart(chart_id)
    if chart is None:
        return None, None, None
    registry = table.get(keys.helm_registry(chart["helm_registry_id"]), consistent=False)
    if registry is None:
        return chart, None, None
    return chart, registry, get_kind(registry["kind_id"])


# --- deployment kinds ---------------------------------------------------------------------------


def get_kind_consistent(kind_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment_kind(kind_id))


def kind_id_by_name(name: str) -> str | None:
    pointer = table.get(keys.kind_name(name))
    return str(pointer["kind_id"]) if pointer else None


def create_kind(kind: dict[str, Any]) -> None:
    """The kind and its name guard; a taken name (in any case) is 409."""
    table.transact(
        [
            table.tx_put(
                {
                    **keys.deployment_kind(kind["id"]),
                    **keys.kind_indexes(kind["name"]),
                    "entity": "deployment_kind",
                    **kind,
                },
                "attribute_not_exists(PK)",
            ),
            table.tx_put(
                {**keys.kind_name(kind["name"]), "kind_id": kind["id"]},
                "attribute_not_exists(PK)",
            ),
        ],
        on_condition=lambda: Conflict(f"a deployment kind named {kind['name']!r} exists"),
    )


def rename_kind(kind: dict[str, Any], name: str, now: str, expected: int | None) -> dict[str, Any]:
    """The kind's new name, at the version read (or `expected`, If-Match), moving its name
    guard in the same transaction; a taken name is 409. Returns the kind as written."""
    if expected is not None and expected != kind["version"]:
        raise PreconditionFailed(f"the deployment kind is at version {kind['version']}")
    changes = {"name": name, "updated_at": now, **keys.kind_indexes(name)}
    ops = [table.tx_update_versioned(keys.deployment_kind(kind["id"]), changes, kind["version"])]
    if name.lower() != kind["name"].lower():
        ops += [
            table.tx_delete(keys.kind_name(kind["name"])),
            table.tx_put(
                {**keys.kind_name(name), "kind_id": kind["id"]}, "attribute_not_exists(PK)"
            ),
        ]

    def refused() -> Exception:
        current = get_kind_consistent(kind["id"])
        if current is None:
            return NotFound("deployment kind not found")
        if current["version"] != kind["version"]:
            if expected is not None:
                return PreconditionFailed(f"the deployment kind is at version {current['version']}")
            return Conflict("the deployment kind changed meanwhile; retry")
        return Conflict(f"a deployment kind named {name!r} exists")

    table.transact(ops, on_condition=refused)
    return {**kind, "name": name, "updated_at": now, "version": kind["version"] + 1}


def page_kinds(limit: int, start_key: dict[str, Any] | None) -> Page:
    return access.ALL_KINDS.page(limit=limit, start_key=start_key)


# --- helm registries ----------------------------------------------------------------------------


def get_registry(registry_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return table.get(keys.helm_registry(registry_id), consistent=consistent)


def put_registry(registry: dict[str, Any]) -> bool:
    """Write a new registry; False when one with its id (its domain and repository) exists."""
    item = {
        **keys.helm_registry(registry["id"]),
        **keys.registry_indexes(registry["id"], registry["repo_name"], registry["kind_id"]),
        "entity": "helm_registry",
        **registry,
    }
    try:
        table.put(item, condition="attribute_not_exists(PK)", on_condition=_Taken)
    except _Taken:
        return False
    return True


def update_registry(
    registry_id: str, changes: dict[str, Any], remove: tuple[str, ...], expected: int | None
) -> dict[str, Any]:
    def refused() -> Exception:
        if get_registry(registry_id, consistent=True) is None:
            return NotFound("helm registry not found")
        return PreconditionFailed("the helm registry changed (If-Match did not match)")

    return table.update_at(keys.helm_registry(registry_id), changes, remove, expected, refused)


def page_registries(
    kind_id: str | None, repo_name: str | None, limit: int, start_key: dict[str, Any] | None
) -> Page:
    if kind_id is not None:
        return access.KIND_REGISTRIES.page(kind_id, repo_name, limit=limit, start_key=start_key)
    return access.ALL_REGISTRIES.page(repo_name, limit=limit, start_key=start_key)


# --- helm charts --------------------------------------------------------------------------------


def get_chart_consistent(chart_id: str) -> dict[str, Any] | None:
    return table.get(keys.helm_chart(chart_id))


def put_chart(chart: dict[str, Any], kind_id: str, available_at: str) -> bool:
    """A new chart with its digest pointer, and its place among the unparsed charts while no
    tag format parsed its tag, in one transaction. False when the chart exists (its id is
    its registry, digest and tag: a re-delivered push)."""
    item = {
        **keys.helm_chart(chart["id"]),
        **keys.chart_indexes(chart["id"], chart["helm_registry_id"], kind_id, chart["created_at"]),
        "entity": "helm_chart",
        "kind_id": kind_id,
        "availability_at": available_at,
        **chart,
    }
    pointer = keys.chart_of_digest(
        chart["helm_registry_id"], chart["image_digest"], chart["image_tag"]
    )
    ops = [
        table.tx_put(item, "attribute_not_exists(PK)"),
        table.tx_put({**pointer, "chart_id": chart["id"]}),
    ]
    if not chart.get("tag_format_id"):
        ops.append(
            table.tx_put(
                {**keys.unparsed_chart(chart["id"], chart["created_at"]), "chart_id": chart["id"]}
            )
        )
    try:
        table.transact(ops, on_condition=_Taken)
    except _Taken:
        return False
    return True


def set_available(chart_id: str, available: bool, at: str) -> bool:
    """Mark a chart (un)available as of event time `at`, unless a later event already
    decided (SQS may deliver out of order); a DELETE wins a tie. False when nothing changed."""
    op = "<=" if not available else "<"
    try:
        table.update(
            keys.helm_chart(chart_id),
            "SET available = :a, availability_at = :at, updated_at = :now ADD version :one",
            condition="attribute_exists(PK) AND available <> :a AND "
            f"(attribute_not_exists(availability_at) OR availability_at {op} :at)",
            values={":a": available, ":at": at, ":now": at, ":one": 1},
            on_condition=_Taken,
        )
    except _Taken:
        return False
    return True


def chart_ids_of_digest(registry_id: str, digest: str) -> list[str]:
    """The charts of every tag of an image digest (a handful: one page holds them)."""
    ids: list[str] = []
    start = None
    while True:
        items, start = access.DIGEST_CHARTS.page(
            registry_id, digest, limit=100, start_key=start, consistent=True
        )
        ids += [str(i["chart_id"]) for i in items]
        if not start:
            return ids


def record_parse(chart: dict[str, Any], parsed: dict[str, Any], now: str) -> bool:
    """A tag format's parse of a chart's tag, and the chart's leaving the unparsed ones, in
    one transaction, only while no format has parsed it. False when one already had."""
    expression, names, values = table.set_expression({**parsed, "updated_at": now})
    try:
        table.transact(
            [
                table.tx_update(
                    keys.helm_chart(chart["id"]),
                    expression + " ADD version :one",
                    "attribute_exists(PK) AND attribute_not_exists(tag_format_id)",
                    names=names,
                    values={**values, ":one": 1},
                ),
                table.tx_delete(keys.unparsed_chart(chart["id"], chart["created_at"])),
            ],
            on_condition=_Taken,
        )
    except _Taken:
        return False
    return True


def unparsed_page(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the unparsed charts (oldest first): (the charts, the key to go on from)."""
    pointers, last = access.UNPARSED_CHARTS.page(limit=limit, start_key=start_key, consistent=True)
    charts = table.batch_get([keys.helm_chart(p["chart_id"]) for p in pointers], consistent=True)
    return charts, last


def page_charts(
    registry_id: str | None, kind_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> Page:
    if registry_id is not None:
        return access.REGISTRY_CHARTS.page(registry_id, limit=limit, start_key=start_key)
    if kind_id is not None:
        return access.KIND_CHARTS.page(kind_id, limit=limit, start_key=start_key)
    return access.ALL_CHARTS.page(limit=limit, start_key=start_key)


def chart_list_key(
    registry_id: str | None, kind_id: str | None, item: dict[str, Any]
) -> dict[str, Any]:
    """The cursor key that resumes the chart list read by page_charts right after `item`."""
    pattern = (
        access.REGISTRY_CHARTS
        if registry_id is not None
        else access.KIND_CHARTS
        if kind_id is not None
        else access.ALL_CHARTS
    )
    return pattern.key_of(item)


# --- tag formats --------------------------------------------------------------------------------


def get_tag_format(format_id: str) -> dict[str, Any] | None:
    return table.get(keys.tag_format(format_id))


def put_tag_format(tag_format: dict[str, Any]) -> None:
    table.put(
        {
            **keys.tag_format(tag_format["id"]),
            **keys.tag_format_indexes(tag_format["id"], tag_format["created_at"]),
            "entity": "helm_tag_format",
            **tag_format,
        },
        condition="attribute_not_exists(PK)",
        on_condition=lambda: Conflict("a tag format with this pattern exists"),
    )


def delete_tag_format(format_id: str) -> dict[str, Any] | None:
    return table.delete(keys.tag_format(format_id))


def page_tag_formats(limit: int, start_key: dict[str, Any] | None) -> Page:
    return access.ALL_TAG_FORMATS.page(limit=limit, start_key=start_key)


def all_tag_formats(at_most: int) -> list[dict[str, Any]]:
    """The tag formats, oldest first: at most `at_most` (their number is capped), one Query."""
    items, _ = access.ALL_TAG_FORMATS.page(limit=at_most, start_key=None)
    return items


class _Taken(Conflict):
    """A conditional write found its item taken or already decided (handled here)."""
