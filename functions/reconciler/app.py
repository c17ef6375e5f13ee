"""The reconciler's entry point: an EventBridge schedule runs it every minute (template.yaml
ReconcilerFunction); the work is tenantry.domain.reconciler's."""

from __future__ import annotations

from typing import Any

from tenantry.domain import reconciler
from tenantry.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return reconciler.run()
