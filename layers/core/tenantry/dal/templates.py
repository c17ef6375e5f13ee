"""Project templates: named presets that `template_id` applies at project creation."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table


def create(template: dict[str, Any]) -> None:
    item = {
        **keys.template(template["id"]),
        **keys.template_indexes(template["id"], template["name"]),
        "entity": "template",
        **template,
    }
    table.put(item, condition="attribute_not_exists(PK)")


def get(template_id: str) -> dict[str, Any] | None:
    return table.get(keys.template(template_id))


def delete(template_id: str) -> dict[str, Any] | None:
    return table.delete(keys.template(template_id))


def page(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.ALL_TEMPLATES.page(limit=limit, start_key=start_key)
