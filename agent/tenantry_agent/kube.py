"""The real executor's Kubernetes side, through the official `kubernetes` Python client:
namespaces, each namespace's deployer identity, rollout restarts, and the ConfigMaps or
Secrets that hold deployment resources (create-or-replace; delete; only objects labelled
with the resource's id).

Create is create-if-absent: POST, and on 409 AlreadyExists read the namespace and accept it
only if it is Tenantry's for that project (missing Tenantry labels are patched in); one
that is being deleted, unlabelled or another project's is refused with a reason. Delete
reads first and deletes only a namespace labelled for that project (with the uid as a
precondition, so a namespace re-created in between is not touched); 404 is done.

Every project namespace gets a deployer: the ServiceAccount `tenantry-deployer`, bound by
the RoleBinding `tenantry-deployer` to the built-in ClusterRole `admin` in that namespace
only. Deployment work (helm, restarts, resources) runs as that account (impersonation), so a chart
can touch its own namespace and nothing else, whatever its templates say. The agent's own
account needs only what deploy/tenantry-agent.yaml lists (a test keeps the two in step).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tenantry_agent.executor import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PROJECT_LABEL,
    RESOURCE_LABEL,
    Canceled,
    ExecutorError,
    Release,
    Resource,
)

log = logging.getLogger("tenantry_agent.kube")
FIELD_MANAGER = "tenantry-agent"
MAX_MESSAGE = 200
DEPLOYER = "tenantry-deployer"  # ServiceAccount and RoleBinding in each project namespace
DEPLOYER_ROLE = "admin"  # the built-in ClusterRole, bound in the namespace only
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTART_TASK = "tenantry.io/restart-task"


def deployer_user(namespace: str) -> str:
    """The user name of a namespace's deployer, as impersonated."""
    return f"system:serviceaccount:{namespace}:{DEPLOYER}"


