"""Create the first platform admin of a deployed stack and print its API token, once.

    TABLE_NAME=<TableName output> python -m local.bootstrap_admin [--token tnt_...]

Uses your AWS credentials (it writes two items to the stack's table). Running it again
with the same --token is a no-op; without --token it issues a new admin token.

This admin (admin@tenantry.invalid) signs in with its API token only: no OIDC JWT ever
resolves to it (tenantry.domain.authn). For an admin who signs in through your identity
provider, create a user with your real email and is_admin: true (POST /users).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "layers", "core"))

from tenantry.auth import new_token_secret
from tenantry.domain.identity import ensure_admin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", help="use this token instead of generating one")
    args = parser.parse_args()
    if not os.environ.get("TABLE_NAME"):
        parser.error("set TABLE_NAME to the stack's TableName output")
    secret = args.token or new_token_secret()
    ensure_admin(secret)
    print(f"admin token: {secret}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
