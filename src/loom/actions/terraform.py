"""The `terraform-run` action: a run in a Terraform Cloud / Terraform Enterprise
workspace, its variables templated, the task waiting until the run has finished; its
outputs are the workspace's state outputs.

`execute` finds the workspace, queues a run whose message names the task (`Loom task
<task id>`), and returns a wait of kind `terraform-run`. Variables go with the run as
run-specific variables, each value an HCL expression (`"text"`, `3`, `true`, lists and
objects). A variable whose value holds a secret of the task (a secret form field) is
written instead as a sensitive workspace variable before the run starts: Terraform
keeps run variables in plain text with the run, visible to anyone who can read it.

`check` reads the run: applied (or planned with nothing to change) completes the task
with the state outputs (sensitive ones read one by one, masked in every log line); a
plan-only run completes with `has_changes`; errored, discarded, canceled or
force-canceled fails it, naming the status and the run's URL. A run that awaits
confirmation is confirmed when `autoApply` holds, else left for a person in Terraform
("waiting for apply confirmation").

`reconcile` looks for a run of the workspace whose message names the task, so a worker
that died after queueing the run resumes waiting for it instead of starting another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import TerraformRunConfig
from loom.actions.waits import CheckResult, Wait
from loom.integrations import hcl
from loom.integrations.terraform import (
    OutputsNotReady,
    Run,
    StateOutput,
    TerraformClient,
    Workspace,
)

WAIT_KIND = "terraform-run"
CHECK_EVERY_SECONDS = 30.0
FAILED_STATUSES = frozenset({"errored", "discarded", "canceled", "force_canceled"})
FINISHED_STATUSES = frozenset({"applied", "planned_and_finished"})
_OVERRIDE_STATUSES = frozenset({"policy_soft_failed", "policy_override"})


def run_marker(task_id: object) -> str:
    """What every run started for a task carries in its message."""
    return f"Loom task {task_id}"


class TerraformRun:
    """Executor of `terraform-run` tasks."""

    config_model: ClassVar[type[BaseModel]] = TerraformRunConfig

    async def execute(self, ctx: ActionContext[TerraformRunConfig]) -> ActionResult:
        config = ctx.config
        client = TerraformClient.for_context(ctx, config.instance)
        workspace = await client.workspace(
            client.organization(config.organization), config.workspace
        )
        in_run, secret = _split_variables(ctx, config.variables)
        if secret:
            await _set_sensitive(client, workspace, secret)
            ctx.log("set as sensitive workspace variables: " + ", ".join(sorted(secret)))
        marker = run_marker(ctx.task_id)
        run = await client.create_run(
            workspace.id,
            message=f"{marker}: {config.message}" if config.message else marker,
            is_destroy=config.operation == "destroy",
            plan_only=config.operation == "plan",
            auto_apply=_auto_apply(config),
            variables=in_run,
        )
        ctx.log(f"queued Terraform run {run.id} in {workspace.organization}/{workspace.name}")
        return _waiting(ctx, client, workspace, run)

    async def reconcile(self, ctx: ActionContext[TerraformRunConfig]) -> ActionResult | None:
        config = ctx.config
        client = TerraformClient.for_context(ctx, config.instance)
        workspace = await client.workspace(
            client.organization(config.organization), config.workspace
        )
        run = await client.find_run(workspace.id, run_marker(ctx.task_id), str(ctx.task_id))
        if run is None:
            ctx.log("no run of an earlier attempt: starting one")
            return None
        ctx.log(f"found run {run.id} of an earlier attempt ({run.status}): not starting another")
        return _waiting(ctx, client, workspace, run)

    async def check(
        self, ctx: ActionContext[TerraformRunConfig], state: Mapping[str, Any]
    ) -> CheckResult:
        client = TerraformClient.for_context(ctx, state["instance"])
        run = await client.run(state["run_id"])
        url, status = state["run_url"], run.status
        if status in FAILED_STATUSES:
            return CheckResult.failed(f"Terraform run {run.id} ended {status}: {url}")
        if status in FINISHED_STATUSES:
            return await _finished(ctx, client, state, run)
        if run.is_confirmable and not run.plan_only:
            if not state["auto_apply"]:
                return CheckResult.waiting("waiting for apply confirmation")
            if await client.apply(run.id, run_marker(ctx.task_id)):
                ctx.log(f"confirmed the apply of run {run.id}")
            return CheckResult.waiting("apply confirmed")
        if status in _OVERRIDE_STATUSES:
            return CheckResult.waiting(f"run {status}: waiting for a policy override")
        return CheckResult.waiting(f"run {status}")


def _auto_apply(config: TerraformRunConfig) -> bool:
    if config.operation == "plan":
        return False
    return config.auto_apply if config.auto_apply is not None else config.operation == "apply"


def _waiting(
    ctx: ActionContext[TerraformRunConfig],
    client: TerraformClient,
    workspace: Workspace,
    run: Run,
) -> ActionResult:
    """The result of a queued (or found) run: the task waits for it to finish."""
    config = ctx.config
    url = client.run_url(workspace.organization, workspace.name, run.id)
    ctx.log(f"run {run.id}: {url}")
    result = ctx.result({"run_id": run.id, "run_url": url}, {"url": url, "run": run.id})
    result.wait = Wait(
        WAIT_KIND,
        f"Terraform run {run.status}",
        {
            "instance": client.name,
            "organization": workspace.organization,
            "workspace": workspace.name,
            "workspace_id": workspace.id,
            "run_id": run.id,
            "run_url": url,
            "operation": config.operation,
            "auto_apply": _auto_apply(config),
            "outputs": config.outputs,
        },
        every_seconds=CHECK_EVERY_SECONDS,
        timeout_seconds=config.timeout_minutes * 60,
        timeout_message=f"Terraform run {run.id} did not finish in {config.timeout_minutes} "
        f"minutes: {url}",
    )
    return result


async def _finished(
    ctx: ActionContext[Any], client: TerraformClient, state: Mapping[str, Any], run: Run
) -> CheckResult:
    refs = {"url": state["run_url"], "run": run.id}
    if state["operation"] == "plan":
        ctx.log(f"plan finished: {'changes' if run.has_changes else 'no changes'}")
        return CheckResult.done({"has_changes": run.has_changes}, refs)
    if state["operation"] == "destroy":
        return CheckResult.done({}, refs)
    try:
        outputs = await _collect_outputs(ctx, client, state)
    except OutputsNotReady:
        return CheckResult.waiting("applied: waiting for the state outputs")
    except ActionFailed as exc:
        if exc.retryable:
            raise
        # The run is over: an unreadable state will not become readable by waiting.
        return CheckResult.failed(f"run {run.id} {run.status}, but {exc.message}")
    if isinstance(outputs, str):
        return CheckResult.failed(outputs)
    return CheckResult.done(outputs, refs)


async def _collect_outputs(
    ctx: ActionContext[Any], client: TerraformClient, state: Mapping[str, Any]
) -> dict[str, Any] | str:
    """The outputs the config asks for, or why they cannot be had."""
    listed = {output.name: output for output in await client.outputs(state["workspace_id"])}
    wanted = sorted(listed) if state["outputs"] == "all" else list(state["outputs"])
    missing = [name for name in wanted if name not in listed]
    if missing:
        has = ", ".join(sorted(listed)) or "none"
        return (
            f"output {', '.join(missing)} not in the state of workspace "
            f"{state['organization']}/{state['workspace']} (it has: {has}): {state['run_url']}"
        )
    values: dict[str, Any] = {}
    for name in wanted:
        output: StateOutput = listed[name]
        if output.sensitive:
            output = await client.output(output.id)
            for text in _strings(output.value):
                ctx.add_secret(text)
        values[name] = output.value
    shown = [f"{n} (sensitive)" if listed[n].sensitive else n for n in wanted]
    ctx.log("outputs: " + (", ".join(shown) or "none"))
    return values


def _split_variables(
    ctx: ActionContext[Any], variables: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run variables, variables holding a secret of the task)."""
    in_run: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in variables.items():
        holds_secret = any(ctx.mask(text) != text for text in _strings(value))
        (secret if holds_secret else in_run)[key] = value
    return in_run, secret


async def _set_sensitive(
    client: TerraformClient, workspace: Workspace, variables: Mapping[str, Any]
) -> None:
    existing = await client.variables(workspace.id)
    for key, value in variables.items():
        is_text = isinstance(value, str)
        try:
            text = value if is_text else hcl.encode(value)
        except ValueError as exc:
            raise ActionFailed(f"variable {key!r}: {exc}") from None
        await client.set_variable(
            workspace.id, key, text, hcl_value=not is_text, sensitive=True, existing=existing
        )


def _strings(value: Any) -> Iterator[str]:
    """Every text inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
