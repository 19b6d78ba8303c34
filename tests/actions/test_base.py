"""base: the context an action gets (masked log lines, deadline, results) and the way
workers run it (correlation id bound, deadline enforced, every failure an ActionFailed
that is masked and logged)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel

from loom.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    LogLine,
    run_action,
    run_reconcile,
)
from loom.actions.registry import ActionType
from loom.api.correlation import correlation_id, set_correlation_id
from loom.audit.masking import MASK
from loom.platform.http import CircuitOpen, HostNotAllowed, HttpClients
from loom.settings import HttpSettings, Settings


class NoteConfig(BaseModel):
    text: str = "hello"


class Scripted:
    """An action whose execute does whatever the test hands it."""

    config_model: ClassVar[type[BaseModel]] = NoteConfig

    def __init__(self, behaviour: Any = None, found: ActionResult | None = None) -> None:
        self.behaviour = behaviour
        self.found = found
        self.seen_correlation_id: str | None = None

    async def execute(self, ctx: ActionContext[NoteConfig]) -> ActionResult:
        self.seen_correlation_id = correlation_id()
        ctx.log(f"note: {ctx.config.text}")
        if self.behaviour is not None:
            await self.behaviour(ctx)
        return ctx.result({"text": ctx.config.text}, {"url": "https://x.example/1"})

    async def reconcile(self, ctx: ActionContext[NoteConfig]) -> ActionResult | None:
        self.seen_correlation_id = correlation_id()
        return self.found


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[HttpClients]:
    clients = HttpClients(HttpSettings(), [])
    yield clients
    await clients.aclose()


@pytest.fixture
def make_ctx(http: HttpClients) -> Any:
    def make(**extra: Any) -> ActionContext[NoteConfig]:
        values: dict[str, Any] = {
            "request_id": uuid.uuid4(),
            "task_id": uuid.uuid4(),
            "attempt": 1,
            "config": NoteConfig(),
            "http": http,
            "settings": Settings(env="test"),
            **extra,
        }
        return ActionContext(**values)

    return make


async def failed(action: Scripted, ctx: ActionContext[NoteConfig]) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        await run_action(action, ctx)
    return caught.value


# --- context -----------------------------------------------------------------------


def test_log_lines_are_masked_and_handed_to_the_sink(make_ctx: Any) -> None:
    stored: list[LogLine] = []
    ctx = make_ctx(secrets={"db.password": "hunter22", "empty": ""}, on_log=stored.append)
    ctx.add_secret("env-token-1")
    ctx.add_secret("")
    ctx.log("connecting with hunter22 and env-token-1")
    ctx.log("password hunter22hunter22 twice", "warning")
    assert [(line.level, line.message) for line in ctx.lines] == [
        ("info", f"connecting with {MASK} and {MASK}"),
        ("warning", f"password {MASK}{MASK} twice"),
    ]
    assert stored == ctx.lines


def test_the_longest_secret_is_masked_whole(make_ctx: Any) -> None:
    ctx = make_ctx(secrets={"a": "abc", "b": "abcdef"})
    assert ctx.mask("x abcdef y abc") == f"x {MASK} y {MASK}"


def test_attempts_count_from_one(make_ctx: Any) -> None:
    with pytest.raises(ValueError, match="1-based"):
        make_ctx(attempt=0)


def test_timeouts_fit_before_the_deadline(make_ctx: Any) -> None:
    clock = FakeClock()
    assert make_ctx().timeout(30) == 30
    ctx = make_ctx(deadline=clock.now + 10, clock=clock)
    assert ctx.time_left() == 10
    assert ctx.timeout(30) == pytest.approx(9.75)
    assert ctx.timeout(2) == 2
    clock.now += 10
    with pytest.raises(ActionFailed, match="ran out of time") as caught:
        ctx.timeout(30)
    assert caught.value.retryable


def test_result_carries_the_lines_so_far(make_ctx: Any) -> None:
    ctx = make_ctx()
    ctx.log("one")
    result = ctx.result({"k": 1}, {"ticket": "OPS-1"})
    ctx.log("two")
    assert (result.outputs, result.external_refs) == ({"k": 1}, {"ticket": "OPS-1"})
    assert [line.message for line in result.logs] == ["one"]


def test_an_executor_must_match_its_type_config() -> None:
    class Other(BaseModel):
        pass

    ActionType("note", "Write a note", NoteConfig, executor=Scripted())
    with pytest.raises(ValueError, match="its executor expects NoteConfig, not Other"):
        ActionType("note", "Write a note", Other, executor=Scripted())


# --- running -----------------------------------------------------------------------


async def test_a_run_binds_the_task_correlation_id_and_restores_the_callers(
    make_ctx: Any,
) -> None:
    set_correlation_id("the-worker-loop")
    action = Scripted()
    result = await run_action(action, make_ctx(correlation_id="task-cid"))
    assert action.seen_correlation_id == "task-cid"
    assert correlation_id() == "the-worker-loop"
    assert result.outputs == {"text": "hello"}
    assert [line.message for line in result.logs] == ["note: hello"]
    await run_reconcile(action, make_ctx(correlation_id="other-cid"))
    assert action.seen_correlation_id == "other-cid"


async def test_reconcile_returns_what_it_found(make_ctx: Any) -> None:
    found = ActionResult({"key": "OPS-9"}, {"ticket": "OPS-9"})
    assert await run_reconcile(Scripted(found=found), make_ctx()) is found
    assert await run_reconcile(Scripted(), make_ctx()) is None


async def test_an_action_failure_is_logged_and_passed_on(make_ctx: Any) -> None:
    async def refuse(_ctx: ActionContext[NoteConfig]) -> None:
        raise ActionFailed("remote said no", retryable=True)

    ctx = make_ctx()
    failure = await failed(Scripted(refuse), ctx)
    assert (failure.message, failure.retryable) == ("remote said no", True)
    assert (ctx.lines[-1].level, ctx.lines[-1].message) == ("error", "remote said no")


async def test_a_failure_message_is_masked(make_ctx: Any) -> None:
    async def leak(ctx: ActionContext[NoteConfig]) -> None:
        raise ActionFailed(f"bad key {ctx.secrets['key']}")

    ctx = make_ctx(secrets={"key": "sk-live-1234"})
    assert (await failed(Scripted(leak), ctx)).message == f"bad key {MASK}"


@pytest.mark.parametrize(
    ("error", "message", "retryable"),
    [
        (
            RuntimeError("boom with sk-live-1234"),
            f"unexpected error: RuntimeError: boom with {MASK}",
            False,
        ),
        (HostNotAllowed("refused 10.0.0.1: private"), "refused 10.0.0.1: private", False),
        (
            CircuitOpen("rest-api h", 12),
            "circuit open for rest-api h: recent calls failed; next trial in 12 s",
            True,
        ),
        (httpx.ConnectError("connection refused"), "ConnectError: connection refused", True),
        (httpx.ReadTimeout("read timed out"), "ReadTimeout: read timed out", True),
    ],
)
async def test_other_errors_become_action_failures(
    make_ctx: Any, error: Exception, message: str, retryable: bool
) -> None:
    async def crash(_ctx: ActionContext[NoteConfig]) -> None:
        raise error

    ctx = make_ctx(secrets={"key": "sk-live-1234"})
    failure = await failed(Scripted(crash), ctx)
    assert (failure.message, failure.retryable) == (message, retryable)
    assert failure.__cause__ is error
    assert ctx.lines[-1].message == message


async def test_the_deadline_stops_a_slow_action(make_ctx: Any) -> None:
    clock = FakeClock()

    async def dawdle(_ctx: ActionContext[NoteConfig]) -> None:
        await asyncio.sleep(5)

    ctx = make_ctx(deadline=clock.now + 0.1, clock=clock)
    failure = await failed(Scripted(dawdle), ctx)
    assert (failure.message, failure.retryable) == ("the task ran out of time", True)


async def test_a_task_past_its_deadline_does_not_start(make_ctx: Any) -> None:
    clock = FakeClock()
    action = Scripted()
    ctx = make_ctx(deadline=clock.now, clock=clock)
    assert (await failed(action, ctx)).message == "the task ran out of time"
    assert action.seen_correlation_id is None and [line.message for line in ctx.lines] == [
        "the task ran out of time"
    ]


async def test_cancellation_is_not_turned_into_a_failure(make_ctx: Any) -> None:
    started = asyncio.Event()

    async def wait(_ctx: ActionContext[NoteConfig]) -> None:
        started.set()
        await asyncio.sleep(5)

    ctx = make_ctx()
    task = asyncio.create_task(run_action(Scripted(wait), ctx))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [line.level for line in ctx.lines] == ["info"]
