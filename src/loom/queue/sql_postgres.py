"""The `sql` backend's writes on PostgreSQL: each operation is one statement.

A queue's hot path (send, receive, delete) costs one round trip each, run on an
autocommit connection (a single statement is its own transaction), so that any number of
processes can share the queue at over a thousand messages per second. The statements:

* send: remember the dedup id (an upsert that only overwrites ids older than the window),
  bump the group's row in `queue_groups` (insert or `live + 1`: the row lock serialises
  the group's writers until commit, and its latest committed `live` says whether the new
  message is the head), insert the message. `seq` is drawn after the group row is locked,
  so within a group `seq` order is commit order.
* receive: lock up to n visible heads `FOR UPDATE SKIP LOCKED`; those that used up their
  receives move to `queue_dead_letters` (their groups shrink and the next message becomes
  head, claimable by the next statement), the others are claimed: new `visible_at`,
  receive count + 1, a fresh receipt. Each dead-lettered group is reported ('dead', or
  'headless' as below) so that `receive` can claim again.
* delete: delete by receipt, shrink the group, promote the next message, count the
  deletion (in a shard of `queue_processed` per server process: a deletion inside a
  longer transaction keeps its counter row locked until commit, and two connections
  never wait for each other's).

One statement sees one snapshot. When a sender committed to the group while the statement
waited for the group row, the next message may be invisible to it: the statement then
reports the group (`live` > 0, nothing promoted) and `fix_head` promotes it in a second
statement. A process dying between the two leaves the group headless until `repair`
(run with the periodic purge) heals it.
"""

from __future__ import annotations

from loom.db.raw import Statement

SEND = Statement.of(
    """
    WITH grp AS (
        INSERT INTO queue_groups (queue, group_id, live)
        VALUES (:queue::text, :group_id::text, 1)
        ON CONFLICT (queue, group_id) DO UPDATE SET live = queue_groups.live + 1
        RETURNING live
    )
    INSERT INTO queue_messages
        (id, queue, group_id, body, dedup_id, is_head, visible_at, receive_count, sent_at)
    SELECT :id::uuid, :queue::text, :group_id::text, :body::jsonb, NULL, grp.live = 1,
           :visible_at::timestamptz, 0, :sent_at::timestamptz
    FROM grp
    RETURNING id
    """,
)

SEND_DEDUP = Statement.of(
    """
    WITH fresh AS (
        INSERT INTO queue_dedup (queue, dedup_id, message_id, sent_at)
        VALUES (:queue::text, :dedup_id::text, :id::uuid, :sent_at::timestamptz)
        ON CONFLICT (queue, dedup_id) DO UPDATE
            SET message_id = EXCLUDED.message_id, sent_at = EXCLUDED.sent_at
            WHERE queue_dedup.sent_at <= :cutoff::timestamptz
        RETURNING dedup_id
    ), grp AS (
        INSERT INTO queue_groups (queue, group_id, live)
        SELECT :queue::text, :group_id::text, 1 FROM fresh
        ON CONFLICT (queue, group_id) DO UPDATE SET live = queue_groups.live + 1
        RETURNING live
    )
    INSERT INTO queue_messages
        (id, queue, group_id, body, dedup_id, is_head, visible_at, receive_count, sent_at)
    SELECT :id::uuid, :queue::text, :group_id::text, :body::jsonb, fresh.dedup_id,
           grp.live = 1, :visible_at::timestamptz, 0, :sent_at::timestamptz
    FROM grp, fresh
    RETURNING id
    """,
)

