from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tenantry_agent.actions import ActionCaller
from tenantry_agent.client import TenantryClient
from tenantry_agent.cluster import ClusterExecutor
from tenantry_agent.helm import Helm
from tenantry_agent.kube import KubeExecutor
from tenantry_agent.loop import Agent
from tests.fake_helm import FakeHelm
from tests.fake_kube import FakeKube
from tests.fake_service import FakeService
from tests.fake_tenantry import TOKEN, FakeTenantry
from tests.recording import RecordingExecutor


@pytest.fixture
def tenantry() -> Iterator[FakeTenantry]:
    fake = FakeTenantry().start()
    yield fake
    fake.close()


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    fake = FakeKube().start()
    yield fake
    fake.close()


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> Path:
    """A kubeconfig for the fake API server (a made-up token: never real credentials)."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": kube.url}}],
                "users": [{"name": "agent", "user": {"token": "fake-kube-token"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "agent"}}],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def kube_executor(kubeconfig: Path) -> KubeExecutor:
    return KubeExecutor.from_config(kubeconfig=str(kubeconfig), request_timeout=5.0)


@pytest.fixture
def fake_helm(tmp_path: Path) -> FakeHelm:
    return FakeHelm(tmp_path / "fake-helm").install()


@pytest.fixture
def service() -> Iterator[FakeService]:
    """An in-test HTTP server playing the release's services for chart actions."""
    fake = FakeService().start()
    yield fake
    fake.close()


@pytest.fixture
def helm(fake_helm: FakeHelm, kubeconfig: Path, tmp_path: Path) -> Helm:
    private = tmp_path / "private-tmp"
    private.mkdir()
    return Helm(
        str(fake_helm.path),
        kubeconfig=str(kubeconfig),
        kill_grace=1.0,
        tmp_dir=str(private),
        poll_interval=0.02,
    )


@pytest.fixture
def cluster(
    kube_executor: KubeExecutor, helm: Helm, service: FakeService
) -> Iterator[ClusterExecutor]:
    """The real executor: fake Kubernetes API, fake helm, chart actions to `service`."""
    actions = ActionCaller(url_template=service.url_template, timeout=1.0)
    yield ClusterExecutor(kube_executor, helm, actions, rbac_settle_seconds=0)
    actions.close()


@pytest.fixture
def recorder() -> RecordingExecutor:
    return RecordingExecutor()


class Running:
    """An Agent running in a thread; `stop()` returns its exit code."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.code = self.agent.run()

    def stop(self, timeout: float = 15.0) -> int | None:
        self.agent.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the agent did not stop"
        self.agent.client.close()
        return self.code


@pytest.fixture
def start_agent(tenantry: FakeTenantry) -> Iterator[Callable[..., Running]]:
    """start_agent(executor, **Agent options) with fast timings by default."""
    running: list[Running] = []

    def start(executor, *, url: str | None = None, token: str = TOKEN, **options) -> Running:
        options = {"heartbeat_seconds": 0.5, "poll_seconds": 0.05, "grace_seconds": 2.0, **options}
        client = TenantryClient(url or tenantry.url, token, timeout=5.0)
        run = Running(Agent(client, executor, **options))
        running.append(run)
        return run

    yield start
    for run in running:
        if run.thread.is_alive():
            run.stop()
