"""Doing a form's work once: a form that creates something carries a fresh random token
(a hidden field); the first post with it does the work and remembers, in the same
transaction, where it led; a repeat (a double click, a resent post) is sent there too.

The tokens live in the API's idempotency table (`loom.api.idempotency`: same retention,
same purge), under a hash of the user and the token, so one user's token means nothing
to another and none collides with an API Idempotency-Key.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.idempotency import IdempotencyRecord
from loom.auth.principal import Principal

FIELD = "once_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def valid(token: object) -> bool:
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def _key(principal: Principal, token: str) -> str:
    return hashlib.sha256(f"portal-once\x00{principal.user_id}\x00{token}".encode()).hexdigest()


async def done(session: AsyncSession, principal: Principal, token: str) -> str | None:
    """Where the first post with this token led, if one got that far."""
    record = await session.get(IdempotencyRecord, _key(principal, token))
    if record is None or not record.response_headers:
        return None
    location = record.response_headers.get("location")
    return location if isinstance(location, str) else None


async def claim(session: AsyncSession, principal: Principal, token: str) -> IdempotencyRecord:
    """Take the token for this transaction. A concurrent post with the same token waits
    here (the row's key is unique) and fails with IntegrityError once this one commits."""
    record = IdempotencyRecord(scope_hash=_key(principal, token), request_hash="portal-form")
    session.add(record)
    await session.flush()
    return record


def settle(record: IdempotencyRecord, location: str) -> None:
    """Remember where the work led (written with the caller's transaction)."""
    record.status_code = 303
    record.response_headers = {"location": location}