CLAIM = Statement.of(
    """
    WITH cand AS (
        SELECT seq, receive_count FROM queue_messages
        WHERE queue = :queue::text AND is_head AND visible_at <= :now::timestamptz
        ORDER BY visible_at, seq
        LIMIT :limit::int
        FOR UPDATE SKIP LOCKED
    ), dead AS (
        DELETE FROM queue_messages m USING cand
        WHERE m.seq = cand.seq AND cand.receive_count >= :max_receives::int
        RETURNING m.id, m.queue, m.group_id, m.seq, m.body, m.dedup_id, m.receive_count,
                  m.sent_at
    ), buried AS (
        INSERT INTO queue_dead_letters
            (id, queue, group_id, body, dedup_id, receive_count, sent_at, dead_at)
        SELECT id, queue, group_id, body, dedup_id, receive_count, sent_at, :now::timestamptz
        FROM dead
    ), shrunk AS (
        UPDATE queue_groups g SET live = g.live - 1 FROM dead
        WHERE g.queue = dead.queue AND g.group_id = dead.group_id
        RETURNING g.group_id, g.live
    ), promoted AS (
        UPDATE queue_messages m SET is_head = true
        FROM (
            SELECT min(n.seq) AS seq FROM dead JOIN queue_messages n
                ON n.queue = dead.queue AND n.group_id = dead.group_id AND n.seq > dead.seq
            GROUP BY dead.group_id
        ) nxt
        WHERE m.seq = nxt.seq
        RETURNING m.group_id
    ), claimed AS (
        UPDATE queue_messages m
        SET visible_at = :until::timestamptz, receive_count = m.receive_count + 1,
            receipt = m.seq::text || :token::text
        FROM cand
        WHERE m.seq = cand.seq AND cand.receive_count < :max_receives::int
        RETURNING m.seq, m.id, m.group_id, m.body, m.receipt, m.receive_count, m.sent_at
    )
    SELECT seq, id, group_id, body, receipt, receive_count, sent_at, 'claimed' AS kind
    FROM claimed
    UNION ALL
    SELECT NULL, NULL, s.group_id, NULL, NULL, NULL, NULL,
           CASE WHEN s.live > 0 AND s.group_id NOT IN (SELECT group_id FROM promoted)
                THEN 'headless' ELSE 'dead' END
    FROM shrunk s
    """,
)

#: Deleting the delivery named by `:seq` and `:receipt` (when `:delete`): its group
#: shrinks and its next message becomes head.
_DELETE_CTES = """
    gone AS (
        DELETE FROM queue_messages
        WHERE seq = :seq::bigint AND receipt = :receipt::text AND queue = :queue::text
          AND :delete::boolean
        RETURNING queue, group_id, seq
    ), shrunk AS (
        UPDATE queue_groups g SET live = g.live - 1 FROM gone
        WHERE g.queue = gone.queue AND g.group_id = gone.group_id
        RETURNING g.live
    ), promoted AS (
        UPDATE queue_messages m SET is_head = true
        WHERE m.seq = (
            SELECT min(n.seq) FROM queue_messages n, gone
            WHERE n.queue = gone.queue AND n.group_id = gone.group_id AND n.seq > gone.seq
        )
        RETURNING m.seq
    )
"""

#: Handing the delivery over (when `:hand_over`): an in-flight message, the only one of its
#: group, takes a new body and a fresh visibility timeout: what deleting it, sending the
#: body and receiving that at once would do, without it ever being visible in between.
_HAND_OVER_CTES = """
    msg AS MATERIALIZED (
        SELECT queue, group_id FROM queue_messages
        WHERE seq = :seq::bigint AND receipt = :receipt::text AND queue = :queue::text
          AND :hand_over::boolean
    ), grp AS (
        SELECT g.queue FROM queue_groups g
        WHERE g.queue = (SELECT queue FROM msg) AND g.group_id = (SELECT group_id FROM msg)
          AND g.live = 1
        FOR UPDATE
    ), moved AS (
        UPDATE queue_messages m
        SET body = :body::jsonb, dedup_id = :dedup_id::text, visible_at = :until::timestamptz,
            receive_count = 1, sent_at = :now::timestamptz
        FROM grp
        WHERE m.seq = :seq::bigint AND m.receipt = :receipt::text AND m.queue = grp.queue
        RETURNING m.queue
    )
"""


