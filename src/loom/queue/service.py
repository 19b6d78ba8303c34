"""What operators do with the named queues, shared by the API and the portal: pick one
of `settings.queue.names` (any other name is not found) and redrive a dead letter,
audited in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import NotFound
from loom.platform.runtime import Runtime
from loom.queue.factory import queue_for
from loom.queue.protocol import Queue


def named_queue(runtime: Runtime, name: str) -> Queue:
    if name not in runtime.settings.queue.names:
        raise NotFound(f"no queue named {name!r}")
    return queue_for(runtime, name)


async def redrive(
    session: AsyncSession, runtime: Runtime, admin: Principal, name: str, message_id: str
) -> None:
    """Put a dead letter back at the tail of its group, its receive count reset (the
    queue does this at once, on its own connection); the audit entry goes with the
    caller's transaction."""
    await named_queue(runtime, name).redrive(message_id)
    await audit.record(
        session,
        org_id=admin.org_id,
        actor=admin,
        action="queue.redrive",
        target_type="queue_message",
        target_id=message_id,
        after={"queue": name},
    )
