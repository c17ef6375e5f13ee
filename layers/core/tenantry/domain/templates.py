"""Project templates: named presets (environments, clusters, policies, quotas, approval)
that `template_id` applies at project creation. Platform admins manage them; every
authenticated caller may read them."""

from __future__ import annotations

from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import templates as store
from tenantry.domain.identity import require_admin
from tenantry.errors import NotFound, UnknownReference
from tenantry.models.governance import Template, TemplateCreate
from tenantry.models.identity import Principal


def create(principal: Principal, body: TemplateCreate) -> Template:
    require_admin(principal)
    if body.clusters:
        raise UnknownReference(
            "the template names clusters that are not registered",
            errors=[
                {
                    "loc": ["body", "clusters", i, "name"],
                    "msg": f"cluster {c.name!r} is not registered",
                }
                for i, c in enumerate(body.clusters)
            ],
        )
    template = {
        "id": new_id(),
        "created_at": now_iso(),
        **body.model_dump(mode="json", exclude_none=True),
    }
    store.create(template)
    return Template.model_validate(template)


def get(template_id: str) -> Template:
    template = store.get(template_id)
    if not template:
        raise NotFound("template not found")
    return Template.model_validate(template)


def list_templates(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Template], dict[str, Any] | None]:
    items, last = store.page(limit, start_key)
    return [Template.model_validate(i) for i in items], last


def delete(principal: Principal, template_id: str) -> None:
    """Projects made from it keep what it gave them."""
    require_admin(principal)
    if store.delete(template_id) is None:
        raise NotFound("template not found")
