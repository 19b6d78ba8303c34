"""Requests: plan, submit, read, retry, abort. No HTTP here; the caller owns the
transaction, and every state change goes through `transitions`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from loom.api.correlation import correlation_id
from loom.audit import service as audit
from loom.audit.raw import entry_params
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.scoping import get_scoped, scoped
from loom.auth.service import team_named
from loom.catalog.cache import ServedEntry
from loom.catalog.documents import CatalogBundle, CatalogItem, Document
from loom.catalog.form_input import validate_input
from loom.db.raw import in_transaction
from loom.db.types import utcnow
from loom.errors import FieldIssue, IllegalTransition, InvalidInput, NotFound, RejectedInput
from loom.provisioning import pg_submit, waits
from loom.provisioning.models import FulfillmentTask, Request, TaskLog
from loom.provisioning.plan import TaskSpec, build_tasks, pin, unpin
from loom.provisioning.raw_writes import Lines
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import (
    check_task,
    lock_request,
    log_line,
    set_request_state,
    set_task_state,
    task_line,
)
from loom.secrets import service as secrets

#: Puts a queued task on the work queue, inside the caller's transaction.
Enqueue = Callable[[AsyncSession, Request, FulfillmentTask], Awaitable[None]]


@dataclass(frozen=True)
class Submission:
    entry: ServedEntry
    items: dict[str, CatalogItem]
    team_id: uuid.UUID
    values: dict[str, Any]
    secrets: dict[str, str]
    tasks: list[TaskSpec]
    served: dict[str, ServedEntry]


def _items_of(document: Document, served: dict[str, ServedEntry]) -> dict[str, CatalogItem]:
    if not isinstance(document, CatalogBundle):
        return {}
    items: dict[str, CatalogItem] = {}
    for component in document.spec.components:
        entry = served.get(component.item)
        if entry is None or not isinstance(entry.document, CatalogItem):
            raise InvalidInput.on("item", f"component item '{component.item}' is not served")
        items[component.item] = entry.document
    return items


async def resolve_team(session: AsyncSession, principal: Principal, team: str | None) -> uuid.UUID:
    """The team a request is for: named by slug or id, or the caller's only team."""
    if team is None:
        if len(principal.team_ids) == 1:
            return next(iter(principal.team_ids))
        raise InvalidInput.on("team", "name the team this request is for (you are in several)")
    team_id = await team_named(session, principal, team)
    if team_id is None or not principal.can_see_team(team_id):
        raise InvalidInput.on("team", f"no team '{team}' you belong to")
    return team_id


