"""local/dynamodb_item_sizes.py: an item's size, and any attribute value's, is what moto's
own methods count, for generated values of every DynamoDB type (nested maps and lists,
sets, non-ASCII strings, binary), and for values moto's methods must weigh themselves."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from local.dynamodb_item_sizes import sizes_without_copies

text = st.text(max_size=12)
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
scalars = st.one_of(
    text.map(lambda s: {"S": s}),
    numbers.map(lambda n: {"N": n}),
    st.binary(max_size=12).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(text, min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
    st.lists(numbers, min_size=1, max_size=4, unique=True).map(lambda v: {"NS": v}),
    st.lists(st.binary(max_size=6), min_size=1, max_size=4, unique=True).map(lambda v: {"BS": v}),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(text, inner, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=20,
)
items = st.dictionaries(text, values, min_size=1, max_size=8)


def _sizes(attrs: dict[str, Any]) -> tuple[int, list[int]]:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = Item(DynamoType({"S": "h"}), None, {"PK": {"S": "h"}, **attrs})
    return item.size(), [value.size() for value in item.attrs.values()]


@settings(max_examples=300, deadline=None)
@given(items)
def test_sizes_are_motos(attrs: dict[str, Any]) -> None:
    moto_sizes = _sizes(attrs)
    with sizes_without_copies():
        assert _sizes(attrs) == moto_sizes


def test_values_moto_must_weigh_itself() -> None:
    """A raw AttributeValue inside a map (moto copies it into a DynamoType to weigh it)
    and a DynamoType subclass: moto's own methods answer."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    class Odd(DynamoType):
        pass

    item = Item(DynamoType({"S": "h"}), None, {"PK": {"S": "h"}, "m": {"M": {"a": {"S": "é"}}}})
    item.attrs["m"].value["raw"] = {"S": "plain dict"}
    item.attrs["odd"] = Odd({"N": "12.5"})
    expected = item.size(), item.attrs["m"].size(), item.attrs["odd"].size()
    with sizes_without_copies():
        assert (item.size(), item.attrs["m"].size(), item.attrs["odd"].size()) == expected
