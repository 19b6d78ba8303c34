"""`loom notify maintenance`: windows (once, weekly or cron) while which incidents of their
services notify nobody; `loom notify snooze`: such a window from now, of one incident or
one service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.notify_common import duration, minutes, moment
from loom.cli.output import OutputFormat, OutputOption, cell, emit, emit_record, fail, info
from loom.client.notify import Maintenance

maintenance_app = typer.Typer(
    help="Maintenance windows: incidents of their services notify nobody.",
    no_args_is_help=True,
)

COLUMNS = ["name", "team", "when", "services", "open_now", "created_by"]
FIELDS = ["id", "name", "team", "services", "incident_id", "starts_at", "ends_at", "weekdays",
          "start_time", "duration_minutes", "cron", "time_zone", "open_now",
          "created_by"]  # fmt: skip


def _when(window: Maintenance) -> str:
    if window.cron:
        return f"cron {window.cron} for {window.duration_minutes}m ({window.time_zone})"
    if window.weekdays:
        return (f"{','.join(window.weekdays)} {window.start_time} for "
                f"{window.duration_minutes}m ({window.time_zone})")  # fmt: skip
    return f"{_at(window.starts_at)} to {_at(window.ends_at)}"


def _at(moment: datetime | None) -> str:
    return cell(moment.isoformat()) if moment else "?"


def _row(window: Maintenance) -> dict[str, Any]:
    data = window.model_dump(mode="json")
    data["when"] = _when(window)
    if window.incident_id:
        data["services"] = f"incident {window.incident_id}"
    else:
        data["services"] = ", ".join(window.services) or "all"
    return data


@maintenance_app.command("list")
def list_windows(output: OutputOption = OutputFormat.table) -> None:
    """Maintenance windows and snoozes, with whether each is open now."""
    with connect() as client:
        page = client.notify.maintenance_windows(limit=500)
    if output is OutputFormat.json:
        emit({"items": [w.model_dump(mode="json") for w in page.items]}, output)
        return
    emit([_row(w) for w in page.items], output, COLUMNS)


@maintenance_app.command("add")
def add_window(
    name: Annotated[str, typer.Argument(help="A name, e.g. patching")],
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help="A service slug (repeat; none: every service)"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Once: when it opens (now, +1h, ISO 8601)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Once: when it closes")] = None,
    weekday: Annotated[
        list[str] | None,
        typer.Option("--weekday", "-w", help="Weekly: mon..sun (repeat)"),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="Weekly: the local time, HH:MM")] = None,
    length: Annotated[
        str | None, typer.Option("--for", help="How long it stays open: 30m, 3h, 1d")
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option("--cron", help='Cron: opens when this fires, e.g. "0 2 * * 6"'),
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="Weekly or cron: an IANA time zone")] = "UTC",
    team: Annotated[
        str | None, typer.Option("--team", "-t", help="The owning team (default: the org)")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add a window: once (--from, and --to or --for; --for alone: from now), weekly
    (--weekday, --at, --for, --tz) or cron (--cron, --for, --tz)."""
    fields: dict[str, Any] = {"services": service, "team": team}
    if weekday or at is not None or cron is not None:
        fields.update(weekdays=weekday, start_time=at, cron=cron, time_zone=tz,
                      duration_minutes=minutes(length, "--for") if length else None)  # fmt: skip
        # Given too, they reach the server, which refuses a window of two kinds.
        fields.update(starts_at=start and moment(start, "--from"),
                      ends_at=end and moment(end, "--to"))  # fmt: skip
    else:
        if end is not None and length is not None:
            fail("give --to or --for, not both")
        opens = moment(start or "now", "--from")
        closes = moment(end, "--to") if end else None
        if length is not None:
            closes = opens + duration(length, "--for")
        fields.update(starts_at=opens, ends_at=closes)
    with connect() as client:
        made = client.notify.create_maintenance(name, **fields)
    emit_record(made.model_dump(mode="json"), output, FIELDS)


@maintenance_app.command("remove")
def remove_window(
    window: Annotated[str, typer.Argument(metavar="WINDOW", help="The window's name or id")],
) -> None:
    """Remove a window (a snooze removed ends early)."""
    with connect() as client:
        client.notify.delete_maintenance(window)
    info(f"maintenance window {window} removed")


def snooze(
    incident: Annotated[
        str | None, typer.Option("--incident", "-i", help="An incident: INC-42, 42 or its id")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="A service slug")] = None,
    length: Annotated[str, typer.Option("--for", help="How long from now: 30m, 2h, 1d")] = "1h",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Mute the notifications of one incident or one service from now on (what would
    have been sent is logged as muted)."""
    if (incident is None) == (service is None):
        fail("give --incident or --service (one of them)")
    with connect() as client:
        made = client.notify.snooze(minutes(length, "--for"), incident=incident, service=service)
    if output is OutputFormat.json:
        emit(made.model_dump(mode="json"), output)
        return
    info(f"{incident or service} snoozed until {_at(made.ends_at)} "
         f"(`loom notify maintenance remove {made.name}` ends it early)")  # fmt: skip
