"""The audit log is append-only and hash-chained: edits and deletions are detected."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from loom.audit import service as audit
from loom.audit.models import AuditEntry
from loom.auth.models import Organization


async def _org_id(app: FastAPI) -> uuid.UUID:
    async with app.state.runtime.sessions() as s:
        org_id = await s.scalar(select(Organization.id))
    assert org_id is not None
    return org_id


async def _write(app: FastAPI, n: int) -> uuid.UUID:
    org_id = await _org_id(app)
    for i in range(n):
        async with app.state.runtime.sessions() as s, s.begin():
            await audit.record(
                s,
                org_id=org_id,
                actor=audit.Actor.system("test"),
                action="thing.update",
                target_type="thing",
                target_id=i,
                after={"n": i, "password": "hunter2"},
            )
    return org_id


async def _verify(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    response = await client.get("/api/v1/audit/verify", headers=headers)
    assert response.status_code == 200
    return dict(response.json())


async def test_untouched_chain_verifies(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _write(app, 5)
    result = await _verify(client, admin_headers)
    assert result["ok"] is True and result["problems"] == []
    assert result["checked"] >= 6  # bootstrap + token creation + 5


async def test_edited_entry_is_detected(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    org_id = await _write(app, 5)
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(AuditEntry)
            .where(AuditEntry.org_id == org_id, AuditEntry.target_id == "2")
            .values(actor_name="someone-else")
        )
    result = await _verify(client, admin_headers)
    assert result["ok"] is False
    assert any("edited" in p["problem"] for p in result["problems"])


async def test_deleted_entry_is_detected(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    org_id = await _write(app, 5)
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            delete(AuditEntry).where(AuditEntry.org_id == org_id, AuditEntry.target_id == "3")
        )
    result = await _verify(client, admin_headers)
    assert result["ok"] is False
    assert any("gap" in p["problem"] for p in result["problems"])


async def test_deleting_the_newest_entries_is_detected(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The links of the entries left are intact: only the chain's head shows the loss.
    org_id = await _write(app, 5)
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            delete(AuditEntry).where(
                AuditEntry.org_id == org_id,
                AuditEntry.action == "thing.update",
                AuditEntry.target_id.in_(["3", "4"]),
            )
        )
    result = await _verify(client, admin_headers)
    assert result["ok"] is False
    assert [p["problem"] for p in result["problems"]] == [
        "the chain ends before its head (newest entries deleted?)"
    ]


async def test_secrets_are_masked_in_entries(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _write(app, 1)
    response = await client.get(
        "/api/v1/audit", params={"action": "thing.update"}, headers=admin_headers
    )
    [entry] = response.json()["items"]
    assert entry["after"] == {"n": 0, "password": "••••"}
    assert "hunter2" not in response.text


async def test_entry_rolls_back_with_its_change(app: FastAPI) -> None:
    org_id = await _org_id(app)
    with pytest.raises(RuntimeError):
        async with app.state.runtime.sessions() as s, s.begin():
            await audit.record(
                s,
                org_id=org_id,
                actor=audit.Actor.system(),
                action="doomed",
                target_type="thing",
                target_id="x",
            )
            raise RuntimeError("the change failed")
    async with app.state.runtime.sessions() as s:
        assert await s.scalar(select(AuditEntry).where(AuditEntry.action == "doomed")) is None


async def test_concurrent_writers_keep_one_chain(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    import asyncio

    org_id = await _org_id(app)

    async def one(i: int) -> None:
        async with app.state.runtime.sessions() as s, s.begin():
            await audit.record(
                s,
                org_id=org_id,
                actor=audit.Actor.system(),
                action="race",
                target_type="thing",
                target_id=i,
            )

    await asyncio.gather(*(one(i) for i in range(10)))
    result = await _verify(client, admin_headers)
    assert result["ok"] is True, result["problems"]


def test_code_has_no_update_or_delete_path_for_audit_entries() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "loom"
    pattern = re.compile(r"(update|delete)\(\s*AuditEntry|audit_entries\s+(SET|WHERE)", re.I)
    offenders = [p for p in src.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
