"""Alert and change sources: who may post alerts or changes, and how each proves it.

A source authenticates with its bearer token (`Authorization: Bearer lsrc_...`, which
Alertmanager's `http_config.authorization` sends), or with an HMAC-SHA256 of the raw body
under its secret: `X-Loom-Signature-256: sha256=<hex>` plus `X-Loom-Source: <source id>`
(GitHub sends `X-Hub-Signature-256`; the source id then comes as `?source=<id>`). Tokens
are stored hashed and secrets sealed; both are shown once, when made or rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.tokens import hash_token
from loom.db.types import utcnow
from loom.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from loom.incidents.kinds import AlertSourceKind
from loom.incidents.models import AlertSource
from loom.secrets import service as sealed

SOURCE_TOKEN_PREFIX = "lsrc_"  # noqa: S105 - a public prefix, not a secret
OWNER_TYPE = "alert_source"
SIGNATURE_HEADERS = ("x-loom-signature-256", "x-hub-signature-256")


@dataclass(frozen=True)
class Credentials:
    """What a source is told once: its token, and its HMAC secret."""

    token: str
    secret: str


def _mint() -> Credentials:
    return Credentials(SOURCE_TOKEN_PREFIX + secrets.token_urlsafe(32), secrets.token_urlsafe(32))


async def _keep(session: AsyncSession, key: bytes, source: AlertSource, creds: Credentials) -> None:
    source.token_hash = hash_token(creds.token)
    await sealed.store(
        session, key, org_id=source.org_id, owner_type=OWNER_TYPE, owner_id=source.id,
        values={"hmac": creds.secret},
    )  # fmt: skip


async def create_source(
    session: AsyncSession, key: bytes, principal: Principal, *, name: str, kind: AlertSourceKind
) -> tuple[AlertSource, Credentials]:
    """Register a source (organisation admins)."""
    principal.require_org_role(Role.ADMIN)
    taken = await session.scalar(
        select(AlertSource.id).where(
            AlertSource.org_id == principal.org_id, AlertSource.name == name
        )
    )
    if taken is not None:
        raise Conflict(f"an alert source named '{name}' exists")
    source = AlertSource(org_id=principal.org_id, name=name, kind=kind.value)
    session.add(source)
    await session.flush()
    creds = _mint()
    await _keep(session, key, source, creds)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="alert_source.create",
        target_type="alert_source", target_id=source.id, after={"name": name, "kind": kind.value},
    )  # fmt: skip
    return source, creds


async def get_source(
    session: AsyncSession, principal: Principal, source_id: uuid.UUID
) -> AlertSource:
    found = await session.scalar(
        select(AlertSource).where(
            AlertSource.org_id == principal.org_id, AlertSource.id == source_id
        )
    )
    if found is None:
        raise NotFound(f"alert source '{source_id}' not found")
    return found


async def rotate_source(
    session: AsyncSession, key: bytes, principal: Principal, source_id: uuid.UUID
) -> tuple[AlertSource, Credentials]:
    """New token and secret; the old ones stop working at once."""
    principal.require_org_role(Role.ADMIN)
    source = await get_source(session, principal, source_id)
    creds = _mint()
    await _keep(session, key, source, creds)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="alert_source.rotate",
        target_type="alert_source", target_id=source.id,
    )  # fmt: skip
    return source, creds


async def set_enabled(
    session: AsyncSession, principal: Principal, source_id: uuid.UUID, enabled: bool
) -> AlertSource:
    principal.require_org_role(Role.ADMIN)
    source = await get_source(session, principal, source_id)
    before = source.enabled
    source.enabled = enabled
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="alert_source.update",
        target_type="alert_source", target_id=source.id,
        before={"enabled": before}, after={"enabled": enabled},
    )  # fmt: skip
    return source


async def delete_source(session: AsyncSession, principal: Principal, source_id: uuid.UUID) -> None:
    """Forget a source; its alerts and changes stay (their source shows as none)."""
    principal.require_org_role(Role.ADMIN)
    source = await get_source(session, principal, source_id)
    await sealed.forget(session, owner_type=OWNER_TYPE, owner_id=source.id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="alert_source.delete",
        target_type="alert_source", target_id=source.id, before={"name": source.name},
    )  # fmt: skip
    await session.delete(source)


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _signature(headers: Mapping[str, str]) -> str | None:
    for name in SIGNATURE_HEADERS:
        if headers.get(name):
            return headers[name]
    return None


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def sign(secret: str, body: bytes) -> str:
    """The signature header value a sender computes (tests and the demo use it)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def authenticate(
    session: AsyncSession,
    key: bytes,
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    kinds: Collection[AlertSourceKind],
) -> AlertSource:
    """The enabled source of one of `kinds` that sent this request, or 401/403."""
    token = _bearer(headers)
    signature = _signature(headers)
    source: AlertSource | None = None
    if token is not None and token.startswith(SOURCE_TOKEN_PREFIX):
        source = await session.scalar(
            select(AlertSource).where(AlertSource.token_hash == hash_token(token))
        )
    elif signature is not None:
        raw_id = headers.get("x-loom-source") or query.get("source") or ""
        try:
            source_id = uuid.UUID(raw_id)
        except ValueError:
            raise NotAuthenticated(
                "a signed request names its source: X-Loom-Source header or ?source=<id>"
            ) from None
        source = await session.get(AlertSource, source_id)
        if source is not None:
            stored = await sealed.reveal(session, key, owner_type=OWNER_TYPE, owner_id=source.id)
            if not signature_valid(stored.get("hmac", ""), body, signature):
                source = None
    if source is None:
        raise NotAuthenticated(
            "authentication required: a source token (Authorization: Bearer lsrc_...) "
            "or a valid HMAC signature (X-Loom-Signature-256 with X-Loom-Source)"
        )
    if not source.enabled:
        raise Forbidden(f"alert source '{source.name}' is disabled")
    if AlertSourceKind(source.kind) not in kinds:
        raise Forbidden(
            f"alert source '{source.name}' is a {source.kind} source; this endpoint takes "
            + ", ".join(sorted(k.value for k in kinds))
        )
    now = utcnow()
    if source.last_used_at is None or (now - source.last_used_at).total_seconds() > 60:
        source.last_used_at = now
    return source
