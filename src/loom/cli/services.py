"""`loom service`: browse the service registry (list, show, graph) and record deployments.
The status commands (versions, drift, check, scorecard) live in service_status and are
registered in main; both print through service_views."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    emit,
    emit_record,
    fail,
    info,
    readable,
)
from loom.cli.service_views import cycle_lines, edge_rows, graph_tree, table
from loom.client.service_models import Dependency, ServiceFilter

service_app = typer.Typer(
    help="The service registry: services, dependencies, versions, health and readiness.",
    no_args_is_help=True,
)


class LifecycleName(StrEnum):
    experimental = "experimental"
    production = "production"
    deprecated = "deprecated"


class DirectionName(StrEnum):
    up = "up"
    down = "down"
    both = "both"


COLUMNS = ["slug", "name", "lifecycle", "tier", "system", "tags"]
_FIELDS = ("slug", "name", "description", "team_id", "lifecycle", "tier", "system",
           "domain", "repository_url", "api_spec_url", "tags", "managed", "created_at",
           "updated_at")  # fmt: skip

Slug = Annotated[str, typer.Argument(metavar="SLUG", help="The service's slug")]
Team = Annotated[str | None, typer.Option("--team", "-t", help="Owning team, by slug or id")]


@service_app.command("list")
def list_(
    team: Team = None,
    tier: Annotated[int | None, typer.Option(help="1 is the most critical", min=1, max=3)] = None,
    lifecycle: Annotated[LifecycleName | None, typer.Option(show_default=False)] = None,
    tag: Annotated[str | None, typer.Option(show_default=False)] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in the slug, name or description")
    ] = None,
    limit: Annotated[int, typer.Option(help="Services per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the organisation's services, by slug."""
    where = ServiceFilter(
        team=team, tier=tier, lifecycle=lifecycle.value if lifecycle else None, tag=tag, q=search
    )
    with connect() as client:
        if all_pages:
            found = list(client.services.iter(where, page_size=limit))
            next_cursor = None
        else:
            page = client.services.list(where, limit=limit, cursor=cursor)
            found, next_cursor = page.items, page.next_cursor
    data = [s.model_dump(mode="json") for s in found]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": next_cursor}, output)
        return
    emit(data, output, COLUMNS)
    if next_cursor:
        info(f"more services: --cursor {next_cursor}")


def _calls(dep: Dependency) -> list[str]:
    return [dep.target or dep.target_resource or "", dep.kind, dep.criticality, dep.description]


@service_app.command("show")
def show(slug: Slug, output: OutputOption = OutputFormat.table) -> None:
    """Show a service, what it calls and what calls it."""
    with connect() as client:
        found = client.services.get(slug)
        calls = list(client.services.iter_dependencies(slug, "down"))
        callers = list(client.services.iter_dependencies(slug, "up"))
    data = found.model_dump(mode="json")
    if output is OutputFormat.json:
        data["dependencies"] = [d.model_dump(mode="json") for d in calls]
        data["dependents"] = [d.model_dump(mode="json") for d in callers]
        emit(data, output)
        return
    record: dict[str, Any] = {key: data.get(key) for key in _FIELDS}
    record["managed"] = "yes (synced from the catalog repository)" if found.managed else "no"
    record["links"] = "\n".join(
        f"{link.get('title', '')} <{link.get('url', '')}>" for link in found.links
    )
    for key, value in found.metadata.items():
        record[f"metadata.{key}"] = readable(value)
    emit_record(record, output)
    columns = ["calls", "kind", "criticality", "description"]
    console.print(table(columns, [_calls(d) for d in calls], "what it calls"))
    rows = [[d.service, d.kind, d.criticality, d.description] for d in callers]
    console.print(table(["called by", *columns[1:]], rows, "what calls it"))


@service_app.command("graph")
def graph(
    slug: Annotated[
        str | None,
        typer.Argument(metavar="[SLUG]", help="The service in the middle (none: every service)"),
    ] = None,
    depth: Annotated[int, typer.Option("--depth", "-d", help="Hops from it", min=1)] = 2,
    direction: Annotated[
        DirectionName,
        typer.Option(help="down: what it calls; up: what calls it; both"),
    ] = DirectionName.both,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the services around one as a tree (loops marked ↻), or without SLUG every
    dependency of the organisation."""
    with connect() as client:
        if slug is None:
            found = client.services.system_graph()
        else:
            found = client.services.graph(slug, depth=depth, direction=direction.value)
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
        return
    if slug is None:
        rows = edge_rows(found)
        console.print(table(["service", "calls", "kind", "criticality"], rows, "dependencies"))
    else:
        console.print(graph_tree(found, slug, depth=depth, direction=direction.value))
    for line in cycle_lines(found):
        info(f"cycle: {line}")


@service_app.command("deploy")
def deploy(
    slug: Slug,
    environment: Annotated[str, typer.Option("--env", "-e", help="The environment's slug")],
    version: Annotated[str, typer.Option("--version", help="The version deployed")],
    commit: Annotated[str | None, typer.Option(help="The commit it was built from")] = None,
    at: Annotated[
        str | None, typer.Option(help="When (ISO 8601, e.g. 2026-11-27T10:00:00Z; default now)")
    ] = None,
    url: Annotated[str | None, typer.Option(help="A link to the pipeline run")] = None,
    description: Annotated[str | None, typer.Option(show_default=False)] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Recording again with the same key records it once")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Record that a version of a service now runs in an environment."""
    try:
        deployed_at = datetime.fromisoformat(at) if at else None
    except ValueError:
        fail(f"--at {at!r} is not an ISO 8601 date and time")
    with connect() as client:
        recorded = client.services.record_deployment(
            slug, environment, version, commit_sha=commit, deployed_at=deployed_at, url=url,
            description=description, idempotency_key=idempotency_key,
        )  # fmt: skip
    if output is OutputFormat.json:
        emit(recorded.model_dump(mode="json"), output)
        return
    info(f"recorded {slug} {recorded.version} in {recorded.environment}")
