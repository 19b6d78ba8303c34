"""Actions whose work finishes later: a ticket that must reach done, a workflow run, a
Terraform apply, a pull request to be merged, an approval, a callback.

Such an action does its first step in `execute` (create the ticket, dispatch the
workflow) and returns an `ActionResult` whose `wait` says what it now waits for. The
task becomes `waiting`: it holds no worker and no queue group, and nothing runs in a
loop. The leased periodic check calls the executor's `check(ctx, state)` for each wait
that is due (every `every_seconds`), until it answers done or failed or the wait times
out; an API call or a webhook may complete a wait sooner. When a wait completes, the
outputs of `execute` and of the final check are the task's outputs, and the next task of
the request is queued in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from loom.actions.base import ActionContext

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass(frozen=True)
class Wait:
    """What a task waits for. `state` is JSON data the executor's `check` needs (a
    ticket key, a run id); `reason` is shown on the request page."""

    kind: str
    reason: str
    state: dict[str, Any] = field(default_factory=dict)
    every_seconds: float = 30.0
    timeout_seconds: float | None = None
    timeout_message: str = "the wait timed out"


@dataclass(frozen=True)
class CheckResult:
    """One look at what a task waits for. `waiting` may carry a new `reason` (run
    queued → running) and a new `state`; `done` carries outputs and external references;
    `failed` an error a person can act on (secrets masked)."""

    status: Literal["waiting", "done", "failed"]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    external_refs: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None
    state: Mapping[str, Any] | None = None

    @classmethod
    def waiting(
        cls, reason: str | None = None, state: Mapping[str, Any] | None = None
    ) -> CheckResult:
        return cls("waiting", reason=reason, state=state)

    @classmethod
    def done(
        cls,
        outputs: Mapping[str, Any] | None = None,
        external_refs: Mapping[str, str] | None = None,
    ) -> CheckResult:
        return cls("done", outputs=dict(outputs or {}), external_refs=dict(external_refs or {}))

    @classmethod
    def failed(cls, error: str) -> CheckResult:
        return cls("failed", error=error)


class Checker(Protocol[ConfigT]):
    """An executor that can wait implements `check` besides `execute`/`reconcile`. It
    must be cheap and idempotent (one or two reads); a raised ActionFailed or transport
    error counts as "still waiting" and is logged, never as a failure of the task, so a
    flaky remote cannot fail a request that is merely waiting."""

    async def check(self, ctx: ActionContext[ConfigT], state: Mapping[str, Any]) -> CheckResult: ...
