"""local/kms_key_pairs.py: creating a KMS key makes no key pair; the first Sign, Verify or
GetPublicKey makes it, and they answer as moto does (a signature verifies, the public key
is the pair's); symmetric keys encrypt and decrypt as ever."""

from __future__ import annotations

from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization

from local.stack import Stack


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256")],
)
def test_asymmetric_keys_sign_verify_and_show_their_public_key(
    stack: Stack, spec: str, algorithm: str
) -> None:
    from moto.kms import models

    kms = stack.client("kms")
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
    backend = models.kms_backends["123456789012"]["us-east-1"]
    assert not backend.keys[key_id].private_key.made  # nothing made yet
    signature = kms.sign(KeyId=key_id, Message=b"hello", SigningAlgorithm=algorithm)["Signature"]
    assert backend.keys[key_id].private_key.made
    assert kms.verify(
        KeyId=key_id, Message=b"hello", Signature=signature, SigningAlgorithm=algorithm
    )["SignatureValid"]
    public = kms.get_public_key(KeyId=key_id)["PublicKey"]
    loaded = serialization.load_der_public_key(public)
    assert loaded.public_numbers() == (
        backend.keys[key_id].private_key.private_key.public_key().public_numbers()
    )


def test_symmetric_keys_encrypt_without_a_key_pair(stack: Stack) -> None:
    from moto.kms import utils

    kms = stack.client("kms")
    with mock.patch.object(utils.rsa, "generate_private_key") as generate:
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    generate.assert_not_called()
