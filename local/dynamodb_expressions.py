"""DynamoDB's condition and update expressions parsed once (dev emulation only).

moto parses a request's expressions on every call, each one twice (its responses check
the request, then its backend runs it): a condition expression into a tree of operators
that holds the attribute names and values it names, an update expression into a syntax
tree that its validator deep-copies before it fills in names, values and the item. That
parsing was ~6% of the runner's CPU under the load bench, and the product sends the same
few expressions again and again, mostly with the same values (`attribute_not_exists(PK)`,
no condition at all, the same step name).

- An update expression's syntax tree depends on its text alone, and nothing changes it
  (the validator works on its own copy; the responses only read it): one per text.
- A condition's tree depends on its text, names and values: one per the three, built
  from private copies of the names and values (so nothing the caller does to its request
  later reaches it), and the names and values it used are handed to each parser as
  moto's parse leaves them (the responses check them against the request's).
Both are memos of what moto's own parsers return; an expression they refuse is refused
again every time, by moto.

moto's update validator starts by deep-copying the syntax tree (copy.deepcopy: its memo,
dispatch and reduce protocol per node). A parsed tree is nodes holding their type name,
their children and their parent, with strings, numbers and booleans for leaves, so
`copy_tree` copies exactly that, node by node; a tree holding anything else (or a node
with other attributes, or a subtree with a parent) is left to copy.deepcopy, as is every
other copy the validator makes.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

MAX_KEPT = 2_000  # per memo; past that it starts again (values can be unique per call)


class _Unkeyable(Exception):
    """Names or values without a plain JSON form: parsed by moto as ever."""


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"<bytes>": base64.b64encode(value).decode()}
    raise _Unkeyable


def condition_key(expression: str, names: Any, values: Any) -> str:
    """One string per distinct (expression, names, values): JSON tells `true` from `1`,
    a list from a map, and bytes from the text of their base64."""
    try:
        return json.dumps([expression, names, values], sort_keys=True, default=_default)
    except (_Unkeyable, TypeError, ValueError):
        raise _Unkeyable from None


class _NotPlainTree(Exception):
    pass


_NODE_ATTRIBUTES = frozenset({"type", "children", "parent"})
_LEAVES = frozenset({str, int, float, bool, type(None)})


def copy_tree(root: Any) -> Any:
    """copy.deepcopy of a parsed expression's syntax tree (see the module doc)."""
    from moto.dynamodb.parsing.ast_nodes import Node

    def copy_node(node: Any, parent: Any) -> Any:
        attributes = node.__dict__
        if attributes.keys() != _NODE_ATTRIBUTES:
            raise _NotPlainTree
        new = object.__new__(type(node))
        children = attributes["children"]
        if children is not None:
            copied = []
            for child in children:
                if isinstance(child, Node):
                    copied.append(copy_node(child, new))
                elif type(child) in _LEAVES:
                    copied.append(child)
                else:
                    raise _NotPlainTree
            children = copied
        new.__dict__.update(type=attributes["type"], children=children, parent=parent)
        return new

    if not isinstance(root, Node) or root.parent is not None:
        return copy.deepcopy(root)
    try:
        return copy_node(root, None)
    except _NotPlainTree:
        return copy.deepcopy(root)


@contextlib.contextmanager
def expressions_parsed_once() -> Iterator[None]:
    """Patch ConditionExpressionParser.parse, UpdateExpressionParser.make and the
    validators' deepcopy for the duration (see the module doc)."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parse = ConditionExpressionParser.parse
    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    conditions: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
    updates: dict[str, Any] = {}

    def parse_once(self: Any) -> Any:
        expression = self.condition_expression
        if not expression:
            return parse(self)
        names, values = self.expression_attribute_names, self.expression_attribute_values
        try:
            key = condition_key(expression, names, values)
        except _Unkeyable:
            return parse(self)
        found = conditions.get(key)
        if found is None:
            private = ConditionExpressionParser(
                expression, copy.deepcopy(names), copy.deepcopy(values)
            )
            op = parse(private)  # raises as moto does for an expression it refuses
            found = (
                op,
                tuple(private.expr_attr_names_found),
                tuple(private.expr_attr_values_found),
            )
            if len(conditions) >= MAX_KEPT:
                conditions.clear()
            conditions[key] = found
        op, names_found, values_found = found
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op

    def make_once(cls: Any, expression: str) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(expression, str):
            return make(cls, expression)
        tree = updates.get(expression)
        if tree is None:
            tree = make(cls, expression)  # raises as moto does for an expression it refuses
            if len(updates) >= MAX_KEPT:
                updates.clear()
            updates[expression] = tree
        return tree

    parse_once.__wrapped__ = parse  # type: ignore[attr-defined]  # moto's, for tests
    make_once.__wrapped__ = make  # type: ignore[attr-defined]
    with (
        mock.patch.object(ConditionExpressionParser, "parse", parse_once),
        mock.patch.object(UpdateExpressionParser, "make", classmethod(make_once)),
        mock.patch.object(validators, "deepcopy", copy_tree),
    ):
        yield
