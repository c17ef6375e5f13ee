"""local/stepfunctions_tasks.py: a Lambda Task's invoke handed straight to the stack's
dispatch answers what moto's road (boto3 client, moto's stubber and Lambda responses, the
same dispatch behind them) answers, as the interpreter keeps it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import Stack

FUNCTION = "CreateEnvironmentsFunction"


def _invokes() -> tuple[Any, Any]:
    """(the patched invoke, moto's) of the interpreter's lambda_eval_utils."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )

    direct = lambda_eval_utils._invoke_lambda_function
    return direct, direct.__wrapped__


def _kept(response: dict[str, Any]) -> dict[str, Any]:
    """What the interpreter keeps of an invocation response (execute_lambda_function_
    integration: the InvocationResponse fields)."""
    from moto.stepfunctions.parser.api import InvocationResponse
    from moto.utilities.collections import select_from_typed_dict

    return dict(select_from_typed_dict(typed_dict=InvocationResponse, obj=response))


def _both(stack: Stack, parameters: dict[str, Any]) -> tuple[Any, Any]:
    direct, through_moto = _invokes()
    return (
        _kept(direct(dict(parameters), "us-east-1", None)),
        _kept(through_moto(dict(parameters), "us-east-1", None)),
    )


def _params(stack: Stack, payload: Any, name: str = FUNCTION) -> dict[str, Any]:
    return {"FunctionName": stack.functions[name].arn, "Payload": json.dumps(payload).encode()}


class Failing(Exception):
    pass


def _failing(event: Any, context: Any) -> Any:
    raise Failing(f"no environments for {event['project_id']}")


@pytest.mark.parametrize(
    "handler",
    [
        lambda event, context: {"echo": event, "n": 1.5, "none": None, "list": [1, "x"]},
        lambda event, context: "plain text",
        lambda event, context: None,
        lambda event, context: "x" * 6_100_000,  # over moto's response size limit
        _failing,
    ],
    ids=["object", "string", "null", "too-large", "raises"],
)
def test_direct_invoke_answers_as_moto_does(stack: Stack, handler: Any) -> None:
    stack.set_handler(FUNCTION, handler)
    direct, through_moto = _both(stack, _params(stack, {"project_id": "p1", "n": [1, 2]}))
    assert direct == through_moto
    assert direct["StatusCode"] == 200


def test_the_function_error_is_what_the_interpreter_names_the_failure_by(stack: Stack) -> None:
    stack.set_handler(FUNCTION, _failing)
    direct, _ = _both(stack, _params(stack, {"project_id": "p1"}))
    assert direct["FunctionError"] == "Unhandled"
    assert direct["Payload"]["errorType"] == "Failing"


def test_the_function_arn_by_name_or_partial_arn(stack: Stack) -> None:
    stack.set_handler(FUNCTION, lambda event, context: event)
    for name in (FUNCTION, f"{stack.functions[FUNCTION].arn}:$LATEST"):
        params = {"FunctionName": name, "Payload": b'{"a": 1}'}
        direct, through_moto = _both(stack, params)
        assert direct == through_moto == {"StatusCode": 200, "Payload": {"a": 1}}


def test_other_invokes_take_motos_road(stack: Stack) -> None:
    direct, _ = _invokes()
    unknown = {"FunctionName": "NoSuchFunction", "Payload": b"{}"}
    with pytest.raises(ClientError) as raised:
        direct(unknown, "us-east-1", None)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"

    calls: list[Any] = []
    stack.set_handler(FUNCTION, lambda event, context: calls.append(event) or "queued")
    event = {**_params(stack, {"a": 1}), "InvocationType": "Event"}
    response = direct(event, "us-east-1", None)
    assert response["StatusCode"] == 202  # moto's Lambda responses answered it
