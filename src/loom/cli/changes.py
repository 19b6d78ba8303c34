"""`loom change`: record a change (a deployment, a config or feature-flag change, a
scaling, an infrastructure change) and list the organisation's changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, emit, emit_record, fail, info
from loom.client.changes import ChangeFilter

change_app = typer.Typer(help="Changes: deployments, config, flags, scaling.", no_args_is_help=True)


class ChangeTypeName(StrEnum):
    deployment = "deployment"
    config = "config"
    scaling = "scaling"
    feature_flag = "feature_flag"
    infrastructure = "infrastructure"


COLUMNS = ["happened_at", "type", "service", "environment", "version", "author", "title"]
FIELDS = ["id", "type", "source", "service", "environment", "version", "previous_version",
          "title", "description", "author", "happened_at", "url", "external_id",
          "deployment_id"]  # fmt: skip
When = Annotated[
    str | None, typer.Option(help="ISO 8601 with a time zone, e.g. 2026-11-27T10:00:00Z")
]


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not an ISO 8601 date and time")
    if moment.tzinfo is None:
        fail(f"{option} {value!r} needs a time zone (e.g. Z or +02:00)")
    return moment


@change_app.command("add")
def add(
    type: Annotated[ChangeTypeName, typer.Argument(help="What kind of change")],
    service: Annotated[
        str | None, typer.Option("--service", "-s", help="The service's slug")
    ] = None,
    environment: Annotated[str | None, typer.Option("--env", "-e", help="The environment")] = None,
    version: Annotated[str | None, typer.Option(help="The version it brought")] = None,
    previous_version: Annotated[
        str | None,
        typer.Option(help="The version before (default for a deployment: the registry's)"),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", "-m", help="One line saying what changed")
    ] = None,
    description: Annotated[str | None, typer.Option(show_default=False)] = None,
    author: Annotated[str | None, typer.Option(help="Who made it (default: you)")] = None,
    at: When = None,
    url: Annotated[
        str | None, typer.Option(help="A link to it (pull request, pipeline run)")
    ] = None,
    external_id: Annotated[
        str | None, typer.Option(help="Your id of it: recording it again records nothing")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Record a change. A deployment naming a service, an environment and a version
    also updates the registry's version matrix."""
    happened_at = _moment(at, "--at")
    with connect() as client:
        made = client.changes.add(
            type.value, service=service, environment=environment, version=version,
            previous_version=previous_version, title=title, description=description,
            author=author, happened_at=happened_at, url=url, external_id=external_id,
        )  # fmt: skip
    data = made.model_dump(mode="json")
    if output is OutputFormat.json:
        emit(data, output)
        return
    emit_record(data, output, FIELDS)


@change_app.command("list")
def list_(
    service: Annotated[str | None, typer.Option("--service", "-s", help="A service's slug")] = None,
    type: Annotated[ChangeTypeName | None, typer.Option("--type", show_default=False)] = None,
    environment: Annotated[str | None, typer.Option("--env", "-e")] = None,
    since: When = None,
    until: When = None,
    limit: Annotated[int, typer.Option(help="Changes per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the organisation's changes, newest first."""
    where = ChangeFilter(
        service=service, type=type.value if type else None, environment=environment,
        since=_moment(since, "--since"), until=_moment(until, "--until"),
    )  # fmt: skip
    with connect() as client:
        if all_pages:
            found = list(client.changes.iter(where, page_size=limit))
            next_cursor = None
        else:
            page = client.changes.list(where, limit=limit, cursor=cursor)
            found, next_cursor = page.items, page.next_cursor
    data = [c.model_dump(mode="json") for c in found]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": next_cursor}, output)
        return
    emit(data, output, COLUMNS)
    if next_cursor:
        info(f"more changes: --cursor {next_cursor}")


@change_app.command("frequency")
def frequency(output: OutputOption = OutputFormat.table) -> None:
    """Changes per service over the last 7 and 30 days, busiest first."""
    with connect() as client:
        found = client.changes.frequency()
    data = [f.model_dump(mode="json") for f in found.items]
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    emit(data, output, ["service", "last_7_days", "last_30_days"])
