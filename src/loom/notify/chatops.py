"""ChatOps commands, whatever the chat: `incidents`, `incident INC-42`, `ack INC-42`,
`resolve INC-42`, `oncall [schedule]`, `approve <request> [comment]`, `reject <request>
<reason>` (in `chatops_approvals`), `help` (`run` answers "not available yet").

A provider module (`chatops_slack`, `chatops_teams`) checks that a request comes from a
registered workspace, tells who the person is in Loom (a `Caller`) and formats the
answer; the commands here act through the same service functions and roles as the API,
and the audit entries of their actions say from which chat and by whom.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import LoomError
from loom.incidents import lifecycle
from loom.incidents.kinds import OPEN, IncidentStatus
from loom.incidents.models import Incident
from loom.incidents.queries import get_incident
from loom.notify import chatops_approvals, schedules_service
from loom.notify.models import ChatWorkspace, Schedule

if TYPE_CHECKING:
    from loom.provisioning.service import Enqueue

SECRET_OWNER = "chat_workspace"  # noqa: S105 - the owner type of its secrets


@dataclass(frozen=True)
class Caller:
    """A person in a chat, and who they are in Loom (None: unknown, nothing is done)."""

    workspace: ChatWorkspace
    principal: Principal | None
    #: Where their actions came from, for the audit entry ("from Slack by <@U0OPS>").
    note: str
    #: What they are told when `principal` is None.
    refusal: str
    #: How they call Loom in this chat, for the examples in answers.
    prefix: str = "/loom"
    #: How a task that may now go on is queued (an approval let it): set by the endpoint,
    #: which knows the runtime.
    enqueue: Enqueue | None = None


Handler = Callable[[AsyncSession, Caller, list[str]], Awaitable[str]]


async def run_command(session: AsyncSession, who: Caller, text: str) -> str:
    """The answer to `<prefix> <text>`; an action is done only for a known person with
    the role it needs."""
    words = text.split()
    name, args = (words[0].lower(), words[1:]) if words else ("help", [])
    handler = COMMANDS.get(name)
    if handler is None:
        return f"Unknown command `{name}`. {help_text(who.prefix)}"
    if who.principal is None:
        return who.refusal
    try:
        return await handler(session, who, args)
    except LoomError as error:
        return f"Sorry, that did not work: {error}"


async def acknowledge(session: AsyncSession, who: Caller, ref: str) -> str:
    """The Acknowledge button of a Loom message: the same as `ack <ref>`."""
    return await run_command(session, who, f"ack {ref}")


async def approve(session: AsyncSession, who: Caller, request_id: str) -> str:
    """The Approve button of an approval message: the same as `approve <request id>`."""
    return await run_command(session, who, f"approve {request_id}")


def help_text(prefix: str) -> str:
    return (f"Try `{prefix} incidents`, `{prefix} incident INC-42`, `{prefix} ack INC-42`, "
            f"`{prefix} resolve INC-42`, `{prefix} oncall [schedule]`, "
            f"`{prefix} approve <request> [comment]`, "
            f"`{prefix} reject <request> <reason>`.")  # fmt: skip


async def _status(session: AsyncSession, who: Caller, args: list[str], new: IncidentStatus) -> str:
    if not args:
        return f"Which incident? e.g. `{who.prefix} ack INC-42`"
    assert who.principal is not None
    incident = await lifecycle.change_status(
        session, who.principal, _ref(args[0]), new, note=who.note
    )
    return f"INC-{incident.number} is {incident.status} ({who.principal.email})."


def _ref(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


async def _ack(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return await _status(session, who, args, IncidentStatus.ACKNOWLEDGED)


async def _resolve(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return await _status(session, who, args, IncidentStatus.RESOLVED)


async def _incidents(session: AsyncSession, who: Caller, args: list[str]) -> str:
    assert who.principal is not None
    found = list(await session.scalars(
        select(Incident).where(Incident.org_id == who.principal.org_id,
                               Incident.status.in_([s.value for s in OPEN]))
        .order_by(Incident.number.desc()).limit(20)
    ))  # fmt: skip
    if not found:
        return "No open incident."
    return "\n".join(f"• INC-{i.number} [{i.severity}] {i.status}: {i.title}" for i in found)


async def _incident(session: AsyncSession, who: Caller, args: list[str]) -> str:
    if not args:
        return f"Which incident? e.g. `{who.prefix} incident INC-42`"
    assert who.principal is not None
    i = await get_incident(session, who.principal, _ref(args[0]))
    return (f"INC-{i.number} [{i.severity}] {i.status}: {i.title}\n"
            f"{i.alert_count} alerts ({i.firing_count} firing)")  # fmt: skip


async def _oncall(session: AsyncSession, who: Caller, args: list[str]) -> str:
    assert who.principal is not None
    stmt = schedules_service.list_query(who.principal)
    if args:
        stmt = stmt.where(Schedule.name == args[0])
    lines = []
    for schedule in await session.scalars(stmt.order_by(Schedule.name)):
        now = await schedules_service.on_call(session, schedule, utcnow())
        lines.append(f"• {schedule.name}: {now.shift.user if now.shift else 'nobody'}")
    return "\n".join(lines) or "No on-call schedule."


async def _later(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return "Not available from the chat yet: use the portal or `loom` for now."


async def _help(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return help_text(who.prefix)


COMMANDS: dict[str, Handler] = {
    "help": _help, "incidents": _incidents, "incident": _incident, "ack": _ack,
    "resolve": _resolve, "oncall": _oncall, "run": _later,
    "approve": chatops_approvals.approve, "reject": chatops_approvals.reject,
}  # fmt: skip
