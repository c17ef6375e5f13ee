"""Lambda's asynchronous invocation (InvocationType Event), emulated (dev only): what an
EventBridge rule's Lambda target gets (local/eventbridge.py). The event is queued and the
call returns; a worker per function invokes it, in the order queued, with what the
template says of the function:

- EventInvokeConfig.MaximumRetryAttempts (Lambda's default: 2): a failed invocation is
  tried again that many times;
- DeadLetterQueue (Type SQS): an event whose every attempt failed is sent there, as Lambda
  does (the event as the body; RequestID, ErrorCode, ErrorMessage as message attributes),
  and logged.

Differences, none visible to the function: a retry is immediate (Lambda waits a minute,
then two) and the event's age is not checked; invocations of one function run one at a
time, in order (Lambda runs them concurrently and in no promised order).

    invoking(stack)          an Invoker for the block (Stack.emulate enters it)
    stack.async_invoker.submit(function, event)
    stack.async_invoker.drain()   wait until every queued event was handled (tests)
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from local import sqs_delivery, template

log = logging.getLogger("local.lambda_async")
DEFAULT_RETRIES = 2  # Lambda's, when the function has no EventInvokeConfig


@dataclass(frozen=True)
class AsyncConfig:
    retries: int
    dead_letter_url: str | None


def config(stack: Any, function: str) -> AsyncConfig:
    props = template.function_properties(function, stack.template)
    invoke = props.get("EventInvokeConfig") or {}
    retries = int(invoke.get("MaximumRetryAttempts", DEFAULT_RETRIES))
    dlq = props.get("DeadLetterQueue") or {}
    url = None
    if dlq:
        if dlq.get("Type") != "SQS":
            raise NotImplementedError(f"{function}: only an SQS dead-letter queue is emulated")
        parts = str(stack.resolve(dlq["TargetArn"])).split(":")
        url = sqs_delivery.url(parts[3], parts[4], parts[5])
    return AsyncConfig(retries, url)


class Invoker:
    """A queue and a worker thread per function invoked asynchronously."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self._queues: dict[str, queue.Queue[Any]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.invocations = 0
        self.dead_lettered = 0

    def submit(self, function: str, event: Any) -> None:
        """Queue one asynchronous invocation of `function` (a logical id) and return."""
        with self._lock:
            q = self._queues.get(function)
            if q is None:
                # Read here, so a function the template configures wrongly fails its caller
                # (a worker that died on it would leave every later event pending).
                settings = config(self.stack, function)
                q = self._queues[function] = queue.Queue()
                worker = threading.Thread(
                    target=self._work,
                    args=(function, q, settings),
                    name=f"async-{function}",
                    daemon=True,
                )
                self._threads.append(worker)
                worker.start()
            self._pending += 1
        q.put(event)

    def _work(self, function: str, q: queue.Queue[Any], settings: AsyncConfig) -> None:
        while True:
            event = q.get()
            if event is None:
                return
            try:
                self._run(function, event, settings)
            except Exception:
                log.exception("asynchronous invocation of %s could not be handled", function)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def _run(self, function: str, event: Any, settings: AsyncConfig) -> None:
        error: Exception | None = None
        for attempt in range(1 + settings.retries):
            self.invocations += 1
            try:
                self.stack.invoke(function, event)
                return
            except Exception as exc:
                error = exc
                log.warning("%s failed (attempt %d): %r", function, attempt + 1, exc)
        self.dead_lettered += 1
        log.error("%s gave up on an event after %d attempts", function, 1 + settings.retries)
        if settings.dead_letter_url and error is not None:
            attributes = {
                "RequestID": str(uuid.uuid4()),
                "ErrorCode": "200",
                "ErrorMessage": str(error)[:1000] or type(error).__name__,
            }
            self.stack.client("sqs").send_message(
                QueueUrl=settings.dead_letter_url,
                MessageBody=json.dumps(event),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every event submitted so far was handled (or dead-lettered)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self._pending} asynchronous invocations still pending")
                self._idle.wait(left)

    def stop(self) -> None:
        with self._lock:
            queues = list(self._queues.values())
        for q in queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=5)


@contextlib.contextmanager
def invoking(stack: Any) -> Iterator[Invoker]:
    invoker = Invoker(stack)
    stack.async_invoker = invoker
    try:
        yield invoker
    finally:
        invoker.stop()
