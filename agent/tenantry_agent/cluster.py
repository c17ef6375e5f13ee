"""The real executor: namespaces, restarts and deployment resources with the Kubernetes client
(kube.py), releases with the helm binary (helm.py), chart actions over HTTP (actions.py).

Every deployment operation first reads the release's namespace with the agent's own account
and goes on only if it is labelled `tenantry.io/project=<the item's project>` (the same rule
as namespaces: never touch what is not the project's), then makes sure the namespace's
deployer exists (a namespace made by an older agent gets it here) and works as that deployer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from tenantry_agent.actions import ActionCaller
from tenantry_agent.executor import Action, Canceled, Chart, ExecutorError, Release, Resource
from tenantry_agent.helm import Helm
from tenantry_agent.kube import KubeExecutor

log = logging.getLogger("tenantry_agent.cluster")


class ClusterExecutor:
    def __init__(
        self,
        kube: KubeExecutor,
        helm: Helm,
        actions: ActionCaller,
        *,
        rbac_settle_seconds: float = 2.0,
    ) -> None:
        self.kube, self.helm, self.actions = kube, helm, actions
        # A RoleBinding just created may take a moment to be enforced by the API server.
        self.rbac_settle_seconds = rbac_settle_seconds

    def check(self) -> str | None:
        return self.kube.check()

    def create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        self.kube.create_namespace(name, project_id, labels, cancel=cancel)

    def delete_namespace(self, name: str, project_id: str, *, cancel: threading.Event) -> None:
        self.kube.delete_namespace(name, project_id, cancel=cancel)

    def install_release(
        self,
        release: Release,
        chart: Chart,
        values: Mapping[str, Any],
        *,
        task_id: str,
        cancel: threading.Event,
    ) -> None:
        if not self.kube.project_namespace(release, "install into"):
            raise ExecutorError(f"namespace {release.namespace} does not exist")
        self._deployer(release, cancel)
        self.helm.upgrade_install(release, chart, values, cancel=cancel)

    def uninstall_release(self, release: Release, *, task_id: str, cancel: threading.Event) -> None:
        if not self.kube.project_namespace(release, "uninstall from"):
            log.info("namespace %s is gone, release %s with it", release.namespace, release.name)
            return
        self._deployer(release, cancel)
        self.helm.uninstall(release, cancel=cancel)

    def restart_workload(
        self, release: Release, kind: str, name: str, *, task_id: str, cancel: threading.Event
    ) -> None:
        if not self.kube.project_namespace(release, "restart in"):
            raise ExecutorError(f"namespace {release.namespace} does not exist")
        self._deployer(release, cancel)
        self.kube.restart_workload(release, kind, name, task_id=task_id, cancel=cancel)

    def invoke_action(
        self, release: Release, action: Action, body: Any, *, task_id: str, cancel: threading.Event
    ) -> None:
        if not self.kube.project_namespace(release, "call an action in"):
            raise ExecutorError(f"namespace {release.namespace} does not exist")
        self.actions.call(release, action, body, task_id=task_id, cancel=cancel)

    def apply_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        if not self.kube.project_namespace(release, "sync a resource in"):
            raise ExecutorError(f"namespace {release.namespace} does not exist")
        self._deployer(release, cancel)
        self.kube.apply_resource(release, resource, cancel=cancel)

    def delete_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        if not self.kube.project_namespace(release, "delete a resource in"):
            log.info("namespace %s is gone, resource %s with it", release.namespace, resource.id)
            return
        self._deployer(release, cancel)
        self.kube.delete_resource(release, resource, cancel=cancel)

    def _deployer(self, release: Release, cancel: threading.Event) -> None:
        created = self.kube.ensure_deployer(release.namespace)
        if created and self.rbac_settle_seconds > 0 and cancel.wait(self.rbac_settle_seconds):
            raise Canceled()
