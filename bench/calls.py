"""Counting every AWS API call the application makes, by service and operation.

The hook wraps `botocore.client.BaseClient._make_api_call`, which every client goes through
whatever session made it: tenantry.dal.table's `boto3.resource("dynamodb").meta.client`
(default session), the Step Functions and ECR clients, and Powertools idempotency's client
(which it builds from its own `boto3.session.Session()`, so an event handler registered on
the default session would miss it). moto answers inside that call, so its duration is the
emulator's time.

Attribution: calls on the thread that sends the request (the bench's main thread: the
emulated API Gateway invokes the authorizer and the route's function synchronously there)
belong to the request being measured, split by the function being invoked (the authorizer
apart). Calls on other threads are Step Functions executions (moto's ASL interpreter and the
workflow step functions it invokes), recorded per function for information. Every call on
every thread also lands in a run-wide tally, which is what the no-Scan check reads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

DYNAMODB = "dynamodb"
SHORT = {
    "GetItem": "Get",
    "PutItem": "Put",
    "UpdateItem": "Update",
    "DeleteItem": "Delete",
    "Query": "Query",
    "Scan": "SCAN",
    "BatchGetItem": "BatchGet",
    "BatchWriteItem": "BatchWrite",
    "TransactWriteItems": "TxWrite",
    "TransactGetItems": "TxGet",
}
LEGEND = (
    "ops: Get/Put/Update/Delete = GetItem/PutItem/UpdateItem/DeleteItem, BatchGet = "
    "BatchGetItem, TxWrite = TransactWriteItems; (i) = on the idempotency table"
)

Ops = Counter[tuple[str, str]]  # (service, operation) -> calls


@dataclass
class Request:
    """The calls one HTTP request made, authorizer and route function apart."""

    auth: Ops = field(default_factory=Counter)
    handler: Ops = field(default_factory=Counter)
    dynamodb_seconds: float = 0.0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time (only this request runs meanwhile)

    def service(self, service: str, part: str = "all") -> Counter[str]:
        out: Counter[str] = Counter()
        parts = {"auth": [self.auth], "handler": [self.handler]}.get(
            part, [self.auth, self.handler]
        )
        for ops in parts:
            for (svc, op), n in ops.items():
                if svc == service:
                    out[op] += n
        return out

    def dynamodb_calls(self) -> int:
        return sum(self.service(DYNAMODB).values())

    def signature(self) -> tuple[Any, ...]:
        """What must not change with table size: every call of every service, by part.
        The authorizer's token-use write happens at most once a minute per token (by time,
        not table size), so its writes are left out of the authorizer's part."""
        reads = {k: n for k, n in self.auth.items() if k[1] not in AUTHORIZER_TIMED_WRITES}
        return tuple(sorted(reads.items())), tuple(sorted(self.handler.items()))


AUTHORIZER_TIMED_WRITES = frozenset({"TransactWriteItems", "UpdateItem"})


def fmt_ops(ops: Counter[str]) -> str:
    if not ops:
        return "-"
    return " ".join(f"{_short(op)} {n}" for op, n in sorted(ops.items()))


def _short(op: str) -> str:
    base, _, tag = op.partition("(")
    return SHORT.get(base, base) + (f"({tag}" if tag else "")


class CallLog:
    def __init__(self, authorizers: set[str], idempotency_table: str) -> None:
        self.authorizers = authorizers
        self.idempotency_table = idempotency_table
        self.main = threading.get_ident()
        self.everywhere: Ops = Counter()  # every call, every thread, the whole run
        self.background: defaultdict[str, Ops] = defaultdict(Counter)  # per function
        self._current: Request | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    # --- hooks ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def installed(self, stack: Any) -> Iterator[CallLog]:
        """Wrap botocore's one door for API calls, and the stack's function invocation (to
        know which function a call comes from). Both undone on exit."""
        from botocore.client import BaseClient

        log = self
        make_api_call = BaseClient._make_api_call
        invoke = stack.invoke

        def counted_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return make_api_call(client, operation, params)
            finally:
                service = client.meta.service_model.service_name
                log.record(service, operation, params, time.perf_counter() - started)

        def invoke_in_function(logical_id: str, event: Any) -> Any:
            outer = getattr(log._local, "function", None)
            log._local.function = logical_id
            try:
                return invoke(logical_id, event)
            finally:
                log._local.function = outer

        with mock.patch.object(BaseClient, "_make_api_call", counted_call):
            stack.invoke = invoke_in_function  # the instance attribute shadows the method
            try:
                yield self
            finally:
                del stack.invoke

    def record(self, service: str, operation: str, params: dict[str, Any], seconds: float) -> None:
        op = operation
        if service == DYNAMODB and params.get("TableName") == self.idempotency_table:
            op = f"{operation}(i)"
        function = getattr(self._local, "function", None)
        with self._lock:
            self.everywhere[(service, operation)] += 1
            if threading.get_ident() != self.main:
                self.background[function or "(state machine)"][(service, op)] += 1
                return
            request = self._current
            if request is None:
                return  # the bench's own set-up and polling
            part = request.auth if function in self.authorizers else request.handler
            part[(service, op)] += 1
            if service == DYNAMODB:
                request.dynamodb_seconds += seconds

    # --- measuring -----------------------------------------------------------------------
    @contextlib.contextmanager
    def request(self) -> Iterator[Request]:
        """Attribute the main thread's calls to one request while the block runs."""
        current = Request()
        self._current = current
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield current
        finally:
            current.seconds = time.perf_counter() - started
            current.cpu_seconds = time.process_time() - cpu
            self._current = None

    def scans(self) -> int:
        return sum(
            n for (svc, op), n in self.everywhere.items() if svc == DYNAMODB and op == "Scan"
        )
