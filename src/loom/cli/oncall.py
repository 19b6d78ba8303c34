"""`loom oncall`: who is on call now, the shifts ahead, overrides (`loom oncall override`,
and `loom oncall overrides list|add|remove`), and the schedules themselves (`loom oncall
schedules list|show|add --file|remove`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.form_values import read_values
from loom.cli.notify_common import duration, exists, moment
from loom.cli.output import (
    OutputFormat,
    OutputOption,
    cell,
    console,
    emit,
    emit_record,
    fail,
    info,
)
from loom.cli.service_views import table
from loom.client.notify import Layer, Schedule

oncall_app = typer.Typer(help="On-call schedules: who is on call.", no_args_is_help=True)
schedules_app = typer.Typer(
    help="On-call schedules: layers of daily or weekly rotations.", no_args_is_help=True
)

overrides_app = typer.Typer(
    help="Overrides: someone on call instead, for a while.", no_args_is_help=True
)

OVERRIDE_COLUMNS = ["id", "user", "starts_at", "ends_at", "created_by"]
SCHEDULE_FIELDS = ["id", "name", "team", "time_zone", "created_by", "created_at"]
ScheduleRef = Annotated[str, typer.Argument(metavar="SCHEDULE", help="Its name or id")]


@oncall_app.command("now")
def now(
    schedule: Annotated[
        str | None, typer.Argument(help="A schedule's name (default: every schedule)")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Who is on call now, and until when."""
    with connect() as client:
        names = [schedule] if schedule else [s.name for s in client.notify.schedules()]
        found = [client.notify.on_call(name) for name in names]
    data = [
        {"schedule": f.schedule, "user": f.shift.user if f.shift else "-",
         "until": f.shift.ends_at.isoformat() if f.shift else "-",
         "source": f.shift.source if f.shift else "-"}
        for f in found
    ]  # fmt: skip
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    emit(data, output, ["schedule", "user", "until", "source"])


@oncall_app.command("schedule")
def schedule_(
    name: Annotated[str, typer.Argument(help="The schedule's name")],
    days: Annotated[int, typer.Option(help="How many days ahead", min=1, max=92)] = 14,
    output: OutputOption = OutputFormat.table,
) -> None:
    """The shifts of the coming days."""
    start = datetime.now(UTC)
    with connect() as client:
        found = client.notify.shifts(name, start, start + timedelta(days=days))
    data = [s.model_dump(mode="json") for s in found]
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    emit(data, output, ["starts_at", "ends_at", "user", "source"])


@oncall_app.command("override")
def override(
    schedule: ScheduleRef,
    user: Annotated[str, typer.Option("--user", "-u", help="Who covers: an e-mail address")],
    start: Annotated[str, typer.Option("--from", help="now, +1h or ISO 8601")] = "now",
    end: Annotated[str | None, typer.Option("--to", help="When it ends")] = None,
    length: Annotated[str | None, typer.Option("--for", help="Or how long: 8h, 2d")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Put USER on call on SCHEDULE instead, from --from to --to (or for --for)."""
    if (end is None) == (length is None):
        fail("give --to or --for (one of them)")
    starts_at = moment(start, "--from")
    ends_at = moment(end, "--to") if end else starts_at + duration(str(length), "--for")
    with connect() as client:
        made = client.notify.add_override(schedule, user, starts_at, ends_at)
    if output is OutputFormat.json:
        emit(made.model_dump(mode="json"), output)
        return
    info(f"{made.user} on call on {schedule} from {cell(made.starts_at.isoformat())} "
         f"to {cell(made.ends_at.isoformat())}")  # fmt: skip


# `loom oncall overrides add` is `loom oncall override`.
overrides_app.command("add")(override)


@overrides_app.command("list")
def list_overrides(
    schedule: ScheduleRef,
    include_past: Annotated[
        bool, typer.Option("--include-past", help="Also those that have ended")
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """The overrides of SCHEDULE running now or ahead, by start (the ids `remove` takes)."""
    with connect() as client:
        found = client.notify.overrides(schedule, include_past=include_past)
    data = [o.model_dump(mode="json") for o in found]
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    emit(data, output, OVERRIDE_COLUMNS)


@overrides_app.command("remove")
def remove_override(
    schedule: ScheduleRef,
    override_id: Annotated[
        str, typer.Argument(metavar="ID", help="The override's id (see `overrides list`)")
    ],
) -> None:
    """Remove an override: the schedule's layers cover its time again."""
    with connect() as client:
        client.notify.delete_override(schedule, override_id)
    info(f"override {override_id} removed from {schedule}")


def _layer(layer: Layer) -> str:
    return (f"{layer.name}: {layer.rotation} at {layer.handoff} from {layer.start}: "
            f"{', '.join(layer.users)}")  # fmt: skip


@schedules_app.command("list")
def list_schedules(output: OutputOption = OutputFormat.table) -> None:
    """The schedules you see."""
    with connect() as client:
        found = client.notify.schedules()
    if output is OutputFormat.json:
        emit({"items": [s.model_dump(mode="json") for s in found]}, output)
        return
    rows = [{**s.model_dump(mode="json"), "layers": " | ".join(map(_layer, s.layers))}
            for s in found]  # fmt: skip
    emit(rows, output, ["name", "team", "time_zone", "layers"])


@schedules_app.command("show")
def show_schedule(schedule: ScheduleRef, output: OutputOption = OutputFormat.table) -> None:
    """One schedule and its layers (lowest priority first)."""
    with connect() as client:
        found = client.notify.schedule(schedule)
    _show(found, output)


def _show(found: Schedule, output: OutputFormat) -> None:
    emit_record(found.model_dump(mode="json"), output, SCHEDULE_FIELDS)
    if output is OutputFormat.table:
        rows = [[lv.name, lv.rotation, lv.handoff, str(lv.start), ", ".join(lv.users)]
                for lv in found.layers]  # fmt: skip
        console.print(table(["layer", "rotation", "handoff", "start", "users"], rows, "layers"))


@schedules_app.command("add")
def add_schedule(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="A YAML or JSON schedule: name, time_zone, layers"),
    ],
    name: Annotated[str | None, typer.Option(help="Its name (default: the file's)")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the schedule of that name, if there is one")
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add a schedule from a file, e.g. {"name": "db-oncall", "time_zone": "Europe/Paris",
    "layers": [{"rotation": "weekly", "handoff": "09:00", "start": "2026-11-02",
    "users": ["ann@example.com", "bob@example.com"]}]}."""
    doc = read_values(file, option="--file", holds="a schedule: name, time_zone, layers")
    doc["name"] = name or doc.get("name", "")
    with connect() as client:
        if replace and exists(client.notify.schedule, str(doc["name"])):
            made = client.notify.replace_schedule(str(doc["name"]), doc)
        else:
            made = client.notify.create_schedule(
                doc.pop("name"), doc.pop("time_zone", ""), doc.pop("layers", []), **doc
            )
    _show(made, output)


@schedules_app.command("remove")
def remove_schedule(schedule: ScheduleRef) -> None:
    """Remove a schedule (and its overrides)."""
    with connect() as client:
        client.notify.delete_schedule(schedule)
    info(f"schedule {schedule} removed")
