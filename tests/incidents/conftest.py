"""Fixtures of the incidents tests."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import User
from tests.conftest import ADMIN_EMAIL


@pytest.fixture
async def org_id(app: FastAPI) -> uuid.UUID:
    """The organisation of the first admin."""
    async with app.state.runtime.sessions() as s:
        found = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
    assert found is not None
    return found
