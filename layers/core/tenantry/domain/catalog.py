"""The deployment catalog: deployment kinds, helm registries, helm tag formats and helm
charts. Every authenticated user or bot reads it; platform admins write it (kinds, a
registry's icon, tag formats). Registries, their kinds and charts are made by chart
discovery (tenantry.domain.chart_discovery) from ECR push events.

Tag formats parse chart tags: a chart's tag is parsed by the first format (oldest first)
whose pattern is found in it. Adding a format parses the charts no format parsed yet: the
first page in the request, the rest a page per message on the chart discovery queue (each
message names where to go on), so no request or invocation reads without bound.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import cache
from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import catalog as store
from tenantry.domain.admins import require_admin
from tenantry.errors import Conflict, NotFound
from tenantry.models.catalog import (
    TAG_GROUPS,
    DeploymentKind,
    DeploymentKindCreate,
    DeploymentKindPatch,
    HelmChart,
    HelmRegistry,
    HelmRegistryPatch,
    HelmTagFormat,
    HelmTagFormatCreate,
)
from tenantry.models.principal import Principal
from tenantry.observability import logger
from tenantry.pagination import collect
from tenantry.settings import get_settings

# The namespace of the ids made from what makes a catalog item unique (dal/keys.py).
IDS = uuid.UUID("7f3c2a4e-9b1d-4c6e-8a2f-5d0e1b3c7a91")
MAX_TAG_FORMATS = 50
REPARSE_PAGE = 25
Page = tuple[list[Any], dict[str, Any] | None]


def registry_id(domain_name: str, repo_name: str) -> str:
    return str(uuid.uuid5(IDS, f"helm-registry/{domain_name}/{repo_name}"))


def chart_id(helm_registry_id: str, digest: str, tag: str) -> str:
    return str(uuid.uuid5(IDS, f"helm-chart/{helm_registry_id}/{digest}/{tag}"))


def tag_format_id(pattern: str) -> str:
    return str(uuid.uuid5(IDS, f"helm-tag-format/{pattern}"))


# --- deployment kinds ---------------------------------------------------------------------------


def kind_model(item: dict[str, Any]) -> DeploymentKind:
    return DeploymentKind(**store.public(item))


def create_kind(principal: Principal, body: DeploymentKindCreate) -> DeploymentKind:
    require_admin(principal)
    return kind_model(new_kind(body.name))


def new_kind(name: str) -> dict[str, Any]:
    """Write a new kind of this name (409 when the name is taken, in any case)."""
    now = now_iso()
    kind = {"id": new_id(), "name": name, "created_at": now, "updated_at": now, "version": 1}
    store.create_kind(kind)
    return kind


def get_kind(kind_id: str) -> DeploymentKind:
    return kind_model(_kind_or_404(kind_id))


def list_kinds(name: str | None, limit: int, start_key: dict[str, Any] | None) -> Page:
    if name is not None:  # unique: its guard, no list read
        kind_id = store.kind_id_by_name(name)
        kind = store.get_kind(kind_id) if kind_id else None
        return ([kind_model(kind)] if kind and kind["name"] == name else []), None
    items, last = store.page_kinds(limit, start_key)
    return [kind_model(i) for i in items], last


def rename_kind(
    principal: Principal, kind_id: str, body: DeploymentKindPatch, expected: int | None
) -> DeploymentKind:
    require_admin(principal)
    kind = _kind_or_404(kind_id)
    return kind_model(store.rename_kind(kind, body.name, now_iso(), expected))


def _kind_or_404(kind_id: str) -> dict[str, Any]:
    kind = store.get_kind_consistent(kind_id)
    if kind is None:
        raise NotFound("deployment kind not found")
    return kind


# --- helm registries ----------------------------------------------------------------------------


def registry_model(item: dict[str, Any]) -> HelmRegistry:
    return HelmRegistry(**store.public(item))


def get_registry(registry_id_: str) -> HelmRegistry:
    registry = store.get_registry(registry_id_, consistent=True)
    if registry is None:
        raise NotFound("helm registry not found")
    return registry_model(registry)


def list_registries(
    repo_name: str | None, kind_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> Page:
    items, last = store.page_registries(kind_id, repo_name, limit, start_key)
    return [registry_model(i) for i in items], last


def patch_registry(
    principal: Principal, registry_id_: str, body: HelmRegistryPatch, expected: int | None
) -> HelmRegistry:
    require_admin(principal)
    changes: dict[str, Any] = {"updated_at": now_iso()}
    remove: tuple[str, ...] = ()
    if body.fa_icon is None:
        remove = ("fa_icon",)
    else:
        changes["fa_icon"] = body.fa_icon
    return registry_model(store.update_registry(registry_id_, changes, remove, expected))


# --- helm charts --------------------------------------------------------------------------------


def chart_model(item: dict[str, Any]) -> HelmChart:
    return HelmChart(**store.public(item))


def get_chart(chart_id_: str) -> HelmChart:
    chart = store.get_chart_consistent(chart_id_)
    if chart is None:
        raise NotFound("helm chart not found")
    return chart_model(chart)


def list_charts(
    helm_registry_id: str | None,
    kind_id: str | None,
    parsed_branch: str | None,
    available: bool | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> Page:
    """Newest first, by the narrowest index the filters allow: a registry's charts, a kind's,
    or all; `parsed_branch` and `available` are applied to the rows read."""
    if helm_registry_id is not None and kind_id is not None:
        registry = store.get_registry(helm_registry_id)
        if registry is None or registry["kind_id"] != kind_id:
            return [], None  # a registry's charts are all of its kind
        kind_id = None
    if parsed_branch is None and available is None:
        items, last = store.page_charts(helm_registry_id, kind_id, limit, start_key)
        return [chart_model(i) for i in items], last

    def wanted(item: dict[str, Any]) -> bool:
        return (parsed_branch is None or item.get("parsed_branch") == parsed_branch) and (
            available is None or item.get("available") is available
        )

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        items, last = store.page_charts(helm_registry_id, kind_id, n, key)
        rows = [
            (
                store.chart_list_key(helm_registry_id, kind_id, i),
                chart_model(i) if wanted(i) else None,
            )
            for i in items
        ]
        return rows, last

    return collect(fetch, limit, start_key)


# --- helm tag formats ---------------------------------------------------------------------------


def tag_format_model(item: dict[str, Any]) -> HelmTagFormat:
    return HelmTagFormat(**store.public(item))


def create_tag_format(principal: Principal, body: HelmTagFormatCreate) -> HelmTagFormat:
    """A new format (409 for a pattern that exists, or beyond MAX_TAG_FORMATS), then the
    charts no format parsed yet are parsed again (see the module's docstring)."""
    require_admin(principal)
    if len(store.all_tag_formats(MAX_TAG_FORMATS)) >= MAX_TAG_FORMATS:
        raise Conflict(f"there are {MAX_TAG_FORMATS} tag formats already: delete one first")
    tag_format = {
        "id": tag_format_id(body.pattern),
        "created_at": now_iso(),
        "pattern": body.pattern,
    }
    store.put_tag_format(tag_format)
    try:
        reparse(None)
    except Exception:  # the format stands; any later re-parse starts from the first chart
        logger.exception("re-parsing the unparsed charts after a new tag format failed")
    return tag_format_model(tag_format)


def get_tag_format(format_id: str) -> HelmTagFormat:
    item = store.get_tag_format(format_id)
    if item is None:
        raise NotFound("helm tag format not found")
    return tag_format_model(item)


def list_tag_formats(limit: int, start_key: dict[str, Any] | None) -> Page:
    items, last = store.page_tag_formats(limit, start_key)
    return [tag_format_model(i) for i in items], last


def delete_tag_format(principal: Principal, format_id: str) -> None:
    """Charts it parsed keep what it parsed."""
    require_admin(principal)
    if store.delete_tag_format(format_id) is None:
        raise NotFound("helm tag format not found")


# --- parsing tags -------------------------------------------------------------------------------


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def tag_formats() -> list[dict[str, Any]]:
    """Every tag format, oldest first (one Query: their number is capped)."""
    return store.all_tag_formats(MAX_TAG_FORMATS)


def parse_tag(tag: str, formats: list[dict[str, Any]]) -> dict[str, Any]:
    """`tag_format_id` and `parsed_<group>` of the first format found in `tag` (a group the
    format lacks, or that took no part in the match, is null); {} when none is."""
    for tag_format in formats:
        try:
            found = _compiled(tag_format["pattern"]).search(tag)
        except re.error:  # written before a rule that would refuse it: never matches
            continue
        if found:
            groups = found.groupdict()
            return {
                "tag_format_id": tag_format["id"],
                **{f"parsed_{g}": groups.get(g) for g in TAG_GROUPS},
            }
    return {}


def reparse(start_key: dict[str, Any] | None, *, inline_pages: int = 1) -> int:
    """Parse the tags of unparsed charts with today's formats, from `start_key` on:
    `inline_pages` pages here, then the rest continues from the chart discovery queue.
    Returns how many charts were parsed here."""
    formats = tag_formats()
    parsed = 0
    for _ in range(inline_pages):
        charts, start_key = store.unparsed_page(REPARSE_PAGE, start_key)
        now = now_iso()
        for chart in charts:
            result = parse_tag(chart["image_tag"], formats)
            if result and store.record_parse(chart, result, now):
                parsed += 1
        if not start_key:
            return parsed
    continue_reparse(start_key)
    return parsed


REPARSE = "reparse_unparsed_charts"  # the queue message continuing a re-parse


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def continue_reparse(start_key: dict[str, Any]) -> None:
    """Hand the rest of a re-parse to the chart discovery function (one page a message)."""
    logger.info("tag re-parse continues from the queue", extra={"after": start_key})
    _sqs().send_message(
        QueueUrl=get_settings().chart_discovery_queue_url,
        MessageBody=json.dumps({REPARSE: {"after": start_key}}),
    )
