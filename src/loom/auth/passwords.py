"""Password hashing (argon2id)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths cost the same time
    (computed on first use: hashing at import would slow every start by ~0.1 s)."""
    return str(_hasher.hash("loom-timing-equaliser"))


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash or _dummy_hash(), password)) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False
