"""The one lock around calls into moto (dev emulation only).

moto is not thread-safe, and the emulator's own patches (local/dynamodb_queries.py,
local/dynamodb_transactions.py) swap state on a table for the length of one call. Calls
made through boto3 in this process take the lock in local.stack.serial_aws_calls; those
patches take it themselves as well, so that requests reaching moto some other way (the
moto server of `make moto`, on werkzeug's threads) are serialized too. Re-entrant: a
patched call made through boto3 takes it twice.
"""

from __future__ import annotations

import threading

MOTO_LOCK = threading.RLock()
