"""`loom alert list` and `loom silence add|list|expire`: the organisation's alerts, and
silences over their labels."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, emit, emit_record, fail, info
from loom.client.alerts import AlertFilter, Matcher

alert_app = typer.Typer(
    help="Alerts received from Alertmanager and other sources.", no_args_is_help=True
)
silence_app = typer.Typer(
    help="Silences: alerts they match are kept but open nothing.", no_args_is_help=True
)

ALERT_COLUMNS = [
    "last_seen",
    "status",
    "severity",
    "name",
    "service",
    "count",
    "incident_number",
    "silenced",
]
SILENCE_COLUMNS = ["id", "state", "matchers", "starts_at", "ends_at", "created_by", "comment"]
_MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$")
_DURATION = re.compile(r"^(\d+)([mhd])$")


@alert_app.command("list")
def list_alerts(
    status: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, warning or info")] = None,
    service: Annotated[str | None, typer.Option(help="A service slug")] = None,
    incident: Annotated[str | None, typer.Option(help="An incident number (INC-42) or id")] = None,
    silenced: Annotated[
        bool | None, typer.Option("--silenced/--not-silenced", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="Alerts per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List alerts, most recently seen first."""
    where = AlertFilter(
        status=status, severity=severity, service=service, incident=incident, silenced=silenced
    )
    with connect() as client:
        page = client.alerts.list(where, limit=limit, cursor=cursor)
    data = [a.model_dump(mode="json") for a in page.items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": page.next_cursor}, output)
        return
    emit(data, output, ALERT_COLUMNS)
    if page.next_cursor:
        info(f"more alerts: --cursor {page.next_cursor}")


def parse_matcher(text: str) -> Matcher:
    """`name=value`, `name!=value`, `name=~regex` or `name!~regex`."""
    found = _MATCHER.match(text.strip())
    if not found:
        fail(f"--match {text!r}: write name=value, name!=value, name=~regex or name!~regex")
    return Matcher(name=found.group(1), op=found.group(2), value=found.group(3))


def parse_duration(text: str, option: str = "--duration") -> timedelta:
    found = _DURATION.match(text.strip())
    if not found:
        fail(f"{option} {text!r}: a number of minutes, hours or days (30m, 2h, 1d)")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
    return timedelta(**{unit: int(found.group(1))})


def _silence_row(silence: Any, output: OutputFormat = OutputFormat.table) -> dict[str, Any]:
    data: dict[str, Any] = silence.model_dump(mode="json")
    if output is OutputFormat.json:
        return data
    data["matchers"] = ", ".join(f"{m['name']}{m['op']}{m['value']}" for m in data["matchers"])
    return data


@silence_app.command("add")
def add_silence(
    match: Annotated[
        list[str],
        typer.Option("--match", "-m", help="A label matcher (repeat): env=prod, host=~db-.*"),
    ],
    duration: Annotated[str, typer.Option(help="How long from now: 30m, 2h, 1d")] = "2h",
    comment: Annotated[str, typer.Option(help="Why")] = "",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Silence alerts whose labels match every matcher, from now on for `--duration`."""
    matchers = [parse_matcher(m) for m in match]
    ends_at = datetime.now(UTC) + parse_duration(duration)
    with connect() as client:
        silence = client.silences.create(matchers, ends_at, comment=comment)
    emit_record(_silence_row(silence, output), output, SILENCE_COLUMNS)


@silence_app.command("list")
def list_silences(
    state: Annotated[str | None, typer.Option(help="active, pending or expired")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List silences, newest first."""
    with connect() as client:
        page = client.silences.list(state, limit=limit)
    if output is OutputFormat.json:
        emit({"items": [s.model_dump(mode="json") for s in page.items]}, output)
        return
    emit([_silence_row(s) for s in page.items], output, SILENCE_COLUMNS)


@silence_app.command("expire")
def expire_silence(silence_id: str, output: OutputOption = OutputFormat.table) -> None:
    """End a silence now."""
    with connect() as client:
        silence = client.silences.expire(silence_id)
    emit_record(_silence_row(silence, output), output, SILENCE_COLUMNS)
