"""Requests to moto carry SigV4's headers without the signature being computed (dev
emulation only).

botocore signs every request (SigV4: a canonical form of the request, a hash of its
body, four HMACs): a seventh of the CPU of a small DynamoDB call through moto. moto
checks no signature unless its IAM authentication is on (INITIAL_NO_AUTH_ACTION_COUNT,
off by default and in this emulation); it reads the access key from the Authorization
header to pick the account. So while that holds, a request gets the very headers
SigV4Auth sets (X-Amz-Date, X-Amz-Security-Token, Authorization with the same credential
scope and signed headers) with a placeholder where the signature goes. Any other signer
(presigned URLs, S3's, SigV2, ...) and moto with authentication on sign as ever.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any
from unittest import mock

PLACEHOLDER = "0" * 64  # a SigV4 signature's length; never checked by moto


@contextlib.contextmanager
def placeholder_signatures() -> Iterator[None]:
    """Patch botocore's SigV4Auth.add_auth for the duration (see the module doc)."""
    from botocore import auth
    from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
    from botocore.exceptions import NoCredentialsError
    from moto import settings

    original = SigV4Auth.add_auth

    def add_auth(self: Any, request: Any) -> None:
        authenticating = not math.isinf(settings.INITIAL_NO_AUTH_ACTION_COUNT)
        if type(self) is not SigV4Auth or authenticating:
            return original(self, request)
        if self.credentials is None:
            raise NoCredentialsError()
        request.context["timestamp"] = auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        self._inject_signature_to_request(request, PLACEHOLDER)
        return None

    add_auth.__wrapped__ = original  # type: ignore[attr-defined]  # botocore's, for tests
    with mock.patch.object(SigV4Auth, "add_auth", add_auth):
        yield
