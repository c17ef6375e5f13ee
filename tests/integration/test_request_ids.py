"""local/request_ids.py: the emulation's made-up ids are version 4 UUIDs, all different,
and botocore's invocation ids come from them while emulating."""

from __future__ import annotations

import uuid

from local import request_ids
from local.request_ids import botocore_invocation_ids


def test_version_4_uuids_all_different() -> None:
    ids = [request_ids.uuid4() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(isinstance(i, uuid.UUID) and i.version == 4 for i in ids)


def test_botocore_invocation_ids_from_the_emulation() -> None:
    from botocore import endpoint

    with botocore_invocation_ids():
        assert endpoint.uuid.uuid4 is request_ids.uuid4
    assert endpoint.uuid is uuid