def check_input(document: Document, data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    result = validate_input(document, data)
    if not result.ok:
        details = [FieldIssue(f"inputs.{e.field}", e.issue) for e in result.errors]
        summary = "; ".join(f"{d.field}: {d.issue}" for d in details[:3])
        raise RejectedInput(f"invalid form input: {summary}", details)
    return result.values, result.secrets


async def prepare(
    session: AsyncSession,
    principal: Principal,
    served: dict[str, ServedEntry],
    entry_id: str,
    team: str | None,
    data: Any,
) -> Submission:
    """Everything a submission needs, checked; nothing stored (this is also the plan)."""
    entry = served.get(entry_id)
    if entry is None:
        raise InvalidInput.on("item", f"no catalog item or bundle '{entry_id}'")
    team_id = await resolve_team(session, principal, team)
    principal.require_team_role(team_id, Role.OPERATOR, "team")
    items = _items_of(entry.document, served)
    values, secret_values = check_input(entry.document, data)
    tasks = build_tasks(entry.document, items, values, secret_values)
    return Submission(entry, items, team_id, values, secret_values, tasks, served)


async def submit(
    session: AsyncSession,
    principal: Principal,
    submission: Submission,
    secrets_key: bytes,
    enqueue: Enqueue,
) -> Request:
    entry = submission.entry
    now = utcnow()
    request = Request(
        id=uuid.uuid4(),
        created_at=now,
        updated_at=now,
        org_id=principal.org_id,
        team_id=submission.team_id,
        requester_id=principal.user_id,
        kind=entry.kind,
        entry_id=entry.entry_id,
        entry_name=entry.document.metadata.name,
        entry_version=entry.document.metadata.version,
        entry_digest=entry.digest,
        commit_sha=entry.commit_sha,
        definition=pin(entry.document, submission.items),
        inputs=submission.values,
        secret_fields=sorted(submission.secrets),
        state=RequestState.SUBMITTED,
        correlation_id=correlation_id() or uuid.uuid4().hex,
        tasks_total=len(submission.tasks),
        tasks_completed=0,
        # In position order, as the relationship orders them: no reload after the insert.
        tasks=[
            FulfillmentTask(
                id=uuid.uuid4(),
                org_id=principal.org_id,
                position=spec.position,
                component_id=spec.component_id,
                item_id=spec.item_id,
                action_id=spec.action_id,
                action_type=spec.action_type,
                config=spec.config,
                declared_outputs=spec.declared_outputs,
                inputs=spec.inputs,
                state=TaskState.PENDING,
                attempts=0,
                outputs={},
                external_refs={},
            )
            for spec in sorted(submission.tasks, key=lambda spec: spec.position)
        ],
    )
    if raw_submission(session, submission):
        return await _submit_raw(session, principal, request, enqueue)
    session.add(request)
    await session.flush()
    if submission.secrets:
        await secrets.store(
            session,
            secrets_key,
            org_id=request.org_id,
            owner_type="request",
            owner_id=request.id,
            values=submission.secrets,
        )
    log_line(session, request.id, _submitted_line(principal, request))
    await audit.record(session, **_submit_audit(principal, request))
    if request.tasks:
        first = request.tasks[0]
        await set_task_state(session, request, first, TaskState.QUEUED)
        await enqueue(session, request, first)
    return request


def raw_submission(session: AsyncSession, submission: Submission) -> bool:
    """Whether `submit` takes the raw path: on PostgreSQL, with no secrets to store."""
    return not submission.secrets and session.get_bind().dialect.name == "postgresql"


async def _submit_raw(
    session: AsyncSession, principal: Principal, request: Request, enqueue: Enqueue
) -> Request:
    """`submit` on PostgreSQL (no secrets to store): the same rows, written by raw
    statements in the session's transaction (loom.provisioning.pg_submit)."""
    lines = Lines()
    lines.add(_submitted_line(principal, request))
    first = request.tasks[0] if request.tasks else None
    if first is not None:
        check_task(first.action_id, TaskState.PENDING, TaskState.QUEUED)
        first.state, first.queued_at = TaskState.QUEUED, request.created_at
        lines.add(task_line(0, first.action_id, TaskState.PENDING, TaskState.QUEUED), first.id)
    connection = await in_transaction(session)
    if first is not None:
        await enqueue(session, request, first)
    audit_entry = entry_params(**_submit_audit(principal, request))
    await pg_submit.insert(connection, request, lines, audit_entry)
    return request


def _submitted_line(principal: Principal, request: Request) -> str:
    return f"submitted by {principal.email}: {len(request.tasks)} task(s)"


def _submit_audit(principal: Principal, request: Request) -> dict[str, Any]:
    return {
        "org_id": request.org_id, "actor": principal, "action": "request.submit",
        "target_type": "request", "target_id": request.id, "team_id": request.team_id,
        "after": {"entry": request.entry_id, "version": request.entry_version,
                  "commit": request.commit_sha, "inputs": request.inputs,
                  "secret_fields": request.secret_fields},
    }  # fmt: skip


@dataclass(frozen=True)
class RequestFilter:
    mine: bool = True
    state: RequestState | None = None
    entry_id: str | None = None
    team_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def requests_query(principal: Principal, flt: RequestFilter) -> Select[Any]:
    stmt = scoped(select(Request), Request, principal)
    if flt.mine:
        stmt = stmt.where(Request.requester_id == principal.user_id)
    for column, value in (
        (Request.state, flt.state), (Request.entry_id, flt.entry_id), (Request.team_id, flt.team_id)
    ):  # fmt: skip
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.since is not None:
        stmt = stmt.where(Request.created_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Request.created_at < flt.until)
    return stmt


async def get_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, role: Role = Role.VIEWER
) -> Request:
    request = await get_scoped(session, Request, request_id, principal, role=role, what="request")
    await session.refresh(request, ["tasks"])
    return request


async def logs(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> list[TaskLog]:
    await get_request(session, principal, request_id)
    rows = await session.scalars(
        select(TaskLog).where(TaskLog.request_id == request_id).order_by(TaskLog.id)
    )
    return list(rows.all())


def _input_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = sorted(set(before) | set(after))
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in keys
        if before.get(k) != after.get(k)
    }


