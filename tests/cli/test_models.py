"""tenantry_client.models are written by hand after openapi.json: each model must have
exactly its schema's properties, the same required ones, and the same JSON types (a
model's field may be wider only by accepting null where the schema's field is optional).
Enums are plain strings on the client on purpose (a new status must not break it)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tenantry_client import models

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())["components"]["schemas"]
MODELS = [
    m
    for _, m in inspect.getmembers(models, inspect.isclass)
    if issubclass(m, models.Model)
    and m.__module__ == models.__name__
    and m not in (models.Model, models.Page)
]


def kinds(schema: dict[str, Any], defs: dict[str, Any]) -> frozenset[str]:
    """A schema's JSON types, refs by name, arrays with their items' types."""
    if "$ref" in schema:
        return frozenset({"ref:" + schema["$ref"].rsplit("/", 1)[-1]})
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            return frozenset().union(*(kinds(s, defs) for s in schema[combo]))
    kind = schema.get("type")
    if kind is None and ("enum" in schema or "const" in schema):
        values = schema.get("enum") or [schema.get("const")]
        kind = "string" if all(isinstance(v, str) for v in values) else "any"
    if kind == "array":
        items = sorted(kinds(schema.get("items") or {}, defs))
        return frozenset({f"array[{'|'.join(items)}]"})
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return frozenset({f"object[{'|'.join(sorted(kinds(extra, defs)))}]"})
        return frozenset({"object"})
    if isinstance(kind, list):
        return frozenset(kind)
    return frozenset({kind or "any"})


def test_every_model_is_checked() -> None:
    assert len(MODELS) >= 25
    assert all(m.__name__ in SCHEMAS for m in MODELS), [
        m.__name__ for m in MODELS if m.__name__ not in SCHEMAS
    ]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_matches_its_openapi_schema(model: type[BaseModel]) -> None:
    ours = model.model_json_schema(by_alias=True)
    theirs = SCHEMAS[model.__name__]
    assert set(ours["properties"]) == set(theirs.get("properties", {}))
    assert set(ours.get("required", [])) == set(theirs.get("required", []))
    for name, prop in theirs["properties"].items():
        mine = kinds(ours["properties"][name], ours.get("$defs", {}))
        expected = kinds(prop, {})
        if name not in theirs.get("required", []):
            mine = mine - {"null"} | (expected & {"null"})  # an optional field may accept null
        assert mine == expected, f"{model.__name__}.{name}: {sorted(mine)} != {sorted(expected)}"


def test_page_matches_the_list_schemas() -> None:
    ours = models.Page[models.Project].model_json_schema()
    theirs = SCHEMAS["Page_Project_"]
    assert set(ours["properties"]) == set(theirs["properties"])
    assert set(ours["required"]) == set(theirs["required"])


def test_unknown_fields_are_kept_and_enums_are_open() -> None:
    project = models.Project.model_validate(
        {**_project(), "status": "hibernating", "brand_new_field": {"x": 1}}
    )
    assert project.status == "hibernating"
    assert project.json_data()["brand_new_field"] == {"x": 1}


def test_history_item_from_is_from_() -> None:
    item = models.HistoryItem.model_validate({"at": "t", "actor": "a", "event": "e", "from": "x"})
    assert item.from_ == "x"
    assert item.json_data()["from"] == "x"


def _project() -> dict[str, Any]:
    return {
        "id": "shop",
        "name": "Shop",
        "owner_id": "u",
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "version": 1,
        "join_policy": "auto",
        "leave_policy": "auto",
    }
