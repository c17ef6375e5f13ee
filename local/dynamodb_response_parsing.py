"""DynamoDB item responses parsed faster on the client side (dev emulation only).

botocore parses a JSON response by walking the operation's output shape for every value
of the body: per value it looks up a handler by name (`_handle_<type>`), and per
structure it asks every member for its wire name and tries each one. A page of 25 projects
is thousands of AttributeValues, each a structure of ten members of which one is present,
so with moto in process that walk was one of the runner's largest costs after moto's
own. The walk's result depends only on the shape and the body: strings, numbers and
booleans as they are, blobs base64-decoded (the parser's blob parser), structures keeping
the members present and not null (in the shape's order, under their member names),
lists and maps element by element, timestamps by the parser's timestamp parser. So for
the item operations' outputs (and DynamoDB Streams' GetRecords, whose records carry
items' images) the walk is compiled once per shape into plain functions that do just
that, and run on the same json.loads body; a structure with a single key (an
AttributeValue) goes straight to its member. An item operation's result handed over in
process (local/dynamodb_handoff.py) is moto's to_dict output, built afresh for the call
and already in the parse's form where it holds AttributeValues: those parts are taken as
they are (compile_shape's `handed`). Shapes it does not compile (tagged unions,
documents) and a parser with a blob or timestamp parser of its own are left to botocore.
Only the body is parsed this way: response metadata, errors and everything else are
botocore's own. tests/integration/test_dynamodb_response_parsing.py compares both on
every item operation and on GetRecords.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from local.dynamodb_handoff import NOTHING, take
from local.dynamodb_responses import ITEM_OPERATIONS, plain_json

ITEM_OUTPUTS = frozenset(f"{operation}Output" for operation in ITEM_OPERATIONS)
# DynamoDB Streams' GetRecords (local/dynamodb_stream_responses.py): records carry items'
# images, the same AttributeValues, and one timestamp.
STREAM_OUTPUTS = frozenset({"GetRecordsOutput"})
COMPILED_OUTPUTS = ITEM_OUTPUTS | STREAM_OUTPUTS
IDENTITY = frozenset({"string", "boolean", "integer", "long", "float", "double"})
TAKEN_AS_IS = "AttributeValue"  # in a handed-over result (compile_shape's `handed`)
_COMPILED = "_local_compiled_parser"  # shape attribute: its function, or _UNSUPPORTED
_COMPILED_HANDED = "_local_compiled_handed_parser"  # the same for handed-over results
_UNSUPPORTED = object()

Parse = Callable[[Any], Any] | None  # None: the value as it is


class Unsupported(Exception):
    """A shape this module leaves to botocore."""


def compile_shape(shape: Any, *, handed: bool = False) -> Callable[[Any], Any]:
    """A function parsing a JSON value of this shape as botocore's JSON parser does with
    its default blob parser; raises Unsupported for what it does not compile.

    `handed`: for an item operation's result handed over in process
    (local/dynamodb_handoff.py), which moto's to_dict built afresh for this call
    (local/dynamodb_responses.py), so that nothing in it is shared with moto's items.
    Every AttributeValue in it is already what the parse returns (one member, under its
    wire name, never null, binary values as raw bytes), so it is taken as it is instead
    of copied, and so is a list or map holding only such values (an item, a page of
    items): only the structures around them are parsed."""
    compiled: dict[str, Parse] = {}

    def build(shape: Any) -> Parse:
        if shape.name in compiled:
            return compiled[shape.name]
        kind = shape.type_name
        if kind in IDENTITY or (handed and shape.name == TAKEN_AS_IS):
            parse: Parse = None
        elif kind == "blob":
            parse = None if handed else _blob
        elif kind == "timestamp":
            parse = _timestamp
        elif kind == "list":
            parse = _list(shape, build, handed)
        elif kind == "map":
            parse = _map(shape, build, handed)
        elif kind == "structure":
            if shape.is_document_type or shape.is_tagged_union:
                raise Unsupported(shape.name)
            parse = _structure(shape, build, compiled)
        else:
            raise Unsupported(f"{shape.name}: {kind}")
        compiled[shape.name] = parse
        return parse

    top = build(shape)
    return top if top is not None else _as_is


def _as_is(value: Any) -> Any:
    return value


def _blob(value: Any) -> bytes:
    """The parser's default blob parser (base64); a result handed over in process
    (local/dynamodb_handoff.py) has the raw bytes the text would decode to."""
    return value if type(value) is bytes else base64.b64decode(value)


def _timestamp(value: Any) -> Any:
    """The parser's default timestamp parser (the JSON protocol sends epoch seconds)."""
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    return DEFAULT_TIMESTAMP_PARSER(value)


