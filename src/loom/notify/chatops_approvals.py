"""ChatOps commands on request approvals: `approve <request> [comment]`, `reject <request>
<reason>`, and the Approve button of Loom's approval messages in Slack.

They decide through `provisioning.approvals.decide`, as `POST /requests/{id}/approve`
does, so the same people may decide (eligible approvers, never the requester, once
each) and the audit entry says from which chat and by whom. What the service refuses
becomes a sentence, and nothing is changed. A request is named as the API names it (its
id) or as Loom's messages do ("request 1a2b3c4d": eight or more leading hex digits of its
id, unique among the organisation's approvals).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.errors import Conflict, Forbidden, NotFound
from loom.provisioning import approvals
from loom.provisioning.models import Request, TaskWait

if TYPE_CHECKING:
    from loom.notify.chatops import Caller

#: The fewest hex digits that name a request (what Loom's messages show).
MIN_PREFIX = 8
#: As long as the API's `comment`.
COMMENT_MAX = 2000
_HEX = frozenset("0123456789abcdef")


async def approve(session: AsyncSession, who: Caller, args: list[str]) -> str:
    """`approve <request> [comment]`."""
    return await _decide(session, who, args, "approve")


async def reject(session: AsyncSession, who: Caller, args: list[str]) -> str:
    """`reject <request> <reason>`: a rejection always says why (the request fails with it)."""
    return await _decide(session, who, args, "reject")


async def _decide(
    session: AsyncSession, who: Caller, args: list[str], decision: approvals.Decision
) -> str:
    if args and args[0].lower() == "request":  # "approve request 1a2b3c4d", as messages say
        args = args[1:]
    reason = " <reason>" if decision == "reject" else " [comment]"
    if not args:
        return f"Which request? e.g. `{who.prefix} {decision} 1a2b3c4d{reason}`"
    ref, comment = args[0], " ".join(args[1:]).strip()
    if decision == "reject" and not comment:
        return (f"Please say why: `{who.prefix} reject {ref} <reason>` (the requester sees "
                "it). Nothing was done.")  # fmt: skip
    if len(comment) > COMMENT_MAX:
        return f"That comment is over {COMMENT_MAX} characters. Nothing was done."
    assert who.principal is not None
    if who.enqueue is None:  # only an endpoint, which knows the runtime, can queue tasks
        return "Approvals cannot be decided from here. Nothing was done."
    request_id = await find_request(session, who.principal, ref)
    if request_id is None:
        return _no_such(ref)
    try:
        async with session.begin_nested():  # a refusal leaves nothing half-done
            request = await approvals.decide(
                session, who.principal, request_id, decision, comment, who.enqueue,
                note=who.note,
            )  # fmt: skip
    except NotFound:
        return _no_such(ref)
    except (Forbidden, Conflict) as refused:
        return f"Sorry, {_sentence(refused.message)} Nothing was done."
    return _decided(request, decision, who.principal.email)


async def find_request(session: AsyncSession, principal: Principal, ref: str) -> uuid.UUID | None:
    """The request `ref` names: a full id, or a hex prefix of one that waited for an
    approval in the principal's organisation (None: none, or more than one)."""
    try:
        return uuid.UUID(ref)
    except ValueError:
        pass
    digits = ref.lower().replace("-", "")
    if not (MIN_PREFIX <= len(digits) < 32 and set(digits) <= _HEX):
        return None
    # The ids starting with `digits` form one range, in PostgreSQL's uuid order and in
    # SQLite's hex text alike, so an index serves it (no cast, no LIKE).
    low, high = uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
    found = list(await session.scalars(
        select(TaskWait.request_id).distinct()
        .where(TaskWait.org_id == principal.org_id, TaskWait.kind == approvals.KIND,
               TaskWait.request_id >= low, TaskWait.request_id <= high)
        .limit(2)
    ))  # fmt: skip
    return found[0] if len(found) == 1 else None


def _no_such(ref: str) -> str:
    return (f"No request `{ref}` waits for an approval you can see. Nothing was done. Use "
            "the id (or its first 8 characters) from the approval message.")  # fmt: skip


def _sentence(message: str) -> str:
    return message if message.endswith(".") else message + "."


def _decided(request: Request, decision: approvals.Decision, email: str) -> str:
    name = f"request {str(request.id)[:MIN_PREFIX]} ({request.entry_name})"
    if decision == "reject":
        return f"Rejected {name} ({email}): it failed, with your reason."
    if request.waiting_for:
        return f"Approved {name} ({email}); still {request.waiting_for}."
    return f"Approved {name} ({email}): it goes on."
