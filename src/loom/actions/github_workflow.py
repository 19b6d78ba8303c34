"""The `github-workflow` action: start a `workflow_dispatch` run with templated inputs,
then wait (kind `github-run`) until the run completes: conclusion `success` completes
the task (outputs `runId`, `runUrl`, `conclusion`, plus any read from an artifact with
`outputsFrom`), any other conclusion fails it with the run's URL.

Which run did the dispatch start? GitHub says so when asked (`return_run_details`,
github.com since 2026); otherwise Loom looks for the newest `workflow_dispatch` run of
that workflow on that ref created since the dispatch, which is ambiguous when others
dispatch the same workflow at the same time. To make it exact, declare an input named
`loom_task_id` and show it in the run's name:

    on:
      workflow_dispatch:
        inputs:
          loom_task_id: {description: "Set by Loom", required: false}
    run-name: "Provision ${{ inputs.name }} (${{ inputs.loom_task_id }})"

Loom reads the workflow file at the ref: when it declares that input, the task id is
passed in it; when the run name uses it, only the run whose name carries the task id is
taken, and `reconcile` can find the run of an attempt that crashed after dispatching
(without it, a retried task dispatches again).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import GithubWorkflowConfig
from loom.actions.calls import CallResult
from loom.actions.github_artifacts import read_outputs
from loom.actions.waits import CheckResult, Wait
from loom.integrations.github import GithubClient

TASK_INPUT = "loom_task_id"
WAIT_KIND = "github-run"
CHECK_EVERY_SECONDS = 30.0
#: Runs created this long before GitHub's clock said the dispatch happened still count.
CLOCK_MARGIN = timedelta(seconds=10)
#: A dispatched run not listed after this long is given up on.
RUN_APPEARS_WITHIN = timedelta(minutes=10)
_TITLE_USES_TASK = re.compile(r"\$\{\{\s*inputs\." + TASK_INPUT + r"\s*\}\}")

Ctx = ActionContext[GithubWorkflowConfig]


class GithubWorkflow:
    """Executor of `github-workflow` tasks."""

    config_model: ClassVar[type[BaseModel]] = GithubWorkflowConfig

    async def execute(self, ctx: Ctx) -> ActionResult:
        config = ctx.config
        client = GithubClient(ctx, config.instance)
        workflow = await client.workflow(config.repo, config.workflow)
        takes_task, titled = await _task_input(client, config, str(workflow.get("path", "")))
        inputs = _inputs(config.inputs)
        if takes_task:
            inputs[TASK_INPUT] = str(ctx.task_id)
        answer = await client.dispatch(config.repo, str(workflow["id"]), config.ref, inputs)
        state: dict[str, Any] = {
            "instance": client.name, "repo": config.repo, "workflow": str(workflow["id"]),
            "ref": config.ref, "since": _since(answer), "byTitle": titled,
        }  # fmt: skip
        details = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
        if details.get("workflow_run_id"):
            state.update(runId=int(details["workflow_run_id"]), runUrl=details.get("html_url"))
        else:
            run = await _find_run(client, state, str(ctx.task_id))
            if run is not None:
                state.update(runId=int(run["id"]), runUrl=run.get("html_url"))
        ctx.log(f"dispatched {workflow.get('name') or config.workflow} on {config.ref}")
        return _started(ctx, state)

    async def reconcile(self, ctx: Ctx) -> ActionResult | None:
        """The run of an earlier attempt, when the workflow names runs after the task."""
        config = ctx.config
        client = GithubClient(ctx, config.instance)
        workflow = await client.workflow(config.repo, config.workflow)
        _takes, titled = await _task_input(client, config, str(workflow.get("path", "")))
        if not titled:
            ctx.log(f"the workflow's run-name does not use {TASK_INPUT}: dispatching again")
            return None
        task = str(ctx.task_id)
        runs = await client.runs(config.repo, str(workflow["id"]), config.ref)
        ours = [run for run in runs if task in str(run.get("display_title", ""))]
        if not ours:
            ctx.log("no run names this task: dispatching")
            return None
        run = ours[0]
        ctx.log(f"found run {run.get('html_url')} of an earlier attempt: not dispatching again")
        state = {
            "instance": client.name, "repo": config.repo, "workflow": str(workflow["id"]),
            "ref": config.ref, "since": str(run.get("created_at")), "byTitle": True,
            "runId": int(run["id"]), "runUrl": run.get("html_url"),
        }  # fmt: skip
        return _started(ctx, state)

    async def check(self, ctx: Ctx, state: Mapping[str, Any]) -> CheckResult:
        """Find the run if it is not known yet, then read its status."""
        client = GithubClient(ctx, state.get("instance"))
        repo = str(state["repo"])
        if state.get("runId") is None:
            run = await _find_run(client, state, str(ctx.task_id))
            if run is None:
                since = datetime.fromisoformat(str(state["since"]))
                if datetime.now(UTC) - since > RUN_APPEARS_WITHIN + CLOCK_MARGIN:
                    return CheckResult.failed(
                        f"no run of workflow {state['workflow']} on {state['ref']} appeared "
                        f"within {RUN_APPEARS_WITHIN} of the dispatch"
                    )
                return CheckResult.waiting("waiting for the dispatched run to appear")
        else:
            run = await client.run(repo, int(state["runId"]))
        url = str(run.get("html_url"))
        new_state = {**state, "runId": int(run["id"]), "runUrl": url}
        status, conclusion = run.get("status"), run.get("conclusion")
        if status != "completed":
            return CheckResult.waiting(f"workflow run {url} is {status}", new_state)
        if conclusion != "success":
            return CheckResult.failed(f"workflow run {url} concluded {conclusion}")
        outputs: dict[str, Any] = {"runId": int(run["id"]), "runUrl": url, "conclusion": conclusion}
        wanted = ctx.config.outputs_from
        if wanted is not None:
            archive = await client.artifact_zip(repo, int(run["id"]), wanted.artifact)
            try:
                outputs.update(read_outputs(archive, wanted))
            except ActionFailed as exc:
                return CheckResult.failed(f"workflow run {url}: {exc.message}")
        return CheckResult.done(outputs, {"url": url})


def _started(ctx: Ctx, state: dict[str, Any]) -> ActionResult:
    """The result once a run is started: outputs known so far, and the wait."""
    outputs = {"runId": state["runId"], "runUrl": state["runUrl"]} if "runId" in state else {}
    refs = {"url": str(state["runUrl"])} if state.get("runUrl") else {}
    result = ctx.result(outputs, refs)
    if ctx.config.wait:
        where = state.get("runUrl") or "the dispatched run"
        result.wait = Wait(
            WAIT_KIND,
            f"waiting for workflow run {where} to complete",
            state,
            every_seconds=CHECK_EVERY_SECONDS,
            timeout_seconds=ctx.config.wait_timeout_minutes * 60,
            timeout_message="the workflow run did not complete in time",
        )
    return result


async def _task_input(
    client: GithubClient, config: GithubWorkflowConfig, path: str
) -> tuple[bool, bool]:
    """(the workflow declares `loom_task_id`, its run-name shows it), read from the
    workflow file at the ref; (False, False) when it cannot be read."""
    file = await client.get_file(config.repo, path, config.ref) if path else None
    if file is None or file.get("encoding") != "base64":
        return False, False
    try:
        document = yaml.safe_load(base64.b64decode(str(file.get("content", ""))))
    except (ValueError, yaml.YAMLError):
        return False, False
    if not isinstance(document, dict):
        return False, False
    trigger = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    dispatch = trigger.get("workflow_dispatch") if isinstance(trigger, dict) else None
    inputs = dispatch.get("inputs") if isinstance(dispatch, dict) else None
    declared = isinstance(inputs, dict) and TASK_INPUT in inputs
    titled = declared and bool(_TITLE_USES_TASK.search(str(document.get("run-name", ""))))
    return declared, titled


def _inputs(values: Mapping[str, Any]) -> dict[str, str]:
    """Dispatch inputs as the text GitHub expects (true/false, numbers, JSON)."""
    inputs: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            inputs[name] = "true" if value else "false"
        elif isinstance(value, dict | list):
            inputs[name] = json.dumps(value)
        else:
            inputs[name] = str(value)
    return inputs


def _since(answer: CallResult) -> str:
    """When the dispatch happened by GitHub's clock (its Date header), less a margin."""
    try:
        at = parsedate_to_datetime(answer.headers["date"])
    except (KeyError, TypeError, ValueError):
        at = datetime.now(UTC)
    return (at - CLOCK_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _find_run(
    client: GithubClient, state: Mapping[str, Any], task: str
) -> dict[str, Any] | None:
    """The run the dispatch started: the one named after the task when the workflow's
    run-name shows it, else the newest created since the dispatch."""
    runs = await client.runs(
        str(state["repo"]), str(state["workflow"]), str(state["ref"]), str(state["since"])
    )
    if state.get("byTitle"):
        runs = [run for run in runs if task in str(run.get("display_title", ""))]
    return runs[0] if runs else None
