"""local/moto_direct.py: a call this process makes to a JSON-protocol service moto
emulates is answered by moto's handler without an HTTP request between, and the caller
gets what the HTTP way gives: the same parsed answer, the same exception with the same
parsed error (a cancelled transaction's reasons included), for every operation the product
calls on those services."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from local.moto_direct import SERVICES, as_http
from local.stack import Stack

ITEM = {"PK": {"S": "P#direct"}, "SK": {"S": "META"}, "n": {"N": "1"}, "b": {"B": b"\x00"}}
KEY = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
VARYING = {"RequestId", "HTTPHeaders"}  # per response either way


def _comparable(value: Any) -> Any:
    """The parsed answer without what differs from one response to the next: request ids,
    dates, SQS's message ids and receipt handles."""
    if isinstance(value, dict):
        out = {}
        for key, each in value.items():
            if key in VARYING:
                continue
            if key in {"MessageId", "ReceiptHandle", "MD5OfMessageBody", "SequenceNumber"}:
                out[key] = type(each).__name__
            else:
                out[key] = _comparable(each)
        return out
    if isinstance(value, list):
        return [_comparable(each) for each in value]
    if isinstance(value, datetime.datetime):
        return "a datetime"
    return value


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("answer", _comparable(call()))
    except ClientError as error:
        return ("error", type(error).__name__, _comparable(error.response))


def _calls(stack: Stack) -> dict[str, Callable[[], Any]]:
    ddb, table = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    streams = stack.client("dynamodbstreams")
    sfn, events, sqs = stack.client("stepfunctions"), stack.client("events"), stack.client("sqs")
    ddb.put_item(TableName=table, Item=ITEM)
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    queue = sqs.create_queue(QueueName="direct-test")["QueueUrl"]
    changed = {
        "Update": {
            "TableName": table,
            "Key": KEY,
            "UpdateExpression": "SET n = n + :one",
            "ConditionExpression": "n = :zero",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
        }
    }

    def records() -> Any:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return streams.get_records(ShardIterator=iterator, Limit=5)["Records"][0]

    return {
        "GetItem": lambda: ddb.get_item(TableName=table, Key=KEY),
        "GetItem, no such table": lambda: ddb.get_item(TableName="nope", Key=KEY),
        "Query": lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": ITEM["PK"]},
            ReturnConsumedCapacity="INDEXES",
        ),
        "Query, bad expression": lambda: ddb.query(
            TableName=table, KeyConditionExpression="PK = ", ExpressionAttributeValues={}
        ),
        "BatchGetItem": lambda: ddb.batch_get_item(RequestItems={table: {"Keys": [KEY]}}),
        "PutItem, condition fails": lambda: ddb.put_item(
            TableName=table, Item=ITEM, ConditionExpression="attribute_not_exists(PK)"
        ),
        "UpdateItem": lambda: ddb.update_item(
            TableName=table,
            Key=KEY,
            UpdateExpression="SET flag = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
            ReturnValues="ALL_NEW",
        ),
        "TransactWriteItems, cancelled": lambda: ddb.transact_write_items(TransactItems=[changed]),
        "DescribeTable": lambda: ddb.describe_table(TableName=table)["Table"]["KeySchema"],
        "GetRecords": records,
        "DescribeExecution, none": lambda: sfn.describe_execution(
            executionArn=machine.replace(":stateMachine:", ":execution:") + ":none"
        ),
        "ListExecutions": lambda: sfn.list_executions(stateMachineArn=machine),
        "DescribeStateMachine": lambda: sfn.describe_state_machine(stateMachineArn=machine)["name"],
        "PutEvents": lambda: events.put_events(
            Entries=[{"Source": "test", "DetailType": "t", "Detail": json.dumps({"a": 1})}]
        )["FailedEntryCount"],
        "ListRules": lambda: sorted(r["Name"] for r in events.list_rules()["Rules"]),
        "SendMessage": lambda: sqs.send_message(QueueUrl=queue, MessageBody="hello"),
        "GetQueueAttributes": lambda: sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["VisibilityTimeout"]
        ),
        "GetQueueUrl, no such queue": lambda: sqs.get_queue_url(QueueName="nope"),
    }


def test_the_same_answers_and_errors_both_ways(stack: Stack) -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    stubbed: list[str] = []
    process = BotocoreStubber.process_request

    def counting(self: Any, request: Any) -> Any:
        stubbed.append(request.url)
        return process(self, request)

    calls = _calls(stack)
    with mock.patch.object(BotocoreStubber, "process_request", counting):
        for name, call in calls.items():
            stubbed.clear()
            direct = _outcome(call)
            assert stubbed == [], f"{name} went through moto's stubber"
            with as_http():
                by_http = _outcome(call)
            assert stubbed, f"{name}: as_http() did not send a request"
            assert direct == by_http, name
            if name.endswith(("fails", "cancelled", "table", "expression", "none", "queue")):
                assert direct[0] == "error", name


def test_cancellation_reasons_reach_the_caller(stack: Stack) -> None:
    ddb, table = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=table, Item=ITEM)
    check = {"ConditionCheck": {"TableName": table, "Key": KEY, "ConditionExpression": "n = :z"}}
    check["ConditionCheck"]["ExpressionAttributeValues"] = {":z": {"N": "0"}}
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[check])
    assert caught.value.response["CancellationReasons"] == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    ]


def test_other_services_and_outside_calls_go_the_usual_way(stack: Stack) -> None:
    from local.moto_direct import before_call

    assert "lambda" not in SERVICES and "s3" not in SERVICES
    ddb = stack.client("dynamodb")
    model = ddb.meta.service_model.operation_model("ListTables")
    # not within a call of this process's boto3 (local.moto_lock.in_whole_call)
    assert before_call(model, {}, ddb._request_signer) is None
    with mock.patch("local.moto_direct.in_whole_call", return_value=True):
        from moto import settings

        with mock.patch.object(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0):
            assert before_call(model, {}, ddb._request_signer) is None  # moto authenticates
        lam = stack.client("lambda")
        other = lam.meta.service_model.operation_model("ListFunctions")
        assert before_call(other, {}, lam._request_signer) is None
