"""Chart actions (InvokeAction): one HTTP call from the agent to a Service of the release.

The URL is `url_template` with the action's service, the release's namespace and the port,
then the action's path: by default `http://{service}.{namespace}.svc:{port}`, plain HTTP
inside the cluster. Outside a cluster (an agent run with a kubeconfig) the API server's
service proxy does it: `http://127.0.0.1:8001/api/v1/namespaces/{namespace}/services/
{service}:{port}/proxy` behind `kubectl proxy`.

The body is sent as JSON with the method of the action; the task's id goes along as
`Idempotency-Key`, so an action delivered twice (delivery is at least once) can be
recognised by the chart. Redirects are not followed, proxies from the environment are not
used; any answer but 2xx fails with its status in the reason. The answer's body is never
read into a log or a reason.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

from tenantry_agent import __version__
from tenantry_agent.executor import Action, Canceled, ExecutorError, Release

log = logging.getLogger("tenantry_agent.actions")
IN_CLUSTER_URL = "http://{service}.{namespace}.svc:{port}"


def check_url_template(template: str) -> None:
    """ValueError unless `template` formats with service, namespace and port only."""
    try:
        url = template.format(service="s", namespace="n", port=80)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{template!r} takes only {{service}}, {{namespace}} and {{port}}"
        ) from exc
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{template!r} is not an http(s) URL")


class ActionCaller:
    def __init__(
        self,
        *,
        url_template: str = IN_CLUSTER_URL,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        check_url_template(url_template)
        self.url_template = url_template.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
            headers={"User-Agent": f"tenantry-agent/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    def url(self, release: Release, action: Action) -> str:
        base = self.url_template.format(
            service=action.service, namespace=release.namespace, port=action.port
        )
        return base + action.path

    def call(
        self, release: Release, action: Action, body: Any, *, task_id: str, cancel: threading.Event
    ) -> None:
        if cancel.is_set():
            raise Canceled()
        where = f"{action.method} {action.service}:{action.port}{action.path}"
        log.info("action %s: %s in namespace %s", action.id, where, release.namespace)
        try:
            response = self._http.request(
                action.method,
                self.url(release, action),
                json=body,
                headers={"Idempotency-Key": task_id},
            )
        except httpx.TimeoutException:
            raise ExecutorError(
                f"action {action.id}: {where} did not answer within {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise ExecutorError(
                f"action {action.id}: {where} unreachable ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if not 200 <= status < 300:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise ExecutorError(f"action {action.id}: {where} answered {status}{phrase}")
        log.info("action %s: answered %d", action.id, status)
