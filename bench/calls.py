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
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

from boto3.dynamodb.types import Binary

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
    auth_capacity: Capacity = field(default_factory=lambda: Capacity())
    handler_capacity: Capacity = field(default_factory=lambda: Capacity())
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

        model = CapacityModel(make_api_call)

        def counted_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            priced = service == DYNAMODB and log.measuring()
            before = model.before(client, operation, params) if priced else None
            started = time.perf_counter()
            answer = None
            try:
                answer = make_api_call(client, operation, params)
                return answer
            finally:
                log.record(service, operation, params, time.perf_counter() - started)
                if priced and answer is not None:
                    log.charge(model.cost(client, operation, params, answer, before))

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

    def measuring(self) -> bool:
        """True on the thread of a request being measured (the one that gets capacity)."""
        return self._current is not None and threading.get_ident() == self.main

    def charge(self, capacity: Capacity) -> None:
        request = self._current
        if request is None:
            return
        function = getattr(self._local, "function", None)
        auth = function in self.authorizers
        (request.auth_capacity if auth else request.handler_capacity).add(capacity)

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


# --- capacity ---------------------------------------------------------------------------------
# moto (5.2.5) answers ReturnConsumedCapacity with fixed placeholders (GetItem 0.5, Query and
# PutItem 1.0 and BatchGetItem one unit per key, whatever the item sizes or the consistency),
# so the bench computes read and write units itself, from the items each call touched, the
# way DynamoDB bills them (on-demand request units = provisioned capacity units):
#   reads:  4 KB units per item (GetItem, BatchGetItem: each item rounded up on its own;
#           Query: the items read, before any filter, summed and then rounded up); eventually
#           consistent = half; TransactGetItems = double; a miss still costs the minimum.
#   writes: 1 KB units of the larger of the item before and after (Delete: before);
#           TransactWriteItems = double, a ConditionCheck counted as a write of its item;
#           plus each global secondary index the item is (or was) in: one write of its
#           projected size (all projections here are ALL), two when an index key changed.
# Item size: attribute names plus values (strings and binary by length, numbers ~ digits / 2
# + 1, booleans and nulls 1, lists and maps 3 + 1 per element), as the DynamoDB docs give it.
READ_UNIT, WRITE_UNIT = 4096, 1024


