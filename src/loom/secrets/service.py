"""Keeping, revealing and forgetting the secret values of an owner (a request). Values
never leave this module except to the caller that asks for them by owner: the request's
worker, handing them to the action that uses them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.secrets.crypto import seal, unseal
from loom.secrets.models import StoredSecret

MASK = "••••"


def _context(owner_type: str, owner_id: uuid.UUID, path: str) -> str:
    return f"{owner_type}:{owner_id}:{path}"


async def store(
    session: AsyncSession,
    key: bytes,
    *,
    org_id: uuid.UUID,
    owner_type: str,
    owner_id: uuid.UUID,
    values: Mapping[str, str],
) -> None:
    """Encrypt and keep `values` (field path → plaintext), replacing earlier ones."""
    await session.execute(
        delete(StoredSecret).where(
            StoredSecret.owner_type == owner_type,
            StoredSecret.owner_id == owner_id,
            StoredSecret.path.in_(list(values)),
        )
    )
    for path, plaintext in values.items():
        session.add(
            StoredSecret(
                org_id=org_id,
                owner_type=owner_type,
                owner_id=owner_id,
                path=path,
                ciphertext=seal(key, plaintext, _context(owner_type, owner_id, path)),
            )
        )
    await session.flush()


async def reveal(
    session: AsyncSession, key: bytes, *, owner_type: str, owner_id: uuid.UUID
) -> dict[str, str]:
    rows = await session.scalars(
        select(StoredSecret).where(
            StoredSecret.owner_type == owner_type, StoredSecret.owner_id == owner_id
        )
    )
    return {
        row.path: unseal(key, row.ciphertext, _context(owner_type, owner_id, row.path))
        for row in rows
    }


async def forget(session: AsyncSession, *, owner_type: str, owner_id: uuid.UUID) -> int:
    """Delete every secret of the owner (its request ended); returns how many."""
    result = await session.execute(
        delete(StoredSecret).where(
            StoredSecret.owner_type == owner_type, StoredSecret.owner_id == owner_id
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def masked(paths: Mapping[str, object]) -> dict[str, str]:
    """How secret values are shown anywhere (API, portal, logs): the mask, never the value."""
    return dict.fromkeys(paths, MASK)
