"""Deployment resource types and deployment resources (API.md, "Deployment resource types").

Types. A chart declares them in `platz/resources.yaml` (chart discovery keeps it as the
chart's `resource_types`). After each successful Install, Upgrade or Reinstall of a
deployment, in the transaction that records it (tenantry.domain.tasks), the chart's types
are upserted, keyed by (the deployment's environment, or `global` when the type says so;
the deployment's kind; the key): their ids are made from that key, so an upsert rewrites
the same item. Types are never removed (a resource keeps its type when a later chart
drops it). Who reads them: everybody signed in reads the global types, and an
environment's types whoever sees that environment (its project's members, platform
admins, a bot with a role there).

Resources. An instance of a type attached to a deployment: `{name, props}`, props valid
against the type's values UI. Props whose input says `sensitive: true` are write-only:
sealed one by one with the stack's KMS key (tenantry.secrets_crypto, the secrets' key and
rules) before they reach the table, opened only in the agent's claim; no answer, history
entry, idempotency record or log line holds them. Writers: whoever may change the
deployment (an Admin of its environment, the project's owner and admins, platform admins,
or a Maintainer or Owner of its kind there; the type's `lifecycle.<step>.allowed_role:
Owner` narrows a step to Owners); bots by the same rules. Members read.

Syncing. Every write (POST, PATCH, DELETE) moves the resource's version on and sets its
sync_status (Creating, Updating, Deleting). A resource has at most one ResourceSync work
item at a time (`sync_work_id`), queued in the write's transaction when it has none, for
the deployment's cluster's agent, carrying a snapshot of the resource at that version.
When the agent's outcome is recorded (tenantry.domain.work, in the same transaction): if
the resource is still at the item's version it settles (Done: Ready, and a deletion
`exists: false` with its name free again; Failed, or no agent finishing it within the
attempts: Error with the reason); if it was written meanwhile, the next item (the newest
version) is queued instead. So a cluster never sees two syncs of one resource at once,
nor an older one after a newer one.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from tenantry.clock import new_id, now_iso
from tenantry.dal import catalog, history, keys, table
from tenantry.dal import deployments as deployment_store
from tenantry.dal import resources as store
from tenantry.dal import work as work_store
from tenantry.domain import deployment_access, environment_access, project_access, values_ui
from tenantry.errors import Conflict, NotFound, PreconditionFailed, UnknownReference, Unprocessable
from tenantry.models.common import unstorable
from tenantry.models.principal import Principal
from tenantry.models.resources import (
    DeclaredResourceType,
    DeploymentResource,
    DeploymentResourceCreate,
    DeploymentResourcePatch,
    DeploymentResourceType,
)
from tenantry.observability import logger

TYPE_NAMESPACE = uuid.UUID("3c8e5a71-92d4-4f0b-b6e2-1a7d9c4f5e08")
MAX_TYPES_PER_CHART = 25  # what one install upserts (the rest is ignored, and logged)
MAX_PROPS_BYTES = 64 * 1024  # a resource's props as JSON (a ConfigMap holds 1 MiB)
WRITE_ATTEMPTS = 3
SYNC_KIND = "ResourceSync"
WORKING = {"create": "Creating", "update": "Updating", "delete": "Deleting"}


# --- types ----------------------------------------------------------------------------------------


def type_id(scope: str, kind_id: str, key: str) -> str:
    """One type per (environment or global, deployment kind, key)."""
    return str(uuid.uuid5(TYPE_NAMESPACE, f"{scope}/{kind_id}/{key}"))


def declared_types(resource_types: Any) -> list[tuple[DeclaredResourceType, dict[str, Any]]]:
    """The valid entries of a chart's `resource_types` (one mapping, a list of them, or a
    list of such lists: a file of several documents), with each one's spec as written.
    An entry that is not a ResourceType (no key, no spec, a key no label may hold) is
    skipped and logged; a key declared twice counts once (the first)."""
    entries: list[dict[str, Any]] = []

    def walk(value: Any, depth: int) -> None:
        if isinstance(value, dict):
            entries.append(value)
        elif isinstance(value, list) and depth < 2:
            for nested in value:
                walk(nested, depth + 1)

    walk(resource_types, 0)
    found: list[tuple[DeclaredResourceType, dict[str, Any]]] = []
    seen: set[str] = set()
    for entry in entries:
        try:
            declared = DeclaredResourceType.model_validate(entry)
        except ValidationError as exc:
            logger.warning(
                "a resource type of the chart is skipped",
                extra={"key": str(entry.get("key"))[:64], "errors": exc.error_count()},
            )
            continue
        if declared.key not in seen:
            seen.add(declared.key)
            found.append((declared, entry["spec"]))
    if len(found) > MAX_TYPES_PER_CHART:
        logger.warning("the chart declares too many resource types", extra={"count": len(found)})
    return found[:MAX_TYPES_PER_CHART]


def type_upserts(deployment: dict[str, Any], chart_id: str, now: str) -> list[dict[str, Any]]:
    """The transaction pieces that upsert the types of `chart_id` for `deployment` (after
    its Install, Upgrade or Reinstall succeeded)."""
    chart = catalog.get_chart(chart_id)
    if chart is None:
        return []
    ops = []
    for declared, spec in declared_types(chart.get("resource_types")):
        is_global = declared.spec.global_
        scope = keys.GLOBAL_RESOURCE_SCOPE if is_global else deployment["env_id"]
        resource_type = {
            "id": type_id(scope, deployment["kind_id"], declared.key),
            "deployment_kind_id": deployment["kind_id"],
            "key": declared.key,
            "spec": table.storable(spec),
            "chart_id": chart_id,
            "env_id": None if is_global else deployment["env_id"],
            "project_id": None if is_global else deployment["project_id"],
        }
        ops.append(store.type_upsert(resource_type, scope, now))
    return ops


def type_model(item: dict[str, Any]) -> DeploymentResourceType:
    return DeploymentResourceType.model_validate(store.strip(item))


def _sees_type(principal: Principal, item: dict[str, Any]) -> bool:
    """Global types: everybody signed in; an environment's: whoever sees the environment."""
    if not item.get("env_id"):
        return True
    try:
        environment_access.scope(principal, item["project_id"], item["env_id"])
    except NotFound:
        return False
    return True


