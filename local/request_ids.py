"""Ids the emulation makes up for its own requests, drawn without a system call (dev
emulation only).

uuid.uuid4() reads the operating system's random source, and CPython lets go of the GIL
for the call: under load that is a thread switch each time another thread is waiting
(in the load bench, ~9 such reads per request, most of them for ids only logs show: the
emulated API Gateway's request and trace ids, the Lambda context's request id, botocore's
invocation id per AWS call). These come from a pseudo-random generator seeded once from
the operating system instead; they are ids, not secrets. The product's own ids and
tokens are untouched.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

_source = random.Random()  # seeded from os.urandom


def uuid4() -> uuid.UUID:
    """A random (version 4) UUID."""
    return uuid.UUID(int=_source.getrandbits(128), version=4)


@contextlib.contextmanager
def botocore_invocation_ids() -> Iterator[None]:
    """botocore's per-call invocation id (retries context) from uuid4 above."""
    from botocore import endpoint

    with mock.patch.object(endpoint, "uuid", SimpleNamespace(uuid4=uuid4)):
        yield
