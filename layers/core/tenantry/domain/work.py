"""The agent protocol: work items that a cluster's agent claims under a lease, keeps alive,
releases or finishes, and the workflows waiting on them.

A workflow that needs a cluster queues a work item with the task token it waits on
(enqueue). The agent claims items (oldest first; atomic: a conditional write per item),
extends its lease while it works and reports the outcome. The outcome is written with its
effect on the table (the namespace record, for namespace work) in one transaction, then
sent to the waiting workflow. A lease that runs out puts the item back for the next claim
(attempt + 1, a new lease token); after AgentWorkMaxAttempts expired leases the item fails
with a reason that says so. A workflow that stops waiting (its Task timed out) gives up on
its item (abandon), so no agent does work nobody waits for.

Every report is idempotent: the same result again is 200 and changes nothing (it is sent
to the workflow again, which ignores a token it no longer waits on); a stale lease token
or another outcome for a finished item is 409.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tenantry import workflows
from tenantry.clock import now_iso
from tenantry.dal import namespaces as ns_store
from tenantry.dal import work as store
from tenantry.errors import Conflict, NotFound, ServiceUnavailable
from tenantry.observability import logger
from tenantry.settings import get_settings

AGENT_FAILURE = "AgentReportedFailure"
# Claim reads a few more candidates than asked for: some may be taken by another agent.
CANDIDATES_PER_CLAIM = 3
# How often an outcome's effect on a resource is worked out again when the resource was
# written between the read and the outcome's transaction.
EFFECT_ATTEMPTS = 4


def lease_seconds() -> int:
    return get_settings().agent_lease_seconds


def _later(now: str, seconds: int) -> str:
    from tenantry.domain.operations import later

    return later(now, timedelta(seconds=seconds))


# --- the control plane's side ---------------------------------------------------------------


def enqueue(item: dict[str, Any], task_token: str) -> dict[str, Any]:
    """Queue `item` (an id that names its request, so a retried request finds it) for its
    cluster's agent, waited on with `task_token`. If it exists, the workflow waits on the
    new token; if it is already finished, its outcome is sent to that token at once."""
    now = now_iso()
    created = store.put_new(
        {
            **item,
            "state": "Queued",
            "attempt": 0,
            "expired_leases": 0,
            "created_at": now,
            "updated_at": now,
            "task_token": task_token,
        }
    )
    if created or store.set_task_token(item["id"], task_token, now):
        return {"work_id": item["id"], "queued": created}
    finished = store.get(item["id"])
    if finished and finished.get("outcome"):
        _notify({**finished, "task_token": task_token}, finished["outcome"])
    return {"work_id": item["id"], "queued": False}


def abandon(work_id: str, reason: Callable[[dict[str, Any]], str]) -> dict[str, Any] | None:
    """The workflow stopped waiting: fail the item if it is still open (with its effect),
    with `reason(item)`. Returns the item's outcome (None if there is no such item)."""
    item = store.get(work_id)
    if item is None:
        return None
    if item.get("outcome"):
        return dict(item["outcome"])
    outcome = _outcome("Failed", reason(item))
    try:
        _finish(item, outcome, lease_token=None, notify=False)
    except Conflict:
        again = store.get(work_id) or {}
        return again.get("outcome")
    return outcome


# --- the agent's side -----------------------------------------------------------------------