def _status_message(exc: ApiException) -> str:
    """The Kubernetes Status `message` of an error answer (never headers or raw bodies)."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:MAX_MESSAGE] if message else ""


def _failure(verb: str, name: str, exc: Exception, what: str = "namespace") -> ExecutorError:
    if isinstance(exc, ApiException):
        text = f"Kubernetes API answered {exc.status} to {verb} {what} {name}"
        message = _status_message(exc)
        return ExecutorError(f"{text}: {message}" if message else text)
    return ExecutorError(
        f"Kubernetes API unreachable to {verb} {what} {name} ({type(exc).__name__})"
    )


class KubeExecutor:
    def __init__(self, api_client: k8s.ApiClient, *, request_timeout: float = 30.0) -> None:
        self._core = k8s.CoreV1Api(api_client)
        self._rbac = k8s.RbacAuthorizationV1Api(api_client)
        self._apps = k8s.AppsV1Api(api_client)
        self._version = k8s.VersionApi(api_client)
        self._timeout = request_timeout

    @classmethod
    def from_config(
        cls,
        *,
        in_cluster: bool = False,
        kubeconfig: str | None = None,
        context: str | None = None,
        request_timeout: float = 30.0,
    ) -> KubeExecutor:
        """In-cluster (the pod's service account) or a kubeconfig file (default location
        when `kubeconfig` is None) and context."""
        configuration = k8s.Configuration()
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        return cls(k8s.ApiClient(configuration), request_timeout=request_timeout)

    # --- Executor ---------------------------------------------------------------------------

    def check(self) -> str | None:
        try:  # the raw answer: any 200 will do, whatever fields this server's version has
            response = self._version.get_code(
                _preload_content=False, _request_timeout=min(self._timeout, 5.0)
            )
            response.drain_conn()  # read the body, so the pooled connection can be reused
            response.release_conn()
        except ApiException as exc:
            return f"the Kubernetes API answered {exc.status} to GET /version"
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return f"the Kubernetes API is unreachable ({type(exc).__name__})"
        return None

    def create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        self._create_namespace(name, project_id, labels, cancel=cancel)
        if cancel.is_set():
            raise Canceled()
        try:
            self.ensure_deployer(name)
        except ExecutorError as exc:  # e.g. an older manifest's RBAC: the namespace is fine
            log.warning(
                "namespace %s is ready but its deployer is not (%s); deployments will try again",
                name,
                exc,
            )

    def _create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        body = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=dict(labels)))
        try:
            self._core.create_namespace(
                body, field_manager=FIELD_MANAGER, _request_timeout=self._timeout
            )
            log.info("created namespace %s", name)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise _failure("create", name, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("create", name, exc) from None
        if cancel.is_set():
            raise Canceled()
        existing = self._read(name, "create")
        if existing is None:  # deleted between the 409 and the read
            raise ExecutorError(f"namespace {name} was being replaced; try again")
        self._check_owned(existing, name, project_id, "take over")
        if self._deleting(existing):
            raise ExecutorError(
                f"namespace {name} is still being deleted; try again once it is gone"
            )
        current = (existing.metadata.labels if existing.metadata else None) or {}
        missing = {k: v for k, v in labels.items() if current.get(k) != v}
        if missing:
            try:
                self._core.patch_namespace(
                    name,
                    {"metadata": {"labels": missing}},
                    field_manager=FIELD_MANAGER,
                    _content_type="application/merge-patch+json",
                    _request_timeout=self._timeout,
                )
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise _failure("label", name, exc) from None
            log.info("namespace %s existed; labelled it %s", name, ",".join(sorted(missing)))
        else:
            log.info("namespace %s exists already", name)

    def delete_namespace(self, name: str, project_id: str, *, cancel: threading.Event) -> None:
        existing = self._read(name, "delete")
        if existing is None:
            log.info("namespace %s is gone already", name)
            return
        self._check_owned(existing, name, project_id, "delete")
        if self._deleting(existing):
            log.info("namespace %s is being deleted already", name)
            return
        if cancel.is_set():
            raise Canceled()
        uid = existing.metadata.uid if existing.metadata else None
        options = k8s.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=k8s.V1Preconditions(uid=uid) if uid else None,
        )
        try:
            self._core.delete_namespace(name, body=options, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status == 404:
                return
            if exc.status == 409:  # the uid precondition: it was re-created meanwhile
                raise ExecutorError(
                    f"namespace {name} changed while being deleted; try again"
                ) from None
            raise _failure("delete", name, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("delete", name, exc) from None
        log.info("deleting namespace %s", name)

    # --- deployments --------------------------------------------------------------------------

    def project_namespace(self, release: Release, verb: str) -> bool:
        """True when the release's namespace exists and is Tenantry's for its project, False
        when there is no such namespace; ExecutorError when it is someone else's or going."""
        existing = self._read(release.namespace, verb)
        if existing is None:
            return False
        self._check_owned(existing, release.namespace, release.project_id, verb)
        if self._deleting(existing):
            raise ExecutorError(f"namespace {release.namespace} is being deleted")
        return True

    def ensure_deployer(self, namespace: str) -> bool:
        """Create the namespace's deployer (ServiceAccount + RoleBinding to `admin`) unless
        they exist; True when something was created (RBAC may take a moment to apply)."""
        labels = {MANAGED_BY_LABEL: MANAGED_BY}
        account = k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=DEPLOYER, labels=labels))
        binding = k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name=DEPLOYER, labels=labels),
            role_ref=k8s.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=DEPLOYER_ROLE
            ),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=DEPLOYER, namespace=namespace)],
        )
        created = False
        for what, create, body in (
            ("service account", self._core.create_namespaced_service_account, account),
            ("role binding", self._rbac.create_namespaced_role_binding, binding),
        ):
            try:
                create(namespace, body, field_manager=FIELD_MANAGER, _request_timeout=self._timeout)
                created = True
            except ApiException as exc:
                if exc.status != 409:  # 409: it exists already
                    raise _failure("create", f"{DEPLOYER} in {namespace}", exc, what) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _failure("create", f"{DEPLOYER} in {namespace}", exc, what) from None
        if created:
            log.info("namespace %s: deployer %s bound to %s", namespace, DEPLOYER, DEPLOYER_ROLE)
        return created

    def restart_workload(
        self, release: Release, kind: str, name: str, *, task_id: str, cancel: threading.Event
    ) -> None:
        """`kubectl rollout restart`, as the namespace's deployer: the pod template gets
        restartedAt (now) and the task's id; a template that already carries this task's id
        was restarted by an earlier delivery of it, and is left alone. The caller checks the
        namespace first (ClusterExecutor)."""
        read, patch = {
            "Deployment": (
                self._apps.read_namespaced_deployment,
                self._apps.patch_namespaced_deployment,
            ),
            "StatefulSet": (
                self._apps.read_namespaced_stateful_set,
                self._apps.patch_namespaced_stateful_set,
            ),
        }[kind]
        as_deployer = {"Impersonate-User": deployer_user(release.namespace)}
        try:
            current = self._raw(
                read(
                    name,
                    release.namespace,
                    _headers=as_deployer,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                raise ExecutorError(
                    f"no such {kind} {name} in namespace {release.namespace}"
                ) from None
            raise _failure("read", name, exc, kind) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("read", name, exc, kind) from None
        template = ((current.get("spec") or {}).get("template") or {}).get("metadata") or {}
        if (template.get("annotations") or {}).get(RESTART_TASK) == task_id:
            log.info("%s %s/%s was restarted by this task already", kind, release.namespace, name)
            return
        if cancel.is_set():
            raise Canceled()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {RESTARTED_AT: now, RESTART_TASK: task_id}}
                }
            }
        }
        try:
            self._raw(
                patch(
                    name,
                    release.namespace,
                    body,
                    field_manager=FIELD_MANAGER,
                    _content_type="application/merge-patch+json",
                    _headers=as_deployer,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                raise ExecutorError(
                    f"no such {kind} {name} in namespace {release.namespace}"
                ) from None
            raise _failure("restart", name, exc, kind) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("restart", name, exc, kind) from None
        log.info("restarting %s %s/%s", kind, release.namespace, name)

    # --- deployment resources -----------------------------------------------------------------

    def _object_api(self, kind: str, namespace: str) -> tuple[Any, Any, Any, Any]:
        """(create, read, replace, delete) of ConfigMaps or Secrets, bound to the namespace's
        deployer: the agent's own account never touches them."""
        as_deployer = {"Impersonate-User": deployer_user(namespace)}
        if kind == "Secret":
            return (
                partial(self._core.create_namespaced_secret, _headers=as_deployer),
                partial(self._core.read_namespaced_secret, _headers=as_deployer),
                partial(self._core.replace_namespaced_secret, _headers=as_deployer),
                partial(self._core.delete_namespaced_secret, _headers=as_deployer),
            )
        return (
            partial(self._core.create_namespaced_config_map, _headers=as_deployer),
            partial(self._core.read_namespaced_config_map, _headers=as_deployer),
            partial(self._core.replace_namespaced_config_map, _headers=as_deployer),
            partial(self._core.delete_namespaced_config_map, _headers=as_deployer),
        )

    @staticmethod
    def _resource_body(resource: Resource, resource_version: str | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": resource.name,
            "labels": dict(resource.labels),
            "annotations": dict(resource.annotations),
        }
        if resource_version:
            metadata["resourceVersion"] = resource_version  # replace only what was read
        body: dict[str, Any] = {"apiVersion": "v1", "kind": resource.kind, "metadata": metadata}
        if resource.kind == "Secret":
            body["type"] = "Opaque"
            body["data"] = {
                k: base64.b64encode(v.encode()).decode() for k, v in resource.data.items()
            }
        else:
            body["data"] = dict(resource.data)
        return body

    def apply_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        """Create-or-replace, as the namespace's deployer: create; if it exists, read it, check
        it is this resource's (labelled with its id) and replace it at the version read. Then
        the object of the other kind, if an earlier version of the type made one, goes. The
        caller checks the namespace first (ClusterExecutor)."""
        create, _, replace, _ = self._object_api(resource.kind, release.namespace)
        namespace, what = release.namespace, resource.kind
        try:
            self._raw(
                create(
                    namespace,
                    self._resource_body(resource),
                    field_manager=FIELD_MANAGER,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
            log.info("created %s %s/%s", what, namespace, resource.name)
        except ApiException as exc:
            if exc.status != 409:
                raise _failure("create", resource.name, exc, what) from None
            self._replace_resource(release, resource, replace, cancel)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("create", resource.name, exc, what) from None
        self._delete_object(release, resource, resource.other_kind, cancel)

    def _replace_resource(
        self, release: Release, resource: Resource, replace: Any, cancel: threading.Event
    ) -> None:
        namespace, what = release.namespace, resource.kind
        existing = self._read_object(release, resource, resource.kind)
        if existing is None:
            raise ExecutorError(f"{what} {resource.name} was being deleted; try again")
        self._check_resource(existing, release, resource, resource.kind, "replace")
        if cancel.is_set():
            raise Canceled()
        version = (existing.get("metadata") or {}).get("resourceVersion")
        try:
            self._raw(
                replace(
                    resource.name,
                    namespace,
                    self._resource_body(resource, version),
                    field_manager=FIELD_MANAGER,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as exc:
            if exc.status in (404, 409):  # deleted or changed since the read
                raise ExecutorError(
                    f"{what} {resource.name} changed while being replaced; try again"
                ) from None
            raise _failure("replace", resource.name, exc, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("replace", resource.name, exc, what) from None
        log.info("replaced %s %s/%s", what, namespace, resource.name)

    def delete_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        """Delete the resource's object, of either kind, if it is there and this resource's."""
        for kind in (resource.kind, resource.other_kind):
            self._delete_object(release, resource, kind, cancel)

    def _delete_object(
        self, release: Release, resource: Resource, kind: str, cancel: threading.Event
    ) -> None:
        existing = self._read_object(release, resource, kind)
        if existing is None:
            return
        self._check_resource(existing, release, resource, kind, "delete")
        if cancel.is_set():
            raise Canceled()
        _, _, _, delete = self._object_api(kind, release.namespace)
        uid = (existing.get("metadata") or {}).get("uid")
        options = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=uid) if uid else None)
        try:
            self._raw(
                delete(
                    resource.name,
                    release.namespace,
                    body=options,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return
            if exc.status == 409:  # the uid precondition: it was re-created meanwhile
                raise ExecutorError(
                    f"{kind} {resource.name} changed while being deleted; try again"
                ) from None
            raise _failure("delete", resource.name, exc, kind) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("delete", resource.name, exc, kind) from None
        log.info("deleted %s %s/%s", kind, release.namespace, resource.name)

    def _read_object(self, release: Release, resource: Resource, kind: str) -> Any:
        """The object's JSON, or None when there is none."""
        _, read, _, _ = self._object_api(kind, release.namespace)
        try:
            return self._raw(
                read(
                    resource.name,
                    release.namespace,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _failure("read", resource.name, exc, kind) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure("read", resource.name, exc, kind) from None

    @staticmethod
    def _check_resource(
        existing: dict[str, Any], release: Release, resource: Resource, kind: str, verb: str
    ) -> None:
        """Never touch an object that is not this resource's (its id label)."""
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if labels.get(RESOURCE_LABEL) != resource.id:
            raise ExecutorError(
                f"{kind} {resource.name} exists in namespace {release.namespace} and is not "
                f"labelled {RESOURCE_LABEL}={resource.id}; refusing to {verb} it"
            )

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _raw(response: Any) -> dict[str, Any]:
        """The JSON of an unparsed answer (the client's models are not needed here)."""
        try:
            data = json.loads(response.data or b"{}")
        except ValueError:
            data = {}
        finally:
            response.release_conn()
        return data if isinstance(data, dict) else {}

    def _read(self, name: str, verb: str) -> Any:
        try:
            return self._core.read_namespace(name, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _failure(verb, name, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure(verb, name, exc) from None

    @staticmethod
    def _deleting(namespace: Any) -> bool:
        metadata, status = namespace.metadata, namespace.status
        return bool(
            (metadata and metadata.deletion_timestamp) or (status and status.phase == "Terminating")
        )

    @staticmethod
    def _check_owned(namespace: Any, name: str, project_id: str, verb: str) -> None:
        labels = (namespace.metadata.labels if namespace.metadata else None) or {}
        owner = labels.get(PROJECT_LABEL)
        if owner == project_id:
            return
        found = f"labelled {PROJECT_LABEL}={owner}" if owner else f"not labelled {PROJECT_LABEL}"
        raise ExecutorError(
            f"namespace {name} exists and is {found}; refusing to {verb} it "
            f"(it is not Tenantry's namespace for project {project_id})"
        )
