"""The deployment catalog (platform-level, Platz's): deployment kinds, helm registries and
their charts (dal/keys.py). A chart names its registry; a registry names its deployment
kind. Charts are written by chart discovery (an ECR push); deployments read them.

Reads here are what a deployment needs of the catalog: a chart with its registry and kind
in one BatchGetItem after the chart's read.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import keys, table


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