def list_types(
    principal: Principal,
    env_id: str | None,
    kind_id: str | None,
    key: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[DeploymentResourceType], dict[str, Any] | None]:
    """The global types, or with `env_id` that environment's: nothing (an empty page, as
    for an environment without types) when the caller does not see it."""
    scope = env_id or keys.GLOBAL_RESOURCE_SCOPE
    if env_id is not None:
        # One type of the scope names its project: whether the caller sees the environment
        # is decided before any filter, so a page of nothing never tells what exists.
        probe, _ = store.page_types(scope, None, None, 1, None)
        if not probe or not _sees_type(principal, probe[0]):
            return [], None
    items, last = store.page_types(scope, kind_id, key, limit, start_key)
    return [type_model(i) for i in items], last


def get_type(principal: Principal, type_id_: str) -> DeploymentResourceType:
    item = store.get_type(type_id_)
    if item is None or not _sees_type(principal, item):
        raise NotFound("deployment resource type not found")
    return type_model(item)


# --- resources: reads --------------------------------------------------------------------------


def to_model(item: dict[str, Any]) -> DeploymentResource:
    """What callers see: never the sealed props, nor the sync bookkeeping (numbers as JSON
    numbers, also right after a write, whose props are already as the table stores them)."""
    return DeploymentResource.model_validate(store.strip(table.plain(item)))


def _resource_or_404(principal: Principal, project_id: str, resource_id: str) -> dict[str, Any]:
    deployment_access.visible(principal, project_id)
    found = store.get(project_id, resource_id)
    if found is None:
        raise NotFound("deployment resource not found")
    return found


def list_resources(
    principal: Principal,
    project_id: str,
    type_id_: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[DeploymentResource], dict[str, Any] | None]:
    deployment_access.visible(principal, project_id)
    items, last = store.page(project_id, type_id_, limit, start_key)
    return [to_model(i) for i in items], last


def get(principal: Principal, project_id: str, resource_id: str) -> DeploymentResource:
    return to_model(_resource_or_404(principal, project_id, resource_id))


