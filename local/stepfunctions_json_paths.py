"""JSONPath expressions of a state machine parsed once per process (dev emulation only).

moto's ASL interpreter reads a state's input and writes its result through JSONPath
(InputPath, ResultPath, OutputPath, `.$` parameters, Choice variables), parsing the path
with jsonpath_ng on every evaluation; jsonpath_ng builds a new parser each time (ply's
yacc reads its tables and reflects on the grammar's functions), so a workflow step spent
more on parsing its few paths than on reading them: ~2% of the runner's CPU under the
load bench. A parsed path is a read-only tree (finding and updating walk the data, not
the tree), and the definitions hold a handful of distinct paths, so each text is parsed
once, by jsonpath_ng, with the parser moto's module uses (`jsonpath_ng.ext` in its
json_path helpers, plain `jsonpath_ng` for ResultPath). A path jsonpath_ng refuses is
refused again each time.
tests/integration/test_stepfunctions_json_paths.py compares the shared trees' answers
with fresh ones.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

MAX_KEPT = 1024  # distinct paths kept per parser; definitions hold a few dozen


def parsed_once(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` with each path's tree kept (a refused path raises again, uncached)."""
    once = functools.lru_cache(maxsize=MAX_KEPT)(parse)
    once.__wrapped__ = parse  # type: ignore[attr-defined]  # jsonpath_ng's, for tests
    return once


@contextlib.contextmanager
def json_paths_once() -> Iterator[None]:
    """Patch the two names moto's ASL interpreter parses JSONPath with, for the duration."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    with (
        mock.patch.object(json_path, "parse", parsed_once(json_path.parse)),
        mock.patch.object(result_path, "parse", parsed_once(result_path.parse)),
    ):
        yield
