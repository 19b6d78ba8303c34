"""The dispatcher's second source: provisioning events (a request failed, an approval is
needed), read from records written in the transaction that made them, so provisioning
knows nothing of notifications:

* request.failed: the audit entry every request's move to `failed` writes
  (`loom.provisioning.transitions.set_request_state`, action "request.failed"), whatever
  failed it (a task, a stuck task, a wait's failure or timeout, a rejection);
* approval.needed: the approval wait a task opens (`TaskWait` of kind "approval").
  One already closed when read (auto-approved, decided, failed) needs nobody.

The same approach as the incidents' outbox (`loom.notify.outbox`): its own cursor, the
events since it and again those of the last `LOOKBACK`; a delivery's id derives from the
event and the channel, so what is read twice is not sent twice.

Rules match a request event by its event name and team: a team's rule fires for its own
team's requests and, for an approval, for the teams asked to approve. Conditions on
severities, services or environments are the incidents' and never match a request.
Escalation policies, hourly limits and maintenance windows are the incidents' too.
PagerDuty is paged for a failed request, never for an approval (that is logged as muted).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from loom.actions.approval import KIND as APPROVAL
from loom.actions.approval import approvers_text
from loom.audit.models import AuditEntry
from loom.auth.models import Team, User
from loom.db.types import utcnow
from loom.notify import delivery, noise
from loom.notify.kinds import ChannelKind
from loom.notify.message import ERROR_MAX, NotifyEvent, RequestMessage
from loom.notify.outbox import LOOKBACK, Pass, open_cursor
from loom.notify.rules import Facts, RuleBook, firing
from loom.provisioning.models import Request, TaskWait, WaitApprover
from loom.provisioning.states import RequestState, TaskState
from loom.queue.protocol import Queue

CURSOR = "request_events"
#: The audit action of a request's move to `failed`.
FAILED_ACTION = f"request.{RequestState.FAILED}"
#: Event and delivery ids are derived in this namespace.
_DELIVERIES = uuid.UUID("6d3fbd2d-623c-4d93-90d4-249d7c2f9ba1")
_NO_PAGE = "PagerDuty is not paged for an approval"


@dataclass(frozen=True)
class RequestEvent:
    """One event read from its record."""

    #: Derived from the record: the same on every read.
    id: uuid.UUID
    event: NotifyEvent
    request_id: uuid.UUID
    created_at: datetime
    #: request.failed: why (as the audit entry says).
    error: str | None = None
    #: approval.needed: the wait.
    wait: TaskWait | None = None


async def run(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    *,
    portal_url: str,
    seen: dict[uuid.UUID, datetime],
) -> int:
    """One committed pass; what it dispatched joins `seen` (the events this process
    skips when it reads them again), older entries leave it. Deliveries queued."""
    async with sessions() as session, session.begin():
        done = await dispatch(session, queue, portal_url=portal_url, now=utcnow(), seen=seen)
    done.remember(seen)
    return done.queued


async def dispatch(
    session: AsyncSession,
    queue: Queue,
    *,
    portal_url: str,
    now: datetime,
    seen: dict[uuid.UUID, datetime] | None = None,
    limit: int = 500,
) -> Pass:
    """One pass, in the caller's transaction (see `outbox.dispatch` for `seen`)."""
    seen = seen or {}
    cursor = await open_cursor(session, CURSOR, now)
    done = Pass(floor=cursor.at - LOOKBACK)
    read = await read_events(session, cursor.at - LOOKBACK, limit)
    events = [e for e in read if e.id not in seen]
    if not events:
        return done
    context = await _Context.load(session, events)
    for event in events:
        done.dispatched[event.id] = event.created_at
        request = context.requests.get(event.request_id)
        if request is None or (event.wait is not None and event.wait.completed_at is not None):
            continue  # deleted, or an approval nobody needs to be asked for any more
        message = context.message(request, event, portal_url)
        fired = firing(context.book.of(request.org_id), context.facts(event))
        for channel in context.book.channels_of(fired):
            if channel.kind == ChannelKind.PAGERDUTY and event.event is NotifyEvent.APPROVAL_NEEDED:
                await noise.muted(session, event.id, None, message, [channel], _NO_PAGE)
                continue
            delivery_id = uuid.uuid5(_DELIVERIES, f"{event.id}:{channel.id}")
            sent = await delivery.enqueue(
                queue, channel, message, session=session, delivery_id=delivery_id
            )
            done.queued += sent is not None
    cursor.at = max(cursor.at, read[-1].created_at)
    return done


