"""Gateway keys follow their project's status: batches from the gateway keys queue
(template.yaml GatewayKeysFunction), fed by an EventBridge rule on the stack's bus with the
lifecycle events that move a project in or out of `active` (suspend, unsuspend,
terminate, reinstate). Each message is handled on its own
(tenantry.domain.gateway.keys_follow_project); one that fails is reported by its message
id, so only it is received again (and, after the queue's maxReceiveCount, lands in the
dead-letter queue)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tenantry.domain import gateway
from tenantry.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, int]:
    event = record.json_body  # the lifecycle event, as the rule sends it
    project_id = str(event["detail"]["project_id"])
    outcome = gateway.keys_follow_project(project_id)
    logger.info(
        "gateway keys follow the project",
        extra={"project_id": project_id, "event": event["detail"].get("event"), **outcome},
    )
    return outcome


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
