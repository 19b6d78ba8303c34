"""Approvals: who may decide a waiting `approval` task, their decisions, and the list of
approvals awaiting someone.

Eligible approvers are the members of a named team holding at least its minimum role
(a team membership: an organisation admin is not a member of every team here), and the
people named by email. Nobody decides on their own request, and each person decides
once. One rejection fails the task with its comment (a retry asks again, from zero);
`required` approvals complete it. Every decision is audited and logged to the task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.actions.approval import KIND, approvers_text, waiting_reason
from loom.audit import service as audit
from loom.auth.models import Team, User
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import Conflict, Forbidden, NotFound
from loom.provisioning import waits
from loom.provisioning.models import (
    ApprovalDecision,
    FulfillmentTask,
    Request,
    TaskWait,
    WaitApprover,
)
from loom.provisioning.transitions import lock_request, log_line

if TYPE_CHECKING:
    from loom.provisioning.service import Enqueue

__all__ = [
    "KIND", "Decision", "awaits_decision", "decide", "opened", "pending_query", "summaries"
]  # fmt: skip

AUTO_APPROVE = audit.Actor.system("auto-approve")
Decision = Literal["approve", "reject"]


async def opened(
    session: AsyncSession, request: Request, task: FulfillmentTask, row: TaskWait, enqueue: Enqueue
) -> None:
    """Right after an approval wait is stored: complete it if `autoApproveIf` was true,
    else record who may decide (a team that does not exist fails the task)."""
    spec = row.state
    if spec.get("autoApproved"):
        await audit.record(
            session, org_id=request.org_id, actor=AUTO_APPROVE, action="request.auto_approve",
            target_type="request", target_id=request.id, team_id=request.team_id,
            after={"task": task.action_id, "decision": "auto-approved", "by": "autoApproveIf"},
        )  # fmt: skip
        await waits.complete_wait(session, request, task, enqueue, AUTO_APPROVE,
                                  external_refs={"approval": "auto-approved"},
                                  reason="auto-approved")  # fmt: skip
        return
    slugs = [t["team"] for t in spec.get("teams", [])]
    found = dict(
        (await session.execute(
            select(Team.slug, Team.id).where(Team.org_id == request.org_id, Team.slug.in_(slugs))
        )).all()
    )  # fmt: skip
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        error = f"approval: no team {', '.join(missing)} in this organisation"
        await waits.fail_wait(session, request, task, error, AUTO_APPROVE)
        return
    for team in spec.get("teams", []):
        role = Role.parse(team.get("minRole", "operator"))
        session.add(WaitApprover(wait_id=row.id, team_id=found[team["team"]], min_role=int(role)))
    for email in spec.get("users", []):
        session.add(WaitApprover(wait_id=row.id, email=email))
    await session.flush()


def _eligible(principal: Principal) -> Any:
    """SQL: a WaitApprover row that lets `principal` decide."""
    by_team = [
        and_(WaitApprover.team_id == team_id, WaitApprover.min_role <= int(role))
        for team_id, role in principal.team_roles.items()
    ]
    return or_(WaitApprover.email == principal.email.lower(), *by_team)


async def _is_eligible(session: AsyncSession, principal: Principal, wait_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(exists().where(WaitApprover.wait_id == wait_id, _eligible(principal)))
    )
    return bool(found)


async def decide(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    decision: Decision,
    comment: str,
    enqueue: Enqueue,
    *,
    note: str | None = None,
) -> Request:
    """Record `principal`'s decision on the approval the request waits for; enough
    approvals complete the task, a rejection fails it. `note` says where it came from
    ("from Slack by <@U0123>"), in the audit entry and the request's log."""
    request = await lock_request(session, request_id)
    if request.org_id != principal.org_id:
        raise NotFound("request not found")
    # Its latest approval, open or not: who could decide it may learn it is over.
    row = await session.scalar(
        select(TaskWait)
        .where(TaskWait.request_id == request.id, TaskWait.kind == KIND)
        .order_by(TaskWait.created_at.desc())
        .limit(1)
    )
    eligible = row is not None and await _is_eligible(session, principal, row.id)
    if not (principal.can_see_team(request.team_id) or eligible):
        raise NotFound("request not found")
    task = next((t for t in request.tasks if row is not None and t.id == row.task_id), None)
    if row is None or task is None or row.completed_at is not None:
        raise Conflict(f"this request is not waiting for an approval (it is {request.state})")
    if request.requester_id == principal.user_id:
        raise Forbidden("you cannot approve or reject your own request")
    if not eligible:
        who = approvers_text(row.state.get("teams", []), row.state.get("users", []))
        raise Forbidden(f"only {who} may decide this approval (teams: at their minimum role)")
    earlier = await session.scalar(
        select(ApprovalDecision.decision).where(
            ApprovalDecision.wait_id == row.id, ApprovalDecision.user_id == principal.user_id
        )
    )
    if earlier is not None:
        raise Conflict(f"you already decided this approval ({earlier}d)")
    session.add(ApprovalDecision(
        wait_id=row.id, request_id=request.id, user_id=principal.user_id, email=principal.email,
        decision=decision, comment=comment,
    ))  # fmt: skip
    after = {"task": task.action_id, "comment": comment} | ({"note": note} if note else {})
    await audit.record(
        session, org_id=request.org_id, actor=principal, action=f"request.{decision}",
        target_type="request", target_id=request.id, team_id=request.team_id, after=after,
    )  # fmt: skip
    said = f": {comment}" if comment else ""
    where = f" ({note})" if note else ""
    log_line(session, request.id, f"{decision}d by {principal.email}{where}{said}",
             task_id=task.id)  # fmt: skip
    if decision == "reject":
        await waits.fail_wait(session, request, task, f"rejected by {principal.email}{said}",
                              principal)  # fmt: skip
        return request
    approvers = await _approvers(session, row.id)
    required = int(row.state.get("required", 1))
    if len(approvers) >= required:
        await waits.complete_wait(session, request, task, enqueue, principal,
                                  external_refs={"approved_by": ", ".join(approvers)},
                                  reason=f"approved by {', '.join(approvers)}")  # fmt: skip
    else:
        row.reason = request.waiting_for = waiting_reason(row.state, len(approvers))
    await session.flush()
    return request


