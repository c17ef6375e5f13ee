"""local/stepfunctions_json_paths.py: a JSONPath tree shared between evaluations finds
and updates exactly what a freshly parsed one does, every time it is used, for both of
the parsers moto's interpreter uses; a path jsonpath_ng refuses is refused every time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from local.stepfunctions_json_paths import json_paths_once, parsed_once

PATHS = [
    "$",
    "$.project_id",
    "$.plan.clusters",
    "$.plan.clusters[0].cluster",
    "$.plan.clusters[*].cluster_id",
    "$.error.Cause",
    "$..cluster",
    "$.items[1:]",
]
DATA = {
    "project_id": "shop",
    "plan": {
        "clusters": [
            {"cluster": "edge", "cluster_id": "c1"},
            {"cluster": "core", "cluster_id": "c2"},
        ]
    },
    "error": {"Error": "States.TaskFailed", "Cause": "{}"},
    "items": [1, 2, 3],
}


def _finds(parse: Any) -> list[Any]:
    out = []
    for path in PATHS:
        for _ in range(2):  # a shared tree, used again
            out.append([(str(m.full_path), m.value) for m in parse(path).find(DATA)])
    return out


def _updates(parse: Any) -> list[Any]:
    out = []
    for path in ("$.result", "$.plan.outcome", "$.plan.clusters[0].status"):
        for _ in range(2):
            out.append(parse(path).update_or_create(copy.deepcopy(DATA), {"ok": True}))
    return out


def test_shared_trees_answer_as_fresh_ones() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    fresh_ext, fresh_plain = json_path.parse, result_path.parse
    extracted = [json_path.extract_json(path, DATA) for path in PATHS]
    expected = _finds(fresh_ext), _updates(fresh_plain)
    with json_paths_once():
        assert json_path.parse("$.project_id") is json_path.parse("$.project_id")
        assert result_path.parse("$.result") is result_path.parse("$.result")
        assert (_finds(json_path.parse), _updates(result_path.parse)) == expected
        assert [json_path.extract_json(path, DATA) for path in PATHS] == extracted
    assert json_path.parse is fresh_ext and result_path.parse is fresh_plain


def test_a_refused_path_is_refused_every_time() -> None:
    """parsed_once keeps no refusal: each call parses (and refuses) again."""
    from jsonpath_ng.ext import parse

    calls: list[str] = []

    def counted(path: str) -> Any:
        calls.append(path)
        return parse(path)

    once = parsed_once(counted)
    for _ in range(2):
        with pytest.raises(Exception, match="Parse error"):
            once("$.[")
    once("$.a")
    once("$.a")
    assert calls == ["$.[", "$.[", "$.a"]
