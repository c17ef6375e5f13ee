"""EventBridge buses and rules of template.yaml (AWS::Events::EventBus, AWS::Events::Rule
with an event pattern), emulated (dev only), and `POST /local/events`, the local stand-in
for PutEvents.

A bus is created in moto under its Name; rules are created in moto's EventBridge with their
pattern and targets, on the default bus or the one their EventBusName names; moto matches
each event put on a bus against every rule of that bus, as EventBridge does (values,
prefix, anything-but, exists, ...), and sends it to the matching rules' SQS targets. From
there local/sqs_delivery.py plays the queue's event source mapping. Locally a rule is
named after its logical id. Rules added at run time (a subscriber's rule on the stack's
bus, in a test) work the same. Scheduled rules (a function's Schedule events) are
local/schedules.py's.

A rule's Lambda target (a function of the template, by ARN) is invoked asynchronously,
as EventBridge invokes it, with the event EventBridge sends (local/lambda_async.py: the
function's retries and dead-letter queue); moto has no Lambda targets, so
`lambda_targets(stack)` (entered by Stack.emulate) hands them over. The target's own
RetryPolicy and DeadLetterConfig are for deliveries EventBridge cannot make (Lambda
throttled or unavailable), which never happens here.

`POST /local/events` takes PutEvents' request (`{"Entries": [{"Source", "DetailType",
"Detail", "Resources"?, "Time"?}]}`, at most 10) with a platform admin's token (checked by
the template's authorizer, as a route's would be) and answers PutEvents' answer
(`{"FailedEntryCount", "Entries"}`). Unlike EventBridge, it takes the `aws.*` sources AWS
services use (an ECR push event, say): locally it plays those services.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from local import sqs_delivery

KIND = "AWS::Events::Rule"
BUS_KIND = "AWS::Events::EventBus"
DEFAULT_BUS = "default"
ROUTE = ("POST", "/local/events")
STATUSES = (200, 400, 401, 403)  # what the route answers (tests/integration/test_readme.py)
ENTRY_FIELDS = {"Source", "DetailType", "Detail", "Resources", "Time"}
MAX_ENTRIES = 10
LAMBDA_TARGET = "arn:aws:lambda:"
TARGET_PREFIXES = ("arn:aws:sqs:", LAMBDA_TARGET)


# moto 5.2's rendering of an event for a target without an InputTransformer leaves out
# `account`, which EventBridge always sends (chart discovery reads the ECR registry's
# account from it): the same template with it.
MOTO_EVENT_TEMPLATE = (
    '{"id": "<id>", "time": <time>, "version": "0", "detail-type": "<detail-type>", '
    '"source": "<source>", "region": "<region>", "resources": <resources>, "detail": <detail>}'
)
EVENT_TEMPLATE = MOTO_EVENT_TEMPLATE.replace(
    '"source": "<source>", ', '"source": "<source>", "account": "<account>", '
)


@contextlib.contextmanager
def events_with_account() -> Iterator[None]:
    """Targets get the whole event, `account` included, as from EventBridge."""
    from moto.events.utils import EventTemplateParser

    with mock.patch.object(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", EVENT_TEMPLATE):
        yield


def arn(region: str, account: str, name: str, bus: str = DEFAULT_BUS) -> str:
    """A rule's ARN (a rule on a custom bus has the bus's name in it)."""
    path = name if bus_name(bus) == DEFAULT_BUS else f"{bus_name(bus)}/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def bus_name(name_or_arn: str) -> str:
    """EventBusName takes a bus's name or ARN."""
    return name_or_arn.rsplit("event-bus/", 1)[-1]


def deploy_bus(events: Any, name: str) -> None:
    events.create_event_bus(Name=name)


def deploy(events: Any, name: str, props: Mapping[str, Any]) -> None:
    """A rule ({resolved Properties}) on its bus (EventBusName, or the default bus), with
    its targets. Only event patterns (a schedule is a function's Schedule event here) and
    SQS targets are emulated."""
    if "EventPattern" not in props:
        raise NotImplementedError(f"rule {name}: only rules with an EventPattern are emulated")
    bus = bus_name(str(props.get("EventBusName", DEFAULT_BUS)))
    events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps(props["EventPattern"]),
        State=str(props.get("State", "ENABLED")),
        Description=str(props.get("Description", "")),
    )
    targets = [{"Id": str(t["Id"]), "Arn": str(t["Arn"])} for t in props.get("Targets", [])]
    unsupported = [t["Arn"] for t in targets if not t["Arn"].startswith(TARGET_PREFIXES)]
    if unsupported:
        raise NotImplementedError(
            f"rule {name}: only SQS and Lambda targets are emulated, not {unsupported}"
        )
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)