def _size(value: Any, low: bool) -> int:
    """Bytes DynamoDB counts for one value; `low`: in the low-level {"S": ...} form."""
    if low and isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in ("S", "B"):
            return len(inner.encode() if isinstance(inner, str) else inner)
        if tag == "N":
            return _number_size(inner)
        if tag in ("BOOL", "NULL"):
            return 1
        if tag in ("SS", "BS"):
            return sum(_size({tag[0]: v}, True) for v in inner)
        if tag == "NS":
            return sum(_number_size(v) for v in inner)
        if tag == "L":
            return 3 + sum(1 + _size(v, True) for v in inner)
        if tag == "M":
            return 3 + sum(len(k.encode()) + 1 + _size(v, True) for k, v in inner.items())
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Binary):  # boto3's wrapper of a B value (secrets' ciphertexts)
        return len(value.value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return _number_size(value)
    if isinstance(value, set | frozenset):
        return sum(_size(v, low) for v in value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _size(v, low) for v in value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + 1 + _size(v, low) for k, v in value.items())
    return len(str(value).encode())


def _number_size(value: Any) -> int:
    digits = str(value).lstrip("-").replace(".", "").lstrip("0") or "0"
    return len(digits) // 2 + 2


def item_size(item: dict[str, Any] | None, low: bool) -> int:
    if not item:
        return 0
    return sum(len(k.encode()) + _size(v, low) for k, v in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


@dataclass
class Capacity:
    """Read and write units one request consumed, authorizer and function apart."""

    rcu: float = 0.0
    wcu: float = 0.0

    def add(self, other: Capacity) -> None:
        self.rcu += other.rcu
        self.wcu += other.wcu


class CapacityModel:
    """Computes a DynamoDB call's units from its parameters and answer, reading the items'
    before/after images itself (uncounted calls through the same client, so in the same
    value form) when the answer does not hold them."""

    def __init__(self, raw_call: Any) -> None:
        self.raw = raw_call  # botocore's own _make_api_call, not the counting wrapper
        self._schemas: dict[str, tuple[list[str], list[tuple[str, ...]]]] = {}

    def schema(self, client: Any, table: str) -> tuple[list[str], list[tuple[str, ...]]]:
        """(the table's key attributes, each GSI's key attributes)."""
        if table not in self._schemas:
            desc = self.raw(client, "DescribeTable", {"TableName": table})["Table"]
            key = [k["AttributeName"] for k in desc["KeySchema"]]
            indexes = [
                tuple(k["AttributeName"] for k in g["KeySchema"])
                for g in desc.get("GlobalSecondaryIndexes", [])
            ]
            self._schemas[table] = (key, indexes)
        return self._schemas[table]

    def _get(self, client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        resp = self.raw(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        item: dict[str, Any] | None = resp.get("Item")
        return item

    def before(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        """What a write's cost needs from before the call: the images it will replace."""
        targets = self._write_targets(client, operation, params)
        return [(t, k, self._get(client, t, k), weight) for t, k, weight in targets]

    def _write_targets(
        self, client: Any, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, weight) of each item a write call touches; weight 2 in a transaction."""
        out = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            ops = [(params["TableName"], params.get("Key") or params["Item"], 1)]
        elif operation == "TransactWriteItems":
            ops = []
            for op in params["TransactItems"]:
                ((_, body),) = op.items()
                ops.append((body["TableName"], body.get("Key") or body["Item"], 2))
        elif operation == "BatchWriteItem":
            ops = []
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    body = r.get("PutRequest") or r.get("DeleteRequest")
                    ops.append((table, body.get("Key") or body["Item"], 1))
        else:
            return []
        for table, item, weight in ops:
            key_names, _ = self.schema(client, table)
            out.append((table, {k: item[k] for k in key_names}, weight))
        return out

    def cost(
        self, client: Any, operation: str, params: dict[str, Any], answer: Any, before: Any
    ) -> Capacity:
        low = not _is_typed(client)
        if operation in ("GetItem", "BatchGetItem", "TransactGetItems", "Query"):
            return Capacity(rcu=self._read_units(client, operation, params, answer, low))
        if before:
            wcu = 0.0
            for table, key, old, weight in before:
                new = self._get(client, table, key)
                units = _units(max(item_size(old, low), item_size(new, low)), WRITE_UNIT)
                wcu += weight * units + self._index_units(client, table, old, new, low)
            return Capacity(wcu=wcu)
        return Capacity()

    def _index_units(self, client: Any, table: str, old: Any, new: Any, low: bool) -> int:
        if old == new:
            return 0
        _, indexes = self.schema(client, table)
        units = 0
        for names in indexes:
            was = old and all(n in old for n in names) and tuple(old[n] for n in names)
            now = new and all(n in new for n in names) and tuple(new[n] for n in names)
            if was and now and was != now:
                units += _units(item_size(old, low), WRITE_UNIT)
                units += _units(item_size(new, low), WRITE_UNIT)
            elif now:
                units += _units(item_size(new, low), WRITE_UNIT)
            elif was:
                units += _units(item_size(old, low), WRITE_UNIT)
        return units

    def _read_units(
        self, client: Any, operation: str, params: dict[str, Any], answer: Any, low: bool
    ) -> float:
        if operation == "GetItem":
            units = _units(item_size(answer.get("Item"), low), READ_UNIT)
            return units * (1.0 if params.get("ConsistentRead") else 0.5)
        if operation == "TransactGetItems":
            return sum(
                2.0 * _units(item_size(r.get("Item"), low), READ_UNIT)
                for r in answer.get("Responses", [])
            )
        if operation == "BatchGetItem":
            total = 0.0
            for table, request in params["RequestItems"].items():
                key_names, _ = self.schema(client, table)
                found = {
                    tuple(str(i[k]) for k in key_names): i
                    for i in answer.get("Responses", {}).get(table, [])
                }
                factor = 1.0 if request.get("ConsistentRead") else 0.5
                for key in request["Keys"]:
                    item = found.get(tuple(str(key[k]) for k in key_names))
                    total += factor * _units(item_size(item, low), READ_UNIT)
            return total
        # Query: what was read is what matched the key condition up to Limit, before the
        # filter; with a filter, ask again without it to see those items.
        items = answer.get("Items", [])
        if params.get("FilterExpression"):
            items = self.raw(client, "Query", _unfiltered(params)).get("Items", [])
        size = sum(item_size(i, low) for i in items)
        return _units(size, READ_UNIT) * (1.0 if params.get("ConsistentRead") else 0.5)


def _unfiltered(params: dict[str, Any]) -> dict[str, Any]:
    """The same Query without its FilterExpression (and the placeholders only it used)."""
    out = {k: v for k, v in params.items() if k != "FilterExpression"}
    used = " ".join(
        str(params.get(k, "")) for k in ("KeyConditionExpression", "ProjectionExpression")
    )
    for field_name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if field_name in out:
            kept = {
                k: v for k, v in out[field_name].items() if re.search(rf"{re.escape(k)}\b", used)
            }
            if kept:
                out[field_name] = kept
            else:
                del out[field_name]
    return out


def _is_typed(client: Any) -> bool:
    """True for a boto3 resource's client (plain Python values in and out), False for a
    low-level client ({"S": ...} values), such as Powertools idempotency's."""
    from tenantry.dal import table

    return client is table.client()
