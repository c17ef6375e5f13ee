"""A project's history: the event log of its changes, under the project's partition, each
entry written in the same transaction as the change it records.

Entries are numbered by a per-project sequence, `history_seq` on the project item: an
entry's key is HIST#<seq> (zero-padded), and the transaction that writes entries moves
`history_seq` from the value the writer read to that value plus the entries written,
conditioned on it still being the value read. So entries are committed in key order: a
client paging the history never skips an entry that commits later (it can only land after
the last one read), and two writers never number alike (one of them re-reads and tries
again, see `Sequenced`). A retried workflow step writes nothing twice because its entry
goes with its "done" mark (dal/operations.py).

How a write uses it: `entry(...)` builds an entry's Put with a provisional key;
`sequenced(ops, project_id, after)` numbers the project's entries in a transaction after
`after` (the history_seq the writer read) and adds the sequence's move and condition to
the transaction's op on the project item (a Put of a new project, an Update, or a
ConditionCheck, which becomes an Update).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import keys, table

SEQ = "history_seq"
PROVISIONAL = "HIST#provisional#"


class Sequenced(Exception):
    """The project's history moved on between the writer's read and its write (the only
    condition that failed): read history_seq again and retry."""


def entry(
    project_id: str,
    actor: str,
    event: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """A TransactWriteItems Put of one history entry, numbered later by `sequenced`."""
    at = at or now_iso()
    item: dict[str, Any] = {
        "PK": keys.project_pk(project_id),
        "SK": f"{PROVISIONAL}{secrets.token_hex(8)}",
        "entity": "history",
        "at": at,
        "actor": actor,
        "event": event,
    }
    if from_status:
        item["from"] = from_status
    if to_status:
        item["to"] = to_status
    if detail:
        item["detail"] = detail
    return table.tx_put(item, "attribute_not_exists(PK)")


def is_entry(op: dict[str, Any], project_id: str) -> bool:
    """A provisional entry of the project's history (not numbered yet)."""
    item = op.get("Put", {}).get("Item", {})
    return item.get("PK") == keys.project_pk(project_id) and str(item.get("SK", "")).startswith(
        PROVISIONAL
    )


def sequence_of(project: dict[str, Any] | None) -> int:
    return int((project or {}).get(SEQ, 0))


def sequenced(ops: list[dict[str, Any]], project_id: str, after: int) -> list[dict[str, Any]]:
    """`ops` with the project's provisional entries numbered after `after`, and the
    project item's op moving history_seq to the last number, conditioned on `after`."""
    out: list[dict[str, Any]] = []
    written = 0
    for op in ops:
        if is_entry(op, project_id):
            written += 1
            item = op["Put"]["Item"]
            numbered = {**item, **keys.history(project_id, after + written), "seq": after + written}
            out.append({"Put": {**op["Put"], "Item": numbered}})
        else:
            out.append(op)
    if not written:
        return out
    project_key = keys.project(project_id)
    for i, op in enumerate(out):
        if _key_of(op) == project_key:
            out[i] = _with_sequence(op, after, after + written)
            return out
    raise ValueError(f"history of {project_id} written without an op on the project item")


def _key_of(op: dict[str, Any]) -> dict[str, Any] | None:
    ((kind, body),) = op.items()
    if kind == "Put":
        return {"PK": body["Item"].get("PK"), "SK": body["Item"].get("SK")}
    return dict(body.get("Key", {}))


def _with_sequence(op: dict[str, Any], after: int, last: int) -> dict[str, Any]:
    ((kind, body),) = op.items()
    if kind == "Put":  # a new project: its sequence starts here
        return {"Put": {**body, "Item": {**body["Item"], SEQ: last}}}
    names = {**body.get("ExpressionAttributeNames", {}), "#hseq": SEQ}
    values = {**body.get("ExpressionAttributeValues", {}), ":hseq_after": after, ":hseq": last}
    # A project written before sequences has none: it counts as 0.
    guard = (
        "(#hseq = :hseq_after OR attribute_not_exists(#hseq))"
        if after == 0
        else "#hseq = :hseq_after"
    )
    condition = body.get("ConditionExpression")
    condition = f"({condition}) AND {guard}" if condition else guard
    expression = body.get("UpdateExpression", "")
    if expression.startswith("SET "):
        expression = f"SET #hseq = :hseq, {expression[4:]}"
    else:
        expression = f"SET #hseq = :hseq {expression}".rstrip()
    update = {
        "TableName": body["TableName"],
        "Key": body["Key"],
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    return {"Update": update}


def moved_on(project_id: str, after: int) -> bool:
    """After a failed condition: did the history move past `after`? (strongly consistent)"""
    return sequence_of(table.get(keys.project(project_id))) != after


def page(
    project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return table.query(
        keys.project_pk(project_id), sk_prefix=keys.HISTORY_PREFIX, limit=limit, start_key=start_key
    )


# --- the table's stream ------------------------------------------------------------------
# Lifecycle events (tenantry.domain.lifecycle_events) are the entries as the stream carries
# them: Lambda's DynamoDB stream records, images in DynamoDB's attribute-value JSON.
_NUMBERED = re.compile(rf"{keys.HISTORY_PREFIX}[0-9]{{12}}")


def written(record: dict[str, Any]) -> dict[str, Any] | None:
    """The history entry a stream record says was written (an INSERT of a numbered
    HIST#<seq> item; entries are never changed or removed): {project_id, seq, at, actor,
    event, from, to, detail}, nothing else of the item. None for any other record."""
    change = record.get("dynamodb") or {}
    sk = ((change.get("Keys") or {}).get("SK") or {}).get("S", "")
    image = change.get("NewImage")
    if record.get("eventName") != "INSERT" or not _NUMBERED.fullmatch(sk) or not image:
        return None
    item = _deserialized(image)
    pk = str(item.get("PK", ""))
    if item.get("entity") != "history" or not pk.startswith(keys.project_pk("")):
        return None
    return {
        "project_id": pk.removeprefix(keys.project_pk("")),
        "seq": int(sk.removeprefix(keys.HISTORY_PREFIX)),
        "at": item.get("at"),
        "actor": item.get("actor"),
        "event": item.get("event"),
        "from": item.get("from"),
        "to": item.get("to"),
        "detail": item.get("detail"),
    }


def _deserialized(image: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: table.plain(deserializer.deserialize(v)) for k, v in image.items()}
