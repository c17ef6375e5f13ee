"""The agent's settings (from flags and environment, see cli.py) and what they build."""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tenantry_agent.client import TenantryClient
from tenantry_agent.executor import Executor
from tenantry_agent.loop import Agent

log = logging.getLogger("tenantry_agent")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    url: str
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    heartbeat_seconds: float = 30.0
    concurrency: int = 4
    poll_seconds: float = 2.0
    grace_seconds: float = 20.0
    request_timeout: float = 10.0
    dry_run: bool = False
    dry_run_delay: float = 0.0
    in_cluster: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    helm: str = "helm"
    helm_timeout: float = 300.0
    action_timeout: float = 30.0
    action_url: str = "http://{service}.{namespace}.svc:{port}"

    def token_source(self) -> Callable[[], str]:
        """The token, or a reader of the token file (read per request: Kubernetes updates a
        mounted Secret in place when the token is rotated)."""
        if self.token:
            token = self.token.strip()
            return lambda: token
        if self.token_file:
            path = Path(self.token_file)
            try:
                path.read_text()
            except OSError as exc:
                raise ConfigError(f"cannot read the token file {path}: {exc.strerror}") from None
            return lambda: path.read_text().strip()
        raise ConfigError("no agent token: set TENANTRY_AGENT_TOKEN or TENANTRY_AGENT_TOKEN_FILE")

    def executor(self) -> Executor:
        if self.dry_run:
            from tenantry_agent.dryrun import DryRunExecutor

            return DryRunExecutor(delay=self.dry_run_delay)
        from tenantry_agent.actions import ActionCaller
        from tenantry_agent.cluster import ClusterExecutor
        from tenantry_agent.executor import ExecutorError
        from tenantry_agent.helm import Helm, in_cluster_kubeconfig
        from tenantry_agent.kube import KubeExecutor

        try:
            kube = KubeExecutor.from_config(
                in_cluster=self.in_cluster, kubeconfig=self.kubeconfig, context=self.context
            )
        except Exception as exc:  # the kubernetes client's ConfigException and file errors
            where = "in-cluster configuration" if self.in_cluster else "kubeconfig"
            raise ConfigError(f"cannot load the {where}: {exc}") from None
        binary = shutil.which(self.helm)
        if binary is None:
            raise ConfigError(
                f"helm not found ({self.helm!r}): install it or set --helm / TENANTRY_AGENT_HELM"
            )
        kubeconfig, context = self.kubeconfig, self.context
        if self.in_cluster:  # helm's impersonation needs a kubeconfig (see helm.py)
            try:
                directory = tempfile.mkdtemp(prefix="tenantry-agent-")
                atexit.register(shutil.rmtree, directory, True)
                kubeconfig, context = in_cluster_kubeconfig(directory), None
            except (KeyError, OSError) as exc:
                raise ConfigError(f"cannot write helm's in-cluster kubeconfig: {exc}") from None
        helm = Helm(binary, timeout=self.helm_timeout, kubeconfig=kubeconfig, context=context)
        try:
            log.info("helm %s (%s)", helm.version(), binary)
        except ExecutorError as exc:
            raise ConfigError(f"{binary} does not run: {exc}") from None
        try:
            actions = ActionCaller(url_template=self.action_url, timeout=self.action_timeout)
        except ValueError as exc:
            raise ConfigError(f"--action-url: {exc}") from None
        return ClusterExecutor(kube, helm, actions)

    def agent(self) -> Agent:
        client = TenantryClient(self.url, self.token_source(), timeout=self.request_timeout)
        return Agent(
            client,
            self.executor(),
            concurrency=self.concurrency,
            heartbeat_seconds=self.heartbeat_seconds,
            poll_seconds=self.poll_seconds,
            grace_seconds=self.grace_seconds,
        )
