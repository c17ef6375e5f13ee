"""Helpers for the workflow tests: the real ASL runs under moto (the `api` fixture), its
Lambda Tasks go to the real step handlers, and faults are injected below the steps (the
ECR / Step Functions / DynamoDB calls they make), so the state machine sees the errors the
steps really raise, by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import Stack
from tests.harness import Api, wait_until

CREATE_SM = "CreateProjectStateMachine"
DELETE_SM = "DeleteProjectStateMachine"
# The Lambda steps of each workflow, in order (the namespaces Map, AskClusters, runs after
# PlanNamespaces; with no clusters it asks nothing).
CREATE_STEPS = (
    "CreateEnvironments",
    "CreateImageRepository",
    "PlanNamespaces",
    "FinishProvisioning",
)
DELETE_STEPS = (
    "DeleteImageRepository",
    "RevokeProjectCredentials",
    "PlanNamespaces",
    "FinishDeprovisioning",
)


def states_of(steps: tuple[str, ...]) -> list[str]:
    """The states an execution of a project without clusters (nor a Git repository)
    enters: its steps, the namespaces Map after PlanNamespaces, the Git repository's Choice
    after the image repository's step."""
    out: list[str] = []
    for step in steps:
        out.append(step)
        if step == "PlanNamespaces":
            out.append("AskClusters")
        if step in ("CreateImageRepository", "DeleteImageRepository"):
            out.append("GitRepository?")
    return out


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> ClientError:
    """What botocore raises for an AWS error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or f"{code} (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class Fault:
    """Stands in for a callable: raises `error()` on the first `times` matching calls
    (every matching call when `times` is None), otherwise calls the real one. `when`
    selects the calls the fault applies to (default: all). `calls` counts matching calls,
    `failures` the ones that raised."""

    def __init__(
        self,
        real: Callable[..., Any],
        error: Callable[[], BaseException],
        times: int | None,
        when: Callable[..., bool] | None = None,
    ) -> None:
        self.real, self.error, self.times, self.when = real, error, times, when
        self.calls = self.failures = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.when is not None and not self.when(*args, **kwargs):
            return self.real(*args, **kwargs)
        with self.lock:
            self.calls += 1
            failing = self.times is None or self.calls <= self.times
            self.failures += failing
        if failing:
            raise self.error()
        return self.real(*args, **kwargs)


class Faults:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def inject(
        self,
        target: Any,
        name: str,
        error: Callable[[], BaseException],
        times: int | None = None,
        when: Callable[..., bool] | None = None,
    ) -> Fault:
        fault = Fault(getattr(target, name), error, times, when)
        self.monkeypatch.setattr(target, name, fault)
        return fault

    def remove(self, target: Any, name: str) -> None:
        """Put the real callable back (the fault object stays readable)."""
        current = getattr(target, name)
        assert isinstance(current, Fault), f"{name} has no fault injected"
        self.monkeypatch.setattr(target, name, current.real)

    @staticmethod
    def ecr() -> Any:
        """The ECR client the registry module uses (cached per emulation): patch its
        methods and the steps see the fault."""
        from tenantry import registry

        return registry._ecr()

    @staticmethod
    def sfn() -> Any:
        """The Step Functions client tenantry.workflows starts executions with."""
        from tenantry import workflows

        return workflows._sfn()


class Workflow:
    """A project's view of the emulated stack: HTTP calls as the admin, executions, their
    event histories, the table's items and the registry."""

    def __init__(self, api: Api, token: str) -> None:
        self.api, self.token = api, token
        self.stack: Stack = api.stack

    # --- HTTP -------------------------------------------------------------------------
    def create(self, project_id: str, environments: tuple[str, ...] = ("dev", "prod")) -> Any:
        r = self.api.post(
            "/projects",
            token=self.token,
            json={"name": project_id.title(), "id": project_id, "environments": environments},
        )
        assert r.status == 202, r
        return r.json()

    def delete(self, project_id: str, reclaim: bool | None = None) -> Any:
        query = None if reclaim is None else {"reclaim": str(reclaim).lower()}
        r = self.api.delete(f"/projects/{project_id}", token=self.token, query=query)
        assert r.status == 202, r
        return r.json()

    def action(self, project_id: str, action: str) -> Any:
        return self.api.post(
            f"/projects/{project_id}/actions", token=self.token, json={"action": action}
        )

    def project(self, project_id: str) -> dict[str, Any]:
        r = self.api.get(f"/projects/{project_id}", token=self.token)
        assert r.status == 200, r
        return dict(r.json())

    def history(self, project_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            r = self.api.get(f"/projects/{project_id}/history", token=self.token, query=query)
            assert r.status == 200, r
            body = r.json()
            items.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                return items

    def events(self, project_id: str) -> list[str]:
        return [i["event"] for i in self.history(project_id)]

    # --- workflows --------------------------------------------------------------------
    def settle(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.api.wait_for_executions(timeout=timeout)

    def execution_names(self, state_machine: str = CREATE_SM) -> list[str]:
        return sorted(e["name"] for e in self.api.executions(state_machine))

    def execution(self, name: str) -> dict[str, Any]:
        sm = CREATE_SM if "-create-" in name else DELETE_SM
        found = [e for e in self.api.executions(sm) if e["name"] == name]
        assert found, f"no execution {name}; have {self.execution_names(sm)}"
        return found[0]

    def settled_execution(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        return wait_until(
            lambda: (e := self.execution(name))["status"] != "RUNNING" and e, timeout=timeout
        )

    def execution_events(self, name: str) -> list[dict[str, Any]]:
        sfn = self.stack.client("stepfunctions")
        arn = self.execution(name)["executionArn"]
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def states(self, name: str) -> list[str]:
        """The states the execution entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.execution_events(name)
            if "stateEnteredEventDetails" in e
        ]

    def step_attempts(self, name: str, state: str) -> list[str]:
        """One entry per Lambda invocation the state made: "ok" or the error's name."""
        current, out = None, []
        for e in self.execution_events(name):
            if "stateEnteredEventDetails" in e:
                current = e["stateEnteredEventDetails"]["name"]
            elif current == state and e["type"] == "LambdaFunctionSucceeded":
                out.append("ok")
            elif current == state and e["type"] == "LambdaFunctionFailed":
                out.append(e["lambdaFunctionFailedEventDetails"]["error"])
        return out

    # --- data -------------------------------------------------------------------------
    def items(self, project_id: str, sk_prefix: str) -> list[dict[str, Any]]:
        ddb = self.stack.client("dynamodb")
        table = self.stack.table_names()["TenantryTable"]
        resp = ddb.query(
            TableName=table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={
                ":pk": {"S": f"PROJECT#{project_id}"},
                ":sk": {"S": sk_prefix},
            },
            ConsistentRead=True,
        )
        return list(resp["Items"])

    def environments(self, project_id: str) -> dict[str, str]:
        """{name: id} of the project's environment items (SK ENV#<id>)."""
        return {
            i["name"]["S"]: i["id"]["S"]
            for i in self.items(project_id, "ENV#")
            if i["SK"]["S"] == f"ENV#{i['id']['S']}"
        }

    def repository(self, project_id: str) -> dict[str, Any] | None:
        ecr = self.stack.client("ecr")
        try:
            repos = ecr.describe_repositories(repositoryNames=[f"tenantry/{project_id}"])
        except ecr.exceptions.RepositoryNotFoundException:
            return None
        return dict(repos["repositories"][0])

    def repository_tags(self, project_id: str) -> dict[str, str]:
        repo = self.repository(project_id)
        assert repo is not None, f"no repository for {project_id}"
        tags = self.stack.client("ecr").list_tags_for_resource(resourceArn=repo["repositoryArn"])
        return {t["Key"]: t["Value"] for t in tags["tags"]}


class Gate:
    """Holds a step's handler until released: `entered` is set when the step starts."""

    def __init__(self, stack: Stack, function: str, timeout: float = 5.0) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        real = stack.handler(function)

        def gated(event: Any, context: Any) -> Any:
            self.entered.set()
            if not self.released.wait(timeout):
                raise RuntimeError(f"{function} was never released")
            return real(event, context)

        stack.set_handler(function, gated)


# The name AWS Lambda's own failures carry in Step Functions (the step's code may have run).
LambdaServiceException = type("Lambda.ServiceException", (Exception,), {})


class LostResponse:
    """Runs a step's real handler, then fails the first `times` invocations with
    Lambda.ServiceException, as when the step committed its work but its result was lost:
    the state machine retries a step that already did its work."""

    def __init__(self, stack: Stack, function: str, times: int = 1) -> None:
        self.calls, self.times = 0, times
        self.results: list[Any] = []
        real = stack.handler(function)

        def handler(event: Any, context: Any) -> Any:
            self.calls += 1
            result = real(event, context)
            self.results.append(result)
            if self.calls <= self.times:
                raise LambdaServiceException("the function's response was lost (injected)")
            return result

        stack.set_handler(function, handler)


def dynamodb_busy() -> Exception:
    """What the table layer raises when DynamoDB throttles or a transaction conflicts."""
    from tenantry.dal import table

    try:
        with table.errors_mapped():
            raise client_error("ThrottlingException", "TransactWriteItems")
    except Exception as exc:
        return exc
    raise AssertionError("errors_mapped swallowed the error")


def step_event(project_id: str, operation: str, attempt: int = 1, **extra: Any) -> dict[str, Any]:
    """The execution input every step receives (tenantry.workflows.start's payload)."""
    return {"project_id": project_id, "operation": operation, "attempt": attempt, **extra}


INTERNALS = (
    "Error",  # TransientError, RegistryError, ClientError, ...
    "Exception",
    "arn:",
    "Traceback",
    "AccessDenied",
    "Throttling",
    "TransactWriteItems",
    "CreateRepository",
    "DeleteRepository",
    "{",
)


def assert_no_internals(reason: str) -> None:
    """A reason shown to tenants is a sentence: no error types, codes, ARNs or raw causes."""
    assert reason and reason[0].islower() and " " in reason, reason
    leaked = [word for word in INTERNALS if word in reason]
    assert not leaked, (leaked, reason)