def _counted(source: str) -> str:
    """A CTE counting the deliveries `source` (a CTE with a `queue` column) settled."""
    return f"""
    counted AS (
        INSERT INTO queue_processed (queue, minute, shard, count)
        SELECT queue, :minute::timestamptz, pg_backend_pid() % 64, count(*) FROM {source}
        GROUP BY queue
        ON CONFLICT (queue, minute, shard)
            DO UPDATE SET count = queue_processed.count + EXCLUDED.count
    )
    """  # noqa: S608 - `source` is a constant of this module


DELETE = Statement.of(
    f"""
    WITH {_DELETE_CTES}, {_counted("gone")}
    SELECT gone.group_id,
           (SELECT live FROM shrunk) AS live,
           (SELECT count(*) FROM promoted) AS promoted
    FROM gone
    """  # noqa: S608 - the text formatted in is constant
)

#: CTEs settling a delivery inside a caller's statement (the worker's finish, see
#: loom.workers.fast_path): deleting it or handing it over, as `SqlQueue.settling` says.
#: SETTLED, in the caller's SELECT list, says what was done.
SETTLE = f"""
    {_DELETE_CTES}, {_HAND_OVER_CTES},
    {_counted("(SELECT queue FROM gone UNION ALL SELECT queue FROM moved) AS settled")}
"""  # noqa: S608 - the text formatted in is constant
SETTLED = """
    (SELECT count(*) FROM moved) AS handed_over, (SELECT group_id FROM gone) AS deleted_group,
    (SELECT live FROM shrunk) AS live_after_delete, (SELECT count(*) FROM promoted) AS promoted
"""

EXTEND = Statement.of(
    """
    UPDATE queue_messages SET visible_at = :until::timestamptz
    WHERE seq = :seq::bigint AND receipt = :receipt::text AND queue = :queue::text
    RETURNING seq
    """
)

REDRIVE = Statement.of(
    """
    WITH revived AS (
        DELETE FROM queue_dead_letters WHERE id = :id::uuid AND queue = :queue::text
        RETURNING id, queue, group_id, body, dedup_id
    ), grp AS (
        INSERT INTO queue_groups (queue, group_id, live)
        SELECT queue, group_id, 1 FROM revived
        ON CONFLICT (queue, group_id) DO UPDATE SET live = queue_groups.live + 1
        RETURNING live
    )
    INSERT INTO queue_messages
        (id, queue, group_id, body, dedup_id, is_head, visible_at, receive_count, sent_at)
    SELECT r.id, r.queue, r.group_id, r.body, r.dedup_id, grp.live = 1,
           :now::timestamptz, 0, :now::timestamptz
    FROM revived r, grp
    RETURNING id
    """,
)

#: Promote the oldest message of a group that has messages but no head (idempotent).
FIX_HEAD = Statement.of(
    """
    UPDATE queue_messages SET is_head = true
    WHERE seq = (
        SELECT min(seq) FROM queue_messages
        WHERE queue = :queue::text AND group_id = :group_id::text
    )
      AND NOT EXISTS (
          SELECT 1 FROM queue_messages
          WHERE queue = :queue::text AND group_id = :group_id::text AND is_head
      )
    """
)

#: FIX_HEAD for every group of the queue; also forgets groups that have emptied.
REPAIR = Statement.of(
    """
    WITH emptied AS (
        DELETE FROM queue_groups WHERE queue = :queue::text AND live = 0
    )
    UPDATE queue_messages m SET is_head = true
    FROM (
        SELECT (SELECT min(n.seq) FROM queue_messages n
                WHERE n.queue = g.queue AND n.group_id = g.group_id) AS seq
        FROM queue_groups g
        WHERE g.queue = :queue::text AND g.live > 0 AND NOT EXISTS (
            SELECT 1 FROM queue_messages h
            WHERE h.queue = g.queue AND h.group_id = g.group_id AND h.is_head
        )
    ) headless
    WHERE m.seq = headless.seq
    """
)