# --- resources: writes --------------------------------------------------------------------------


def _roles(resource_type: dict[str, Any], step: str) -> tuple[str, ...]:
    """Who besides the environment's Admins and the project's managers may do `step`: the
    type's lifecycle may narrow it to Owners; Maintainers and Owners otherwise."""
    lifecycle = (resource_type.get("spec") or {}).get("lifecycle") or {}
    declared = lifecycle.get(step) if isinstance(lifecycle, dict) else None
    if isinstance(declared, dict) and declared.get("allowed_role") == "Owner":
        return deployment_access.OWNER_ONLY
    return deployment_access.OWNER_OR_MAINTAINER


def _writer(
    principal: Principal, deployment: dict[str, Any], roles: tuple[str, ...]
) -> environment_access.Scope:
    """The caller may change the deployment's resources (403 otherwise): an Admin of its
    environment, a manager of the project, or one of `roles` on its kind there."""
    return deployment_access.writer(
        principal, deployment["project_id"], deployment["env_id"], deployment["kind_id"], roles
    )


def _usable_type(type_id_: str, deployment: dict[str, Any]) -> dict[str, Any]:
    """A type of the deployment's kind, global or of its environment (422 otherwise)."""
    found = store.get_type(type_id_)
    usable = (
        found is not None
        and found["deployment_kind_id"] == deployment["kind_id"]
        and found.get("env_id") in (None, deployment["env_id"])
    )
    if not usable or found is None:
        raise UnknownReference(
            "no such resource type for this deployment's kind and environment",
            errors=[{"loc": ["body", "type_id"], "msg": "no such resource type"}],
        )
    return found


def sealed_id(resource_id: str, prop: str) -> str:
    """What a sealed prop is bound to (the KMS encryption context's `tenantry:secret_id`)."""
    return f"resource/{resource_id}/{prop}"


