"""Configuration, read once from the environment the template gives each function.

A frozen dataclass rather than pydantic(-settings): the authorizer and the workflow steps
use no pydantic at all, and skipping it saves them ~100 ms of cold start (pydantic-settings
alone costs ~250 ms of imports). Values are checked here as strictly as a model would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import cache

APPROVAL_POLICIES = ("auto", "moderated")


# eq and repr off: a process has one Settings (get_settings), never compared or printed
# whole, and the methods generated for ~40 fields are a third of this module's import time
# (every function imports it). The docstring spares dataclass computing one from __init__.
@dataclass(frozen=True, eq=False, repr=False)
class Settings:
    """The configuration, from the environment (Settings.from_env)."""

    table_name: str = "tenantry"
    idempotency_table_name: str = "tenantry-idempotency"
    create_project_state_machine_arn: str = ""
    delete_project_state_machine_arn: str = ""
    run_deployment_task_state_machine_arn: str = ""
    image_repository_prefix: str = "tenantry/"
    secrets_key_id: str = ""  # the KMS key sealing secret contents (tenantry.secrets_crypto)
    approval_policy: str = "auto"
    oidc_issuer: str = ""
    oidc_audience: str = ""
    idempotency_ttl_seconds: int = 3600
    token_last_used_resolution_seconds: int = 60
    stage: str = "local"
    # Limits against abuse (template parameters Max*; dal/limits.py enforces them).
    max_projects_per_user: int = 50
    max_pending_join_requests_per_user: int = 20
    max_join_requests_per_project_per_day: int = 5
    max_invites_per_user_per_day: int = 100
    max_orgs_per_user_per_day: int = 10
    max_apps_per_project: int = 20
    # The agent protocol (template parameters Agent*; tenantry.domain.work).
    agent_heartbeat_seconds: int = 30
    agent_lease_seconds: int = 60
    agent_work_timeout_seconds: int = 900
    agent_work_max_attempts: int = 3
    # Chart discovery (tenantry.domain.chart_discovery): the ECR repositories it reads
    # (template parameter ChartsRepositoryPrefix), its queue (for the re-parse of charts a
    # new tag format may parse), and where the registries' OCI API is: empty means
    # https://<registry domain>, as deployed; the local runner and tests name their
    # emulated registry (local/ecr_registry.py).
    # A project's Git repository (tenantry.git_provider): the provider's API (GitHub REST
    # shape), its organization and the Secrets Manager secret holding its token (template
    # parameters GitProvider*); no organization: the platform offers no repositories.
    git_provider_api_url: str = "https://api.github.com"
    git_provider_org: str = ""
    git_provider_token_secret_name: str = ""
    git_repository_prefix: str = ""
    git_repository_on_delete: str = "Archive"
    charts_repository_prefix: str = "charts/"
    chart_discovery_queue_url: str = ""
    chart_registry_url: str = ""
    # Notifications (tenantry.domain.notifications): how long one stays listed without a
    # new post, unless the post says otherwise (template parameter NotificationLifetimeSeconds).
    notification_lifetime_seconds: int = 7 * 24 * 3600
    # Lifecycle events (tenantry.event_bus): the stack's EventBridge bus, for the stream
    # function only.
    event_bus_name: str = ""
    # Realtime (tenantry.domain.realtime): API Gateway's management endpoint of the
    # WebSocket API (https://<api>.execute-api.<region>.amazonaws.com/ws), for the push
    # function only, and how long a connection's item lives (API Gateway closes a
    # connection after 2 hours; DynamoDB's TTL removes an item $disconnect missed).
    websocket_management_url: str = ""
    websocket_connection_seconds: int = 2 * 3600

    def __post_init__(self) -> None:
        if self.approval_policy not in APPROVAL_POLICIES:
            raise ValueError(f"APPROVAL_POLICY must be one of {APPROVAL_POLICIES}")
        if self.git_repository_on_delete not in ("Archive", "Delete"):
            raise ValueError("GIT_REPOSITORY_ON_DELETE must be Archive or Delete")
        for f in fields(self):
            if f.name.startswith(("max_", "agent_")) and getattr(self, f.name) < 1:
                raise ValueError(f"{f.name.upper()} must be at least 1")
        if not 60 <= self.websocket_connection_seconds <= 24 * 3600:
            raise ValueError("WEBSOCKET_CONNECTION_SECONDS must be 60 to 86400 (a day)")
        if not 60 <= self.notification_lifetime_seconds <= 30 * 24 * 3600:
            raise ValueError("NOTIFICATION_LIFETIME_SECONDS must be 60 to 2592000 (30 days)")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = {k.lower(): v for k, v in (os.environ if environ is None else environ).items()}
        values: dict[str, str | int] = {}
        for f in fields(cls):
            if f.name in env:
                values[f.name] = int(env[f.name]) if f.type == "int" else env[f.name]
        return cls(**values)  # type: ignore[arg-type]


@cache
def get_settings() -> Settings:
    return Settings.from_env()
