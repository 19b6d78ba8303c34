"""The `sql` backend's writes on SQLite: a few statements per operation, inside one
transaction. Every SQLite transaction in Loom is BEGIN IMMEDIATE, so writers are
serialised and "is the group empty, then I am its head" or "promote the next message"
cannot race: correct for one process with many concurrent consumers."""

from __future__ import annotations

import builtins
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loom.queue.models import QueueDeadLetter, QueueDedup, QueueMessage, QueueProcessed

messages = cast(Table, QueueMessage.__table__)
dead_letters = cast(Table, QueueDeadLetter.__table__)
dedup = cast(Table, QueueDedup.__table__)
processed = cast(Table, QueueProcessed.__table__)

#: Heads dead-lettered per receive at most (the rest go on the next receives).
_DEAD_LETTER_BATCH = 20


class SqliteWrites:
    """The write operations of one named queue, each run in the caller's session."""

    def __init__(self, queue: str, max_receives: int) -> None:
        self.queue = queue
        self.max_receives = max_receives

    async def send(
        self,
        session: AsyncSession,
        *,
        message_id: uuid.UUID,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None,
        sent_at: datetime,
        visible_at: datetime,
        cutoff: datetime,
    ) -> bool:
        """Insert the message; False (nothing inserted) for a dedup id seen after `cutoff`."""
        if dedup_id is not None:
            ins = sqlite_insert(dedup).values(
                queue=self.queue, dedup_id=dedup_id, message_id=message_id, sent_at=sent_at
            )
            fresh = ins.on_conflict_do_update(
                index_elements=[dedup.c.queue, dedup.c.dedup_id],
                set_={"message_id": ins.excluded.message_id, "sent_at": ins.excluded.sent_at},
                where=dedup.c.sent_at <= cutoff,
            ).returning(dedup.c.message_id)
            if (await session.execute(fresh)).first() is None:
                return False
        await self._append(
            session,
            message_id=message_id,
            group_id=group_id,
            body=body,
            dedup_id=dedup_id,
            sent_at=sent_at,
            visible_at=visible_at,
        )
        return True

    async def _append(
        self,
        session: AsyncSession,
        *,
        message_id: uuid.UUID,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None,
        sent_at: datetime,
        visible_at: datetime,
    ) -> None:
        """Insert at the tail of the group: its head if the group has no other message."""
        group_empty = not_(
            exists().where(messages.c.queue == self.queue, messages.c.group_id == group_id)
        )
        await session.execute(
            insert(messages).values(
                id=message_id,
                queue=self.queue,
                group_id=group_id,
                body=body,
                dedup_id=dedup_id,
                is_head=group_empty,
                visible_at=visible_at,
                receive_count=0,
                receipt=None,
                sent_at=sent_at,
            )
        )

    async def claim(
        self, session: AsyncSession, now: datetime, limit: int, visibility_timeout: float
    ) -> builtins.list[Any]:
        """Dead-letter exhausted heads, then claim up to `limit` visible heads (rows as
        mappings)."""
        await self._dead_letter_exhausted(session, now)
        heads = messages.alias("heads")
        candidates = (
            select(heads.c.seq)
            .where(
                heads.c.queue == self.queue,
                heads.c.is_head == true(),
                heads.c.visible_at <= now,
                heads.c.receive_count < self.max_receives,
            )
            .order_by(heads.c.visible_at, heads.c.seq)
            .limit(limit)
        )
        token = "." + secrets.token_hex(8)
        claimed = await session.execute(
            update(messages)
            .where(messages.c.seq.in_(candidates.scalar_subquery()))
            .values(
                visible_at=now + timedelta(seconds=visibility_timeout),
                receive_count=messages.c.receive_count + 1,
                receipt=sql_cast(messages.c.seq, String) + literal(token),
            )
            .returning(
                messages.c.seq,
                messages.c.id,
                messages.c.group_id,
                messages.c.body,
                messages.c.receipt,
                messages.c.receive_count,
                messages.c.sent_at,
            )
        )
        return builtins.list(claimed.mappings().all())

    async def _dead_letter_exhausted(self, session: AsyncSession, now: datetime) -> None:
        exhausted = and_(
            messages.c.queue == self.queue,
            messages.c.is_head == true(),
            messages.c.visible_at <= now,
            messages.c.receive_count >= self.max_receives,
        )
        moved = await session.execute(
            delete(messages)
            .where(
                messages.c.seq.in_(
                    select(messages.c.seq).where(exhausted).limit(_DEAD_LETTER_BATCH)
                )
            )
            .returning(
                messages.c.id,
                messages.c.group_id,
                messages.c.body,
                messages.c.dedup_id,
                messages.c.receive_count,
                messages.c.sent_at,
            )
        )
        for row in moved.all():
            await session.execute(
                insert(dead_letters).values(
                    id=row.id,
                    queue=self.queue,
                    group_id=row.group_id,
                    body=row.body,
                    dedup_id=row.dedup_id,
                    receive_count=row.receive_count,
                    sent_at=row.sent_at,
                    dead_at=now,
                )
            )
            await self._promote_next(session, row.group_id)

    async def delete(
        self, session: AsyncSession, seq: int, receipt: str, minute: datetime, shard: int
    ) -> bool:
        """Delete by receipt, promote the group's next message, count it; False if stale."""
        gone = (
            await session.execute(
                delete(messages)
                .where(
                    messages.c.seq == seq,
                    messages.c.receipt == receipt,
                    messages.c.queue == self.queue,
                )
                .returning(messages.c.group_id, messages.c.is_head)
            )
        ).first()
        if gone is None:
            return False
        if gone.is_head:
            await self._promote_next(session, gone.group_id)
        ins = sqlite_insert(processed).values(queue=self.queue, minute=minute, shard=shard, count=1)
        await session.execute(
            ins.on_conflict_do_update(
                index_elements=[processed.c.queue, processed.c.minute, processed.c.shard],
                set_={"count": processed.c.count + 1},
            )
        )
        return True

    async def extend(self, session: AsyncSession, seq: int, receipt: str, until: datetime) -> bool:
        result = await session.execute(
            update(messages)
            .where(
                messages.c.seq == seq,
                messages.c.receipt == receipt,
                messages.c.queue == self.queue,
            )
            .values(visible_at=until)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount > 0

    async def redrive(self, session: AsyncSession, message_id: uuid.UUID, now: datetime) -> bool:
        row = (
            await session.execute(
                delete(dead_letters)
                .where(dead_letters.c.id == message_id, dead_letters.c.queue == self.queue)
                .returning(dead_letters.c.group_id, dead_letters.c.body, dead_letters.c.dedup_id)
            )
        ).first()
        if row is None:
            return False
        await self._append(
            session,
            message_id=message_id,
            group_id=row.group_id,
            body=row.body,
            dedup_id=row.dedup_id,
            sent_at=now,
            visible_at=now,
        )
        return True

    async def _promote_next(self, session: AsyncSession, group_id: str) -> None:
        """The group's oldest remaining message becomes its head."""
        following = messages.alias("following")
        next_seq = (
            select(func.min(following.c.seq))
            .where(following.c.queue == self.queue, following.c.group_id == group_id)
            .scalar_subquery()
        )
        await session.execute(
            update(messages).where(messages.c.seq == next_seq).values(is_head=True)
        )
