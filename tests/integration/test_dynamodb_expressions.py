"""local/dynamodb_expressions.py (and local/dynamodb_update_validation.py): with expressions parsed once (and their syntax trees
copied by copy_tree), every call answers and leaves the table as with moto's parsers and
copy.deepcopy (conditions met and not, updates of every kind, transactions, filters,
refused expressions); a kept tree is the caller's to change no more; copy_tree copies a
tree as deepcopy does."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from local.stack import Stack

Call = Callable[[Any, str, str], Any]  # (client, table, key prefix) -> response


def _key(p: str, sk: str = "META") -> dict[str, Any]:
    return {"PK": {"S": f"{p}#1"}, "SK": {"S": sk}}


def _update(expression: str, condition: str | None = None, **values: Any) -> Call:
    def call(ddb: Any, table: str, p: str) -> Any:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "Key": _key(p),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        names = {f"#{n}": n for n in ("n", "l", "m", "f", "c") if f"#{n}" in expression}
        names.update(
            {f"#{n}": n for n in ("n", "l", "m", "f", "c") if f"#{n}" in (condition or "")}
        )
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = {f":{k}": v for k, v in values.items()}
        return ddb.update_item(**kwargs)

    return call


N = lambda v: {"N": str(v)}  # noqa: E731
S = lambda v: {"S": v}  # noqa: E731

CALLS: list[Call] = [
    lambda ddb, t, p: ddb.put_item(
        TableName=t,
        Item={**_key(p), "n": N(1), "l": {"L": [N(1)]}, "m": {"M": {"a": S("x")}}},
        ConditionExpression="attribute_not_exists(PK)",
    ),
    lambda ddb, t, p: ddb.put_item(  # the same again: the condition fails
        TableName=t, Item={**_key(p), "n": N(9)}, ConditionExpression="attribute_not_exists(PK)"
    ),
    _update(
        "SET #n = #n + :one, #l = list_append(#l, :more) REMOVE gone ADD #c :one",
        "attribute_exists(PK) AND #n = :n1",
        one=N(1),
        more={"L": [S("two"), {"M": {"k": {"B": b"\x00\x01"}}}]},
        n1=N(1),
    ),
    _update(  # the same: #n is 2 now
        "SET #n = #n + :one, #l = list_append(#l, :more) REMOVE gone ADD #c :one",
        "attribute_exists(PK) AND #n = :n1",
        one=N(1),
        more={"L": [S("two"), {"M": {"k": {"B": b"\x00\x01"}}}]},
        n1=N(1),
    ),
    _update("SET #f = :t", "#n = :n2 AND #m.a = :x", t={"BOOL": True}, n2=N(2), x=S("x")),
    _update("SET #f = :t", "#f = :v", t={"NULL": True}, v={"BOOL": True}),  # f is true
    _update("SET #f = :t", "#f = :v", t={"BOOL": False}, v={"BOOL": True}),  # f is null now
    _update("SET #f = :t", "#f = :v", t={"N": "1"}, v={"NULL": True}),
    _update("SET #f = :t", "#f = :v", t={"BOOL": True}, v={"N": "1"}),
    _update("SET #f = :t", "#f = :v", t={"BOOL": True}, v={"BOOL": True}),  # true is not 1
    _update("SET = :x", x=S("x")),  # refused: not an update expression
    _update("SET = :x", x=S("x")),
    _update("SET #n = :x", "#n = :missing", x=S("x")),  # refused: no such value
    _update("SET #n = :x", "#n = :missing", x=S("x")),
    _update("SET #m.b = :b", "size(#l) > :two", b={"SS": ["a", "b"]}, two=N(2)),
    lambda ddb, t, p: ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": t,
                    "Key": _key(p),
                    "UpdateExpression": "SET #n = :n ADD #c :one",
                    "ConditionExpression": "#n = :was",
                    "ExpressionAttributeNames": {"#n": "n", "#c": "c"},
                    "ExpressionAttributeValues": {":n": N(10), ":one": N(1), ":was": N(2)},
                }
            },
            {
                "Put": {
                    "TableName": t,
                    "Item": {**_key(p, "OTHER"), "n": N(5)},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
    ),
    lambda ddb, t, p: ddb.transact_write_items(  # the same: both conditions fail now
        TransactItems=[
            {
                "Update": {
                    "TableName": t,
                    "Key": _key(p),
                    "UpdateExpression": "SET #n = :n ADD #c :one",
                    "ConditionExpression": "#n = :was",
                    "ExpressionAttributeNames": {"#n": "n", "#c": "c"},
                    "ExpressionAttributeValues": {":n": N(10), ":one": N(1), ":was": N(2)},
                }
            },
            {
                "Put": {
                    "TableName": t,
                    "Item": {**_key(p, "OTHER"), "n": N(5)},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
    ),
    lambda ddb, t, p: ddb.query(
        TableName=t,
        KeyConditionExpression="PK = :pk",
        FilterExpression="#n > :five OR begins_with(SK, :o)",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":pk": S(f"{p}#1"), ":five": N(5), ":o": S("OTH")},
    ),
    lambda ddb, t, p: ddb.delete_item(
        TableName=t,
        Key=_key(p, "OTHER"),
        ConditionExpression="#n IN (:a, :b)",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":a": N(4), ":b": N(5)},
        ReturnValues="ALL_OLD",
    ),
]


def _run(stack: Stack, p: str) -> list[Any]:
    """Every call's answer (or error), then the prefix's items; `p` written as `P`."""
    ddb, table = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    out: list[Any] = []
    for call in CALLS:
        try:
            response = call(ddb, table, p)
            response.pop("ResponseMetadata", None)
            out.append(response)
        except ClientError as err:
            out.append(("error", err.response["Error"], err.response.get("CancellationReasons")))
        except KeyError as err:  # moto's answer to a value the request does not define
            out.append(("raised", repr(err)))
    items = ddb.scan(TableName=table)["Items"]
    out.append(sorted((i for i in items if i["PK"]["S"].startswith(f"{p}#")), key=str))
    return json.loads(json.dumps(out, default=repr).replace(f"{p}#", "P#"))


@contextlib.contextmanager
def _motos_parsers() -> Iterator[None]:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    with (
        mock.patch.object(validators, "deepcopy", copy.deepcopy),
        mock.patch.object(
            ConditionExpressionParser, "parse", ConditionExpressionParser.parse.__wrapped__
        ),
        mock.patch.object(
            UpdateExpressionParser,
            "make",
            classmethod(UpdateExpressionParser.make.__func__.__wrapped__),
        ),
    ):
        yield


def test_calls_answer_as_with_motos_parsers(stack: Stack) -> None:
    first = _run(stack, "a")  # parses every expression
    again = _run(stack, "b")  # finds most of them kept
    with _motos_parsers():
        theirs = _run(stack, "c")
    assert first == theirs
    assert again == theirs
    assert sum(1 for r in theirs if isinstance(r, list) and r and r[0] == "error") >= 5
    assert ["raised", "KeyError(':missing')"] in theirs


def test_validation_walks_answer_as_motos(stack: Stack) -> None:
    """local/dynamodb_update_validation.py: the validators' walks with their tables built
    once per pass answer every call (updates of every kind, refused ones, transactions) and
    leave the table as moto's own walk does."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    ours = _run(stack, "v")
    with mock.patch.object(
        DepthFirstTraverser, "traverse", DepthFirstTraverser.traverse.__wrapped__
    ):
        theirs = _run(stack, "w")
    assert ours == theirs
    assert sum(1 for r in theirs if isinstance(r, list) and r and r[0] == "error") >= 5


