"""Escalation: a failed (or stuck) request handed to people, one JIRA ticket for the
failed task and one for each task after it, and its completion by hand afterwards.

`escalate` runs in three steps, so that no transaction is open (and no row locked) while
JIRA is called:

1. a short transaction checks the caller (operator of the request's team) and the state
   (failed: a stuck task fails its request too) and takes a snapshot of what the tickets
   need;
2. with no transaction open, each task's config is resolved as the worker resolves it
   (outputs of earlier escalated tasks read "known after task N"), and its ticket is
   found or opened, in task order: a ticket of an earlier run of the same escalation (a
   crash, JIRA failing halfway) is found by its labels (`loom-task-<id>` and the
   escalation's round label) instead of being opened twice; ticket N blocks ticket N+1;
3. one transaction records it all: each task `escalated` with its ticket as external
   reference `{"jira", "url", "jira_instance"}` and the calls in its log, an audit entry,
   and the request `escalated`.

If JIRA fails in step 2, nothing is recorded but a log line: the request stays failed,
the tickets opened so far are found again by the next escalation, and the caller gets
an `UpstreamFailed` (JIRA answered an error: 502, naming its status) or an
`UpstreamUnavailable` (JIRA unreachable, too slow, its circuit open, or escalation not
configured: 503). Unlike other services this one runs its own transactions, on the
caller's session, because the calls must happen between them.

Where a task's ticket goes: its item's `spec.escalation` (for a bundle, the task's own
component item, else the failed component's item), each empty key falling back to the
`integrations.escalation` settings, then to the instance's default project and `Task`.

Afterwards (see loom.provisioning.states) the team completes the request once the work
is done by hand (`complete`), retries it, or aborts it. Nothing completes it by itself
when the tickets are done: the request page shows their status, read on demand.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.actions.base import ActionContext, ActionFailed
from loom.api.correlation import correlation_id
from loom.audit import service as audit
from loom.auth.models import Team
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog.documents import CatalogItem, Escalation
from loom.errors import Conflict, IllegalTransition, UpstreamFailed, UpstreamUnavailable
from loom.integrations.jira import JiraClient, Ticket, jira_instance
from loom.platform.http import http_clients
from loom.platform.runtime import Runtime
from loom.provisioning import escalation_tickets as tickets
from loom.provisioning.escalation_tickets import Case, EarlierTicket, Setup, TaskFacts
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.plan import unpin
from loom.provisioning.service import get_request
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import lock_request, log_line, set_request_state, set_task_state
from loom.secrets import service as secrets
from loom.secrets.crypto import derive_key
from loom.settings import Settings
from loom.workers.execute import render_task
from loom.workers.runner import ActionOutcome, TaskRun, task_run

#: How long all the calls of one escalation may take together.
ESCALATION_SECONDS = 60.0
_ESCALATABLE = (TaskState.FAILED, TaskState.STUCK)
_STATUS = re.compile(r"answered (\d{3})")
#: One escalation of a request at a time in this process (a double click waits, then
#: finds the request escalated).
_running: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()


class _NoConfig(BaseModel):
    pass


@dataclass(frozen=True)
class Target:
    """Where a task's ticket goes."""

    instance: str
    project: str
    issue_type: str


@dataclass(frozen=True)
class _Job:
    facts: TaskFacts
    run: TaskRun
    target: Target
    pending: dict[str, int]


@dataclass(frozen=True)
class _Snapshot:
    case: Case
    jobs: list[_Job]


@dataclass(frozen=True)
class Opened:
    """A task's ticket, opened by this run or found from an earlier one."""

    task_id: uuid.UUID
    ticket: Ticket
    instance: str
    project: str
    found_again: bool
    lines: list[str]


async def escalate(
    session: AsyncSession, runtime: Runtime, principal: Principal, request_id: uuid.UUID
) -> Request:
    """Hand the failed task and every task after it to people (see the module
    docstring); the escalated request, its tasks loaded."""
    lock = _running.setdefault(request_id, asyncio.Lock())
    async with lock:
        async with session.begin():
            snapshot = await _snapshot(session, runtime, principal, request_id)
        opened: list[Opened] = []
        try:
            await _open_tickets(runtime, snapshot, opened)
        except ActionFailed as failure:
            error = _upstream_error(failure, opened)
            async with session.begin():
                log_line(session, request_id, f"escalation by {principal.email}: {error.message}",
                         task_id=snapshot.case.failed.id, level="warning")  # fmt: skip
            raise error from None
        async with session.begin():
            return await _record(session, principal, snapshot, opened)