async def _approvers(session: AsyncSession, wait_id: uuid.UUID) -> list[str]:
    await session.flush()
    rows = await session.scalars(
        select(ApprovalDecision.email)
        .where(ApprovalDecision.wait_id == wait_id, ApprovalDecision.decision == "approve")
        .order_by(ApprovalDecision.at)
    )
    return list(rows.all())


def pending_query(principal: Principal, mine: bool) -> Select[Any]:
    """Open approvals: with `mine`, those `principal` may decide and has not (never their
    own requests); else every one they can see (their teams' requests, or all for an
    organisation admin, and those they may decide)."""
    may_decide = exists().where(WaitApprover.wait_id == TaskWait.id, _eligible(principal))
    stmt = (
        select(TaskWait)
        .join(Request, Request.id == TaskWait.request_id)
        .where(
            TaskWait.org_id == principal.org_id,
            TaskWait.kind == KIND,
            TaskWait.completed_at.is_(None),
        )
    )
    if mine:
        decided = exists().where(
            ApprovalDecision.wait_id == TaskWait.id, ApprovalDecision.user_id == principal.user_id
        )
        return stmt.where(may_decide, ~decided, Request.requester_id != principal.user_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(or_(Request.team_id.in_(principal.team_ids), may_decide))


async def awaits_decision(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> bool:
    """Whether the request waits for `principal`'s decision (as `pending_query` lists)."""
    stmt = pending_query(principal, mine=True).where(TaskWait.request_id == request_id)
    return await session.scalar(stmt.with_only_columns(TaskWait.id).limit(1)) is not None


@dataclass(frozen=True)
class Summary:
    """An open approval as its list shows it."""

    wait: TaskWait
    request: Request
    task: FulfillmentTask
    requester_email: str
    decisions: list[ApprovalDecision]


async def summaries(session: AsyncSession, rows: list[TaskWait]) -> list[Summary]:
    """What the approvals list shows of each wait: its request, task, requester and the
    decisions so far (four queries for a page, whatever its size)."""
    if not rows:
        return []
    request_ids = [row.request_id for row in rows]
    requests = {
        r.id: r for r in (await session.scalars(select(Request).where(Request.id.in_(request_ids))))
    }
    tasks = {
        t.id: t
        for t in await session.scalars(
            select(FulfillmentTask).where(FulfillmentTask.id.in_([r.task_id for r in rows]))
        )
    }
    emails = dict(
        (await session.execute(
            select(User.id, User.email).where(
                User.id.in_({r.requester_id for r in requests.values()})
            )
        )).all()
    )  # fmt: skip
    decisions: dict[uuid.UUID, list[ApprovalDecision]] = {row.id: [] for row in rows}
    for d in await session.scalars(
        select(ApprovalDecision)
        .where(ApprovalDecision.wait_id.in_(list(decisions)))
        .order_by(ApprovalDecision.at)
    ):
        decisions[d.wait_id].append(d)
    return [
        Summary(
            row,
            requests[row.request_id],
            tasks[row.task_id],
            emails.get(requests[row.request_id].requester_id, ""),
            decisions[row.id],
        )
        for row in rows
    ]
