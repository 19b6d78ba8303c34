"""Running the action of a task: render its config with the variable engine, validate it
against the action type's schema, and call the type's executor (or, for a task
attempted before, ask the executor to reconcile first). Action types whose
executors are not built yet fail the task with a clear message rather than pretend.
`prepare` is also how the periodic check of a waiting task renders its config again
(loom.workers.wait_checks), and `render_task` how an escalation shows a task's setup in
its ticket (loom.provisioning.escalation)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from loom.actions.base import Action, ActionContext, ActionFailed, run_action, run_reconcile
from loom.actions.builtin import CallbackConfig
from loom.actions.registry import ActionType, action_types
from loom.catalog.cache import ServedEntry
from loom.catalog.sync import catalog_cache
from loom.db.types import utcnow
from loom.platform.http import http_clients
from loom.platform.runtime import Runtime
from loom.provisioning import callbacks
from loom.provisioning.component_inputs import at_run_time, pinned_component
from loom.provisioning.templating import TemplateError, Variables, render_config, system_values
from loom.workers.runner import ActionOutcome, Execute, TaskRun


async def _metadata(runtime: Runtime, run: TaskRun) -> dict[str, Any]:
    """`.metadata.<item>`: the served catalog, with the request's pinned items on top."""
    metadata: dict[str, Any] = {}
    if run.org_id is not None:
        async with runtime.sessions() as session:
            served = await catalog_cache(runtime).entries(session, run.org_id)
        metadata = {k: _with_owner(e) for k, e in served.items()}
    pinned = [run.definition.get("entry", {}), *run.definition.get("items", {}).values()]
    for document in pinned:
        meta = document.get("metadata") if isinstance(document, dict) else None
        if isinstance(meta, dict) and "id" in meta:
            metadata[meta["id"]] = meta
    return metadata


def _reads_metadata(run: TaskRun) -> bool:
    """Whether a template the task renders may read `.metadata`: its config, or for a
    bundle's task the bundle's component inputs. A text search, since a reference to the
    namespace always spells `.metadata`; a false hit only costs the catalog lookup."""
    sources: list[Any] = [run.config]
    if run.component_id:
        sources.append(run.definition.get("entry", {}).get("spec", {}).get("components"))
    return ".metadata" in json.dumps(sources, default=str)


def _with_owner(entry: ServedEntry) -> dict[str, Any]:
    """An entry's metadata, its owner filled in from CODEOWNERS when not written."""
    meta = entry.document.metadata.model_dump(by_alias=True)
    meta["owner"] = meta.get("owner") or entry.owner_team
    return meta


def variables_of(runtime: Runtime, run: TaskRun, metadata: dict[str, Any]) -> Variables:
    settings = runtime.settings
    return Variables(
        current=run.inputs,
        output=run.outputs_so_far,
        metadata=metadata,
        system=system_values(
            request_id=str(run.request_id),
            correlation_id=run.correlation_id,
            timestamp=run.requested_at or utcnow(),
            user_email=run.requester.get("email", ""),
            user_name=run.requester.get("name", ""),
            user_teams=run.requester.get("teams", []),
            region=settings.region,
            environment=settings.environment,
            task_id=str(run.task_id),
            callback_url=_callback_url(runtime, run),
        ),
    )


def _callback_url(runtime: Runtime, run: TaskRun) -> str | None:
    """`.system.callbackUrl`: only a callback task has one, signed afresh per render."""
    if run.action_type != callbacks.KIND:
        return None
    hours = run.config.get("timeoutHours", CallbackConfig.model_fields["timeout_hours"].default)
    if not isinstance(hours, int | float):
        hours = CallbackConfig.model_fields["timeout_hours"].default
    return callbacks.callback_url(runtime.settings, run.task_id, hours)


def _with_component_inputs(run: TaskRun, variables: Variables) -> tuple[Variables, list[str]]:
    """Render the bundle component inputs that wait for run time (they read outputs of
    earlier tasks or `.system`): with the bundle's values as `.current`."""
    found = pinned_component(run.definition, run.component_id) if run.component_id else None
    if found is None:
        return variables, []
    component, item = found
    inputs, warnings = at_run_time(
        component, item, run.inputs, replace(variables, current=run.request_inputs)
    )
    return replace(variables, current=inputs), warnings


