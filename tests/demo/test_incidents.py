"""The demo's operations history: yesterday's pricing outage, resolved with its cause
confirmed, and the ledger outage open now, grouped by the real pipeline into one
incident whose root cause is the ledger and whose top related change is the config
change made 15 minutes before. Seeding again adds nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from loom.demo import registry
from loom.incidents.models import Alert, Incident
from tests.demo.conftest import Demo


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_demo_has_a_resolved_and_an_open_incident(demo: Demo) -> None:
    incidents = (await _get(demo.admin, "/incidents?limit=50"))["items"]
    by_root = {i["root_cause"]: i for i in incidents if i["merged_into"] is None}
    pricing, ledger = by_root["pricing"], by_root["ledger"]
    assert pricing["status"] == "resolved" and pricing["assignee"] is None
    assert ledger["status"] == "triggered" and ledger["alert_count"] == 11
    assert ledger["severity"] == "critical"
    assert set(ledger["services"]) == {
        "ledger", "payouts", "payments-api", "orders", "api-gateway", "checkout-web"
    }  # fmt: skip
    detail = await _get(demo.admin, f"/incidents/{pricing['number']}")
    assert detail["mtta_seconds"] == 4 * 60 and detail["mttr_seconds"] == 31 * 60
    related = (await _get(demo.admin, f"/incidents/{ledger['number']}/changes"))["items"]
    assert related[0]["change"]["title"] == "ledger: DB_POOL_MAX 50 → 5"
    assert all(r["score"] < related[0]["score"] for r in related[1:])
    confirmed = (await _get(demo.admin, f"/incidents/{pricing['number']}/changes"))["items"]
    assert confirmed[0]["verdict"] == "confirmed"


async def test_seeding_incidents_again_adds_nothing(demo: Demo) -> None:
    async def counts() -> tuple[int, int]:
        async with demo.runtime.sessions() as s:
            return (
                int(await s.scalar(select(func.count()).select_from(Incident)) or 0),
                int(await s.scalar(select(func.count()).select_from(Alert)) or 0),
            )

    before = await counts()
    assert before[0] >= 2
    await registry.seed(demo.runtime)
    assert await counts() == before
