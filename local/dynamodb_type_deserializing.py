"""boto3's DynamoDB resource turning responses into Python values, faster (dev emulation
only).

The product reads DynamoDB through boto3's resource client, whose `after-call` handler
walks the whole parsed response along the output shape (a method looked up by name per
value) and hands every AttributeValue to TypeDeserializer, which looks its method up by
name again for every nested value. For a page of projects that is thousands of values.
The outcome depends only on the shape and the response: so the walk is compiled once per
output shape into functions that visit only the members that can hold an AttributeValue,
in the order boto3 visits them, replacing each in place as boto3 does; and the values are
turned into Python values by a table from type to conversion, the same conversions as
TypeDeserializer's (Decimal in DynamoDB's context, Binary, sets, None for NULL).
Anything else (a deserializer other than boto3's own, a type key it does not know, an
unknown shape) is left to boto3's own code.
tests/integration/test_dynamodb_type_deserializing.py compares both on every item
operation's response.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, MutableSequence
from typing import Any
from unittest import mock

TARGET = "AttributeValue"  # the shape boto3 deserializes
_COMPILED = "_local_compiled_deserializing"  # shape attribute: its walk (None: no values)

Walk = Callable[[Any, Callable[[Any], Any]], None] | None  # None: nothing to visit


def fast_deserializer(original: Any) -> Callable[[Any], Any]:
    """TypeDeserializer(...).deserialize as a table of conversions (see the module doc)."""
    from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary

    decimal = DYNAMODB_CONTEXT.create_decimal

    def deserialize(value: Any) -> Any:
        if type(value) is dict:
            for tag, inner in value.items():
                convert = conversions.get(tag)
                if convert is not None:
                    return convert(inner)
                break
        return original.deserialize(value)  # empty, not a dict, an unknown type

    conversions: dict[str, Callable[[Any], Any]] = {
        "S": lambda inner: inner,
        "N": decimal,
        "BOOL": lambda inner: inner,
        "NULL": lambda inner: None,
        "M": lambda inner: {key: deserialize(each) for key, each in inner.items()},
        "L": lambda inner: [deserialize(each) for each in inner],
        "B": Binary,
        "SS": set,
        "NS": lambda inner: set(map(decimal, inner)),
        "BS": lambda inner: set(map(Binary, inner)),
    }
    return deserialize


def compile_walk(shape: Any) -> Walk:
    """A function applying `convert` to every AttributeValue of a value of this shape, in
    place and in the order boto3's ParameterTransformer does; None if it holds none."""
    built: dict[str, Walk] = {}
    building: dict[str, list[Walk]] = {}  # shape name -> [its walk, once built]

    def build(shape: Any) -> Walk:
        if shape.name in built:
            return built[shape.name]
        if shape.name in building:  # a shape that holds itself (a map of maps, ...)
            cell = building[shape.name]
            return lambda value, convert: cell[0](value, convert) if cell[0] else None
        cell: list[Walk] = [None]
        building[shape.name] = cell
        kind = shape.type_name
        if kind == "structure":
            walk = _structure(shape, build)
        elif kind == "map":
            walk = _map(shape, build)
        elif kind == "list":
            walk = _list(shape, build)
        else:
            walk = None
        cell[0] = built[shape.name] = walk
        return walk

    return build(shape)


def _structure(shape: Any, build: Callable[[Any], Walk]) -> Walk:
    members: dict[str, tuple[bool, Walk]] = {}
    for name, member in shape.members.items():
        if member.name == TARGET:
            members[name] = (True, None)
        elif (inner := build(member)) is not None:
            members[name] = (False, inner)
    if not members:
        return None

    def walk(value: Any, convert: Callable[[Any], Any]) -> None:
        if not isinstance(value, Mapping):
            return
        for name in value:
            found = members.get(name)
            if found is not None:
                target, inner = found
                if target:
                    value[name] = convert(value[name])
                elif inner is not None:
                    inner(value[name], convert)

    return walk


def _map(shape: Any, build: Callable[[Any], Walk]) -> Walk:
    if shape.value.name == TARGET:

        def convert_each(value: Any, convert: Callable[[Any], Any]) -> None:
            if isinstance(value, Mapping):
                for key, each in value.items():
                    value[key] = convert(each)

        return convert_each
    inner = build(shape.value)
    if inner is None:
        return None

    def walk_each(value: Any, convert: Callable[[Any], Any]) -> None:
        if isinstance(value, Mapping):
            for key in value:
                inner(value[key], convert)

    return walk_each


def _list(shape: Any, build: Callable[[Any], Walk]) -> Walk:
    if shape.member.name == TARGET:

        def convert_each(value: Any, convert: Callable[[Any], Any]) -> None:
            if isinstance(value, MutableSequence):
                for i, each in enumerate(value):
                    value[i] = convert(each)

        return convert_each
    inner = build(shape.member)
    if inner is None:
        return None

    def walk_each(value: Any, convert: Callable[[Any], Any]) -> None:
        if isinstance(value, MutableSequence):
            for each in value:
                inner(each, convert)

    return walk_each


@contextlib.contextmanager
def compiled_output_deserializing() -> Iterator[None]:
    """Patch boto3's TransformationInjector.inject_attribute_value_output for the
    duration; a resource made meanwhile keeps it (it registers the bound method)."""
    from boto3.dynamodb.transform import TransformationInjector
    from boto3.dynamodb.types import TypeDeserializer

    original = TransformationInjector.inject_attribute_value_output

    def inject_attribute_value_output(self: Any, parsed: Any, model: Any, **kwargs: Any) -> None:
        shape = model.output_shape
        if shape is None or type(self._deserializer) is not TypeDeserializer:
            return original(self, parsed, model, **kwargs)
        if _COMPILED not in shape.__dict__:
            shape.__dict__[_COMPILED] = compile_walk(shape)  # service models are per client
        walk = shape.__dict__[_COMPILED]
        if walk is not None:
            convert = self.__dict__.get("_local_fast_deserialize")
            if convert is None:
                convert = self.__dict__["_local_fast_deserialize"] = fast_deserializer(
                    self._deserializer
                )
            walk(parsed, convert)
        return None

    inject_attribute_value_output.__wrapped__ = original  # type: ignore[attr-defined]
    with mock.patch.object(
        TransformationInjector, "inject_attribute_value_output", inject_attribute_value_output
    ):
        yield
