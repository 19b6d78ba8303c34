"""The `sql` queue backend: FIFO message groups in tables of Loom's own database.

How the rules of `loom.queue.protocol` are kept (tables in `loom.queue.models`):

* Order. `seq` increases with every insert. The oldest live message of each group is
  its *head* (`is_head`); only heads are ever delivered, and a head keeps that mark until
  it is deleted or dead-lettered, when the next message of its group (lowest `seq`)
  inherits it. So a group has at most one message in flight, in send order.
* Claiming. `receive` takes up to `max_messages` heads whose `visible_at` has passed,
  oldest visibility first, moves their `visible_at` to the end of the visibility timeout
  and stamps a new receipt, in one UPDATE over the partial index of heads. On PostgreSQL
  the candidate rows are locked `FOR UPDATE SKIP LOCKED`, so any number of processes
  claim concurrently without waiting for, or double-claiming, each other's rows. On
  SQLite every transaction is BEGIN IMMEDIATE: claims are serialised, which is correct for
  one process with many concurrent consumers.
* Group lock. Whoever appends to a group or removes its head (send, delete,
  dead-lettering, redrive) first takes a transaction-scoped advisory lock on the group on
  PostgreSQL, so "is the group empty, then I am the head" and "promote the next message"
  never race, and `seq` order within a group is commit order. A sender holds that lock
  until its transaction ends: send late in a long transaction. Dead-lettering only *tries*
  the lock, so a consumer never waits on a lock while holding claimed rows.
* Dead letters. A head received MAX_RECEIVES times that comes due again is moved to
  `queue_dead_letters` by the next `receive` instead of being delivered, and the next
  message of its group becomes the head.
* Dedup. `queue_dedup` keeps each dedup id with its send time; an upsert that only
  overwrites rows older than DEDUP_WINDOW decides "new" (a row comes back) or
  "duplicate" (none does), atomically under concurrency. Rows are purged after the window.
* Time. Every timestamp comes from the injected `now` clock (tests travel in time with
  it); processes are assumed NTP-synchronised to well under a visibility timeout.
"""

from __future__ import annotations

import builtins
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    select,
    text,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.api.pagination import PageParams, paginate
from loom.db.types import utcnow
from loom.errors import InvalidInput, NotFound
from loom.queue.errors import StaleReceipt
from loom.queue.models import QueueDeadLetter, QueueDedup, QueueMessage, QueueProcessed
from loom.queue.protocol import (
    DEDUP_WINDOW,
    MAX_RECEIVES,
    RATE_WINDOW_MINUTES,
    DeadLetter,
    Message,
    MessageInfo,
    MessageState,
    QueuePage,
    QueueStats,
)

_messages = cast(Table, QueueMessage.__table__)
_dead = cast(Table, QueueDeadLetter.__table__)
_dedup = cast(Table, QueueDedup.__table__)
_processed = cast(Table, QueueProcessed.__table__)

_MAX_GROUP_ID = 128
_MAX_DEDUP_ID = 128
#: Deletions are counted in this many rows per minute, to spread concurrent updates.
_COUNTER_SHARDS = 8
#: Heads dead-lettered per receive at most (the rest go on the next receives).
_DEAD_LETTER_BATCH = 20
#: How long per-minute deletion counts are kept.
_COUNTS_KEPT = timedelta(hours=1)
_GROUP_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"
_GROUP_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"
#: The group lock of the message a receipt names (the key spelt as `_lock_key` does).
_RECEIPT_GROUP_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('loom.queue:' || queue || ':' || group_id, 0))"
    " FROM queue_messages WHERE seq = :seq AND receipt = :receipt AND queue = :queue"
)


