"""Fixtures for the tests of waiting tasks (installed by this folder's conftest): two action types registered for the test
(`test-step` completes at once; `test-wait` waits, and its `check` answers what the test
scripted), a catalog using them with approvals and callbacks, people in teams, and a
worker loop that runs the real executors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select

from loom.actions import registry
from loom.actions.base import ActionContext, ActionResult
from loom.actions.registry import ActionType, action_types, register
from loom.actions.waits import CheckResult, Wait
from loom.app import create_app
from loom.auth.models import Membership, Team, User
from loom.auth.roles import Role
from loom.catalog.sync import sync
from loom.demo.fakes import FakeServer, Reply
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.execute import executor_for_runtime
from loom.workers.fast_path import fast_path_for
from loom.workers.runner import Outcome, run_task
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

PUBLIC_URL = "https://loom.example.com"


class StepConfig(BaseModel):
    label: str = ""


class Step:
    """`test-step`: completes at once, its output naming its label."""

    config_model: ClassVar[type[BaseModel]] = StepConfig

    async def execute(self, ctx: ActionContext[StepConfig]) -> ActionResult:
        return ctx.result({"step": f"done {ctx.config.label}".strip()})

    async def reconcile(self, ctx: ActionContext[StepConfig]) -> ActionResult | None:
        return None


class WaiterConfig(BaseModel):
    key: str = "T-1"
    timeout_seconds: float | None = None


@dataclass
class Waiter:
    """`test-wait`: opens ticket `key` and waits for it. Each check of a ticket answers
    the next of `answers[key]` (a CheckResult, or an exception to raise), then "still
    waiting"; `during_check` runs inside each check. With `reconcile_finds`, reconcile
    finds the earlier attempt's ticket (and waits for it again)."""

    config_model: ClassVar[type[BaseModel]] = WaiterConfig
    answers: dict[str, list[CheckResult | Exception]] = field(default_factory=dict)
    checked: list[dict[str, Any]] = field(default_factory=list)
    during_check: Callable[[], Awaitable[None]] | None = None
    reconcile_finds: bool = False

    async def execute(self, ctx: ActionContext[WaiterConfig]) -> ActionResult:
        key = ctx.config.key
        result = ctx.result({"ticket": key}, {"ticket": key})
        result.wait = Wait(
            "test-wait", f"waiting for {key} to be done", {"key": key, "looks": 0},
            every_seconds=60, timeout_seconds=ctx.config.timeout_seconds,
            timeout_message=f"{key} was not done in time",
        )  # fmt: skip
        return result

    async def reconcile(self, ctx: ActionContext[WaiterConfig]) -> ActionResult | None:
        return await self.execute(ctx) if self.reconcile_finds else None

    async def check(
        self, ctx: ActionContext[WaiterConfig], state: Mapping[str, Any]
    ) -> CheckResult:
        self.checked.append(dict(state))
        if self.during_check is not None:
            await self.during_check()
        queued = self.answers.get(state["key"], [])
        answer = queued.pop(0) if queued else CheckResult.waiting()
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def waiter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Waiter]:
    """The test action types, registered in a copy of the registry for this test only."""
    action_types()  # the built-in types first
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    fake = Waiter()
    register(ActionType("test-step", "A step that completes at once", StepConfig, Step()))
    register(ActionType("test-wait", "A step that waits", WaiterConfig, fake))
    yield fake


def _item(item_id: str, spec: str) -> str:
    return f"""\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: {item_id}, name: {item_id}, category: tests, owner: shop}}
spec:
  form:
    fields:
      - {{id: name, type: string, required: true}}
      - {{id: size, type: enum, options: [small, large], default: large}}
{spec}"""


STEP = """\
      - id: after
        type: test-step
        config: {label: "%s"}
        outputs: [step]
"""


