"""`loom incident`: list and show incidents, acknowledge and resolve them, merge two,
read the timeline and comment. An incident is named by its number (42, INC-42) or id."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, emit_record, info
from loom.cli.service_views import table
from loom.client.incident_models import Incident, IncidentSummary

incident_app = typer.Typer(
    help="Incidents: alerts grouped by probable cause, and what people do about them.",
    no_args_is_help=True,
)


class StatusName(StrEnum):
    triggered = "triggered"
    acknowledged = "acknowledged"
    investigating = "investigating"
    mitigated = "mitigated"
    resolved = "resolved"


class SeverityName(StrEnum):
    critical = "critical"
    warning = "warning"
    info = "info"


Ref = Annotated[str, typer.Argument(metavar="INCIDENT", help="Its number (42, INC-42) or id")]
Note = Annotated[str | None, typer.Option("--note", "-m", help="Why, for the timeline")]

COLUMNS = ["incident", "status", "severity", "title", "root cause", "alerts", "opened", "assignee"]
_FIELDS = ("incident", "title", "status", "severity", "severity_override", "environment",
           "root_cause", "services", "assignee", "alert_count", "firing_count", "opened_at",
           "last_alert_at", "acknowledged_at", "mitigated_at", "resolved_at", "mtta_seconds",
           "mttr_seconds", "hold_open", "merged_into", "id")  # fmt: skip


def _row(i: IncidentSummary) -> dict[str, Any]:
    return {
        "incident": i.ref, "status": i.status, "severity": i.severity, "title": i.title,
        "root cause": i.root_cause, "alerts": f"{i.firing_count}/{i.alert_count} firing",
        "opened": i.opened_at.isoformat(), "assignee": i.assignee,
    }  # fmt: skip


@incident_app.command("list")
def list_(
    status: Annotated[
        list[StatusName] | None, typer.Option("--status", "-s", help="Repeatable")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Open incidents only")] = False,
    severity: Annotated[SeverityName | None, typer.Option(show_default=False)] = None,
    service: Annotated[str | None, typer.Option(help="With alerts of this service")] = None,
    limit: Annotated[int, typer.Option(help="Incidents per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List incidents, latest alert first."""
    with connect() as client:
        page = client.incidents.list(
            status=[s.value for s in status] if status else None,
            open=True if open_only else None, severity=severity.value if severity else None,
            service=service, limit=limit, cursor=cursor,
        )  # fmt: skip
    if output is OutputFormat.json:
        items = [i.model_dump(mode="json") for i in page.items]
        emit({"items": items, "next_cursor": page.next_cursor}, output)
        return
    emit([_row(i) for i in page.items], output, COLUMNS)
    if page.next_cursor:
        info(f"more incidents: --cursor {page.next_cursor}")


def _show(found: Incident, output: OutputFormat) -> None:
    data = found.model_dump(mode="json")
    if output is OutputFormat.json:
        emit(data, output)
        return
    data["incident"] = found.ref
    emit_record(data, output, _FIELDS)
    if found.root_cause_candidates:
        rows = [[str(c.get("service", "")), str(c.get("score", "")),
                 "; ".join(c.get("reasons", []))] for c in found.root_cause_candidates]  # fmt: skip
        console.print(table(["service", "score", "why"], rows, "root cause candidates"))


@incident_app.command("show")
def show(ref: Ref, output: OutputOption = OutputFormat.table) -> None:
    """Show an incident, its root cause candidates and its alerts."""
    with connect() as client:
        found = client.incidents.get(ref)
        alerts = client.incidents.alerts(ref) if output is OutputFormat.table else []
    _show(found, output)
    if alerts:
        rows = [[a.name, a.status, a.severity, a.service or "", (a.grouping or {}).get("text", "")]
                for a in alerts]  # fmt: skip
        console.print(table(["alert", "status", "severity", "service", "why here"], rows, "alerts"))


@incident_app.command("ack")
def ack(ref: Ref, note: Note = None, output: OutputOption = OutputFormat.table) -> None:
    """Acknowledge an incident."""
    with connect() as client:
        found = client.incidents.acknowledge(ref, note=note)
    _done(found, "acknowledged", output)


@incident_app.command("resolve")
def resolve(ref: Ref, note: Note = None, output: OutputOption = OutputFormat.table) -> None:
    """Resolve an incident (even with alerts still firing)."""
    with connect() as client:
        found = client.incidents.resolve(ref, note=note)
    _done(found, "resolved", output)


@incident_app.command("merge")
def merge(
    ref: Ref,
    into: Annotated[str, typer.Option("--into", help="The incident to merge it into")],
    note: Note = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Merge INCIDENT into another: its alerts move there, and it resolves as merged."""
    with connect() as client:
        found = client.incidents.merge(ref, into, note=note)
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
        return
    info(f"merged {ref} into {found.ref}, which now has {found.alert_count} alerts")


@incident_app.command("comment")
def comment(
    ref: Ref, body: Annotated[str, typer.Argument(help="The comment")],
    output: OutputOption = OutputFormat.table,
) -> None:  # fmt: skip
    """Add a comment to an incident's timeline."""
    with connect() as client:
        event = client.incidents.comment(ref, body)
    if output is OutputFormat.json:
        emit(event.model_dump(mode="json"), output)
        return
    info(f"comment added to {ref}")


@incident_app.command("timeline")
def timeline(ref: Ref, output: OutputOption = OutputFormat.table) -> None:
    """Show an incident's timeline, oldest first."""
    with connect() as client:
        events = client.incidents.timeline(ref)
    data = [e.model_dump(mode="json") for e in events]
    if output is OutputFormat.json:
        emit(data, output)
        return
    emit(data, output, ["at", "kind", "actor", "summary"])


def _done(found: Incident, verb: str, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
        return
    info(f"{found.ref} {verb}: {found.status}")
