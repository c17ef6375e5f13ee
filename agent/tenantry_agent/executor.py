"""What the loop asks of a cluster: the `Executor` interface, its errors, and `perform`,
which turns one work item into executor calls.

An executor's methods are idempotent (delivery is at least once): creating a namespace that
is already Tenantry's for that project succeeds, deleting one that is gone succeeds,
installing a release is `helm upgrade --install`, uninstalling a missing release succeeds.
They raise `ExecutorError` with a short sentence for a person (it becomes the work item's
`reason`: no stack trace, no secret, no response dump). `cancel` is set when the work
should stop (cancel requested, lease lost, shutdown): a long step should check it and
raise `Canceled`.

A `DeploymentTask` (docs/api.md, "Deployment work items") is read here, once, into typed
arguments: the release (name, namespace, project), the chart (`oci://` ref and version),
the rendered values (`render_values`), the workload to restart or the chart action to
call. A `ResourceSync` is read into a `Resource`: the ConfigMap (or, when its type has
sensitive props, the Secret) that holds a deployment resource in the release's namespace.
Whatever an executor raises for either is passed through `Redactor`, so a secret's
contents (or a sensitive prop) never reach a reason even if a tool echoed them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenantry_agent.client import WorkItem

log = logging.getLogger("tenantry_agent")
PROJECT_LABEL = "tenantry.io/project"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "tenantry"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A Kubernetes object name (DNS subdomain); helm limits release names to 53 characters.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RELEASE_NAME_MAX = 53
# oci://<registry host[:port]>/<repository path>; nothing that could read as a flag.
OCI_REF = re.compile(
    r"^oci://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._-]+)+$"
)
CHART_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
NAMESPACE_KINDS = ("CreateNamespace", "DeleteNamespace")
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
INSTALL_OPERATIONS = ("Install", "Upgrade", "Reinstall")
ACTION_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Platz's only endpoint value; here it names the release's own Service (see `Action`).
STANDARD_ENDPOINT = "standard_ingress"
ENDPOINT = re.compile(r"^(?P<service>[a-z0-9{}][-a-z0-9{}]*)(:(?P<port>[0-9]{1,5}))?$")
ACTION_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
REDACTED = "[redacted]"
# A deployment resource's object: its name, labels and annotations (docs/api.md).
RESOURCE_PREFIX = "tenantry-resource-"
RESOURCE_LABEL = "tenantry.io/resource"
RESOURCE_TYPE_LABEL = "tenantry.io/resource-type"
RELEASE_LABEL = "tenantry.io/release"
RESOURCE_NAME_ANNOTATION = "tenantry.io/resource-name"
RESOURCE_VERSION_ANNOTATION = "tenantry.io/resource-version"
DEPLOYMENT_ANNOTATION = "tenantry.io/deployment"
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
RESOURCE_ACTIONS = ("Apply", "Delete")
MIN_REDACTED = 4  # secret contents shorter than this are not searched for in reasons


class ExecutorError(Exception):
    """The work failed; str() is the reason reported to Tenantry."""


class Canceled(ExecutorError):
    def __init__(self, reason: str = "canceled") -> None:
        super().__init__(reason)


class Unsupported(ExecutorError):
    pass


@dataclass(frozen=True)
class Release:
    """A helm release of a project, in the project's namespace on this cluster."""

    name: str
    namespace: str
    project_id: str


@dataclass(frozen=True)
class Chart:
    ref: str  # oci://<registry>/<repository>
    version: str  # the tag, given to helm as --version


@dataclass(frozen=True)
class Action:
    """A chart action (an actions.yaml entry) resolved for one release: an HTTP call to
    `service`:`port` in the release's namespace. actions.yaml's `endpoint` is Platz's
    `standard_ingress` (the Service named after the release, port 80) or `<service>` /
    `<service>:<port>`, where `{release}` stands for the release name."""

    id: str
    service: str
    port: int
    path: str
    method: str


