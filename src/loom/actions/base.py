"""What every action executor implements, and what it is given and gives back.

An executor (`RestApi`, later `JiraTicket`, `GithubCommit`...) is a small object with a
`config_model` and two coroutines:

* `execute(ctx)` does the work once and returns an `ActionResult`, or raises
  `ActionFailed`;
* `reconcile(ctx)` runs first on any attempt after the first (the task was redelivered
  after a worker died mid-attempt, or a person retried it): it looks for the effect of
  an earlier attempt (a ticket labelled with the task id, a commit whose message names
  it) and returns its result, or None when nothing was found and `execute` must run.

Failures are never retried automatically: an `ActionFailed` fails the task and stops the
request until a human retries, aborts or escalates it. Its `retryable` flag only tells
that human whether a plain retry may succeed.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from loom.api.correlation import set_correlation_id
from loom.audit.masking import MASK
from loom.platform.http import CircuitOpen, HttpClients, OutboundRefused
from loom.platform.logging import get_logger
from loom.settings import Settings

if TYPE_CHECKING:
    from loom.actions.waits import Checker, CheckResult, Wait

LogLevel = Literal["debug", "info", "warning", "error"]
ConfigT = TypeVar("ConfigT", bound=BaseModel)
_log = get_logger("loom.actions")
#: A call sized by ActionContext.timeout() ends this long before the task's deadline.
DEADLINE_MARGIN_SECONDS = 0.25


class ActionFailed(Exception):
    """The action could not do its work. The task fails and the request waits for a
    human; nothing retries it automatically.

    `retryable` is advice for that human: True when the cause may pass by itself (a
    timeout, a 5xx, an open circuit) so that a plain retry may succeed; False when the
    same config would fail the same way (a 4xx, a refused host, a missing output) and
    something must change first. The message must be safe to show: no secrets in it.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class LogLine:
    """One line of a task's execution log."""

    at: datetime
    level: LogLevel
    message: str


@dataclass
class ActionResult:
    """What a successful action leaves behind: `outputs` (flat keys later tasks read as
    `.output.<key>`), `external_refs` (where to find its effect: `{"url": ...,
    "ticket": "OPS-12"}`) and the log lines it wrote."""

    outputs: dict[str, Any] = field(default_factory=dict)
    external_refs: dict[str, str] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    #: Set when the work finishes later (see loom.actions.waits): the task waits.
    wait: Wait | None = None