def _list(shape: Any, build: Callable[[Any], Parse], handed: bool) -> Parse:
    member = build(shape.member)
    if member is None:
        return None if handed else list
    return lambda node: [None if item is None else member(item) for item in node]


def _map(shape: Any, build: Callable[[Any], Parse], handed: bool) -> Parse:
    key, value = build(shape.key), build(shape.value)
    if handed and key is None and value is None:
        return None
    key_ = key or _as_is
    value_ = value or _as_is
    return lambda node: {key_(k): value_(v) for k, v in node.items()}


def _structure(
    shape: Any, build: Callable[[Any], Parse], compiled: dict[str, Parse]
) -> Callable[[Any], Any]:
    """Members in the shape's order; registered before its members are built, since an
    AttributeValue holds AttributeValues."""
    members: list[tuple[str, str, Parse]] = []
    by_wire_name: dict[str, tuple[str, Parse]] = {}

    def parse(value: Any) -> Any:
        if value is None:
            return None
        if len(value) == 1:
            ((wire_name, raw),) = value.items()
            found = by_wire_name.get(wire_name)
            if found is None or raw is None:
                return {}
            name, member = found
            return {name: raw if member is None else member(raw)}
        out = {}
        for name, wire_name, member in members:
            raw = value.get(wire_name)
            if raw is not None:
                out[name] = raw if member is None else member(raw)
        return out

    compiled[shape.name] = parse
    for name, member_shape in shape.members.items():
        wire_name = member_shape.serialization.get("name", name)
        member = build(member_shape)
        members.append((name, wire_name, member))
        by_wire_name[wire_name] = (name, member)
    return parse


def _compiled(parser: Any, shape: Any, *, handed: bool = False) -> Callable[[Any], Any] | None:
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER, ResponseParser

    if shape is None or shape.name not in COMPILED_OUTPUTS:
        return None
    if getattr(parser._blob_parser, "__func__", None) is not ResponseParser._default_blob_parser:
        return None
    if parser._timestamp_parser is not DEFAULT_TIMESTAMP_PARSER:
        return None
    attribute = _COMPILED_HANDED if handed else _COMPILED
    found = shape.__dict__.get(attribute)
    if found is None:
        try:
            found = compile_shape(shape, handed=handed)
        except Unsupported:
            found = _UNSUPPORTED
        shape.__dict__[attribute] = found  # service models are kept per client
    return None if found is _UNSUPPORTED else found


@contextlib.contextmanager
def compiled_item_parsing() -> Iterator[None]:
    """Patch botocore's JSON body parsing for the duration (see the module doc)."""
    from botocore.parsers import JSONParser

    original = JSONParser._handle_json_body

    def _handle_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        handed = take(raw_body)
        if handed is not NOTHING:
            # moto's stream records are its own (not built afresh) and keep binary values
            # as base64 text: a GetRecords result is parsed in full
            parse = _compiled(self, shape, handed=shape.name in ITEM_OUTPUTS)
            if parse is not None:
                return parse(handed)
            raw_body = plain_json(handed).encode()  # the text moto would have answered
        parse = _compiled(self, shape)
        if parse is None:
            return original(self, raw_body, shape)
        return parse(self._parse_body_as_json(raw_body))

    _handle_json_body.__wrapped__ = original  # type: ignore[attr-defined]  # for tests
    with mock.patch.object(JSONParser, "_handle_json_body", _handle_json_body):
        yield
