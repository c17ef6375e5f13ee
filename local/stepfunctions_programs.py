"""Each state machine definition parsed once per process, and its program shared by every
execution (dev emulation only).

moto's ASL interpreter parses a definition (antlr) on every CreateStateMachine and again
for every execution, then turns the syntax tree into evaluation components (its
Preprocessor, which parses each intrinsic function with antlr again): ~20 ms, then ~5 ms
per execution, and the runner starts an execution for every project created. Every
emulation (so each test) deploys the same definitions.

The components are read-only while a program runs: an execution's state lives in its
Environment (stack, heap, context, events), which is why moto can already run one
component from several threads at once (a Map state's iterations). The one thing a
component makes up for itself is its heap key, a random id drawn on first use; two
executions drawing it at once could each keep a different one. So every key is drawn
here, when the program is built, and executions only read them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

# definition -> (program, syntax tree), as AmazonStateLanguageParser.parse returns them
_PROGRAMS: dict[str, tuple[Any, Any]] = {}
_lock = threading.Lock()


def draw_heap_keys(program: Any) -> int:
    """Draw the heap key of every evaluation component reachable from `program` (its
    attributes, lists, tuples, dicts and sets); returns how many there were."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    todo = [program]
    drawn = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Component):
            if isinstance(obj, EvalComponent):
                _ = obj.heap_key
                drawn += 1
            todo.extend(vars(obj).values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
    return drawn


@contextlib.contextmanager
def programs_once() -> Iterator[None]:
    """Patch AmazonStateLanguageParser.parse for the duration: the first parse of a
    definition is moto's own (so an invalid one raises as before), later ones return it."""
    from moto.stepfunctions.parser.asl.parse import asl_parser

    parse = asl_parser.AmazonStateLanguageParser.parse

    def parse_once(definition: str) -> tuple[Any, Any]:
        found = _PROGRAMS.get(definition)
        if found is None:
            with _lock:  # one parse per definition, even if executions start at once
                found = _PROGRAMS.get(definition)
                if found is None:
                    found = parse(definition)
                    draw_heap_keys(found[0])
                    _PROGRAMS[definition] = found
        return found

    with mock.patch.object(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse_once)):
        yield
