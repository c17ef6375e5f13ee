"""local/lambda_async.py: a function the template configures in a way the emulation cannot
play fails the caller that submits its event, and leaves nothing pending behind."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from local.lambda_async import Invoker


def _stack(dead_letter: dict[str, Any]) -> Any:
    template = {
        "Resources": {
            "PushFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "app.push", "DeadLetterQueue": dead_letter},
            }
        }
    }
    invoked: list[Any] = []
    return SimpleNamespace(
        template=template,
        resolve=lambda value: value,
        invoke=lambda function, event: invoked.append((function, event)),
        invoked=invoked,
    )


def test_an_unplayable_configuration_fails_the_submit_and_nothing_stays_pending() -> None:
    invoker = Invoker(_stack({"Type": "SNS", "TargetArn": "arn:aws:sns:us-east-1:1:t"}))
    with pytest.raises(NotImplementedError):
        invoker.submit("PushFunction", {"id": 1})
    invoker.drain(timeout=1)  # returns at once: the event was never queued


def test_a_submitted_event_is_invoked() -> None:
    stack = _stack({"Type": "SQS", "TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"})
    invoker = Invoker(stack)
    invoker.submit("PushFunction", {"id": 1})
    invoker.drain(timeout=5)
    assert stack.invoked == [("PushFunction", {"id": 1})]