def _props(
    resource_type: dict[str, Any],
    sent: dict[str, Any],
    old_sealed: dict[str, Any] | None,
    *,
    project_id: str,
    env_id: str,
    resource_id: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain props, sealed props) for `sent`, valid against the type's values UI (422
    otherwise). A sensitive prop left out keeps its sealed value."""
    declared = {
        i["id"]: i for i in values_ui.inputs((resource_type.get("spec") or {}).get("values_ui"))
    }
    sensitive = {k for k, i in declared.items() if i.get("sensitive") is True}
    kept = {k: v for k, v in (old_sealed or {}).items() if k in sensitive and k not in sent}
    errors = []
    for key in sent:
        if key not in declared:
            errors.append({"loc": ["body", "props", key], "msg": "not an input of the type"})
    for key, declaration in declared.items():
        if key in sent:
            wrong = values_ui.value_problem(declaration, sent[key]) or unstorable(sent[key])
            if wrong:
                errors.append({"loc": ["body", "props", key], "msg": wrong})
        elif declaration.get("required") and key not in kept:
            errors.append({"loc": ["body", "props", key], "msg": "required by the type"})
    if not errors and len(json.dumps(sent)) > MAX_PROPS_BYTES:
        errors.append({"loc": ["body", "props"], "msg": f"over {MAX_PROPS_BYTES} bytes as JSON"})
    if errors:
        raise Unprocessable("props do not satisfy the resource type's values UI", errors=errors)
    plain = {k: table.storable(v) for k, v in sent.items() if k not in sensitive}
    sealed = dict(kept)
    if any(k in sensitive for k in sent):
        from tenantry.secrets_crypto import seal

        for key in sorted(k for k in sent if k in sensitive):
            text = json.dumps(sent[key])
            sealed[key] = seal(project_id, env_id, sealed_id(resource_id, key), text)
    return plain, sealed


def _sync_item(
    resource: dict[str, Any],
    deployment: dict[str, Any],
    resource_type: dict[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """The ResourceSync work item of the resource as it is (its version), for the
    deployment's cluster's agent. Sealed props stay sealed until an agent claims it."""
    declared = values_ui.inputs(((resource_type or {}).get("spec") or {}).get("values_ui"))
    snapshot: dict[str, Any] = {
        "id": resource["id"],
        "type_id": resource["type_id"],
        "type_key": (resource_type or {}).get("key") or resource.get("type_key"),
        "deployment_id": resource["deployment_id"],
        "name": resource["name"],
        "version": resource["version"],
        "action": "Apply" if resource["desired"] == "present" else "Delete",
        "props": resource.get("props") or {},
        "sensitive": sorted(i["id"] for i in declared if i.get("sensitive") is True),
    }
    if resource.get("sealed") and snapshot["action"] == "Apply":
        snapshot["sealed"] = resource["sealed"]
    return {
        "id": new_id(),
        "kind": SYNC_KIND,
        "cluster_id": deployment["cluster_id"],
        "project_id": resource["project_id"],
        "env_id": deployment["env_id"],
        "namespace": deployment["namespace"],
        "release_name": deployment["release_name"],
        "resource": snapshot,
        "state": "Queued",
        "attempt": 0,
        "expired_leases": 0,
        "created_at": now,
        "updated_at": now,
    }


def create(
    principal: Principal, project_id: str, body: DeploymentResourceCreate
) -> DeploymentResource:
    deployment = deployment_access.deployment_or_404_for(principal, project_id, body.deployment_id)
    s = _writer(principal, deployment, deployment_access.OWNER_OR_MAINTAINER)
    resource_type = _usable_type(body.type_id, deployment)
    if _roles(resource_type, "create") == deployment_access.OWNER_ONLY:
        s = _writer(principal, deployment, deployment_access.OWNER_ONLY)
    if deployment["status"] == "Deleting":
        raise Conflict("the deployment is being deleted")
    now = now_iso()
    resource_id = new_id()
    plain, sealed = _props(
        resource_type,
        body.props,
        None,
        project_id=project_id,
        env_id=deployment["env_id"],
        resource_id=resource_id,
    )
    resource: dict[str, Any] = {
        "id": resource_id,
        "project_id": project_id,
        "type_id": resource_type["id"],
        "type_key": resource_type["key"],
        "deployment_id": deployment["id"],
        "env_id": deployment["env_id"],
        "name": body.name,
        "props": plain,
        "exists": True,
        "desired": "present",
        "sync_status": WORKING["create"],
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if sealed:
        resource["sealed"] = sealed
    item = _sync_item(resource, deployment, resource_type, now)
    resource.update(sync_work_id=item["id"], sync_since=now)
    ops = [
        store.put(resource),
        store.name_guard(project_id, resource_type["id"], body.name, resource_id),
        store.deployment_count(project_id, deployment["id"], 1, not_deleting=True),
        work_store.new_item(item),
    ]
    entry = _entry(project_id, principal, "deployment_resource_created", resource, now)
    try:
        deployment_access.commit(s, ops, entry)
    except Conflict as exc:
        if store.name_taken(project_id, resource_type["id"], body.name):
            raise Conflict(
                f"a {resource_type['key']} named {body.name!r} exists in this project already"
            ) from exc
        again = deployment_store.get(project_id, deployment["id"])
        if again is None or again["status"] == "Deleting":
            raise Conflict("the deployment is being deleted") from exc
        raise
    return to_model(resource)


def _entry(
    project_id: str, principal: Principal, event: str, resource: dict[str, Any], now: str
) -> dict[str, Any]:
    """A history entry of a resource's change: which one, never its props."""
    return history.entry(
        project_id,
        project_access.actor(principal),
        event,
        at=now,
        detail={
            "resource_id": resource["id"],
            "type_id": resource["type_id"],
            "deployment_id": resource["deployment_id"],
            "name": resource["name"],
            "version": resource["version"],
        },
    )


def patch(
    principal: Principal,
    project_id: str,
    resource_id: str,
    body: DeploymentResourcePatch,
    expected: int | None,
) -> DeploymentResource:
    sent = body.model_dump(exclude_unset=True)

    def change(resource: dict[str, Any], resource_type: dict[str, Any] | None) -> dict[str, Any]:
        if resource.get("desired") != "present":
            raise Conflict("the resource is being deleted")
        new = {**resource, "sync_status": WORKING["update"]}
        if "name" in sent:
            new["name"] = sent["name"]
        if "props" in sent:
            if resource_type is None:
                raise Conflict("the resource's type is no longer in the catalog")
            plain, sealed = _props(
                resource_type,
                sent["props"],
                resource.get("sealed"),
                project_id=project_id,
                env_id=resource["env_id"],
                resource_id=resource_id,
            )
            new["props"] = plain
            if sealed:
                new["sealed"] = sealed
            else:
                new.pop("sealed", None)
        return new

    return _write(principal, project_id, resource_id, expected, "update", change)


