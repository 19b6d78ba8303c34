"""Tables of the `sql` queue backend.

`queue_messages` holds waiting and in-flight messages of every named queue. `seq` (an
ever-increasing identity, never a timestamp) orders them; exactly the oldest live message
of each group carries `is_head`, so the claim query reads a small partial index of group
heads instead of walking every message. A message is claimable when it is a head and
`visible_at` has passed; receiving moves `visible_at` to the end of the visibility
timeout and stamps a fresh `receipt`.

On PostgreSQL, `queue_groups` keeps one row per group with its number of live messages.
Whoever appends to a group or removes its head updates that row in the same statement,
which serialises them per group (a row lock held to commit) and tells a sender, from the
row's latest committed version, whether its message is the group's head. SQLite
serialises every writer anyway and does not use it.

`queue_dead_letters` holds messages that exhausted their receives; `queue_dedup` remembers
deduplication ids for 5 minutes (also of messages already deleted); `queue_processed`
counts deletions per minute, in a few shards so that concurrent consumers rarely touch the
same row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base
from loom.db.types import PortableJSON, UTCDateTime

#: A BIGINT identity on PostgreSQL; SQLite only auto-assigns INTEGER PRIMARY KEYs.
Sequence64 = BigInteger().with_variant(Integer(), "sqlite")


class QueueMessage(Base):
    __tablename__ = "queue_messages"

    seq: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    queue: Mapped[str] = mapped_column(String(80))
    group_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    dedup_id: Mapped[str | None] = mapped_column(String(128))
    is_head: Mapped[bool] = mapped_column(Boolean)
    visible_at: Mapped[datetime] = mapped_column(UTCDateTime)
    receive_count: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The claim query: visible group heads of one queue, oldest visibility first.
        Index(
            "ix_queue_messages_claim",
            "queue",
            "visible_at",
            "seq",
            postgresql_where=text("is_head"),
            sqlite_where=text("is_head = 1"),
        ),
        # A group's messages in order: promotion of the next head, listing one group.
        Index("ix_queue_messages_group", "queue", "group_id", "seq"),
        # Never reuse a seq on SQLite, even after the newest message was deleted.
        {"sqlite_autoincrement": True},
    )


class QueueGroup(Base):
    __tablename__ = "queue_groups"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: Messages of the group in `queue_messages` (waiting or in flight).
    live: Mapped[int] = mapped_column(Integer)


class QueueDeadLetter(Base):
    __tablename__ = "queue_dead_letters"

    seq: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    queue: Mapped[str] = mapped_column(String(80), index=True)
    group_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    dedup_id: Mapped[str | None] = mapped_column(String(128))
    receive_count: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = ({"sqlite_autoincrement": True},)


class QueueDedup(Base):
    __tablename__ = "queue_dedup"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    dedup_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[uuid.UUID]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QueueProcessed(Base):
    __tablename__ = "queue_processed"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
