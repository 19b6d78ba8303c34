"""The request and task lifecycles are transition tables: every allowed pair applies,
every other pair is refused and writes nothing."""

from __future__ import annotations

import itertools
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.service import Actor
from loom.auth.models import Team
from loom.auth.models import User as UserRow
from loom.errors import IllegalTransition
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.states import (
    REQUEST_TRANSITIONS,
    TASK_TRANSITIONS,
    RequestState,
    TaskState,
)
from loom.provisioning.transitions import set_request_state, set_task_state


async def _request(app: FastAPI, state: RequestState, task_state: TaskState) -> uuid.UUID:
    async with app.state.runtime.sessions() as s, s.begin():
        team = await s.scalar(select(Team))
        user = await s.scalar(select(UserRow))
        assert team is not None and user is not None
        request = Request(
            org_id=team.org_id,
            team_id=team.id,
            requester_id=user.id,
            kind="CatalogItem",
            entry_id="x",
            entry_name="X",
            entry_version="1",
            entry_digest="d",
            definition={},
            inputs={},
            state=state,
            correlation_id="c",
            tasks_total=1,
        )
        s.add(request)
        await s.flush()
        s.add(FulfillmentTask(
            request_id=request.id, org_id=team.org_id, position=0, item_id="x", action_id="a",
            action_type="rest-api", config={}, state=task_state,
        ))  # fmt: skip
        return request.id


@pytest.mark.sqlite_only
async def test_every_request_state_pair(app: FastAPI) -> None:
    for current, target in itertools.product(RequestState, RequestState):
        request_id = await _request(app, current, TaskState.PENDING)
        async with app.state.runtime.sessions() as s:
            async with s.begin():
                request = await s.get(Request, request_id)
                assert request is not None
                if target in REQUEST_TRANSITIONS[current]:
                    await set_request_state(s, request, target, Actor.system("test"))
                    continue
                with pytest.raises(IllegalTransition):
                    await set_request_state(s, request, target, Actor.system("test"))
            stored = await s.get(Request, request_id, populate_existing=True)
            assert stored is not None and stored.state == current, (current, target)


@pytest.mark.sqlite_only
async def test_every_task_state_pair(app: FastAPI) -> None:
    for current, target in itertools.product(TaskState, TaskState):
        request_id = await _request(app, RequestState.PROCESSING, current)
        async with app.state.runtime.sessions() as s:
            async with s.begin():
                request = await s.get(Request, request_id)
                assert request is not None
                await s.refresh(request, ["tasks"])
                task = request.tasks[0]
                if target in TASK_TRANSITIONS[current]:
                    await set_task_state(s, request, task, target)
                    assert task.state == target
                    continue
                with pytest.raises(IllegalTransition):
                    await set_task_state(s, request, task, target)
            stored = await s.scalar(
                select(FulfillmentTask.state).where(FulfillmentTask.request_id == request_id)
            )
            assert stored == current, (current, target)