@contextlib.contextmanager
def lambda_targets(stack: Any) -> Iterator[None]:
    """Matching events go to the rules' Lambda targets too (asynchronously, through
    stack.async_invoker); moto sends the rest to their SQS targets as before."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        functions = [t for t in rule.targets if t["Arn"].startswith(LAMBDA_TARGET)]
        if not functions:
            return original(rule, event, transform_input)
        if rule.state == "ENABLED" and rule.event_pattern.matches_event(event):
            for target in functions:
                function = stack.function_for(target["Arn"])
                if function is None:
                    raise ValueError(f"rule {rule.name}: {target['Arn']} is no function here")
                stack.async_invoker.submit(function.logical_id, lambda_event(event))
        others = [t for t in rule.targets if not t["Arn"].startswith(LAMBDA_TARGET)]
        if others:
            every = rule.targets
            rule.targets = others
            try:
                original(rule, event, transform_input)
            finally:
                rule.targets = every
        return None

    with mock.patch.object(Rule, "send_to_targets", send_to_targets):
        yield


def lambda_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """What EventBridge hands a Lambda target: the event, `time` in ISO 8601 (UTC, seconds)."""
    when = event.get("time")
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(float(when), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime):
        when = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": event["id"],
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": event["account"],
        "time": when,
        "region": event["region"],
        "resources": list(event.get("resources") or []),
        "detail": event["detail"],
    }


def put_events(stack: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """PutEvents on the emulated default bus; the matching rules' queues are polled now."""
    answer = stack.client("events").put_events(Entries=entries)
    sqs_delivery.wake()
    return {"FailedEntryCount": answer["FailedEntryCount"], "Entries": answer["Entries"]}


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def route(
    stack: Any, headers: Mapping[str, str], body: bytes | None
) -> tuple[int, dict[str, str], str]:
    """`POST /local/events`: (status, headers, body)."""
    try:
        _admit(stack, headers)
        entries = _entries(body)
    except Refused as refused:
        problem = {"status": refused.status, "detail": refused.detail}
        return refused.status, {"content-type": "application/problem+json"}, json.dumps(problem)
    return 200, {"content-type": "application/json"}, json.dumps(put_events(stack, entries))


def _admit(stack: Any, headers: Mapping[str, str]) -> None:
    """The template's authorizer resolves the token, as for any route: a platform admin's."""
    (authorizer,) = {r.authorizer for r in stack.routes if r.authorizer}
    lowered = {k.lower(): v for k, v in headers.items()}
    decision = stack.invoke(authorizer, {"type": "REQUEST", "headers": lowered})
    context = decision.get("context") or {}
    if not context.get("principal_id"):
        raise Refused(401, context.get("auth_error") or "a valid bearer token is required")
    if context.get("is_admin") not in (True, "true"):
        raise Refused(403, "only platform admins may put events")


def _entries(body: bytes | None) -> list[dict[str, Any]]:
    try:
        request = json.loads(body or b"")
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    entries = request.get("Entries") if isinstance(request, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
        raise Refused(400, f'give {{"Entries": [...]}} with 1 to {MAX_ENTRIES} entries')
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) - ENTRY_FIELDS:
            raise Refused(400, f"Entries[{i}]: an object of {sorted(ENTRY_FIELDS)}")
        entry = dict(entry)
        if isinstance(entry.get("Detail"), dict):  # a convenience: the object itself
            entry["Detail"] = json.dumps(entry["Detail"])
        for field in ("Source", "DetailType", "Detail"):
            if not isinstance(entry.get(field), str):
                raise Refused(400, f"Entries[{i}].{field}: a string is required")
        if "Time" in entry:
            try:
                entry["Time"] = datetime.fromisoformat(str(entry["Time"]))
            except ValueError:
                raise Refused(400, f"Entries[{i}].Time: an ISO 8601 time") from None
        out.append(entry)
    return out