@dataclass(frozen=True)
class Resource:
    """A deployment resource as its cluster holds it: one object in the release's namespace,
    a Secret when its type has sensitive props (`kind`), else a ConfigMap, named after the
    resource's id, with one data key per prop (text as is, anything else as JSON)."""

    id: str
    kind: str  # "ConfigMap" | "Secret"
    name: str  # the object's name
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    data: Mapping[str, str] = field(repr=False)

    @property
    def other_kind(self) -> str:
        """The kind it is not (an earlier version of its type may have made that one)."""
        return "ConfigMap" if self.kind == "Secret" else "Secret"


class Executor(Protocol):
    def check(self) -> str | None:
        """None when the cluster can be worked on, else a short reason (heartbeat's
        `not_ok_reason`). Called once per heartbeat: keep it cheap."""
        ...

    def create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        """Create namespace `name` with `labels` unless it exists; an existing one must
        carry `tenantry.io/project=<project_id>` (else ExecutorError: never adopt)."""
        ...

    def delete_namespace(self, name: str, project_id: str, *, cancel: threading.Event) -> None:
        """Delete namespace `name` if it exists and is Tenantry's for `project_id` (else
        ExecutorError: never delete what Tenantry did not create); gone already is done."""
        ...

    def install_release(
        self,
        release: Release,
        chart: Chart,
        values: Mapping[str, Any],
        *,
        task_id: str,
        cancel: threading.Event,
    ) -> None:
        """Install or upgrade `release` to `chart` with exactly `values` (`helm upgrade
        --install`); done when rolled out. The namespace must be the project's."""
        ...

    def uninstall_release(self, release: Release, *, task_id: str, cancel: threading.Event) -> None:
        """Uninstall `release`; a release (or namespace) that is not there is done."""
        ...

    def restart_workload(
        self, release: Release, kind: str, name: str, *, task_id: str, cancel: threading.Event
    ) -> None:
        """Rollout restart of the Deployment or StatefulSet `name` in the release's
        namespace (the pod template's restartedAt annotation); a missing one fails."""
        ...

    def invoke_action(
        self, release: Release, action: Action, body: Any, *, task_id: str, cancel: threading.Event
    ) -> None:
        """Call the chart action over HTTP inside the cluster with `body` as JSON;
        anything but a 2xx answer fails."""
        ...

    def apply_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        """Create `resource`'s object in the release's namespace, or replace it with exactly
        this content (the object must be this resource's: labelled with its id); an object
        of its other kind is deleted. The namespace must be the project's."""
        ...

    def delete_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        """Delete `resource`'s object (either kind) if it is there and this resource's;
        gone already (or no namespace) is done."""
        ...


def namespace_labels(project_id: str) -> dict[str, str]:
    return {PROJECT_LABEL: project_id, MANAGED_BY_LABEL: MANAGED_BY}


def perform(executor: Executor, item: WorkItem, cancel: threading.Event) -> None:
    """Do one work item with `executor`; raises ExecutorError with the reason to report."""
    if item.kind not in (*NAMESPACE_KINDS, "DeploymentTask", "ResourceSync"):
        raise Unsupported(f"this agent version does not support {item.kind or 'this kind of work'}")
    if not DNS_LABEL.match(item.namespace):
        raise ExecutorError(f"namespace {item.namespace!r} is not a valid DNS label")
    if not item.project_id:
        raise ExecutorError("the work item names no project")
    if cancel.is_set():
        raise Canceled()
    if item.kind == "CreateNamespace":
        executor.create_namespace(
            item.namespace, item.project_id, namespace_labels(item.project_id), cancel=cancel
        )
    elif item.kind == "DeleteNamespace":
        executor.delete_namespace(item.namespace, item.project_id, cancel=cancel)
    else:
        redactor = Redactor.for_item(item)
        try:
            if item.kind == "ResourceSync":
                perform_resource_sync(executor, item, cancel)
            else:
                perform_deployment_task(executor, item, cancel)
        except ExecutorError as exc:
            text = redactor(str(exc))
            if text == str(exc):
                raise
            raise (Canceled(text) if isinstance(exc, Canceled) else ExecutorError(text)) from None
        except Exception as exc:  # the loop would log it as is: redact it here first
            log.error(
                "%s %s: unexpected error: %s",
                item.kind,
                item.id,
                redactor(traceback.format_exc()).rstrip(),
            )
            raise ExecutorError(f"the agent failed unexpectedly ({type(exc).__name__})") from None


