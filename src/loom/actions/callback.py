"""The `callback` action: the task waits until an outside system calls back.

Its config's templates may use `.system.callbackUrl`, a single-use signed URL the worker
issues for this task only (loom.provisioning.callbacks). `execute` makes the optional
`notify` call, a rest-api call written like one (through the same code,
loom.actions.rest_api.call), that hands the URL to the outside system; its outputMap
outputs become the task's. Then the task waits (kind `callback`) until the system POSTs
`{"status": "success", "outputs": {...}}` or `{"status": "failure", "error": "..."}` to
the URL, or until `timeoutHours` pass (the URL expires and the task fails).

A task attempted again (its worker died, or a person retried it) notifies again with a
new URL; a retried task refuses the URLs of its earlier attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions import rest_api
from loom.actions.base import ActionContext, ActionResult
from loom.actions.builtin import CallbackConfig
from loom.actions.waits import CheckResult, Wait

KIND = "callback"


class Callback:
    """Executor of `callback` tasks."""

    config_model: ClassVar[type[BaseModel]] = CallbackConfig

    async def execute(self, ctx: ActionContext[CallbackConfig]) -> ActionResult:
        config = ctx.config
        outputs: dict[str, Any] = {}
        refs: dict[str, str] = {}
        if config.notify is not None:
            notified = await rest_api.call(ctx, config.notify)
            outputs = notified.outputs
            refs = {"notified": notified.external_refs.get("url", "")}
        hours = config.timeout_hours
        ctx.log(f"{config.reason} (the callback URL expires in {hours:g} h)")
        result = ctx.result(outputs, refs)
        result.wait = Wait(
            KIND,
            config.reason,
            every_seconds=hours * 3600,  # nothing to poll: come round for the deadline only
            timeout_seconds=hours * 3600,
            timeout_message=f"no callback came within {hours:g} h",
        )
        return result

    async def reconcile(self, ctx: ActionContext[CallbackConfig]) -> ActionResult | None:
        return None  # notify again: the outside system gets a URL that works

    async def check(
        self, ctx: ActionContext[CallbackConfig], state: Mapping[str, Any]
    ) -> CheckResult:
        return CheckResult.waiting()  # the outside system calls back