def delete(
    principal: Principal, project_id: str, resource_id: str, expected: int | None
) -> DeploymentResource:
    """202: the resource is Deleting until its agent has removed it, then `exists: false`.
    Again while Deleting: the same answer, nothing new; after a failed deletion: again."""

    def change(resource: dict[str, Any], resource_type: dict[str, Any] | None) -> dict[str, Any]:
        return {**resource, "desired": "absent", "sync_status": WORKING["delete"]}

    return _write(principal, project_id, resource_id, expected, "delete", change)


def _write(
    principal: Principal,
    project_id: str,
    resource_id: str,
    expected: int | None,
    step: str,
    change: Any,
) -> DeploymentResource:
    """Read, `change`, write conditioned on what was read (version and sync item), with the
    next sync item queued when none is open; read again and retry when only the sync's
    outcome moved on meanwhile."""
    for _ in range(WRITE_ATTEMPTS):
        resource = store.get(project_id, resource_id)
        if resource is None:
            deployment_access.visible(
                principal, project_id
            )  # the project's 404 first, for outsiders
            raise NotFound("deployment resource not found")
        # whoever sees the deployment's environment (a bot with a role there, too); its
        # deployment exists while it has resources (deployments.delete)
        deployment = deployment_access.deployment_or_404_for(
            principal, project_id, resource["deployment_id"]
        )
        resource_type = store.get_type(resource["type_id"])
        s = _writer(principal, deployment, _roles(resource_type or {}, step))
        project_access.check_version(resource, expected, "deployment resource")
        if not resource.get("exists", True):
            raise Conflict("the resource was deleted")
        if step == "delete" and resource.get("sync_status") == WORKING["delete"]:
            return to_model(resource)
        now = now_iso()
        new = change(resource, resource_type)
        new.update(updated_at=now, version=int(resource["version"]) + 1)
        new.pop("sync_reason", None)
        ops = []
        if not resource.get("sync_work_id"):  # else the open item's outcome queues the next
            item = _sync_item(new, deployment, resource_type, now)
            new.update(sync_work_id=item["id"], sync_since=now)
            ops.append(work_store.new_item(item))
        ops.append(
            store.replace(new, int(resource["version"]), sync_work_id=resource.get("sync_work_id"))
        )
        if new["name"] != resource["name"]:
            ops += [
                store.name_free(project_id, resource["type_id"], resource["name"], resource_id),
                store.name_guard(project_id, resource["type_id"], new["name"], resource_id),
            ]
        event = (
            "deployment_resource_updated"
            if step == "update"
            else "deployment_resource_delete_requested"
        )
        try:
            deployment_access.commit(s, ops, _entry(project_id, principal, event, new, now))
        except Conflict as exc:
            if new["name"] != resource["name"] and store.name_taken(
                project_id, resource["type_id"], new["name"]
            ):
                raise Conflict(
                    f"a resource of this type named {new['name']!r} exists in this project already"
                ) from exc
            again = store.get(project_id, resource_id)
            if again is None:
                raise NotFound("deployment resource not found") from exc
            if int(again["version"]) != int(resource["version"]) and expected is not None:
                raise PreconditionFailed(
                    f"the deployment resource is at version {again['version']}, not {expected}"
                ) from exc
            continue
        return to_model(new)
    raise Conflict("the deployment resource kept changing; retry")


# --- syncing: what the agent's outcome does ---------------------------------------------------------


