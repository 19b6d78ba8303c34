"""API tokens: minted once (only the hash is kept), listed, revoked, and checked."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import ApiToken, Membership, Team, User
from loom.auth.principal import Principal, principal_of
from loom.auth.roles import TOKEN_SCOPES, Role
from loom.db.types import utcnow
from loom.errors import InvalidInput, NotAuthenticated, NotFound

TOKEN_PREFIX = "loom_"  # noqa: S105 - a public prefix, not a secret
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
) -> tuple[ApiToken, str]:
    """Mint a token; `expires_in_days=None` means it never expires."""
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown:
        raise InvalidInput.on(
            "scopes", f"unknown scope(s) {unknown}; allowed: {list(TOKEN_SCOPES)}"
        )
    if not scopes:
        raise InvalidInput.on("scopes", "at least one scope is required")
    # A token never carries more than its creator holds.
    beyond = sorted(set(scopes) - principal.scopes)
    if beyond:
        raise InvalidInput.on("scopes", f"you cannot grant scope(s) you do not hold: {beyond}")
    if "admin" in scopes and principal.org_role < Role.ADMIN:
        raise InvalidInput.on("scopes", "the admin scope needs the admin role in the organisation")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        org_id=principal.org_id,
        user_id=principal.user_id,
        name=name,
        prefix=plaintext[:12],
        token_hash=hash_token(plaintext),
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="token.create",
        target_type="api_token",
        target_id=token.id,
        after={"name": name, "scopes": token.scopes, "expires_at": str(token.expires_at)},
    )
    return token, plaintext


def tokens_query(principal: Principal, *, include_revoked: bool = True) -> Select[Any]:
    """The caller's own tokens (revoked ones included unless asked otherwise)."""
    stmt = select(ApiToken).where(
        ApiToken.org_id == principal.org_id, ApiToken.user_id == principal.user_id
    )
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return stmt


async def revoke_token(
    session: AsyncSession, principal: Principal, token_id: uuid.UUID
) -> ApiToken:
    token = await session.get(ApiToken, token_id)
    mine = token is not None and token.org_id == principal.org_id
    if mine and token is not None and token.user_id != principal.user_id:
        mine = principal.org_role >= Role.ADMIN and "admin" in principal.scopes
    if token is None or not mine:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await audit.record(
            session,
            org_id=principal.org_id,
            actor=principal,
            action="token.revoke",
            target_type="api_token",
            target_id=token.id,
            after={"name": token.name},
        )
    return token


def is_usable(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


async def authenticate_token(session: AsyncSession, plaintext: str) -> Principal:
    # One query: the token, its user, and the user's teams (a row per team, or one row).
    rows = (
        await session.execute(
            select(ApiToken, User, Membership.team_id, Membership.role, Team.slug)
            .join(User, User.id == ApiToken.user_id)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Team, Team.id == Membership.team_id)
            .where(ApiToken.token_hash == hash_token(plaintext))
        )
    ).all()
    now = utcnow()
    if not rows or not is_usable(rows[0].ApiToken, now):
        raise NotAuthenticated("invalid, expired or revoked API token")
    token, user = rows[0].ApiToken, rows[0].User
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
    return principal_of(
        user, [row[2:] for row in rows if row[2] is not None], scopes=frozenset(token.scopes),
        via="token", token_id=token.id,
    )  # fmt: skip
