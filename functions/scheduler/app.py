"""The task scheduler: every minute (EventBridge schedule), start the deployment tasks that
are due (tenantry.domain.tasks.run_scheduler), and give up on the deployment resources'
syncs no agent answered in time (tenantry.domain.resources.give_up_silent)."""

from __future__ import annotations

from typing import Any

from tenantry.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    from tenantry.domain import resources, tasks

    counts = tasks.run_scheduler()
    counts["resource_syncs_given_up"] = resources.give_up_silent()
    logger.info("scheduler run", extra=counts)
    return counts
