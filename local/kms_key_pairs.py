"""A KMS key's asymmetric key pair made when it is first used (dev emulation only).

moto gives every key it creates a private key for Sign, Verify and GetPublicKey, a
symmetric one included (an RSA-2048 pair it never uses): generating it took ~55 ms of
each CreateKey, and the emulated stack creates its two KMS keys (template.yaml's
SecretsKey and DataKey) on every deployment, so about half of a test's stack set-up. The
pair is now made, by moto's own generate_private_key for the key's spec, the first time
anything reads it; the key's spec is checked when the key is created, as before (moto
raises nothing there for a spec it accepted). tests/integration/test_kms_key_pairs.py
signs, verifies and reads the public key of asymmetric keys, and encrypts with symmetric
ones, and checks that creating a key makes no pair.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock


class KeyPairOnFirstUse:
    """Stands for moto's private key object of `key_spec` until something reads it."""

    def __init__(self, key_spec: str, make: Callable[[str], Any]) -> None:
        self._key_spec, self._make = key_spec, make
        self._made: Any = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._made is not None

    def _pair(self) -> Any:
        with self._lock:
            if self._made is None:
                self._made = self._make(self._key_spec)
            return self._made

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle, ...: as a plain object
            raise AttributeError(name)
        return getattr(self._pair(), name)


@contextlib.contextmanager
def key_pairs_on_first_use() -> Iterator[None]:
    """Patch the generate_private_key moto's Key uses, for the duration."""
    from moto.kms import models

    make = models.generate_private_key

    def on_first_use(key_spec: str) -> KeyPairOnFirstUse:
        return KeyPairOnFirstUse(key_spec, make)

    on_first_use.__wrapped__ = make  # type: ignore[attr-defined]  # moto's, for tests
    with mock.patch.object(models, "generate_private_key", on_first_use):
        yield
