"""local/eventbridge.py: the template's event buses are made under their names, and a rule
declared on one (EventBusName: a bus's name or ARN) gets the events put on that bus, not
those of the default bus, as in EventBridge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local import eventbridge
from local.stack import ACCOUNT, REGION, Stack


def _queue(stack: Stack, name: str) -> tuple[str, str]:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _bodies(stack: Stack, url: str) -> list[dict[str, Any]]:
    messages = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_the_templates_bus_is_made_under_its_name(stack: Stack) -> None:
    name = stack.physical_id("EventBus")
    assert name == "tenantry-local-events"  # !Sub "${AWS::StackName}-events"
    arn = stack.attribute("EventBus", "Arn")
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    described = stack.client("events").describe_event_bus(Name=name)
    assert described["Arn"] == arn


@pytest.mark.parametrize("by", ["name", "arn"])
def test_a_rule_on_a_custom_bus_gets_that_bus_events_only(stack: Stack, by: str) -> None:
    bus = stack.physical_id("EventBus")
    url, queue_arn = _queue(stack, f"target-{by}")
    props = {
        "EventBusName": bus if by == "name" else stack.attribute("EventBus", "Arn"),
        "EventPattern": {"source": ["tenantry"], "detail-type": ["Project Status Changed"]},
        "Targets": [{"Id": "q", "Arn": queue_arn}],
    }
    eventbridge.deploy(stack.client("events"), f"OnBus{by}", props)
    entry = {"Source": "tenantry", "DetailType": "Project Status Changed", "Detail": "{}"}
    events = stack.client("events")
    events.put_events(Entries=[{**entry, "Detail": '{"on": "default"}'}])
    events.put_events(Entries=[{**entry, "EventBusName": bus, "Detail": '{"on": "bus"}'}])
    events.put_events(Entries=[{**entry, "EventBusName": bus, "DetailType": "Project Changed"}])
    (body,) = _bodies(stack, url)
    assert body["detail"] == {"on": "bus"} and body["account"] == ACCOUNT
    assert eventbridge.arn(REGION, ACCOUNT, "R", props["EventBusName"]).endswith(f":rule/{bus}/R")
    assert eventbridge.arn(REGION, ACCOUNT, "R").endswith(":rule/R")
