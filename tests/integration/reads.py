"""What a request reads from the application's table: every Query and BatchGetItem with the
items it returned, so a test can say which items a list read (not only which it answered).
None of the lists uses a FilterExpression, so the items returned are the items read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from tests.harness import Api

LIST_READS = ("Query", "BatchGetItem")


@dataclass
class Read:
    operation: str
    params: dict[str, Any]
    items: list[dict[str, Any]]


@dataclass
class Reads:
    calls: list[Read] = field(default_factory=list)

    def ops(self) -> list[str]:
        return [c.operation for c in self.calls]

    def items(self, entity: str | None = None) -> list[dict[str, Any]]:
        """Every item read, in order (of one entity when given)."""
        return [
            i for c in self.calls for i in c.items if entity is None or i.get("entity") == entity
        ]

    def queries(self) -> list[Read]:
        return [c for c in self.calls if c.operation == "Query"]


@contextlib.contextmanager
def reads(api: Api) -> Iterator[Reads]:
    """Every Query and BatchGetItem on the application's table while the block runs."""
    from botocore.client import BaseClient

    from tenantry.dal.table import table_name

    out = Reads()
    make_api_call = BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = make_api_call(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb" and operation in LIST_READS:
            if operation == "Query" and params.get("TableName") == table_name():
                out.calls.append(Read(operation, params, list(answer.get("Items", []))))
            elif operation == "BatchGetItem" and table_name() in params["RequestItems"]:
                items = answer.get("Responses", {}).get(table_name(), [])
                out.calls.append(Read(operation, params, list(items)))
        return answer

    with mock.patch.object(BaseClient, "_make_api_call", recording):
        yield out
