"""Least privilege in template.yaml, where SAM would quietly widen it.

SAM turns some function event types into an event source mapping *and* a managed policy on
the function's role that reaches every resource of its kind in the account
(AWSLambdaSQSQueueExecutionRole: receive and delete on every queue;
AWSLambdaDynamoDBExecutionRole: every table's stream; the Kinesis, MSK and MQ ones alike).
Tenantry writes those mappings as AWS::Lambda::EventSourceMapping resources instead, with
statements on the one queue or stream; a managed policy named in `Policies` would widen a
role the same way.
"""

from __future__ import annotations

from local import template

WIDENING_EVENT_TYPES = {"SQS", "DynamoDB", "Kinesis", "MSK", "MQ", "SelfManagedKafka", "DocumentDB"}


def test_no_function_event_attaches_an_account_wide_managed_policy() -> None:
    widening = {
        (lid, name, ev.get("Type"))
        for lid in template.functions()
        for name, ev in template.function_properties(lid).get("Events", {}).items()
        if ev.get("Type") in WIDENING_EVENT_TYPES
    }
    assert widening == set(), "use an AWS::Lambda::EventSourceMapping and scoped statements"


def test_no_function_names_a_managed_policy() -> None:
    named = {
        (lid, policy)
        for lid in template.functions()
        for policy in template.function_properties(lid).get("Policies", [])
        if isinstance(policy, str)
    }
    assert named == set()


def test_each_queue_mapping_is_matched_by_its_functions_own_queue_statement() -> None:
    """What Lambda's poller does with the function's role, on that queue and no other."""
    mappings = template.resources_of_type("AWS::Lambda::EventSourceMapping")
    queues = {
        lid: (props["FunctionName"]["Ref"], template.getatt_target(props["EventSourceArn"]))
        for lid, props in mappings.items()
        if template.resources()[template.getatt_target(props["EventSourceArn"]) or ""]["Type"]
        == "AWS::SQS::Queue"
    }
    assert queues, "the chart discovery queue has a mapping"
    for function, queue in queues.values():
        statements = [
            s
            for policy in template.function_properties(function).get("Policies", [])
            for s in policy.get("Statement", [])
        ]
        receives = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
        assert receives, f"{function} cannot receive from {queue}"
        for s in receives:
            assert template.getatt_target(s["Resource"]) == queue
            assert {"sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(s["Action"])
