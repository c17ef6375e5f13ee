"""DynamoDB requests parsed faster on moto's side (dev emulation only).

moto parses every request's JSON body by walking the operation's input shape, value by
value (moto.core.parse.JSONParser: a handler looked up by name per value, every member
of a structure asked for its wire name and tried), before its DynamoDB responses read
it. An AttributeValue is a structure of ten members of which one is present, and a
transaction's items are dozens of them: ~2.5% of the runner's CPU under the load bench.
The walk's result depends only on the shape, the body and the parser's settings (its
map type, blob and timestamp parsers), so, as local/dynamodb_response_parsing.py does
for botocore's side, it is compiled once per shape into plain functions doing what the
walk does: integers through int, floats through float, blobs and timestamps through the
parser's own functions, strings and booleans as they are, structures keeping the
members present and not null (in the shape's order, under their member names), lists
and maps element by element, documents as they are. Shapes with other kinds of members,
other services and parser classes other than moto's JSONParser are left to moto.
tests/integration/test_dynamodb_request_parsing.py compares both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

_COMPILED = "_local_compiled_request_parsers"  # shape attribute: {settings: parse}
_UNSUPPORTED = object()
AS_IS = frozenset({"string", "boolean"})
INTEGERS = frozenset({"integer", "byte", "short", "long"})
FLOATS = frozenset({"float", "double"})

Parse = Callable[[Any], Any]


class Unsupported(Exception):
    """A shape this module leaves to moto."""


def compile_shape(
    shape: Any, map_type: type, blob: Parse, timestamp: Parse, undefined: Any
) -> Parse:
    """A function parsing a JSON value of this shape as moto's JSONParser does with these
    settings; raises Unsupported for what it does not compile."""
    compiled: dict[str, Parse | None] = {}  # None: the value as it is

    def as_int(value: Any) -> Any:
        return value if value is undefined else int(value)

    def as_float(value: Any) -> Any:
        return value if value is undefined else float(value)

    def build(shape: Any) -> Parse | None:
        if shape.name in compiled:
            return compiled[shape.name]
        kind = shape.type_name
        parse: Parse | None
        if kind in AS_IS:
            parse = None
        elif kind in INTEGERS:
            parse = as_int
        elif kind in FLOATS:
            parse = as_float
        elif kind == "blob":
            parse = blob
        elif kind == "timestamp":
            parse = timestamp
        elif kind == "list":
            member = build(shape.member)
            member_ = member or _as_is
            parse = (
                (lambda node: list(node))
                if member is None
                else (lambda node: [member_(item) for item in node])
            )
        elif kind == "map":
            key_, value_ = build(shape.key) or _as_is, build(shape.value) or _as_is

            def parse(node: Any) -> Any:
                out = map_type()
                for k, v in node.items():
                    out[key_(k)] = value_(v)
                return out

        elif kind == "structure":
            parse = None if shape.is_document_type else _structure(shape, build, compiled, map_type)
        else:
            raise Unsupported(f"{shape.name}: {kind}")
        compiled[shape.name] = parse
        return parse

    return build(shape) or _as_is


def _as_is(value: Any) -> Any:
    return value


def _structure(
    shape: Any,
    build: Callable[[Any], Parse | None],
    compiled: dict[str, Parse | None],
    map_type: type,
) -> Parse:
    """Registered before its members are built, since an AttributeValue holds
    AttributeValues."""
    members: list[tuple[str, str, Parse | None]] = []
    by_wire_name: dict[str, tuple[str, Parse | None]] = {}

    def parse(value: Any) -> Any:
        if value is None:
            return None
        out = map_type()
        if len(value) == 1:
            ((wire_name, raw),) = value.items()
            found = by_wire_name.get(wire_name)
            if found is not None and raw is not None:
                name, member = found
                out[name] = raw if member is None else member(raw)
            return out
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
        if wire_name in by_wire_name:  # moto would give the value to each of them
            raise Unsupported(f"{shape.name}: two members named {wire_name}")
        by_wire_name[wire_name] = (name, member)
    return parse


def compiled_for(parser: Any, shape: Any) -> Parse | None:
    """The compiled parse for this parser's settings and shape, or None (moto's walk)."""
    from moto.core import parse as moto_parse

    if type(parser) is not moto_parse.JSONParser or shape is None:
        return None
    if parser.operation_model.service_model.service_name != "dynamodb":
        return None
    settings = (parser.MAP_TYPE, parser._blob_parser, parser._timestamp_parser)
    kept = shape.__dict__.setdefault(_COMPILED, {})  # service models are kept per process
    found = kept.get(settings)
    if found is None:
        try:
            found = compile_shape(shape, *settings, moto_parse.UNDEFINED)
        except Unsupported:
            found = _UNSUPPORTED
        kept[settings] = found
    return None if found is _UNSUPPORTED else found


@contextlib.contextmanager
def compiled_request_parsing() -> Iterator[None]:
    """Patch moto's JSONParser._parse_json_body for the duration (see the module doc)."""
    from moto.core.parse import JSONParser

    original = JSONParser._parse_json_body

    def _parse_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        parse = compiled_for(self, shape)
        if parse is None:
            return original(self, raw_body, shape)
        return parse(self._parse_body_as_json(raw_body))

    _parse_json_body.__wrapped__ = original  # type: ignore[attr-defined]  # moto's, for tests
    with mock.patch.object(JSONParser, "_parse_json_body", _parse_json_body):
        yield
