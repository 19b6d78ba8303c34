"""Callback URLs: how an outside system completes (or fails) a waiting `callback` task.

The URL (`.system.callbackUrl` in a callback task's config) carries a token signed with
the app's secret key: the task id, when it was issued and when it expires. The token is
the only credential of `POST /api/v1/callbacks/{token}`, and it works once:

* a token that does not verify is refused as unauthenticated (401);
* an expired one, one whose wait already ended (it was used, or the request was
  aborted), or one issued to an earlier attempt of the task (a person retried it) is
  gone (410);
* a report with outputs the task does not declare, or without one it declares, is
  refused (422) and the token stays usable.

Nothing changes in any refused case.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.actions.callback import KIND
from loom.audit import service as audit
from loom.db.types import utcnow
from loom.errors import FieldIssue, Gone, InvalidInput, NotAuthenticated
from loom.provisioning import waits
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.service import Enqueue
from loom.provisioning.transitions import lock_request, log_line
from loom.settings import Settings

__all__ = ["KIND", "callback_url", "read_token", "receive"]

CALLBACK = audit.Actor.system("callback")
PATH = "/api/v1/callbacks/"
_SALT = "loom.task-callback"
MAX_OUTPUTS_CHARS = 64 * 1024


@dataclass(frozen=True)
class Token:
    task_id: uuid.UUID
    issued_ms: int
    expires_at: datetime


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt=_SALT)


def base_url(settings: Settings) -> str:
    """Where outside systems reach this Loom: `server.public_url`, else host and port."""
    server = settings.server
    return server.public_url.rstrip("/") or f"http://{server.host}:{server.port}"


def callback_url(
    settings: Settings, task_id: uuid.UUID, timeout_hours: float, now: datetime | None = None
) -> str:
    now = now or utcnow()
    expires = now + timedelta(hours=timeout_hours)
    payload = {
        "task": str(task_id),
        "iat": int(now.timestamp() * 1000),
        "exp": int(expires.timestamp()),
    }
    return base_url(settings) + PATH + str(_serializer(settings).dumps(payload))


def read_token(settings: Settings, token: str, now: datetime | None = None) -> Token:
    """The verified content of a token; NotAuthenticated if forged, Gone if expired."""
    try:
        payload = _serializer(settings).loads(token)
        parsed = Token(
            uuid.UUID(payload["task"]),
            int(payload["iat"]),
            datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotAuthenticated("this callback URL is not valid") from None
    if parsed.expires_at <= (now or utcnow()):
        raise Gone("this callback URL has expired")
    return parsed


@dataclass(frozen=True)
class Report:
    """What the outside system says: success with outputs, or failure with an error."""

    status: Literal["success", "failure"]
    outputs: dict[str, Any]
    error: str | None = None


async def receive(
    session: AsyncSession, settings: Settings, token: str, report: Report, enqueue: Enqueue
) -> Request:
    """Complete or fail the task the token names (see the module docstring)."""
    now = utcnow()
    found = read_token(settings, token, now)
    request_id = await session.scalar(
        select(FulfillmentTask.request_id).where(FulfillmentTask.id == found.task_id)
    )
    if request_id is None:
        raise Gone("the task of this callback URL no longer exists")
    request = await lock_request(session, request_id)
    task = next(t for t in request.tasks if t.id == found.task_id)
    row = await waits.open_wait(session, task)
    if row is None or row.kind != KIND:
        raise Gone("this callback URL was already used, or its task no longer waits")
    if task.started_at is not None and found.issued_ms < int(task.started_at.timestamp() * 1000):
        raise Gone("this callback URL belongs to an earlier attempt of the task")
    if row.deadline_at is not None and row.deadline_at <= now:
        raise Gone("this callback URL has expired")
    if report.status == "success":
        _check_outputs(task, report.outputs)
    await audit.record(
        session, org_id=request.org_id, actor=CALLBACK, action="request.callback",
        target_type="request", target_id=request.id, team_id=request.team_id,
        after={"task": task.action_id, "status": report.status, "error": report.error},
    )  # fmt: skip
    if report.status == "success":
        log_line(session, request.id, "callback received: success", task_id=task.id)
        await waits.complete_wait(
            session, request, task, enqueue, CALLBACK, outputs=report.outputs,
            reason="the callback reported success",
        )  # fmt: skip
    else:
        error = f"the callback reported failure: {report.error or 'no error given'}"
        await waits.fail_wait(session, request, task, error, CALLBACK)
    return request


def _check_outputs(task: FulfillmentTask, outputs: dict[str, Any]) -> None:
    declared = list(task.declared_outputs)
    issues = [
        FieldIssue(f"outputs.{key}", f"not an output of this task (declared: {_listed(declared)})")
        for key in sorted(set(outputs) - set(declared))
    ]
    issues += [
        FieldIssue(f"outputs.{key}", "is required (the task declares it)")
        for key in declared
        if key not in outputs
    ]
    if len(json.dumps(outputs, default=str)) > MAX_OUTPUTS_CHARS:
        issues.append(FieldIssue("outputs", f"larger than {MAX_OUTPUTS_CHARS} characters"))
    if issues:
        summary = "; ".join(f"{i.field}: {i.issue}" for i in issues[:3])
        raise InvalidInput(f"invalid callback outputs: {summary}", issues)


def _listed(names: list[str]) -> str:
    return ", ".join(names) if names else "none"
