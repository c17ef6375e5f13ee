"""DynamoDB item responses written as plain JSON in moto (dev emulation only).

moto 5.2 serializes every response by walking the operation's output shape in botocore's
service model, attribute by attribute (an AttributePicker per member, name aliases
tried one after the other). For the item operations that walk is most of the runner's CPU
time: a page of 25 projects is thousands of nested attribute values. Their result, as
moto builds it, is already DynamoDB's wire JSON (AttributeValue maps, counts, keys), the
only conversions being binary values (raw bytes, sent base64-encoded) and dropping the
few top-level keys moto adds that the output shape lacks. So those responses are
json.dumps of the result's shape members, bytes base64-encoded; anything else JSON cannot
take (a timestamp) falls back to moto's serializer, as do all other operations.

Before that, every DynamoDB result goes through moto's `dynamo_to_dict`, which turns its
DynamoType values into plain dicts; it imports DynamoType afresh on each of its recursive
calls (one per attribute value), which made it the runner's largest single cost. `to_dict`
returns exactly what it returns, taking plain dicts, lists, scalars and DynamoTypes by their
exact type and handing anything else (a datetime, a model with to_json) to moto's own.
tests/integration/test_dynamodb_responses.py compares both on every item operation.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from local import dynamodb_handoff

ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "TransactGetItems",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
    }
)
CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's JSON protocol version


_SCALARS = frozenset({str, int, float, bool, type(None)})


_fallbacks = threading.local()


class _NotPlainJson(Exception):
    pass


def _blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise _NotPlainJson(type(value).__name__)


def fast_dynamo_to_dict() -> Callable[[Any], Any]:
    """moto.dynamodb.models.utilities.dynamo_to_dict, faster (see the module doc)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import dynamo_to_dict

    def to_dict(obj: Any) -> Any:
        kind = type(obj)
        if kind is DynamoType:
            tag, value = obj.type, obj.value
            if tag in ("B", "BS"):
                return dynamo_to_dict(obj)  # base64-decoded to raw bytes
            if type(value) in _SCALARS:
                return {tag: value}
            return {tag: to_dict(value)}
        if kind is dict or kind is LimitedSizeDict:
            return {key: to_dict(value) for key, value in obj.items()}
        if kind is list:
            return [to_dict(value) for value in obj]
        if kind in _SCALARS:
            return obj
        _fallbacks.count = fallbacks() + 1  # not plain data: no hand-over (see below)
        return dynamo_to_dict(obj)  # a datetime, a model with to_json, ...

    return to_dict


def fallbacks() -> int:
    """How many values to_dict has handed to moto's dynamo_to_dict in this thread."""
    return int(getattr(_fallbacks, "count", 0))


def plain_json(result: Any) -> str | None:
    """The wire body of an item operation's result, or None if it is not plain JSON."""
    try:
        return json.dumps(result, default=_blob)
    except _NotPlainJson:
        return None


@contextlib.contextmanager
def plain_json_item_responses() -> Iterator[None]:
    """Patch moto's DynamoResult and dynamo_to_dict for the duration (see the module doc)."""
    from moto.dynamodb import responses
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result
    original_init = DynamoResult.__init__

    def init(self: Any, result: object) -> None:
        before = fallbacks()
        original_init(self, result)
        self._local_plain = fallbacks() == before  # only plain data: may be handed over

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
            members = context.operation_model.output_shape.members
            # moto adds a few keys of its own (ConsumedCapacityUnits); the serializer and
            # DynamoDB send only the output shape's members
            result = {k: v for k, v in self.result.items() if k in members}
            if getattr(self, "_local_plain", False) and dynamodb_handoff.wanted():
                body = dynamodb_handoff.hand_over(result)
                return 200, {"Content-Type": CONTENT_TYPE}, body
            body = plain_json(result)
            if body is not None:
                return 200, {"Content-Type": CONTENT_TYPE}, body
        return original(self, context)

    execute_result.__wrapped__ = original  # type: ignore[attr-defined]  # moto's, for tests
    with (
        mock.patch.object(DynamoResult, "__init__", init),
        mock.patch.object(DynamoResult, "execute_result", execute_result),
        mock.patch.object(responses, "dynamo_to_dict", fast_dynamo_to_dict()),
    ):
        yield
