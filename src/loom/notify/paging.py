"""Paging people from an escalation level: who the level names (users; a team's on-call,
else its members; a schedule's on-call) at the moment it fires, and each person's contact
methods (a Slack DM, an e-mail), one delivery each.

Someone without a usable contact method is mailed at their account's address through
the organisation's first enabled e-mail channel (by name); without one either, and for
a schedule with nobody on call, a `dead` row in the notification log says who could not
be paged and why: a page never vanishes silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Membership, User
from loom.notify import delivery, schedules_service
from loom.notify.kinds import AttemptStatus, ChannelKind
from loom.notify.message import IncidentMessage
from loom.notify.models import Channel, ContactMethod, Notification, Schedule
from loom.queue.protocol import Queue

_DELIVERIES = uuid.UUID("6b0e2f7a-93c4-4a1d-8e55-2c7d9f3a1b08")
#: The contact part of a delivery key for the account e-mail fallback.
_ACCOUNT = "account-email"


@dataclass
class Paging:
    """One level's pages: `key` names the level's firing (escalation, run, round, level),
    so a delivery id derives from it, the person and the contact method."""

    session: AsyncSession
    queue: Queue
    org_id: uuid.UUID
    incident_id: uuid.UUID
    message: IncidentMessage
    key: str

    async def page(self, level: dict[str, Any], now: datetime) -> int:
        """Page everyone `level` names at `now`; the deliveries queued."""
        user_ids, problems = await who(self.session, self.org_id, level, now)
        users = {
            u.id: u
            for u in await self.session.scalars(
                select(User).where(User.org_id == self.org_id, User.id.in_(user_ids))
            )
        }
        methods = await _contact_methods(self.session, self.org_id, user_ids)
        fallback = await _fallback_channel(self.session, self.org_id)
        queued = 0
        for user_id in user_ids:
            user = users.get(user_id)
            if user is None or not user.is_active:
                problems.append((str(user_id), "the account is missing or deactivated"))
                continue
            reachable = methods.get(user_id, [])
            if not reachable and fallback is not None:
                reachable = [(_ACCOUNT, fallback, user.email)]
            if not reachable:
                why = "has no contact method, and the organisation no enabled e-mail channel"
                problems.append((user.email, f"{user.email} {why}"))
            for contact, channel, address in reachable:
                sent = await delivery.enqueue(
                    self.queue, channel, self.message, session=self.session,
                    delivery_id=self._delivery_id(f"{user_id}:{contact}"),
                    recipient=delivery.Recipient(address=address, person=user.email),
                )  # fmt: skip
                queued += sent is not None
        for target, error in problems:
            await self._unreachable(target, error)
        return queued

    def _delivery_id(self, suffix: str) -> uuid.UUID:
        return uuid.uuid5(_DELIVERIES, f"{self.key}:{suffix}")

    async def _unreachable(self, target: str, error: str) -> None:
        """A dead row saying who could not be paged (once, should the timer run twice)."""
        delivery_id = self._delivery_id(f"unreachable:{target}")
        if await self.session.scalar(
            select(Notification.id).where(Notification.delivery_id == delivery_id)
        ):
            return
        self.session.add(
            Notification(
                org_id=self.org_id, delivery_id=delivery_id, channel_name="(nobody)",
                channel_kind="", incident_id=self.incident_id, event=self.message.event.value,
                event_at=self.message.at, target=target[:500],
                status=AttemptStatus.DEAD.value, error=error,
            )
        )  # fmt: skip


async def who(
    session: AsyncSession, org_id: uuid.UUID, level: dict[str, Any], now: datetime
) -> tuple[list[uuid.UUID], list[tuple[str, str]]]:
    """The users `level` pages at `now` (in the level's order, each once), and what went
    wrong: (target, reason) pairs, e.g. a schedule with nobody on call."""
    found: list[uuid.UUID] = [uuid.UUID(u) for u in level.get("user_ids", [])]
    problems: list[tuple[str, str]] = []
    for team_id in (uuid.UUID(t) for t in level.get("team_ids", [])):
        found += await _team(session, org_id, team_id, now)
    schedule_ids = [uuid.UUID(s) for s in level.get("schedule_ids", [])]
    if schedule_ids:
        schedules = await session.scalars(
            select(Schedule).where(Schedule.org_id == org_id, Schedule.id.in_(schedule_ids))
        )
        for schedule in schedules:
            person = await on_call(session, schedule, now)
            if person is None:
                problems.append((f"schedule {schedule.name}", "nobody is on call"))
            else:
                found.append(person)
    return list(dict.fromkeys(found)), problems


async def on_call(session: AsyncSession, schedule: Schedule, at: datetime) -> uuid.UUID | None:
    """Who is on call in `schedule` at `at` (None: nobody)."""
    shift = await schedules_service.shift_at(session, schedule, at)
    return shift.user_id if shift else None


async def _team(
    session: AsyncSession, org_id: uuid.UUID, team_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """Who is on call in the team's schedules, if anyone; else every member (a team
    without a rota is paged whole)."""
    schedules = await session.scalars(
        select(Schedule)
        .where(Schedule.org_id == org_id, Schedule.team_id == team_id)
        .order_by(Schedule.name)
    )
    found = [person for s in schedules if (person := await on_call(session, s, now))]
    if found:
        return found
    members = await session.scalars(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.team_id == team_id, User.org_id == org_id, User.is_active.is_(True))
        .order_by(User.email)
    )
    return list(members)


async def _contact_methods(
    session: AsyncSession, org_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, Channel, str]]]:
    """Each user's usable contact methods (their channel enabled), in order: (contact
    id, channel, address)."""
    rows = await session.execute(
        select(ContactMethod, Channel)
        .join(Channel, Channel.id == ContactMethod.channel_id)
        .where(ContactMethod.org_id == org_id, ContactMethod.user_id.in_(list(user_ids)),
               Channel.enabled.is_(True))
        .order_by(ContactMethod.position, ContactMethod.created_at)
    )  # fmt: skip
    out: dict[uuid.UUID, list[tuple[str, Channel, str]]] = {}
    for method, channel in rows:
        out.setdefault(method.user_id, []).append((str(method.id), channel, method.address))
    return out


async def _fallback_channel(session: AsyncSession, org_id: uuid.UUID) -> Channel | None:
    """The organisation's first enabled e-mail channel (by name), for people without a
    contact method."""
    found: Channel | None = await session.scalar(
        select(Channel)
        .where(Channel.org_id == org_id, Channel.team_id.is_(None),
               Channel.kind == ChannelKind.EMAIL.value, Channel.enabled.is_(True))
        .order_by(Channel.name)
        .limit(1)
    )  # fmt: skip
    return found
