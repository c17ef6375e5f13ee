"""A read-only index of template.yaml for the dev tools (the emulated stack, OpenAPI, sample
events, contract tests): which function serves which HttpApi route, under which event name,
in which module; the other events of a function (schedules, SQS event sources); the
resources of a type. The one reader of the file (local/stack.py resolves and deploys from
it, local/schedules.py, local/eventbridge.py, local/sqs_delivery.py and
local/stream_delivery.py emulate from it).

Nothing here lists a route or a function: everything comes from the template, read with
cfn-lint's decoder (it understands the short-form intrinsics like `!Ref`).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class HttpRoute:
    event: str  # the event's key in the template, e.g. "CreateUser"
    method: str  # upper case, e.g. "POST"
    path: str  # API Gateway syntax, e.g. "/users/{userId}"
    authorizer: str | None  # the authorizer's name, None for `Auth: {Authorizer: NONE}`

    @property
    def key(self) -> str:
        """API Gateway's routeKey, e.g. "GET /users/{userId}"."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class TemplateFunction:
    logical_id: str
    code_uri: str
    handler: str  # e.g. "app.lambda_handler"
    routes: tuple[HttpRoute, ...]

    @property
    def group(self) -> str:
        """The route group: the CodeUri's last folder, e.g. "identity"."""
        return Path(self.code_uri).name

    @property
    def module_name(self) -> str:
        """`functions/identity` + `app.lambda_handler` -> `functions.identity.app`."""
        package = ".".join(Path(self.code_uri).parts)
        return f"{package}.{self.handler.rpartition('.')[0]}"

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]

    def module(self) -> ModuleType:
        add_layers_to_path()
        return importlib.import_module(self.module_name)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if template is None:
        raise ValueError(f"cannot read {path}: {matches}")
    return dict(template)


