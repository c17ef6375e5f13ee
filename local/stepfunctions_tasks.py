"""Step Functions Lambda Tasks handed straight to the emulation's Lambda dispatch (dev
emulation only).

moto's ASL interpreter invokes a Task's function (`"Resource": <function ARN>`) through a
boto3 Lambda client: botocore builds and signs the request, moto's stubber routes it
through its Lambda responses to the backend (which local/stack.py's dispatch_lambda
answers), botocore parses the answer back: ~1 ms of plumbing around each step's handler,
four steps per project created. Here the interpreter's invoke calls the dispatch itself
and is given what botocore would have returned: StatusCode 200, FunctionError when the
function raised, the function's JSON as Payload, moto's size limit on the response
applied as its Lambda responses apply it. Any other call (a Qualifier, an InvocationType,
a function the dispatch does not know) takes moto's road, as before.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

# (function name or ARN, request payload, response headers to fill) -> the response
# payload, or None when the name is not one of the emulation's functions
Dispatch = Callable[[str, bytes, dict[str, str]], "bytes | None"]
PLAIN_INVOKE = {"FunctionName", "Payload"}  # what a Task with a function ARN sends
MAX_RESPONSE = 6_000_000  # moto.awslambda.responses.LambdaResponse.invoke's limit
TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}


def invocation_response(payload: bytes, response_headers: dict[str, str]) -> dict[str, Any]:
    """What moto's Lambda responses answer and botocore parses, for a synchronous invoke
    whose function returned `payload` (the Payload still a stream, as botocore gives it)."""
    if sys.getsizeof(payload) > MAX_RESPONSE:
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = json.dumps(TOO_LARGE).encode("utf-8")
    response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(payload)}
    if "x-amz-function-error" in response_headers:
        response["FunctionError"] = response_headers["x-amz-function-error"]
    return response


@contextlib.contextmanager
def direct_lambda_tasks(dispatch: Dispatch) -> Iterator[None]:
    """Patch the interpreter's Lambda invoke (lambda_eval_utils._invoke_lambda_function)
    for the duration."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )

    through_moto = lambda_eval_utils._invoke_lambda_function

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
        payload = parameters.get("Payload")
        if parameters.keys() == PLAIN_INVOKE and isinstance(payload, bytes):
            response_headers: dict[str, str] = {}
            answer = dispatch(parameters["FunctionName"], payload, response_headers)
            if answer is not None:
                response = invocation_response(answer, response_headers)
                response["Payload"] = lambda_eval_utils._from_payload(response["Payload"])
                return response
        return through_moto(parameters, region, state_credentials)

    invoke.__wrapped__ = through_moto  # type: ignore[attr-defined]  # tests compare the two
    with mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", invoke):
        yield
