"""The task scheduler: every minute (EventBridge schedule), start the deployment tasks that
are due (tenantry.domain.tasks.run_scheduler)."""

from __future__ import annotations

from typing import Any

from tenantry.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    from tenantry.domain import tasks

    counts = tasks.run_scheduler()
    logger.info("scheduler run", extra=counts)
    return counts