def operation_of(item: WorkItem) -> tuple[str, dict[str, Any]]:
    """The task's operation: its name and its parameters (`{"Install": {...}}`)."""
    task = item.task if isinstance(item.task, dict) else {}
    operation = task.get("operation")
    if isinstance(operation, str):  # {"Uninstall": {}} may come as "Uninstall"
        return operation, {}
    if not isinstance(operation, dict) or len(operation) != 1:
        raise ExecutorError("the work item has no task.operation (one operation name)")
    ((name, params),) = operation.items()
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ExecutorError(f"the {name} operation's parameters are not an object")
    return str(name), params


def perform_deployment_task(executor: Executor, item: WorkItem, cancel: threading.Event) -> None:
    name, params = operation_of(item)
    task_id = str((item.task or {}).get("id") or item.id)
    if name == "Recreate":
        step = params.get("step")
        if step not in ("install", "uninstall"):
            raise ExecutorError("the Recreate operation's step must be install or uninstall")
        name = "Install" if step == "install" else "Uninstall"
    if name not in (*INSTALL_OPERATIONS, "Uninstall", "RestartK8sResource", "InvokeAction"):
        raise Unsupported(f"this agent version does not support the {name} operation")
    release = release_of(item)
    if name in INSTALL_OPERATIONS:
        chart = chart_of(item, params)
        values = render_values(item, params)
        executor.install_release(release, chart, values, task_id=task_id, cancel=cancel)
    elif name == "Uninstall":
        executor.uninstall_release(release, task_id=task_id, cancel=cancel)
    elif name == "RestartK8sResource":
        kind, workload = params.get("kind"), params.get("name")
        if kind not in WORKLOAD_KINDS:
            raise ExecutorError("RestartK8sResource restarts a Deployment or a StatefulSet only")
        if not isinstance(workload, str) or not _k8s_name(workload):
            raise ExecutorError(f"RestartK8sResource names no valid {kind}")
        executor.restart_workload(release, kind, workload, task_id=task_id, cancel=cancel)
    else:
        chart_of(item, params)  # the chart the action belongs to must be the item's
        action = action_of(item, params, release)
        executor.invoke_action(release, action, params.get("body"), task_id=task_id, cancel=cancel)


def perform_resource_sync(executor: Executor, item: WorkItem, cancel: threading.Event) -> None:
    release = release_of(item)
    action, resource = resource_of(item, release)
    if action == "Apply":
        executor.apply_resource(release, resource, cancel=cancel)
    else:
        executor.delete_resource(release, resource, cancel=cancel)


