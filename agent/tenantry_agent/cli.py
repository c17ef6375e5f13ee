"""`tenantry-agent`: run the agent until SIGTERM or SIGINT (exit 0 after a clean stop).

Exit codes: 0 stopped cleanly, 1 bad configuration, 2 the agent token was refused at start.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from tenantry_agent import __version__
from tenantry_agent.config import Config, ConfigError

log = logging.getLogger("tenantry_agent")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--url", envvar="TENANTRY_URL", required=True, help="Tenantry's API base URL.")
@click.option(
    "--token",
    envvar="TENANTRY_AGENT_TOKEN",
    help="The cluster's agent token (prefer the environment variable: argv is visible to ps).",
)
@click.option(
    "--token-file",
    envvar="TENANTRY_AGENT_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    help="A file holding the agent token, re-read on every request (a mounted Secret).",
)
@click.option(
    "--heartbeat-seconds",
    envvar="TENANTRY_AGENT_HEARTBEAT_SECONDS",
    type=click.FloatRange(min=0.1),
    default=30.0,
    help="Heartbeat interval; keep it at Tenantry's AgentHeartbeatSeconds or below.",
)
@click.option(
    "--concurrency",
    envvar="TENANTRY_AGENT_CONCURRENCY",
    type=click.IntRange(1, 50),
    default=4,
    help="Work items held at once.",
)
@click.option(
    "--poll-seconds",
    envvar="TENANTRY_AGENT_POLL_SECONDS",
    type=click.FloatRange(min=0.05),
    default=2.0,
    help="How often an idle agent asks for work.",
)
@click.option(
    "--grace-seconds",
    envvar="TENANTRY_AGENT_GRACE_SECONDS",
    type=click.FloatRange(min=0),
    default=20.0,
    help="On SIGTERM, how long in-flight work may take before it is released.",
)
@click.option(
    "--request-timeout",
    envvar="TENANTRY_AGENT_REQUEST_TIMEOUT",
    type=click.FloatRange(min=0.1),
    default=10.0,
    help="Timeout of one call to Tenantry.",
)
@click.option(
    "--dry-run",
    envvar="TENANTRY_AGENT_DRY_RUN",
    is_flag=True,
    help="Touch no cluster: log what would be done and report success.",
)
@click.option(
    "--dry-run-delay",
    envvar="TENANTRY_AGENT_DRY_RUN_DELAY",
    type=click.FloatRange(min=0),
    default=0.0,
    help="With --dry-run: seconds each operation pretends to take.",
)
@click.option(
    "--in-cluster",
    envvar="TENANTRY_AGENT_IN_CLUSTER",
    is_flag=True,
    help="Use the pod's service account (else a kubeconfig).",
)
@click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (default ~/.kube/config).",
)
@click.option("--context", envvar="TENANTRY_AGENT_KUBE_CONTEXT", help="Kubeconfig context.")
@click.option(
    "--helm",
    envvar="TENANTRY_AGENT_HELM",
    default="helm",
    help="The helm binary (a path, or a name looked up on PATH).",
)
@click.option(
    "--helm-timeout",
    envvar="TENANTRY_AGENT_HELM_TIMEOUT",
    type=click.FloatRange(min=1),
    default=300.0,
    help="helm's --timeout: how long an install waits for its rollout (and a rollback).",
)
@click.option(
    "--action-timeout",
    envvar="TENANTRY_AGENT_ACTION_TIMEOUT",
    type=click.FloatRange(min=0.1),
    default=30.0,
    help="Timeout of a chart action's HTTP call.",
)
@click.option(
    "--action-url",
    envvar="TENANTRY_AGENT_ACTION_URL",
    default="http://{service}.{namespace}.svc:{port}",
    help="Where a chart action's service is reached ({service}, {namespace}, {port}).",
)
@click.option(
    "--log-level",
    envvar="TENANTRY_AGENT_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
)
@click.version_option(__version__, prog_name="tenantry-agent")
def main(log_level: str, **options: object) -> None:
    """Pull work from Tenantry for this cluster, do it, report back."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    config = Config(**options)  # type: ignore[arg-type]
    try:
        agent = config.agent()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None

    def stop(signum: int) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        agent.stop()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Not in the handler itself: it runs on the main thread between any two bytecodes,
        # maybe inside an Event's non-reentrant lock that stop() takes too.
        threading.Thread(target=stop, args=(signum,), name="stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    mode = "dry run" if config.dry_run else ("in cluster" if config.in_cluster else "kubeconfig")
    log.info("tenantry-agent %s: %s, %s", __version__, config.url, mode)
    try:
        code = agent.run()
    finally:
        agent.client.close()
    sys.exit(code)
