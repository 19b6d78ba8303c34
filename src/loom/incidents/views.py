"""Rows to API shapes. Each function takes a list, so a page of rows costs one lookup
query per kind of name it needs (service slugs, source names, incident numbers, emails),
not one per row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import User
from loom.db.filters import names_by_id
from loom.incidents import schemas
from loom.incidents.kinds import (
    AlertSourceKind,
    AlertStatus,
    ChangeSource,
    ChangeType,
    IncidentStatus,
    Severity,
)
from loom.incidents.models import Alert, AlertSource, Change, Incident
from loom.services.models import Service


async def service_slugs(
    session: AsyncSession, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    return await names_by_id(session, Service.slug, Service.id, ids)  # type: ignore[return-value]


async def alerts_out(session: AsyncSession, alerts: Sequence[Alert]) -> list[schemas.Alert]:
    slugs = await service_slugs(session, (a.service_id for a in alerts))
    sources = await names_by_id(
        session, AlertSource.name, AlertSource.id, (a.source_id for a in alerts)
    )
    numbers = await names_by_id(
        session, Incident.number, Incident.id, (a.incident_id for a in alerts)
    )
    out = []
    for a in alerts:
        grouping = schemas.Grouping(**a.grouping) if a.grouping else None
        out.append(
            schemas.Alert(
                id=a.id, fingerprint=a.fingerprint, status=AlertStatus(a.status),
                severity=Severity(a.severity), name=a.name, summary=a.summary,
                labels=a.labels, annotations=a.annotations,
                service=slugs.get(a.service_id) if a.service_id else None,
                environment=a.environment,
                source=str(sources[a.source_id]) if a.source_id in sources else None,
                source_kind=AlertSourceKind(a.source_kind), generator_url=a.generator_url,
                starts_at=a.starts_at, ends_at=a.ends_at, first_seen=a.first_seen,
                last_seen=a.last_seen, count=a.count, silenced=a.silence_id is not None,
                incident_id=a.incident_id,
                incident_number=numbers.get(a.incident_id) if a.incident_id else None,  # type: ignore[arg-type]
                grouping=grouping,
            )
        )  # fmt: skip
    return out


async def incidents_out(
    session: AsyncSession, incidents: Sequence[Incident], *, detail: bool = False
) -> list[schemas.Incident] | list[schemas.IncidentSummary]:
    service_ids: set[uuid.UUID | None] = {i.root_cause_service_id for i in incidents}
    for i in incidents:
        service_ids.update(uuid.UUID(s) for s in i.service_ids)
    slugs = await service_slugs(session, service_ids)
    emails = await names_by_id(session, User.email, User.id, (i.assignee_id for i in incidents))
    merged = await names_by_id(
        session, Incident.number, Incident.id, (i.merged_into_id for i in incidents)
    )
    out = []
    for i in incidents:
        fields = dict(
            id=i.id, number=i.number, title=i.title, status=IncidentStatus(i.status),
            severity=Severity(i.severity),
            severity_override=Severity(i.severity_override) if i.severity_override else None,
            environment=i.environment,
            root_cause=slugs.get(i.root_cause_service_id) if i.root_cause_service_id else None,
            assignee=emails.get(i.assignee_id) if i.assignee_id else None,
            alert_count=i.alert_count, firing_count=i.firing_count,
            services=sorted(slugs[uuid.UUID(s)] for s in i.service_ids if uuid.UUID(s) in slugs),
            opened_at=i.opened_at, last_alert_at=i.last_alert_at,
            acknowledged_at=i.acknowledged_at, resolved_at=i.resolved_at,
            hold_open=i.hold_open,
            merged_into=merged.get(i.merged_into_id) if i.merged_into_id else None,
        )  # fmt: skip
        if not detail:
            out.append(schemas.IncidentSummary(**fields))  # type: ignore[arg-type]
            continue
        out.append(
            schemas.Incident(
                **fields,  # type: ignore[arg-type]
                title_edited=i.title_edited,
                root_cause_candidates=[schemas.RootCauseCandidate(**c) for c in i.root_cause],
                affected=[schemas.AffectedService(**a) for a in i.affected],
                mitigated_at=i.mitigated_at, quiet_since=i.quiet_since,
                mtta_seconds=i.mtta_seconds, mttr_seconds=i.mttr_seconds,
                created_at=i.created_at, updated_at=i.updated_at,
            )
        )  # fmt: skip
    return out


async def incident_out(session: AsyncSession, incident: Incident) -> schemas.Incident:
    return (await incidents_out(session, [incident], detail=True))[0]  # type: ignore[return-value]


async def changes_out(session: AsyncSession, changes: Sequence[Change]) -> list[schemas.Change]:
    slugs = await service_slugs(session, (c.service_id for c in changes))
    return [
        schemas.Change(
            id=c.id, type=ChangeType(c.type), source=ChangeSource(c.source),
            external_id=c.external_id,
            service=slugs.get(c.service_id) if c.service_id else None,
            environment=c.environment, version=c.version, previous_version=c.previous_version,
            title=c.title, description=c.description, author=c.author,
            happened_at=c.happened_at, url=c.url, deployment_id=c.deployment_id,
            created_at=c.created_at,
        )
        for c in changes
    ]  # fmt: skip