async def complete(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, comment: str = ""
) -> Request:
    """The team did the escalated work by hand: its tasks and the request complete, and
    the request's secrets are deleted. In the caller's transaction."""
    await get_request(session, principal, request_id, role=Role.OPERATOR)
    request = await lock_request(session, request_id)
    if request.state != RequestState.ESCALATED:
        raise IllegalTransition(
            f"only an escalated request can be completed by hand (it is {request.state})"
        )
    for task in request.tasks:
        if task.state == TaskState.ESCALATED:
            ticket = task.external_refs.get("jira") or "its ticket"
            await set_task_state(session, request, task, TaskState.COMPLETED,
                                 reason=f"done by hand ({ticket})")  # fmt: skip
    reason = "completed by hand" + (f": {comment}" if comment else "")
    await set_request_state(
        session, request, RequestState.COMPLETED, principal, reason=reason, error=None
    )
    await secrets.forget(session, owner_type="request", owner_id=request.id)
    return request


# --- 1. the snapshot ------------------------------------------------------------------


async def _snapshot(
    session: AsyncSession, runtime: Runtime, principal: Principal, request_id: uuid.UUID
) -> _Snapshot:
    await get_request(session, principal, request_id, role=Role.OPERATOR)
    request = await lock_request(session, request_id)
    failed = _failed_task(request)
    escalated = [t for t in request.tasks if t.position >= failed.position]
    document, items = unpin(request.definition)
    own = items or ({document.metadata.id: document} if isinstance(document, CatalogItem) else {})
    failed_spec = _escalation_of(own, failed.item_id)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    jobs: list[_Job] = []
    pending: dict[str, int] = {}
    for task in escalated:
        spec = _escalation_of(own, task.item_id) or failed_spec
        run = await task_run(session, request, task, key)
        facts = _facts(task, _action_description(own, task))
        jobs.append(_Job(facts, run, target(runtime.settings, spec), dict(pending)))
        for output in task.declared_outputs:
            pending.setdefault(output, task.position + 1)
    team = await session.scalar(select(Team.name).where(Team.id == request.team_id))
    requester = jobs[0].run.requester
    who = requester.get("name") or ""
    email = requester.get("email") or ""
    failed_facts = jobs[0].facts
    case = Case(
        request_id=request.id, entry_name=request.entry_name,
        entry_version=request.entry_version, kind=request.kind, team=team or "",
        requester=f"{who} <{email}>" if who and email else (who or email or "someone"),
        escalated_by=f"{principal.name} <{principal.email}>" if principal.name
        else principal.email,
        request_url=_request_url(runtime.settings, request.id),
        tasks_total=len(request.tasks), failed=failed_facts,
        completed=[_facts(t) for t in request.tasks if t.state == TaskState.COMPLETED],
        round_label=tickets.round_label(failed_facts),
    )  # fmt: skip
    return _Snapshot(case, jobs)


def _failed_task(request: Request) -> FulfillmentTask:
    state = RequestState(request.state)
    if state == RequestState.ESCALATED:
        keys = [str(t.external_refs.get("jira")) for t in request.tasks
                if t.state == TaskState.ESCALATED]  # fmt: skip
        raise IllegalTransition(f"the request is already escalated (tickets {', '.join(keys)})")
    if state != RequestState.FAILED:
        raise IllegalTransition(f"only a failed or stuck request can be escalated (it is {state})")
    failed = next((t for t in request.tasks if t.state in _ESCALATABLE), None)
    if failed is None:
        raise Conflict("the request failed but none of its tasks did: retry or abort it")
    return failed


def target(settings: Settings, spec: Escalation | None) -> Target:
    """Where a ticket goes: the item's escalation keys, else the settings', else the
    instance's default project; UpstreamUnavailable when JIRA is not configured."""
    configured = settings.integrations.escalation
    wanted = spec or Escalation()
    try:
        name, instance = jira_instance(
            settings, wanted.instance or configured.jira_instance or None
        )
    except ActionFailed as failure:
        raise UpstreamUnavailable(f"cannot escalate: {failure.message}") from None
    project = wanted.project or configured.project or instance.default_project
    if not project:
        raise UpstreamUnavailable(
            "cannot escalate: no JIRA project to open tickets in (set "
            "LOOM_INTEGRATIONS__ESCALATION__PROJECT, the item's spec.escalation.project, "
            f"or the default_project of JIRA instance {name!r})"
        )
    return Target(name, project, wanted.issue_type or configured.issue_type or "Task")