def catalog(notify_url: str) -> dict[str, str]:
    return {
        "catalog/ticketed.yaml": _item(
            "ticketed",
            """\
  fulfillment:
    actions:
      - id: ticket
        type: test-wait
        config: {key: "{{ .current.name }}-1", timeout_seconds: 3600}
        outputs: [ticket]
"""
            + STEP % "{{ .output.ticket }}",
        ),
        "catalog/gated.yaml": _item(
            "gated",
            """\
  approval:
    teams: [{team: payments, minRole: operator}]
    users: [carol@loom.test]
    timeoutHours: 1
    autoApproveIf: "{{ .current.size == 'small' }}"
  fulfillment:
    actions:
"""
            + STEP % "{{ .current.name }}",
        ),
        "catalog/gated-two.yaml": _item(
            "gated-two",
            """\
  approval:
    teams: [{team: payments}]
    required: 2
  fulfillment:
    actions:
"""
            + STEP % "{{ .current.name }}",
        ),
        "catalog/called-back.yaml": _item(
            "called-back",
            f"""\
  fulfillment:
    actions:
      - id: hook
        type: callback
        config:
          timeoutHours: 2
          reason: waiting for the vendor
          notify:
            url: "{notify_url}"
            json: {{name: "{{{{ .current.name }}}}", callback: "{{{{ .system.callbackUrl }}}}"}}
        outputs: [vm_id]
"""
            + STEP % "{{ .output.vm_id }}",
        ),
    }


#: email → (team slug → role); everyone may also be in `shop`, the requesters' team.
PEOPLE: dict[str, dict[str, Role]] = {
    "rita@loom.test": {"shop": Role.OPERATOR, "payments": Role.OPERATOR},  # the requester
    "alice@loom.test": {"payments": Role.OPERATOR},
    "bob@loom.test": {"payments": Role.ADMIN},
    "victor@loom.test": {"payments": Role.VIEWER},
    "carol@loom.test": {},
    "dave@loom.test": {"shop": Role.OPERATOR},
}


@pytest.fixture
def notify_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("POST", "/notify", Reply(202, json={"queued": True}))
        yield server


@pytest.fixture
async def waits_app(
    database_url: str, tmp_path: Path, waiter: Waiter, notify_server: FakeServer
) -> AsyncIterator[FastAPI]:
    repo = write_catalog(tmp_path / "repo", catalog(notify_server.url + "/notify"))
    settings = make_settings(
        database_url, allowed_hosts=["127.0.0.1"], catalog={"source": str(repo)},
        server={"public_url": PUBLIC_URL},
    )  # fmt: skip
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        await _people(application)
        yield application


async def _people(app: FastAPI) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        teams = {slug: Team(org_id=org_id, slug=slug, name=slug) for slug in ("shop", "payments")}
        s.add_all(teams.values())
        for email, roles in PEOPLE.items():
            user = User(org_id=org_id, email=email, name=email.split("@")[0])
            s.add(user)
            await s.flush()
            for slug, role in roles.items():
                s.add(Membership(user_id=user.id, team_id=teams[slug].id, role=role))


@dataclass
class Api:
    """HTTP clients of the app, one per person."""

    app: FastAPI
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def as_(self, email: str) -> httpx.AsyncClient:
        if email not in self.clients:
            headers = bearer(await token_for(self.app, email))
            transport = httpx.ASGITransport(app=self.app)
            self.clients[email] = httpx.AsyncClient(
                transport=transport, base_url="http://loom.test", headers=headers
            )
        return self.clients[email]

    async def submit(self, item: str, *, by: str = "rita@loom.test", **inputs: Any) -> str:
        client = await self.as_(by)
        body = {"item": item, "team": "shop", "inputs": {"name": "shop", **inputs}}
        response = await client.post("/api/v1/requests", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def detail(self, request_id: str) -> dict[str, Any]:
        response = await (await self.as_(ADMIN_EMAIL)).get(f"/api/v1/requests/{request_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def logs(self, request_id: str) -> list[str]:
        client = await self.as_(ADMIN_EMAIL)
        lines = (await client.get(f"/api/v1/requests/{request_id}/logs")).json()
        return [line["message"] for line in lines]


@pytest.fixture
async def loom_api(waits_app: FastAPI) -> AsyncIterator[Api]:
    found = Api(waits_app)
    yield found
    for client in found.clients.values():
        await client.aclose()


async def drain(runtime: Runtime) -> list[Outcome]:
    """Run the queued tasks with the real executors until the queue is empty."""
    queue, execute = queue_for(runtime, TASK_QUEUE), executor_for_runtime(runtime)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    fast, outcomes = fast_path_for(runtime, queue, 1), []
    while messages := await queue.receive(1, 30.0):
        outcomes.append(await run_task(
            runtime.sessions, messages[0].body, receive_count=messages[0].receive_count,
            max_receives=3, secrets_key=key, execute=execute, enqueue=enqueue_for(runtime),
            timeout_seconds=30, fast=fast,
        ))  # fmt: skip
        await queue.delete(messages[0].receipt)
    return outcomes


def task_id_of(detail: Mapping[str, Any], position: int) -> uuid.UUID:
    return uuid.UUID(detail["tasks"][position]["id"])
