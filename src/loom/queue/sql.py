"""The `sql` queue backend: FIFO message groups in tables of Loom's own database.

How the rules of `loom.queue.protocol` are kept (tables in `loom.queue.models`):

* Order. `seq` increases with every insert. The oldest live message of each group is
  its *head* (`is_head`); only heads are ever delivered, and a head keeps that mark until
  it is deleted or dead-lettered, when the next message of its group (lowest `seq`)
  inherits it. So a group has at most one message in flight, in send order.
* Claiming. `receive` takes up to `max_messages` heads whose `visible_at` has passed,
  oldest visibility first, moves their `visible_at` to the end of the visibility timeout
  and stamps a new receipt, over the partial index of heads. On PostgreSQL the rows are
  locked `FOR UPDATE SKIP LOCKED`, so any number of processes claim concurrently without
  waiting for, or double-claiming, each other's rows. On SQLite every transaction is
  BEGIN IMMEDIATE: claims are serialised, correct for one process with many consumers.
* Dead letters. A head received MAX_RECEIVES times that comes due again is moved to
  `queue_dead_letters` by the next `receive` instead of being delivered, and the next
  message of its group becomes the head.
* Dedup. `queue_dedup` keeps each dedup id with its send time; an upsert that only
  overwrites rows older than DEDUP_WINDOW decides "new" (a row comes back) or
  "duplicate" (none does), atomically under concurrency. Rows are purged after the window.
* Time. Every timestamp comes from the injected `now` clock (tests travel in time with
  it); processes are assumed NTP-synchronised to well under a visibility timeout.

The writes differ per database: `sql_postgres` (one statement per operation, group rows
as the per-group lock) and `sql_sqlite` (a few statements in one serialised transaction).
Reads (stats, listings) are shared and live here.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import secrets
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loom.api.pagination import PageParams, paginate
from loom.db.raw import HeldConnections, in_transaction
from loom.db.types import utcnow
from loom.errors import InvalidInput, NotFound
from loom.queue import sql_postgres as pg
from loom.queue.errors import StaleReceipt
from loom.queue.models import QueueDeadLetter, QueueMessage
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
from loom.queue.sql_sqlite import SqliteWrites, dead_letters, dedup, messages, processed

_MAX_GROUP_ID = 128
_MAX_DEDUP_ID = 128
#: SQLite's deletions are counted in this many rows per minute (PostgreSQL's in a row per
#: server process, see loom.queue.sql_postgres).
_COUNTER_SHARDS = 8
#: How long per-minute deletion counts are kept.
_COUNTS_KEPT = timedelta(hours=1)


class SqlQueue:
    """One named queue in Loom's database (see the module docstring for how it works).

    `now` is the clock (inject one to travel in time in tests); `purge_every` paces the
    removal of expired dedup ids and old deletion counts, done by `receive`. On
    PostgreSQL the queue keeps up to `keep_connections` idle connections out of the
    engine's pool (see `loom.db.raw.HeldConnections`); `close` returns them early.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        *,
        now: Callable[[], datetime] = utcnow,
        max_receives: int = MAX_RECEIVES,
        purge_every: timedelta = timedelta(minutes=1),
        keep_connections: int = 4,
    ) -> None:
        if not 1 <= len(name) <= 80:
            raise ValueError("a queue name has 1 to 80 characters")
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise ValueError("the sessionmaker must be bound to an AsyncEngine")
        self.name = name
        self._sessions = sessions
        self._now = now
        self._max_receives = max_receives
        self._purge_every = purge_every
        self._next_purge: float = 0.0
        self._postgres = engine.dialect.name == "postgresql"
        self._engine = engine
        self._connections = HeldConnections(engine, keep_connections) if self._postgres else None
        self._sqlite = SqliteWrites(name, max_receives)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction of its own. On SQLite, where every transaction takes
        the database's write lock (BEGIN IMMEDIATE), the queue's transactions first line up
        on an in-process lock: waiting there is cheap, while contending for SQLite's lock
        means sleeping in its busy handler."""
        if self._postgres:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with _sqlite_lock(self._engine), self._sessions() as session, session.begin():
            yield session

    def _statement(self) -> AbstractAsyncContextManager[Any]:
        """A raw asyncpg connection outside any transaction: each PostgreSQL write is one
        statement, its own transaction (no BEGIN, no COMMIT)."""
        assert self._connections is not None
        return self._connections.connection()

    async def close(self) -> None:
        """Return the connections the queue holds to the engine's pool."""
        if self._connections is not None:
            await self._connections.close()

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
        it commit together, or neither). On PostgreSQL the group's row stays locked until
        then, holding back other writers of the same group: send late in a long
        transaction. Without `session`, the send is a short transaction of its own.
        """
        values = self._message(group_id, body, dedup_id, delay_seconds)
        message_id = values["message_id"]
        if self._postgres:
            if session is not None:
                sent = await self._pg_send(await in_transaction(session), values)
            else:
                async with self._statement() as connection:
                    sent = await self._pg_send(connection, values)
        elif session is not None:
            sent = await self._sqlite.send(session, **values)
        else:
            async with self._transaction() as own:
                sent = await self._sqlite.send(own, **values)
        return str(message_id) if sent else None

    @property
    def on_postgres(self) -> bool:
        return self._postgres

    async def send_on(
        self, connection: Any, group_id: str, body: dict[str, Any], dedup_id: str | None = None
    ) -> str | None:
        """`send` inside a transaction the caller runs on a raw asyncpg `connection`
        (PostgreSQL only; for the hot paths of loom.db.raw)."""
        assert self._postgres, "send_on needs PostgreSQL"
        values = self._message(group_id, body, dedup_id, 0)
        return str(values["message_id"]) if await self._pg_send(connection, values) else None

    def _message(
        self, group_id: str, body: dict[str, Any], dedup_id: str | None, delay_seconds: float
    ) -> dict[str, Any]:
        """A new message's values, checked."""
        _check_send(group_id, body, dedup_id, delay_seconds)
        now = self._now()
        return {
            "message_id": uuid.uuid4(),
            "group_id": group_id,
            "body": body,
            "dedup_id": dedup_id,
            "sent_at": now,
            "visible_at": now + timedelta(seconds=delay_seconds),
            "cutoff": now - DEDUP_WINDOW,
        }

    async def _pg_send(self, connection: Any, values: dict[str, Any]) -> bool:
        params = {
            "queue": self.name,
            "id": values["message_id"],
            "group_id": values["group_id"],
            "body": json.dumps(values["body"], separators=(",", ":")),
            "sent_at": values["sent_at"],
            "visible_at": values["visible_at"],
        }
        if values["dedup_id"] is None:
            return bool(await pg.SEND.fetch(connection, **params))
        params |= {"dedup_id": values["dedup_id"], "cutoff": values["cutoff"]}
        return bool(await pg.SEND_DEDUP.fetch(connection, **params))

    # -- consuming ----------------------------------------------------------------------

    async def receive(
        self, max_messages: int = 1, visibility_timeout: float = 30.0
    ) -> builtins.list[Message]:
        """Claim up to `max_messages` visible group heads for `visibility_timeout` s."""
        if not 1 <= max_messages <= 100:
            raise InvalidInput.on("max_messages", "must be between 1 and 100")
        if visibility_timeout < 0:
            raise InvalidInput.on("visibility_timeout", "must not be negative")
        await self._purge_if_due()
        now = self._now()
        if self._postgres:
            rows = await self._pg_claim(now, max_messages, visibility_timeout)
        else:
            async with self._transaction() as session:
                rows = await self._sqlite.claim(session, now, max_messages, visibility_timeout)
        return [
            Message(
                id=str(r["id"]),
                group_id=r["group_id"],
                body=r["body"],
                receipt=r["receipt"],
                receive_count=r["receive_count"],
                sent_at=r["sent_at"],
            )
            for r in sorted(rows, key=lambda r: r["seq"])
        ]

    async def _pg_claim(
        self, now: datetime, limit: int, visibility_timeout: float
    ) -> builtins.list[Any]:
        params = {
            "queue": self.name,
            "now": now,
            "until": now + timedelta(seconds=visibility_timeout),
            "limit": limit,
            "max_receives": self._max_receives,
            "token": "." + secrets.token_hex(8),
        }
        claimed: builtins.list[Any] = []
        async with self._statement() as connection:
            # Dead-lettering unblocks groups whose next message the same statement cannot
            # see yet: claim again while that happens and room is left.
            for _ in range(3):
                params["limit"] = limit - len(claimed)
                rows = await pg.CLAIM.fetch(connection, **params)
                claimed += [row for row in rows if row["kind"] == "claimed"]
                for row in rows:
                    if row["kind"] == "headless":
                        await pg.FIX_HEAD.fetch(
                            connection, queue=self.name, group_id=row["group_id"]
                        )
                if len(claimed) >= limit or all(row["kind"] == "claimed" for row in rows):
                    break
        return claimed

    async def delete(self, receipt: str) -> None:
        """Mark the delivery named by `receipt` done, and let the next message of its group
        come forward. StaleReceipt if the message was deleted or delivered again since."""
        seq = _receipt_seq(receipt)
        now = self._now()
        minute, shard = _minute(now), secrets.randbelow(_COUNTER_SHARDS)
        if not self._postgres:
            async with self._transaction() as session:
                if not await self._sqlite.delete(session, seq, receipt, minute, shard):
                    raise _stale(receipt)
            return
        async with self._statement() as connection:
            if not await self._pg_delete(connection, seq, receipt, minute):
                raise _stale(receipt)

    def settling(
        self,
        receipt: str | None,
        *,
        hand_over: dict[str, Any] | None = None,
        dedup_id: str | None = None,
        visibility_timeout: float = 60.0,
    ) -> dict[str, Any]:
        """The parameters of `sql_postgres.SETTLE` in a caller's statement on PostgreSQL
        (which also binds `:now`): delete the delivery named by `receipt`, or, given
        `hand_over` (a message body), hand the delivery over to it: the message takes
        that body and a fresh visibility timeout and stays with the same receiver under the
        same receipt, as if deleted, the body sent to its group and received at once.
        Only for a message alone in its group (the body is what comes next in it): the
        statement reports `handed_over` 0 otherwise, or if the receipt is not current.
        Nothing is settled without a receipt, or with one that is not current."""
        assert self._postgres, "settling needs PostgreSQL"
        if hand_over is not None:
            _check_send("-", hand_over, dedup_id, 0)
        try:
            seq = _receipt_seq(receipt) if receipt is not None else None
        except StaleReceipt:
            seq = None
        now = self._now()
        return {
            "queue": self.name, "seq": seq, "receipt": receipt,
            "delete": seq is not None and hand_over is None,
            "hand_over": seq is not None and hand_over is not None,
            "body": json.dumps(hand_over, separators=(",", ":")) if hand_over else None,
            "dedup_id": dedup_id, "until": now + timedelta(seconds=visibility_timeout),
            "minute": _minute(now),
        }  # fmt: skip

    async def settled(self, connection: Any, row: Any) -> bool:
        """Whether the statement with `sql_postgres.SETTLE` whose SETTLED columns `row`
        holds deleted the delivery; if it did, the group's next message is head after it
        (the statement cannot always bring it forward, see sql_postgres)."""
        if row["deleted_group"] is None:
            return False
        if row["live_after_delete"] and not row["promoted"]:
            await pg.FIX_HEAD.fetch(connection, queue=self.name, group_id=row["deleted_group"])
        return True

    async def _pg_delete(self, connection: Any, seq: int, receipt: str, minute: datetime) -> bool:
        """Delete the delivery and bring its group's next message forward; False if the
        receipt is not current."""
        gone = await pg.DELETE.fetch(
            connection, queue=self.name, seq=seq, receipt=receipt, minute=minute, delete=True
        )
        if not gone:
            return False
        if gone[0]["live"] and not gone[0]["promoted"]:
            await pg.FIX_HEAD.fetch(connection, queue=self.name, group_id=gone[0]["group_id"])
        return True

    async def extend(self, receipt: str, seconds: float) -> None:
        """Keep the message invisible until `seconds` from now (a heartbeat)."""
        if seconds < 0:
            raise InvalidInput.on("seconds", "must not be negative")
        seq = _receipt_seq(receipt)
        until = self._now() + timedelta(seconds=seconds)
        if self._postgres:
            params = {"queue": self.name, "seq": seq, "receipt": receipt, "until": until}
            async with self._statement() as connection:
                extended = bool(await pg.EXTEND.fetch(connection, **params))
        else:
            async with self._transaction() as session:
                extended = await self._sqlite.extend(session, seq, receipt, until)
        if not extended:
            raise _stale(receipt)

    # -- dead letters -------------------------------------------------------------------

    async def redrive(self, message_id: str) -> None:
        """Move a dead letter back to the tail of its group with its receive count reset."""
        try:
            mid = uuid.UUID(message_id)
        except ValueError:
            raise NotFound(f"no dead letter {message_id!r} in queue {self.name!r}") from None
        now = self._now()
        if self._postgres:
            async with self._statement() as connection:
                found = bool(await pg.REDRIVE.fetch(connection, queue=self.name, id=mid, now=now))
        else:
            async with self._transaction() as session:
                found = await self._sqlite.redrive(session, mid, now)
        if not found:
            raise NotFound(f"no dead letter {message_id!r} in queue {self.name!r}")

    # -- reading ------------------------------------------------------------------------

    async def stats(self) -> QueueStats:
        """Counts by state, the oldest message's age, deletions per minute, DLQ depth."""
        async with self._transaction() as session:
            now = self._now()
            due = messages.c.visible_at <= now
            received = messages.c.receive_count > 0
            counts = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(case((due, 1), else_=0)), 0),
                        func.coalesce(func.sum(case((and_(~due, received), 1), else_=0)), 0),
                        func.min(messages.c.sent_at),
                    ).where(messages.c.queue == self.name)
                )
            ).one()
            dlq_depth = await session.scalar(
                select(func.count())
                .select_from(dead_letters)
                .where(dead_letters.c.queue == self.name)
            )
            this_minute = _minute(now)
            first = this_minute - timedelta(minutes=RATE_WINDOW_MINUTES - 1)
            minutes = await session.execute(
                select(processed.c.minute, func.sum(processed.c.count))
                .where(processed.c.queue == self.name, processed.c.minute >= first)
                .group_by(processed.c.minute)
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
        async with self._transaction() as session:
            now = self._now()
            rows, next_cursor = await paginate(
                session, stmt, [QueueMessage.seq], PageParams(limit, cursor), descending=False
            )
        return QueuePage([_info(row, now) for row in rows], next_cursor)

    async def dlq_list(self, limit: int = 50, cursor: str | None = None) -> QueuePage[DeadLetter]:
        """Dead letters in the order they died."""
        stmt = select(QueueDeadLetter).where(QueueDeadLetter.queue == self.name)
        async with self._transaction() as session:
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

    async def _purge_if_due(self) -> None:
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self._purge_every.total_seconds()
            await self.purge()

    async def purge(self) -> None:
        """Forget dedup ids older than DEDUP_WINDOW and deletion counts older than an hour;
        on PostgreSQL also forget emptied groups and heal headless ones. `receive` does
        this about once per `purge_every`."""
        now = self._now()
        async with self._transaction() as session:
            await session.execute(
                delete(dedup).where(
                    dedup.c.queue == self.name, dedup.c.sent_at <= now - DEDUP_WINDOW
                )
            )
            await session.execute(
                delete(processed).where(
                    processed.c.queue == self.name, processed.c.minute < now - _COUNTS_KEPT
                )
            )
        if self._postgres:
            async with self._statement() as connection:
                await pg.REPAIR.fetch(connection, queue=self.name)


_SQLITE_LOCKS: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _sqlite_lock(engine: AsyncEngine) -> asyncio.Lock:
    """One lock per SQLite engine, shared by every queue on it."""
    lock = _SQLITE_LOCKS.get(engine)
    if lock is None:
        lock = _SQLITE_LOCKS[engine] = asyncio.Lock()
    return lock


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


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
