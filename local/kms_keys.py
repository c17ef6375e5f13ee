"""KMS keys of template.yaml (AWS::KMS::Key), emulated for local runs and tests.

KMS makes a key's id up when it creates the key, but the functions' environments are
resolved before anything is deployed (`SECRETS_KEY_ID: !Ref SecretsKey`). So locally a
key's `Ref` is an alias named after its logical id, which deploy() creates with the key:
every KMS call that takes a KeyId takes an alias too, and Decrypt finds the key from the
ciphertext. moto checks encryption contexts as KMS does (Decrypt with another context is
InvalidCiphertextException); it does not enforce key policies, so none is passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND = "AWS::KMS::Key"


def ref(stack_name: str, logical_id: str) -> str:
    """What `!Ref <key>` resolves to locally: the alias deploy() gives the key."""
    return f"alias/{stack_name}/{logical_id}"


def deploy(kms: Any, alias: str, props: Mapping[str, Any]) -> str:
    """Create the key as the template declares it (description, usage, spec, rotation) and
    its alias; returns the key's ARN."""
    kwargs = {
        "Description": str(props.get("Description", "")),
        "KeyUsage": str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
        "KeySpec": str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
    }
    key = kms.create_key(**kwargs)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return str(key["Arn"])
