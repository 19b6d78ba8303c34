"""`Intake`: concurrent batches of an organisation are stored and grouped in one
transaction, each sender gets its own answer, and a batch that fails fails alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import select

from loom.incidents import alerts, intake
from loom.incidents.kinds import AlertSourceKind, AlertStatus, Severity
from loom.incidents.models import Alert, Incident
from loom.incidents.normalize import AlertIn
from loom.settings import IncidentSettings

NOW = datetime.now(UTC)


def fire(fp: str, host: str) -> AlertIn:
    return AlertIn(fp, AlertStatus.FIRING, Severity.WARNING, fp, labels={"host": host},
                   starts_at=NOW)  # fmt: skip


async def delivery(app: FastAPI, org_id: uuid.UUID, *items: AlertIn) -> alerts.Delivery:
    async with app.state.runtime.sessions() as s:
        return await alerts.prepare(s, org_id, None, list(items), settings=IncidentSettings(),
                                    now=NOW, kind=AlertSourceKind.GENERIC)  # fmt: skip


class Recording(intake.Intake):
    """An intake that notes the deliveries of each transaction, and fails those that
    hold a poisoned fingerprint."""

    def __init__(self, app: FastAPI, poison: str | None = None) -> None:
        super().__init__(app.state.runtime.sessions, IncidentSettings())
        self.transactions: list[int] = []
        self.poison = poison

    async def _transaction(
        self, org_id: uuid.UUID, deliveries: list[alerts.Delivery]
    ) -> list[alerts.IngestSummary]:
        self.transactions.append(len(deliveries))
        if any(i.fingerprint == self.poison for d in deliveries for i in d.items):
            raise ValueError("poisoned")
        return await super()._transaction(org_id, deliveries)


async def incidents_of(app: FastAPI, fingerprints: Sequence[str]) -> dict[str, int | None]:
    async with app.state.runtime.sessions() as s:
        found = await s.execute(
            select(Alert.fingerprint, Incident.number)
            .outerjoin(Incident, Incident.id == Alert.incident_id)
            .where(Alert.fingerprint.in_(fingerprints))
        )
        return {fp: number for fp, number in found}


async def test_concurrent_batches_share_a_transaction_and_get_their_own_answers(
    app: FastAPI, org_id: uuid.UUID
) -> None:
    recording = Recording(app)
    batches = [
        await delivery(app, org_id, fire("a1", "h1"), fire("a2", "h1")),
        await delivery(app, org_id, fire("b1", "h2")),
        await delivery(app, org_id, fire("a3", "h1"), fire("b2", "h2")),
    ]
    first, second, third = await asyncio.gather(*(recording.submit(org_id, b) for b in batches))
    assert recording.transactions == [3]
    found = await incidents_of(app, ["a1", "a2", "a3", "b1", "b2"])
    assert found["a1"] == found["a2"] == found["a3"] is not None
    assert found["b1"] == found["b2"] is not None and found["b1"] != found["a1"]
    assert first.incidents == [found["a1"]] and first.accepted == 2
    assert second.incidents == [found["b1"]]
    assert third.incidents == sorted([found["a1"], found["b1"]])
    # The queue is gone once drained; the next batch starts a transaction of its own.
    await recording.submit(org_id, await delivery(app, org_id, fire("c1", "h3")))
    assert recording.transactions == [3, 1]


async def test_a_batch_that_fails_fails_alone(app: FastAPI, org_id: uuid.UUID) -> None:
    recording = Recording(app, poison="bad")
    batches = [await delivery(app, org_id, fire(fp, "h1")) for fp in ("a1", "bad", "c1")]
    answers = await asyncio.gather(
        *(recording.submit(org_id, b) for b in batches), return_exceptions=True
    )
    assert recording.transactions == [3, 1, 1, 1]
    assert isinstance(answers[1], ValueError)
    assert not isinstance(answers[0], BaseException) and answers[0].incidents
    assert not isinstance(answers[2], BaseException) and answers[2].incidents
    found = await incidents_of(app, ["a1", "bad", "c1"])
    assert "bad" not in found and found["a1"] == found["c1"] is not None


async def test_a_sender_that_hangs_up_does_not_cancel_the_others(
    app: FastAPI, org_id: uuid.UUID
) -> None:
    recording = Recording(app)
    one, other = [await delivery(app, org_id, fire(fp, "h1")) for fp in ("a1", "a2")]
    leaving = asyncio.create_task(recording.submit(org_id, one))
    staying = asyncio.create_task(recording.submit(org_id, other))
    await asyncio.sleep(0)
    leaving.cancel()
    answer = await staying
    assert answer.incidents
    found = await incidents_of(app, ["a1", "a2"])
    assert found["a1"] == found["a2"] is not None  # the leaver's alerts were stored too
