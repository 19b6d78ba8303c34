"""The demo's operations history, seeded once after the registry data (registry.py):
yesterday's pricing outage, resolved by Bob with the scaling change that caused it
confirmed, and an incident open right now: the ledger's database connections ran out
after a config change, and 11 alerts from six services point at it.

Everything goes through the real paths (alert ingestion and grouping, change records,
the incident lifecycle), so what the portal shows is what Loom would have made of it.
Nothing is seeded when the organisation has incidents already.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit.service import Actor
from loom.auth.models import User
from loom.auth.principal import Principal, load_principal
from loom.incidents import alerts, changes, correlation, lifecycle
from loom.incidents.change_schemas import ChangeCreate
from loom.incidents.kinds import (
    AlertSourceKind,
    AlertStatus,
    ChangeSource,
    ChangeType,
    IncidentStatus,
    Severity,
    Verdict,
)
from loom.incidents.models import AlertSource, Incident
from loom.incidents.normalize import AlertIn
from loom.settings import IncidentSettings

SOURCE_NAME = "demo-alertmanager"
RESPONDER = "bob@loom.local"
ACTOR = Actor.system("demo")

#: (seconds after the first alert, service, alert name, severity, extra labels)
Storm = list[tuple[int, str, str, Severity, dict[str, str]]]

PRICING_OUTAGE: Storm = [
    (0, "pricing", "PostgresTooManyConnections", Severity.CRITICAL, {"host": "pricing-db-1"}),
    (25, "pricing", "PricingLatencyHigh", Severity.WARNING, {"pod": "pricing-6f7c9-x2k"}),
    (40, "cart", "CartPriceLookupErrors", Severity.CRITICAL, {"pod": "cart-5d8b-q9"}),
    (70, "api-gateway", "GatewayHigh5xxRate", Severity.CRITICAL, {"route": "/cart"}),
    (95, "checkout-web", "CheckoutErrorBudgetBurn", Severity.WARNING, {}),
]

LEDGER_OUTAGE: Storm = [
    (0, "ledger", "PostgresConnectionsExhausted", Severity.CRITICAL, {"host": "ledger-db-1"}),
    (8, "ledger", "LedgerWriteErrors", Severity.CRITICAL, {"pod": "ledger-7c4f-m2"}),
    (30, "payouts", "PayoutBatchFailing", Severity.CRITICAL, {"pod": "payouts-55d-k1"}),
    (45, "payments-api", "PaymentsHighErrorRate", Severity.CRITICAL, {"pod": "payments-9b-z7"}),
    (50, "payments-api", "PaymentsLatencyP99", Severity.WARNING, {"pod": "payments-9b-z7"}),
    (75, "orders", "OrdersPaymentTimeouts", Severity.CRITICAL, {"pod": "orders-4c1-a8"}),
    (80, "orders", "OrdersBacklogGrowing", Severity.WARNING, {}),
    (110, "api-gateway", "GatewayHigh5xxRate", Severity.CRITICAL, {"route": "/checkout"}),
    (115, "api-gateway", "GatewayLatencyHigh", Severity.WARNING, {"route": "/checkout"}),
    (140, "checkout-web", "CheckoutConversionDrop", Severity.WARNING, {}),
    (150, "checkout-web", "CheckoutErrorBudgetBurn", Severity.CRITICAL, {}),
]


def _items(storm: Storm, start: datetime) -> list[tuple[datetime, AlertIn]]:
    out = []
    for offset, service, name, severity, labels in storm:
        at = start + timedelta(seconds=offset)
        all_labels = {"alertname": name, "service": service, "env": "production",
                      "severity": severity.value, **labels}  # fmt: skip
        out.append((at, AlertIn(
            fingerprint=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{start.date()}:{service}:{name}").hex,
            status=AlertStatus.FIRING, severity=severity, name=name,
            summary=f"{name} on {service}", labels=all_labels,
            annotations={"summary": f"{name} on {service}", "runbook_url":
                         f"https://wiki.acme.test/{service}/runbook"},
            environment="production", starts_at=at,
        )))  # fmt: skip
    return out


async def _source(session: AsyncSession, org_id: uuid.UUID) -> AlertSource:
    found = await session.scalar(
        select(AlertSource).where(AlertSource.org_id == org_id, AlertSource.name == SOURCE_NAME)
    )
    if found is None:
        # No token: the demo posts through the service layer; an admin rotates it to use it.
        found = AlertSource(
            org_id=org_id, name=SOURCE_NAME, kind=AlertSourceKind.ALERTMANAGER.value
        )
        session.add(found)
        await session.flush()
    return found


async def _fire(
    session: AsyncSession, org_id: uuid.UUID, source: AlertSource, storm: Storm,
    start: datetime, settings: IncidentSettings,
) -> None:  # fmt: skip
    """The storm as Alertmanager would send it: an alert or two at a time, as they start."""
    for at, item in _items(storm, start):
        await alerts.ingest(session, org_id, source, [item], settings=settings, now=at)


async def _resolve_all(
    session: AsyncSession, org_id: uuid.UUID, source: AlertSource, storm: Storm,
    start: datetime, at: datetime, settings: IncidentSettings,
) -> None:  # fmt: skip
    items = []
    for _, item in _items(storm, start):
        item.status = AlertStatus.RESOLVED
        item.ends_at = at
        items.append(item)
    await alerts.ingest(session, org_id, source, items, settings=settings, now=at)


async def _change(
    session: AsyncSession, org_id: uuid.UUID, data: ChangeCreate, now: datetime,
    settings: IncidentSettings,
) -> uuid.UUID:  # fmt: skip
    change = await changes.record_change(
        session, ACTOR, org_id, data, source=ChangeSource.MANUAL, now=now, settings=settings
    )
    return change.id


async def _incident_of(session: AsyncSession, org_id: uuid.UUID, service: str) -> Incident:
    rows = await session.scalars(
        select(Incident).where(Incident.org_id == org_id).order_by(Incident.number.desc())
    )
    for incident in rows:
        if incident.merged_into_id is None and any(
            c.get("service") == service for c in incident.root_cause[:1]
        ):
            return incident
    raise LookupError(service)


async def _responder(session: AsyncSession) -> Principal | None:
    user_id = await session.scalar(select(User.id).where(User.email == RESPONDER))
    return await load_principal(session, user_id) if user_id else None


async def seed(
    session: AsyncSession, org_id: uuid.UUID, settings: IncidentSettings, now: datetime
) -> bool:
    """Seed the demo's incidents unless the organisation has some; whether it did."""
    if await session.scalar(select(Incident.id).where(Incident.org_id == org_id).limit(1)):
        return False
    bob = await _responder(session)
    source = await _source(session, org_id)

    # Yesterday: pricing scaled down to one replica, its database connections ran out.
    start = now - timedelta(days=1, hours=2)
    scaling = await _change(session, org_id, ChangeCreate(
        type=ChangeType.SCALING, service="pricing", environment="production",
        title="pricing: replicas 3 → 1 (cost review)", author="dan@loom.local",
        happened_at=start - timedelta(minutes=12),
    ), start - timedelta(minutes=12), settings)  # fmt: skip
    await _fire(session, org_id, source, PRICING_OUTAGE, start, settings)
    pricing = await _incident_of(session, org_id, "pricing")
    if bob is not None:
        ref = str(pricing.number)
        await lifecycle.change_status(session, bob, ref, IncidentStatus.ACKNOWLEDGED,
                                      now=start + timedelta(minutes=4))  # fmt: skip
        await lifecycle.change_status(session, bob, ref, IncidentStatus.INVESTIGATING,
                                      now=start + timedelta(minutes=6))  # fmt: skip
        await lifecycle.comment(session, bob, ref, "Pricing went down to one replica this "
                                "morning; its pool cannot take the lunch peak. Scaling back to 3.",
                                now=start + timedelta(minutes=9))  # fmt: skip
        await correlation.set_verdict(
            session, bob, pricing, scaling, Verdict.CONFIRMED, "Scaled back to 3 replicas",
            now=start + timedelta(minutes=10),
        )  # fmt: skip
        await lifecycle.change_status(session, bob, ref, IncidentStatus.MITIGATED,
                                      now=start + timedelta(minutes=17))  # fmt: skip
    await _resolve_all(session, org_id, source, PRICING_OUTAGE, start,
                       start + timedelta(minutes=24), settings)  # fmt: skip
    if bob is not None:
        await lifecycle.change_status(session, bob, str(pricing.number), IncidentStatus.RESOLVED,
                                      note="Back to 3 replicas; alert on pool saturation added",
                                      now=start + timedelta(minutes=31))  # fmt: skip

    # Now: a config change shrank the ledger's connection pool 15 minutes before its
    # database connections ran out; an unrelated flag was turned on earlier.
    start = now - timedelta(minutes=6)
    await _change(session, org_id, ChangeCreate(
        type=ChangeType.FEATURE_FLAG, service="search-api", environment="production",
        title="search-api: flag synonyms-v2 on for 10 % of searches",
        author="carol@loom.local", happened_at=start - timedelta(minutes=100),
    ), start - timedelta(minutes=100), settings)  # fmt: skip
    await _change(session, org_id, ChangeCreate(
        type=ChangeType.CONFIG, service="ledger", environment="production",
        title="ledger: DB_POOL_MAX 50 → 5", author="alice@loom.local",
        description="Part of the connection-count clean-up before the Postgres upgrade.",
        happened_at=start - timedelta(minutes=15),
    ), start - timedelta(minutes=15), settings)  # fmt: skip
    await _fire(session, org_id, source, LEDGER_OUTAGE, start, settings)
    return True