def test_a_kept_condition_is_not_the_callers(stack: Stack) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = Item(DynamoType(S("k")), None, {"PK": S("k"), "tags": {"L": [S("a")]}})
    values = {":t": {"L": [S("a")]}}
    names = {"#t": "tags"}
    first = ConditionExpressionParser("#t = :t", names, values)
    assert first.parse().expr(item) is True
    assert (first.expr_attr_names_found, first.expr_attr_values_found) == (["#t"], [":t"])
    values[":t"]["L"].append(S("b"))  # the caller changes its request afterwards
    names["#t"] = "other"

    second = ConditionExpressionParser("#t = :t", {"#t": "tags"}, {":t": {"L": [S("a")]}})
    assert second.parse().expr(item) is True
    assert (second.expr_attr_names_found, second.expr_attr_values_found) == (["#t"], [":t"])


UPDATES = [
    "SET #n = #n + :one, #l = list_append(#l, :more) REMOVE gone ADD #c :one",
    "SET a.b[2].c = if_not_exists(a.b[2].c, :z), d = :d - :e DELETE s :s",
    "REMOVE a[1], a[3], b.c SET x = list_append(:l, x)",
    "ADD #c :one SET #m.#n = :v",
]


def _shape(node: Any, index: dict[int, int]) -> Any:
    """A node's class, attributes and children, parents as positions in the walk."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if not isinstance(node, Node):
        return (type(node), node)
    index[id(node)] = len(index)
    return (
        type(node),
        list(vars(node)),
        node.type,
        index.get(id(node.parent)),
        [_shape(child, index) for child in node.children or []],
    )


@pytest.mark.parametrize("expression", UPDATES)
def test_copy_tree_copies_as_deepcopy_does(stack: Stack, expression: str) -> None:
    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from local.dynamodb_expressions import copy_tree

    tree = UpdateExpressionParser.make(expression)
    ours, theirs = copy_tree(tree), copy.deepcopy(tree)
    assert _shape(ours, {}) == _shape(theirs, {}) == _shape(tree, {})

    def nodes(node: Any) -> list[Any]:
        out = [node]
        for child in node.children or []:
            if isinstance(child, Node):
                out += nodes(child)
        return out

    assert not {id(n) for n in nodes(ours)} & {id(n) for n in nodes(tree)}  # all new
    ours.children.append("changed")
    assert _shape(tree, {}) == _shape(theirs, {})


def test_copy_tree_leaves_other_trees_to_deepcopy(stack: Stack) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.ast_nodes import DDBTypedValue
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from local.dynamodb_expressions import copy_tree

    typed = DDBTypedValue(DynamoType({"L": [{"S": "x"}]}))  # a validated tree's leaf
    copied = copy_tree(typed)
    assert copied.get_value() == typed.get_value()
    assert copied.get_value() is not typed.get_value()
    subtree = UpdateExpressionParser.make("SET a = :b").children[0]  # it has a parent
    assert _shape(copy_tree(subtree), {}) == _shape(copy.deepcopy(subtree), {})
    assert copy_tree([1, {"a": [2]}]) == [1, {"a": [2]}]
