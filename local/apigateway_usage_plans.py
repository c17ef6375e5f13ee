"""API Gateway's usage plans as AWS answers for what is not there (dev emulation only).

moto 5.2's DeleteUsagePlan and DeleteUsagePlanKey pop the plan (or the plan's key) from a
dict without looking: a plan or key that is not there is a KeyError, which reaches the
caller as a Python exception in process, or a 500 from the moto server. API Gateway
answers 404 NotFoundException, which is what tenantry.api_gateway takes as "already gone"
when a revocation or a deletion is repeated. These two methods now raise moto's own
NotFoundException errors first, and otherwise do what moto's do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock


@contextlib.contextmanager
def usage_plans_not_found() -> Iterator[None]:
    from moto.apigateway.exceptions import ApiKeyNotFoundException, UsagePlanNotFoundException
    from moto.apigateway.models import APIGatewayBackend

    delete_plan = APIGatewayBackend.delete_usage_plan
    delete_plan_key = APIGatewayBackend.delete_usage_plan_key

    def delete_usage_plan(self: Any, usage_plan_id: str) -> None:
        if usage_plan_id not in self.usage_plans:
            raise UsagePlanNotFoundException()
        delete_plan(self, usage_plan_id)

    def delete_usage_plan_key(self: Any, usage_plan_id: str, key_id: str) -> None:
        if usage_plan_id not in self.usage_plans:
            raise UsagePlanNotFoundException()
        if key_id not in self.usage_plan_keys.get(usage_plan_id, {}):
            raise ApiKeyNotFoundException()
        delete_plan_key(self, usage_plan_id, key_id)

    delete_usage_plan.__wrapped__ = delete_plan  # type: ignore[attr-defined]  # for tests
    delete_usage_plan_key.__wrapped__ = delete_plan_key  # type: ignore[attr-defined]
    with (
        mock.patch.object(APIGatewayBackend, "delete_usage_plan", delete_usage_plan),
        mock.patch.object(APIGatewayBackend, "delete_usage_plan_key", delete_usage_plan_key),
    ):
        yield
