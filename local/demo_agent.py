"""`make run` with LOCAL_AGENT=1: a demo cluster and a dry-run agent for it (agent/,
tenantry_agent.local), so provisioning a project with `"clusters":[{"name":"demo"}]`
completes locally without Kubernetes. The agent is a child process speaking the real
protocol to this runner over HTTP; it stops (SIGTERM, releasing what it holds) with it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from local import template

CLUSTER_NAME = "demo"


def wanted() -> bool:
    return os.environ.get("LOCAL_AGENT", "") == "1"


def register_demo_cluster() -> tuple[str, str]:
    """The demo cluster (the runner's state is fresh at every start): (its id, its agent
    token)."""
    from tenantry.domain import clusters
    from tenantry.domain.identity import ADMIN_USER_ID
    from tenantry.models.clusters import ClusterCreate
    from tenantry.models.principal import Principal

    admin = Principal(kind="user", id=ADMIN_USER_ID, is_admin=True)
    created = clusters.register(
        admin, ClusterCreate(name=CLUSTER_NAME, region_name="local", provider_id="dry-run")
    )
    assert created.agent_token is not None
    return created.id, created.agent_token


@contextlib.contextmanager
def running(url: str, heartbeat_seconds: float) -> Iterator[Any]:
    """Register the demo cluster and start its dry-run agent (when LOCAL_AGENT=1)."""
    if not wanted():
        yield None
        return
    agent_dir = str(template.ROOT / "agent")
    if agent_dir not in sys.path:
        sys.path.insert(0, agent_dir)
    from tenantry_agent.local import start_dry_run

    cluster_id, token = register_demo_cluster()
    agent = start_dry_run(url, token, heartbeat_seconds=heartbeat_seconds, poll_seconds=1.0)
    print(
        f"Demo cluster {CLUSTER_NAME!r} ({cluster_id}): a dry-run agent (pid {agent.pid}) "
        "does its work",
        flush=True,
    )
    try:
        yield agent
    finally:
        agent.stop()