def resources(template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return dict((template or load())["Resources"])


def _globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(template.get("Globals", {}).get("Function", {}))


def function_properties(logical_id: str, template: Mapping[str, Any] | None = None) -> dict:
    """A function's Properties with the template's Globals.Function under them."""
    template = template or load()
    own = resources(template)[logical_id].get("Properties", {})
    return dict(merge_globals(_globals(template), own))


def merge_globals(base: Any, over: Any) -> Any:
    """SAM Globals: maps merge, lists append, scalars are overridden."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = merge_globals(base[k], v) if k in base else v
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return [*base, *over]
    return over


def functions(template: Mapping[str, Any] | None = None) -> dict[str, TemplateFunction]:
    """Every AWS::Serverless::Function, in template order, with its HttpApi routes."""
    template = template or load()
    out = {}
    for lid, res in resources(template).items():
        if res.get("Type") != FUNCTION:
            continue
        props = function_properties(lid, template)
        routes = tuple(
            _route(name, ev.get("Properties", {}), template)
            for name, ev in props.get("Events", {}).items()
            if ev.get("Type") == "HttpApi"
        )
        out[lid] = TemplateFunction(lid, str(props["CodeUri"]), str(props["Handler"]), routes)
    return out


def http_functions(template: Mapping[str, Any] | None = None) -> dict[str, TemplateFunction]:
    """The functions that serve at least one HttpApi route."""
    return {lid: fn for lid, fn in functions(template).items() if fn.routes}


def _route(name: str, props: Mapping[str, Any], template: Mapping[str, Any]) -> HttpRoute:
    api_ref = props.get("ApiId")
    api_id = api_ref.get("Ref") if isinstance(api_ref, Mapping) else None
    api_auth = resources(template)[api_id]["Properties"].get("Auth", {}) if api_id else {}
    authorizer = props.get("Auth", {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
    return HttpRoute(
        event=name,
        method=str(props.get("Method", "ANY")).upper(),
        path=str(props.get("Path", "/")),
        authorizer=None if authorizer in (None, "NONE") else str(authorizer),
    )


def function_events(
    logical_id: str, kind: str, template: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """{event key: Properties} of the function's events of one Type (Schedule, SQS, ...)."""
    events = function_properties(logical_id, template).get("Events", {})
    return {
        name: dict(ev.get("Properties", {}))
        for name, ev in events.items()
        if ev.get("Type") == kind
    }


def schedules(logical_id: str, template: Mapping[str, Any] | None = None) -> dict[str, str]:
    """{event key: schedule expression} of the function's Schedule (EventBridge) events."""
    return {
        name: str(props.get("Schedule", ""))
        for name, props in function_events(logical_id, "Schedule", template).items()
    }


def event_source_mappings(
    logical_id: str, template: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """{logical id: Properties} of the AWS::Lambda::EventSourceMapping resources invoking the
    function (FunctionName `!Ref` it), in template order."""
    return {
        lid: props
        for lid, props in resources_of_type("AWS::Lambda::EventSourceMapping", template).items()
        if isinstance(props.get("FunctionName"), Mapping)
        and props["FunctionName"].get("Ref") == logical_id
    }


def resources_of_type(kind: str, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{logical id: Properties} of the template's resources of one Type, in template order."""
    return {
        lid: dict(res.get("Properties", {}))
        for lid, res in resources(template).items()
        if res.get("Type") == kind
    }


def getatt_target(value: Any) -> str | None:
    """`!GetAtt X.Arn` (either form) -> "X"; anything else -> None."""
    target = value.get("Fn::GetAtt") if isinstance(value, Mapping) else None
    if isinstance(target, str):
        return target.split(".")[0]
    if isinstance(target, list) and target:
        return str(target[0])
    return None


def authorizer_functions(template: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """{function logical id: the names HttpApi Auth.Authorizers declare it under}."""
    out: dict[str, set[str]] = {}
    for res in resources(template).values():
        if res.get("Type") != "AWS::Serverless::HttpApi":
            continue
        declared = res.get("Properties", {}).get("Auth", {}).get("Authorizers", {})
        for name, decl in declared.items():
            lid = getatt_target(decl.get("FunctionArn"))
            if lid:
                out.setdefault(lid, set()).add(name)
    return out


def add_layers_to_path(template: Mapping[str, Any] | None = None) -> None:
    """The local layers and the repo root on sys.path, as /opt/python and the code are in
    Lambda."""
    paths = [ROOT] + [
        ROOT / res["Properties"]["ContentUri"]
        for res in resources(template).values()
        if res.get("Type") == "AWS::Serverless::LayerVersion"
    ]
    for path in paths:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def registered_routes(app: Any) -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every route registered on a Powertools resolver."""
    routes = [*app._static_routes, *app._dynamic_routes]
    return {(r.method.upper(), openapi_path(r.path)) for r in routes}


def openapi_path(path: str) -> str:
    """Powertools' `<param>` route syntax -> OpenAPI's / API Gateway's `{param}`."""
    return path.replace("<", "{").replace(">", "}")


# --- the WebSocket API (AWS::ApiGatewayV2) and EventBridge rules' Lambda targets ---------------

WEBSOCKET_ROUTE = "AWS::ApiGatewayV2::Route"
_SUB_FUNCTION = re.compile(r"\$\{(\w+)\.Arn\}")


def _sub_function(value: Any) -> str | None:
    """`!Sub "...${Fn.Arn}..."` (an integration's or authorizer's URI) -> "Fn"."""
    text = value.get("Fn::Sub") if isinstance(value, Mapping) else None
    found = _SUB_FUNCTION.search(text) if isinstance(text, str) else None
    return found.group(1) if found else None


@dataclass(frozen=True)
class WebSocketRoute:
    logical_id: str
    key: str  # $connect, $disconnect, $default, or a route selection value
    operation: str  # OperationName (the sample event's name), else the logical id
    function: str  # the integration's function (logical id)
    authorizer: str | None  # the authorizer's function (logical id), $connect only


def websocket_routes(template: Mapping[str, Any] | None = None) -> list[WebSocketRoute]:
    """Every route of the template's WebSocket APIs, with its function and authorizer."""
    template = template or load()
    res = resources(template)
    out = []
    for lid, props in resources_of_type(WEBSOCKET_ROUTE, template).items():
        target = props.get("Target", {}).get("Fn::Sub", "")
        integration = str(target).removeprefix("integrations/${").removesuffix("}")
        function = _sub_function(res[integration]["Properties"]["IntegrationUri"])
        auth = props.get("AuthorizerId")
        authorizer = None
        if isinstance(auth, Mapping) and "Ref" in auth:
            authorizer = _sub_function(res[auth["Ref"]]["Properties"]["AuthorizerUri"])
        if function is None:
            raise ValueError(f"{lid}: its integration names no function of the template")
        out.append(
            WebSocketRoute(
                lid,
                str(props["RouteKey"]),
                str(props.get("OperationName", lid)),
                function,
                authorizer,
            )
        )
    return out


def rule_targets(logical_id: str, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{rule logical id: Properties} of the AWS::Events::Rule resources targeting the
    function (a target's Arn `!GetAtt <function>.Arn`)."""
    return {
        lid: props
        for lid, props in resources_of_type("AWS::Events::Rule", template).items()
        if any(getatt_target(t.get("Arn")) == logical_id for t in props.get("Targets", []))
    }
