"""A chart's values UI (its `platz/values-ui.yaml`): the inputs a deployment's `config`
must satisfy. Only what can be checked without the cluster: required inputs present, and
each given input of the JSON type its input type takes. Unknown input types accept
anything (a newer chart format must not make deployments impossible)."""

from __future__ import annotations

from typing import Any

# input type -> the JSON types its value may have
TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "Text": (str,),
    "password": (str,),
    "number": (int, float),
    "Number": (int, float),
    "checkbox": (bool,),
    "Checkbox": (bool,),
    "RadioSelect": (str,),
    "CollectionSelect": (str, dict),
    "DaysAndHour": (dict,),
    "Array": (list,),
}


def inputs(values_ui: Any) -> list[dict[str, Any]]:
    """The input declarations of a values UI (`{"inputs": [...]}`, possibly under
    `schema`), or [] when it declares none."""
    if not isinstance(values_ui, dict):
        return []
    found = values_ui.get("inputs")
    if found is None and isinstance(values_ui.get("schema"), dict):
        found = values_ui["schema"].get("inputs")
    return [i for i in found or [] if isinstance(i, dict) and isinstance(i.get("id"), str)]


def problems(values_ui: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """`{"loc", "msg"}` for each way `config` does not satisfy the values UI."""
    errors = []
    for declared in inputs(values_ui):
        key = declared["id"]
        if key not in config:
            if declared.get("required"):
                errors.append({"loc": ["body", "config", key], "msg": "required by the chart"})
            continue
        wrong = value_problem(declared, config[key])
        if wrong:
            errors.append({"loc": ["body", "config", key], "msg": wrong})
    return errors


def value_problem(declared: dict[str, Any], value: Any) -> str | None:
    """Why `value` does not fit the declared input's type, or None."""
    types = TYPES.get(str(declared.get("type")))
    if types and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
        return f"the chart's {declared.get('type')} input takes " + " or ".join(
            t.__name__ for t in types
        )
    return None


def delta(old: Any, new: Any, path: str = "") -> dict[str, list[Any]]:
    """`{"a.b": [old, new]}` for every leaf that differs between two values trees."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: dict[str, list[Any]] = {}
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            out.update(delta(old.get(key), new.get(key), sub))
        return out
    return {} if old == new else {path or ".": [old, new]}
