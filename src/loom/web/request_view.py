"""A request as its page shows it, built from the API's own shape (`RequestDetail`, with
its secret inputs already masked): the header, the task timeline, the log lines, the
form values, and which of Retry, Abort, Escalate and Complete the viewer may use (the
request service's rules: the operator role in the request's team, and a state that
allows it).
Pure functions: no database, no HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from loom.audit.masking import mask_secrets
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog.documents import Document
from loom.provisioning.models import TaskLog
from loom.provisioning.schemas import RequestDetail, TaskOut
from loom.provisioning.states import REQUEST_FINAL, REQUEST_TRANSITIONS, RequestState
from loom.web.catalog_form import titles, value_rows
from loom.web.timefmt import duration, moment

#: States a person can retry from (`loom.provisioning.service.retry`).
RETRYABLE = frozenset({RequestState.FAILED, RequestState.ESCALATED})


def is_final(state: str) -> bool:
    return RequestState(state) in REQUEST_FINAL


def header(detail: RequestDetail, team: str) -> dict[str, Any]:
    return {
        "state": detail.state,
        "final": is_final(detail.state),
        "progress": f"{detail.tasks_completed} of {detail.tasks_total}",
        "completed": detail.tasks_completed,
        "total": detail.tasks_total,
        "created": moment(detail.created_at),
        "finished": moment(detail.finished_at),
        "error": detail.error,
        "team": team,
    }


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _pairs(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Outputs or external references, secret-looking keys masked; links stay links."""
    rows = []
    for key, value in mask_secrets(values).items():
        text = _shown(value)
        link = text if text.startswith(("https://", "http://")) else None
        rows.append({"key": key, "value": text, "link": link})
    return rows


def _task(task: TaskOut) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "number": task.position + 1,
        "component": task.component_id,
        "item": task.item_id,
        "action": task.action_id,
        "type": task.action_type,
        "state": task.state,
        "attempts": task.attempts,
        "queued": moment(task.queued_at),
        "started": moment(task.started_at),
        "finished": moment(task.finished_at),
        "took": duration(task.started_at, task.finished_at),
        "outputs": _pairs(task.outputs),
        "refs": _pairs(task.external_refs),
        "error": task.error,
    }


def timeline(detail: RequestDetail) -> list[dict[str, Any]]:
    return [_task(t) for t in detail.tasks]


def log_lines(lines: Iterable[TaskLog], detail: RequestDetail) -> list[dict[str, Any]]:
    numbers: dict[uuid.UUID, int] = {t.id: t.position + 1 for t in detail.tasks}
    return [
        {
            "at": moment(line.at),
            "level": line.level,
            "task": numbers.get(line.task_id) if line.task_id else None,
            "message": line.message,
        }
        for line in lines
    ]


def input_rows(
    document: Document, inputs: dict[str, Any], secret_fields: Iterable[str]
) -> list[dict[str, str]]:
    """The request's form values under their titles (secrets as the mask)."""
    form = document.spec.form
    return value_rows(form, inputs, secret_fields, titles(form))


def permissions(principal: Principal, team_id: uuid.UUID, state: str) -> dict[str, bool]:
    """What the viewer may do now; the service checks the same again on the post."""
    role = principal.role_in(team_id)
    operator = role is not None and role >= Role.OPERATOR and "write" in principal.scopes
    current = RequestState(state)
    return {
        "retry": operator and current in RETRYABLE,
        "abort": operator and RequestState.ABORTED in REQUEST_TRANSITIONS[current],
        # loom.provisioning.escalation: escalate a failure, complete what people did.
        "escalate": operator and current == RequestState.FAILED,
        "complete": operator and current == RequestState.ESCALATED,
    }
