"""Clusters: registered by platform admins, each with one agent token (shown once, stored
hashed, rotated at once), reached only through that agent (tenantry.domain.work).
Project members read the clusters their projects name, and their namespaces there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry import auth
from tenantry.clock import new_id, now_iso
from tenantry.dal import clusters as store
from tenantry.domain.admins import require_admin
from tenantry.errors import NotFound, UnknownReference
from tenantry.models.clusters import (
    AgentToken,
    Cluster,
    ClusterCreate,
    ClusterCreated,
    ClusterPatch,
)
from tenantry.models.principal import Principal
from tenantry.settings import get_settings

# A cluster reads not ok once its agent has been silent for this many heartbeat intervals.
MISSED_HEARTBEATS = 3


def to_model(item: dict[str, Any], now: datetime | None = None) -> Cluster:
    return Cluster(**{**store.public(item), **health(item, now)})


def health(item: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """`is_ok` and `not_ok_reason` as read now: the agent's last report, unless it has
    been silent for MISSED_HEARTBEATS intervals (or never reported)."""
    interval = get_settings().agent_heartbeat_seconds
    seen = item.get("last_seen_at")
    if not seen:
        return {"is_ok": False, "not_ok_reason": "the cluster's agent has never connected"}
    silent = (now or datetime.now(UTC)) - datetime.strptime(seen, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )
    if silent > timedelta(seconds=MISSED_HEARTBEATS * interval):
        return {
            "is_ok": False,
            "not_ok_reason": f"no heartbeat from the cluster's agent for {int(silent.total_seconds())} s "
            f"(expected every {interval} s; last seen at {seen})",
        }
    if not item.get("reported_ok", False):
        return {
            "is_ok": False,
            "not_ok_reason": item.get("reported_reason") or "the agent reports a problem",
        }
    return {"is_ok": True, "not_ok_reason": None}


def register(principal: Principal, body: ClusterCreate) -> ClusterCreated:
    require_admin(principal)
    now = now_iso()
    cluster = {
        "id": new_id(),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "ignore": False,
        **body.model_dump(exclude_none=True),
    }
    secret = auth.new_token_secret()
    store.create(cluster, auth.hash_token(secret), new_id())
    return ClusterCreated(**to_model(cluster).model_dump(), agent_token=secret)


def get(principal: Principal, cluster_id: str) -> Cluster:
    require_admin(principal)
    return to_model(_cluster_or_404(cluster_id, consistent=True))


def list_clusters(
    principal: Principal, name: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Cluster], dict[str, Any] | None]:
    require_admin(principal)
    if name is not None:  # a name is unique: its pointer, no list read
        cluster_id = store.id_by_name(name)
        found = store.get(cluster_id, consistent=False) if cluster_id else None
        return ([to_model(found)] if found else []), None
    items, last = store.page(limit, start_key)
    now = datetime.now(UTC)
    return [to_model(i, now) for i in items], last


def patch(
    principal: Principal, cluster_id: str, body: ClusterPatch, expected: int | None
) -> Cluster:
    require_admin(principal)
    sent = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in sent.items() if v is not None}
    remove = tuple(k for k, v in sent.items() if v is None)  # null clears a setting
    changes["updated_at"] = now_iso()
    return to_model(store.update(cluster_id, changes, remove, expected))


def delete(principal: Principal, cluster_id: str, expected: int | None) -> None:
    require_admin(principal)
    store.delete(_cluster_or_404(cluster_id, consistent=True), expected)


def rotate_agent_token(principal: Principal, cluster_id: str) -> AgentToken:
    require_admin(principal)
    cluster = _cluster_or_404(cluster_id, consistent=True)
    secret = auth.new_token_secret()
    store.rotate_token(cluster, auth.hash_token(secret), new_id(), now_iso())
    return AgentToken(cluster_id=cluster_id, agent_token=secret)


def _cluster_or_404(cluster_id: str, *, consistent: bool) -> dict[str, Any]:
    cluster = store.get(cluster_id, consistent=consistent)
    if cluster is None:
        raise NotFound("cluster not found")
    return cluster


# --- what projects name -------------------------------------------------------------------------


def check_names(names: list[str]) -> list[dict[str, Any]]:
    """The problem entries for cluster names a project may not name (unregistered or
    ignored), as `loc`/`msg` pairs for `clusters[i].name`."""
    found = store.by_names(names)
    errors = []
    for i, name in enumerate(names):
        cluster = found.get(name)
        if cluster is None:
            errors.append(
                {
                    "loc": ["body", "clusters", i, "name"],
                    "msg": f"cluster {name!r} is not registered",
                }
            )
        elif cluster.get("ignore"):
            errors.append(
                {"loc": ["body", "clusters", i, "name"], "msg": f"cluster {name!r} is ignored"}
            )
    return errors


def require_names(names: list[str]) -> None:
    errors = check_names(names)
    if errors:
        raise UnknownReference("the project names clusters it cannot use", errors=errors)