def _escalation_of(items: dict[str, CatalogItem], item_id: str) -> Escalation | None:
    item = items.get(item_id)
    return item.spec.escalation if item is not None else None


def _action_description(items: dict[str, CatalogItem], task: FulfillmentTask) -> str:
    item = items.get(task.item_id)
    actions = item.spec.fulfillment.actions if item is not None else []
    return next((a.description for a in actions if a.id == task.action_id), "")


def _facts(task: FulfillmentTask, description: str = "") -> TaskFacts:
    return TaskFacts(
        id=task.id, position=task.position, component_id=task.component_id,
        action_id=task.action_id, action_type=task.action_type, state=task.state,
        attempts=task.attempts, description=description, error=task.error,
        finished_at=task.finished_at, outputs=dict(task.outputs),
        external_refs=dict(task.external_refs),
    )  # fmt: skip


def _request_url(settings: Settings, request_id: uuid.UUID) -> str:
    return f"{settings.server.public_url.rstrip('/')}/ui/requests/{request_id}"


# --- 2. the tickets (no transaction open) -----------------------------------------------


async def _open_tickets(runtime: Runtime, snapshot: _Snapshot, opened: list[Opened]) -> None:
    """Find or open each task's ticket in order, appending to `opened` as it goes (so
    that a failure can tell what exists already)."""
    deadline = time.monotonic() + ESCALATION_SECONDS
    http = http_clients(runtime)
    jobs = snapshot.jobs
    for number, job in enumerate(jobs):
        ctx: ActionContext[Any] = ActionContext(
            request_id=snapshot.case.request_id, task_id=job.facts.id,
            attempt=max(job.facts.attempts, 1), config=_NoConfig(), http=http,
            settings=runtime.settings, secrets=job.run.secrets,
            correlation_id=correlation_id() or job.run.correlation_id, deadline=deadline,
        )  # fmt: skip
        client = JiraClient.of(ctx, job.target.instance)
        earlier = [EarlierTicket(o.ticket.key, o.ticket.url, j.facts)
                   for o, j in zip(opened, jobs, strict=False)]  # fmt: skip
        ticket, found = await _find(client, snapshot.case, job)
        if ticket is None:
            setup = await _setup(runtime, job)
            following = len(jobs) - number - 1
            ticket = await client.create_issue(
                _fields(snapshot.case, job, setup, earlier, following, client, ctx)
            )
            ctx.log(f"escalation: opened {ticket.key} for this task: {ticket.url}")
        previous = opened[-1] if opened else None
        lines: list[str] = []
        opened.append(Opened(job.facts.id, ticket, client.name, job.target.project, found, lines))
        if previous is not None:
            await _link(client, ctx, previous, ticket)
        lines.extend(line.message for line in ctx.lines)


async def _find(client: JiraClient, case: Case, job: _Job) -> tuple[Ticket | None, bool]:
    found = await client.search(tickets.search_jql(case, job.facts), ["summary"])
    if not found:
        return None, False
    keys = [str(issue["key"]) for issue in found]
    if len(keys) > 1:
        client.ctx.log(f"escalation: several tickets for this task ({', '.join(keys)}); "
                       f"using {keys[0]}", "warning")  # fmt: skip
    ticket = Ticket(keys[0], str(found[0].get("id") or ""), client.browse_url(keys[0]))
    client.ctx.log(f"escalation: found {ticket.key}, opened by an earlier run: not opening "
                   "another")  # fmt: skip
    return ticket, True


async def _setup(runtime: Runtime, job: _Job) -> Setup:
    """The task's config resolved as the worker resolves it (or as written, with why)."""
    rendered = await render_task(runtime, job.run, job.pending)
    if isinstance(rendered, ActionOutcome):
        return Setup(job.run.config, job.run.inputs, error=rendered.error or "unknown error")
    return Setup(rendered.value, dict(rendered.variables.current), rendered.notes)