async def read_events(session: AsyncSession, since: datetime, limit: int) -> list[RequestEvent]:
    """The first `limit` events written after `since`, oldest first (each source gives
    its first `limit`, so the first `limit` of both together are complete)."""
    failures = await session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.action == FAILED_ACTION,
            AuditEntry.target_type == "request",
            AuditEntry.created_at > since,
        )
        .order_by(AuditEntry.created_at, AuditEntry.id)
        .limit(limit)
    )
    events = []
    for entry in failures:
        request_id = _uuid(entry.target_id)
        if request_id is None:
            continue
        events.append(RequestEvent(
            id=uuid.uuid5(_DELIVERIES, f"{FAILED_ACTION}:{entry.id}"),
            event=NotifyEvent.REQUEST_FAILED, request_id=request_id,
            created_at=entry.created_at, error=(entry.after or {}).get("reason"),
        ))  # fmt: skip
    waits = await session.scalars(
        select(TaskWait)
        .where(TaskWait.kind == APPROVAL, TaskWait.created_at > since)
        .order_by(TaskWait.created_at, TaskWait.id)
        .limit(limit)
    )
    for wait in waits:
        events.append(RequestEvent(
            id=uuid.uuid5(_DELIVERIES, f"{NotifyEvent.APPROVAL_NEEDED}:{wait.id}"),
            event=NotifyEvent.APPROVAL_NEEDED, request_id=wait.request_id,
            created_at=wait.created_at, wait=wait,
        ))  # fmt: skip
    events.sort(key=lambda e: (e.created_at, str(e.id)))
    return events[:limit]


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class _Context:
    """What building and routing a batch of events reads, read once."""

    def __init__(
        self,
        requests: dict[uuid.UUID, Request],
        teams: dict[uuid.UUID, str],
        emails: dict[uuid.UUID, str],
        approver_teams: dict[uuid.UUID, frozenset[uuid.UUID]],
        book: RuleBook,
    ) -> None:
        self.requests = requests
        self.teams = teams
        self.emails = emails
        self.approver_teams = approver_teams
        self.book = book

    @classmethod
    async def load(cls, session: AsyncSession, events: Sequence[RequestEvent]) -> _Context:
        requests = {
            r.id: r
            for r in await session.scalars(
                select(Request)
                .where(Request.id.in_({e.request_id for e in events}))
                .options(selectinload(Request.tasks))
            )
        }
        wait_ids = [e.wait.id for e in events if e.wait is not None]
        approver_teams: dict[uuid.UUID, set[uuid.UUID]] = {}
        if wait_ids:
            found = await session.execute(
                select(WaitApprover.wait_id, WaitApprover.team_id).where(
                    WaitApprover.wait_id.in_(wait_ids), WaitApprover.team_id.is_not(None)
                )
            )
            for wait_id, team_id in found:
                if team_id is not None:
                    approver_teams.setdefault(wait_id, set()).add(team_id)
        team_ids = {r.team_id for r in requests.values()}
        teams = dict((await session.execute(
            select(Team.id, Team.slug).where(Team.id.in_(team_ids))
        )).all())  # fmt: skip
        emails = dict((await session.execute(
            select(User.id, User.email).where(
                User.id.in_({r.requester_id for r in requests.values()})
            )
        )).all())  # fmt: skip
        book = await RuleBook.load(session, {r.org_id for r in requests.values()})
        frozen = {w: frozenset(ids) for w, ids in approver_teams.items()}
        return cls(requests, teams, emails, frozen, book)

    def facts(self, event: RequestEvent) -> Facts:
        """What rules look at: the event and the teams concerned (the requester's; for an
        approval, the approving teams too). No severity, service or environment: a rule
        naming any does not match a request's event."""
        request = self.requests[event.request_id]
        teams = {request.team_id}
        if event.wait is not None:
            teams |= self.approver_teams.get(event.wait.id, frozenset())
        return Facts(event=event.event, severity="", services=frozenset(), environment=None,
                     team_ids=frozenset(teams))  # fmt: skip

    def message(self, request: Request, event: RequestEvent, portal_url: str) -> RequestMessage:
        failed_task = error = approvers = waiting_for = None
        state = request.state
        if event.event is NotifyEvent.REQUEST_FAILED:
            state = RequestState.FAILED.value  # as it was, whatever happened since
            failed = [t for t in request.tasks if t.state in (TaskState.FAILED, TaskState.STUCK)]
            if failed:
                failed_task = f"{failed[0].position + 1} ({failed[0].action_id})"
            text = event.error or request.error or ""
            error = (text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…") or None
        if event.wait is not None:
            spec = event.wait.state
            approvers = approvers_text(spec.get("teams", []), spec.get("users", [])) or None
            waiting_for = event.wait.reason
        return RequestMessage(
            event=event.event, request_id=str(request.id), entry_id=request.entry_id,
            entry_name=request.entry_name, team=self.teams.get(request.team_id, ""),
            requester=self.emails.get(request.requester_id, ""), state=state,
            at=event.created_at, url=f"{portal_url.rstrip('/')}/ui/requests/{request.id}",
            failed_task=failed_task, error=error, approvers=approvers, waiting_for=waiting_for,
        )  # fmt: skip
