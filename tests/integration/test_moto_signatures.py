"""local/moto_signatures.py: a request gets exactly SigV4Auth's headers but for the
signature itself, and a real signature whenever moto checks them or another signer is
used."""

from __future__ import annotations

from unittest import mock

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.moto_signatures import PLACEHOLDER, placeholder_signatures

CREDENTIALS = Credentials("AKIAIOSFODNN7EXAMPLE", "secret", "session-token")
FIXED_NOW = "botocore.auth.get_current_datetime"


def _signed(auth_class: type, *, patched: bool) -> dict[str, str]:
    import datetime

    request = AWSRequest(
        method="POST",
        url="https://dynamodb.us-east-1.amazonaws.com/",
        data=b'{"TableName": "t"}',
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "stale"},
    )
    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    with (
        mock.patch(FIXED_NOW, return_value=now),
        mock.patch("local.moto_signatures.get_current_datetime", return_value=now, create=True),
    ):
        auth = auth_class(CREDENTIALS, "dynamodb", "us-east-1")
        if patched:
            with placeholder_signatures():
                auth.add_auth(request)
        else:
            auth.add_auth(request)
    return dict(request.headers.items())


def test_the_headers_of_sigv4_with_a_placeholder_signature() -> None:
    real, placeholder = _signed(SigV4Auth, patched=False), _signed(SigV4Auth, patched=True)
    credential, signed, signature = real.pop("Authorization").split(", ")
    assert placeholder.pop("Authorization") == f"{credential}, {signed}, Signature={PLACEHOLDER}"
    assert signature.startswith("Signature=") and signature != f"Signature={PLACEHOLDER}"
    assert credential.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260102/")
    assert placeholder == real  # X-Amz-Date, X-Amz-Security-Token, the rest


def test_real_signatures_for_other_signers_and_when_moto_checks_them() -> None:
    from moto import settings

    assert _signed(S3SigV4Auth, patched=True) == _signed(S3SigV4Auth, patched=False)
    with mock.patch.object(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0):
        assert _signed(SigV4Auth, patched=True) == _signed(SigV4Auth, patched=False)
