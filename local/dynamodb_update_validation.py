"""moto's update-expression validators walk the syntax tree without rebuilding their
lookup tables at every node (dev emulation only).

moto validates an UpdateItem (or a transaction's Update) with ten passes over the
expression's syntax tree (moto.dynamodb.parsing.validators: values, names, paths, types,
counts, ...). Each pass is a DepthFirstTraverser whose walk asks, at every node, for
`nodes_to_be_processed()`: a new tuple built from `_processing_map()`, a new dict of bound
methods. With a few hundred node visits per update, building those tables was about half
the CPU of an UpdateItem call in the emulator (cProfile of 300 calls: 2.2 s of 4.7 s).

`traverse` here builds them once per pass (and answers moto's isinstance checks, slow on
its ABC node classes, once per node type) and walks the same tree in the same order,
processing the same nodes with the same processors and splicing the results back as
moto's walk does; `pre_processing_of_child` is still called for each child. A traverser
that overrides the walk itself (none does in moto 5.2.5) keeps its own; one whose
`nodes_to_be_processed` or map would depend on its state, not its class, would need its
own too (none does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

# What moto's isinstance checks answer, by type: node types are ABCs, whose isinstance is
# slow, and the answers depend on the classes alone (a pass's map is one per class).
_NODE_TYPES: dict[type, bool] = {}
_CHOSEN: dict[tuple[type, type], int | None] = {}  # (pass, node type) -> processor index


def _chosen(traverser: Any, kind: type) -> int | None:
    """The index, in the pass's processing map, of the processor moto's walk gives a node
    of this type (the first whose class it is an instance of), or None."""
    key = (type(traverser), kind)
    if key not in _CHOSEN:
        found = None
        if issubclass(kind, traverser.nodes_to_be_processed()):
            classes = list(traverser._processing_map())
            found = next((i for i, c in enumerate(classes) if issubclass(kind, c)), -1)
        _CHOSEN[key] = found
    return _CHOSEN[key]


def _walk(traverser: Any, processors: list[Any], node: Any, child_id: int, node_class: type) -> Any:
    """moto's DepthFirstTraverser.traverse_node_recursively, its tables given."""
    kind = type(node)
    is_node = _NODE_TYPES.get(kind)
    if is_node is None:
        is_node = _NODE_TYPES[kind] = issubclass(kind, node_class)
    if is_node:
        parent = node.parent
        if node.children is not None:
            for i, child in enumerate(node.children):
                traverser.pre_processing_of_child(node, i)
                _walk(traverser, processors, child, i, node_class)
        chosen = _chosen(traverser, kind)
        if chosen is not None:
            # moto's process() answers None when no class matches: the walk then fails
            node = processors[chosen](node) if chosen >= 0 else None
            node.parent = parent
            if parent:
                parent.children[child_id] = node
    return node


@contextlib.contextmanager
def validation_walks_once() -> Iterator[None]:
    """Patch DepthFirstTraverser.traverse for the duration (see the module doc)."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    original = DepthFirstTraverser.traverse
    moto_walk = DepthFirstTraverser.traverse_node_recursively

    def traverse(self: Any, node: Any) -> Any:
        if type(self).traverse_node_recursively is not moto_walk:
            return original(self, node)
        return _walk(self, list(self._processing_map().values()), node, -1, Node)

    traverse.__wrapped__ = original  # type: ignore[attr-defined]
    with mock.patch.object(DepthFirstTraverser, "traverse", traverse):
        yield
