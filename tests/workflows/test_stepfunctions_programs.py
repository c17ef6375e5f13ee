"""local/stepfunctions_programs.py: executions share their definition's program, and run as
they do with a program of their own (moto's way: parsed again for every execution)."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

from local import stepfunctions_programs
from local.stack import Stack
from tests.workflows.support import CREATE_SM, Faults, Workflow, client_error

PROJECTS = ("alpha", "bravo", "charlie", "delta")


class _Forgetful(dict[str, Any]):
    """A _PROGRAMS that keeps nothing: every execution parses its definition again."""

    def __setitem__(self, key: str, value: Any) -> None:
        pass


def _definition(stack: Stack) -> str:
    sfn = stack.client("stepfunctions")
    arn = stack.state_machine_arns()[CREATE_SM]
    return str(sfn.describe_state_machine(stateMachineArn=arn)["definition"])


def test_a_definition_is_parsed_once_with_every_heap_key_drawn(stack: Stack) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = _definition(stack)
    program, tree = AmazonStateLanguageParser.parse(definition)
    assert AmazonStateLanguageParser.parse(definition) == (program, tree)

    components: list[Any] = []
    original = stepfunctions_programs.draw_heap_keys
    with mock.patch.object(EvalComponent, "heap_key", property(lambda c: components.append(c))):
        assert original(program) == len(components) > 20
    # each was drawn when the program was built: reading it now draws nothing new
    keys = {id(c): c._EvalComponent__heap_key for c in components}
    assert all(keys.values()) and len(set(keys.values())) == len(keys)
    assert all(c.heap_key == keys[id(c)] for c in components)


def _run_all(workflow: Workflow, faults: Faults, suffix: str) -> list[tuple[list[str], list[str]]]:
    """Create PROJECTS (their executions overlap), the registry failing each one's first
    attempt, so every execution retries a step (the retry count lives under a heap key);
    per project: the execution's event types and the registry step's attempts."""
    projects = [f"{p}-{suffix}" for p in PROJECTS]
    first_attempts: set[str] = set()
    lock = threading.Lock()

    def first_attempt(**kwargs: Any) -> bool:
        with lock:
            new = kwargs["repositoryName"] not in first_attempts
            first_attempts.add(kwargs["repositoryName"])
            return new

    throttled = lambda: client_error("ThrottlingException", "CreateRepository")  # noqa: E731
    faults.inject(faults.ecr(), "create_repository", throttled, when=first_attempt)
    for pid in projects:
        workflow.create(pid)
    workflow.settle()
    out = []
    for pid in projects:
        name = f"{pid}-create-1"
        assert workflow.execution(name)["status"] == "SUCCEEDED"
        types = [e["type"] for e in workflow.execution_events(name)]
        out.append((types, workflow.step_attempts(name, "CreateImageRepository")))
    return out


def test_executions_sharing_a_program_run_as_with_their_own(
    workflow: Workflow, faults: Faults
) -> None:
    shared = _run_all(workflow, faults, "shared")
    assert all(attempts == ["TransientError", "ok"] for _, attempts in shared)

    faults.remove(faults.ecr(), "create_repository")
    with mock.patch.object(stepfunctions_programs, "_PROGRAMS", _Forgetful()):
        own = _run_all(workflow, faults, "own")

    assert own == shared
