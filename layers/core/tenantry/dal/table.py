"""The one door to DynamoDB: client creation, error mapping, transactions, paged queries.

boto3 is imported lazily so a handler's cold start does not pay for it before it needs it.
Errors map to the domain: a failed condition becomes the caller's chosen error (409 or
412), throttling, transaction conflicts and no answer at all (BotoCoreError) become 503.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from typing import Any

from tenantry.dal.keys import index_keys
from tenantry.errors import BadRequest, Conflict, ServiceUnavailable, TenantryError
from tenantry.settings import get_settings

BUSY_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "ServiceUnavailable",
}

ErrorFactory = Callable[[], TenantryError]


@cache
def _resource() -> Any:
    import boto3

    return boto3.resource("dynamodb")


def client() -> Any:
    """The resource's client: it (de)serialises plain Python values for us."""
    return _resource().meta.client


def table_name() -> str:
    return get_settings().table_name


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the domain wants int/float. (Every item read
    goes through here: the exact types an item holds are tried first, by identity.)"""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


def storable(value: Any) -> Any:
    """`value` as DynamoDB takes it: floats (a JSON body's, or `plain`'s) as Decimal, from
    their shortest text, so 0.1 stays 0.1."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


@contextmanager
def errors_mapped(
    on_condition: ErrorFactory | None = None, ops: list[dict[str, Any]] | None = None
) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except BotoCoreError as exc:
        # No answer from DynamoDB (connection, read timeout, ...): retryable, like throttling.
        raise ServiceUnavailable(headers={"Retry-After": "1"}) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise (on_condition or _default_conflict)() from exc
        if code == "TransactionCanceledException":
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                refused = _limit_refusal(ops or [], reasons)
                raise (refused or on_condition or _default_conflict)() from exc
            if any(r in ("TransactionConflict", "ThrottlingError") for r in reasons):
                raise ServiceUnavailable(headers={"Retry-After": "1"}) from exc
        if code in BUSY_CODES:
            raise ServiceUnavailable(headers={"Retry-After": "1"}) from exc
        raise


def _limit_refusal(ops: list[dict[str, Any]], reasons: list[str | None]) -> ErrorFactory | None:
    """When a limit counter's condition failed (dal/limits.py), that limit's problem: the
    cancellation reasons come in the order of the transaction's items."""
    for op, reason in zip(ops, reasons, strict=False):
        values = next(iter(op.values())).get("ExpressionAttributeValues") or {}
        if reason == "ConditionalCheckFailed" and ":limit_name" in values:
            from tenantry.dal import limits

            return lambda: limits.refusal(values)
    return None


def _default_conflict() -> TenantryError:
    return Conflict("the resource changed or already exists")


# --- reads ------------------------------------------------------------------------------------
# Consistency is the caller's choice, made per read: strongly consistent (the default here)
# where a stale answer could cause a wrong decision or a lost update; eventually
# consistent (half the price) where it cannot.


