"""template.yaml -> an emulated stack in this process (dev and tests only, never deployed).

The template is read by local/template.py (functions, their HttpApi routes, Globals); this
module resolves it for local use: parameters, intrinsics, route patterns and authorizers,
tables and state machines. Nothing here lists a route or a resource a second time.

AWS is moto in process (`mock_aws`). Step Functions run real ASL (moto's parser) and
their Lambda Tasks are dispatched to the functions' Python handlers in this process; HTTP
requests become API Gateway HTTP API payload 2.0 events, through the template's Lambda
authorizer (REQUEST, payload 2.0, simple responses) as API Gateway does.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import re
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode

from local import (
    apigateway_websockets,
    eventbridge,
    kms_keys,
    lambda_async,
    request_ids,
    sqs_delivery,
    stream_delivery,
)
from local import template as tpl
from local.emulation_patches import emulation_patches
from local.fifo_lock import FifoRLock
from local.moto_lock import whole_call
from local.stepfunctions_tasks import direct_lambda_tasks

ROOT = tpl.ROOT
TEMPLATE = tpl.TEMPLATE
REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "localapi01"
SFN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/tenantry-local-states"
MOCK_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "tenantry-local",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/tenantry-local/local",
}
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Never let a developer's real AWS settings reach an emulated run.
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")  # prefixes
EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
EMULATED = {
    "AWS::DynamoDB::Table",
    kms_keys.KIND,
    sqs_delivery.KIND,
    eventbridge.KIND,
    eventbridge.BUS_KIND,
    EVENT_SOURCE_MAPPING,  # Stack.event_source_mappings: queues and streams
    "AWS::Serverless::StateMachine",
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::Serverless::LayerVersion",
    # Resource policies grant AWS services access; moto enforces none, so none is made.
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::Permission",
    *apigateway_websockets.KINDS,
}
log = logging.getLogger("local.stack")
NO_VALUE = object()  # `!Ref AWS::NoValue`: the map key or list item holding it is dropped


def parse_overrides(text: str | None) -> dict[str, str]:
    """`A=x B=y` or `ParameterKey=A,ParameterValue=x ...`, as `sam deploy` takes them."""
    out: dict[str, str] = {}
    for item in shlex.split(text or ""):
        if item.startswith("ParameterKey="):
            key, _, value = item.removeprefix("ParameterKey=").partition(",ParameterValue=")
        else:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"parameter override {item!r} is not Key=Value")
        out[key] = value
    return out


def fake_aws_env() -> dict[str, str]:
    return dict(FAKE_AWS_ENV)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorizer: str | None  # logical id of the authorizer function, None for Auth NONE
    pattern: re.Pattern[str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Function:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, str]
    memory: int = 128
    timeout: int = 3
    routes: list[Route] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.logical_id}"

    @property
    def module(self) -> str:
        package = ".".join(Path(self.code_uri).parts)
        return f"{package}.{self.handler.rpartition('.')[0]}"


class LambdaContext:
    """What the Lambda runtime hands a handler, as much as Powertools reads."""

    def __init__(self, fn: Function) -> None:
        self.function_name = fn.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory
        self.aws_request_id = str(request_ids.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + fn.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Stack:
    def __init__(
        self,
        parameters: Mapping[str, str] | None = None,
        template: Path = TEMPLATE,
        *,
        raise_handler_errors: bool = False,
    ) -> None:
        self.template = tpl.load(template)
        self.resources: dict[str, Any] = self.template["Resources"]
        self.parameters = self._parameters(parameters or {})
        # True in tests: an exception in a route handler propagates instead of becoming
        # API Gateway's bare 500, so the test shows the real traceback.
        self.raise_handler_errors = raise_handler_errors
        self.functions = {
            lid: self._function(tf) for lid, tf in tpl.functions(self.template).items()
        }
        self.routes = sorted(
            (r for fn in self.functions.values() for r in fn.routes),
            key=lambda r: (r.path.count("{"), -r.path.count("/")),  # literal routes first
        )
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._clients: dict[str, Any] = {}
        # One invocation at a time per handler module: its globals (the resolver's current
        # event) are per container in Lambda. Different functions (an HTTP request and a
        # workflow step on moto's thread) run concurrently, as they would in AWS; AWS calls
        # themselves are serialized by serial_aws_calls(), since moto is not thread-safe.
        # Waiters are served in arrival order (local/fifo_lock.py).
        self._locks: dict[str, FifoRLock] = {}
        # Where each stream event source mapping is in its stream (local/stream_delivery.py).
        self.stream_readers: list[stream_delivery.Reader] = []
        # The WebSocket API's connections (local/apigateway_websockets.py) and Lambda's
        # asynchronous invocations (local/lambda_async.py), while emulated.
        self.websockets: apigateway_websockets.Gateway | None = None
        self.async_invoker: lambda_async.Invoker | None = None
        for fn in self.functions.values():
            self._locks.setdefault(fn.module, FifoRLock())
        tpl.add_layers_to_path(self.template)  # as /opt/python is in Lambda

    # --- template ----------------------------------------------------------------------
    def _parameters(self, overrides: Mapping[str, str]) -> dict[str, str]:
        decls = self.template.get("Parameters", {})
        unknown = set(overrides) - set(decls)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        values = {}
        for name, decl in decls.items():
            value = str(overrides.get(name, decl.get("Default", "")))
            allowed = decl.get("AllowedValues")
            if allowed and value not in [str(a) for a in allowed]:
                raise ValueError(f"parameter {name}={value!r} is not one of {list(allowed)}")
            pattern = decl.get("AllowedPattern")
            if pattern and value and not re.fullmatch(pattern, value):
                raise ValueError(f"parameter {name}={value!r} does not match {pattern}")
            values[name] = value
        return values

    def physical_id(self, logical_id: str) -> str:
        res = self.resources[logical_id]
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            return str(self.resolve(props.get("TableName", logical_id)))
        if kind == "AWS::Serverless::Function":
            return logical_id
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self._sm_name(logical_id)}"
        if kind == "AWS::Serverless::HttpApi":
            return API_ID
        if kind == apigateway_websockets.API_KIND:
            return apigateway_websockets.API_ID
        if kind == "AWS::Serverless::LayerVersion":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{logical_id}:1"
        if kind == kms_keys.KIND:
            return kms_keys.ref(PSEUDO["AWS::StackName"], logical_id)
        if kind == sqs_delivery.KIND:
            return sqs_delivery.url(REGION, ACCOUNT, logical_id)
        if kind == eventbridge.BUS_KIND:
            return str(self.resolve(props.get("Name", logical_id)))
        return logical_id

    def attribute(self, logical_id: str, attr: str) -> str:
        kind = self.resources[logical_id]["Type"]
        ref = self.physical_id(logical_id)
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ref}"
            return {"Arn": arn, "StreamArn": f"{arn}/stream/1970-01-01T00:00:00.000"}[attr]
        if kind == "AWS::Serverless::Function" and attr == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{ref}"
        if kind == "AWS::Serverless::StateMachine":
            return {"Arn": ref, "Name": self._sm_name(logical_id)}[attr]
        if kind == sqs_delivery.KIND:  # named after the logical id
            arn = sqs_delivery.arn(REGION, ACCOUNT, logical_id)
            return {"Arn": arn, "QueueName": logical_id, "QueueUrl": ref}[attr]
        if kind == eventbridge.KIND and attr == "Arn":
            props = self.resources[logical_id].get("Properties", {})
            bus = str(self.resolve(props.get("EventBusName", eventbridge.DEFAULT_BUS)))
            return eventbridge.arn(REGION, ACCOUNT, logical_id, bus)
        if kind == eventbridge.BUS_KIND:
            return {"Arn": eventbridge.bus_arn(REGION, ACCOUNT, ref), "Name": ref}[attr]
        raise NotImplementedError(f"Fn::GetAtt {logical_id}.{attr} is not emulated")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO:
            return PSEUDO[name]
        return self.physical_id(name)

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions the template uses, recursively."""
        if isinstance(value, list):
            return [r for r in map(self.resolve, value) if r is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                lid, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.attribute(lid, attr)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else arg
                extra = {k: self.resolve(v) for k, v in extra.items()}
                return re.sub(r"\$\{([^}!][^}]*)\}|\$\{!", lambda m: self._sub(m, extra), text)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(v) for v in self.resolve(items))
            if key.startswith("Fn::") or key == "Condition":
                raise NotImplementedError(f"{key} is not emulated by local/stack.py")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _sub(self, m: re.Match[str], extra: Mapping[str, Any]) -> str:
        name = m.group(1)
        if name is None:
            return "${"
        if name in extra:
            return str(extra[name])
        if "." in name and name not in PSEUDO:
            lid, attr = name.split(".", 1)
            return self.attribute(lid, attr)
        return self._ref(name)

    def _function(self, declared: tpl.TemplateFunction) -> Function:
        logical_id = declared.logical_id
        props = tpl.function_properties(logical_id, self.template)
        env = self.resolve(props.get("Environment", {}).get("Variables", {}))
        fn = Function(
            logical_id=logical_id,
            code_uri=props["CodeUri"],
            handler=props["Handler"],
            environment={k: str(v) for k, v in env.items()},
            memory=int(props.get("MemorySize", 128)),
            timeout=int(props.get("Timeout", 3)),
        )
        for route in declared.routes:
            pattern = re.sub(
                r"\\\{(\w+)(\\\+)?\\\}",
                lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
                re.escape(route.path),
            )
            authorizer = self._authorizer_function(route.authorizer)
            fn.routes.append(
                Route(route.method, route.path, logical_id, authorizer, re.compile(pattern))
            )
        return fn

    def _authorizer_function(self, name: str | None) -> str | None:
        """The logical id of the function behind the HttpApi authorizer of that name."""
        if name is None:
            return None
        for res in self.resources.values():
            decl = res.get("Properties", {}).get("Auth", {}).get("Authorizers", {}).get(name)
            if res["Type"] != "AWS::Serverless::HttpApi" or decl is None:
                continue
            if str(decl.get("AuthorizerPayloadFormatVersion")) != "2.0" or not decl.get(
                "EnableSimpleResponses"
            ):
                raise NotImplementedError("only payload 2.0 authorizers with simple responses")
            return str(self.resolve(decl["FunctionArn"])).rsplit(":", 1)[-1]
        raise ValueError(f"no HttpApi declares the authorizer {name}")

    def _sm_name(self, logical_id: str) -> str:
        return str(self.resolve(self.resources[logical_id]["Properties"].get("Name", logical_id)))

    def environ(self) -> dict[str, str]:
        """The union of every function's environment (one process serves them all)."""
        env: dict[str, str] = {}
        for fn in self.functions.values():
            for k, v in fn.environment.items():
                if env.setdefault(k, v) != v:
                    raise ValueError(f"functions disagree on environment variable {k}")
        return env

    def table_names(self) -> dict[str, str]:
        return {
            lid: self.physical_id(lid)
            for lid, r in self.resources.items()
            if r["Type"] == "AWS::DynamoDB::Table"
        }

    def state_machine_arns(self) -> dict[str, str]:
        return {
            lid: self.physical_id(lid)
            for lid, r in self.resources.items()
            if r["Type"] == "AWS::Serverless::StateMachine"
        }

    # --- deploy (under an active moto mock) ---------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for the emulated account, made once per emulation."""
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def deploy(self) -> None:
        ddb, sfn = self.client("dynamodb"), self.client("stepfunctions")
        queues = tpl.resources_of_type(sqs_delivery.KIND, self.template)
        sqs_delivery.deploy(
            self.client("sqs"), {lid: self.resolve(props) for lid, props in queues.items()}
        )
        for lid in tpl.resources_of_type(eventbridge.BUS_KIND, self.template):
            eventbridge.deploy_bus(self.client("events"), self.physical_id(lid))
        for lid, props in tpl.resources_of_type(eventbridge.KIND, self.template).items():
            eventbridge.deploy(self.client("events"), lid, self.resolve(props))
        for lid, res in self.resources.items():
            # Only what is deployed is resolved: others may use what is not emulated
            # (a log group's Arn, Fn::If on a function's concurrency).
            kind, props = res["Type"], res.get("Properties", {})
            if kind == "AWS::DynamoDB::Table":
                self._create_table(ddb, self.physical_id(lid), self.resolve(props))
            elif kind == kms_keys.KIND:
                used = ("Description", "KeyUsage", "KeySpec", "EnableKeyRotation")
                kms_props = self.resolve({k: v for k, v in props.items() if k in used})
                kms_keys.deploy(self.client("kms"), self.physical_id(lid), kms_props)
            elif kind == "AWS::Serverless::StateMachine":
                used = ("DefinitionUri", "Definition", "DefinitionSubstitutions", "Type")
                props = self.resolve({k: v for k, v in props.items() if k in used})
                if "DefinitionUri" in props:
                    text = (ROOT / props["DefinitionUri"]).read_text()
                else:
                    text = json.dumps(props["Definition"])
                for key, val in props.get("DefinitionSubstitutions", {}).items():
                    text = text.replace("${" + key + "}", str(val))
                sfn.create_state_machine(
                    name=self._sm_name(lid),
                    definition=text,
                    roleArn=SFN_ROLE_ARN,
                    type=props.get("Type", "STANDARD"),
                )
            elif kind not in EMULATED:
                log.warning("%s (%s) is not emulated locally", lid, kind)
        # Event source mappings on the tables' streams start reading from here.
        self.stream_readers = stream_delivery.deploy(self)
        websocket_api = apigateway_websockets.api(self)
        self.websockets = websocket_api and apigateway_websockets.Gateway(self, websocket_api)

    @staticmethod
    def _create_table(ddb: Any, name: str, props: Mapping[str, Any]) -> None:
        keep = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
        kwargs = {k: props[k] for k in (*keep, "LocalSecondaryIndexes") if k in props}
        kwargs["BillingMode"] = props.get("BillingMode", "PROVISIONED")
        if "ProvisionedThroughput" in props:
            kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        if "StreamSpecification" in props:
            view = props["StreamSpecification"]["StreamViewType"]
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        ddb.create_table(TableName=name, **kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )

    # --- functions ---------------------------------------------------------------------
    def handler(self, logical_id: str) -> Callable[..., Any]:
        if logical_id not in self._handlers:
            fn = self.functions[logical_id]
            module = importlib.import_module(fn.module)
            self._handlers[logical_id] = getattr(module, fn.handler.rpartition(".")[2])
        return self._handlers[logical_id]

    def set_handler(self, logical_id: str, handler: Callable[..., Any]) -> None:
        """Stand in for a function's handler (tests: inject a failure into a step)."""
        if logical_id not in self.functions:
            raise KeyError(f"{logical_id} is not a function of the template")
        self._handlers[logical_id] = handler

    def import_handlers(self) -> dict[str, str]:
        """Import every handler now; returns {logical id: error} for those that fail."""
        errors = {}
        for lid in self.functions:
            try:
                self.handler(lid)
            except Exception as exc:
                errors[lid] = f"{type(exc).__name__}: {exc}"
        return errors

    def function_for(self, name_or_arn: str) -> Function | None:
        """A function by name, ARN or partial ARN (with or without a qualifier)."""
        parts = name_or_arn.split(":")
        name = parts[parts.index("function") + 1] if "function" in parts else parts[0]
        return self.functions.get(name)

    def event_source_mappings(self) -> list[tuple[str, dict[str, Any], str]]:
        """(logical id, resolved Properties, the function's logical id) of every
        AWS::Lambda::EventSourceMapping: local/sqs_delivery.py plays those on a queue,
        local/stream_delivery.py those on a stream. A SAM pull event (Type SQS, DynamoDB,
        ...) is refused: it would be played by nothing, and in AWS it widens the role
        (tests/contract/test_template_policies.py)."""
        for lid in self.functions:
            for kind in ("SQS", "DynamoDB", "Kinesis", "MSK", "MQ"):
                if tpl.function_events(lid, kind, self.template):
                    raise NotImplementedError(
                        f"{lid}: a SAM {kind} event; declare an AWS::Lambda::EventSourceMapping"
                    )
        out = []
        for lid, props in tpl.resources_of_type(EVENT_SOURCE_MAPPING, self.template).items():
            resolved = self.resolve(props)
            function = self.function_for(str(resolved["FunctionName"]))
            if function is None:
                raise ValueError(f"{lid}: {resolved['FunctionName']} is not a function here")
            out.append((lid, resolved, function.logical_id))
        return out

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call a function's handler in this process, one invocation at a time."""
        fn = self.functions[logical_id]
        handler = self.handler(logical_id)
        with self._locks[fn.module]:
            return handler(event, LambdaContext(fn))

    def _lambda_invoke(
        self,
        backend: Any,
        name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        """Replaces LambdaSimpleBackend.invoke: what lambda:Invoke (and so every Step
        Functions Lambda Task) returns. A raised exception becomes Lambda's error payload
        plus the `x-amz-function-error` header, which botocore turns into FunctionError
        and the ASL interpreter into an error named by errorType (Retry/Catch match it)."""
        fn = self.function_for(name)
        if fn is None:
            backend.get_function(name, qualifier)  # raises ResourceNotFound as AWS does
            raise ValueError(f"{name} is not a function of template.yaml")
        if isinstance(body, bytes):
            body = body.decode()
        event = json.loads(body) if body else {}
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            threading.Thread(target=self._invoke_logged, args=(fn, event), daemon=True).start()
            return b""
        return self._invoke_json(fn, event, response_headers)

    def _task_invoke(
        self, name: str, body: bytes, response_headers: dict[str, str]
    ) -> bytes | None:
        """A Step Functions Task's synchronous invoke, as _lambda_invoke answers it, for
        local/stepfunctions_tasks.py; None if `name` is not a function of the template."""
        fn = self.function_for(name)
        if fn is None:
            return None
        return self._invoke_json(fn, json.loads(body) if body else {}, response_headers)

    def _invoke_json(self, fn: Function, event: Any, response_headers: dict[str, str]) -> bytes:
        try:
            return json.dumps(self.invoke(fn.logical_id, event)).encode()
        except Exception as exc:
            log.info("%s raised %s: %s", fn.logical_id, type(exc).__name__, exc, exc_info=True)
            response_headers["x-amz-function-error"] = "Unhandled"
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": [],  # the traceback is in the log
            }
            return json.dumps(error).encode()

    def _invoke_logged(self, fn: Function, event: Any) -> None:
        try:
            self.invoke(fn.logical_id, event)
        except Exception:
            log.exception("async invocation of %s failed", fn.logical_id)

    @contextlib.contextmanager
    def dispatch_lambda(self) -> Iterator[None]:
        """Route moto's Lambda invocations (Step Functions Tasks too) to our handlers."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        def invoke(
            backend: Any,
            name: str,
            qualifier: Any,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            return self._lambda_invoke(backend, name, qualifier, body, headers, response_headers)

        with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
            yield

    @staticmethod
    @contextlib.contextmanager
    def fast_waits(scale: float = 0.001) -> Iterator[None]:
        """Scale Wait states and Retry backoff sleeps (tests: 2 s becomes 2 ms)."""
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
            wait_function,
        )

        def wait(_self: Any, env: Any, wait_seconds: float) -> None:
            if wait_seconds > 0:
                env.program_state_event.wait(wait_seconds * scale)

        fake_time = SimpleNamespace(sleep=lambda s: time.sleep(s * scale), time=time.time)
        with (
            mock.patch.object(wait_function.WaitFunction, "_wait_interval", wait),
            mock.patch.object(retrier_decl, "time", fake_time),
        ):
            yield

    @staticmethod
    @contextlib.contextmanager
    def reuse_task_clients() -> Iterator[None]:
        """moto's ASL interpreter builds a new boto3 client for every Lambda Task (~30 ms
        of botocore set-up, three per project creation); one client per region serves
        them all (boto3 clients are thread-safe, and moto's ignore the state's
        credentials)."""
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
            lambda_eval_utils,
        )

        build = lambda_eval_utils.boto_client_for
        clients: dict[tuple[str, str], Any] = {}
        lock = threading.Lock()

        def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            with lock:
                if (region, service) not in clients:
                    clients[region, service] = build(region, service, state_credentials)
                return clients[region, service]

        with mock.patch.object(lambda_eval_utils, "boto_client_for", client_for):
            yield

    @contextlib.contextmanager
    def emulate(self, *, wait_scale: float | None = None) -> Iterator[Stack]:
        """Fake AWS env + functions' env, moto in process, the stack deployed, Lambda
        dispatch on (and Wait/Retry sleeps scaled when wait_scale is given). moto,
        botocore and boto3 run with the emulation's patches (local/emulation_patches.py:
        speed and bounded memory, the product sees the same answers)."""
        from moto import mock_aws

        saved = dict(os.environ)
        self._clients.clear()
        try:
            for key in [k for k in os.environ if k.startswith(UNSET_AWS_ENV)]:
                del os.environ[key]
            os.environ.update(fake_aws_env())
            os.environ.update(self.environ())
            with contextlib.ExitStack() as stack:
                stack.enter_context(mock_aws(config=MOCK_CONFIG))
                _default_session_with_shared_loader()
                stack.enter_context(self.reuse_task_clients())
                stack.enter_context(emulation_patches())
                stack.enter_context(serial_aws_calls())
                stack.enter_context(self.dispatch_lambda())
                stack.enter_context(direct_lambda_tasks(self._task_invoke))
                # Before the asynchronous invoker: on the way out, the invoker's last pushes
                # still reach the emulated management API, not moto's.
                stack.enter_context(apigateway_websockets.management_api(self))
                stack.enter_context(lambda_async.invoking(self))
                stack.enter_context(eventbridge.lambda_targets(self))
                if wait_scale is not None:
                    stack.enter_context(self.fast_waits(wait_scale))
                stack.callback(self.drain_executions)
                self.deploy()
                yield self
        finally:
            self._clients.clear()
            os.environ.clear()
            os.environ.update(saved)

    def drain_executions(self, timeout: float = 5.0) -> None:
        """Let running executions finish (bounded), then stop the rest: a background
        execution must not outlive its mock and write into the next one."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        for arn in self.state_machine_arns().values():
            for ex in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")[
                "executions"
            ]:
                while time.monotonic() < deadline:
                    status = sfn.describe_execution(executionArn=ex["executionArn"])["status"]
                    if status != "RUNNING":
                        break
                    time.sleep(0.02)
                else:
                    sfn.stop_execution(executionArn=ex["executionArn"], cause="emulation ended")

    # --- HTTP API ----------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for a method and a decoded path (see decode_path), and its path
        parameters. No route, whatever the method (TRACE, PROPFIND, ...): None."""
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if m and route.method in (method, "ANY"):
                return route, m.groupdict()
        return None

    def http(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        query: str | Mapping[str, Any] | None = None,
        body: str | bytes | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """One request through API Gateway (HTTP API, payload 2.0) as AWS serves it:
        route match on the decoded path, Lambda authorizer, integration. `path` (as sent,
        percent-encoded) may carry `?query`; `query`
        (raw string or mapping, lists for repeated keys) is appended to it.
        Returns (status, headers, body); cookies come back as one `set-cookie` header
        whose values are separated by newlines."""
        method = method.upper()
        path, _, raw_query = path.partition("?")
        if query:
            extra = query if isinstance(query, str) else urlencode(query, doseq=True)
            raw_query = f"{raw_query}&{extra}" if raw_query else extra
        decoded = decode_path(path)
        if decoded is None:
            return _gateway(400, "Bad Request")
        path = decoded
        found = self.match(method, path)
        if found is None:
            return _gateway(404, "Not Found")
        route, path_params = found
        event = self._event(method, path, raw_query, headers or {}, body, route, path_params)
        if route.authorizer:
            try:
                decision = self.invoke(route.authorizer, self._authorizer_event(event))
                allowed = decision["isAuthorized"]
            except Exception:
                if self.raise_handler_errors:
                    raise
                log.exception("authorizer %s failed", route.authorizer)
                return _gateway(500, "Internal Server Error")
            if allowed is not True:
                return _gateway(403, "Forbidden")
            event["requestContext"]["authorizer"] = {"lambda": decision.get("context") or {}}
        try:
            result = self.invoke(route.function, event)
        except Exception:
            if self.raise_handler_errors:
                raise
            log.exception("%s failed on %s", route.function, route.key)
            return _gateway(500, "Internal Server Error")
        return _response(result)

    def _event(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: str | bytes | None,
        route: Route,
        path_params: dict[str, str],
    ) -> dict[str, Any]:
        hdrs: dict[str, str] = {}
        for k, v in headers.items():
            k = k.lower()
            hdrs[k] = f"{hdrs[k]},{v}" if k in hdrs else str(v)
        cookie = hdrs.pop("cookie", None)
        source_ip = hdrs.get("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
        domain = hdrs.setdefault("host", f"{API_ID}.execute-api.{REGION}.amazonaws.com")
        hdrs.setdefault("x-forwarded-for", source_ip)
        hdrs.setdefault("x-forwarded-proto", "https")
        hdrs.setdefault("x-forwarded-port", "443")
        hdrs.setdefault(
            "x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{request_ids.uuid4().hex[:24]}"
        )
        query: dict[str, str] = {}
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v
        now = time.time()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": hdrs,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "domainName": domain,
                "domainPrefix": domain.split(".")[0],
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": hdrs.get("user-agent", ""),
                },
                "requestId": str(request_ids.uuid4()),
                "routeKey": route.key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        if cookie:
            event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
        if query:
            event["queryStringParameters"] = query
        if path_params:
            event["pathParameters"] = path_params
        if body is not None and body != b"":
            if isinstance(body, bytes):
                try:
                    body = body.decode()
                except UnicodeDecodeError:
                    body = base64.b64encode(body).decode()
                    event["isBase64Encoded"] = True
            event["body"] = body
            hdrs.setdefault("content-length", str(len(body.encode())))
        return event

    @staticmethod
    def _authorizer_event(event: Mapping[str, Any]) -> dict[str, Any]:
        ctx = event["requestContext"]
        method, path = ctx["http"]["method"], event["rawPath"]
        auth = event["headers"].get("authorization")
        out = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/{method}{path}",
            "identitySource": [auth] if auth else [],
            "routeKey": event["routeKey"],
            "rawPath": path,
            "rawQueryString": event["rawQueryString"],
            "headers": dict(event["headers"]),
            "requestContext": json.loads(json.dumps(ctx)),
        }
        for key in ("cookies", "queryStringParameters", "pathParameters"):
            if key in event:
                out[key] = event[key]
        return out


_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a % not followed by two hex digits


def decode_path(raw: str) -> str | None:
    """The request path as API Gateway HTTP API routes it and hands it on (rawPath,
    requestContext.http.path, path parameters): percent-decoded. Live captures of
    HTTP API events show it decoding twice (`%252F` arrives as `/`, `%2525` as `%`),
    cutting the path at a decoded `?`, and rejecting a path that is not valid percent
    encoding (`%25zz`) with 400. So `%2F` in a parameter is a `/`: `/projects/a%2Fb`
    matches no `{projectId}` route (404), as in AWS. None: not decodable (400)."""
    path = raw
    for _ in range(2):
        if "%" not in path:
            break
        if _PERCENT_ESCAPE.search(path):
            return None
        try:
            path = unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return path.partition("?")[0]


@contextlib.contextmanager
def serial_aws_calls() -> Iterator[None]:
    """One AWS API call at a time into moto, from any thread: each call is atomic, as a
    real service request is. moto's DynamoDB backend is not thread-safe (a transaction
    writes several items, then may undo them, while other threads read), and
    workflow steps run on moto's own threads next to the HTTP requests."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def serialized(self: Any, operation_name: str, api_params: Any) -> Any:
        if self.meta.service_model.service_name == "lambda":
            # An Invoke runs a whole handler (whose own calls take the lock): holding the
            # lock across it would stall every other request for the step's duration.
            return original(self, operation_name, api_params)
        with whole_call():
            return original(self, operation_name, api_params)

    BaseClient._make_api_call = serialized  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@cache
def _botocore_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def _default_session_with_shared_loader() -> None:
    """mock_aws drops boto3's default session, so every emulation would parse botocore's
    service models again (~50 ms per service); share one loader and its cache instead."""
    import boto3

    boto3.setup_default_session(region_name=REGION)
    boto3.DEFAULT_SESSION._session.register_component("data_loader", _botocore_loader())


def _gateway(status: int, message: str) -> tuple[int, dict[str, str], str]:
    """API Gateway's own answers (no route, authorizer denied or failed, integration error)."""
    return status, {"content-type": "application/json"}, json.dumps({"message": message})


def _response(result: Any) -> tuple[int, dict[str, str], str]:
    """Payload 2.0 response mapping; a result without statusCode is a 200 JSON body."""
    if not (isinstance(result, Mapping) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, {"content-type": "application/json"}, body
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[k] = ",".join(str(v) for v in values)
    if result.get("cookies"):
        headers["set-cookie"] = "\n".join(result["cookies"])
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "surrogateescape")
    return int(result["statusCode"]), headers, body
