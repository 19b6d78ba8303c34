"""Idempotency-Key support for POSTs: the first response to a key is stored and replayed
on every repeat; a repeat with a different body is a conflict.

Keys are scoped to the caller's credentials, so two clients can never see each other's
responses. Stored bodies are encrypted with a key derived from the credential and the
Idempotency-Key, which the database never holds: a response that carried a secret (a new
API token) cannot be read back from the table. Server errors (5xx) are not stored: the
client may retry them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loom.api.errors import envelope
from loom.db.base import Base
from loom.db.types import PortableJSON, UTCDateTime, utcnow
from loom.platform.runtime import Runtime

HEADER = "idempotency-key"
RETENTION = timedelta(hours=24)
#: Expired keys are deleted by a claim at most this often (per process), not by every one.
_PURGE_EVERY_SECONDS = 60.0
_MAX_BODY = 1024 * 1024


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    #: sha256 of (credential, method, path, key)
    scope_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(default=None)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def _sha(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


#: Plain statements: no session objects to keep in step (the ORM's evaluation of the
#: WHERE clause against the identity map costs more than the statement here).
_PLAIN = {"synchronize_session": False}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255:
            await envelope(400, "VALIDATION_ERROR", "Idempotency-Key must be 1-255 characters")(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        if body is None:
            await envelope(413, "PAYLOAD_TOO_LARGE", "request body over 1 MiB")(
                scope, receive, send
            )
            return
        credential = headers.get("authorization") or headers.get("cookie") or "anonymous"
        scope_hash = _sha("scope", credential, scope["method"], scope["path"], key)
        body_key = hashlib.sha256(_sha("body", credential, key).encode()).digest()
        request_hash = _sha(scope.get("query_string", b""), body)

        stored = await self._claim(scope_hash, request_hash)
        if stored is not None:
            await self._replay(stored, request_hash, body_key, scope, receive, send)
            return

        captured: dict[str, Any] = {"body": b""}
        held: list[Message] = []
        finished = False

        async def capture(message: Message) -> None:
            # The response is held back until its record is stored, so a client that
            # repeats the key the moment it has the answer gets the replay, never a 409.
            nonlocal finished
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {
                    k.decode(): v.decode()
                    for k, v in message.get("headers", [])
                    if k.lower() in (b"content-type", b"location")
                }
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
                await self._finish(scope_hash, body_key, captured)
                for queued in held:
                    await send(queued)
                held.clear()

        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if not finished:  # the app failed before answering: let the client retry
                await self._finish(scope_hash, body_key, captured)

    async def _claim(self, scope_hash: str, request_hash: str) -> IdempotencyRecord | None:
        """Insert an in-progress row for this key, or return the row already there."""
        async with self.runtime.sessions() as session:
            try:
                async with session.begin():
                    if time.monotonic() >= self._next_purge:
                        self._next_purge = time.monotonic() + _PURGE_EVERY_SECONDS
                        await session.execute(
                            delete(IdempotencyRecord).where(
                                IdempotencyRecord.created_at < utcnow() - RETENTION
                            )
                        )
                    await session.execute(
                        insert(IdempotencyRecord).values(
                            scope_hash=scope_hash, request_hash=request_hash
                        )
                    )
                return None
            except IntegrityError:
                pass
        async with self.runtime.sessions() as session, session.begin():
            return await session.scalar(
                select(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
            )

    async def _replay(
        self,
        stored: IdempotencyRecord,
        request_hash: str,
        body_key: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        response: Response
        if stored.request_hash != request_hash:
            response = envelope(
                409,
                "IDEMPOTENCY_CONFLICT",
                "this Idempotency-Key was already used with a different request body",
            )
        elif stored.status_code is None:
            response = envelope(
                409,
                "IDEMPOTENCY_IN_PROGRESS",
                "a request with this Idempotency-Key is still running",
            )
        else:
            response = Response(
                content=_open(body_key, stored.response_body),
                status_code=stored.status_code,
                headers={**(stored.response_headers or {}), "Idempotent-Replayed": "true"},
            )
        await response(scope, receive, send)

    async def _finish(self, scope_hash: str, body_key: bytes, captured: dict[str, Any]) -> None:
        this_key = IdempotencyRecord.scope_hash == scope_hash
        status = captured.get("status")
        async with self.runtime.sessions() as session, session.begin():
            if status is None or status >= 500:
                # The app failed: forget the key, so the client may retry.
                await session.execute(
                    delete(IdempotencyRecord).where(this_key), execution_options=_PLAIN
                )
                return
            await session.execute(
                update(IdempotencyRecord)
                .where(this_key)
                .values(
                    status_code=status,
                    response_headers=captured.get("headers", {}),
                    response_body=_seal(body_key, captured["body"]),
                ),
                execution_options=_PLAIN,
            )


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it exceeds the size we are willing to store."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _seal(key: bytes, body: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, body, None)).decode()


def _open(key: bytes, sealed: str | None) -> bytes:
    if not sealed:
        return b""
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:  # only the same credential and key reach here; never leak
        return b""
