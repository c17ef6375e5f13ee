"""The real executor: namespaces through the official `kubernetes` Python client.

Create is create-if-absent: POST, and on 409 AlreadyExists read the namespace and accept it
only if it is Tenantry's for that project (missing Tenantry labels are patched in); one
that is being deleted, unlabelled or another project's is refused with a reason. Delete
reads first and deletes only a namespace labelled for that project (with the uid as a
precondition, so a namespace re-created in between is not touched); 404 is done. The
namespace calls need exactly get, create, patch and delete on namespaces (deploy/).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tenantry_agent.executor import PROJECT_LABEL, Canceled, ExecutorError

log = logging.getLogger("tenantry_agent.kube")
FIELD_MANAGER = "tenantry-agent"
MAX_MESSAGE = 200


def _status_message(exc: ApiException) -> str:
    """The Kubernetes Status `message` of an error answer (never headers or raw bodies)."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:MAX_MESSAGE] if message else ""


def _failure(verb: str, name: str, exc: Exception) -> ExecutorError:
    if isinstance(exc, ApiException):
        text = f"Kubernetes API answered {exc.status} to {verb} namespace {name}"
        message = _status_message(exc)
        return ExecutorError(f"{text}: {message}" if message else text)
    return ExecutorError(
        f"Kubernetes API unreachable to {verb} namespace {name} ({type(exc).__name__})"
    )


class KubeExecutor:
    def __init__(self, api_client: k8s.ApiClient, *, request_timeout: float = 30.0) -> None:
        self._core = k8s.CoreV1Api(api_client)
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

    # --- helpers ----------------------------------------------------------------------------

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
