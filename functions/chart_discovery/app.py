"""Chart discovery's entry point: batches from the chart discovery queue (template.yaml
ChartDiscoveryFunction, an SQS event source with ReportBatchItemFailures). Each message is
handled on its own (tenantry.domain.chart_discovery); one that fails is reported by its
message id, so only it is received again (and, after the queue's maxReceiveCount, lands in
the dead-letter queue) while the others of its batch are done."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tenantry.domain import chart_discovery
from tenantry.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    outcome = chart_discovery.handle(record.json_body)
    logger.info("chart discovery", extra={"message_id": record.message_id, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
