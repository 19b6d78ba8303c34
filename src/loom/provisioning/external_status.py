"""Where a request's tasks stand in outside systems, looked up on demand (the request
page, `GET /requests/{id}?include=external_status`): each task that opened a JIRA ticket
gets the ticket's current status in Loom's words (open, in_progress, done). Nothing
polls. A lookup that fails (JIRA down, slow, ticket gone, instance no longer configured)
becomes an error note on its task, never a failure of the page."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed
from loom.integrations.jira import JiraClient
from loom.platform.http import HttpClients
from loom.settings import Settings

#: The page waits at most this long for JIRA; lookups run side by side, a few at a time.
LOOKUP_SECONDS = 5.0
CONCURRENT_LOOKUPS = 8


@dataclass(frozen=True)
class ExternalStatus:
    system: str
    key: str
    url: str
    status: str | None = None
    raw_status: str | None = None
    error: str | None = None


class _NoConfig(BaseModel):
    pass


async def external_statuses(
    request_id: uuid.UUID,
    refs_by_task: Mapping[uuid.UUID, Mapping[str, Any]],
    http: HttpClients,
    settings: Settings,
) -> dict[uuid.UUID, ExternalStatus]:
    """The status of each task's ticket, by task id (tasks without one are left out)."""
    limit = asyncio.Semaphore(CONCURRENT_LOOKUPS)
    deadline = time.monotonic() + LOOKUP_SECONDS

    async def one(task_id: uuid.UUID, refs: Mapping[str, Any]) -> ExternalStatus:
        async with limit:
            return await _jira_status(request_id, task_id, refs, http, settings, deadline)

    wanted = {task_id: refs for task_id, refs in refs_by_task.items() if refs.get("jira")}
    found = await asyncio.gather(*(one(task_id, refs) for task_id, refs in wanted.items()))
    return dict(zip(wanted, found, strict=True))


async def _jira_status(
    request_id: uuid.UUID,
    task_id: uuid.UUID,
    refs: Mapping[str, Any],
    http: HttpClients,
    settings: Settings,
    deadline: float,
) -> ExternalStatus:
    key, url = str(refs["jira"]), str(refs.get("url") or "")
    ctx: ActionContext[Any] = ActionContext(
        request_id=request_id, task_id=task_id, attempt=1, config=_NoConfig(), http=http,
        settings=settings, deadline=deadline,
    )  # fmt: skip
    try:
        client = JiraClient.of(ctx, str(refs.get("jira_instance") or "") or None, retries=1)
        async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
            found = await client.status(key)
    except ActionFailed as failure:
        return ExternalStatus("jira", key, url, error=failure.message)
    except TimeoutError:
        return ExternalStatus("jira", key, url, error=f"JIRA did not answer within "
                              f"{LOOKUP_SECONDS:g} s")  # fmt: skip
    except Exception as exc:  # the page must show, whatever went wrong here
        return ExternalStatus("jira", key, url, error=f"unexpected error: {type(exc).__name__}")
    return ExternalStatus("jira", key, url or found.url, found.status, found.raw_status)
