"""Give a deployed stack's older items their place in GSI1T (the creation order the lists'
sort_by=created_at reads), once, after deploying the version that added it.

    TABLE_NAME=<TableName output> python -m local.backfill_created_order

Uses your AWS credentials. Projects and current memberships written before GSI1T existed
lack its sort key, GSI1TSK, so they are missing from the lists sorted by created_at until
this has run; every item written since has it. Safe to run beside live traffic and to run
again (it writes only items still lacking it): tenantry.dal.projects.backfill_created_order.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "layers", "core"))

from tenantry.dal.projects import backfill_created_order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if not os.environ.get("TABLE_NAME"):
        parser.error("set TABLE_NAME to the stack's TableName output")
    projects, members = backfill_created_order()
    print(f"creation order given to {projects} projects and {members} memberships")
    return 0


if __name__ == "__main__":
    sys.exit(main())
