"""Secret form values: encrypted at rest, bound to their owner, revealed to the owner's
worker only, forgotten when the request ends."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from loom.auth.models import Organization
from loom.secrets import service
from loom.secrets.crypto import SecretUnreadable, derive_key
from loom.secrets.models import StoredSecret

KEY = derive_key("k" * 40)


async def _org(app: FastAPI) -> uuid.UUID:
    async with app.state.runtime.sessions() as s:
        org_id = await s.scalar(select(Organization.id))
    assert org_id is not None
    return org_id


async def test_values_are_encrypted_and_revealed_to_their_owner(app: FastAPI) -> None:
    org_id, owner = await _org(app), uuid.uuid4()
    async with app.state.runtime.sessions() as s, s.begin():
        await service.store(
            s,
            KEY,
            org_id=org_id,
            owner_type="request",
            owner_id=owner,
            values={"db.password": "hunter2", "token": "t0k"},
        )
    async with app.state.runtime.sessions() as s:
        stored = (await s.scalars(select(StoredSecret.ciphertext))).all()
        assert stored and all("hunter2" not in c and "t0k" not in c for c in stored)
        revealed = await service.reveal(s, KEY, owner_type="request", owner_id=owner)
        other = await service.reveal(s, KEY, owner_type="request", owner_id=uuid.uuid4())
    assert revealed == {"db.password": "hunter2", "token": "t0k"}
    assert other == {}


async def test_moved_or_altered_ciphertext_does_not_decrypt(app: FastAPI) -> None:
    org_id, a, b = await _org(app), uuid.uuid4(), uuid.uuid4()
    async with app.state.runtime.sessions() as s, s.begin():
        await service.store(
            s, KEY, org_id=org_id, owner_type="request", owner_id=a, values={"p": "x"}
        )
        await service.store(
            s, KEY, org_id=org_id, owner_type="request", owner_id=b, values={"p": "y"}
        )
    async with app.state.runtime.sessions() as s, s.begin():
        stolen = await s.scalar(select(StoredSecret.ciphertext).where(StoredSecret.owner_id == a))
        await s.execute(
            update(StoredSecret).where(StoredSecret.owner_id == b).values(ciphertext=stolen)
        )
    async with app.state.runtime.sessions() as s:
        with pytest.raises(SecretUnreadable):
            await service.reveal(s, KEY, owner_type="request", owner_id=b)
        with pytest.raises(SecretUnreadable):
            await service.reveal(s, derive_key("another-key" * 4), owner_type="request", owner_id=a)


async def test_forget_deletes_every_value_of_the_owner(app: FastAPI) -> None:
    org_id, owner, keep = await _org(app), uuid.uuid4(), uuid.uuid4()
    async with app.state.runtime.sessions() as s, s.begin():
        await service.store(
            s, KEY, org_id=org_id, owner_type="request", owner_id=owner, values={"a": "1", "b": "2"}
        )
        await service.store(
            s, KEY, org_id=org_id, owner_type="request", owner_id=keep, values={"a": "3"}
        )
    async with app.state.runtime.sessions() as s, s.begin():
        assert await service.forget(s, owner_type="request", owner_id=owner) == 2
    async with app.state.runtime.sessions() as s:
        assert await service.reveal(s, KEY, owner_type="request", owner_id=owner) == {}
        assert await service.reveal(s, KEY, owner_type="request", owner_id=keep) == {"a": "3"}


def test_masked_shows_no_value() -> None:
    assert service.masked({"db.password": "hunter2"}) == {"db.password": "••••"}
