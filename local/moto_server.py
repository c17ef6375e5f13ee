"""`make moto`: template.yaml deployed into a moto server on a fixed port, seeded with the
sample events' world, for `sam local invoke` (Docker) with `--env-vars local/env.json`.

    make moto                     port 5000: the port local/env.json points functions at
    make moto SEED=creating       project demo as the create workflow's steps find it
    make moto SEED=deleting       ... as the delete workflow's steps find it
    sam build && sam local invoke IdentityFunction -e events/identity/Me.json

What it serves is the emulated stack of local/stack.py (tables, state machines running
real ASL, each Lambda Task dispatched to the function's handler in this process) behind
moto's HTTP server: the in-process mock and the server share moto's backends, so a
function in SAM's container sees the tables and items this process created, and an
execution it starts runs here. Events in events/ succeed as they are: the route events and
the authorizer's against the default seed (project demo active), a workflow step's
against SEED=creating or SEED=deleting (the status its workflow works on).

Environment:
  MOTO_PORT   port (default 5000; local/env.json names 5000)
  MOTO_HOST   address to listen on (default 0.0.0.0: a container reaches the host through
              the Docker bridge, not the loopback). It is a fake AWS without auth holding
              fake data; bind 127.0.0.1 when no container needs it.
  SEED        active (default), creating, deleting, or none (empty tables)
  PARAMETER_OVERRIDES, WAIT_SCALE   as for `make run`
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from local.stack import Stack, fake_aws_env, parse_overrides

DEFAULT_PORT = 5000
SEEDS = ("active", "creating", "deleting", "none")
log = logging.getLogger("local.moto_server")


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = int(os.environ.get("MOTO_PORT") or DEFAULT_PORT)
    host = os.environ.get("MOTO_HOST") or "0.0.0.0"
    seed_status = os.environ.get("SEED") or "active"
    if seed_status not in SEEDS:
        print(f"SEED={seed_status!r} is not one of {', '.join(SEEDS)}", file=sys.stderr)
        return 2
    os.environ.update(fake_aws_env())  # before any boto3 client exists
    os.environ["MOTO_PORT"] = str(port)  # where moto's ASL interpreter would call AWS
    scale = os.environ.get("WAIT_SCALE")
    stack = Stack(parse_overrides(os.environ.get("PARAMETER_OVERRIDES")))
    signal.signal(signal.SIGTERM, _stop)
    from moto.server import ThreadedMotoServer

    with stack.emulate(wait_scale=float(scale) if scale else None):
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        try:
            server.start()
        except OSError as exc:
            print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
        try:
            if seed_status != "none":
                from local.seed import seed

                seed(stack, seed_status)
            _describe(stack, host, port, seed_status)
            threading.Event().wait()  # until SIGINT/SIGTERM
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            server.stop()
    return 0


def _describe(stack: Stack, host: str, port: int, seed_status: str) -> None:
    from local import sample_events as samples

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    print(f"moto on http://{shown}:{port} (listening on {host}), region us-east-1", flush=True)
    print(f"  tables: {', '.join(stack.table_names().values())}")
    print(f"  state machines: {', '.join(stack.state_machine_arns().values())}")
    if seed_status == "none":
        print("  not seeded (SEED=none)")
    else:
        print(
            f"  seeded: project {samples.PROJECT_ID} ({seed_status}), "
            f"admin token {samples.TOKEN}, the ids of events/"
        )
    print("  sam build && sam local invoke IdentityFunction -e events/identity/Me.json", flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
