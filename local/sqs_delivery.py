"""SQS queues of template.yaml and the functions' SQS event sources, emulated (dev only).

Queues (AWS::SQS::Queue) are created in moto with what the template says of them
(visibility timeout, retention, a RedrivePolicy to their dead-letter queue); locally a
queue is named after its logical id. An event source mapping
(AWS::Lambda::EventSourceMapping) on a queue is played as Lambda plays it: receive up to BatchSize messages, invoke the function
with the SQS event, delete what it handled; with ReportBatchItemFailures only the
messages it names in `batchItemFailures` are kept, and a function that raises keeps them
all. A kept message is received again (moto counts receives) until the queue's
maxReceiveCount, then moto moves it to the dead-letter queue, as SQS does.

One shortening: a kept message is visible again at once (ChangeMessageVisibility 0)
instead of after the queue's visibility timeout, so a message that keeps failing reaches
the dead-letter queue in moments, not minutes.

    deliver(stack, mapping)   one batch (what a poll does); returns the messages received
    drain(stack)              deliver until every mapped queue is empty (tests)
    running(stack)            a poller thread per mapping (make run); wake() polls now
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

KIND = "AWS::SQS::Queue"
log = logging.getLogger("local.sqs_delivery")
IDLE_POLL_SECONDS = 0.5  # an idle poller looks again this often (wake() looks at once)
QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")


def url(region: str, account: str, name: str) -> str:
    """`!Ref <Queue>`: its URL."""
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def name_of(queue_arn: str) -> str:
    return queue_arn.rsplit(":", 1)[-1]


def deploy(sqs: Any, queues: Mapping[str, Mapping[str, Any]]) -> None:
    """Create the queues ({name: resolved Properties}), dead-letter queues before the
    queues that name them."""
    targets = {
        name_of(str(props["RedrivePolicy"]["deadLetterTargetArn"]))
        for props in queues.values()
        if props.get("RedrivePolicy")
    }
    for name in sorted(queues, key=lambda n: n not in targets):
        props = queues[name]
        attributes = {k: str(props[k]) for k in QUEUE_ATTRIBUTES if k in props}
        if props.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs.create_queue(QueueName=name, Attributes=attributes)


@dataclass(frozen=True)
class EventSource:
    """A function's SQS event (template.yaml): the event source mapping it makes."""

    function: str
    event: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool


def event_sources(stack: Any) -> list[EventSource]:
    """The template's event source mappings (AWS::Lambda::EventSourceMapping) on a queue;
    those on a DynamoDB stream are local/stream_delivery's."""
    out = []
    for lid, props, function in stack.event_source_mappings():
        queue_arn = str(props["EventSourceArn"])
        if not queue_arn.startswith("arn:aws:sqs:"):
            continue
        out.append(
            EventSource(
                function=function,
                event=lid,
                queue_url=url(*_region_account(queue_arn), name_of(queue_arn)),
                queue_arn=queue_arn,
                batch_size=int(props.get("BatchSize", 10)),
                report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            )
        )
    return out


def _region_account(queue_arn: str) -> tuple[str, str]:
    parts = queue_arn.split(":")
    return parts[3], parts[4]


def sqs_event(source: EventSource, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS event source sends the function for these messages."""
    region = _region_account(source.queue_arn)[0]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": dict(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": source.queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def deliver(stack: Any, source: EventSource) -> int:
    """One poll of the source's queue and, if it got messages, one invocation; returns
    how many messages were received."""
    sqs = stack.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=source.queue_url,
        MaxNumberOfMessages=min(source.batch_size, 10),
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        return 0
    try:
        result = stack.invoke(source.function, sqs_event(source, messages))
        failed = _failed_ids(result) if source.report_failures else set()
    except Exception:
        log.exception("%s failed on a batch of %d from its queue", source.function, len(messages))
        failed = {m["MessageId"] for m in messages}
    for m in messages:
        if m["MessageId"] in failed:  # received again (and counted) on the next poll
            sqs.change_message_visibility(
                QueueUrl=source.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=m["ReceiptHandle"])
    if failed:
        log.warning("%s: %d of %d messages failed", source.function, len(failed), len(messages))
    return len(messages)


def _failed_ids(result: Any) -> set[str]:
    items = (result or {}).get("batchItemFailures") or [] if isinstance(result, dict) else []
    return {str(i["itemIdentifier"]) for i in items if isinstance(i, dict)}


def drain(stack: Any, max_polls: int = 200) -> int:
    """Deliver until no mapped queue has a message to receive (a failing message ends in
    its dead-letter queue on the way); returns the messages received in all."""
    total = 0
    for _ in range(max_polls):
        received = sum(deliver(stack, source) for source in event_sources(stack))
        total += received
        if not received:
            return total
    raise RuntimeError(f"queues still had messages after {max_polls} polls")


_wakers: list[threading.Event] = []


def wake() -> None:
    """Make every running poller look at its queue now (something was just sent)."""
    for event in list(_wakers):
        event.set()


@contextlib.contextmanager
def running(stack: Any) -> Iterator[list[EventSource]]:
    """A poller thread per event source until the block ends."""
    stop = threading.Event()
    sources = event_sources(stack)

    def poll(source: EventSource, woken: threading.Event) -> None:
        while not stop.is_set():
            try:
                if deliver(stack, source):
                    continue  # more may be waiting
            except Exception:
                log.exception("polling %s for %s failed", source.queue_url, source.function)
            woken.wait(IDLE_POLL_SECONDS)
            woken.clear()

    threads = []
    for source in sources:
        woken = threading.Event()
        _wakers.append(woken)
        threads.append(
            threading.Thread(
                target=poll, args=(source, woken), name=f"sqs-{source.event}", daemon=True
            )
        )
    for t in threads:
        t.start()
    try:
        yield sources
    finally:
        stop.set()
        wake()
        for t in threads:
            t.join(timeout=5)
        _wakers.clear()