@dataclass
class ActionContext(Generic[ConfigT]):
    """Everything one attempt of one task may use.

    `config` is already rendered and validated. `secrets` holds only this task's secret
    values (form fields by path); they, and any value passed to `add_secret`, are masked
    in every line given to `log`. `deadline` is a `clock()` time after which the worker
    gives up on the attempt; `timeout()` sizes a call to fit before it. `env` is where
    `${env:NAME}` references are read (the process environment unless a test says
    otherwise). `on_log` lets the worker store lines as they are written.
    """

    request_id: uuid.UUID | str
    task_id: uuid.UUID | str
    attempt: int
    config: ConfigT
    http: HttpClients
    settings: Settings
    secrets: Mapping[str, str] = field(default_factory=dict)
    correlation_id: str | None = None
    deadline: float | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    on_log: Callable[[LogLine], None] | None = None
    clock: Callable[[], float] = time.monotonic
    #: The task's form values (its `.current`; secret fields are not among them), who
    #: asked (email, name, teams), and the external references of the request's earlier
    #: completed tasks in task order (the previous ticket to link to, say).
    inputs: Mapping[str, Any] = field(default_factory=dict)
    requester: Mapping[str, Any] = field(default_factory=dict)
    earlier_refs: Sequence[Mapping[str, Any]] = ()
    lines: list[LogLine] = field(default_factory=list, init=False)
    _masked: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempt < 1:
            raise ValueError("attempt is 1-based")
        self._masked.update(value for value in self.secrets.values() if value)

    def add_secret(self, value: str) -> None:
        """Mask `value` from now on (a token read from the environment, say)."""
        if value:
            self._masked.add(value)

    def mask(self, text: str) -> str:
        """`text` with every known secret value replaced by the mask (longest first, so
        that a secret containing another one is masked whole)."""
        for value in sorted(self._masked, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def log(self, message: str, level: LogLevel = "info") -> None:
        """Add a line to the task log, secrets masked."""
        line = LogLine(datetime.now(UTC), level, self.mask(message))
        self.lines.append(line)
        if self.on_log is not None:
            self.on_log(line)

    def time_left(self) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - self.clock()

    def timeout(self, wanted: float) -> float:
        """`wanted`, cut to end a little before the deadline (so that the call reports
        its own timeout first); ActionFailed if the deadline is (nearly) there."""
        left = self.time_left()
        if left is None:
            return wanted
        if left <= DEADLINE_MARGIN_SECONDS:
            raise ActionFailed("the task ran out of time", retryable=True)
        return min(wanted, left - DEADLINE_MARGIN_SECONDS)

    def result(
        self, outputs: dict[str, Any] | None = None, external_refs: dict[str, str] | None = None
    ) -> ActionResult:
        """An ActionResult carrying the lines logged so far."""
        return ActionResult(dict(outputs or {}), dict(external_refs or {}), list(self.lines))


class Action(Protocol[ConfigT]):
    """An action executor; see the module docstring. Executors hold no per-task state:
    one instance serves every task of its type, concurrently."""

    config_model: ClassVar[type[BaseModel]]

    async def execute(self, ctx: ActionContext[ConfigT]) -> ActionResult:
        """Do the work. Raise ActionFailed on failure (never retried automatically)."""
        ...

    async def reconcile(self, ctx: ActionContext[ConfigT]) -> ActionResult | None:
        """Find the effect of an earlier attempt of `ctx.task_id`; None: run again."""
        ...


async def run_action(action: Action[Any], ctx: ActionContext[Any]) -> ActionResult:
    """Run `action.execute(ctx)` the way workers should: with the task's correlation id
    bound for logs and outgoing calls, bounded by the deadline, and every failure turned
    into an ActionFailed whose message is masked and logged to the task."""
    result: ActionResult = await _guarded(action.execute(ctx), ctx)
    return result


async def run_reconcile(action: Action[Any], ctx: ActionContext[Any]) -> ActionResult | None:
    """`action.reconcile(ctx)` with the same treatment as `run_action`."""
    result: ActionResult | None = await _guarded(action.reconcile(ctx), ctx)
    return result


async def run_check(
    checker: Checker[Any], ctx: ActionContext[Any], state: Mapping[str, Any]
) -> CheckResult:
    """`checker.check(ctx, state)` (a waiting task's periodic look) with the same
    treatment as `run_action`."""
    result: CheckResult = await _guarded(checker.check(ctx, state), ctx)
    return result


async def _guarded(work: Coroutine[Any, Any, Any], ctx: ActionContext[Any]) -> Any:
    async def bound() -> Any:
        if ctx.correlation_id:
            set_correlation_id(ctx.correlation_id)  # in this task's own copy of the context
        return await work

    left = ctx.time_left()
    try:
        if left is not None and left <= 0:
            raise TimeoutError
        async with asyncio.timeout(left):
            return await asyncio.create_task(bound())
    except Exception as exc:
        failure = _as_failure(exc, ctx)
    finally:
        if inspect.getcoroutinestate(work) == inspect.CORO_CREATED:
            work.close()  # cancelled before it started: not an error worth a warning
    ctx.log(failure.message, "error")
    raise failure


def _as_failure(exc: Exception, ctx: ActionContext[Any]) -> ActionFailed:
    """What a human reading the task should see, secrets masked."""
    if isinstance(exc, ActionFailed):
        message, retryable = exc.message, exc.retryable
    elif isinstance(exc, TimeoutError):
        message, retryable = "the task ran out of time", True
    elif isinstance(exc, OutboundRefused):
        message, retryable = str(exc), isinstance(exc, CircuitOpen)
    elif isinstance(exc, httpx.TransportError):
        message, retryable = f"{type(exc).__name__}: {exc}", True
    else:
        message, retryable = f"unexpected error: {type(exc).__name__}: {exc}", False
        trace = "".join(traceback.format_exception(exc))
        _log.error("action_crashed", task_id=str(ctx.task_id), traceback=ctx.mask(trace))
    masked = ctx.mask(message)
    if isinstance(exc, ActionFailed) and masked == exc.message:
        return exc
    failure = ActionFailed(masked, retryable=retryable)
    failure.__cause__ = exc
    return failure
