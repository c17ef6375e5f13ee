"""An executor that touches no cluster: it logs what it would do and succeeds. Values are
summed up by their top-level keys and secrets by name: their contents are never logged.

`delay` makes each operation take that many seconds (cancellable), to watch leases being
extended, cancellation and shutdown in a demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from tenantry_agent.actions import IN_CLUSTER_URL
from tenantry_agent.executor import Action, Canceled, Chart, Release, Resource

log = logging.getLogger("tenantry_agent.dryrun")


class DryRunExecutor:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def check(self) -> str | None:
        return None

    def create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        labels_text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        log.info(
            "dry-run: would create namespace %s (labels %s) unless it exists", name, labels_text
        )
        self._wait(cancel)

    def delete_namespace(self, name: str, project_id: str, *, cancel: threading.Event) -> None:
        log.info(
            "dry-run: would delete namespace %s if it is labelled tenantry.io/project=%s",
            name,
            project_id,
        )
        self._wait(cancel)

    def install_release(
        self,
        release: Release,
        chart: Chart,
        values: Mapping[str, Any],
        *,
        task_id: str,
        cancel: threading.Event,
    ) -> None:
        secrets = (values.get("tenantry") or {}).get("secrets") or {}
        names = [f"{c}/{n}" for c, named in sorted(secrets.items()) for n in sorted(named)]
        log.info(
            "dry-run: would helm upgrade --install %s %s --version %s --namespace %s "
            "(values: %s; secrets: %s)",
            release.name,
            chart.ref,
            chart.version,
            release.namespace,
            ",".join(sorted(values)) or "none",
            ",".join(names) or "none",
        )
        self._wait(cancel)

    def uninstall_release(self, release: Release, *, task_id: str, cancel: threading.Event) -> None:
        log.info("dry-run: would helm uninstall %s --namespace %s", release.name, release.namespace)
        self._wait(cancel)

    def restart_workload(
        self, release: Release, kind: str, name: str, *, task_id: str, cancel: threading.Event
    ) -> None:
        log.info("dry-run: would restart %s %s in namespace %s", kind, name, release.namespace)
        self._wait(cancel)

    def invoke_action(
        self, release: Release, action: Action, body: Any, *, task_id: str, cancel: threading.Event
    ) -> None:
        url = IN_CLUSTER_URL.format(
            service=action.service, namespace=release.namespace, port=action.port
        )
        log.info(
            "dry-run: would call action %s: %s %s%s", action.id, action.method, url, action.path
        )
        self._wait(cancel)

    def apply_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        log.info(
            "dry-run: would create or replace %s %s in namespace %s (keys: %s)",
            resource.kind,
            resource.name,
            release.namespace,
            ",".join(sorted(resource.data)) or "none",
        )
        self._wait(cancel)

    def delete_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        log.info(
            "dry-run: would delete ConfigMap or Secret %s in namespace %s",
            resource.name,
            release.namespace,
        )
        self._wait(cancel)

    def _wait(self, cancel: threading.Event) -> None:
        if self.delay > 0 and cancel.wait(self.delay):
            raise Canceled()
