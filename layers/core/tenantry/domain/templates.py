"""Project templates: named presets (environments, clusters, policies, quotas, approval)
that `template_id` applies at project creation. Platform admins manage them; every
authenticated caller may read them."""

from __future__ import annotations

from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import templates as store
from tenantry.domain.admins import require_admin
from tenantry.errors import NotFound, PreconditionFailed, UnknownReference
from tenantry.models.governance import Template, TemplateCreate
from tenantry.models.principal import Principal

# Templates do not change (there is no PATCH): every template is at version 1, which its
# ETag shows and an If-Match on DELETE must name (or `*`).
VERSION = 1


def create(principal: Principal, body: TemplateCreate) -> Template:
    # Only here (as in projects._check_references): listing and reading templates, what the
    # governance function mostly does, need none of the clusters module and its models.
    from tenantry.domain.clusters import check_names

    require_admin(principal)
    errors = check_names([c.name for c in body.clusters])
    if errors:  # a project made from it would name them (checked again then)
        raise UnknownReference("the template names clusters projects cannot use", errors=errors)
    template = {
        "id": new_id(),
        "created_at": now_iso(),
        "version": VERSION,
        **body.model_dump(mode="json", exclude_none=True),
    }
    store.create(template)
    return to_model(template)


def to_model(item: dict[str, Any]) -> Template:
    return Template.model_validate({"version": VERSION, **item})


def get(template_id: str) -> Template:
    template = store.get(template_id)
    if not template:
        raise NotFound("template not found")
    return to_model(template)


def list_templates(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Template], dict[str, Any] | None]:
    items, last = store.page(limit, start_key)
    return [to_model(i) for i in items], last


def delete(principal: Principal, template_id: str, expected_version: int | None) -> None:
    """Projects made from it keep what it gave them. With `expected_version` (If-Match),
    only at that version: a template never changes, so only VERSION matches."""
    require_admin(principal)
    if expected_version is not None and expected_version != VERSION:
        if store.get(template_id) is None:
            raise NotFound("template not found")
        raise PreconditionFailed(f"the template is at version {VERSION}, not {expected_version}")
    if store.delete(template_id) is None:
        raise NotFound("template not found")