@dataclass
class Prepared:
    """A task ready to run: its executor and the context with its rendered config."""

    executor: Action[Any]
    ctx: ActionContext[Any]
    notes: list[str]


@dataclass
class Rendered:
    """A task's config rendered (not validated yet), with the variables it was rendered
    with and the template warnings."""

    action_type: ActionType | None  # None: a type this Loom does not know
    value: Any
    variables: Variables
    notes: list[str]


async def render_task(
    runtime: Runtime, run: TaskRun, pending: Mapping[str, int] | None = None
) -> Rendered | ActionOutcome:
    """Render the task's config as a worker does; an ActionOutcome (a failure) when that
    is not possible. `pending`: outputs not produced yet, rendered "known after task N"
    (an escalation shows the setup of tasks people will do after an earlier one)."""
    action_type = action_types().get(run.action_type)
    metadata = await _metadata(runtime, run) if _reads_metadata(run) else {}
    variables = variables_of(runtime, run, metadata)
    if pending:
        variables = replace(variables, pending=dict(pending))
    try:
        variables, input_warnings = _with_component_inputs(run, variables)
    except (TemplateError, ValueError) as exc:
        message = exc.message if isinstance(exc, TemplateError) else str(exc)
        return ActionOutcome(ok=False, error=f"component input: {message}")
    try:
        model = action_type.config_model if action_type is not None else None
        rendered = render_config(run.config, variables, model=model)
    except TemplateError as exc:
        return ActionOutcome(ok=False, error=f"the config could not be rendered: {exc.message}")
    notes = [f"template: {w}" for w in (*input_warnings, *rendered.warnings)]
    return Rendered(action_type, rendered.value, variables, notes)


async def prepare(runtime: Runtime, run: TaskRun) -> Prepared | ActionOutcome:
    """Render and validate the task's config and build its context; an ActionOutcome
    (a failure) when that is not possible."""
    action_type = action_types().get(run.action_type)
    if action_type is None or action_type.executor is None:
        return ActionOutcome(
            ok=False,
            error=f"action type '{run.action_type}' cannot run yet: no executor is installed",
        )
    rendered = await render_task(runtime, run)
    if isinstance(rendered, ActionOutcome):
        return rendered
    variables, notes = rendered.variables, rendered.notes
    try:
        config = action_type.config_model.model_validate(rendered.value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return ActionOutcome(
            ok=False, log=notes, error=f"rendered config is invalid at {where}: {first['msg']}"
        )
    ctx: ActionContext[Any] = ActionContext(
        request_id=run.request_id, task_id=run.task_id, attempt=max(run.attempt, 1),
        config=config, http=http_clients(runtime), settings=runtime.settings,
        secrets=run.secrets, correlation_id=run.correlation_id,
        inputs=variables.current, requester=run.requester, earlier_refs=run.earlier_refs,
    )  # fmt: skip
    return Prepared(action_type.executor, ctx, notes)


def executor_for_runtime(runtime: Runtime) -> Execute:
    async def execute(run: TaskRun) -> ActionOutcome:
        prepared = await prepare(runtime, run)
        if isinstance(prepared, ActionOutcome):
            return prepared
        executor, ctx, notes = prepared.executor, prepared.ctx, prepared.notes
        try:
            result = None
            # An earlier attempt may have taken effect unrecorded: its worker died mid-call
            # (the task is redelivered), or it got stuck or failed and a person retried it.
            if run.attempt > 1:
                result = await run_reconcile(executor, ctx)
                if result is not None:
                    notes.append("found the effect of the earlier attempt: not running again")
            if result is None:
                result = await run_action(executor, ctx)
        except ActionFailed as failure:
            return ActionOutcome(
                ok=False, error=failure.message, log=notes + [line.message for line in ctx.lines]
            )
        # A result with a wait (from execute or reconcile alike) leaves the task waiting.
        return ActionOutcome(
            ok=True,
            outputs=dict(result.outputs),
            external_refs=dict(result.external_refs),
            log=notes + [line.message for line in result.logs or ctx.lines],
            wait=result.wait,
        )

    return execute
