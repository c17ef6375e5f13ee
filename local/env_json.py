"""local/env.json, written from template.yaml: each function's environment for
`sam local invoke --env-vars local/env.json` (samconfig.toml passes it), so that the function
in SAM's container talks to the `make moto` server (local/moto_server.py) and finds there
what that server deployed and seeded.

    python -m local.env_json           (re)write local/env.json
    python -m local.env_json --check   exit 1 if local/env.json is out of date

Per function: the environment the template gives it, resolved as the emulated stack
resolves it (table names, state machine ARNs: `sam local` alone would pass a resource's
logical id where the template says `!Ref StateMachine`), plus AWS_ENDPOINT_URL pointing at
the moto server as a container sees the host. SAM applies only the variables the template
declares, which is why template.yaml declares AWS_ENDPOINT_URL (absent when deployed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local import template
from local.moto_server import DEFAULT_PORT

ENV_JSON = template.ROOT / "local" / "env.json"
# How a container reaches the host: Docker Desktop resolves this name; on Linux the
# `add_host` of samconfig.toml maps it to the host gateway.
ENDPOINT = f"http://host.docker.internal:{DEFAULT_PORT}"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


def build() -> dict[str, dict[str, str]]:
    from local.stack import Stack

    stack = Stack()  # the template's default parameters, as `sam local invoke` uses them
    out: dict[str, dict[str, str]] = {}
    for lid, fn in stack.functions.items():
        declared = template.function_properties(lid).get("Environment", {}).get("Variables", {})
        if ENDPOINT_VARIABLE not in declared:
            raise SystemExit(
                f"{lid} does not declare {ENDPOINT_VARIABLE} in template.yaml, so sam local "
                "would ignore it: keep `AWS_ENDPOINT_URL: !Ref AWS::NoValue` in Globals"
            )
        out[lid] = dict(sorted({**fn.environment, ENDPOINT_VARIABLE: ENDPOINT}.items()))
    return out


def render(env: dict[str, Any]) -> str:
    return json.dumps(env, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.env_json", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if local/env.json is stale")
    args = parser.parse_args(argv)
    wanted = render(build())
    current = ENV_JSON.read_text() if ENV_JSON.exists() else None
    rel = Path(ENV_JSON).relative_to(template.ROOT)
    if args.check:
        if current != wanted:
            print(f"{rel} is out of date: run `python -m local.env_json`", file=sys.stderr)
            return 1
        print(f"{rel} is up to date")
        return 0
    if current != wanted:
        ENV_JSON.write_text(wanted)
        print(f"wrote {rel}")
    else:
        print(f"{rel} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
