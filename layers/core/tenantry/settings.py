"""Configuration, read once from the environment the template gives each function.

A plain pydantic model filled from os.environ: pydantic-settings would do the same but
costs ~250 ms of imports on a cold start (asyncio, dotenv), more than boto3 itself.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = "tenantry"
    idempotency_table_name: str = "tenantry-idempotency"
    create_project_state_machine_arn: str = ""
    delete_project_state_machine_arn: str = ""
    image_repository_prefix: str = "tenantry/"
    approval_policy: Literal["auto", "moderated"] = "auto"
    oidc_issuer: str = ""
    oidc_audience: str = ""
    idempotency_ttl_seconds: int = 3600
    token_last_used_resolution_seconds: int = 60
    stage: str = "local"

    @classmethod
    def from_env(cls) -> Settings:
        fields = cls.model_fields
        return cls(**{k.lower(): v for k, v in os.environ.items() if k.lower() in fields})


@cache
def get_settings() -> Settings:
    return Settings.from_env()
