"""Envelope encryption of secret contents under the stack's KMS key (SecretsKey): the only
code that talks to KMS.

Sealing: KMS GenerateDataKey (AES-256) under the key, with an encryption context naming
the secret (project, environment, secret id); the contents are encrypted here with
AES-256-GCM under that data key, the same context as associated data; the plaintext data
key is dropped. Stored (`sealed`): the wrapped data key, the nonce, the ciphertext, the
key's ARN and the algorithm, and nothing derived from the contents but the ciphertext.

Opening (`decrypt_secret`, for the agent's work items; no route calls it): KMS Decrypt of
the wrapped key with the context rebuilt from the item, then AES-GCM decryption. KMS
refuses another context and GCM refuses a changed ciphertext or associated data, so
sealed contents moved onto another secret's item do not open.

boto3 and cryptography are imported on first use: only writes and the agent pay for them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from tenantry.errors import ServiceUnavailable
from tenantry.settings import get_settings

ALGORITHM = "AES-256-GCM"
NONCE_BYTES = 12
CONTEXT_KEYS = ("tenantry:project_id", "tenantry:env_id", "tenantry:secret_id")
BUSY = {
    "ThrottlingException",
    "LimitExceededException",
    "KMSInternalException",
    "DependencyTimeoutException",
}


@cache
def _kms() -> Any:
    import boto3

    return boto3.client("kms")


def context(project_id: str, env_id: str, secret_id: str) -> dict[str, str]:
    """The KMS encryption context of one secret (what the IAM policy's conditions name)."""
    return dict(zip(CONTEXT_KEYS, (project_id, env_id, secret_id), strict=True))


def seal(project_id: str, env_id: str, secret_id: str, contents: str) -> dict[str, Any]:
    """The `sealed` attribute of a secret item holding `contents`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ctx = context(project_id, env_id, secret_id)
    with _kms_errors_mapped():
        data_key = _kms().generate_data_key(
            KeyId=get_settings().secrets_key_id, KeySpec="AES_256", EncryptionContext=ctx
        )
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key["Plaintext"]).encrypt(nonce, contents.encode(), _aad(ctx))
    return {
        "alg": ALGORITHM,
        "key_id": data_key["KeyId"],
        "wrapped_key": data_key["CiphertextBlob"],
        "nonce": nonce,
        "ciphertext": ciphertext,
    }


def decrypt_secret(item: dict[str, Any]) -> str:
    """The contents of a secret item as the table holds it (`project_id`, `env_id`, `id`,
    `sealed`). For the agent's work items only: never on a route, never logged."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = item["sealed"]
    if sealed.get("alg") != ALGORITHM:
        raise ValueError(f"secret {item['id']}: unknown algorithm {sealed.get('alg')!r}")
    ctx = context(item["project_id"], item["env_id"], item["id"])
    with _kms_errors_mapped():
        data_key = _kms().decrypt(
            CiphertextBlob=_bytes(sealed["wrapped_key"]),
            KeyId=sealed["key_id"],
            EncryptionContext=ctx,
        )
    plaintext = AESGCM(data_key["Plaintext"]).decrypt(
        _bytes(sealed["nonce"]), _bytes(sealed["ciphertext"]), _aad(ctx)
    )
    return plaintext.decode()


def _aad(ctx: dict[str, str]) -> bytes:
    return json.dumps(ctx, sort_keys=True, separators=(",", ":")).encode()


def _bytes(value: Any) -> bytes:
    """DynamoDB binaries come back as boto3's Binary."""
    return value if isinstance(value, bytes) else bytes(value)


@contextmanager
def _kms_errors_mapped() -> Iterator[None]:
    """Throttling and no answer are 503 (retry); anything else (a key disabled, access
    denied: a misconfiguration) stays an error of the platform's."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except BotoCoreError as exc:
        raise ServiceUnavailable(headers={"Retry-After": "1"}) from exc
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in BUSY:
            raise ServiceUnavailable(headers={"Retry-After": "1"}) from exc
        raise