def sync_effects(item: dict[str, Any], outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The transaction pieces that record a ResourceSync item's outcome on its resource:
    settle it when it is still at the item's version, else queue the next sync (the newest
    version). Nothing when the item is not the resource's current one (a stale item)."""
    snapshot = item.get("resource") or {}
    project_id = item["project_id"]
    resource = store.get(project_id, str(snapshot.get("id")))
    if resource is None or resource.get("sync_work_id") != item["id"]:
        return []
    seen = int(resource["version"])
    now = outcome["finished_at"]
    if seen != int(snapshot.get("version", -1)):
        deployment = deployment_store.get(project_id, resource["deployment_id"])
        if deployment is not None:
            nxt = _sync_item(resource, deployment, store.get_type(resource["type_id"]), now)
            new = {**resource, "sync_work_id": nxt["id"], "sync_since": now}
            return [store.replace(new, seen, sync_work_id=item["id"]), work_store.new_item(nxt)]
    new = {
        k: v for k, v in resource.items() if k not in ("sync_work_id", "sync_since", "sync_reason")
    }
    ops: list[dict[str, Any]] = []
    if outcome["status"] == "Done":
        new["sync_status"] = "Ready"
        if resource.get("desired") == "absent":
            new["exists"] = False
            new.pop("sealed", None)
            ops += [
                store.name_free(project_id, resource["type_id"], resource["name"], resource["id"]),
                store.deployment_count(project_id, resource["deployment_id"], -1),
            ]
    else:
        new["sync_status"] = "Error"
        new["sync_reason"] = outcome.get("reason") or "the sync failed"
    return [store.replace(new, seen, sync_work_id=item["id"]), *ops]


def open_sealed(item: dict[str, Any]) -> dict[str, Any]:
    """A ResourceSync item as its agent receives it: the sealed props opened into `props`,
    for this answer only."""
    snapshot = item.get("resource") or {}
    sealed = snapshot.get("sealed") or {}
    if not sealed:
        return item
    from tenantry.secrets_crypto import decrypt_secret

    props = dict(snapshot.get("props") or {})
    for key, blob in sealed.items():
        text = decrypt_secret(
            {
                "project_id": item["project_id"],
                "env_id": item["env_id"],
                "id": sealed_id(snapshot["id"], key),
                "sealed": blob,
            }
        )
        props[key] = json.loads(text)
    opened = {k: v for k, v in snapshot.items() if k != "sealed"}
    return {**item, "resource": {**opened, "props": props}}


# --- the scheduler: syncs no agent answered ------------------------------------------------------

SILENT_PAGE = 50


def give_up_silent(now: str | None = None) -> int:
    """Fail the open syncs whose agent showed no sign of life (a claim, a lease extension)
    for AgentWorkTimeoutSeconds, as a task's wait times out: their resources go Error
    saying so (or on to their newest version), so a dead cluster leaves none Creating,
    Updating or Deleting for ever. Run by the scheduler every minute; a page a run."""
    from tenantry.domain import work
    from tenantry.domain.operations import later
    from tenantry.settings import get_settings

    now = now or now_iso()
    silence = get_settings().agent_work_timeout_seconds
    cutoff = later(now, -timedelta(seconds=silence))

    def why(item: dict[str, Any]) -> str:
        if item.get("attempt"):
            return "the cluster's agent took the sync but did not finish it in time"
        return f"the cluster's agent did not answer within {silence} s"

    given_up = 0
    for resource in store.syncing(cutoff, SILENT_PAGE):
        item = work_store.get(str(resource.get("sync_work_id")))
        if item is None or item.get("state") not in work_store.OPEN_STATES:
            continue  # its outcome is being recorded
        held = item["state"] == "Leased" and str(item.get("lease_expires_at", "")) > now
        if held or str(item.get("updated_at", "")) > cutoff:
            continue  # an agent is on it, or was lately
        if work.abandon(item["id"], why) is not None:
            given_up += 1
    return given_up


def abandon_syncs(project_id: str, reason: str) -> int:
    """The project is being deleted: its resources' open syncs fail with `reason`, so no
    agent works on them later (the resources go with the project's deployments). Returns
    how many were open."""
    from tenantry.domain import work

    abandoned = 0
    key = None
    while True:
        items, key = store.page(project_id, None, 100, key)
        for resource in items:
            if resource.get("sync_work_id"):
                work.abandon(str(resource["sync_work_id"]), lambda _: reason)
                abandoned += 1
        if not key:
            return abandoned
