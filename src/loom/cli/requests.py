"""`loom request`: plan and submit catalog items and bundles, follow them (a live progress
bar with `--wait`), read their tasks and logs, retry or abort them."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loom.cli.connect import connect
from loom.cli.form_values import assign, read_values
from loom.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    emit,
    emit_record,
    err_console,
    fail,
    info,
    plural,
    readable,
)
from loom.client import LoomClient
from loom.client.requests import RequestDetail, RequestFilter, RequestStatus

request_app = typer.Typer(
    help="Requests of catalog items and bundles: submit, follow, retry, abort.",
    no_args_is_help=True,
)


class StateName(StrEnum):
    submitted = "submitted"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    retrying = "retrying"
    aborted = "aborted"
    escalated = "escalated"


COLUMNS = ["id", "item", "state", "progress", "created_at", "finished_at"]
TASK_COLUMNS = ["position", "action", "type", "state", "attempts", "outputs", "external_refs",
                "error"]  # fmt: skip
_STATE_STYLE = {
    "completed": "green",
    "failed": "bold red",
    "aborted": "yellow",
    "escalated": "bold red",
}

_RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request's id")]
_Item = Annotated[str, typer.Argument(metavar="ITEM", help="A catalog item's or bundle's id")]
_Team = Annotated[
    str | None, typer.Option("--team", "-t", help="Team slug or id (default: your only team)")
]
_Values = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="FIELD=VALUE",
        help="A form value; group.field=value for a group's field; repeat the same field "
        "for several options of a multi-enum",
    ),
]
_File = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="A YAML or JSON file of form values (--set wins)"),
]
_Interval = Annotated[
    float, typer.Option("--interval", help="Seconds between polls with --wait", min=0.05)
]


def _inputs(values: list[str] | None, file: Path | None) -> dict[str, Any]:
    """The form values of `--file` with `--set` over them (a field set there replaces the
    file's value; set twice on the command line, it is a list)."""
    assigned: dict[str, Any] = {}
    for assignment in values or []:
        assign(assigned, assignment)
    return _merge(read_values(file) if file else {}, assigned)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _styled(state: str) -> str:
    style = _STATE_STYLE.get(state, "bold")
    return f"[{style}]{state}[/{style}]"


def _tracking_url(client: LoomClient, path: str) -> str:
    return path if path.startswith(("http://", "https://")) else client.base_url + path


@request_app.command("plan")
def plan(
    item: _Item,
    team: _Team = None,
    values: _Values = None,
    file: _File = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Validate form values and show every task a request would run; nothing is stored.
    Invalid input exits 1, naming each field."""
    inputs = _inputs(values, file)
    with connect() as client:
        found = client.requests.plan(item, inputs, team=team)
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
        return
    info(f"{found.item} {found.version}: {plural(len(found.tasks), 'task')}, team {found.team_id}")
    rows = [
        {
            "position": t.position,
            "component": t.component_id,
            "action": t.action_id,
            "type": t.action_type,
            "config": t.config,
            "outputs": t.outputs,
        }
        for t in found.tasks
    ]
    emit(rows, output, ["position", "component", "action", "type", "config", "outputs"])


@request_app.command("submit")
def submit(
    item: _Item,
    team: _Team = None,
    values: _Values = None,
    file: _File = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Follow it until it completes, fails or ends")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Submitting again with the same key returns the first request"),
    ] = None,
    interval: _Interval = 2.0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Request a catalog item or bundle; print its id, state and tracking URL. With
    --wait, show its progress until it completes (exit 0) or fails or is aborted (exit 1).
    Invalid input exits 1, naming each field."""
    inputs = _inputs(values, file)
    with connect() as client:
        request = client.requests.submit(item, inputs, team=team, idempotency_key=idempotency_key)
        url = _tracking_url(client, request.url)
        if output is not OutputFormat.json:
            console.print(
                f"request [bold]{request.id}[/bold] {_styled(request.state)}: "
                f"{request.item_name} ({request.item} {request.version}), {request.progress}",
                soft_wrap=True,
                highlight=False,
            )
            info(f"track it: {url}")
        if not wait:
            if output is OutputFormat.json:
                emit({**request.model_dump(mode="json"), "tracking_url": url}, output)
            return
        final = _wait(client, request, interval, show=output is not OutputFormat.json)
    _finish(final, url, output)


@request_app.command("wait")
def wait_(
    request_id: _RequestId,
    interval: _Interval = 2.0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Follow a request until it completes (exit 0) or fails or is aborted (exit 1)."""
    with connect() as client:
        request = client.requests.get(request_id)
        url = _tracking_url(client, request.url)
        final = _wait(client, request, interval, show=output is not OutputFormat.json)
    _finish(final, url, output)


def _wait(
    client: LoomClient, request: RequestDetail, interval: float, *, show: bool
) -> RequestDetail:
    """Poll the request's status until it settles; a progress bar "N of M completed"."""
    status = client.requests.status(request.id)
    if not show:
        while not status.settled:
            time.sleep(interval)
            status = client.requests.status(request.id)
        return client.requests.get(request.id)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    with progress:
        bar = progress.add_task(status.state, total=max(len(status.tasks), 1), counts="")
        while True:
            _advance(progress, bar, status)
            if status.settled:
                break
            time.sleep(interval)
            status = client.requests.status(request.id)
    return client.requests.get(request.id)


def _advance(progress: Progress, bar: Any, status: RequestStatus) -> None:
    total = len(status.tasks)
    done = status.completed
    progress.update(
        bar,
        description=status.state,
        total=max(total, 1),
        completed=done,
        counts=f"{done} of {total} completed",
    )


def _finish(request: RequestDetail, url: str, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        emit({**request.model_dump(mode="json"), "tracking_url": url}, output)
    else:
        console.print(
            f"request {request.id} {_styled(request.state)}: {request.progress}",
            soft_wrap=True,
            highlight=False,
        )
        if request.error:
            typer.echo(f"error: {request.error}")
        for task in request.tasks:
            if task.error:
                typer.echo(f"task {task.position} {task.action_id}: {task.error}")
    if request.state != "completed":
        raise typer.Exit(1)


@request_app.command("list")
def list_(
    all_teams: Annotated[
        bool, typer.Option("--all-teams", help="Your teams' requests, not only yours")
    ] = False,
    state: Annotated[StateName | None, typer.Option(help="Only requests in this state")] = None,
    item: Annotated[str | None, typer.Option(help="Only requests of this item or bundle")] = None,
    team_id: Annotated[str | None, typer.Option(help="Only this team's (an id)")] = None,
    limit: Annotated[int, typer.Option(help="Requests per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List requests, newest first (yours; --all-teams: your teams')."""
    try:
        where = RequestFilter(
            mine=not all_teams,
            state=state.value if state else None,
            item=item,
            team_id=team_id,  # type: ignore[arg-type]
        )
    except ValueError:
        fail(f"--team-id {team_id!r} is not a UUID")
    with connect() as client:
        if all_pages:
            found = list(client.requests.iter(where, page_size=limit))
            next_cursor = None
        else:
            page = client.requests.list(where, limit=limit, cursor=cursor)
            found, next_cursor = page.items, page.next_cursor
    data = [r.model_dump(mode="json") for r in found]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": next_cursor}, output)
        return
    emit(data, output, COLUMNS)
    if next_cursor:
        info(f"more requests: --cursor {next_cursor}")


@request_app.command("show")
def show(request_id: _RequestId, output: OutputOption = OutputFormat.table) -> None:
    """Show a request: its item, state, inputs (secrets masked) and every task with its
    state, outputs, external references and error."""
    with connect() as client:
        request = client.requests.get(request_id)
        url = _tracking_url(client, request.url)
    data = request.model_dump(mode="json")
    if output is OutputFormat.json:
        emit(data, output)
        return
    record: dict[str, Any] = {
        key: data.get(key)
        for key in (
            "id", "item", "item_name", "kind", "version", "state", "progress", "team_id",
            "requester_id", "created_at", "finished_at", "commit_sha", "correlation_id",
        )
    }  # fmt: skip
    record["url"] = url
    for key, value in request.inputs.items():
        record[f"inputs.{key}"] = readable(value)
    for key, value in request.outputs.items():
        record[f"outputs.{key}"] = readable(value)
    if request.error:
        record["error"] = request.error
    emit_record(record, output)
    rows = [
        {
            "position": t.position,
            "action": t.action_id
            if t.component_id == t.item_id
            else f"{t.component_id}.{t.action_id}",
            "type": t.action_type,
            "state": t.state,
            "attempts": t.attempts,
            "outputs": t.outputs or None,
            "external_refs": t.external_refs or None,
            "error": t.error,
        }
        for t in request.tasks
    ]
    emit(rows, output, TASK_COLUMNS, title="tasks")


@request_app.command("logs")
def logs(request_id: _RequestId, output: OutputOption = OutputFormat.table) -> None:
    """Show a request's log, oldest first."""
    with connect() as client:
        request = client.requests.get(request_id)
        lines = client.requests.logs(request_id)
    data = [line.model_dump(mode="json") for line in lines]
    if output is OutputFormat.json:
        emit(data, output)
        return
    positions = {str(t.id): t.position for t in request.tasks}
    rows = [
        {**row, "task": positions.get(str(row.get("task_id")), row.get("task_id"))} for row in data
    ]
    emit(rows, output, ["at", "level", "task", "message"])


@request_app.command("retry")
def retry(
    request_id: _RequestId,
    values: _Values = None,
    file: _File = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Re-queue a failed request's failed task and those after it (operators); --set or
    --file correct its input (re-validated, the whole input is replaced)."""
    inputs = _inputs(values, file) if values or file else None
    with connect() as client:
        request = client.requests.retry(request_id, inputs)
    _print_changed(request, output, "retried")


@request_app.command("abort")
def abort(request_id: _RequestId, output: OutputOption = OutputFormat.table) -> None:
    """Skip every task of a request not done yet and end it (operators)."""
    with connect() as client:
        request = client.requests.abort(request_id)
    _print_changed(request, output, "aborted")


def _print_changed(request: RequestDetail, output: OutputFormat, verb: str) -> None:
    if output is OutputFormat.json:
        emit(request.model_dump(mode="json"), output)
        return
    console.print(
        f"request {request.id} {verb}: {_styled(request.state)}, {request.progress}",
        soft_wrap=True,
        highlight=False,
    )
