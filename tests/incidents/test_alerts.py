"""`alerts.store`: episodes by fingerprint, what goes in which list of the batch, and a
fixed number of statements per batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents import alerts
from loom.incidents.kinds import AlertSourceKind, AlertStatus, Severity
from loom.incidents.models import Alert, Incident, Silence
from loom.incidents.normalize import AlertIn
from loom.settings import IncidentSettings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SETTINGS = IncidentSettings()


def fire(fp: str, **labels: str) -> AlertIn:
    return AlertIn(fp, AlertStatus.FIRING, Severity.WARNING, fp, labels=labels, starts_at=NOW)


def resolve(fp: str) -> AlertIn:
    return AlertIn(fp, AlertStatus.RESOLVED, Severity.WARNING, fp, ends_at=NOW)


async def store(app: FastAPI, org_id: uuid.UUID, *items: AlertIn, at: datetime = NOW) -> Any:
    async with app.state.runtime.sessions() as s, s.begin():
        delivery = await alerts.prepare(
            s, org_id, None, list(items), settings=SETTINGS, now=at, kind=AlertSourceKind.GENERIC
        )
        batch = await alerts.store(s, org_id, [delivery], settings=SETTINGS, now=at)
        await alerts.insert_new(s, batch, at)
        return {k: sorted(a.fingerprint for a in v) for k, v in vars(batch).items()
                if isinstance(v, list) and k != "new"}  # fmt: skip


async def rows(session: AsyncSession) -> list[Alert]:
    return list(await session.scalars(select(Alert).order_by(Alert.first_seen, Alert.name)))


async def test_new_repeat_and_resolve_go_in_their_lists(app: FastAPI, org_id: uuid.UUID) -> None:
    assert (await store(app, org_id, fire("a"), fire("b")))["opened"] == ["a", "b"]
    later = NOW + timedelta(minutes=1)
    batch = await store(app, org_id, fire("a"), resolve("b"), fire("c"), at=later)
    assert batch["opened"] == ["c"]
    assert batch["repeated"] == ["a"]
    assert batch["resolved"] == ["b"]
    async with app.state.runtime.sessions() as s:
        found = {a.fingerprint: a for a in await rows(s)}
    assert found["a"].count == 2 and found["a"].last_seen == later
    assert found["a"].first_seen == NOW
    assert found["b"].status == "resolved" and found["b"].ends_at == NOW


async def test_a_resolve_of_an_unknown_alert_is_kept_and_groups_nothing(
    app: FastAPI, org_id: uuid.UUID
) -> None:
    batch = await store(app, org_id, resolve("ghost"))
    assert not any(batch.values())
    async with app.state.runtime.sessions() as s:
        assert [(a.fingerprint, a.status) for a in await rows(s)] == [("ghost", "resolved")]


async def test_a_fire_after_resolve_refires_the_row_while_its_incident_is_open(
    app: FastAPI, org_id: uuid.UUID
) -> None:
    await store(app, org_id, fire("a"), fire("b"))
    async with app.state.runtime.sessions() as s, s.begin():
        incident = Incident(
            org_id=org_id, number=1, title="t", status="acknowledged", severity="warning"
        )
        closed = Incident(org_id=org_id, number=2, title="t", status="resolved", severity="info")
        s.add_all([incident, closed])
        await s.flush()
        found = {a.fingerprint: a for a in await rows(s)}
        found["a"].incident_id = incident.id
        found["b"].incident_id = closed.id
    await store(app, org_id, resolve("a"), resolve("b"))
    batch = await store(app, org_id, fire("a"), fire("b"))
    assert batch["refired"] == ["a"] and batch["repeated"] == []
    assert batch["opened"] == ["b"]  # its incident is closed: a new episode
    async with app.state.runtime.sessions() as s:
        found_rows = await rows(s)
    a_rows = [r for r in found_rows if r.fingerprint == "a"]
    assert len(a_rows) == 1 and a_rows[0].status == "firing" and a_rows[0].count == 3
    assert a_rows[0].ends_at is None
    assert len([r for r in found_rows if r.fingerprint == "b"]) == 2


async def test_silenced_alerts_are_stored_with_their_silence_only(
    app: FastAPI, org_id: uuid.UUID
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        silence = Silence(
            org_id=org_id, matchers=[{"name": "team", "value": "db", "op": "="}],
            starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1),
            created_by="x",
        )  # fmt: skip
        expired = Silence(
            org_id=org_id, matchers=[{"name": "team", "value": "web", "op": "="}],
            starts_at=NOW - timedelta(hours=2), ends_at=NOW - timedelta(hours=1),
            created_by="x",
        )  # fmt: skip
        s.add_all([silence, expired])
    batch = await store(app, org_id, fire("a", team="db"), fire("b", team="web"))
    assert batch["silenced"] == ["a"] and batch["opened"] == ["b"]
    again = await store(app, org_id, fire("a", team="db"), resolve("a"))
    assert again["silenced"] == ["a"] and again["resolved"] == []
    async with app.state.runtime.sessions() as s:
        found = {a.fingerprint: a for a in await rows(s)}
    assert found["a"].silence_id == silence.id and found["b"].silence_id is None


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = app.state.runtime.engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("size", [3, 60])
async def test_a_batch_costs_the_same_statements_whatever_its_size(
    app: FastAPI, org_id: uuid.UUID, statements: list[str], size: int
) -> None:
    await store(app, org_id, *[fire(f"a{i}", service="x") for i in range(size)])
    statements.clear()
    await store(app, org_id, *[fire(f"a{i}", service="x") for i in range(size)])
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 4, selects  # lock (PostgreSQL), episodes, services, silences
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    # one UPDATE statement, run once per row (executemany) at the flush
    assert len({u for u in updates}) <= 1


@pytest.mark.parametrize("order", ["fire first", "resolve first"])
async def test_an_alert_that_fires_in_one_delivery_and_resolves_in_another_is_grouped(
    app: FastAPI, org_id: uuid.UUID, order: str
) -> None:
    """Two senders' batches stored together give what they would have given apart: the
    alert fired, so it is grouped (resolved if the resolve came last)."""
    async with app.state.runtime.sessions() as s, s.begin():
        fired, ended = [
            await alerts.prepare(s, org_id, None, [item], settings=SETTINGS, now=NOW,
                                 kind=AlertSourceKind.GENERIC)
            for item in (fire("x", host="h1"), resolve("x"))
        ]  # fmt: skip
        deliveries = [fired, ended] if order == "fire first" else [ended, fired]
        summaries = await alerts.ingest_many(s, org_id, deliveries, settings=SETTINGS, now=NOW)
    async with app.state.runtime.sessions() as s:
        (row,) = await rows(s)
    assert row.incident_id is not None
    assert row.status == ("resolved" if order == "fire first" else "firing")
    assert [len(s.incidents) for s in summaries] == [1, 1]
