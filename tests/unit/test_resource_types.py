"""What a chart's platz/resources.yaml (its `resource_types`, as chart discovery keeps it)
declares, read leniently: one mapping, a list, or the list of several documents' lists;
entries that are not resource types are skipped; one type per key; a bound."""

from __future__ import annotations

from typing import Any

from tenantry.domain import resources


def _type(key: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "platz.io/v1beta1",
        "kind": "ResourceType",
        "key": key,
        "spec": {
            "name_singular": key.title(),
            "name_plural": key.title() + "s",
            "fontawesome_icon": "cube",
            "values_ui": {"inputs": [{"id": "a", "type": "text"}]},
            **spec,
        },
    }


def keys(declared: Any) -> list[tuple[str, bool]]:
    return [(d.key, d.spec.global_) for d, _ in resources.declared_types(declared)]


def test_one_mapping_a_list_and_several_documents_of_lists() -> None:
    assert keys(_type("shop")) == [("shop", False)]
    assert keys([_type("shop"), _type("till", **{"global": True})]) == [
        ("shop", False),
        ("till", True),
    ]
    assert keys([[_type("shop")], [_type("till")]]) == [("shop", False), ("till", False)]
    assert keys(None) == [] and keys("text") == [] and keys([[[_type("deep")]]]) == []


def test_entries_that_are_not_resource_types_are_skipped() -> None:
    no_spec = {"kind": "ResourceType", "key": "x"}
    other_kind = {**_type("y"), "kind": "Action"}
    bad_key = _type("not a label value")
    no_values_ui = _type("z")
    del no_values_ui["spec"]["values_ui"]
    bad_role = _type("w", lifecycle={"delete": {"allowed_role": "Everyone"}})
    fine = _type("ok", lifecycle={"delete": {"allowed_role": "Owner"}})
    assert keys([no_spec, other_kind, bad_key, no_values_ui, bad_role, fine]) == [("ok", False)]


def test_the_spec_is_kept_as_written_and_a_key_counts_once() -> None:
    first = _type("shop", extra={"future": "field"})
    ((declared, spec),) = resources.declared_types([first, _type("shop", name_plural="Other")])
    assert declared.spec.name_plural == "Shops"
    assert spec == first["spec"] and spec["extra"] == {"future": "field"}


def test_at_most_a_bound_of_types() -> None:
    many = [_type(f"t{i}") for i in range(resources.MAX_TYPES_PER_CHART + 5)]
    assert len(resources.declared_types(many)) == resources.MAX_TYPES_PER_CHART


def test_type_ids_are_made_from_scope_kind_and_key() -> None:
    assert resources.type_id("env-1", "kind-web", "shop") == resources.type_id(
        "env-1", "kind-web", "shop"
    )
    assert (
        len(
            {
                resources.type_id("env-1", "kind-web", "shop"),
                resources.type_id("global", "kind-web", "shop"),
                resources.type_id("env-1", "kind-db", "shop"),
                resources.type_id("env-1", "kind-web", "till"),
            }
        )
        == 4
    )


def test_roles_follow_the_types_lifecycle() -> None:
    owner_delete = {"spec": {"lifecycle": {"delete": {"allowed_role": "Owner"}}}}
    assert resources._roles(owner_delete, "delete") == ("Owner",)
    assert resources._roles(owner_delete, "update") == ("Owner", "Maintainer")
    assert resources._roles({"spec": {}}, "create") == ("Owner", "Maintainer")
