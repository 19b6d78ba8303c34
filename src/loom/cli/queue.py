"""`loom queue`: the task queue for org admins: stats, waiting messages, dead letters and
redrive."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, emit_record, info
from loom.client.queue import DEFAULT_QUEUE

queue_app = typer.Typer(
    help="The task queue (org admins): stats, messages, dead letters.", no_args_is_help=True
)

MESSAGE_COLUMNS = ["id", "group_id", "state", "receive_count", "sent_at", "visible_at", "body"]
DLQ_COLUMNS = ["id", "group_id", "receive_count", "sent_at", "dead_at", "body"]

_Queue = Annotated[
    str, typer.Option("--queue", "-q", help="A named queue of the server's settings")
]
_Limit = Annotated[int, typer.Option(help="Messages per page", min=1, max=500)]
_Cursor = Annotated[str | None, typer.Option(help="Continue after a previous page")]


@queue_app.command("stats")
def stats(queue: _Queue = DEFAULT_QUEUE, output: OutputOption = OutputFormat.table) -> None:
    """Show a queue's depth, in-flight and delayed messages, oldest age, throughput and
    dead-letter depth."""
    with connect() as client:
        found = client.queue.stats(queue)
    data = found.model_dump(mode="json")
    if output is OutputFormat.json:
        emit(data, output)
        return
    record: dict[str, Any] = dict(data)
    age = found.oldest_age_seconds
    record["oldest_age_seconds"] = "" if age is None else f"{age:.1f}"
    record["processed_per_minute"] = f"{found.processed_per_minute:.1f}"
    emit_record(record, output)


@queue_app.command("messages")
def messages(
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="One group's messages, its head first")
    ] = None,
    queue: _Queue = DEFAULT_QUEUE,
    limit: _Limit = 50,
    cursor: _Cursor = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List waiting and in-flight messages in delivery order."""
    with connect() as client:
        if group is not None:
            page = client.queue.group(group, queue, limit=limit, cursor=cursor)
        else:
            page = client.queue.messages(queue, limit=limit, cursor=cursor)
    data = [m.model_dump(mode="json") for m in page.items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": page.next_cursor}, output)
        return
    emit(data, output, MESSAGE_COLUMNS)
    if page.next_cursor:
        info(f"more messages: --cursor {page.next_cursor}")


@queue_app.command("dlq")
def dlq(
    queue: _Queue = DEFAULT_QUEUE,
    limit: _Limit = 50,
    cursor: _Cursor = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the dead-letter queue, oldest first."""
    with connect() as client:
        page = client.queue.dlq(queue, limit=limit, cursor=cursor)
    data = [m.model_dump(mode="json") for m in page.items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": page.next_cursor}, output)
        return
    emit(data, output, DLQ_COLUMNS)
    if page.next_cursor:
        info(f"more dead letters: --cursor {page.next_cursor}")


@queue_app.command("redrive")
def redrive(
    message_id: Annotated[str, typer.Argument(metavar="MESSAGE_ID", help="A dead letter's id")],
    queue: _Queue = DEFAULT_QUEUE,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Put a dead letter back at the tail of its group, its receive count reset."""
    with connect() as client:
        result = client.queue.redrive(message_id, queue)
    if output is OutputFormat.json:
        emit(result.model_dump(mode="json"), output)
        return
    console.print(f"redriven {result.id} onto queue {result.queue}", soft_wrap=True)
