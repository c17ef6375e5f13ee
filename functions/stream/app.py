"""The lifecycle events function's entry point: batches of the table's stream (template.yaml
StreamEventSourceMapping: new history entries only, ReportBatchItemFailures, bisect on
error, bounded retries, an on-failure queue). Each history entry becomes one event on the
stack's bus (tenantry.domain.lifecycle_events); the records whose event EventBridge did not
take are reported by sequence number, so the stream delivers them again (Lambda resumes
from the lowest one reported: at least once)."""

from __future__ import annotations

from typing import Any

from tenantry.domain import lifecycle_events
from tenantry.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = list(event.get("Records") or [])
    outcome = lifecycle_events.publish(records)
    logger.info(
        "lifecycle events",
        extra={"published": outcome.events, "ignored": outcome.ignored, "failed": outcome.failed},
    )
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in outcome.failed]}