def resource_of(item: WorkItem, release: Release) -> tuple[str, Resource]:
    """What a ResourceSync asks: Apply or Delete, and the resource's object."""
    spec = item.resource if isinstance(item.resource, dict) else None
    if spec is None:
        raise ExecutorError("the work item carries no resource")
    action = spec.get("action")
    if action not in RESOURCE_ACTIONS:
        raise ExecutorError("the resource's action must be Apply or Delete")
    resource_id = spec.get("id")
    if not isinstance(resource_id, str) or not _k8s_label(resource_id):
        raise ExecutorError("the work item's resource has no valid id")
    type_key = spec.get("type_key")
    if not isinstance(type_key, str) or not LABEL_VALUE.match(type_key):
        raise ExecutorError("the work item's resource has no valid type key")
    props = spec.get("props") or {}
    if not isinstance(props, dict):
        raise ExecutorError("the resource's props are not an object")
    sensitive = spec.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(k, str) for k in sensitive):
        raise ExecutorError("the resource's sensitive props are not a list of names")
    data = {}
    for key, value in props.items():
        if not DATA_KEY.match(str(key)):
            raise ExecutorError(f"prop {str(key)[:80]!r} cannot be a ConfigMap or Secret key")
        data[str(key)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    name = spec.get("name")
    annotations = {
        RESOURCE_NAME_ANNOTATION: str(name) if name is not None else "",
        RESOURCE_VERSION_ANNOTATION: str(spec.get("version", "")),
        DEPLOYMENT_ANNOTATION: str(spec.get("deployment_id", "")),
    }
    labels = {
        **namespace_labels(release.project_id),
        RELEASE_LABEL: release.name,
        RESOURCE_LABEL: resource_id,
        RESOURCE_TYPE_LABEL: type_key,
    }
    return action, Resource(
        id=resource_id,
        kind="Secret" if sensitive else "ConfigMap",
        name=f"{RESOURCE_PREFIX}{resource_id}",
        labels=labels,
        annotations=annotations,
        data=data,
    )


def release_of(item: WorkItem) -> Release:
    name = item.release_name
    if not isinstance(name, str) or not name:
        raise ExecutorError("the work item names no release")
    if len(name) > RELEASE_NAME_MAX or not DNS_SUBDOMAIN.match(name):
        raise ExecutorError(
            f"release name {name[:80]!r} is not valid for helm "
            f"(a DNS subdomain of at most {RELEASE_NAME_MAX} characters)"
        )
    return Release(name=name, namespace=item.namespace, project_id=item.project_id)


def chart_of(item: WorkItem, params: Mapping[str, Any]) -> Chart:
    chart = item.helm_chart
    if not isinstance(chart, dict):
        raise ExecutorError("the work item carries no helm_chart")
    wanted = params.get("helm_chart_id")
    if wanted is not None and chart.get("id") is not None and str(wanted) != str(chart["id"]):
        raise ExecutorError(
            f"the work item's helm_chart is {chart['id']}, not {wanted} that the task names"
        )
    ref = chart.get("ref")
    if not ref and chart.get("registry") and chart.get("repository"):
        ref = f"oci://{chart['registry']}/{chart['repository']}"
    if not isinstance(ref, str) or not OCI_REF.match(ref):
        raise ExecutorError("the work item's helm_chart has no valid oci://<registry>/<repo> ref")
    version = chart.get("tag")
    if not isinstance(version, str) or not CHART_VERSION.match(version):
        raise ExecutorError("the work item's helm_chart has no valid tag")
    return Chart(ref=ref, version=version)


def action_of(item: WorkItem, params: Mapping[str, Any], release: Release) -> Action:
    action_id = params.get("action_id")
    if not isinstance(action_id, str) or not action_id:
        raise ExecutorError("InvokeAction names no action_id")
    entries = (item.helm_chart or {}).get("actions") or []
    if isinstance(entries, dict):  # a whole actions.yaml: {schema_version, actions: [...]}
        entries = entries.get("actions") or []
    found = None
    for entry in entries if isinstance(entries, list) else []:
        spec = entry.get("spec") if isinstance(entry, dict) and "spec" in entry else entry
        if isinstance(spec, dict) and spec.get("id") == action_id:
            found = spec
            break
    if found is None:
        raise ExecutorError(f"the chart has no action {action_id[:80]!r}")
    endpoint = found.get("endpoint")
    if endpoint == STANDARD_ENDPOINT:
        service, port = release.name, 80
    else:
        match = ENDPOINT.match(endpoint) if isinstance(endpoint, str) else None
        service = match["service"].replace("{release}", release.name) if match else ""
        port = int(match["port"]) if match and match["port"] else 80
        if not match or not _k8s_label(service) or not 0 < port < 65536:
            raise ExecutorError(
                f"action {action_id}: endpoint must be {STANDARD_ENDPOINT} or <service>[:<port>]"
            )
    path = found.get("path") or "/"
    if not isinstance(path, str):
        path = ""
    if not path.startswith("/"):
        path = "/" + path
    if not ACTION_PATH.match(path) or "/../" in f"{path}/" or path.startswith("//"):
        raise ExecutorError(f"action {action_id}: path is not a plain absolute path")
    method = str(found.get("method") or "").upper()
    if method not in ACTION_METHODS:
        raise ExecutorError(
            f"action {action_id}: method must be one of {', '.join(ACTION_METHODS)}"
        )
    return Action(id=action_id, service=service, port=port, path=path, method=method)


# --- values ---------------------------------------------------------------------------------


def deep_merge(base: Any, override: Any) -> Any:
    """`override` over `base`: objects merge key by key, anything else (lists, scalars,
    null) replaces. Neither argument is changed."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else value
        return merged
    return override


def render_values(item: WorkItem, params: Mapping[str, Any]) -> dict[str, Any]:
    """The release's values: `config`, then `values_override`, then Tenantry's block, deep
    merged. `config` and `values_override` are the operation's when it carries them
    (Install; Upgrade's values_override), else the deployment's snapshot."""
    deployment = item.deployment if isinstance(item.deployment, dict) else {}
    config = params["config"] if "config" in params else deployment.get("config")
    override = (
        params["values_override"]
        if "values_override" in params
        else deployment.get("values_override")
    )
    for what, value in (("config", config), ("values_override", override)):
        if value is not None and not isinstance(value, dict):
            raise ExecutorError(f"the deployment's {what} is not an object")
    tenantry: dict[str, Any] = {
        "tenantry": {
            "project": item.project_id,
            "env": deployment.get("env_name"),
            "deployment": deployment.get("name"),
            "secrets": secrets_of(item),
        }
    }
    if deployment.get("node_selector") is not None:
        tenantry["nodeSelector"] = deployment["node_selector"]
    if deployment.get("tolerations") is not None:
        tenantry["tolerations"] = deployment["tolerations"]
    values: dict[str, Any] = {}
    for layer in (config, override, tenantry):
        if layer:
            values = deep_merge(values, layer)
    return values


def secrets_of(item: WorkItem) -> dict[str, dict[str, str]]:
    """`{collection: {name: contents}}` from the item's secrets list."""
    out: dict[str, dict[str, str]] = {}
    for secret in item.secrets or []:
        if not isinstance(secret, dict):
            raise ExecutorError("the work item's secrets are not a list of objects")
        collection, name, contents = (
            secret.get("collection"),
            secret.get("name"),
            secret.get("contents"),
        )
        if not isinstance(collection, str) or not isinstance(name, str):
            raise ExecutorError("a secret of the work item has no collection or name")
        if not isinstance(contents, str):
            raise ExecutorError(f"secret {collection}/{name} has no text contents")
        out.setdefault(collection, {})[name] = contents
    return out


@dataclass(frozen=True)
class Redactor:
    """Replaces every secret's contents (whole, line by line, and base64-encoded as a
    Kubernetes Secret would echo them) with [redacted]."""

    needles: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def for_item(cls, item: WorkItem) -> Redactor:
        found: set[str] = set()
        for contents in _secret_texts(item):
            found.add(contents)
            found.add(contents.strip())
            found.update(line.strip() for line in contents.splitlines())
            found.add(base64.b64encode(contents.encode()).decode())
        needles = sorted((n for n in found if len(n) >= MIN_REDACTED), key=len, reverse=True)
        return cls(tuple(needles))

    def __call__(self, text: str) -> str:
        for needle in self.needles:
            text = text.replace(needle, REDACTED)
        return text


def _secret_texts(item: WorkItem) -> list[str]:
    """What must never reach a reason: the secrets' contents, a resource's sensitive props
    (as the object holds them)."""
    texts = []
    for secret in item.secrets if isinstance(item.secrets, list) else []:
        contents = secret.get("contents") if isinstance(secret, dict) else None
        if isinstance(contents, str):
            texts.append(contents)
    spec = item.resource if isinstance(item.resource, dict) else {}
    props = spec.get("props") if isinstance(spec.get("props"), dict) else {}
    sensitive = spec.get("sensitive") if isinstance(spec.get("sensitive"), list) else []
    for key in sensitive:
        if isinstance(key, str) and key in props:
            value = props[key]
            texts.append(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return texts


def _k8s_name(name: str) -> bool:
    return len(name) <= 253 and bool(DNS_SUBDOMAIN.match(name))


def _k8s_label(name: str) -> bool:
    return bool(DNS_LABEL.match(name))
