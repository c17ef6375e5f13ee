"""local/dynamodb_item_sizes.py: an item's size, and any attribute value's, is what moto's
own methods count, for generated values of every DynamoDB type (nested maps and lists,
sets, non-ASCII strings, binary), and for values moto's methods must weigh themselves."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.dynamodb_item_sizes import sizes_without_copies
from local.stack import Stack

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


def test_batch_get_item_weighs_each_item_once_and_answers_as_moto(stack: Stack) -> None:
    """moto's BatchGetItem weighs each item it returns twice (the 16 MB check, then the
    running total); within sizes_remembered once, with the same answer."""
    from moto.dynamodb.responses import DynamoHandler

    from local import dynamodb_item_sizes

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    keys = [{"PK": {"S": f"P#{i}"}, "SK": {"S": "META"}} for i in range(5)]
    for key in keys:
        ddb.put_item(TableName=name, Item={**key, "m": {"M": {"a": {"S": "é"}}}})
    value_size = dynamodb_item_sizes.value_size

    def answer() -> tuple[Any, int]:
        weighed = [0]

        def counted(value: Any, dynamo_type: type) -> int:
            weighed[0] += 1
            return value_size(value, dynamo_type)

        dynamodb_item_sizes._kept.clear()  # weighed afresh (not kept from an earlier call)
        with mock.patch.object(dynamodb_item_sizes, "value_size", counted):
            out = ddb.batch_get_item(RequestItems={name: {"Keys": keys}})
        out.pop("ResponseMetadata")
        return out, weighed[0]

    ours, once = answer()
    patched = DynamoHandler.batch_get_item
    with (
        mock.patch.object(DynamoHandler, "batch_get_item", patched.__wrapped__),
        mock.patch.object(dynamodb_item_sizes, "in_whole_call", return_value=False),
    ):  # moto's own BatchGetItem, and no size kept from call to call
        theirs, twice = answer()
    assert ours == theirs and len(ours["Responses"][name]) == len(keys)
    assert twice == 2 * once > 0


def test_kept_sizes_follow_every_kind_of_write(stack: Stack) -> None:
    """Sizes kept from call to call (within this process's calls) are what moto counts
    after each write that changes an item in place or replaces it, a cancelled
    transaction's rollback included."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from local import dynamodb_item_sizes
    from local.moto_lock import whole_call

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    key = {"PK": {"S": "P#kept"}, "SK": {"S": "META"}}
    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(name)

    def check() -> None:
        item = table.get_item(DynamoType(key["PK"]), DynamoType(key["SK"]))
        with whole_call():
            kept = item.size()  # kept now if it was not
            assert item.size() == kept
            assert id(item) in dynamodb_item_sizes._kept
        assert kept == Item.size.__wrapped__(item)  # type: ignore[attr-defined]

    def update(expression: str, values: dict[str, Any] | None = None) -> None:
        extra = {"ExpressionAttributeValues": values} if values else {}
        ddb.update_item(TableName=name, Key=key, UpdateExpression=expression, **extra)

    ddb.put_item(TableName=name, Item={**key, "m": {"M": {"a": {"S": "x"}}}, "l": {"L": []}})
    check()
    update("SET m.b = :v", {":v": {"S": "a longer value"}})
    check()
    update("SET l = list_append(l, :v)", {":v": {"L": [{"S": "é" * 20}]}})
    check()
    update("ADD tags :t, n :one", {":t": {"SS": ["x", "y"]}, ":one": {"N": "1"}})
    check()
    update("DELETE tags :t REMOVE m.a", {":t": {"SS": ["x"]}})
    check()
    ddb.update_item(
        TableName=name,
        Key=key,
        AttributeUpdates={"legacy": {"Value": {"S": "by AttributeUpdates"}, "Action": "PUT"}},
    )
    check()
    grow = {
        "Update": {
            "TableName": name,
            "Key": key,
            "UpdateExpression": "SET big = :v",
            "ExpressionAttributeValues": {":v": {"S": "z" * 500}},
        }
    }
    ddb.transact_write_items(TransactItems=[grow])
    check()
    # another item's condition fails: the change to this one is rolled back
    other = {"PK": {"S": "P#kept-other"}, "SK": {"S": "META"}}
    ddb.put_item(TableName=name, Item={**other, "n": {"N": "1"}})
    failing = {"ConditionCheck": {"TableName": name, "Key": other, "ConditionExpression": "n = :z"}}
    failing["ConditionCheck"]["ExpressionAttributeValues"] = {":z": {"N": "0"}}
    shrink = {**grow, "Update": {**grow["Update"], "UpdateExpression": "REMOVE big"}}
    shrink["Update"].pop("ExpressionAttributeValues")
    before = table.get_item(DynamoType(key["PK"]), DynamoType(key["SK"])).size()
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=[shrink, failing])
    check()
    restored = table.get_item(DynamoType(key["PK"]), DynamoType(key["SK"]))
    assert "big" in restored.attrs and Item.size.__wrapped__(restored) == before
    ddb.put_item(TableName=name, Item={**key, "replaced": {"BOOL": True}})
    check()