async def retry(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    enqueue: Enqueue,
    corrected: dict[str, Any] | None = None,
) -> Request:
    """Re-queue the failed (or stuck, or first escalated) task; the tasks after it run
    again in turn; completed tasks keep their outputs. Corrected input is re-validated
    and its diff audited."""
    await get_request(session, principal, request_id, role=Role.OPERATOR)
    request = await lock_request(session, request_id)
    state = RequestState(request.state)
    if state not in (RequestState.FAILED, RequestState.ESCALATED):
        raise IllegalTransition(
            f"only a failed or escalated request can be retried (it is {state})"
        )
    if corrected is not None:
        document, _items = unpin(request.definition)
        values, secret_values = check_input(document, corrected)
        diff = _input_diff(request.inputs, values)
        if diff:
            await audit.record(
                session,
                org_id=request.org_id,
                actor=principal,
                action="request.inputs.correct",
                target_type="request",
                target_id=request.id,
                team_id=request.team_id,
                before={"inputs": request.inputs},
                after={"inputs": values, "diff": diff},
            )
            request.inputs = values
            _refresh_task_inputs(request, document, _items, values, secret_values)
    failed = next(t for t in request.tasks if t.state in _RETRIED)
    tickets = [str(t.external_refs.get("jira")) for t in request.tasks
               if t.state == TaskState.ESCALATED and t.external_refs.get("jira")]  # fmt: skip
    if tickets:
        note = f"retry: the work goes back to Loom; escalation tickets {', '.join(tickets)} "
        log_line(session, request.id, note + "stay open in JIRA until someone closes them")
    await set_request_state(session, request, RequestState.RETRYING, principal, error=None)
    await set_task_state(session, request, failed, TaskState.QUEUED, reason="retry", error=None)
    for later in request.tasks:  # escalated after the failed one: their turn comes again
        if later.position > failed.position and later.state == TaskState.ESCALATED:
            await set_task_state(session, request, later, TaskState.PENDING, reason="retry")
    await enqueue(session, request, failed)
    return request


#: The task a retry queues again: the failed or stuck one, or the first escalated one.
_RETRIED = (TaskState.FAILED, TaskState.STUCK, TaskState.ESCALATED)


def _refresh_task_inputs(
    request: Request,
    document: Document,
    items: dict[str, CatalogItem],
    values: dict[str, Any],
    secret_values: dict[str, str],
) -> None:
    specs = {s.position: s for s in build_tasks(document, items, values, secret_values)}
    for task in request.tasks:
        if task.state != TaskState.COMPLETED and task.position in specs:
            task.inputs = specs[task.position].inputs


async def abort(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> Request:
    """Stop a request: every task not done is skipped (a message still queued for one sees
    the aborted request and skips itself; a waiting one's wait is closed); its secrets
    are deleted."""
    await get_request(session, principal, request_id, role=Role.OPERATOR)
    request = await lock_request(session, request_id)
    await set_request_state(session, request, RequestState.ABORTED, principal, reason="aborted")
    for task in request.tasks:
        if task.state in (TaskState.PENDING, TaskState.QUEUED, TaskState.FAILED, TaskState.STUCK,
                          TaskState.ESCALATED):  # fmt: skip
            await set_task_state(
                session, request, task, TaskState.SKIPPED, reason="request aborted"
            )
        elif task.state == TaskState.WAITING:
            await waits.abort_wait(session, request, task)
    await secrets.forget(session, owner_type="request", owner_id=request.id)
    return request


async def load_with_tasks(session: AsyncSession, request_id: uuid.UUID) -> Request:
    request = await session.scalar(
        select(Request).options(selectinload(Request.tasks)).where(Request.id == request_id)
    )
    if request is None:
        raise NotFound("request not found")
    return request


def preview_configs(
    submission: Submission, principal: Principal, region: str, environment: str
) -> list[dict[str, Any]]:
    """Each task's config rendered as far as it can be before anything runs: outputs of
    earlier tasks show as "known after task N"."""
    from loom.db.types import utcnow
    from loom.provisioning.templating import (
        TemplateError,
        Variables,
        render_config,
        system_values,
    )

    metadata = {
        entry_id: {
            **entry.document.metadata.model_dump(by_alias=True),
            "owner": entry.document.metadata.owner or entry.owner_team,
        }
        for entry_id, entry in submission.served.items()
    }
    system = system_values(
        request_id="(assigned at submission)", correlation_id=correlation_id() or "",
        timestamp=utcnow(), user_email=principal.email, user_name=principal.name,
        user_teams=[], region=region, environment=environment,
        task_id="(assigned at submission)", callback_url="(issued when the task runs)",
    )  # fmt: skip
    pending: dict[str, int] = {}
    rendered: list[dict[str, Any]] = []
    for spec in submission.tasks:
        variables = Variables(
            current=spec.inputs, output={}, metadata=metadata, system=system, pending=dict(pending)
        )
        try:
            rendered.append(render_config(spec.config, variables).value)
        except TemplateError as exc:
            rendered.append({"error": f"could not be rendered: {exc.message}"})
        for key in spec.declared_outputs:
            pending.setdefault(key, spec.position + 1)
    return rendered
