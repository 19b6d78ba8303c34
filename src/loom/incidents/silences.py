"""Silences: label matchers over a time range. An alert that a silence matches when it
is first stored is kept, with the silence's id, but opens, joins and notifies nothing.

Matchers follow Alertmanager's: `=` and `!=` compare the label's value (a missing label
is the empty string), `=~` and `!~` match a regular expression against the whole value.
Expiring a silence ends it now; nothing is deleted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import InvalidInput, NotFound
from loom.incidents import silence_schemas as schemas
from loom.incidents.models import Silence
from loom.incidents.responders import require_responder


@dataclass(frozen=True)
class CompiledMatcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.pattern is not None:
            found = self.pattern.fullmatch(actual) is not None
            return found if self.op == "=~" else not found
        return (actual == self.value) if self.op == "=" else (actual != self.value)


@dataclass(frozen=True)
class ActiveSilence:
    """A silence ready to test labels against (its regexes compiled once)."""

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    matchers: tuple[CompiledMatcher, ...]

    def matches(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at and all(
            m.matches(labels) for m in self.matchers
        )


def compile_matchers(raw: Sequence[Mapping[str, Any]]) -> tuple[CompiledMatcher, ...]:
    """Compiled matchers; a bad regex is a 422 naming `matchers[i].value`."""
    out = []
    for index, matcher in enumerate(raw):
        op = matcher.get("op", "=")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(matcher["value"])
            except re.error as exc:
                raise InvalidInput.on(
                    f"matchers[{index}].value", f"not a valid regular expression: {exc}"
                ) from None
        out.append(CompiledMatcher(matcher["name"], op, matcher["value"], pattern))
    return tuple(out)


def matching_silence(
    silences: Sequence[ActiveSilence], labels: Mapping[str, str], now: datetime
) -> uuid.UUID | None:
    """The id of the first silence that silences `labels` at `now`, if any."""
    return next((s.id for s in silences if s.matches(labels, now)), None)


async def active_silences(
    session: AsyncSession, org_id: uuid.UUID, now: datetime
) -> list[ActiveSilence]:
    """The organisation's silences in force at `now`, compiled (one query)."""
    rows = await session.scalars(
        select(Silence).where(
            Silence.org_id == org_id, Silence.starts_at <= now, Silence.ends_at > now
        )
    )
    out = []
    for row in rows:
        try:
            out.append(
                ActiveSilence(row.id, row.starts_at, row.ends_at, compile_matchers(row.matchers))
            )
        except InvalidInput:
            continue  # validated on create; a stored bad regex silences nothing
    return out


def state_of(silence: Silence, now: datetime) -> schemas.SilenceState:
    if silence.ends_at <= now:
        return schemas.SilenceState.EXPIRED
    if silence.starts_at > now:
        return schemas.SilenceState.PENDING
    return schemas.SilenceState.ACTIVE


def silence_out(silence: Silence, now: datetime) -> schemas.Silence:
    return schemas.Silence(
        id=silence.id, matchers=[schemas.Matcher(**m) for m in silence.matchers],
        starts_at=silence.starts_at, ends_at=silence.ends_at, comment=silence.comment,
        created_by=silence.created_by, state=state_of(silence, now),
        created_at=silence.created_at,
    )  # fmt: skip


async def create_silence(
    session: AsyncSession, principal: Principal, body: schemas.SilenceCreate, now: datetime
) -> Silence:
    """Make a silence (operators and up)."""
    require_responder(principal)  # the organisation's silences: any responder
    matchers = [m.model_dump() for m in body.matchers]
    compile_matchers(matchers)
    starts_at = body.starts_at or now
    if body.ends_at <= starts_at:
        raise InvalidInput.on("ends_at", "must be after starts_at")
    if body.ends_at <= now:
        raise InvalidInput.on("ends_at", "must be in the future")
    silence = Silence(
        org_id=principal.org_id, matchers=matchers, starts_at=starts_at, ends_at=body.ends_at,
        comment=body.comment, created_by=principal.email,
    )  # fmt: skip
    session.add(silence)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="silence.create",
        target_type="silence", target_id=silence.id,
        after={"matchers": matchers, "starts_at": starts_at.isoformat(),
               "ends_at": body.ends_at.isoformat(), "comment": body.comment},
    )  # fmt: skip
    return silence


async def get_silence(
    session: AsyncSession, principal: Principal, silence_id: uuid.UUID
) -> Silence:
    found = await session.scalar(
        select(Silence).where(Silence.org_id == principal.org_id, Silence.id == silence_id)
    )
    if found is None:
        raise NotFound(f"silence '{silence_id}' not found")
    return found


async def expire_silence(
    session: AsyncSession, principal: Principal, silence_id: uuid.UUID, now: datetime
) -> Silence:
    """End a silence now (operators and up); an expired one stays as it was."""
    require_responder(principal)  # the organisation's silences: any responder
    silence = await get_silence(session, principal, silence_id)
    if silence.ends_at <= now:
        return silence
    before = silence.ends_at
    silence.ends_at = now
    if silence.starts_at > now:
        silence.starts_at = now
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="silence.expire",
        target_type="silence", target_id=silence.id,
        before={"ends_at": before.isoformat()}, after={"ends_at": now.isoformat()},
    )  # fmt: skip
    return silence


def silences_query(
    principal: Principal, state: schemas.SilenceState | None, now: datetime
) -> Select[Any]:
    stmt = select(Silence).where(Silence.org_id == principal.org_id)
    if state is schemas.SilenceState.ACTIVE:
        stmt = stmt.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state is schemas.SilenceState.PENDING:
        stmt = stmt.where(Silence.starts_at > now)
    elif state is schemas.SilenceState.EXPIRED:
        stmt = stmt.where(Silence.ends_at <= now)
    return stmt
