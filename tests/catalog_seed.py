"""A deployment catalog entry written straight into the table (dal/keys.py layout), for the
deployment tests: one kind, its registry and a chart. Chart discovery (an ECR push) writes
the same items; these tests are about what a deployment does with them."""

from __future__ import annotations

from typing import Any

REGISTRY_DOMAIN = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def seed_chart(
    chart_id: str = "chart-1",
    *,
    kind_id: str = "kind-web",
    kind_name: str = "web",
    tag: str = "1.0.0",
    available: bool = True,
    values_ui: dict[str, Any] | None = None,
    actions: list[dict[str, Any]] | None = None,
    resource_types: Any = None,
) -> dict[str, Any]:
    from tenantry.clock import now_iso
    from tenantry.dal import keys, table

    now = now_iso()
    registry_id = f"reg-{kind_id}"
    table.put(
        {
            **keys.deployment_kind(kind_id),
            "id": kind_id,
            "name": kind_name,
            "created_at": now,
            "version": 1,
        }
    )
    table.put(
        {
            **keys.helm_registry(registry_id),
            "id": registry_id,
            "domain_name": REGISTRY_DOMAIN,
            "repo_name": f"charts/{kind_name}-chart",
            "kind_id": kind_id,
            "available": True,
            "created_at": now,
            "version": 1,
        }
    )
    chart = {
        "id": chart_id,
        "helm_registry_id": registry_id,
        "image_digest": "sha256:" + chart_id.encode().hex().ljust(64, "0")[:64],
        "image_tag": tag,
        "available": available,
        "values_ui": values_ui,
        "actions_schema": {"actions": actions or []},
        "resource_types": resource_types,
        "created_at": now,
    }
    table.put({**keys.helm_chart(chart_id), **{k: v for k, v in chart.items() if v is not None}})
    return chart
