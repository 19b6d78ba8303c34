"""The `approval` action: the request waits until enough people approve it.

`execute` calls nobody: it turns the rendered config into a wait of kind `approval`
whose state names the approvers (teams with a minimum role, people by email), how many
must approve, and whether `autoApproveIf` rendered true (then the task completes at
once, audited as auto-approved). Decisions arrive through
`POST /requests/{id}/approve|reject` (loom.provisioning.approvals); the periodic check
has nothing to look at, but the wait's deadline (`timeoutHours`) fails the request with
"approval expired". A retried approval asks again: decisions of the earlier one do not
count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import ApprovalConfig
from loom.actions.waits import CheckResult, Wait

KIND = "approval"
TIMEOUT_MESSAGE = "approval expired"
#: Nothing to poll: the check only needs to come round for the deadline.
_NO_DEADLINE_EVERY_SECONDS = 24 * 3600.0


def approvers_text(teams: Sequence[Mapping[str, Any]], users: Sequence[str]) -> str:
    """ "team payments or alice@example.com" (who may decide, in words)."""
    names = [f"team {t['team']}" for t in teams] + list(users)
    return " or ".join(names)


def waiting_reason(state: Mapping[str, Any], approved: int) -> str:
    """ "waiting for approval by team payments (1 of 2)"."""
    who = approvers_text(state.get("teams", []), state.get("users", []))
    return f"waiting for approval by {who} ({approved} of {state.get('required', 1)})"


def _auto_approved(value: bool | str | None) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ActionFailed(f"autoApproveIf must render to true or false, not {value!r}")


class Approval:
    """Executor of `approval` tasks."""

    config_model: ClassVar[type[BaseModel]] = ApprovalConfig

    async def execute(self, ctx: ActionContext[ApprovalConfig]) -> ActionResult:
        config = ctx.config
        auto = _auto_approved(config.auto_approve_if)
        state: dict[str, Any] = {
            "teams": [{"team": t.team, "minRole": t.min_role} for t in config.teams],
            "users": [u.strip().lower() for u in config.users],
            "required": config.required,
            "autoApproved": auto,
        }
        reason = "auto-approved: autoApproveIf is true" if auto else waiting_reason(state, 0)
        ctx.log(reason)
        timeout = config.timeout_hours * 3600 if config.timeout_hours is not None else None
        result = ctx.result()
        result.wait = Wait(
            KIND,
            reason,
            state,
            every_seconds=timeout or _NO_DEADLINE_EVERY_SECONDS,
            timeout_seconds=timeout,
            timeout_message=TIMEOUT_MESSAGE,
        )
        return result

    async def reconcile(self, ctx: ActionContext[ApprovalConfig]) -> ActionResult | None:
        return None  # asking again is harmless: the earlier wait is replaced

    async def check(
        self, ctx: ActionContext[ApprovalConfig], state: Mapping[str, Any]
    ) -> CheckResult:
        return CheckResult.waiting()  # decisions arrive through the API