def claim(cluster_id: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` items of the cluster, oldest first, each leased to this caller."""
    settings = get_settings()
    now = now_iso()
    leased: list[dict[str, Any]] = []
    for item in store.claimable(cluster_id, now, limit * CANDIDATES_PER_CLAIM):
        if len(leased) == limit:
            break
        expired = item["state"] == "Leased"
        if expired and int(item.get("expired_leases", 0)) + 1 >= settings.agent_work_max_attempts:
            _give_up(item, settings.agent_work_max_attempts)
            continue
        token = secrets.token_urlsafe(24)
        try:
            got = store.lease(item, token, _later(now, lease_seconds()), now, expired=expired)
        except Conflict:
            continue  # another agent's claim (or a result) came first
        leased.append(_deliverable(got))
        _heartbeat_workflow(got)
    return leased


def _deliverable(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the agent receives it: a DeploymentTask with its environment's secrets,
    a ResourceSync with its sensitive props, decrypted for this answer only (the table holds
    them sealed; never logged)."""
    if item.get("kind") == "ResourceSync":
        from tenantry.domain import resources

        return resources.open_sealed(item)
    if item.get("kind") != "DeploymentTask" or not item.get("env_id"):
        return item
    from tenantry.dal import secrets as secret_store
    from tenantry.secrets_crypto import decrypt_secret

    sealed, key = [], None
    while True:
        page, key = secret_store.page(item["project_id"], item["env_id"], 100, key)
        sealed.extend(page)
        if not key:
            break
    secrets_ = [
        {"collection": s["collection"], "name": s["name"], "contents": decrypt_secret(s)}
        for s in sealed
    ]
    return {**item, "secrets": secrets_}


def _give_up(item: dict[str, Any], attempts: int) -> None:
    reason = (
        f"the agent did not finish the work within {attempts} leases of {lease_seconds()} s each"
    )
    try:
        _finish(item, _outcome("Failed", reason), lease_token=item.get("lease_token"))
    except Conflict:
        pass  # it moved on meanwhile (a late result, another claim): nothing to give up
    except ServiceUnavailable:
        pass  # recorded; the waiting Task's own timeout ends the wait


def owned(cluster_id: str, work_id: str) -> dict[str, Any]:
    """The item, if it is this cluster's: an agent sees only its own cluster's work."""
    item = store.get(work_id)
    if item is None or item.get("cluster_id") != cluster_id:
        raise NotFound("work item not found")
    return item


def extend(cluster_id: str, work_id: str, lease_token: str) -> dict[str, Any]:
    item = owned(cluster_id, work_id)
    now = now_iso()
    try:
        got = store.extend(item, lease_token, _later(now, lease_seconds()), now)
    except Conflict:
        raise _lost(item, lease_token) from None
    _heartbeat_workflow(got)
    return {
        "lease_expires_at": got["lease_expires_at"],
        "cancel_requested": bool(got.get("cancel_requested")),
    }


def release(cluster_id: str, work_id: str, lease_token: str, reason: str | None) -> None:
    item = owned(cluster_id, work_id)
    try:
        store.release(item, lease_token, reason, now_iso())
    except Conflict:
        raise _lost(item, lease_token) from None


def report(
    cluster_id: str,
    work_id: str,
    lease_token: str,
    status: str,
    reason: str | None,
    reported_status: dict[str, Any] | None,
) -> dict[str, Any]:
    """Record the agent's outcome and resume the waiting workflow. The same result again
    (same token, same status) is answered as before and sent again; anything else for a
    finished item is 409."""
    item = owned(cluster_id, work_id)
    earlier = item.get("outcome")
    if earlier:
        if earlier.get("lease_token") == lease_token and earlier["status"] == status:
            _notify(item, earlier)
            return dict(earlier)
        raise Conflict(
            f"the work item already finished as {earlier['status']}"
            + ("" if earlier.get("lease_token") == lease_token else " under another lease")
        )
    if reason is None and status == "Failed":
        reason = "the agent reported a failure without a reason"
    outcome = _outcome(status, reason, lease_token=lease_token, reported_status=reported_status)
    try:
        _finish(item, outcome, lease_token=lease_token)
    except Conflict:
        again = owned(cluster_id, work_id)
        if again.get("outcome"):  # a concurrent identical report won: answer the same
            return report(cluster_id, work_id, lease_token, status, reason, reported_status)
        raise _lost(again, lease_token) from None
    return outcome


def _lost(item: dict[str, Any], lease_token: str) -> Conflict:
    if item.get("outcome"):
        return Conflict(f"the work item already finished as {item['outcome']['status']}")
    if item.get("lease_token") != lease_token:
        return Conflict("the lease is no longer yours (it expired or was released); stop working")
    return Conflict("the work item is not leased; claim it again")


# --- outcomes ---------------------------------------------------------------------------------


def _outcome(status: str, reason: str | None, **extra: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = {"status": status, "finished_at": now_iso()}
    if reason:
        outcome["reason"] = reason
    outcome.update({k: v for k, v in extra.items() if v is not None})
    return outcome


# What a finished item means for the table, by kind: the namespace record's new status.
NAMESPACE_EFFECTS = {
    "CreateNamespace": ({"Done": "Created", "Failed": "Failed"}, ("Pending",)),
    "DeleteNamespace": ({"Done": "Deleted", "Failed": "Failed"}, ("Deleting",)),
}


def _effects(item: dict[str, Any], outcome: dict[str, Any]) -> list[dict[str, Any]]:
    if item["kind"] == "ResourceSync":
        from tenantry.domain import resources

        return resources.sync_effects(item, outcome)
    if item["kind"] not in NAMESPACE_EFFECTS:
        return []
    statuses, when = NAMESPACE_EFFECTS[item["kind"]]
    record = {
        "PK": f"PROJECT#{item['project_id']}",
        "cluster": item["cluster_name"],
        "cluster_id": item["cluster_id"],
    }
    status = statuses[outcome["status"]]
    reason = outcome.get("reason") if status == "Failed" else None
    return ns_store.settle(record, status, reason, outcome["finished_at"], when=when)


def _finish(
    item: dict[str, Any],
    outcome: dict[str, Any],
    *,
    lease_token: str | None,
    notify: bool = True,
) -> None:
    for attempt in range(EFFECT_ATTEMPTS):
        try:
            store.finish(item, outcome, _effects(item, outcome), lease_token=lease_token)
            break
        except Conflict:
            # Either the item moved on (the caller explains) or only its effect's record did:
            # a newer request for that namespace (the outcome is then the item's alone), or a
            # resource written meanwhile (its effect is worked out again from what it is now).
            again = store.get(item["id"]) or {}
            still_open = again.get("state") in store.OPEN_STATES and (
                lease_token is None or again.get("lease_token") == lease_token
            )
            if not still_open:
                raise
            item = again
            if item["kind"] != "ResourceSync" or attempt == EFFECT_ATTEMPTS - 1:
                store.finish(again, outcome, [], lease_token=lease_token)
                break
    if notify:
        _notify(item, outcome)


def _notify(item: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Tell the waiting workflow. Throttled or unreachable: 503, and the agent reports again
    (the outcome is recorded; the repeat only sends it)."""
    token = item.get("task_token")
    if not token:
        return
    try:
        if outcome["status"] == "Done":
            workflows.send_success(
                token,
                {"work_id": item["id"], "status": "Done", "cluster": item.get("cluster_name")},
            )
        else:
            workflows.send_failure(token, AGENT_FAILURE, outcome.get("reason", "failed"))
    except Exception as exc:
        logger.warning(
            "could not resume the workflow", extra={"work_id": item["id"]}, exc_info=True
        )
        raise ServiceUnavailable(
            "the outcome is recorded but the workflow could not be told; report it again",
            headers={"Retry-After": "1"},
        ) from exc


def _heartbeat_workflow(item: dict[str, Any]) -> None:
    """A claim or a lease extension is a sign of life for the waiting Task (HeartbeatSeconds).
    Best effort: the lease is what protects the work."""
    token = item.get("task_token")
    if not token:
        return
    try:
        workflows.send_heartbeat(token)
    except Exception:
        logger.warning("could not send the task heartbeat", extra={"work_id": item["id"]})
