"""The queue contract: one suite, run against sql on SQLite, sql on PostgreSQL and sqs
(moto). A test that cannot hold on sqs says why with `not_on_sqs` (moto's SQS is an
adapter smoke test: its stale receipts, redelivery and clock differ from AWS)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from loom.db.engine import create_engine
from loom.errors import NotFound
from loom.queue import MessageState, Queue, StaleReceipt, UnsupportedOperation
from loom.queue.sql import SqlQueue
from loom.queue.sqs import SqsQueue, create_fifo_queues
from loom.settings import Settings
from tests.databases import ThrowawayDatabases
from tests.queue.conftest import QueueHarness, moto_sqs, sql_harness

_PG_SKIPPED = "PostgreSQL half SKIPPED: no server at LOOM_TEST_DATABASE_URL or 127.0.0.1:5432"


@pytest.fixture(params=["sqlite", "postgres", "sqs"])
def backend(request: pytest.FixtureRequest, test_databases: ThrowawayDatabases) -> str:
    """The root fixture's SQLite and PostgreSQL, plus sqs (whose `database_url` goes
    unused)."""
    if request.param == "postgres" and test_databases.pg_server is None:
        request.config._loom_pg_missing = True  # type: ignore[attr-defined]
        pytest.skip(_PG_SKIPPED)
    marker = request.node.get_closest_marker("not_on_sqs")
    if request.param == "sqs" and marker is not None:
        pytest.skip(f"not applicable to sqs: {marker.args[0]}")
    if request.param != "postgres" and request.node.get_closest_marker("postgres_only"):
        pytest.skip("PostgreSQL only")
    return str(request.param)


@pytest.fixture
async def harness(backend: str, database_url: str) -> AsyncIterator[QueueHarness]:
    if backend == "sqs":
        with moto_sqs() as client:
            urls = create_fifo_queues(client, "tasks")
            yield QueueHarness("sqs", SqsQueue(client, "tasks", urls), extras={"client": client})
        return
    engine = create_engine(Settings(env="test", database_url=database_url))
    try:
        yield sql_harness(backend, engine)
    finally:
        await engine.dispose()


async def _bodies(queue: Queue, n: int = 10, visibility: float = 30) -> list[str]:
    return [m.body["n"] for m in await queue.receive(n, visibility)]


@pytest.mark.not_on_sqs(
    "moto does not reliably hold back a FIFO group while one of its messages is in flight "
    "(seen: two of a group delivered together under 8 consumers); AWS does"
)
async def test_order_within_group_holds_under_8_concurrent_consumers(
    harness: QueueHarness,
) -> None:
    queue = harness.queue
    groups, per_group = 6, 8
    sent: dict[str, list[int]] = defaultdict(list)
    for i in range(per_group):
        for g in range(groups):
            await queue.send(f"g{g}", {"g": f"g{g}", "i": i})
            sent[f"g{g}"].append(i)
    processed: dict[str, list[int]] = defaultdict(list)
    holding: set[str] = set()
    overlaps: list[str] = []
    total = groups * per_group
    rng = random.Random(7)

    async def consumer() -> None:
        while sum(map(len, processed.values())) < total:
            batch = await queue.receive(max_messages=rng.randint(1, 3), visibility_timeout=30)
            if not batch:
                await asyncio.sleep(0.002)
                continue
            for message in batch:
                group = message.body["g"]
                if group in holding:
                    overlaps.append(group)
                holding.add(group)
            for message in batch:
                await asyncio.sleep(rng.random() * 0.004)
                processed[message.body["g"]].append(message.body["i"])
                # Released before the delete commits: nobody may receive the group's next
                # message until it has.
                holding.discard(message.body["g"])
                await queue.delete(message.receipt)

    await asyncio.wait_for(asyncio.gather(*(consumer() for _ in range(8))), timeout=120)
    assert overlaps == []
    assert dict(processed) == dict(sent)


async def test_different_groups_are_in_flight_together(harness: QueueHarness) -> None:
    for group, n in (("a", "a1"), ("a", "a2"), ("b", "b1")):
        await harness.queue.send(group, {"n": n})
    first = await _bodies(harness.queue)
    assert sorted(first) == ["a1", "b1"]
    assert await _bodies(harness.queue) == []  # a2 waits behind a1


async def test_undeleted_message_comes_back_after_visibility_timeout(
    harness: QueueHarness,
) -> None:
    await harness.queue.send("g", {"n": "m1"})
    await harness.queue.send("g", {"n": "m2"})
    [first] = await harness.queue.receive(1, visibility_timeout=1)
    assert (first.body["n"], first.receive_count) == ("m1", 1)
    assert await _bodies(harness.queue) == []
    await harness.advance(1.3)
    [again] = await harness.queue.receive(1, visibility_timeout=1)
    assert (again.body["n"], again.receive_count, again.id) == ("m1", 2, first.id)
    assert again.receipt != first.receipt


async def test_extend_keeps_a_message_invisible(harness: QueueHarness) -> None:
    await harness.queue.send("g", {"n": "m1"})
    [message] = await harness.queue.receive(1, visibility_timeout=1)
    await harness.queue.extend(message.receipt, 5)
    await harness.advance(1.5)
    assert await _bodies(harness.queue) == []
    await harness.queue.delete(message.receipt)
    assert await _bodies(harness.queue) == []


@pytest.mark.not_on_sqs("moto accepts receipts of earlier deliveries; AWS FIFO refuses them")
async def test_stale_receipts_are_refused(harness: QueueHarness) -> None:
    await harness.queue.send("g", {"n": "m1"})
    [old] = await harness.queue.receive(1, visibility_timeout=1)
    await harness.advance(1.3)
    [new] = await harness.queue.receive(1, visibility_timeout=30)
    with pytest.raises(StaleReceipt, match="stale"):
        await harness.queue.extend(old.receipt, 30)
    with pytest.raises(StaleReceipt):
        await harness.queue.delete(old.receipt)
    await harness.queue.delete(new.receipt)
    with pytest.raises(StaleReceipt):
        await harness.queue.delete(new.receipt)
    with pytest.raises(StaleReceipt):
        await harness.queue.extend("not-a-receipt", 30)


async def test_dead_letter_after_three_receives_unblocks_the_group(
    harness: QueueHarness,
) -> None:
    await harness.queue.send("g", {"n": "m1"})
    await harness.queue.send("g", {"n": "m2"})
    for attempt in (1, 2, 3):
        [message] = await harness.queue.receive(1, visibility_timeout=1)
        assert (message.body["n"], message.receive_count) == ("m1", attempt)
        await harness.advance(1.3)
    [next_one] = await harness.queue.receive(1, visibility_timeout=30)
    assert (next_one.body["n"], next_one.receive_count) == ("m2", 1)
    assert (await harness.queue.stats()).dlq_depth == 1
    if not harness.is_sqs:
        [dead] = (await harness.queue.dlq_list()).items
        assert (dead.body, dead.group_id, dead.receive_count) == ({"n": "m1"}, "g", 3)


async def test_redrive_puts_a_dead_letter_at_the_tail_of_its_group(
    harness: QueueHarness,
) -> None:
    queue = harness.queue
    await queue.send("g", {"n": "m1"})
    await queue.send("g", {"n": "m2"})
    for _ in range(3):
        await queue.receive(1, visibility_timeout=1)
        await harness.advance(1.3)
    [m2] = await queue.receive(1, visibility_timeout=30)
    dead_id = m2.id if harness.is_sqs else (await queue.dlq_list()).items[0].id
    if harness.is_sqs:  # no listing on SQS: find the id by peeking at the DLQ
        client, urls = harness.extras["client"], queue._dlq_url  # type: ignore[attr-defined]
        peek = client.receive_message(QueueUrl=urls, VisibilityTimeout=0)
        dead_id = peek["Messages"][0]["MessageId"]
    await queue.send("g", {"n": "m3"})
    await queue.redrive(dead_id)
    assert (await queue.stats()).dlq_depth == 0
    await queue.delete(m2.receipt)
    order = []
    for _ in range(2):
        [message] = await queue.receive(1, visibility_timeout=30)
        order.append((message.body["n"], message.receive_count))
        await queue.delete(message.receipt)
    assert order == [("m3", 1), ("m1", 1)]


async def test_redrive_of_an_unknown_message_is_not_found(harness: QueueHarness) -> None:
    with pytest.raises(NotFound):
        await harness.queue.redrive("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        await harness.queue.redrive("nonsense")


async def test_duplicate_dedup_id_within_five_minutes_is_dropped(harness: QueueHarness) -> None:
    queue = harness.queue
    first = await queue.send("g", {"n": "m1"}, dedup_id="req-1:task-1")
    assert first is not None
    assert await queue.send("g", {"n": "again"}, dedup_id="req-1:task-1") is None
    [message] = await queue.receive(10, visibility_timeout=30)
    assert message.body == {"n": "m1"}
    await queue.delete(message.receipt)
    await harness.advance(1)
    # Already deleted, still remembered (as SQS does).
    assert await queue.send("g", {"n": "later"}, dedup_id="req-1:task-1") is None
    assert await _bodies(queue) == []
    assert await queue.send("g", {"n": "other"}, dedup_id="req-1:task-2") is not None


@pytest.mark.not_on_sqs("SQS's dedup window runs on AWS's clock, which a test cannot move")
async def test_dedup_id_is_forgotten_after_five_minutes(harness: QueueHarness) -> None:
    queue = harness.queue
    await queue.send("g", {"n": "m1"}, dedup_id="d")
    await harness.advance(4 * 60 + 59)
    assert await queue.send("g", {"n": "m2"}, dedup_id="d") is None
    await harness.advance(2)
    assert await queue.send("g", {"n": "m3"}, dedup_id="d") is not None
    assert [m.body["n"] for m in (await queue.list()).items] == ["m1", "m3"]


async def test_delayed_head_holds_back_its_group(harness: QueueHarness) -> None:
    queue = harness.queue
    await queue.send("timer", {"n": "t1"}, delay_seconds=2)
    await queue.send("timer", {"n": "t2"})
    await queue.send("other", {"n": "o1"})
    assert await _bodies(queue) == ["o1"]
    await harness.advance(2.5)
    [t1] = await queue.receive(10, visibility_timeout=30)
    assert (t1.body["n"], t1.receive_count) == ("t1", 1)
    await queue.delete(t1.receipt)
    assert await _bodies(queue) == ["t2"]


@pytest.mark.not_on_sqs("SQS cannot join a database transaction (documented on SqsQueue.send)")
async def test_send_follows_the_callers_transaction(harness: QueueHarness) -> None:
    assert harness.sessions is not None
    with pytest.raises(RuntimeError):
        async with harness.sessions() as session, session.begin():
            assert await harness.queue.send("g", {"n": "lost"}, "d1", session=session)
            raise RuntimeError("the state change failed")
    assert (await harness.queue.stats()).depth == 0
    async with harness.sessions() as session, session.begin():
        await harness.queue.send("g", {"n": "kept"}, "d1", session=session)
    assert await _bodies(harness.queue) == ["kept"]


@pytest.mark.not_on_sqs("SQS's counts are approximate, it has no oldest age, delays are emulated")
async def test_stats_count_each_state(harness: QueueHarness) -> None:
    queue = harness.queue
    empty = await queue.stats()
    assert (empty.depth, empty.oldest_age_seconds, empty.processed_per_minute) == (0, None, 0)
    for group in ("a", "b", "c"):
        await queue.send(group, {"n": group})
    await queue.send("d", {"n": "d"}, delay_seconds=60)
    await harness.advance(10)
    [message] = await queue.receive(1, visibility_timeout=30)
    stats = await queue.stats()
    assert (stats.depth, stats.visible, stats.in_flight, stats.delayed) == (4, 2, 1, 1)
    assert stats.oldest_age_seconds == pytest.approx(10)
    await queue.delete(message.receipt)
    stats = await queue.stats()
    assert (stats.depth, stats.processed_by_minute[-1], stats.dlq_depth) == (3, 1, 0)
    assert stats.processed_per_minute == pytest.approx(1 / len(stats.processed_by_minute))


@pytest.mark.not_on_sqs("SQS cannot list its messages (see test_sqs_cannot_list)")
async def test_list_shows_messages_in_delivery_order_with_their_state(
    harness: QueueHarness,
) -> None:
    queue = harness.queue
    for i in range(5):
        await queue.send("a" if i % 2 else "b", {"n": i, "token": "s3cret"})
    await queue.send("c", {"n": 5}, delay_seconds=60)
    await queue.receive(1, visibility_timeout=30)
    page = await queue.list(limit=4)
    assert [m.body["n"] for m in page.items] == [0, 1, 2, 3]
    rest = await queue.list(limit=4, cursor=page.next_cursor)
    assert [m.body["n"] for m in rest.items] == [4, 5] and rest.next_cursor is None
    states = {m.body["n"]: m.state for m in [*page.items, *rest.items]}
    assert states[0] == MessageState.IN_FLIGHT and states[5] == MessageState.DELAYED
    assert states[1] == MessageState.VISIBLE
    assert [m.body["n"] for m in (await queue.list(group_id="a")).items] == [1, 3]


async def test_sqs_cannot_list(harness: QueueHarness) -> None:
    if not harness.is_sqs:
        pytest.skip("the sql backend lists (test_list_shows_messages_...)")
    with pytest.raises(UnsupportedOperation):
        await harness.queue.list()
    with pytest.raises(UnsupportedOperation):
        await harness.queue.dlq_list()


async def test_receive_gives_at_most_one_message_per_group(harness: QueueHarness) -> None:
    for i in range(4):
        await harness.queue.send("only", {"n": i})
    assert await _bodies(harness.queue, n=10) == [0]


@pytest.mark.postgres_only
async def test_two_processes_never_hold_the_same_message(database_url: str, backend: str) -> None:
    """Two engines (as two worker processes would have), 4 consumers each, share one
    queue on PostgreSQL: every message is processed once, groups stay in order."""
    engines = [create_engine(Settings(env="test", database_url=database_url)) for _ in range(2)]
    try:
        queues = [sql_harness(backend, e).queue for e in engines]
        groups, per_group = 10, 12
        for i in range(per_group):
            for g in range(groups):
                await queues[i % 2].send(f"g{g}", {"g": f"g{g}", "i": i})
        seen: list[tuple[str, int]] = []
        holding: set[str] = set()
        overlaps: list[Any] = []
        total = groups * per_group

        async def consumer(queue: Queue) -> None:
            rng = random.Random()
            while len(seen) < total:
                batch = await queue.receive(max_messages=rng.randint(1, 4), visibility_timeout=60)
                if not batch:
                    await asyncio.sleep(0.002)
                    continue
                for message in batch:
                    if message.group_id in holding:
                        overlaps.append(message.group_id)
                    holding.add(message.group_id)
                for message in batch:
                    await asyncio.sleep(rng.random() * 0.003)
                    seen.append((message.body["g"], message.body["i"]))
                    holding.discard(message.group_id)
                    await queue.delete(message.receipt)

        consumers = [consumer(q) for q in queues for _ in range(4)]
        await asyncio.wait_for(asyncio.gather(*consumers), timeout=120)
        assert overlaps == []
        assert len(seen) == len(set(seen)) == total
        for g in range(groups):
            assert [i for grp, i in seen if grp == f"g{g}"] == list(range(per_group))
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.postgres_only
async def test_held_connections_survive_a_server_that_dropped_them(
    harness: QueueHarness, database_url: str
) -> None:
    """The queue keeps idle connections out of the pool (no pre-ping): ones the server
    closed meanwhile are noticed and replaced, not used."""
    queue = harness.queue
    await queue.send("g", {"n": 1})
    [message] = await queue.receive(1)
    await queue.delete(message.receipt)
    killer = create_engine(Settings(env="test", database_url=database_url))
    try:
        async with killer.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await killer.dispose()
    await asyncio.sleep(0.2)  # let asyncpg see the sockets close
    await queue.send("g", {"n": 2})
    assert await _bodies(queue) == [2]


@pytest.mark.postgres_only
async def test_head_is_passed_on_when_a_send_races_the_delete_of_the_head(
    harness: QueueHarness,
) -> None:
    """A sender holds the group (its transaction is open) while the head is deleted: the
    delete cannot see the new message when it commits, yet the message becomes the head."""
    queue, sessions = harness.queue, harness.sessions
    assert sessions is not None
    await queue.send("g", {"n": 1})
    [first] = await queue.receive(1)
    async with sessions() as session:
        await session.begin()
        await queue.send("g", {"n": 2}, session=session)
        deleting = asyncio.create_task(queue.delete(first.receipt))
        await asyncio.sleep(0.3)
        assert not deleting.done()  # waits for the sender's group row
        await session.commit()
    await asyncio.wait_for(deleting, timeout=10)
    assert await _bodies(queue) == [2]


@pytest.mark.postgres_only
async def test_purge_heals_a_group_left_without_head(harness: QueueHarness) -> None:
    """A process that died between a delete and its head fix leaves a headless group;
    the periodic purge gives it its head back (and forgets emptied groups)."""
    queue, sessions = harness.queue, harness.sessions
    assert sessions is not None and isinstance(queue, SqlQueue)
    await queue.send("g", {"n": 1})
    await queue.send("g", {"n": 2})
    await queue.send("done", {"n": 0})
    for message in await queue.receive(2):
        await queue.delete(message.receipt)
    async with sessions() as session, session.begin():
        await session.execute(text("UPDATE queue_messages SET is_head = false"))
    assert await _bodies(queue) == []
    await queue.purge()
    assert await _bodies(queue) == [2]
    async with sessions() as session:
        groups = (await session.execute(text("SELECT group_id FROM queue_groups"))).scalars()
        assert list(groups) == ["g"]
