"""`make invoke FUNCTION=<LogicalId> EVENT=events/<group>/<Name>.json`: run one function of
template.yaml with one event, as `sam local invoke` does, without Docker.

The function runs in the emulated stack (local/stack.py: moto in this process, the
template's tables and state machines deployed), seeded first with the world the sample
events refer to (local/seed.py), so every file in events/ succeeds as it is. The function's
result (the Lambda response) is printed to stdout as JSON; its logs, and the emulator's,
go to stderr:

    python -m local.invoke IdentityFunction -e events/identity/Me.json
    python -m local.invoke -e events/workflows/FinishProvisioningFunction.json | jq .
    python -m local.invoke ProjectsFunction -e my-event.json --no-seed

FUNCTION may be left out for a file of events/ (each names its function). A workflow
step's event finds project `demo` in the status its workflow works on (creating or
deleting); every other event finds it active.

Exit status: 0 when the function returned, 1 when it raised (stdout then carries the error
payload Lambda returns, stderr the traceback), 2 on a usage error.

Environment: PARAMETER_OVERRIDES (template parameters, as for `make run`), WAIT_SCALE
(scale Step Functions Wait/Retry sleeps, e.g. 0.01).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local import git_provider
from local.stack import Stack, fake_aws_env, parse_overrides

log = logging.getLogger("local.invoke")


class UsageError(Exception):
    pass


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Everything written to stdout meanwhile (Powertools' logger writes there, as Lambda
    expects) goes to stderr instead, down to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def sample_function(event_path: Path) -> str | None:
    """The function a file of events/ belongs to, None for any other file."""
    from local import sample_events

    try:
        rel = event_path.resolve().relative_to(sample_events.EVENTS_DIR)
    except ValueError:
        return None
    entry = sample_events.build().get(rel)
    return entry.function if entry else None


def read_event(path: str) -> Any:
    if path == "-":
        return json.load(sys.stdin)
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise UsageError(f"no event file {path}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc


def run(function: str | None, event_path: str, *, seed: bool = True) -> tuple[Any, bool]:
    """(the function's result or Lambda's error payload, whether it raised)."""
    event = read_event(event_path)
    if function is None:
        function = sample_function(Path(event_path)) if event_path != "-" else None
        if function is None:
            raise UsageError("name the function: FUNCTION=<logical id of template.yaml>")
    os.environ.update(fake_aws_env())  # before any boto3 client exists
    overrides = parse_overrides(os.environ.get("PARAMETER_OVERRIDES"))
    with git_provider.standing_in(overrides) as (git, parameters):
        return _run(Stack(parameters), function, event, git, seed=seed)


def _run(
    stack: Stack,
    function: str,
    event: Any,
    git: git_provider.Provider | None,
    *,
    seed: bool,
) -> tuple[Any, bool]:
    if function not in stack.functions:
        known = ", ".join(sorted(stack.functions))
        raise UsageError(f"{function} is not a function of template.yaml ({known})")
    scale = os.environ.get("WAIT_SCALE")
    with stack.emulate(wait_scale=float(scale) if scale else None):
        if git is not None:
            git_provider.attach(git, stack)
        if seed:
            from local.seed import project_status_for
            from local.seed import seed as seed_world

            seed_world(stack, project_status_for(event))
        started = time.perf_counter()
        try:
            result, failed = stack.invoke(function, event), False
        except Exception as exc:
            traceback.print_exc()
            result, failed = _error_payload(exc), True
        ms = (time.perf_counter() - started) * 1000
        print(f"REPORT {function} Duration: {ms:.1f} ms", file=sys.stderr, flush=True)
    return result, failed


def _error_payload(exc: BaseException) -> dict[str, Any]:
    """What Lambda returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.invoke",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", nargs="?", help="logical id in template.yaml")
    parser.add_argument("-e", "--event", required=True, help="event JSON file ('-': stdin)")
    parser.add_argument("--no-seed", action="store_true", help="start from empty tables")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # moto logs whole ASL trees on every failed state; the execution history has it all.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    try:
        with stdout_to_stderr():
            result, failed = run(args.function or None, args.event, seed=not args.no_seed)
    except UsageError as exc:
        print(f"local.invoke: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
