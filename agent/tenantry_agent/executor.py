"""What the loop asks of a cluster: the `Executor` interface, its errors, and `perform`,
which turns one work item into executor calls.

An executor's methods are idempotent (delivery is at least once): creating a namespace that
is already Tenantry's for that project succeeds, deleting one that is gone succeeds. They
raise `ExecutorError` with a short sentence for a person (it becomes the work item's
`reason`: no stack trace, no secret, no response dump). `cancel` is set when the work
should stop (cancel requested, lease lost, shutdown): a long step should check it and
raise `Canceled`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Protocol

from tenantry_agent.client import WorkItem

PROJECT_LABEL = "tenantry.io/project"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "tenantry"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAMESPACE_KINDS = ("CreateNamespace", "DeleteNamespace")


class ExecutorError(Exception):
    """The work failed; str() is the reason reported to Tenantry."""


class Canceled(ExecutorError):
    def __init__(self, reason: str = "canceled") -> None:
        super().__init__(reason)


class Unsupported(ExecutorError):
    pass


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


def namespace_labels(project_id: str) -> dict[str, str]:
    return {PROJECT_LABEL: project_id, MANAGED_BY_LABEL: MANAGED_BY}


def perform(executor: Executor, item: WorkItem, cancel: threading.Event) -> None:
    """Do one work item with `executor`; raises ExecutorError with the reason to report."""
    if item.kind not in NAMESPACE_KINDS:
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
    else:
        executor.delete_namespace(item.namespace, item.project_id, cancel=cancel)