def _fields(
    case: Case,
    job: _Job,
    setup: Setup,
    earlier: Sequence[EarlierTicket],
    following: int,
    client: JiraClient,
    ctx: ActionContext[Any],
) -> dict[str, Any]:
    description = tickets.description(
        case, job.facts, setup, earlier, following, ctx.mask, client.instance.api_version
    )
    return {
        "project": {"key": job.target.project},
        "issuetype": {"name": job.target.issue_type},
        "summary": tickets.summary(case, job.facts),
        "labels": tickets.labels(case, job.facts),
        "description": description,
    }


async def _link(
    client: JiraClient, ctx: ActionContext[Any], previous: Opened, ticket: Ticket
) -> None:
    if previous.instance != client.name:
        ctx.log(f"escalation: {ticket.key} not linked to {previous.ticket.key}: it is on JIRA "
                f"instance {previous.instance!r}")  # fmt: skip
        return
    await client.link_blocks(previous.ticket.key, ticket.key)
    ctx.log(f"escalation: {previous.ticket.key} blocks {ticket.key}")


def _upstream_error(
    failure: ActionFailed, opened: Sequence[Opened]
) -> UpstreamFailed | UpstreamUnavailable:
    keys = ", ".join(o.ticket.key for o in opened)
    so_far = (f"the tickets opened so far ({keys}) instead of opening them" if opened
              else "any ticket opened so far instead of opening it")  # fmt: skip
    after = (f"; nothing was recorded, the request is still failed, and the next "
             f"escalation finds {so_far} again")  # fmt: skip
    status = _STATUS.search(failure.message)
    if status is not None:
        return UpstreamFailed(f"JIRA answered {status.group(1)}, the escalation stopped: "
                              f"{failure.message}{after}")  # fmt: skip
    return UpstreamUnavailable(f"JIRA could not be reached, the escalation stopped: "
                               f"{failure.message}{after}")  # fmt: skip


# --- 3. the record (one transaction) ----------------------------------------------------


async def _record(
    session: AsyncSession, principal: Principal, snapshot: _Snapshot, opened: Sequence[Opened]
) -> Request:
    case = snapshot.case
    request = await lock_request(session, case.request_id)
    by_id = {t.id: t for t in request.tasks}
    keys = ", ".join(o.ticket.key for o in opened)
    if not _unchanged(request, snapshot):
        raise Conflict(f"the request changed while its tickets were opened (it is "
                       f"{request.state} now); tickets {keys} stay in JIRA, and escalating "
                       "the same failure again finds them")  # fmt: skip
    for ticket in opened:
        task = by_id[ticket.task_id]
        for line in ticket.lines:
            log_line(session, request.id, line, task_id=task.id)
        refs = {**task.external_refs, "jira": ticket.ticket.key, "url": ticket.ticket.url,
                "jira_instance": ticket.instance}  # fmt: skip
        how = "found again" if ticket.found_again else "opened"
        await set_task_state(session, request, task, TaskState.ESCALATED,
                             reason=f"escalated to {ticket.ticket.key} ({how})",
                             external_refs=refs)  # fmt: skip
    await audit.record(
        session, org_id=request.org_id, actor=principal, action="request.escalate",
        target_type="request", target_id=request.id, team_id=request.team_id,
        after={"label": case.round_label, "tickets": [
            {"task": by_id[o.task_id].position + 1, "action": by_id[o.task_id].action_id,
             "key": o.ticket.key, "url": o.ticket.url, "instance": o.instance,
             "project": o.project, "found_again": o.found_again} for o in opened]},
    )  # fmt: skip
    await set_request_state(session, request, RequestState.ESCALATED, principal,
                            reason=f"escalated to JIRA: {keys}")  # fmt: skip
    return request


def _unchanged(request: Request, snapshot: _Snapshot) -> bool:
    """Whether the request is still as the snapshot saw it (nobody retried or aborted
    it meanwhile)."""
    if request.state != RequestState.FAILED:
        return False
    by_id = {t.id: t for t in request.tasks}
    failed, *later = snapshot.jobs
    task = by_id.get(failed.facts.id)
    if task is None or task.state not in _ESCALATABLE or task.attempts != failed.facts.attempts:
        return False
    return all(by_id[j.facts.id].state == j.facts.state for j in later)