class SqlQueue:
    """One named queue in Loom's database (see the module docstring for how it works).

    `now` is the clock (inject one to travel in time in tests); `purge_every` paces the
    removal of expired dedup ids and old deletion counts, done by `receive`.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        *,
        now: Callable[[], datetime] = utcnow,
        max_receives: int = MAX_RECEIVES,
        purge_every: timedelta = timedelta(minutes=1),
    ) -> None:
        if not 1 <= len(name) <= 80:
            raise ValueError("a queue name has 1 to 80 characters")
        self.name = name
        self._sessions = sessions
        self._now = now
        self._max_receives = max_receives
        self._purge_every = purge_every
        self._next_purge: float = 0.0

    # -- sending ------------------------------------------------------------------------

    async def send(
        self,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None = None,
        *,
        delay_seconds: float = 0,
        session: AsyncSession | None = None,
    ) -> str | None:
        """Append a message to `group_id`; its id, or None for a duplicate `dedup_id`.

        With `session`, the message is written in the caller's transaction: it exists
        exactly when that transaction commits (the state change and the message to act on
        it commit together, or neither). Without, it is sent in a short transaction of its
        own.
        """
        _check_send(group_id, body, dedup_id, delay_seconds)
        if session is not None:
            return await self._send(session, group_id, body, dedup_id, delay_seconds)
        async with self._sessions() as own, own.begin():
            return await self._send(own, group_id, body, dedup_id, delay_seconds)

    async def _send(
        self,
        session: AsyncSession,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None,
        delay_seconds: float,
    ) -> str | None:
        now = self._now()
        message_id = uuid.uuid4()
        if dedup_id is not None and not await self._remember(session, dedup_id, message_id, now):
            return None
        await self._lock_group(session, group_id)
        await self._append(
            session,
            message_id=message_id,
            group_id=group_id,
            body=body,
            dedup_id=dedup_id,
            sent_at=now,
            visible_at=now + timedelta(seconds=delay_seconds),
        )
        return str(message_id)

    async def _remember(
        self, session: AsyncSession, dedup_id: str, message_id: uuid.UUID, now: datetime
    ) -> bool:
        """Record `dedup_id` unless it was sent within DEDUP_WINDOW; False if it was."""
        ins = _dialect_insert(session)(_dedup).values(
            queue=self.name, dedup_id=dedup_id, message_id=message_id, sent_at=now
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[_dedup.c.queue, _dedup.c.dedup_id],
            set_={"message_id": ins.excluded.message_id, "sent_at": ins.excluded.sent_at},
            where=_dedup.c.sent_at <= now - DEDUP_WINDOW,
        ).returning(_dedup.c.message_id)
        return (await session.execute(stmt)).first() is not None

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
        """Insert at the tail of the group (the caller holds the group lock): the head if
        the group has no other message."""
        group_empty = not_(
            exists().where(_messages.c.queue == self.name, _messages.c.group_id == group_id)
        )
        await session.execute(
            insert(_messages).values(
                id=message_id,
                queue=self.name,
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

    # -- consuming ----------------------------------------------------------------------

    async def receive(
        self, max_messages: int = 1, visibility_timeout: float = 30.0
    ) -> builtins.list[Message]:
        """Claim up to `max_messages` visible group heads for `visibility_timeout` s."""
        if not 1 <= max_messages <= 100:
            raise InvalidInput.on("max_messages", "must be between 1 and 100")
        if visibility_timeout < 0:
            raise InvalidInput.on("visibility_timeout", "must not be negative")
        async with self._sessions() as session, session.begin():
            now = self._now()
            await self._purge_if_due(session, now)
            await self._dead_letter_exhausted(session, now)
            rows = (
                await session.execute(self._claim(session, now, max_messages, visibility_timeout))
            ).all()
        messages = [
            Message(
                id=str(r.id),
                group_id=r.group_id,
                body=r.body,
                receipt=r.receipt,
                receive_count=r.receive_count,
                sent_at=r.sent_at,
            )
            for r in sorted(rows, key=lambda r: r.seq)
        ]
        return messages

    def _claim(
        self, session: AsyncSession, now: datetime, limit: int, visibility_timeout: float
    ) -> Any:
        """UPDATE ... WHERE seq IN (visible heads, oldest first, LIMIT n [FOR UPDATE SKIP
        LOCKED]) RETURNING the claimed messages."""
        heads = _messages.alias("heads")
        candidates = (
            select(heads.c.seq)
            .where(
                heads.c.queue == self.name,
                heads.c.is_head == true(),
                heads.c.visible_at <= now,
                heads.c.receive_count < self._max_receives,
            )
            .order_by(heads.c.visible_at, heads.c.seq)
            .limit(limit)
        )
        if _is_postgres(session):
            candidates = candidates.with_for_update(skip_locked=True)
        token = "." + secrets.token_hex(8)
        return (
            update(_messages)
            .where(_messages.c.seq.in_(candidates.scalar_subquery()))
            .values(
                visible_at=now + timedelta(seconds=visibility_timeout),
                receive_count=_messages.c.receive_count + 1,
                receipt=sql_cast(_messages.c.seq, String) + literal(token),
            )
            .returning(
                _messages.c.seq,
                _messages.c.id,
                _messages.c.group_id,
                _messages.c.body,
                _messages.c.receipt,
                _messages.c.receive_count,
                _messages.c.sent_at,
            )
        )

    async def _dead_letter_exhausted(self, session: AsyncSession, now: datetime) -> None:
        """Move heads that used up their receives and came due again to the DLQ."""
        exhausted = and_(
            _messages.c.queue == self.name,
            _messages.c.is_head == true(),
            _messages.c.visible_at <= now,
            _messages.c.receive_count >= self._max_receives,
        )
        found = (
            await session.execute(
                select(_messages.c.seq, _messages.c.group_id)
                .where(exhausted)
                .order_by(_messages.c.group_id)  # one lock order for every consumer
                .limit(_DEAD_LETTER_BATCH)
            )
        ).all()
        for seq, group_id in found:
            if not await self._lock_group(session, group_id, wait=False):
                continue  # busy: the next receive will see it again
            moved = (
                await session.execute(
                    delete(_messages)
                    .where(_messages.c.seq == seq, exhausted)
                    .returning(
                        _messages.c.id,
                        _messages.c.body,
                        _messages.c.dedup_id,
                        _messages.c.receive_count,
                        _messages.c.sent_at,
                    )
                )
            ).first()
            if moved is None:
                continue  # deleted or extended meanwhile
            await session.execute(
                insert(_dead).values(
                    id=moved.id,
                    queue=self.name,
                    group_id=group_id,
                    body=moved.body,
                    dedup_id=moved.dedup_id,
                    receive_count=moved.receive_count,
                    sent_at=moved.sent_at,
                    dead_at=now,
                )
            )
            await self._promote_next(session, group_id)

    async def delete(self, receipt: str) -> None:
        """Mark the delivery named by `receipt` done, and let the next message of its group
        come forward. StaleReceipt if the message was deleted or delivered again since."""
        seq = _receipt_seq(receipt)
        async with self._sessions() as session, session.begin():
            now = self._now()
            if _is_postgres(session):
                locked = await session.execute(
                    text(_RECEIPT_GROUP_LOCK), {"seq": seq, "receipt": receipt, "queue": self.name}
                )
                if locked.first() is None:
                    raise _stale(receipt)
            gone = (
                await session.execute(
                    delete(_messages)
                    .where(
                        _messages.c.seq == seq,
                        _messages.c.receipt == receipt,
                        _messages.c.queue == self.name,
                    )
                    .returning(_messages.c.group_id, _messages.c.is_head)
                )
            ).first()
            if gone is None:
                raise _stale(receipt)
            if gone.is_head:
                await self._promote_next(session, gone.group_id)
            await self._count_processed(session, now)

    async def extend(self, receipt: str, seconds: float) -> None:
        """Keep the message invisible until `seconds` from now (a heartbeat)."""
        if seconds < 0:
            raise InvalidInput.on("seconds", "must not be negative")
        seq = _receipt_seq(receipt)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(_messages)
                .where(
                    _messages.c.seq == seq,
                    _messages.c.receipt == receipt,
                    _messages.c.queue == self.name,
                )
                .values(visible_at=self._now() + timedelta(seconds=seconds))
            )
            if _rowcount(result) == 0:
                raise _stale(receipt)

    # -- dead letters -------------------------------------------------------------------

    async def redrive(self, message_id: str) -> None:
        """Move a dead letter back to the tail of its group with its receive count reset."""
        try:
            mid = uuid.UUID(message_id)
        except ValueError:
            raise NotFound(f"no dead letter {message_id!r} in queue {self.name!r}") from None
        async with self._sessions() as session, session.begin():
            row = (
                await session.execute(
                    delete(_dead)
                    .where(_dead.c.id == mid, _dead.c.queue == self.name)
                    .returning(_dead.c.group_id, _dead.c.body, _dead.c.dedup_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no dead letter {message_id!r} in queue {self.name!r}")
            await self._lock_group(session, row.group_id)
            now = self._now()
            await self._append(
                session,
                message_id=mid,
                group_id=row.group_id,
                body=row.body,
                dedup_id=row.dedup_id,
                sent_at=now,
                visible_at=now,
            )

    # -- reading ------------------------------------------------------------------------

    async def stats(self) -> QueueStats:
        """Counts by state, the oldest message's age, deletions per minute, DLQ depth."""
        async with self._sessions() as session, session.begin():
            now = self._now()
            due = _messages.c.visible_at <= now
            received = _messages.c.receive_count > 0
            counts = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(case((due, 1), else_=0)), 0),
                        func.coalesce(func.sum(case((and_(~due, received), 1), else_=0)), 0),
                        func.min(_messages.c.sent_at),
                    ).where(_messages.c.queue == self.name)
                )
            ).one()
            dlq_depth = await session.scalar(
                select(func.count()).select_from(_dead).where(_dead.c.queue == self.name)
            )
            this_minute = _minute(now)
            first = this_minute - timedelta(minutes=RATE_WINDOW_MINUTES - 1)
            minutes = await session.execute(
                select(_processed.c.minute, func.sum(_processed.c.count))
                .where(_processed.c.queue == self.name, _processed.c.minute >= first)
                .group_by(_processed.c.minute)
            )
            per_minute = {minute: int(count) for minute, count in minutes.all()}
        depth, visible, in_flight, oldest = counts
        by_minute = [
            int(per_minute.get(first + timedelta(minutes=i), 0)) for i in range(RATE_WINDOW_MINUTES)
        ]
        return QueueStats(
            depth=depth,
            visible=int(visible),
            in_flight=int(in_flight),
            delayed=depth - int(visible) - int(in_flight),
            oldest_age_seconds=(now - oldest).total_seconds() if oldest is not None else None,
            processed_per_minute=sum(by_minute) / RATE_WINDOW_MINUTES,
            processed_by_minute=by_minute,
            dlq_depth=int(dlq_depth or 0),
        )

    async def list(
        self, group_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> QueuePage[MessageInfo]:
        """Waiting and in-flight messages in delivery order (`seq`), optionally one group."""
        stmt = select(QueueMessage).where(QueueMessage.queue == self.name)
        if group_id is not None:
            stmt = stmt.where(QueueMessage.group_id == group_id)
        async with self._sessions() as session, session.begin():
            now = self._now()
            rows, next_cursor = await paginate(
                session, stmt, [QueueMessage.seq], PageParams(limit, cursor), descending=False
            )
        return QueuePage([_info(row, now) for row in rows], next_cursor)

    async def dlq_list(self, limit: int = 50, cursor: str | None = None) -> QueuePage[DeadLetter]:
        """Dead letters in the order they died."""
        stmt = select(QueueDeadLetter).where(QueueDeadLetter.queue == self.name)
        async with self._sessions() as session, session.begin():
            rows, next_cursor = await paginate(
                session, stmt, [QueueDeadLetter.seq], PageParams(limit, cursor), descending=False
            )
        items = [
            DeadLetter(
                id=str(r.id),
                group_id=r.group_id,
                body=r.body,
                receive_count=r.receive_count,
                sent_at=r.sent_at,
                dead_at=r.dead_at,
            )
            for r in rows
        ]
        return QueuePage(items, next_cursor)

    # -- housekeeping -------------------------------------------------------------------

    async def purge(self) -> None:
        """Forget dedup ids older than DEDUP_WINDOW and deletion counts older than an hour
        (`receive` does this about once per `purge_every`)."""
        async with self._sessions() as session, session.begin():
            await self._purge(session, self._now())

    async def _purge_if_due(self, session: AsyncSession, now: datetime) -> None:
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self._purge_every.total_seconds()
            await self._purge(session, now)

    async def _purge(self, session: AsyncSession, now: datetime) -> None:
        await session.execute(
            delete(_dedup).where(
                _dedup.c.queue == self.name, _dedup.c.sent_at <= now - DEDUP_WINDOW
            )
        )
        await session.execute(
            delete(_processed).where(
                _processed.c.queue == self.name, _processed.c.minute < now - _COUNTS_KEPT
            )
        )

    async def _lock_group(self, session: AsyncSession, group_id: str, *, wait: bool = True) -> bool:
        """Take the group's advisory lock until the transaction ends (PostgreSQL; SQLite
        transactions already hold the database's write lock). False if `wait` is off and
        someone else holds it."""
        if not _is_postgres(session):
            return True
        key = {"k": _lock_key(self.name, group_id)}
        if wait:
            await session.execute(text(_GROUP_LOCK), key)
            return True
        return bool(await session.scalar(text(_GROUP_TRY_LOCK), key))

    async def _promote_next(self, session: AsyncSession, group_id: str) -> None:
        """The group's oldest remaining message becomes its head."""
        following = _messages.alias("following")
        next_seq = (
            select(func.min(following.c.seq))
            .where(following.c.queue == self.name, following.c.group_id == group_id)
            .scalar_subquery()
        )
        await session.execute(
            update(_messages).where(_messages.c.seq == next_seq).values(is_head=True)
        )

    async def _count_processed(self, session: AsyncSession, now: datetime) -> None:
        ins = _dialect_insert(session)(_processed).values(
            queue=self.name,
            minute=_minute(now),
            shard=secrets.randbelow(_COUNTER_SHARDS),
            count=1,
        )
        await session.execute(
            ins.on_conflict_do_update(
                index_elements=[_processed.c.queue, _processed.c.minute, _processed.c.shard],
                set_={"count": _processed.c.count + 1},
            )
        )


def _check_send(
    group_id: str, body: dict[str, Any], dedup_id: str | None, delay_seconds: float
) -> None:
    if not isinstance(group_id, str) or not 1 <= len(group_id) <= _MAX_GROUP_ID:
        raise InvalidInput.on("group_id", f"must be 1 to {_MAX_GROUP_ID} characters")
    if not isinstance(body, dict):
        raise InvalidInput.on("body", "must be a JSON object")
    if dedup_id is not None and not 1 <= len(dedup_id) <= _MAX_DEDUP_ID:
        raise InvalidInput.on("dedup_id", f"must be 1 to {_MAX_DEDUP_ID} characters")
    if delay_seconds < 0:
        raise InvalidInput.on("delay_seconds", "must not be negative")


def _info(row: QueueMessage, now: datetime) -> MessageInfo:
    if row.visible_at <= now:
        state = MessageState.VISIBLE
    elif row.receive_count > 0:
        state = MessageState.IN_FLIGHT
    else:
        state = MessageState.DELAYED
    return MessageInfo(
        id=str(row.id),
        group_id=row.group_id,
        body=row.body,
        state=state,
        receive_count=row.receive_count,
        sent_at=row.sent_at,
        visible_at=row.visible_at,
    )


def _receipt_seq(receipt: str) -> int:
    seq, dot, token = receipt.partition(".")
    if not (dot and seq.isdigit() and token):
        raise _stale(receipt)
    return int(seq)


def _stale(receipt: str) -> StaleReceipt:
    return StaleReceipt(
        f"receipt {receipt[:40]!r} is stale: the message was deleted, or its visibility "
        "timeout ran out and it was delivered again"
    )


def _lock_key(queue: str, group_id: str) -> str:
    return f"loom.queue:{queue}:{group_id}"


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT construct (both have `on_conflict_do_update`)."""
    return pg_insert if _is_postgres(session) else sqlite_insert


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
