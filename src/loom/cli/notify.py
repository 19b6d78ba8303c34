"""`loom notify`: notification channels (list, add, remove, send a test message) and
the notification log. Its other groups live beside it: `rules` and `policies`
(`notify_rules`), `maintenance` and `snooze` (`notify_maintenance`), `contacts`
(`notify_contacts`); `loom oncall` is `oncall`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, emit, emit_record, fail, info

notify_app = typer.Typer(
    help="Notifications: channels, rules, escalation policies, maintenance, the log.",
    no_args_is_help=True,
)

CHANNEL_COLUMNS = ["name", "kind", "team", "enabled", "secrets"]
CHANNEL_FIELDS = ["id", "name", "kind", "team", "config", "secrets", "enabled", "created_by",
                  "created_at"]  # fmt: skip
LOG_COLUMNS = ["created_at", "channel", "event", "status", "attempt", "http_status",
               "latency_ms", "error"]  # fmt: skip


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            fail(f"{option} {value!r} is not NAME=VALUE")
        out[key] = rest
    return out


@notify_app.command("channels")
def channels(output: OutputOption = OutputFormat.table) -> None:
    """The channels you can see (the organisation's and your teams'), secrets masked."""
    with connect() as client:
        page = client.notify.channels(limit=500)
    data = [c.model_dump(mode="json") for c in page.items]
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    for row in data:
        row["secrets"] = ", ".join(row["secrets"]) or "-"
    emit(data, output, CHANNEL_COLUMNS)


@notify_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name, e.g. slack-incidents")],
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="slack | pagerduty | teams | email | webhook")
    ],
    config: Annotated[
        str, typer.Option(help="The kind's settings as a JSON object (see docs/notify.md)")
    ] = "{}",
    secret: Annotated[
        list[str], typer.Option("--secret", help="A secret setting, NAME=VALUE (repeatable)")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    team: Annotated[str | None, typer.Option(help="The owning team (default: the org)")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add a channel. Secrets are stored encrypted and never shown again."""
    try:
        settings = json.loads(config)
    except json.JSONDecodeError as error:
        fail(f"--config is not JSON: {error}")
    if not isinstance(settings, dict):
        fail("--config must be a JSON object")
    with connect() as client:
        made = client.notify.create_channel(
            name, kind, config=settings, secrets=_pairs(secret, "--secret"), team=team
        )
    emit_record(made.model_dump(mode="json"), output, CHANNEL_FIELDS)


@notify_app.command("remove")
def remove(channel: Annotated[str, typer.Argument(help="The channel's name or id")]) -> None:
    """Remove a channel (its notification log stays)."""
    with connect() as client:
        client.notify.delete_channel(channel)
    info(f"channel {channel} removed")


@notify_app.command("test")
def test(
    channel: Annotated[str, typer.Argument(help="The channel's name or id")],
    output: OutputOption = OutputFormat.table,
) -> None:
    """Send a test message to a channel (through the queue; see `loom notify log`)."""
    with connect() as client:
        queued = client.notify.test(channel)
    if output is OutputFormat.json:
        emit(queued.model_dump(mode="json"), output)
        return
    info(f"test message queued: loom notify log --delivery {queued.delivery_id}")


@notify_app.command("log")
def log(
    channel: Annotated[str | None, typer.Option(help="A channel's name or id")] = None,
    delivery: Annotated[str | None, typer.Option(help="One delivery's attempts")] = None,
    status: Annotated[
        str | None, typer.Option(help="sent | retrying | dead (dead: what needs a person)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    output: OutputOption = OutputFormat.table,
) -> None:
    """The notification log, newest first: one row per delivery attempt."""
    with connect() as client:
        page = client.notify.log(channel=channel, delivery=delivery, status=status, limit=limit)
    data = [n.model_dump(mode="json") for n in page.items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": page.next_cursor}, output)
        return
    emit(data, output, LOG_COLUMNS)
