"""Every patch the emulated stack puts on moto, botocore and boto3 while it runs (dev
emulation only), in the order they are applied. Each module says why, and each has a
test comparing it with the code it stands in for.

For speed (what the product sees is unchanged):
  local/dynamodb_transactions.py     TransactWriteItems rolls back item by item
  local/dynamodb_queries.py          a Query reads only its page of a sorted partition
  local/dynamodb_stream_tail.py      (memory) a stream keeps its latest records only (and
                                     answers a reader behind them as DynamoDB Streams does)
  local/moto_untracked_items.py      (memory) moto keeps no list of every item it made
  local/dynamodb_responses.py        item responses written as plain JSON
  local/dynamodb_stream_responses.py and a stream's GetRecords
  local/dynamodb_response_parsing.py item responses parsed by compiled output shapes
  local/dynamodb_type_deserializing.py  and turned into Python values the same way
  local/dynamodb_handoff.py          (used by the two above) within this process, handed
                                     to botocore without the JSON text
  local/dynamodb_request_parsing.py  requests parsed by compiled input shapes in moto
  local/dynamodb_item_sizes.py       items weighed without copying them, once per Query
                                     or BatchGetItem
  local/dynamodb_item_copies.py      items deep-copied without copy.deepcopy per value
  local/dynamodb_expressions.py      condition and update expressions parsed once
  local/dynamodb_update_validation.py  and their validators' walks without per-node tables
  local/moto_dispatch.py             moto's per-call bookkeeping made cheaper
  local/moto_routing.py              a request's handler found once per URL, request ids
                                     written into XML bodies only
  local/moto_direct.py               calls to JSON-protocol services answered by moto's
                                     handler without an HTTP request between
  local/moto_signatures.py           requests carry a placeholder SigV4 signature
  local/botocore_user_agents.py      the User-Agent string made once per client
  local/request_ids.py               botocore's invocation ids drawn without a system call
  local/stepfunctions_programs.py    each state machine definition parsed once, its
                                     program shared by the executions
  local/stepfunctions_json_paths.py  and the JSONPath expressions it evaluates
  local/kms_key_pairs.py             a KMS key's key pair made when first used (moto
                                     made an RSA pair for every key it created)

For fidelity (what the product sees is what AWS sends, where moto differs):
  local/eventbridge.py               a rule's target gets the event's `account` too
  local/apigateway_usage_plans.py    deleting a usage plan, or a key from one, that is
                                     not there is NotFoundException, not a KeyError

Entered by local/stack.py's Stack.emulate instead (they need the stack):
  local/stepfunctions_tasks.py       a Step Functions Lambda Task calls the stack's Lambda
                                     dispatch without botocore and moto's stubber between
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from local.apigateway_usage_plans import usage_plans_not_found
from local.botocore_user_agents import user_agents_once
from local.dynamodb_expressions import expressions_parsed_once
from local.dynamodb_item_copies import copies_without_detours
from local.dynamodb_item_sizes import sizes_without_copies
from local.dynamodb_queries import partition_queries
from local.dynamodb_request_parsing import compiled_request_parsing
from local.dynamodb_response_parsing import compiled_item_parsing
from local.dynamodb_responses import plain_json_item_responses
from local.dynamodb_stream_responses import plain_json_stream_records
from local.dynamodb_stream_tail import stream_tail
from local.dynamodb_transactions import item_level_rollback
from local.dynamodb_type_deserializing import compiled_output_deserializing
from local.dynamodb_update_validation import validation_walks_once
from local.eventbridge import events_with_account
from local.kms_key_pairs import key_pairs_on_first_use
from local.moto_direct import direct_calls
from local.moto_dispatch import cheaper_dispatch
from local.moto_routing import routes_once
from local.moto_signatures import placeholder_signatures
from local.moto_untracked_items import untracked_items
from local.request_ids import botocore_invocation_ids
from local.stepfunctions_json_paths import json_paths_once
from local.stepfunctions_programs import programs_once

PATCHES = (
    item_level_rollback,
    partition_queries,
    stream_tail,  # after partition_queries: it wraps StreamShard.add as patched there
    untracked_items,
    plain_json_item_responses,
    plain_json_stream_records,
    compiled_item_parsing,
    compiled_output_deserializing,
    compiled_request_parsing,
    sizes_without_copies,
    copies_without_detours,
    expressions_parsed_once,
    validation_walks_once,
    cheaper_dispatch,
    routes_once,
    direct_calls,  # after routes_once: it routes as routes_once does
    placeholder_signatures,
    user_agents_once,
    botocore_invocation_ids,
    events_with_account,
    usage_plans_not_found,
    programs_once,
    json_paths_once,
    key_pairs_on_first_use,
)


@contextlib.contextmanager
def emulation_patches() -> Iterator[None]:
    """All of PATCHES, for the duration (inside moto's mock_aws)."""
    with contextlib.ExitStack() as stack:
        for patch in PATCHES:
            stack.enter_context(patch())
        yield
