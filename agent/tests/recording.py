"""A recording executor for the loop's tests: it records every call and can be told to fail,
take time (cancellable) or report the cluster not ok."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tenantry_agent.executor import Action, Canceled, Chart, ExecutorError, Release, Resource


class RecordingExecutor:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.delay = 0.0
        self.error: Exception | None = None
        self.not_ok: str | None = None
        self.ignore_cancel = False
        self.started = threading.Event()
        self.canceled = threading.Event()

    def check(self) -> str | None:
        return self.not_ok

    def create_namespace(
        self, name: str, project_id: str, labels: Mapping[str, str], *, cancel: threading.Event
    ) -> None:
        self.calls.append(("create_namespace", name, project_id, dict(labels)))
        self._run(cancel)

    def delete_namespace(self, name: str, project_id: str, *, cancel: threading.Event) -> None:
        self.calls.append(("delete_namespace", name, project_id))
        self._run(cancel)

    def install_release(
        self,
        release: Release,
        chart: Chart,
        values: Mapping[str, Any],
        *,
        task_id: str,
        cancel: threading.Event,
    ) -> None:
        self.calls.append(("install_release", release, chart, dict(values), task_id))
        self._run(cancel)

    def uninstall_release(self, release: Release, *, task_id: str, cancel: threading.Event) -> None:
        self.calls.append(("uninstall_release", release, task_id))
        self._run(cancel)

    def restart_workload(
        self, release: Release, kind: str, name: str, *, task_id: str, cancel: threading.Event
    ) -> None:
        self.calls.append(("restart_workload", release, kind, name, task_id))
        self._run(cancel)

    def invoke_action(
        self, release: Release, action: Action, body: Any, *, task_id: str, cancel: threading.Event
    ) -> None:
        self.calls.append(("invoke_action", release, action, body, task_id))
        self._run(cancel)

    def apply_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        self.calls.append(("apply_resource", release, resource))
        self._run(cancel)

    def delete_resource(
        self, release: Release, resource: Resource, *, cancel: threading.Event
    ) -> None:
        self.calls.append(("delete_resource", release, resource))
        self._run(cancel)

    def _run(self, cancel: threading.Event) -> None:
        self.started.set()
        if self.delay:
            if self.ignore_cancel:
                threading.Event().wait(self.delay)
            elif cancel.wait(self.delay):
                self.canceled.set()
                raise Canceled()
        if self.error is not None:
            raise self.error


__all__ = ["ExecutorError", "RecordingExecutor"]
