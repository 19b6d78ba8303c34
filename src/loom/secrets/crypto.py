"""Authenticated encryption of secret values (AES-256-GCM) with a key derived from the
service's secret key. The owner and path are bound in as associated data, so a ciphertext
copied to another row does not decrypt."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretUnreadable(Exception):
    """The ciphertext was altered, moved, or encrypted under another key."""


def derive_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"loom-secrets-v1").derive(
        secret_key.encode()
    )


def seal(key: bytes, plaintext: str, context: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, token: str, context: str) -> str:
    raw = base64.b64decode(token)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag:
        raise SecretUnreadable(
            "secret cannot be decrypted (altered, moved or key changed)"
        ) from None
