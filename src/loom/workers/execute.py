"""Running the action of a task: the action type's executor, given the task's config.
Action types whose executors are not built yet fail the task with a clear message (a
person can retry once the integration exists) rather than pretending to succeed."""

from __future__ import annotations

from loom.actions.registry import action_types
from loom.workers.runner import ActionOutcome, TaskRun


async def execute_action(run: TaskRun) -> ActionOutcome:
    action_type = action_types().get(run.action_type)
    executor = getattr(action_type, "executor", None)
    if action_type is None or executor is None:
        return ActionOutcome(
            ok=False,
            error=f"action type '{run.action_type}' cannot run yet: no executor is installed",
        )
    return ActionOutcome(ok=False, error="executors are wired in the next change")
