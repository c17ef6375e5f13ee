"""An executor that touches no cluster: it logs what it would do and succeeds.

`delay` makes each operation take that many seconds (cancellable), to watch leases being
extended, cancellation and shutdown in a demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from tenantry_agent.executor import Canceled

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

    def _wait(self, cancel: threading.Event) -> None:
        if self.delay > 0 and cancel.wait(self.delay):
            raise Canceled()