def get(key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
    with errors_mapped():
        resp = client().get_item(TableName=table_name(), Key=key, ConsistentRead=consistent)
    item = resp.get("Item")
    return plain(item) if item else None


def batch_get(keys: list[dict[str, str]], *, consistent: bool = False) -> list[dict[str, Any]]:
    """Items for up to 100 keys, in the order of `keys` (missing ones skipped)."""
    found = batch_get_keyed(keys, consistent=consistent)
    return [found[(k["PK"], k["SK"])] for k in keys if (k["PK"], k["SK"]) in found]


def batch_get_keyed(
    keys: list[dict[str, str]], *, consistent: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Independent reads in one BatchGetItem: the items found, by (PK, SK). Up to 100
    distinct keys; one consistency for all of them (DynamoDB's is per table)."""
    if not keys:
        return {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    pending: dict[str, Any] = {table_name(): {"Keys": keys, "ConsistentRead": consistent}}
    for _ in range(5):
        with errors_mapped():
            resp = client().batch_get_item(RequestItems=pending)
        for item in resp.get("Responses", {}).get(table_name(), []):
            found[(item["PK"], item["SK"])] = plain(item)
        pending = resp.get("UnprocessedKeys") or {}
        if not pending:
            break
    else:
        raise ServiceUnavailable(headers={"Retry-After": "1"})
    return found


def pick(found: dict[tuple[str, str], dict[str, Any]], key: dict[str, str]) -> Any:
    """The item of `key` in a batch_get_keyed answer, or None."""
    return found.get((key["PK"], key["SK"]))


def put(
    item: dict[str, Any],
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    on_condition: ErrorFactory | None = None,
) -> None:
    kwargs: dict[str, Any] = {"TableName": table_name(), "Item": storable(item)}
    _conditional(kwargs, condition, names, values)
    with errors_mapped(on_condition):
        client().put_item(**kwargs)


def update(
    key: dict[str, str],
    expression: str,
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    on_condition: ErrorFactory | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "TableName": table_name(),
        "Key": key,
        "UpdateExpression": expression,
        "ReturnValues": "ALL_NEW",
    }
    _conditional(kwargs, condition, names, values)
    with errors_mapped(on_condition):
        resp = client().update_item(**kwargs)
    return plain(resp["Attributes"])


def update_at(
    key: dict[str, str],
    changes: dict[str, Any],
    remove: tuple[str, ...],
    expected: int | None,
    refused: ErrorFactory,
) -> dict[str, Any]:
    """An admin's change of an existing item: SET `changes`, REMOVE `remove`, its version
    moving on by one; only at version `expected` when given (If-Match). `refused()` is the
    error when the item is missing or at another version. Returns the item as written."""
    expression, names, values = set_expression(changes, remove)
    condition = "attribute_exists(PK)"
    if expected is not None:
        condition += " AND version = :expected"
        values[":expected"] = expected
    return update(
        key,
        expression + " ADD version :one",
        condition=condition,
        names=names,
        values={**values, ":one": 1},
        on_condition=refused,
    )


def delete(
    key: dict[str, str],
    *,
    condition: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    on_condition: ErrorFactory | None = None,
) -> dict[str, Any] | None:
    kwargs: dict[str, Any] = {"TableName": table_name(), "Key": key, "ReturnValues": "ALL_OLD"}
    _conditional(kwargs, condition, names, values)
    with errors_mapped(on_condition):
        resp = client().delete_item(**kwargs)
    old = resp.get("Attributes")
    return plain(old) if old else None


def _conditional(
    kwargs: dict[str, Any],
    condition: str | None,
    names: dict[str, str] | None,
    values: dict[str, Any] | None,
) -> None:
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = values


def set_expression(
    changes: dict[str, Any], remove: tuple[str, ...] = ()
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`SET a = :a, ... REMOVE b` with placeholder names and values for every field."""
    names = {f"#f{i}": k for i, k in enumerate(changes)}
    values = {f":f{i}": storable(v) for i, v in enumerate(changes.values())}
    expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(changes)))
    if remove:
        names.update({f"#r{i}": k for i, k in enumerate(remove)})
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    return expression, names, values


def requirements(
    require: dict[str, Any] | None, names: dict[str, str], values: dict[str, Any]
) -> str:
    """` AND ...` conditions that each `require` attribute has its value (None: is absent),
    their placeholders added to `names` and `values`."""
    condition = ""
    for i, (attr, value) in enumerate((require or {}).items()):
        names[f"#q{i}"] = attr
        if value is None:
            condition += f" AND attribute_not_exists(#q{i})"
        else:
            values[f":q{i}"] = value
            condition += f" AND #q{i} = :q{i}"
    return condition


# --- transactions -----------------------------------------------------------------------


def tx_put(item: dict[str, Any], condition: str | None = None, **expr: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table_name(), "Item": storable(item)}
    _conditional(op, condition, expr.get("names"), expr.get("values"))
    return {"Put": op}


def tx_update(
    key: dict[str, str], expression: str, condition: str | None = None, **expr: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table_name(), "Key": key, "UpdateExpression": expression}
    _conditional(op, condition, expr.get("names"), expr.get("values"))
    return {"Update": op}


def tx_update_versioned(
    key: dict[str, str], changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Set `changes` on the item if it exists at `version`; its version moves on by one.
    Attributes not in `changes` (a counter another writer keeps) stay as they are."""
    expression, names, values = set_expression(changes)
    values.update({":version": version, ":one": 1})
    return tx_update(
        key,
        f"{expression} ADD version :one",
        "attribute_exists(PK) AND version = :version",
        names=names,
        values=values,
    )


def tx_delete(key: dict[str, str], condition: str | None = None, **expr: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table_name(), "Key": key}
    _conditional(op, condition, expr.get("names"), expr.get("values"))
    return {"Delete": op}


def tx_check(key: dict[str, str], condition: str, **expr: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table_name(), "Key": key}
    _conditional(op, condition, expr.get("names"), expr.get("values"))
    return {"ConditionCheck": op}


def transact(ops: list[dict[str, Any]], *, on_condition: ErrorFactory | None = None) -> None:
    """All `ops` or none. A failed condition is a limit counter's problem (dal/limits.py)
    if one of those failed, else `on_condition()` (409 by default)."""
    with errors_mapped(on_condition, ops):
        client().transact_write_items(TransactItems=ops)


def key_of(item: dict[str, Any], index: str | None = None) -> dict[str, Any]:
    """The key DynamoDB would return as LastEvaluatedKey after `item`."""
    key = {"PK": item["PK"], "SK": item["SK"]}
    if index:
        for attr in index_keys(index):
            key[attr] = item[attr]
    return key


# --- queries ------------------------------------------------------------------------------


def query(
    pk_value: str,
    *,
    index: str | None = None,
    sk_prefix: str | None = None,
    sk_after: str | None = None,
    sk_at_most: str | None = None,
    limit: int = 25,
    start_key: dict[str, Any] | None = None,
    forward: bool = True,
    filter_expression: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    consistent: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query call on the table or an index: (items, last evaluated key). The sort key
    range: `sk_prefix` (begins_with) or `sk_after` (exclusive lower bound), not both."""
    pk_name, sk_name = index_keys(index)
    expr_names = {"#pk": pk_name, **(names or {})}
    expr_values: dict[str, Any] = {":pk": pk_value, **(values or {})}
    condition = "#pk = :pk"
    if sk_prefix and sk_after:
        raise ValueError("a Query has one sort key condition: sk_prefix or sk_after")
    if sk_prefix:
        expr_names["#sk"] = sk_name
        expr_values[":skp"] = sk_prefix
        condition += " AND begins_with(#sk, :skp)"
    if sk_at_most:
        expr_names["#sk"] = sk_name
        expr_values[":skmax"] = sk_at_most
        condition += " AND #sk <= :skmax"
    if sk_after:
        expr_names["#sk"] = sk_name
        expr_values[":ska"] = sk_after
        condition += " AND #sk > :ska"
        if start_key and str(start_key.get(sk_name, "")) <= sk_after:
            # The cursor is below the range now (the bound moves with time), and DynamoDB
            # refuses a start key outside the key condition. Read upwards, everything still
            # in range lies after it anyway: start at the bound. Read downwards, the page
            # before it already reached the range's end: nothing is left.
            _check_start_key(start_key, index, pk_value, None)
            if not forward:
                return [], None
            start_key = None
    kwargs: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": expr_names,
        "ExpressionAttributeValues": expr_values,
        "Limit": limit,
        "ScanIndexForward": forward,
    }
    if index:
        kwargs["IndexName"] = index
    elif consistent:
        kwargs["ConsistentRead"] = True
    if filter_expression:
        kwargs["FilterExpression"] = filter_expression
    if start_key:
        _check_start_key(start_key, index, pk_value, sk_prefix)
        kwargs["ExclusiveStartKey"] = start_key
    from botocore.exceptions import ClientError

    try:
        with errors_mapped():
            resp = client().query(**kwargs)
    except ClientError as exc:
        if start_key and exc.response.get("Error", {}).get("Code") == "ValidationException":
            raise BadRequest("invalid cursor") from exc
        raise
    return [plain(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")


def _check_start_key(
    key: dict[str, Any], index: str | None, pk_value: str, sk_prefix: str | None
) -> None:
    """A cursor must continue this very list: exactly the key attributes of the table or
    index queried, in the partition queried (and under the sort-key prefix queried)."""
    pk_name, sk_name = index_keys(index)
    expected = {"PK", "SK", pk_name, sk_name}
    ok = (
        set(key) == expected
        and all(isinstance(v, str) for v in key.values())
        and key[pk_name] == pk_value
        and (not sk_prefix or key[sk_name].startswith(sk_prefix))
    )
    if not ok:
        raise BadRequest(
            "invalid cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "not a cursor of this list"}],
        )
