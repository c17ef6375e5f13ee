from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from annotated_types import Interval
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

T = TypeVar("T")


def no_null_defaults(schema: dict[str, Any]) -> None:
    """An omittable, non-nullable field defaults to "absent", not to null: drop the
    `default: null` pydantic writes, or clients (and fuzzers) would send a refused null."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None and not _nullable(prop):
            del prop["default"]


def _nullable(prop: dict[str, Any]) -> bool:
    branches = prop.get("anyOf") or prop.get("oneOf") or [prop]
    return any(b.get("type") == "null" for b in branches)


class Input(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped. Strings are taken
    as sent (no stripping), so the server accepts exactly what openapi.json describes."""

    # strict: JSON's own types only (false is no integer, "1" no number), as the spec says.
    model_config = ConfigDict(
        extra="forbid", strict=True, defer_build=True, json_schema_extra=no_null_defaults
    )


def _at_least_one(schema: dict[str, Any]) -> None:
    no_null_defaults(schema)
    schema["minProperties"] = 1


def user_or_bot(schema: dict[str, Any]) -> None:
    """A permission body names a user or a bot, never both (environments, deployments)."""
    no_null_defaults(schema)
    schema["oneOf"] = [
        {"title": "a user", "required": ["user_id"], "not": {"required": ["bot_id"]}},
        {"title": "a bot", "required": ["bot_id"], "not": {"required": ["user_id"]}},
    ]


class Change(Input):
    """PATCH and PUT bodies: at least one field (`minProperties: 1` in the spec)."""

    model_config = ConfigDict(json_schema_extra=_at_least_one)

    @model_validator(mode="after")
    def _something_to_change(self) -> Change:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


# A field that may be left out of a body but is never null (null would mean nothing): the
# field's type is T alone, so the spec shows the plain type and an explicit null is refused
# (422) with one clear error; left out, the attribute is None (pydantic does not validate
# defaults). Type checkers see `T | None`.
if TYPE_CHECKING:
    Omittable = Annotated[T | None, "omittable"]
else:
    Omittable = Annotated[T, "omittable"]


def _integral(value: Any) -> Any:
    """JSON Schema's integer is any number with no fraction: 3.0 is 3. Booleans and
    strings stay what they are (and fail strict validation)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def Int(ge: int, le: int) -> Any:
    """An integer in [ge, le] as JSON Schema means it: 3.0 is 3, while `false` and "3" are
    no integers (the models are strict). The bounds come first so the spec shows them."""
    return Annotated[int, Interval(ge=ge, le=le), BeforeValidator(_integral)]


# The id of another resource named in a body (its existence is the domain's to check).
Reference = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# Why someone did something, as they put it.
Reason = Annotated[str, StringConstraints(max_length=1024)]


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Opaque; pass as ?cursor= for the next page")


class ProblemError(BaseModel):
    model_config = ConfigDict(defer_build=True)

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    # Built only for openapi.json: tenantry.http writes problem bodies as dicts.
    model_config = ConfigDict(defer_build=True)

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None
    request_id: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


# What DynamoDB stores of a number: at most 38 significant digits, magnitudes from 1e-130
# up to (not including) 1e126 (docs/api.md "Request bodies"). A JSON tree a caller sends (a
# chart's config, an action's body) is checked against it, so a number it cannot hold is
# 422, not a 500; a chart's files are checked the same way (domain/chart_discovery.py).
MIN_MAGNITUDE, MAX_MAGNITUDE = 1e-130, 1e126
MAX_NUMBER_DIGITS = 38


def number_problem(number: int | float) -> str | None:
    """Why DynamoDB cannot store this number, or None."""
    if isinstance(number, int) and len(str(abs(number))) > MAX_NUMBER_DIGITS:
        return f"a number with more than {MAX_NUMBER_DIGITS} digits"
    in_range = number == 0 or MIN_MAGNITUDE <= abs(number) < MAX_MAGNITUDE  # False for NaN
    if isinstance(number, float) and not in_range:
        return "a number out of the range the platform stores (1e-130 to below 1e126)"
    return None


def unstorable(value: Any) -> str | None:
    """Why a number anywhere in `value` cannot be stored, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return number_problem(value)
    if isinstance(value, dict):
        return next((p for p in map(unstorable, value.values()) if p), None)
    if isinstance(value, list):
        return next((p for p in map(unstorable, value) if p), None)
    return None


def _storable_tree(value: Any) -> Any:
    problem = unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


# A JSON object whose numbers DynamoDB can hold.
StorableObject = Annotated[dict[str, Any], AfterValidator(_storable_tree)]
